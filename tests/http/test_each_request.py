"""What every request costs and still checks (the overhead of part (f) of the benchmark):
the account is read again on each request, in the same worker thread as the request's work
(one thread hop, not two), and an unchanged session cookie is not sent again with every
answer. A disabled account, a revoked token or someone not on the roster loses access at
once, between two requests of the same session. On SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import anyio.to_thread
import litestar.concurrency
import litestar.utils.sync
import pytest

from application.ports.accounts import AccessRole
from entrypoints.http import sessions
from tests.http.conftest import PASSWORD, Api, a_case

ROOT = Path(__file__).resolve().parents[2]


def head(api: Api) -> int:
    return api.office.store.last_position()


@contextmanager
def hops(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The hand-offs to a worker thread made meanwhile: anyio's (the async handlers', the
    sign-in's) and Litestar's (`sync_to_thread` handlers)."""
    made: list[str] = []
    to_thread = anyio.to_thread.run_sync
    litestars = litestar.concurrency.sync_to_thread  # what `litestar.utils.sync` calls

    async def counted(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        made.append(getattr(fn, "__name__", repr(fn)))
        return await to_thread(fn, *args, **kwargs)

    async def counted_litestar(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        made.append(getattr(fn, "__name__", repr(fn)))
        return await litestars(fn, *args, **kwargs)

    with monkeypatch.context() as patched:
        patched.setattr(anyio.to_thread, "run_sync", counted)
        patched.setattr(litestar.utils.sync, "sync_to_thread", counted_litestar)
        yield made


def test_a_request_reads_the_account_and_does_its_work_in_one_thread_hop(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = a_case(api)
    api.sign_in("maria.b")
    version = api.get(f"/cases/{case}").headers["etag"]
    requests: dict[str, Callable[[], Any]] = {
        "a case": lambda: api.get(f"/cases/{case}"),
        "the case list": lambda: api.get("/cases", agent="maria.b"),
        "who is signed in": lambda: api.get("/session"),
        "a command": lambda: api.command(
            "add-note", {"case": case, "text": "Cliente informado"}, **{"If-Match": version}
        ),
    }
    for what, request in requests.items():
        with hops(monkeypatch) as made:
            answer = request()
        assert answer.status_code == 200, (what, answer.text)
        assert len(made) == 1, (what, made)
        version = answer.headers.get("etag", version)
    with hops(monkeypatch) as made:  # with a key: claimed, then run and kept
        keyed = api.command("add-note", {"case": case, "text": "Otra nota"},
                            **{"Idempotency-Key": "one-hop-1"})  # fmt: skip
    assert keyed.status_code == 200, keyed.text
    assert len(made) == 2, made
    with hops(monkeypatch) as made:  # not signed in: refused before any thread
        api.client.cookies.clear()
        assert api.get(f"/cases/{case}").status_code == 401
    assert made == []


def test_a_disabled_account_loses_access_at_once_between_two_requests(api: Api) -> None:
    case = a_case(api)
    api.sign_in("maria.b")
    assert api.get(f"/cases/{case}").status_code == 200
    note = {"case": case, "text": "Llamé al cliente"}
    assert api.command("add-note", note).status_code == 200
    api.accounts.disable("maria.b")
    before = head(api)
    for answer in (
        api.get(f"/cases/{case}"),
        api.get("/cases"),
        api.get("/session"),
        api.command("add-note", note),
        api.command("add-note", note, **{"Idempotency-Key": "disabled-1"}),
    ):
        assert (answer.status_code, answer.json()["detail"]) == (401, "the account is disabled")
    assert head(api) == before  # nothing recorded
    api.accounts.enable("maria.b")
    assert api.get(f"/cases/{case}").status_code == 401  # disabling ended it for good
    api.sign_in("maria.b")
    assert api.get(f"/cases/{case}").status_code == 200  # enabled again: signed in anew


def test_a_revoked_token_loses_access_at_once(api: Api) -> None:
    case = a_case(api)
    record, secret = api.accounts.issue_token("maria.b", "all")
    bearer = {"Authorization": f"Bearer {secret}"}
    assert api.client.get(f"/cases/{case}", headers=bearer).status_code == 200
    note = {"case": case, "text": "Por token"}
    done = api.client.post("/commands/add-note", json=note, headers=bearer)
    assert done.status_code == 200, done.text
    api.accounts.revoke_token(record.token_id)
    before = head(api)
    refused = [
        api.client.get(f"/cases/{case}", headers=bearer),
        api.client.post("/commands/add-note", json=note, headers=bearer),
    ]
    assert [(r.status_code, r.json()["detail"]) for r in refused] == [
        (401, "the token was revoked")
    ] * 2
    assert head(api) == before


def test_someone_not_on_the_roster_loses_access_once_it_is_imported(api: Api) -> None:
    from adapters.intake.team import RosterReader
    from application.team.imports import import_roster

    case = a_case(api)
    api.sign_in("gerente.g")  # a manager's account: before any roster, its role holds
    assert api.get(f"/cases/{case}").status_code == 200
    assert api.get(f"/cases/{case}").status_code == 200  # the log has not moved
    import_roster(api.office, RosterReader(ROOT / "examples" / "roster.csv").items())
    refused = api.get(f"/cases/{case}")  # the same session, the next request
    assert refused.status_code == 401
    assert refused.json()["detail"].startswith("not on the team's roster today")
    assert api.sign_in("maria.b").status_code == 200  # on it
    assert api.get(f"/cases/{case}").status_code == 200


def test_a_command_refused_to_a_disabled_account_says_so_before_its_mistakes(api: Api) -> None:
    api.sign_in("carlos.m")
    api.accounts.disable("carlos.m")
    stale = api.command("add-note", {"case": a_case(api), "text": "x"}, **{"If-Match": "bad"})
    assert stale.status_code == 401  # the account first, then the If-Match


def test_an_unchanged_session_cookie_is_sent_again_only_once_a_minute(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    def later(seconds: float) -> None:
        clock = SimpleNamespace(time=lambda: time.time() + seconds)
        monkeypatch.setattr(sessions, "time", clock)
        monkeypatch.setattr("litestar.middleware.session.client_side.time", clock)

    signed = api.sign_in("maria.b")
    assert "backoffice_session=" in signed.headers["set-cookie"]  # a new session: sent
    for _ in range(3):
        again = api.get("/session")
        assert again.status_code == 200
        assert "set-cookie" not in again.headers  # unchanged and fresh: not sent again
    later(sessions.RENEW_SECONDS + 5)
    renewed = api.get("/session")
    assert renewed.status_code == 200
    cookie = renewed.headers["set-cookie"].lower()
    assert "backoffice_session=" in cookie
    assert f"max-age={8 * 3600}" in cookie
    assert "set-cookie" not in api.get("/session").headers  # the renewed one is fresh
    later(sessions.RENEW_SECONDS + 5 + 8 * 3600 + 5)  # 8 hours after the last renewal
    assert api.get("/session").status_code == 401
    later(0)
    api.sign_in("maria.b")
    gone = api.client.delete("/session", headers=api.headers())  # a changed session: sent
    assert gone.status_code == 204
    assert "backoffice_session=" in gone.headers["set-cookie"]
    assert api.get("/session").status_code == 401


def test_a_session_of_another_user_is_sent_at_once(api: Api) -> None:
    api.sign_in("maria.b")
    first = api.client.cookies.get("backoffice_session")
    api.accounts.add("juan.r", AccessRole.AGENT, "Juan R.", PASSWORD)
    switched = api.client.post("/session", json={"login": "juan.r", "password": PASSWORD})
    assert switched.status_code == 200
    assert "backoffice_session=" in switched.headers["set-cookie"]
    assert api.client.cookies.get("backoffice_session") != first
    assert api.get("/session").json()["login"] == "juan.r"


def test_an_import_and_an_e_mail_handed_over_take_one_thread_hop(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.http.test_uploads import bearer, message

    api.sign_in("sofia.t")
    export = (
        "caso;fecha_ingreso;cuenta;línea;cliente;tipificación\n"
        "CRM-901;01/12/2026 08:00;80090101;hogar;Ana Peña;Facturación\n"
    ).encode()
    with hops(monkeypatch) as made:
        imported = api.client.post(
            "/imports/crm", files={"file": ("lunes.csv", export)}, headers=api.headers()
        )
    assert imported.status_code == 200, imported.text
    assert len(made) == 1, made
    auth = {**bearer(api, "crm-front", "intake"), "Content-Type": "message/rfc822"}
    with hops(monkeypatch) as made:
        handed = api.client.post("/intake/mail", content=message("hop-1@x.co"), headers=auth)
    assert handed.status_code == 201, handed.text
    assert len(made) == 1, made
    keyed = {**auth, "Idempotency-Key": "mail-hop"}
    with hops(monkeypatch) as made:  # with a key: claimed, then run and kept
        handed = api.client.post(
            "/intake/mail", content=message("hop-2@x.co", "80321999"), headers=keyed
        )
    assert handed.status_code == 201, handed.text
    assert len(made) == 2, made
    with hops(monkeypatch) as made:  # a retry: claimed, found, rebuilt in the same hop
        again = api.client.post(
            "/intake/mail", content=message("hop-2@x.co", "80321999"), headers=keyed
        )
    assert (again.status_code, again.content) == (201, handed.content)
    assert len(made) == 1, made
    api.accounts.disable("crm-front")
    with hops(monkeypatch) as made:  # refused in that hop, before the message's type
        refused = api.client.post("/intake/mail", content=b"{}",
                                  headers={**auth, "Content-Type": "application/json"})  # fmt: skip
    assert (refused.status_code, refused.json()["detail"]) == (401, "the account is disabled")
    assert len(made) == 1, made
