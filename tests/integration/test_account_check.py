"""The account check of every request (`Accounts.principal`, `authenticate_token`) as
`entrypoints.bootstrap.accounts` wires it, on SQLite and PostgreSQL: the statements it sends
(one on PostgreSQL, where the account's read brings the log's news; two on SQLite, the
accounts' file and the log's), and that what it keeps between requests never outlives a
change made by another process: a leaving recorded today, a disabled account, a revoked
token are refused at the very next check of a second "worker" over the same database."""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import argon2
import pytest

from adapters.accounts import Argon2Hasher, SqlAccountStore
from adapters.clock import FixedClock
from adapters.intake.team import RosterReader
from application.access.accounts import Accounts, RosterWatch, SignInRefused
from application.ports.accounts import AccessRole, LogNews, LogNewsReader
from application.service import Backoffice
from application.team.imports import import_roster
from entrypoints.bootstrap import accounts, bootstrap
from entrypoints.settings import Settings, load_settings
from tests.conftest import T0

PASSWORD = "correct horse battery"
CHEAP = Argon2Hasher(argon2.profiles.CHEAPEST)
HEADER = "asesor;equipo;cargo;fecha_ingreso;fecha_retiro;motivo_retiro\n"
ON_IT = "juan.r;Premium Hogar;Asesor;10/06/2025;;\nlaura.s;Premium Hogar;Supervisor;01/02/2025;;\n"
LEFT_YESTERDAY = "juan.r;Premium Hogar;Asesor;10/06/2025;14/07/2026;Renuncia voluntaria\n"


