"""An account's session epoch in the accounts' stores (`SqlAccountStore` on SQLite and
PostgreSQL, `MemoryAccountStore`): raised in one step (`end_sessions`, compare-and-set for a
session signing out), never taken back by a `put` made from an older read, read with the
account in the one statement of every request's check; a table of an older release gains
the column in place. Disabling an account or a new password raises it in the statement that
keeps the change (`put` with `end_sessions`): never one without the other, and a disable
retried over an account left disabled with its sessions still ends them. And the lock-out
keeps the attempts that locked the account."""

from __future__ import annotations

import re
import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import argon2
import attrs
import pytest

from adapters.accounts import Argon2Hasher, MemoryAccountStore, SqlAccountStore
from adapters.clock import FixedClock
from adapters.schema_lock import connect
from application.access.accounts import ACCOUNT_DISABLED, SESSION_ENDED, Accounts, SignInRefused
from application.ports.accounts import AccessRole, Account, AccountStore, TokenRecord
from entrypoints.bootstrap import accounts, bootstrap
from entrypoints.settings import Settings, load_settings
from tests.conftest import T0, stored_account
from tests.integration.test_account_check import ON_IT, Statements, Worker, roster

PASSWORD = "correct horse battery"
OTHER = "not the password at all"
CHEAP = Argon2Hasher(argon2.profiles.CHEAPEST)

OLD_ACCOUNTS = (
    "CREATE TABLE accounts ("
    " login TEXT PRIMARY KEY, role TEXT NOT NULL, name TEXT NOT NULL, password_hash TEXT,"
    " disabled INTEGER NOT NULL, failed_attempts INTEGER NOT NULL, locked_until TEXT,"
    " created_at TEXT NOT NULL, updated_at TEXT NOT NULL)"
)
"""The `accounts` table as the releases before session epochs made it."""
OLD_ROW = (
    "INSERT INTO accounts VALUES ('maria.b', 'agent', 'María', 'h', 0, 2, NULL,"
    " '2026-07-15T14:00:00.000000Z', '2026-07-15T14:00:00.000000Z')"
)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    url = "sqlite"
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
    return load_settings(environ={}, data_dir=str(tmp_path / "data"), database_url=url)


@pytest.fixture(params=["sql", "memory"])
def store(request: pytest.FixtureRequest, settings: Settings) -> Iterator[AccountStore]:
    opened: AccountStore
    if request.param == "memory":
        opened = MemoryAccountStore()
    else:
        opened = SqlAccountStore(settings.view_env("accounts"))
    try:
        yield opened
    finally:
        opened.close()


account = stored_account


def epoch(store: AccountStore, login: str = "maria.b") -> int:
    found = store.get(login)
    assert found is not None
    return found.session_epoch


def test_a_new_account_starts_at_epoch_0_and_end_sessions_raises_it(store: AccountStore) -> None:
    store.put(account())
    assert epoch(store) == 0
    ended = store.end_sessions("maria.b")
    assert ended is not None
    assert (ended.login, ended.session_epoch) == ("maria.b", 1)
    assert epoch(store) == 1
    assert store.end_sessions("ghost") is None


def test_a_session_signing_out_raises_the_epoch_only_while_it_is_the_accounts(
    store: AccountStore,
) -> None:
    store.put(account())
    ended = store.end_sessions("maria.b", 0)
    assert ended is not None
    assert ended.session_epoch == 1
    assert store.end_sessions("maria.b", 0) is None  # ended already: ends no other
    assert epoch(store) == 1
    assert store.end_sessions("maria.b", 2) is None  # not an epoch the account has had
    assert epoch(store) == 1
    assert store.end_sessions("maria.b", 1) is not None
    assert epoch(store) == 2


def test_a_put_never_takes_an_existing_accounts_epoch_back(store: AccountStore) -> None:
    read_before = account()
    store.put(read_before)
    store.end_sessions("maria.b")
    store.end_sessions("maria.b")
    store.put(account(name="María B.", disabled=True))  # made from a read before the ends
    kept = store.get("maria.b")
    assert kept is not None
    assert (kept.name, kept.disabled, kept.session_epoch) == ("María B.", True, 2)
    store.put(account("otro.o", session_epoch=7))  # a new account: as given
    assert epoch(store, "otro.o") == 7
    assert [a.session_epoch for a in store.all()] == [2, 7]


