"""The accounts' SQL store (`adapters.accounts.SqlAccountStore`) on SQLite and PostgreSQL,
and the accounts `entrypoints.bootstrap.accounts` wires beside an office (its roster)."""

from __future__ import annotations

import stat
import threading
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import argon2
import pytest

from adapters.accounts import Argon2Hasher, MemoryAccountStore, SqlAccountStore
from adapters.clock import FixedClock
from adapters.intake.team import RosterReader
from application.access.accounts import SignInRefused
from application.ports.accounts import AccessRole, AccountStore, TokenRecord
from application.team.imports import import_roster
from entrypoints.bootstrap import accounts, bootstrap
from entrypoints.settings import Settings, load_settings
from tests.conftest import T0, stored_account

PASSWORD = "correct horse battery"
CHEAP = Argon2Hasher(argon2.profiles.CHEAPEST)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    url = "sqlite"
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
    return load_settings(environ={}, data_dir=str(tmp_path / "data"), database_url=url)


@pytest.fixture
def store(settings: Settings) -> Iterator[SqlAccountStore]:
    opened = SqlAccountStore(settings.view_env("accounts"))
    try:
        yield opened
    finally:
        opened.close()


account = stored_account


def token(token_id: str, login: str = "crm", **changes: object) -> TokenRecord:
    values: dict[str, object] = {
        "token_id": token_id,
        "digest": "ab" * 32,
        "login": login,
        "scope": "intake",
        "created_at": T0,
    }
    values.update(changes)
    return TokenRecord(**values)  # type: ignore[arg-type]


def test_accounts_round_trip(store: AccountStore) -> None:
    assert store.get("maria.b") is None
    assert store.all() == []
    maria = account(locked_until=T0 + timedelta(minutes=15, microseconds=7), failed_attempts=2)
    crm = account("crm", role=AccessRole.INTEGRATION, name="The CRM", password_hash=None)
    store.put(maria)
    store.put(crm)
    assert store.get("maria.b") == maria
    assert store.all() == [crm, maria]  # by login
    changed = account(disabled=True, name="María B.", updated_at=T0 + timedelta(days=1))
    store.put(changed)
    assert store.get("maria.b") == changed
    assert len(store.all()) == 2


def test_attempts_are_counted_and_cleared(store: AccountStore) -> None:
    assert store.count_attempt("nobody", T0) is None
    store.put(account())
    first = store.count_attempt("maria.b", T0)
    assert first is not None
    assert (first.failed_attempts, first.locked_until) == (1, None)
    second = store.count_attempt("maria.b", T0)
    assert second is not None
    assert second.failed_attempts == 2
    until = T0 + timedelta(minutes=15)
    store.lock_out("maria.b", until)
    still = store.count_attempt("maria.b", until - timedelta(microseconds=1))
    assert still is not None
    assert (still.failed_attempts, still.locked_until) == (3, until)
    ended = store.count_attempt("maria.b", until)  # the lock-out is over: counting restarts
    assert ended is not None
    assert (ended.failed_attempts, ended.locked_until) == (1, None)
    store.count_attempt("maria.b", until)
    store.lock_out("maria.b", until + timedelta(minutes=15))
    store.clear_attempts("maria.b")  # a success
    cleared = store.get("maria.b")
    assert cleared is not None
    assert (cleared.failed_attempts, cleared.locked_until) == (0, None)


