"""What `GET /admin/users` shows of an account that wrong passwords locked: the lock and the
attempts that caused it (and those made during it), until the lock-out ends."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from adapters.clock import FixedClock
from tests.conftest import T0
from tests.http.conftest import Api

WRONG = "not the password, again"


def shown(api: Api, login: str) -> dict[str, Any]:
    api.sign_in("admin.x")
    answer = api.get("/admin/users")
    assert answer.status_code == 200, answer.text
    rows: dict[str, dict[str, Any]] = {row["login"]: row for row in answer.json()}
    return rows[login]


def test_a_locked_account_shows_its_lock_and_the_attempts_that_locked_it(
    api: Api, clock: FixedClock
) -> None:
    for _ in range(5):
        assert api.sign_in("maria.b", WRONG).status_code == 401
    maria = shown(api, "maria.b")
    until = (T0 + timedelta(minutes=15)).isoformat().replace("+00:00", "Z")
    assert (maria["failed_attempts"], maria["locked_until"]) == (5, until)
    assert api.sign_in("maria.b").status_code == 401  # the right password: still locked
    maria = shown(api, "maria.b")
    assert (maria["failed_attempts"], maria["locked_until"]) == (6, until)
    clock.advance(timedelta(minutes=15))  # the lock-out has ended
    maria = shown(api, "maria.b")
    assert (maria["failed_attempts"], maria["locked_until"]) == (0, None)
    assert api.sign_in("maria.b").status_code == 200
    assert shown(api, "maria.b")["failed_attempts"] == 0
