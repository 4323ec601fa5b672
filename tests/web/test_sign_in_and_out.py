"""The console's sign-in refuses a form another site's page sent (login CSRF), and its
sign-out ends the session for good: a copy of its cookie taken before no longer signs in."""

from __future__ import annotations

from tests.http.conftest import PASSWORD
from tests.web.conftest import Console

COOKIE = "backoffice_session"
HOST = "testserver.local"
"""The test client's host (its cookies' domain)."""
OUT_OF_DATE = "El formulario está desactualizado: recargue la página y envíelo de nuevo"


def test_a_sign_in_sent_from_another_sites_page_is_refused(console: Console) -> None:
    form = {"login": "maria.b", "password": PASSWORD, "next": ""}
    for headers in ({"Origin": "https://evil.example"}, {"Origin": "null"},
                    {"Referer": "https://evil.example/page.html"}):  # fmt: skip
        console.client.cookies.clear()
        answer = console.client.post("/console/sign-in", data=form, headers=headers)
        assert answer.status_code == 403, headers
        assert OUT_OF_DATE in answer.text  # the sign-in page again, saying why
        assert 'name="login"' in answer.text
        assert "set-cookie" not in answer.headers
        assert console.get("/console/").url.path == "/console/sign-in"  # nobody signed in
    wrong = {**form, "password": "not the password"}
    for _ in range(6):  # refused before any password is checked: no attempt counted
        console.client.post("/console/sign-in", data=wrong,
                            headers={"Origin": "https://evil.example"})  # fmt: skip
    assert console.accounts.account("maria.b").failed_attempts == 0
    ours = console.client.post("/console/sign-in", data=form, headers={"Origin": f"http://{HOST}"},
                               follow_redirects=False)  # fmt: skip
    assert (ours.status_code, ours.headers["location"]) == (303, "/console/")
    assert console.get("/console/").url.path == "/console/day"
    assert console.sign_in("maria.b").url.path == "/console/day"  # no Origin: a script's


def test_signing_out_ends_the_session_and_every_copy_of_its_cookie(console: Console) -> None:
    console.sign_in("maria.b")
    copy = console.client.cookies[COOKIE]
    assert console.get("/console/").url.path == "/console/day"
    answer = console.post("/console/sign-out", {})
    assert answer.url.path == "/console/sign-in"
    console.client.cookies.set(COOKIE, copy, domain=HOST)  # a copy taken before
    assert console.get("/console/").url.path == "/console/sign-in"
    assert console.sign_in("maria.b").url.path == "/console/day"  # signing in again: a new one
    assert console.get("/console/").url.path == "/console/day"


def test_a_forwarded_host_is_believed_only_from_a_trusted_proxy(console: Console) -> None:
    """The test client (`testclient`, no address) is no proxy: a host it says it forwards is
    not this service's, in the console's form and in the API's `POST /session`."""
    form = {"login": "maria.b", "password": PASSWORD, "next": ""}
    public = "https://backoffice.example"
    for forwarded in ({"X-Forwarded-Host": "backoffice.example"},
                      {"Forwarded": "for=192.0.2.60;host=backoffice.example"}):  # fmt: skip
        headers = {"Origin": public, **forwarded}
        console.client.cookies.clear()
        answer = console.client.post("/console/sign-in", data=form, headers=headers)
        assert answer.status_code == 403, forwarded
        assert OUT_OF_DATE in answer.text
        assert "set-cookie" not in answer.headers
        api = console.client.post("/session", json={"login": "maria.b", "password": PASSWORD},
                                  headers=headers)  # fmt: skip
        assert api.status_code == 403, forwarded
        assert "set-cookie" not in api.headers
    assert console.accounts.account("maria.b").failed_attempts == 0
