"""Administration over HTTP: accounts and bearer tokens, as `backoffice users …` and
`backoffice tokens …` administer them (the same service), by an administrator only; a way in
is always kept; no password nor secret in a log line. On SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import logging
from typing import Any

import pytest

from application.access.accounts import LAST_ADMINISTRATOR, Accounts
from domain.errors import RuleViolation
from tests.http.conftest import PASSWORD, ROLES, Api, problem_of

NEW_PASSWORD = "otra-clave-segura-456"


def as_admin(api: Api, login: str = "admin.x") -> Api:
    assert api.sign_in(login).status_code == 200
    return api


def fields_of(answer: Any) -> list[str | None]:
    return [error["field"] for error in problem_of(answer, 422)["errors"]]


def test_the_list_gives_every_account_without_its_password(api: Api) -> None:
    api.client.post("/session", json={"login": "carlos.m", "password": "no-es-la-clave-1"})
    listed = as_admin(api).get("/admin/users")
    assert listed.status_code == 200
    assert listed.headers["cache-control"] == "no-store"
    rows = {row["login"]: row for row in listed.json()}
    assert set(rows) == set(ROLES)
    assert {row["role"] for row in rows.values()} == {role.value for role in ROLES.values()}
    maria = rows["maria.b"]
    assert (maria["name"], maria["disabled"], maria["locked_until"]) == ("Maria.B", False, None)
    assert rows["carlos.m"]["failed_attempts"] == 1
    assert (rows["crm-front"]["has_password"], rows["maria.b"]["has_password"]) == (False, True)
    hashes = [account.password_hash for account in api.accounts.list() if account.password_hash]
    assert all(digest not in listed.text for digest in hashes)
    assert "argon2" not in listed.text
    assert {key for row in rows.values() for key in row if "password" in key} == {"has_password"}


def test_an_account_is_added_with_the_password_given_or_one_made_up_and_shown_once(
    api: Api,
) -> None:
    as_admin(api)
    given = api.post("/admin/users", {"login": "ana.p", "role": "agent", "name": "Ana P.",
                                      "password": NEW_PASSWORD})  # fmt: skip
    assert given.status_code == 201
    assert given.headers["cache-control"] == "no-store"
    body = given.json()
    assert (body["login"], body["role"], body["name"]) == ("ana.p", "agent", "Ana P.")
    assert body["password"] is None  # the administrator knows it: not said back
    made = api.post("/admin/users", {"login": "luis.q", "role": "supervisor", "name": "Luis Q."})
    assert made.status_code == 201
    made_up = made.json()["password"]
    assert isinstance(made_up, str)
    assert len(made_up) >= 12
    system = api.post("/admin/users", {"login": "erp", "role": "integration", "name": "ERP"})
    assert system.status_code == 201
    assert (system.json()["password"], system.json()["has_password"]) == (None, False)
    assert made_up not in as_admin(api).get("/admin/users").text  # shown that once
    assert api.sign_in("ana.p", NEW_PASSWORD).json()["role"] == "agent"
    assert api.sign_in("luis.q", made_up).json()["role"] == "supervisor"
    stored = api.accounts.account("luis.q").password_hash
    assert stored is not None
    assert made_up not in stored


def test_bad_input_is_a_422_naming_the_field_and_a_known_login_a_409(api: Api) -> None:
    as_admin(api)
    user = {"login": "ana.p", "role": "agent", "name": "Ana P.", "password": NEW_PASSWORD}
    assert fields_of(api.post("/admin/users", {**user, "role": "jefe"})) == ["role"]
    assert fields_of(api.post("/admin/users", {**user, "password": "corta"})) == ["password"]
    assert fields_of(api.post("/admin/users", {**user, "login": "Ana P"})) == ["login"]
    assert fields_of(api.post("/admin/users", {**user, "name": " "})) == ["name"]
    system = {"login": "erp", "role": "integration", "name": "ERP", "password": NEW_PASSWORD}
    assert fields_of(api.post("/admin/users", system)) == ["password"]
    missing = api.post("/admin/users", {"login": "ana.p", "role": "agent"})
    assert "name" in problem_of(missing, 422)["detail"]
    known = problem_of(api.post("/admin/users", {**user, "login": "maria.b"}), 409)
    assert known["detail"] == "an account maria.b exists already"
    assert api.accounts.find("ana.p") is None
    assert fields_of(api.post("/admin/users/Maria B/disable", {})) == ["login"]
    assert fields_of(api.post("/admin/tokens", {"login": "crm-front", "scope": "todo"})) == [
        "scope"
    ]
    assert fields_of(api.post("/admin/tokens/not-an-id/revoke", {})) == ["token_id"]


def test_an_unknown_login_or_token_is_a_404(api: Api) -> None:
    as_admin(api)
    for action in ("disable", "enable", "reset"):
        missing = problem_of(api.post(f"/admin/users/nadie.n/{action}", {}), 404)
        assert (missing["type"], missing["detail"]) == (
            "urn:backoffice:account-not-found", "no account nadie.n"
        )  # fmt: skip
    issued = api.post("/admin/tokens", {"login": "nadie.n", "scope": "read"})
    assert problem_of(issued, 404)["type"] == "urn:backoffice:account-not-found"
    revoked = problem_of(api.post("/admin/tokens/0123456789ab/revoke", {}), 404)
    assert revoked["type"] == "urn:backoffice:token-not-found"
    assert api.accounts.tokens() == []


def test_a_disabled_account_loses_access_at_once_and_is_enabled_again(api: Api) -> None:
    api.sign_in("maria.b")
    maria = dict(api.client.cookies)
    as_admin(api)
    disabled = api.post("/admin/users/maria.b/disable", {})
    assert disabled.status_code == 200
    assert disabled.json()["disabled"] is True
    assert api.accounts.account("maria.b").disabled
    admin = dict(api.client.cookies)
    api.client.cookies.clear()
    api.client.cookies.update(maria)
    assert problem_of(api.get("/cases"), 401)["detail"] == "the account is disabled"
    api.client.cookies.clear()
    api.client.cookies.update(admin)
    enabled = api.post("/admin/users/maria.b/enable", {})
    assert (enabled.status_code, enabled.json()["disabled"]) == (200, False)
    assert api.sign_in("maria.b").status_code == 200


def test_an_administrator_cannot_disable_their_own_account_nor_the_last_one(api: Api) -> None:
    as_admin(api)
    own = problem_of(api.post("/admin/users/admin.x/disable", {}), 409)
    assert "own account" in own["detail"]
    assert not api.accounts.account("admin.x").disabled
    other = {"login": "admin.y", "role": "admin", "name": "Admin Y", "password": NEW_PASSWORD}
    assert api.post("/admin/users", other).status_code == 201
    assert api.sign_in("admin.y", NEW_PASSWORD).status_code == 200
    assert api.post("/admin/users/admin.x/disable", {}).status_code == 200  # another may
    assert problem_of(api.post("/admin/users/admin.y/disable", {}), 409)["detail"] == (
        "an administrator may not disable their own account (another administrator may)"
    )
    # The CLI's way (no administrator asking): the last enabled one is kept.
    with pytest.raises(RuleViolation, match="^" + LAST_ADMINISTRATOR):
        api.accounts.disable_guarded("admin.y")
    assert not api.accounts.account("admin.y").disabled
    assert api.accounts.disable_guarded("maria.b").disabled  # anyone else's may be


def test_two_administrators_disabled_at_once_leave_one_enabled(api: Api) -> None:
    """The check is made again once disabled: another process that disabled the other
    administrator meanwhile (simulated here) makes this one refused and undone."""
    accounts: Accounts = api.accounts
    accounts.add("admin.y", "admin", "Admin Y", NEW_PASSWORD)
    disable = accounts.disable

    def meanwhile(login: str) -> Any:
        disable("admin.x")  # the other request, between the check and this one's change
        return disable(login)

    accounts.disable = meanwhile  # type: ignore[method-assign]
    with pytest.raises(RuleViolation, match="^" + LAST_ADMINISTRATOR):
        accounts.disable_guarded("admin.y", by="admin.x")
    assert not accounts.account("admin.y").disabled


def test_a_reset_sets_a_new_password_and_ends_a_lock_out(api: Api) -> None:
    for _ in range(5):
        api.sign_in("carlos.m", "no-es-la-clave-1")
    assert api.accounts.account("carlos.m").locked_until is not None
    as_admin(api)
    reset = api.post("/admin/users/carlos.m/reset", {"password": NEW_PASSWORD})
    assert reset.status_code == 200
    assert reset.headers["cache-control"] == "no-store"
    assert (reset.json()["locked_until"], reset.json()["password"]) == (None, None)
    assert api.sign_in("carlos.m", NEW_PASSWORD).status_code == 200  # at once
    assert api.sign_in("carlos.m", PASSWORD).status_code == 401
    as_admin(api)
    made = api.client.post("/admin/users/maria.b/reset", headers=api.headers())  # no body
    assert made.status_code == 200
    made_up = made.json()["password"]
    assert api.sign_in("maria.b", made_up).status_code == 200
    as_admin(api)
    assert fields_of(api.post("/admin/users/maria.b/reset", {"password": "corta"})) == ["password"]
    assert fields_of(api.post("/admin/users/crm-front/reset", {})) == ["password"]


def test_a_token_is_issued_with_its_secret_once_listed_without_it_and_revoked(api: Api) -> None:
    as_admin(api)
    issued = api.post("/admin/tokens", {"login": "crm-front", "scope": "intake"})
    assert issued.status_code == 201
    assert issued.headers["cache-control"] == "no-store"
    token = issued.json()
    secret = token.pop("secret")
    assert secret.startswith(f"bo_{token['token_id']}_")
    assert (token["login"], token["scope"], token["revoked_at"]) == ("crm-front", "intake", None)
    record = api.accounts.find_token(token["token_id"])
    assert record is not None
    assert record.digest == hashlib.sha256(secret.encode()).hexdigest()  # kept hashed only
    listed = api.get("/admin/tokens")
    assert listed.status_code == 200
    assert [row["token_id"] for row in listed.json()] == [token["token_id"]]
    assert secret not in listed.text
    assert record.digest not in listed.text
    bearer = {"Authorization": f"Bearer {secret}"}
    assert api.client.get("/projections", headers=bearer).status_code == 403  # it works: scope
    revoked = api.post(f"/admin/tokens/{token['token_id']}/revoke", {})
    assert revoked.status_code == 200
    assert revoked.json()["revoked_at"] is not None
    assert problem_of(api.client.get("/projections", headers=bearer), 401)["detail"] == (
        "the token was revoked"
    )
    again = api.post(f"/admin/tokens/{token['token_id']}/revoke", {})
    assert again.json()["revoked_at"] == revoked.json()["revoked_at"]  # nothing changes
    api.post("/admin/users/carlos.m/disable", {})
    disabled = problem_of(api.post("/admin/tokens", {"login": "carlos.m", "scope": "read"}), 409)
    assert disabled["detail"].startswith("carlos.m is disabled")


def test_only_an_administrator_administers(api: Api) -> None:
    routes = [
        ("get", "/admin/users", None),
        ("post", "/admin/users", {"login": "ana.p", "role": "admin", "name": "Ana P."}),
        ("post", "/admin/users/admin.x/disable", {}),
        ("post", "/admin/users/maria.b/enable", {}),
        ("post", "/admin/users/admin.x/reset", {"password": NEW_PASSWORD}),
        ("get", "/admin/tokens", None),
        ("post", "/admin/tokens", {"login": "admin.x", "scope": "all"}),
        ("post", "/admin/tokens/0123456789ab/revoke", {}),
    ]
    for login in ROLES:
        if login in ("crm-front", "admin.x"):
            continue
        api.sign_in(login)
        for method, path, body in routes:
            answer = api.get(path) if method == "get" else api.post(path, body or {})
            refused = problem_of(answer, 403)
            assert refused["detail"].endswith("may not administer accounts and tokens"), login
    assert api.accounts.find("ana.p") is None
    assert api.accounts.tokens() == []
    assert not api.accounts.account("admin.x").disabled
    api.client.cookies.clear()
    assert problem_of(api.get("/admin/users"), 401)["type"] == "urn:backoffice:sign-in"


def test_a_token_of_scope_read_lists_and_changes_nothing_and_csrf_is_needed(api: Api) -> None:
    _, read = api.accounts.issue_token("admin.x", "read")
    _, intake = api.accounts.issue_token("admin.x", "intake")
    _, full = api.accounts.issue_token("admin.x", "all")
    api.client.cookies.clear()
    by = {name: {"Authorization": f"Bearer {secret}"} for name, secret in
          (("read", read), ("intake", intake), ("all", full))}  # fmt: skip
    assert api.client.get("/admin/users", headers=by["read"]).status_code == 200
    assert api.client.get("/admin/users", headers=by["intake"]).status_code == 403
    disable = "/admin/users/maria.b/disable"
    refused = problem_of(api.client.post(disable, headers=by["read"]), 403)
    assert refused["detail"] == "a token with scope read may not change accounts or tokens"
    assert not api.accounts.account("maria.b").disabled
    assert api.client.post(disable, headers=by["all"]).status_code == 200  # no CSRF: a token
    as_admin(api)
    bare = api.client.post("/admin/users/maria.b/enable")  # a cookie without its CSRF token
    assert "X-CSRF-Token" in problem_of(bare, 403)["detail"]
    assert api.accounts.account("maria.b").disabled
    assert api.post("/admin/users/maria.b/enable", {}).status_code == 200


def test_no_password_nor_secret_is_logged_and_each_change_names_its_administrator(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    as_admin(api)
    caplog.clear()
    with caplog.at_level(logging.DEBUG):
        api.post("/admin/users", {"login": "ana.p", "role": "agent", "name": "Ana P.",
                                  "password": NEW_PASSWORD})  # fmt: skip
        made_up = api.post("/admin/users", {"login": "luis.q", "role": "agent",
                                            "name": "Luis Q."}).json()["password"]  # fmt: skip
        reset = api.client.post("/admin/users/maria.b/reset", headers=api.headers())
        short = "corta-123"
        api.post("/admin/users/carlos.m/reset", {"password": short})  # refused: 422
        api.post("/admin/users", {"login": "x", "role": "agent", "name": "X", "password": 12})
        api.client.post("/admin/users", content=f'{{"password": "{NEW_PASSWORD}"',
                        headers=api.headers({"Content-Type": "application/json"}))  # fmt: skip
        secret = api.post("/admin/tokens", {"login": "crm-front", "scope": "all"}).json()["secret"]
        api.post("/admin/users/maria.b/disable", {})
    said = "\n".join(
        f"{record.getMessage()} {json.dumps(getattr(record, 'fields', {}), default=str)}"
        for record in caplog.records
    )
    secrets = [NEW_PASSWORD, made_up, reset.json()["password"], short, secret]
    assert all(isinstance(s, str) and s for s in secrets)
    for value in secrets:
        assert value not in said
    changes = [
        record.fields  # type: ignore[attr-defined]
        for record in caplog.records
        if record.name == "backoffice.http" and record.getMessage().startswith("administration")
    ]
    assert [(c["admin"], c["action"], c.get("account")) for c in changes] == [
        ("admin.x", "user.add", "ana.p"),
        ("admin.x", "user.add", "luis.q"),
        ("admin.x", "user.reset", "maria.b"),
        ("admin.x", "token.add", "crm-front"),
        ("admin.x", "user.disable", "maria.b"),
    ]
    requests = [r for r in caplog.records if r.name == "backoffice.http.requests"]
    assert len(requests) == 8
    assert {r.fields["route"] for r in requests} >= {  # type: ignore[attr-defined]
        "/admin/users", "/admin/users/{login}/reset", "/admin/tokens",
    }  # fmt: skip