def test_attempts_counted_at_once_are_all_counted(store: AccountStore) -> None:
    store.put(account())
    errors: list[BaseException] = []

    def attempts() -> None:
        try:
            for _ in range(10):
                store.count_attempt("maria.b", T0)
        except BaseException as error:  # pragma: no cover - reported below
            errors.append(error)

    threads = [threading.Thread(target=attempts) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    counted = store.get("maria.b")
    assert counted is not None
    assert counted.failed_attempts == 40


def test_tokens_round_trip_and_revoke(store: AccountStore) -> None:
    store.put(account("crm", role=AccessRole.INTEGRATION, password_hash=None))
    assert store.token("0123456789ab") is None
    older = token("0123456789ab")
    newer = token("ba9876543210", scope="read", created_at=T0 + timedelta(seconds=1))
    store.add_token(newer)
    store.add_token(older)
    assert store.token("0123456789ab") == older
    assert store.tokens() == [older, newer]  # oldest first
    at = T0 + timedelta(hours=2)
    assert store.revoke_token("0123456789ab", at) is True
    assert store.revoke_token("0123456789ab", at + timedelta(hours=1)) is False  # already
    assert store.revoke_token("nope", at) is False
    revoked = store.token("0123456789ab")
    assert revoked is not None
    assert revoked.revoked_at == at
    assert store.token("ba9876543210") == newer


def test_accounts_and_tokens_outlive_the_store(settings: Settings) -> None:
    first = SqlAccountStore(settings.view_env("accounts"))
    try:
        first.put(account("crm", role=AccessRole.INTEGRATION, password_hash=None))
        first.add_token(token("0123456789ab"))
        first.revoke_token("0123456789ab", T0)
    finally:
        first.close()
    again = SqlAccountStore(settings.view_env("accounts"))
    try:
        kept = again.get("crm")
        assert kept is not None
        assert kept.password_hash is None
        assert [t.revoked_at for t in again.tokens()] == [T0]
    finally:
        again.close()


def test_on_sqlite_the_accounts_file_is_for_its_owner_only(tmp_path: Path) -> None:
    settings = load_settings(environ={}, data_dir=str(tmp_path / "data"), database_url="sqlite")
    store = SqlAccountStore(settings.view_env("accounts"))
    store.close()
    path = tmp_path / "data" / "accounts.sqlite"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700


ROSTER = (
    "asesor;equipo;cargo;fecha_ingreso;fecha_retiro;motivo_retiro\n"
    "laura.s;Premium Hogar;Supervisor;01/02/2025;;\n"
    "juan.r;Premium Hogar;Asesor;10/06/2025;13/07/2026;Renuncia voluntaria\n"
)


def test_bootstrap_wires_the_accounts_to_the_offices_roster(
    settings: Settings, tmp_path: Path
) -> None:
    clock = FixedClock(T0)
    with bootstrap(settings, clock=clock) as office:
        door = accounts(office, settings, hasher=CHEAP)
        try:
            assert isinstance(door.store, SqlAccountStore)
            door.add("laura.s", "agent", "Laura", PASSWORD)
            door.add("juan.r", "agent", "Juan", PASSWORD)
            assert door.sign_in("juan.r", PASSWORD).role is AccessRole.AGENT  # no roster yet
            path = tmp_path / "roster.csv"
            path.write_text(ROSTER, encoding="utf-8")
            assert import_roster(office, RosterReader(path).items()).created == 2
            assert door.sign_in("laura.s", PASSWORD).role is AccessRole.SUPERVISOR
            with pytest.raises(SignInRefused, match=r"^not on the team's roster today \(left on"):
                door.sign_in("juan.r", PASSWORD)
        finally:
            door.close()
        again = accounts(office, settings, hasher=CHEAP)  # a second process, say
        try:
            assert [a.login for a in again.list()] == ["juan.r", "laura.s"]
        finally:
            again.close()


def test_the_memory_backend_keeps_accounts_in_memory(tmp_path: Path) -> None:
    settings = load_settings(environ={}, data_dir=str(tmp_path / "data"), database_url="memory")
    with bootstrap(settings, clock=FixedClock(T0)) as office:
        door = accounts(office, settings, hasher=CHEAP)
        assert isinstance(door.store, MemoryAccountStore)
        door.add("maria.b", "agent", "María", PASSWORD)
        assert door.sign_in("maria.b", PASSWORD).login == "maria.b"
    assert not (tmp_path / "data").exists()
