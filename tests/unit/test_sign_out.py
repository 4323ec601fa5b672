"""Sessions that end (`Accounts.sign_out`, `reset`, `disable`; the session's epoch as
`entrypoints.http.sessions` carries it) and what an administrator is shown of a lock-out
(`standing`), on the memory store with a fixed clock."""

from __future__ import annotations

import re
from datetime import timedelta

import argon2
import attrs
import pytest

from adapters.accounts import Argon2Hasher, MemoryAccountStore
from adapters.clock import FixedClock
from application.access.accounts import (
    SESSION_ENDED,
    WRONG_LOGIN_OR_PASSWORD,
    Accounts,
    Principal,
    SignInRefused,
    standing,
)
from application.ports.accounts import AccessRole
from entrypoints.http.sessions import (
    EPOCH,
    NO_EPOCH,
    end_session,
    password_session,
    session_epoch,
)
from tests.conftest import T0

PASSWORD = "correct horse battery"
OTHER = "not the password at all"


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


@pytest.fixture
def store() -> MemoryAccountStore:
    return MemoryAccountStore()


@pytest.fixture
def accounts(store: MemoryAccountStore, clock: FixedClock) -> Accounts:
    door = Accounts(
        store, Argon2Hasher(argon2.profiles.CHEAPEST), clock, lambda _: None, lambda: False
    )
    door.add("maria.b", "agent", "María", PASSWORD)
    door.add("admin.x", "admin", "Admin", PASSWORD)
    return door


def ended() -> pytest.RaisesExc[SignInRefused]:
    return pytest.raises(SignInRefused, match=f"^{re.escape(SESSION_ENDED)}$")


def session(accounts: Accounts, login: str = "maria.b") -> int:
    """A password's sign-in: the epoch its session carries."""
    epoch = accounts.sign_in(login, PASSWORD).epoch
    assert epoch is not None
    return epoch


def test_a_session_carries_the_epoch_it_was_issued_in(accounts: Accounts) -> None:
    first = session(accounts)
    assert first == 0
    assert accounts.principal("maria.b", first).login == "maria.b"
    assert accounts.principal("maria.b").epoch == 0  # the proxy's header's user: none compared
    assert accounts.principal("maria.b", first) == Principal(
        login="maria.b", role=AccessRole.AGENT, name="María"
    )  # the epoch is no part of who it is


def test_signing_out_ends_the_session_and_every_one_issued_before(accounts: Accounts) -> None:
    here, elsewhere = session(accounts), session(accounts)  # two browsers, one epoch
    other = session(accounts, "admin.x")
    assert accounts.sign_out("maria.b", here)
    for epoch in (here, elsewhere):
        with ended():
            accounts.principal("maria.b", epoch)
    assert accounts.principal("admin.x", other).login == "admin.x"  # another account's: on
    again = session(accounts)
    assert again == here + 1
    assert accounts.principal("maria.b", again).login == "maria.b"


def test_a_session_ended_already_ends_no_other(accounts: Accounts) -> None:
    """A copy of a cookie signed out (with its CSRF token) cannot sign its user out again
    and again: its sign-out ends nothing."""
    old = session(accounts)
    accounts.sign_out("maria.b", old)
    new = session(accounts)
    assert not accounts.sign_out("maria.b", old)
    assert accounts.principal("maria.b", new).login == "maria.b"
    assert not accounts.sign_out("ghost", 0)
    assert not accounts.sign_out("Not A Login", 0)


def test_a_new_password_ends_every_session(accounts: Accounts, clock: FixedClock) -> None:
    before = session(accounts)
    clock.advance(timedelta(minutes=1))
    reset = accounts.reset("maria.b", OTHER)
    assert (reset.session_epoch, reset.updated_at) == (before + 1, clock.now())
    with ended():
        accounts.principal("maria.b", before)
    after = accounts.sign_in("maria.b", OTHER).epoch
    assert accounts.principal("maria.b", after).login == "maria.b"
    _, made_up = accounts.reset_generated("maria.b")
    with ended():
        accounts.principal("maria.b", after)
    assert accounts.sign_in("maria.b", made_up).epoch == before + 2


