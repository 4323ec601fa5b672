"""eventsourcing's PostgreSQL application recorder, sending a batch as binary arrays, with each
event's chain hash and the log's checkpoints (`chain`).

The library sends a batch as one array of a composite type in text form: every event's state
is escaped byte by byte in Python (about 37 µs an event, most of a bulk import's append on
PostgreSQL). Here the same single `INSERT … SELECT … FROM unnest(…) RETURNING
notification_id` takes five arrays (ids, versions, topics, states, chain hashes) in binary
form, which the driver copies as they are. The table, its lock, the NOTIFY and the
notification ids are the library's. Selected with `APPLICATION_RECORDER_TOPIC`.

The chain hashes are computed before the transaction: from what a read of the case just saw
(`load` reads a case before a command decides), otherwise from one query for the batch's
unknown predecessors. Rows never change, so a link read earlier is still the link; a row taken
meanwhile by another writer makes the insert fail as a conflict. A checkpoint is written in the
transaction whose insert reaches its last position, under the table lock every insert takes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any
from uuid import UUID

from eventsourcing.persistence import InterfaceError, OperationalError, StoredEvent
from eventsourcing.postgres import PostgresApplicationRecorder
from eventsourcing.utils import retry
from psycopg.sql import SQL, Composable, Identifier

from adapters.eventstore.chain import (
    CHECKPOINT_EVERY,
    ChainRow,
    Checkpoint,
    Heads,
    Key,
    chain_links,
    prefix_link,
    remember_batch,
    remember_rows,
    seal,
    start_hash,
)
from adapters.eventstore.sqlite_recorder import checkpoints_table


class BulkPostgresApplicationRecorder(PostgresApplicationRecorder):
    chain = True
    """Write each event's chain hash and the log's checkpoints; off only in the benchmark."""
    checkpoint_width = CHECKPOINT_EVERY

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.checkpoints_table_name = checkpoints_table(self.events_table_name)
        self.heads = Heads()
        self.next_checkpoint = 0
        self.insert_arrays_statement = SQL(
            "INSERT INTO {table} (originator_id, originator_version, topic, state, chain)"
            " SELECT * FROM unnest(%b::{id_type}[], %b::bigint[], %b::text[], %b::bytea[],"
            " %b::bytea[]) RETURNING notification_id"
        ).format(
            table=self._name(self.events_table_name),
            id_type=Identifier(self.datastore.originator_id_type),
        )

    def _name(self, table: str) -> Composable:
        return SQL("{}.{}").format(Identifier(self.datastore.schema), Identifier(table))

    # --- the schema: the chain's column and checkpoints, added to an older store ---

    def create_table(self) -> None:
        super().create_table()
        events = self._name(self.events_table_name)
        checkpoints = self._name(self.checkpoints_table_name)
        with self.datastore.transaction(commit=True) as curs:
            curs.execute(
                SQL(
                    "CREATE TABLE IF NOT EXISTS {} (end_position bigint PRIMARY KEY,"
                    " width bigint NOT NULL, row_count bigint NOT NULL, hash bytea NOT NULL)"
                ).format(checkpoints)
            )
            curs.execute(
                "SELECT 1 FROM information_schema.columns WHERE table_schema = %s"
                " AND table_name = %s AND column_name = 'chain'",
                (self.datastore.schema, self.events_table_name),
            )
            if curs.fetchone() is not None:
                return
            # The chain starts now: what the log holds is its start (never rewritten). The
            # ALTER locks the table, so no insert comes between it and the last position.
            curs.execute(SQL("ALTER TABLE {} ADD COLUMN IF NOT EXISTS chain bytea").format(events))
            curs.execute(
                SQL("SELECT coalesce(max(notification_id), 0) AS n FROM {}").format(events)
            )
            row = curs.fetchone()
            assert row is not None
            start, width = int(row["n"]), self.checkpoint_width
            curs.execute(
                SQL("INSERT INTO {} VALUES (%s, %s, 0, %s)").format(checkpoints),
                (start, width, start_hash(start, width)),
            )

    # --- writing ---

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if not stored_events:
            return None
        links: list[bytes] = self._links(stored_events) if self.chain else []
        chains: list[bytes | None] = list(links) if links else [None] * len(stored_events)
        due: int | None = None
        with self.datastore.get_connection() as conn, conn.transaction():
            with conn.pipeline(), conn.cursor() as curs:
                self._lock_table(curs)
                self._notify_channel(curs)
                curs.execute(
                    self.insert_arrays_statement,
                    (
                        [e.originator_id for e in stored_events],
                        [e.originator_version for e in stored_events],
                        [e.topic for e in stored_events],
                        [e.state for e in stored_events],
                        chains,
                    ),
                )
                ids = [int(row["notification_id"]) for row in curs.fetchall()]
            if self.chain and ids and ids[-1] >= self.next_checkpoint:
                with conn.cursor() as curs:
                    found = seal(_PostgresSealing(self, curs), ids[-1])
                due = found if found is not None else ids[-1] + 1
        # Committed: true from now on.
        remember_batch(self.heads, stored_events, links)
        if due is not None:
            self.next_checkpoint = due
        return ids

    def _links(self, stored_events: Sequence[StoredEvent]) -> list[bytes]:
        return chain_links(
            stored_events,
            self.heads,
            self.chain_stored,
            lambda oid, below: prefix_link(self.chain_rows_of(oid, below)),
        )

    # --- reading: what `load` reads tells the newest link of the case ---

    @retry((InterfaceError, OperationalError), max_attempts=10, wait=0.2)
    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        statement = SQL(
            "SELECT originator_id, originator_version, topic, state, chain FROM {}"
            " WHERE originator_id = %s"
        ).format(self._name(self.events_table_name))
        params: list[Any] = [originator_id]
        if gt is not None:
            statement += SQL(" AND originator_version > %s")
            params.append(gt)
        if lte is not None:
            statement += SQL(" AND originator_version <= %s")
            params.append(lte)
        statement += SQL(
            " ORDER BY originator_version DESC" if desc else " ORDER BY originator_version"
        )
        if limit is not None:
            statement += SQL(" LIMIT %s")
            params.append(limit)
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, params, prepare=True)
            rows = curs.fetchall()
        remember_rows(
            self.heads,
            [(r["originator_id"], r["originator_version"], _bytes(r["chain"])) for r in rows],
        )
        return [
            StoredEvent(r["originator_id"], r["originator_version"], r["topic"], bytes(r["state"]))
            for r in rows
        ]

    # --- reading for verification (`chain.ChainStorage`) ---

    _COLUMNS = SQL("notification_id, originator_id, originator_version, topic, state, chain")

    def _rows(self, where: Composable, params: Sequence[Any]) -> list[ChainRow]:
        statement = SQL("SELECT {} FROM {} ").format(
            self._COLUMNS, self._name(self.events_table_name)
        )
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement + where, params)
            return [
                ChainRow(
                    int(r["notification_id"]),
                    r["originator_id"],
                    int(r["originator_version"]),
                    r["topic"],
                    bytes(r["state"]),
                    _bytes(r["chain"]),
                )
                for r in curs.fetchall()
            ]

    def chain_rows_of(self, originator_id: Any, below: int | None = None) -> list[ChainRow]:
        if below is None:
            where = SQL("WHERE originator_id = %s ORDER BY originator_version")
            return self._rows(where, [originator_id])
        where = SQL(
            "WHERE originator_id = %s AND originator_version < %s ORDER BY originator_version"
        )
        return self._rows(where, [originator_id, below])

    def chain_rows_by_case(self, after: Key | None, limit: int) -> list[ChainRow]:
        order = SQL("ORDER BY originator_id, originator_version LIMIT %s")
        if after is None:
            return self._rows(order, [limit])
        where = SQL("WHERE (originator_id, originator_version) > (%s, %s) ")
        return self._rows(where + order, [after[0], after[1], limit])

    def chain_rows_after(self, position: int, limit: int) -> list[ChainRow]:
        where = SQL("WHERE notification_id > %s ORDER BY notification_id LIMIT %s")
        return self._rows(where, [position, limit])

    def chain_stored(self, keys: list[Key]) -> dict[Key, bytes | None]:
        if not keys:
            return {}
        statement = SQL(
            "SELECT t.originator_id, t.originator_version, t.chain FROM {} t"
            " JOIN unnest(%b::{}[], %b::bigint[]) AS k(id, v)"
            " ON t.originator_id = k.id AND t.originator_version = k.v"
        ).format(
            self._name(self.events_table_name),
            Identifier(self.datastore.originator_id_type),
        )
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement, ([k[0] for k in keys], [k[1] for k in keys]))
            return {
                (r["originator_id"], int(r["originator_version"])): _bytes(r["chain"])
                for r in curs.fetchall()
            }

    def chain_block(self, after: int, through: int) -> list[tuple[int, bytes | None]]:
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            return _block(curs, self._name(self.events_table_name), after, through)

    def chain_checkpoints(self) -> list[Checkpoint]:
        statement = SQL(
            "SELECT end_position, width, row_count, hash FROM {} ORDER BY end_position"
        ).format(self._name(self.checkpoints_table_name))
        with self.datastore.get_connection() as conn, conn.cursor() as curs:
            curs.execute(statement)
            return [_checkpoint(r) for r in curs.fetchall()]

    def chain_last_position(self) -> int:
        return self.max_notification_id() or 0


def _bytes(value: Any) -> bytes | None:
    return None if value is None else bytes(value)


def _checkpoint(r: Any) -> Checkpoint:
    return Checkpoint(
        int(r["end_position"]), int(r["width"]), int(r["row_count"]), bytes(r["hash"])
    )


def _block(
    curs: Any, table: Composable, after: int, through: int
) -> list[tuple[int, bytes | None]]:
    curs.execute(
        SQL(
            "SELECT notification_id, chain FROM {} WHERE notification_id > %s"
            " AND notification_id <= %s ORDER BY notification_id"
        ).format(table),
        (after, through),
    )
    return [(int(r["notification_id"]), _bytes(r["chain"])) for r in curs.fetchall()]


class _PostgresSealing:
    """Checkpoints written inside the inserting transaction (`chain.seal`)."""

    def __init__(self, recorder: BulkPostgresApplicationRecorder, curs: Any) -> None:
        self.recorder, self.curs = recorder, curs
        self.table = recorder._name(recorder.checkpoints_table_name)

    def last_checkpoint(self) -> Checkpoint | None:
        self.curs.execute(
            SQL(
                "SELECT end_position, width, row_count, hash FROM {}"
                " ORDER BY end_position DESC LIMIT 1"
            ).format(self.table)
        )
        row = self.curs.fetchone()
        return _checkpoint(row) if row is not None else None

    def block(self, after: int, through: int) -> list[tuple[int, bytes | None]]:
        events = self.recorder._name(self.recorder.events_table_name)
        return _block(self.curs, events, after, through)

    def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        self.curs.execute(
            SQL("INSERT INTO {} VALUES (%s, %s, %s, %s)").format(self.table),
            (checkpoint.end, checkpoint.width, checkpoint.rows, checkpoint.hash),
        )
