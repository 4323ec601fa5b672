"""SQLite writes: eventsourcing's application recorder inserting a batch in one statement, and
the settings of one large write transaction (a bulk import's batch, a view's batch).

The library inserts events one `execute` at a time to learn each notification id (the row
id). Within one write transaction nobody else can insert, and SQLite gives each new row the
largest row id plus one, so a batch's ids are the contiguous run ending at
`last_insert_rowid()`. That is checked on the batch's first row: if it ever did not hold, the
insert fails and its transaction rolls back. Selected with `APPLICATION_RECORDER_TOPIC`.

With SQLite's defaults (a 2 MB page cache, a checkpoint whenever the WAL passes 1,000 pages) a
batch of thousands of rows keyed by random case ids evicts and re-reads the same index pages
over and over, and every commit copies the whole WAL into the database. For a large batch the
connection gets a bigger cache and a larger checkpoint threshold (`write_transaction`, also
used by the SQL views, `adapters.sql_view`); when the transaction is over, whatever the
connection had before is put back (the cache shrinks, memory is freed). Durability does not
change: `synchronous` is left alone.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any
from uuid import UUID

from eventsourcing.persistence import PersistenceError, StoredEvent
from eventsourcing.sqlite import (
    SQLiteApplicationRecorder,
    SQLiteCursor,
    SQLiteDatastore,
    SQLiteTransaction,
)

BULK_ROWS = 1_000
"""A transaction writing at least this many rows gets the bulk settings."""
BULK_SETTINGS: dict[str, int] = {
    "cache_size": -16_000,  # KiB: 16 MB, instead of 2 MB
    "wal_autocheckpoint": 16_000,  # pages: about 64 MB of WAL, instead of about 4 MB
}


class BulkSQLiteApplicationRecorder(SQLiteApplicationRecorder):
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        # A large batch gets a larger page cache and checkpoint threshold.
        with write_transaction(self.datastore, len(stored_events)) as c:
            return self._insert_events(c, stored_events, **kwargs)

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if len(stored_events) < 2:
            return super()._insert_events(c, stored_events, **kwargs)
        params = [
            (
                s.originator_id.hex if isinstance(s.originator_id, UUID) else s.originator_id,
                s.originator_version,
                s.topic,
                s.state,
            )
            for s in stored_events
        ]
        c.executemany(self.insert_events_statement, params)
        c.execute("SELECT last_insert_rowid()")
        last = int(c.fetchone()[0])
        first = last - len(params) + 1
        c.execute(
            f"SELECT rowid FROM {self.events_table_name}"
            " WHERE originator_id = ? AND originator_version = ?",
            params[0][:2],
        )
        if int(c.fetchone()[0]) != first:
            raise PersistenceError(f"a batch of {len(params)} events got non-contiguous row ids")
        return list(range(first, last + 1))


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
