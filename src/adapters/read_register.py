"""The register of reads of personal data (`application.ports.reads.ReadRegister`) in SQL, and
in memory for tests and the `memory` backend.

`SqlReadRegister` keeps one table, `personal_reads` (when, who, which case, through what), on
SQLite in a file of its own (`personal_reads.sqlite` in the data folder, created for its owner
only: which case a person opened is itself worth protecting), on PostgreSQL in the store's
database. It is apart from the log on purpose: a read changes nothing of a case, and the
register grows with every page opened. Connections come from eventsourcing's datastore for the
environment (`Settings.view_env`), as the accounts' do; the table and its indexes are created
when the register opens (under the schema lock, by `entrypoints.bootstrap.read_register`)
unless the environment says `CREATE_TABLE=n`.

Recording is one `INSERT` statement for however many reads a request makes (a search lists
many cases), without a transaction around it (the connections are in autocommit mode: one
statement is atomic by itself): on PostgreSQL the rows go as four arrays (`unnest`), so the
statement is the same whatever their number; on SQLite as one multi-row `VALUES`. Times are
fixed-width UTC text, as in the views, so text order is time order on both backends.

A read's `id` is the table's row id, given in recording order. The register lists by `at`,
then `id`; a page goes on after its last read with `after=<id>`: that read's moment is looked
up by its key, then the rows after (`at`, `id`) in that order are read, so many reads of one
moment (a search's, a batch of a stream's, the demo's standing clock) are stepped through
page by page, none twice nor skipped.

A read is recorded before its answer is sent, so its cost is the request's: a commit that
waits for the disk (fsync) took 3 to 4 ms here, many times the read itself. The register's
commits do not wait for it: on PostgreSQL `synchronous_commit` is off for the insert's own
transaction, on SQLite its file is written with `synchronous = NORMAL` (WAL mode). Either way
a recorded read is atomic and survives a crash of the process; what a crash of the machine
or the database server (a power loss) can lose is the last moment's reads (on PostgreSQL
at most three times `wal_writer_delay`, 0.6 s by default; on SQLite those since the file's
last checkpoint), never the consistency of the table nor anything of the log.
"""

from __future__ import annotations

import itertools
import json
import os
import sqlite3
import threading
import uuid
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

import attrs
from eventsourcing.persistence import InfrastructureFactory, OperationalError, PersistenceError
from eventsourcing.utils import Environment, strtobool

from adapters.sql_view import dt_required, ts
from application.ports.reads import MAX_READ_ID, PersonalRead, UnknownRead

READ_TABLES = ("personal_reads",)
"""The register's table on PostgreSQL (`schema_lock.without_ddl_when_ready` checks for it)."""

_INDEXES = (
    "CREATE INDEX IF NOT EXISTS personal_reads_case ON personal_reads (case_id, at)",
    "CREATE INDEX IF NOT EXISTS personal_reads_reader ON personal_reads (reader, at)",
    "CREATE INDEX IF NOT EXISTS personal_reads_at ON personal_reads (at)",
)
_CREATE_SQLITE = (
    "CREATE TABLE IF NOT EXISTS personal_reads ("
    " id INTEGER PRIMARY KEY, at TEXT NOT NULL, reader TEXT NOT NULL,"
    " case_id TEXT NOT NULL, through TEXT NOT NULL)",
    *_INDEXES,
)
_CREATE_POSTGRES = (
    "CREATE TABLE IF NOT EXISTS personal_reads ("
    " id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at TEXT NOT NULL,"
    " reader TEXT NOT NULL, case_id UUID NOT NULL, through TEXT NOT NULL)",
    *_INDEXES,
)
_INSERT_POSTGRES = (
    "INSERT INTO personal_reads (at, reader, case_id, through)"
    " SELECT r.* FROM unnest(%s::text[], %s::text[], %s::uuid[], %s::text[]) AS r,"
    " (SELECT set_config('synchronous_commit', 'off', true)) AS no_wait"
)
"""The rows as four arrays; the statement's own transaction commits without waiting for the
WAL's flush to disk (`synchronous_commit` off for it alone, see the module's docstring)."""
_NO_WAIT_SQLITE = "PRAGMA synchronous = NORMAL"
"""On the register's own SQLite connections (its own file): in WAL mode, a commit is not
synced to disk until the next checkpoint (see the module's docstring)."""
SQLITE_ROWS_PER_INSERT = 1_000
"""Rows per `INSERT` on SQLite (four parameters each, well within its 32,766): a request
records at most a page of cases (1,000), so one statement."""


