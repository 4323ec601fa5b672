"""SQLite settings for one large write transaction (a bulk import's batch), then back.

With SQLite's defaults (a 2 MB page cache, a checkpoint whenever the WAL passes 1,000 pages) a
batch of thousands of rows keyed by random case ids evicts and re-reads the same index pages
over and over, and every commit copies the whole WAL into the database. For a large batch the
connection gets a bigger cache and a larger checkpoint threshold; when the transaction is
over, whatever the connection had before is put back (the cache shrinks, memory is freed).
Durability does not change: `synchronous` is left alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from eventsourcing.sqlite import SQLiteCursor, SQLiteDatastore, SQLiteTransaction

BULK_ROWS = 1_000
"""A transaction writing at least this many rows gets the bulk settings."""
BULK_SETTINGS: dict[str, int] = {
    "cache_size": -16_000,  # KiB: 16 MB, instead of 2 MB
    "wal_autocheckpoint": 16_000,  # pages: about 64 MB of WAL, instead of about 4 MB
}


@contextmanager
def write_transaction(
    datastore: SQLiteDatastore, rows: int, *, immediate: bool = False
) -> Iterator[SQLiteCursor]:
    """`datastore.transaction(commit=True)`, with the bulk settings when `rows` is large.

    `immediate` takes the write lock when the transaction begins (`BEGIN IMMEDIATE`): a
    transaction that reads before it writes (a view checking its position) then waits for
    another writer instead of failing with "database is locked" when it tries to write.
    """
    with datastore.get_connection(commit=True) as connection:
        previous = _apply(connection.cursor(), BULK_SETTINGS) if rows >= BULK_ROWS else None
        try:
            begin = _Immediate if immediate else SQLiteTransaction
            with begin(connection, commit=True) as cursor, cursor:
                yield cursor
        finally:
            if previous is not None:
                _apply(connection.cursor(), previous)


class _Immediate(SQLiteTransaction):
    def __enter__(self) -> SQLiteCursor:
        cursor = self.connection.cursor()
        cursor.execute("BEGIN IMMEDIATE")
        return cursor


def _apply(cursor: Any, settings: dict[str, int]) -> dict[str, int]:
    """Set each pragma; returns the values they had."""
    previous: dict[str, int] = {}
    for name, value in settings.items():
        cursor.execute(f"PRAGMA {name}")
        previous[name] = int(cursor.fetchone()[0])
        cursor.execute(f"PRAGMA {name} = {int(value)}")
    return previous
