"""Sessions that end over HTTP: signing out (`DELETE /session`) ends the session, copies of
its cookie included, and every other session of the account issued before; a new password
(`POST /admin/users/{login}/reset`) or disabling the account ends them all. And a sign-in
(`POST /session`) sent by another site's page is refused (login CSRF)."""

from __future__ import annotations

import uuid

from litestar.middleware.session.client_side import (
    ClientSideSessionBackend,
    CookieBackendConfig,
)

from tests.http.conftest import PASSWORD, Api
from tests.http.test_api import case_id

COOKIE = "backoffice_session"
HOST = "testserver.local"
"""The test client's host (its cookies' domain)."""
NEW_PASSWORD = "una clave nueva y larga"


def signed_in(api: Api, login: str = "maria.b") -> tuple[str, str]:
    """Sign `login` in: the session's cookie and its CSRF token, as a browser keeps them."""
    answer = api.sign_in(login)
    assert answer.status_code == 200, answer.text
    assert api.csrf is not None
    return api.client.cookies[COOKIE], api.csrf


def use(api: Api, session: tuple[str, str]) -> None:
    """Send `session`'s cookie and CSRF token from now on (a copy of the cookie)."""
    api.client.cookies.clear()
    api.client.cookies.set(COOKIE, session[0], domain=HOST)
    api.csrf = session[1]


def who(api: Api, session: tuple[str, str]) -> int:
    use(api, session)
    status: int = api.get("/session").status_code
    return status


def sign_out(api: Api, session: tuple[str, str]) -> None:
    use(api, session)
    assert api.client.delete("/session", headers=api.headers()).status_code == 204
    assert COOKIE not in api.client.cookies  # the browser's copy is cleared


def test_signing_out_ends_the_session_and_every_copy_of_its_cookie(api: Api) -> None:
    case = case_id(api, "CRM-1")
    version = api.office.case(uuid.UUID(case)).version
    session = signed_in(api)
    assert who(api, session) == 200
    sign_out(api, session)
    use(api, session)  # a copy of the cookie, taken before
    answer = api.client.get("/session")
    assert answer.status_code == 401
    assert "the session has ended" in answer.json()["detail"]
    use(api, session)
    assert api.command("add-note", {"case": case, "text": "una nota"}).status_code == 401
    assert api.office.case(uuid.UUID(case)).version == version  # nothing recorded
    again = signed_in(api)
    assert who(api, again) == 200
    assert who(api, session) == 401  # the old one stays ended


def test_signing_out_ends_the_accounts_other_sessions_not_other_accounts(api: Api) -> None:
    here, elsewhere, other = signed_in(api), signed_in(api), signed_in(api, "carlos.m")
    sign_out(api, here)
    assert who(api, elsewhere) == 401  # another browser of the same account, issued before
    assert who(api, other) == 200  # another account's
    assert who(api, signed_in(api)) == 200  # a session issued after


def test_a_copy_of_an_ended_session_cannot_sign_its_user_out_again(api: Api) -> None:
    old = signed_in(api)
    sign_out(api, old)
    new = signed_in(api)
    sign_out(api, old)  # answered as a sign-out (its cookie cleared), but it ends nothing
    assert who(api, new) == 200


def test_a_new_password_ends_every_session_of_the_account(api: Api) -> None:
    maria, carlos = signed_in(api), signed_in(api, "carlos.m")
    admin = signed_in(api, "admin.x")
    use(api, admin)
    reset = api.post("/admin/users/maria.b/reset", {"password": NEW_PASSWORD})
    assert reset.status_code == 200, reset.text
    assert who(api, maria) == 401
    assert who(api, carlos) == 200
    assert who(api, admin) == 200  # the administrator's own session goes on
    assert api.sign_in("maria.b", NEW_PASSWORD).status_code == 200
    assert api.get("/session").status_code == 200


def test_disabling_ends_every_session_for_good(api: Api) -> None:
    maria = signed_in(api)
    admin = signed_in(api, "admin.x")
    use(api, admin)
    assert api.post("/admin/users/maria.b/disable", {}).status_code == 200
    assert who(api, maria) == 401
    use(api, admin)
    assert api.post("/admin/users/maria.b/enable", {}).status_code == 200
    assert who(api, maria) == 401  # enabling brings no session back
    assert who(api, signed_in(api)) == 200


def test_a_cookie_issued_before_session_epochs_is_refused(api: Api) -> None:
    """A session this release did not issue (no epoch in it): its holder signs in again."""
    backend = ClientSideSessionBackend(CookieBackendConfig(secret=b"k" * 32, key=COOKIE))
    [old] = backend.dump_data({"login": "maria.b", "csrf": "x"})  # as the app's key makes it
    assert who(api, (old.decode(), "x")) == 401
    assert who(api, signed_in(api)) == 200


# --- login CSRF ------------------------------------------------------------------------------


def test_a_sign_in_sent_from_another_sites_page_is_refused(api: Api) -> None:
    body = {"login": "maria.b", "password": PASSWORD}
    for headers in ({"Origin": "https://evil.example"}, {"Origin": "null"},
                    {"Referer": "https://evil.example/form.html"}):  # fmt: skip
        api.client.cookies.clear()
        answer = api.client.post("/session", json=body, headers=headers)
        assert answer.status_code == 403, headers
        assert "another site" in answer.json()["detail"]
        assert "set-cookie" not in answer.headers
        assert api.client.get("/session").status_code == 401
    wrong = {"login": "maria.b", "password": "not the password"}
    for _ in range(6):  # refused before any password is checked: no attempt counted
        api.client.post("/session", json=wrong, headers={"Origin": "https://evil.example"})
    assert api.accounts.account("maria.b").failed_attempts == 0
    ours = api.client.post("/session", json=body, headers={"Origin": f"http://{HOST}"})
    assert ours.status_code == 200
    assert api.client.get("/session").status_code == 200
    assert api.sign_in("maria.b").status_code == 200  # no Origin, no Referer: curl, scripts
