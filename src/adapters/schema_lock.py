"""One process at a time creates tables, on PostgreSQL and on SQLite.

Concurrent `CREATE TABLE IF NOT EXISTS` from several starting workers can fail in PostgreSQL
("tuple concurrently updated"); on SQLite, two processes creating eventsourcing's tracking
table at once both record its migration row, and the second fails ("Failed to record tracking
for __migration__"; three outboxes starting together). Bootstrapping holds a lock while the
store, the views and the outbox's position make sure their tables exist: a session-level
advisory lock on PostgreSQL, an exclusive `flock` on `.schema.lock` in the data folder on
SQLite (the kernel drops it if the process dies). Memory needs none.
"""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import psycopg

_LOCK_KEY = 0x6261636B6F6666  # "backoff", any fixed 64-bit number shared by every process


def connect(env: Mapping[str, str]) -> psycopg.Connection[tuple[object, ...]]:
    import psycopg  # here: a process on SQLite never loads the driver

    return psycopg.connect(
        host=env["POSTGRES_HOST"],
        port=int(env["POSTGRES_PORT"]),
        user=env["POSTGRES_USER"],
        password=env.get("POSTGRES_PASSWORD") or None,
        dbname=env["POSTGRES_DBNAME"],
        connect_timeout=int(env.get("POSTGRES_CONNECT_TIMEOUT", "5")),
        autocommit=True,
    )


def missing_tables(env: Mapping[str, str], tables: tuple[str, ...]) -> list[str]:
    """Which of `tables` a PostgreSQL database lacks (none elsewhere: SQLite and memory
    create their tables as they open)."""
    if not env.get("PERSISTENCE_MODULE", "").endswith("postgres"):
        return []
    with connect(env) as connection:
        return [
            name
            for name in tables
            if connection.execute("SELECT to_regclass(%s)", (name,)).fetchone() == (None,)
        ]


def without_ddl_when_ready(
    env: Mapping[str, str], tables: tuple[str, ...], missing: list[str] | None = None
) -> dict[str, str]:
    """`env`, with `CREATE_TABLE=n` when every one of `tables` already exists (`missing`:
    what `missing_tables` said, when the caller asked already).

    Creating tables takes locks that a running worker's writes can deadlock with; a process
    that starts against a ready database should take none.
    """
    if not env.get("PERSISTENCE_MODULE", "").endswith("postgres"):
        return dict(env)
    missing = missing_tables(env, tables) if missing is None else missing
    return dict(env) if missing else {**env, "CREATE_TABLE": "n"}


@contextmanager
def schema_lock(env: Mapping[str, str]) -> Iterator[None]:
    module = env.get("PERSISTENCE_MODULE", "")
    database = env.get("SQLITE_DBNAME", ":memory:")
    if module.endswith("sqlite") and ":memory:" not in database and "mode=memory" not in database:
        with _file_lock(Path(database).with_name(".schema.lock")):
            yield
        return
    if not module.endswith("postgres"):
        yield
        return
    with connect(env) as connection:
        connection.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            yield
        finally:
            connection.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))


@contextmanager
def _file_lock(path: Path) -> Iterator[None]:
    try:
        descriptor = os.open(path, os.O_CREAT | os.O_RDWR, 0o600)
    except OSError:  # a folder one may only read (an auditor's copy, a read-only mount)
        try:
            descriptor = os.open(path, os.O_RDONLY)
        except OSError:
            yield  # no lock file and none can be made: nothing here can create tables either
            return
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)  # waits for the process creating tables
        yield
    finally:
        os.close(descriptor)  # closing drops the lock
