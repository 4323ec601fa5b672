"""One process at a time creates tables on a PostgreSQL database.

Concurrent `CREATE TABLE IF NOT EXISTS` from several starting workers can fail in PostgreSQL
("tuple concurrently updated"). Bootstrapping holds a session-level advisory lock while the
store and the views make sure their tables exist; SQLite and memory need no lock.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager

import psycopg

_LOCK_KEY = 0x6261636B6F6666  # "backoff", any fixed 64-bit number shared by every process


def connect(env: Mapping[str, str]) -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(
        host=env["POSTGRES_HOST"],
        port=int(env["POSTGRES_PORT"]),
        user=env["POSTGRES_USER"],
        password=env.get("POSTGRES_PASSWORD") or None,
        dbname=env["POSTGRES_DBNAME"],
        connect_timeout=int(env.get("POSTGRES_CONNECT_TIMEOUT", "5")),
        autocommit=True,
    )


def without_ddl_when_ready(env: Mapping[str, str], tables: tuple[str, ...]) -> dict[str, str]:
    """`env`, with `CREATE_TABLE=n` when every one of `tables` already exists.

    Creating tables takes locks that a running worker's writes can deadlock with; a process
    that starts against a ready database should take none.
    """
    if not env.get("PERSISTENCE_MODULE", "").endswith("postgres"):
        return dict(env)
    with connect(env) as connection:
        missing = [
            name
            for name in tables
            if connection.execute("SELECT to_regclass(%s)", (name,)).fetchone() == (None,)
        ]
    return dict(env) if missing else {**env, "CREATE_TABLE": "n"}


@contextmanager
def schema_lock(env: Mapping[str, str]) -> Iterator[None]:
    if not env.get("PERSISTENCE_MODULE", "").endswith("postgres"):
        yield
        return
    with connect(env) as connection:
        connection.execute("SELECT pg_advisory_lock(%s)", (_LOCK_KEY,))
        try:
            yield
        finally:
            connection.execute("SELECT pg_advisory_unlock(%s)", (_LOCK_KEY,))