def test_disabling_ends_every_session_for_good(accounts: Accounts) -> None:
    before = session(accounts)
    assert accounts.disable_guarded("maria.b", by="admin.x").session_epoch == before + 1
    with pytest.raises(SignInRefused, match=r"^the account is disabled$"):  # said as before
        accounts.principal("maria.b", before)
    again = accounts.disable("maria.b")  # disabled already: as is, its sessions ended again
    assert (again.disabled, again.session_epoch) == (True, before + 2)
    enabled = accounts.enable("maria.b")
    assert enabled.session_epoch == before + 2  # enabling brings no session back
    with ended():
        accounts.principal("maria.b", before)
    assert accounts.principal("maria.b", session(accounts)).login == "maria.b"


def test_the_cookies_session_carries_the_epoch_and_one_without_is_refused(
    accounts: Accounts,
) -> None:
    principal = accounts.sign_in("maria.b", PASSWORD)
    cookie = password_session(principal.login, "csrf-token", principal.epoch)
    assert cookie == {"login": "maria.b", "csrf": "csrf-token", EPOCH: 0}
    assert accounts.principal("maria.b", session_epoch(cookie)).login == "maria.b"
    for old in ({"login": "maria.b", "csrf": "x"}, {"login": "maria.b", EPOCH: "0"},
                {"login": "maria.b", EPOCH: True}, {"login": "maria.b", EPOCH: -3}):  # fmt: skip
        assert session_epoch(old) == NO_EPOCH
        with ended():  # issued before epochs, or not ours: signed in again
            accounts.principal("maria.b", session_epoch(old))
    assert password_session("maria.b", "x", None)[EPOCH] == NO_EPOCH


def test_ending_a_cookies_session_ends_its_accounts_sessions(accounts: Accounts) -> None:
    principal = accounts.sign_in("maria.b", PASSWORD)
    cookie = password_session(principal.login, "x", principal.epoch)
    copy = dict(cookie)
    assert end_session(accounts, cookie)
    with ended():
        accounts.principal("maria.b", session_epoch(copy))
    assert not end_session(accounts, copy)  # ended already
    kept = accounts.account("maria.b").session_epoch
    for other in ({}, {"login": "maria.b", "csrf": "x"}, {"login": "maria.b", EPOCH: kept,
                  "sso": "maria.b"}, {"login": "", EPOCH: kept}):  # fmt: skip
        assert not end_session(accounts, other)  # none, no epoch, the proxy's, no login
    assert accounts.account("maria.b").session_epoch == kept


# --- what an administrator is shown of a lock-out --------------------------------------------


def test_the_attempts_that_locked_an_account_are_shown_while_it_is_locked(
    accounts: Accounts, clock: FixedClock, store: MemoryAccountStore
) -> None:
    for _ in range(5):
        with pytest.raises(SignInRefused, match=f"^{WRONG_LOGIN_OR_PASSWORD}$"):
            accounts.sign_in("maria.b", OTHER)
    until = T0 + timedelta(minutes=15)
    shown = {a.login: a for a in accounts.list()}["maria.b"]
    assert (shown.failed_attempts, shown.locked_until) == (5, until)
    with pytest.raises(SignInRefused):
        accounts.sign_in("maria.b", PASSWORD)  # during the lock: counted, refused
    found = accounts.find("maria.b")
    assert found is not None
    assert (found.failed_attempts, found.locked_until) == (6, until)
    assert (accounts.account("maria.b").failed_attempts, accounts.account("maria.b").locked_until
            ) == (6, until)  # fmt: skip
    clock.advance(timedelta(minutes=15))  # the lock-out has ended: nothing counts any more
    shown = {a.login: a for a in accounts.list()}["maria.b"]
    assert (shown.failed_attempts, shown.locked_until) == (0, None)
    kept = store.get("maria.b")
    assert kept is not None
    assert (kept.failed_attempts, kept.locked_until) == (6, until)
    with pytest.raises(SignInRefused):
        accounts.sign_in("maria.b", OTHER)
    assert accounts.account("maria.b").failed_attempts == 1  # counted from 1 again
    assert accounts.sign_in("maria.b", PASSWORD).login == "maria.b"
    assert accounts.account("maria.b").failed_attempts == 0


def test_standing_leaves_an_account_not_locked_or_still_locked_as_it_is(
    store: MemoryAccountStore, accounts: Accounts
) -> None:
    kept = store.get("maria.b")
    assert kept is not None
    assert standing(kept, T0) is kept
    locked = attrs.evolve(kept, locked_until=T0, failed_attempts=5)
    assert standing(locked, T0 - timedelta(seconds=1)) is locked
    assert standing(locked, T0) == attrs.evolve(kept, locked_until=None, failed_attempts=0)
