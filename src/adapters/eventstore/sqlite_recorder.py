"""eventsourcing's SQLite application recorder, inserting a batch in one statement.

The library inserts events one `execute` at a time to learn each notification id (the row
id). Within one write transaction nobody else can insert, and SQLite gives each new row the
largest row id plus one, so a batch's ids are the contiguous run ending at
`last_insert_rowid()`. That is checked on the batch's first row: if it ever did not hold, the
insert fails and its transaction rolls back. A large batch runs with `adapters.sqlite_bulk`'s
settings. Selected with `APPLICATION_RECORDER_TOPIC`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import PersistenceError, StoredEvent
from eventsourcing.sqlite import SQLiteApplicationRecorder, SQLiteCursor

from adapters.sqlite_bulk import write_transaction


class BulkSQLiteApplicationRecorder(SQLiteApplicationRecorder):
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        # A large batch gets a larger page cache and checkpoint threshold (`sqlite_bulk`).
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
