"""eventsourcing's PostgreSQL application recorder, sending a batch as four binary arrays.

The library sends a batch as one array of a composite type in text form: every event's state
is escaped byte by byte in Python (about 37 µs an event, most of a bulk import's append on
PostgreSQL). Here the same single `INSERT … SELECT … FROM unnest(…) RETURNING
notification_id` takes four arrays (ids, versions, topics, states) in binary form, which the
driver copies as they are. The table, its lock, the NOTIFY and the notification ids are the
library's. Selected with `APPLICATION_RECORDER_TOPIC`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eventsourcing.persistence import StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from psycopg.sql import SQL, Identifier


class BulkPostgresApplicationRecorder(PostgresApplicationRecorder):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.insert_arrays_statement = SQL(
            "INSERT INTO {schema}.{table} (originator_id, originator_version, topic, state)"
            " SELECT * FROM unnest(%b::{id_type}[], %b::bigint[], %b::text[], %b::bytea[])"
            " RETURNING notification_id"
        ).format(
            schema=Identifier(self.datastore.schema),
            table=Identifier(self.events_table_name),
            id_type=Identifier(self.datastore.originator_id_type),
        )

    def _insert_stored_events(
        self, curs: Any, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> None:
        self._lock_table(curs)
        self._notify_channel(curs)
        curs.execute(
            self.insert_arrays_statement,
            (
                [e.originator_id for e in stored_events],
                [e.originator_version for e in stored_events],
                [e.topic for e in stored_events],
                [e.state for e in stored_events],
            ),
        )