def _owner_only(database: Path) -> None:
    """A new SQLite file (and its folder) for the owner only; an existing one is left as it
    is (SQLite gives its -wal and -shm files the database file's permissions)."""
    database.parent.mkdir(parents=True, mode=0o700, exist_ok=True)
    if not database.exists():
        os.close(os.open(database, os.O_CREAT | os.O_WRONLY, 0o600))


def _read(row: Any) -> PersonalRead:
    case_id = row["case_id"]
    return PersonalRead(
        at=dt_required(row["at"]),
        reader=row["reader"],
        case_id=case_id if isinstance(case_id, uuid.UUID) else uuid.UUID(case_id),
        through=row["through"],
        id=int(row["id"]),
    )


class SqlReadRegister:
    """The register on SQLite or PostgreSQL, by the environment's `PERSISTENCE_MODULE`
    (eventsourcing's settings: `SQLITE_DBNAME`, `POSTGRES_*`)."""

    def __init__(self, env: Mapping[str, str]) -> None:
        module = env.get("PERSISTENCE_MODULE", "")
        if not module.endswith(("sqlite", "postgres")):
            raise ValueError(f"reads are registered on SQLite or PostgreSQL, not {module!r}")
        self.postgres = module.endswith("postgres")
        database = env.get("SQLITE_DBNAME", "")
        if not self.postgres and database and "memory" not in database:
            _owner_only(Path(database))
        self.factory = InfrastructureFactory.construct(Environment("PersonalReads", dict(env)))
        self.datastore: Any = getattr(self.factory, "datastore")  # noqa: B009 - not typed
        if strtobool(env.get("CREATE_TABLE") or "y"):
            self.create_table()

    def create_table(self) -> None:
        with self.datastore.transaction(commit=True) as c:
            for statement in _CREATE_POSTGRES if self.postgres else _CREATE_SQLITE:
                c.execute(statement)

    def _execute(self, statement: str, params: Sequence[Any], *, write: bool) -> list[Any]:
        """One statement, without an explicit transaction (autocommit: atomic by itself; on
        PostgreSQL one round trip instead of three); its rows."""
        if self.postgres:
            with self.datastore.get_connection() as conn, conn.cursor() as c:
                c.execute(statement, params)
                return list(c.fetchall()) if c.description is not None else []
        try:
            with self.datastore.get_connection(commit=write) as conn, conn.cursor() as c:
                if write:
                    c.execute(_NO_WAIT_SQLITE)
                c.execute(statement, params)
                return list(c.fetchall())
        except sqlite3.OperationalError as error:  # as eventsourcing's transactions say it
            raise OperationalError(str(error)) from error
        except sqlite3.Error as error:
            raise PersistenceError(str(error)) from error

    def record(self, reads: Sequence[PersonalRead]) -> None:
        if not reads:
            return
        if self.postgres:
            columns: tuple[list[Any], ...] = ([], [], [], [])
            for read in reads:
                columns[0].append(ts(read.at))
                columns[1].append(read.reader)
                columns[2].append(read.case_id)
                columns[3].append(read.through)
            self._execute(_INSERT_POSTGRES, columns, write=True)
            return
        for start in range(0, len(reads), SQLITE_ROWS_PER_INSERT):
            chunk = reads[start : start + SQLITE_ROWS_PER_INSERT]
            values = ", ".join(["(?, ?, ?, ?)"] * len(chunk))
            params: list[str] = []
            for read in chunk:
                params += (ts(read.at), read.reader, str(read.case_id), read.through)
            statement = f"INSERT INTO personal_reads (at, reader, case_id, through) VALUES {values}"
            self._execute(statement, params, write=True)

    def reads(
        self,
        *,
        case_ids: Collection[uuid.UUID] | None = None,
        reader: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        after: int | None = None,
        limit: int | None = None,
    ) -> Sequence[PersonalRead]:
        mark = "%s" if self.postgres else "?"
        where: list[str] = []
        params: list[Any] = []
        if case_ids is not None:
            if not case_ids:
                return []
            if self.postgres:
                where.append("case_id = ANY(%s::uuid[])")
                params.append(list(case_ids))
            else:  # one parameter however many cases (a data subject's, for their export)
                where.append("case_id IN (SELECT value FROM json_each(?))")
                params.append(json.dumps([str(case_id) for case_id in case_ids]))
        if reader is not None:
            where.append(f"reader = {mark}")
            params.append(reader)
        if since is not None:
            where.append(f"at >= {mark}")
            params.append(ts(since))
        if until is not None:
            where.append(f"at < {mark}")
            params.append(ts(until))
        if after is not None:
            moment = self._moment_of(after)
            where.append(f"(at > {mark} OR (at = {mark} AND id > {mark}))")
            params += (moment, moment, after)
        statement = "SELECT id, at, reader, case_id, through FROM personal_reads"
        if where:
            statement += " WHERE " + " AND ".join(where)
        statement += " ORDER BY at, id"
        if limit is not None:
            statement += f" LIMIT {mark}"
            params.append(min(max(0, limit), MAX_READ_ID))  # more rows than there can be: all
        return [_read(row) for row in self._execute(statement, params, write=False)]

    def _moment_of(self, read_id: int) -> str:
        """The stored `at` of the read with this id (by the primary key); `UnknownRead`."""
        if not 0 < read_id <= MAX_READ_ID:  # beyond the column's range: no such row
            raise UnknownRead(read_id)
        mark = "%s" if self.postgres else "?"
        statement = f"SELECT at FROM personal_reads WHERE id = {mark}"
        rows = self._execute(statement, [read_id], write=False)
        if not rows:
            raise UnknownRead(read_id)
        moment: str = rows[0]["at"]
        return moment

    def close(self) -> None:
        self.factory.close()


