"""The console's sign-out needs the form's CSRF token and nothing else, as `DELETE /session`:
someone who left the roster (their account still enabled) signs out for good, the session's
cookie cleared, and coming back onto the roster brings that session back no more."""

from __future__ import annotations

from pathlib import Path

from tests.integration.test_account_check import roster
from tests.web.conftest import Console

COOKIE = "backoffice_session"
HOST = "testserver.local"
"""The test client's host (its cookies' domain)."""
OUT_OF_DATE = "El formulario está desactualizado: recargue la página y envíelo de nuevo"
ON_IT = "maria.b;Premium Hogar;Asesor;10/06/2025;;\n"
LEFT_YESTERDAY = "maria.b;Premium Hogar;Asesor;10/06/2025;14/07/2026;Renuncia voluntaria\n"
BACK_TODAY = "maria.b;Premium Hogar;Asesor;15/07/2026;;\n"
"""The rejoin: on the roster again from today (the clock's 15 July 2026)."""


def epoch(console: Console) -> int:
    return console.accounts.account("maria.b").session_epoch


def test_someone_who_left_the_roster_signs_out_for_good(console: Console, tmp_path: Path) -> None:
    roster(console.office, tmp_path, ON_IT)
    assert console.sign_in("maria.b").url.path == "/console/day"
    csrf, copy = console.csrf, console.client.cookies[COOKIE]
    assert csrf
    roster(console.office, tmp_path, LEFT_YESTERDAY)
    assert console.get("/console/").url.path != "/console/day"  # refused: not on the roster
    answer = console.client.post("/console/sign-out", data={"csrf": csrf}, follow_redirects=False)
    assert (answer.status_code, answer.headers["location"]) == (303, "/console/sign-in")
    assert COOKIE in answer.headers.get("set-cookie", "")  # the cookie cleared
    assert COOKIE not in console.client.cookies
    assert epoch(console) == 1  # the session ended, and every one issued before
    roster(console.office, tmp_path, BACK_TODAY)
    console.client.cookies.set(COOKIE, copy, domain=HOST)  # the session as it was
    assert console.get("/console/").url.path == "/console/sign-in"
    assert console.sign_in("maria.b").url.path == "/console/day"  # a new session works


def test_a_sign_out_without_the_sessions_token_is_refused_and_ends_nothing(
    console: Console,
) -> None:
    assert console.sign_in("maria.b").url.path == "/console/day"
    for wrong in ("", "not-the-token"):
        answer = console.client.post(
            "/console/sign-out", data={"csrf": wrong}, follow_redirects=False
        )
        assert answer.status_code == 403
        assert OUT_OF_DATE in answer.text
        assert COOKIE in console.client.cookies
    assert epoch(console) == 0
    assert console.get("/console/").url.path == "/console/day"  # still signed in
    console.client.cookies.clear()
    nobody = console.client.post("/console/sign-out", data={}, follow_redirects=False)
    assert (nobody.status_code, nobody.headers["location"]) == (303, "/console/sign-in")
    assert epoch(console) == 0
