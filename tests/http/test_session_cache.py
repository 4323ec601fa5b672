"""A session cookie decrypted once (`entrypoints.http.sessions`): the cache keeps nothing
alive that the cookie itself would not (its expiry holds), and a cookie that is not ours is
refused however often it comes."""

from __future__ import annotations

import time

import pytest

from tests.http.conftest import Api


def test_a_cached_cookie_still_expires_on_time(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    assert api.sign_in("maria.b").status_code == 200
    assert api.get("/session").status_code == 200
    assert api.get("/session").status_code == 200  # the second time from the cache
    later = time.time() + 8 * 3600 + 5  # the session's 8 hours are over
    monkeypatch.setattr(time, "time", lambda: later)  # the module reads time.time()
    assert api.get("/session").status_code == 401


def test_a_forged_or_altered_cookie_is_refused_every_time(api: Api) -> None:
    assert api.sign_in("maria.b").status_code == 200
    cookie = api.client.cookies["backoffice_session"]
    altered = cookie[:-6] + ("AAAAAA" if not cookie.endswith("AAAAAA") else "BBBBBB")
    api.client.cookies.clear()
    for _ in range(3):
        api.client.cookies.set("backoffice_session", altered)
        assert api.get("/session").status_code == 401
    api.client.cookies.set("backoffice_session", cookie)
    assert api.get("/session").status_code == 200