def _order(read: PersonalRead) -> tuple[datetime, int]:
    """A read's place in the register's order: its moment, then its id (every read kept in
    memory has one)."""
    return read.at, read.id or 0


class MemoryReadRegister:
    """The register in a list: for tests and the `memory` backend (it dies with the process)."""

    def __init__(self) -> None:
        self._reads: list[PersonalRead] = []
        self._ids = itertools.count(1)
        self._lock = threading.Lock()

    def record(self, reads: Sequence[PersonalRead]) -> None:
        with self._lock:
            self._reads.extend(attrs.evolve(read, id=next(self._ids)) for read in reads)

    def reads(
        self,
        *,
        case_ids: Collection[uuid.UUID] | None = None,
        reader: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        after: int | None = None,
        limit: int | None = None,
    ) -> Sequence[PersonalRead]:
        wanted = None if case_ids is None else set(case_ids)
        with self._lock:
            kept = list(self._reads)
        cursor = None
        if after is not None:
            cursor = next((_order(read) for read in kept if read.id == after), None)
            if cursor is None:
                raise UnknownRead(after)
        found = [
            read
            for read in kept
            if (wanted is None or read.case_id in wanted)
            and (reader is None or read.reader == reader)
            and (since is None or read.at >= since)
            and (until is None or read.at < until)
            and (cursor is None or _order(read) > cursor)
        ]
        found.sort(key=_order)
        return found if limit is None else found[: max(0, limit)]

    def close(self) -> None:
        pass