class Statements:
    """The SQL statements sent while counting: psycopg's `Cursor.execute` (a round trip
    each), and every statement of the SQLite connections opened meanwhile (traced)."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        import psycopg

        self.sent = 0
        execute = psycopg.Cursor.execute
        connect = sqlite3.connect

        def counted(cursor: Any, *args: Any, **kwargs: Any) -> Any:
            self.sent += 1
            return execute(cursor, *args, **kwargs)

        def traced(*args: Any, **kwargs: Any) -> sqlite3.Connection:
            connection: sqlite3.Connection = connect(*args, **kwargs)
            connection.set_trace_callback(self.seen)
            return connection

        monkeypatch.setattr(psycopg.Cursor, "execute", counted)
        monkeypatch.setattr(sqlite3, "connect", traced)

    def seen(self, _: str) -> None:
        self.sent += 1

    def of(self, check: Callable[[], object]) -> int:
        self.sent = 0
        check()
        return self.sent


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    url = "sqlite"
    if request.param == "postgres":
        url = request.getfixturevalue("postgres_url")
    return load_settings(environ={}, data_dir=str(tmp_path / "data"), database_url=url)


class Worker:
    """An office and its accounts, as one server process holds them."""

    def __init__(self, settings: Settings) -> None:
        self.office: Backoffice = bootstrap(settings, clock=FixedClock(T0))
        self.accounts: Accounts = accounts(self.office, settings, hasher=CHEAP)

    def close(self) -> None:
        self.accounts.close()
        self.office.close()


@pytest.fixture
def workers(settings: Settings) -> Iterator[tuple[Worker, Worker]]:
    first = Worker(settings)
    second = Worker(settings)
    try:
        yield first, second
    finally:
        second.close()
        first.close()


def roster(office: Backoffice, tmp_path: Path, rows: str) -> None:
    path = tmp_path / "roster.csv"
    path.write_text(HEADER + rows, encoding="utf-8")
    report = import_roster(office, RosterReader(path).items())
    assert not report.rejected


def test_a_check_sends_one_statement_on_postgresql_and_two_on_sqlite(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    statements = Statements(monkeypatch)  # before the connections are opened
    worker = Worker(settings)
    try:
        door, office = worker.accounts, worker.office
        door.add("juan.r", "agent", "Juan", PASSWORD)
        door.add("auditora", "auditor", "Auditora", PASSWORD)
        _, secret = door.issue_token("juan.r", "all")
        roster(office, tmp_path, ON_IT)
        door.principal("juan.r")  # the first check after the import reads the stream
        door.authenticate_token(secret)
        expected = 1 if settings.backend == "postgres" else 2
        for _ in range(3):
            assert statements.of(lambda: door.principal("juan.r")) == expected
            assert statements.of(lambda: door.authenticate_token(secret)) == expected
        assert statements.of(lambda: door.principal("auditora")) == 1  # no roster role
    finally:
        worker.close()


def test_the_news_read_with_the_account_is_the_logs_own(settings: Settings, tmp_path: Path) -> None:
    """On PostgreSQL the account's statement reads the log's table (`SharedLog`): its news is
    what the event store says; on SQLite the accounts are in a file of their own."""
    worker = Worker(settings)
    try:
        door, office = worker.accounts, worker.office
        door.add("juan.r", "agent", "Juan", PASSWORD)
        store = door.store
        assert isinstance(store, SqlAccountStore)
        log = office.store
        assert isinstance(log, LogNewsReader)
        roster(office, tmp_path, ON_IT)
        head = office.store.last_position()
        for after in range(head + 2):
            found = office.store.read_log(after, 1, kinds=RosterWatch.KINDS)
            expected = LogNews(after=after, head=head, first=found[0].position if found else None)
            assert log.log_news(after, RosterWatch.KINDS) == expected
            account, news = store.get_with_news("juan.r", after)
            assert account is not None
            assert account.login == "juan.r"
            _, none = store.get_with_news("nobody", after)
            if settings.backend == "postgres":
                assert news == expected
                assert none == expected  # no account: still the news
            else:
                assert (news, none) == (None, None)
        assert log.log_news(0, RosterWatch.KINDS).first is not None  # the placements
    finally:
        worker.close()


def test_a_leaving_recorded_by_another_process_is_refused_at_the_next_check(
    workers: tuple[Worker, Worker], tmp_path: Path
) -> None:
    serving, importing = workers
    door = serving.accounts
    door.add("juan.r", "agent", "Juan", PASSWORD)
    _, secret = door.issue_token("juan.r", "all")
    roster(importing.office, tmp_path, ON_IT)
    for _ in range(2):  # the state kept after the first
        assert door.principal("juan.r").role is AccessRole.AGENT
        assert door.authenticate_token(secret).role is AccessRole.AGENT
    roster(importing.office, tmp_path, LEFT_YESTERDAY)  # by the other process, today
    checks: list[Callable[[], object]] = [
        lambda: door.principal("juan.r"),
        lambda: door.authenticate_token(secret),
    ]
    for check in checks:
        with pytest.raises(SignInRefused, match=r"^not on the team's roster today \(left on"):
            check()


def test_a_disable_or_a_revoke_by_another_process_is_refused_at_the_next_check(
    workers: tuple[Worker, Worker], tmp_path: Path
) -> None:
    serving, administering = workers
    door = serving.accounts
    door.add("juan.r", "agent", "Juan", PASSWORD)
    door.add("crm", "integration", "The CRM", None)
    _, secret = door.issue_token("crm", "intake")
    roster(administering.office, tmp_path, ON_IT)
    assert door.principal("juan.r").login == "juan.r"
    assert door.authenticate_token(secret).login == "crm"
    administering.accounts.disable("juan.r")
    [token] = administering.accounts.tokens()
    administering.accounts.revoke_token(token.token_id)
    with pytest.raises(SignInRefused, match=r"^the account is disabled$"):
        door.principal("juan.r")
    with pytest.raises(SignInRefused, match=r"^the token was revoked$"):
        door.authenticate_token(secret)
    administering.accounts.enable("juan.r")
    assert door.principal("juan.r").role is AccessRole.AGENT


def test_a_token_and_its_account_are_read_together(settings: Settings, tmp_path: Path) -> None:
    worker = Worker(settings)
    try:
        door = worker.accounts
        door.add("crm", "integration", "The CRM", None)
        record, _ = door.issue_token("crm", "intake")
        store = door.store
        after = worker.office.store.last_position()
        for news_after in (None, after):
            token, account, news = store.token_with_account(record.token_id, news_after)
            assert token == record
            assert account == door.account("crm")
            assert store.token_with_account("0" * 12, news_after)[:2] == (None, None)
            if settings.backend == "postgres" and news_after is not None:
                assert news == LogNews(after=after, head=after, first=None)
            else:
                assert news is None
    finally:
        worker.close()