def test_a_put_that_ends_sessions_raises_the_epoch_with_the_change(store: AccountStore) -> None:
    store.put(account())
    store.end_sessions("maria.b")
    kept = store.put(account(disabled=True), end_sessions=True)  # from a read before the end
    assert (kept.login, kept.disabled, kept.session_epoch) == ("maria.b", True, 2)
    found = store.get("maria.b")
    assert found is not None
    assert (found.disabled, found.session_epoch) == (True, 2)
    again = store.put(account(name="María B."))  # a change that ends nothing: the epoch kept
    assert (again.name, again.disabled, again.session_epoch) == ("María B.", False, 2)
    assert epoch(store) == 2
    new = store.put(account("otro.o", session_epoch=4), end_sessions=True)  # new: as given
    assert new.session_epoch == epoch(store, "otro.o") == 4


def _door(store: AccountStore) -> Accounts:
    return Accounts(store, CHEAP, FixedClock(T0), lambda _: None, lambda: False)


def _refused(door: Accounts, session: int, reason: str) -> None:
    with pytest.raises(SignInRefused, match=f"^{re.escape(reason)}$"):
        door.principal("maria.b", session)


def test_disabling_and_a_new_password_end_sessions_in_the_write_that_keeps_them(
    store: AccountStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No second write ends them: with `end_sessions` failing, both still end the sessions
    (a second write that failed used to leave the account disabled with its sessions, which
    enabling it brought back)."""
    door = _door(store)
    door.add("maria.b", "agent", "María", PASSWORD)
    session = door.sign_in("maria.b", PASSWORD).epoch
    assert session == 0

    def fails(login: str, epoch: int | None = None) -> Account | None:
        raise RuntimeError("a second write")

    monkeypatch.setattr(store, "end_sessions", fails)
    disabled = door.disable("maria.b")
    assert (disabled.disabled, disabled.session_epoch) == (True, 1)
    _refused(door, session, ACCOUNT_DISABLED)
    door.enable("maria.b")
    _refused(door, session, SESSION_ENDED)  # enabling it brings no session back
    again = door.sign_in("maria.b", PASSWORD).epoch
    assert again == 1
    assert door.reset("maria.b", OTHER).session_epoch == 2
    _refused(door, again, SESSION_ENDED)
    assert door.sign_in("maria.b", OTHER).epoch == 2


def test_a_disable_retried_over_an_account_left_disabled_ends_its_sessions(
    store: AccountStore,
) -> None:
    """An account kept disabled without its sessions ended (as an earlier release left it
    when its second write failed): disabling it again ends them, and enabling it brings
    none back."""
    door = _door(store)
    door.add("maria.b", "agent", "María", PASSWORD)
    session = door.sign_in("maria.b", PASSWORD).epoch
    assert session == 0
    left = store.get("maria.b")
    assert left is not None
    store.put(attrs.evolve(left, disabled=True))  # disabled, the epoch as it was
    assert door.disable("maria.b").session_epoch == 1
    assert epoch(store) == 1
    door.enable("maria.b")
    _refused(door, session, SESSION_ENDED)
    assert door.disable("maria.b").session_epoch == 2  # once more: nothing else changes
    assert door.account("maria.b").disabled


def test_the_epoch_comes_with_the_account_in_every_read(store: AccountStore) -> None:
    store.put(account())
    store.put(account("crm", role=AccessRole.INTEGRATION, password_hash=None))
    store.end_sessions("maria.b")
    store.add_token(
        TokenRecord(token_id="0123456789ab", digest="ab" * 32, login="crm", scope="all",
                    created_at=T0)
    )  # fmt: skip
    found, _ = store.get_with_news("maria.b", None)
    assert found is not None
    assert found.session_epoch == 1
    _, holder, _ = store.token_with_account("0123456789ab", None)
    assert holder is not None
    assert holder.session_epoch == 0
    counted = store.count_attempt("maria.b", T0)
    assert counted is not None
    assert counted.session_epoch == 1


def test_a_lock_out_keeps_the_attempts_that_locked_the_account(store: AccountStore) -> None:
    store.put(account())
    for _ in range(5):
        store.count_attempt("maria.b", T0)
    until = T0 + timedelta(minutes=15)
    store.lock_out("maria.b", until)
    locked = store.get("maria.b")
    assert locked is not None
    assert (locked.failed_attempts, locked.locked_until) == (5, until)
    store.count_attempt("maria.b", T0 + timedelta(minutes=1))  # during the lock: counted on
    during = store.get("maria.b")
    assert during is not None
    assert (during.failed_attempts, during.locked_until) == (6, until)
    store.lock_out("ghost", until)  # no such account: nothing


def _old_table(settings: Settings) -> None:
    """An `accounts` table (and one account) as an older release left it."""
    env = settings.view_env("accounts")
    if settings.backend == "postgres":
        with connect(env) as connection:
            connection.execute(OLD_ACCOUNTS)
            connection.execute(OLD_ROW)
        return
    path = Path(env["SQLITE_DBNAME"])
    path.parent.mkdir(parents=True, exist_ok=True)
    with sqlite3.connect(path) as database:
        database.execute(OLD_ACCOUNTS)
        database.execute(OLD_ROW)
    database.close()


@pytest.mark.parametrize("create_table", ["y", "n"])
def test_an_older_releases_table_gains_the_epoch_in_place(
    settings: Settings, create_table: str
) -> None:
    """Whether the store creates tables or not (`CREATE_TABLE=n`: the tables exist), the
    column is added, 0 for the accounts there; the next store adds nothing."""
    _old_table(settings)
    env = {**settings.view_env("accounts"), "CREATE_TABLE": create_table}
    store = SqlAccountStore(env)
    try:
        kept = store.get("maria.b")
        assert kept is not None
        assert (kept.name, kept.failed_attempts, kept.session_epoch) == ("María", 2, 0)
        ended = store.end_sessions("maria.b", 0)
        assert ended is not None
        assert ended.session_epoch == 1
    finally:
        store.close()
    again = SqlAccountStore(env)
    try:
        assert epoch(again) == 1
    finally:
        again.close()


def test_the_epoch_outlives_the_store(settings: Settings) -> None:
    first = SqlAccountStore(settings.view_env("accounts"))
    try:
        first.put(account())
        first.end_sessions("maria.b")
    finally:
        first.close()
    second = SqlAccountStore(settings.view_env("accounts"))
    try:
        assert epoch(second) == 1
    finally:
        second.close()


def test_a_session_ended_by_one_process_is_refused_by_another(settings: Settings) -> None:
    """Two server processes over one database: a session signed in on the first, signed out
    (or given a new password) on either, is refused at its next check on both."""
    with bootstrap(settings, clock=FixedClock(T0)) as office:
        first = accounts(office, settings, hasher=CHEAP)
        second = accounts(office, settings, hasher=CHEAP)
        try:
            first.add("maria.b", "agent", "María", PASSWORD)
            session = first.sign_in("maria.b", PASSWORD).epoch
            assert session == 0
            assert session is not None
            assert second.principal("maria.b", session).login == "maria.b"
            assert second.sign_out("maria.b", session)
            for door in (first, second):
                with pytest.raises(SignInRefused, match=f"^{re.escape(SESSION_ENDED)}$"):
                    door.principal("maria.b", session)
            again = first.sign_in("maria.b", PASSWORD).epoch
            assert again == 1
            assert again is not None
            assert second.principal("maria.b", again).login == "maria.b"
            second.reset("maria.b", OTHER)
            with pytest.raises(SignInRefused, match=f"^{re.escape(SESSION_ENDED)}$"):
                first.principal("maria.b", again)
        finally:
            second.close()
            first.close()


def test_a_sessions_check_is_still_one_statement_on_postgresql_and_two_on_sqlite(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The epoch is compared with the account's as read: no read of its own."""
    statements = Statements(monkeypatch)  # before the connections are opened
    worker = Worker(settings)
    try:
        door = worker.accounts
        door.add("juan.r", "agent", "Juan", PASSWORD)
        roster(worker.office, tmp_path, ON_IT)
        session = door.sign_in("juan.r", PASSWORD).epoch
        assert session == 0
        door.principal("juan.r", session)  # the first check after the import reads the stream
        expected = 1 if settings.backend == "postgres" else 2
        for _ in range(3):
            assert statements.of(lambda: door.principal("juan.r", session)) == expected
        door.sign_out("juan.r", session)
        with pytest.raises(SignInRefused):
            door.principal("juan.r", session)
    finally:
        worker.close()
