"""SQLite writes: eventsourcing's application recorder inserting a batch in one statement, with
each event's chain hash and the log's checkpoints (`chain`), and the settings of one large
write transaction (a bulk import's batch, a view's batch).

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

import json
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

BULK_ROWS = 1_000
"""A transaction writing at least this many rows gets the bulk settings."""
BULK_SETTINGS: dict[str, int] = {
    "cache_size": -16_000,  # KiB: 16 MB, instead of 2 MB
    "wal_autocheckpoint": 16_000,  # pages: about 64 MB of WAL, instead of about 4 MB
}
LINKS_PER_STATEMENT = 500
"""Keys whose stored links one statement reads (`_stored_links`: verification's and a
writer's reads of the links before its rows)."""


class BulkSQLiteApplicationRecorder(SQLiteApplicationRecorder):
    chain = True
    """Write each event's chain hash and the log's checkpoints (`chain`); off only in the
    benchmark, to measure what they cost."""
    checkpoint_width = CHECKPOINT_EVERY
    """Positions per checkpoint of a store whose chain starts here (kept in its start row)."""

    def __init__(self, datastore: SQLiteDatastore, events_table_name: str = "stored_events"):
        super().__init__(datastore, events_table_name)
        table = self.events_table_name
        self.checkpoints_table_name = checkpoints_table(table)
        self.insert_events_statement = (
            f"INSERT INTO {table} (originator_id, originator_version, topic, state, chain)"
            " VALUES (?,?,?,?,?)"
        )
        self.heads = Heads()
        self.next_checkpoint = 0
        """The position at which this process next looks for a checkpoint to write (0: at the
        next insert); moved once the transaction that looked has committed."""

    # --- the schema: the chain's column and checkpoints, added to an older store ---

    def _create_table(self, c: SQLiteCursor) -> None:
        super()._create_table(c)
        c.execute(
            f"CREATE TABLE IF NOT EXISTS {self.checkpoints_table_name} ("
            "end_position INTEGER PRIMARY KEY, width INTEGER NOT NULL, "
            "row_count INTEGER NOT NULL, hash BLOB NOT NULL)"
        )
        c.execute(f"PRAGMA table_info({self.events_table_name})")
        if any(row[1] == "chain" for row in c.fetchall()):
            return
        # The chain starts now: what the log holds already is its start (never rewritten).
        c.execute(f"ALTER TABLE {self.events_table_name} ADD COLUMN chain BLOB")
        c.execute(f"SELECT coalesce(max(rowid), 0) FROM {self.events_table_name}")
        start = int(c.fetchone()[0])
        width = self.checkpoint_width
        c.execute(
            f"INSERT INTO {self.checkpoints_table_name} VALUES (?, ?, 0, ?)",
            (start, width, start_hash(start, width)),
        )

    # --- writing ---

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        # A large batch gets a larger page cache and checkpoint threshold.
        links: list[bytes] = []
        due: list[int | None] = [None]
        with write_transaction(self.datastore, len(stored_events)) as c:
            ids = self._insert_events(c, stored_events, links=links, due=due, **kwargs)
        # Committed: true from now on.
        remember_batch(self.heads, stored_events, links)
        if due[0] is not None:
            self.next_checkpoint = due[0]
        return ids

    def _insert_events(
        self, c: SQLiteCursor, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        if not stored_events:
            return []
        links: list[bytes] = kwargs.get("links", [])
        links[:] = self._links(c, stored_events) if self.chain else []
        chains: list[bytes | None] = list(links) if links else [None] * len(stored_events)
        params = [
            (
                s.originator_id.hex if isinstance(s.originator_id, UUID) else s.originator_id,
                s.originator_version,
                s.topic,
                s.state,
                chain,
            )
            for s, chain in zip(stored_events, chains, strict=True)
        ]
        if len(params) == 1:
            c.execute(self.insert_events_statement, params[0])
            ids = [int(c.lastrowid)]
        else:
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
                raise PersistenceError(
                    f"a batch of {len(params)} events got non-contiguous row ids"
                )
            ids = list(range(first, last + 1))
        if self.chain and ids[-1] >= self.next_checkpoint:
            due = seal(_SQLiteSealing(self, c), ids[-1])
            told: list[int | None] | None = kwargs.get("due")
            if told is not None:  # moved by `insert_events` once the transaction committed
                told[0] = due if due is not None else ids[-1] + 1
        return ids

    def _links(self, c: SQLiteCursor, stored_events: Sequence[StoredEvent]) -> list[bytes]:
        def stored(keys: list[Key]) -> dict[Key, bytes | None]:
            return _stored_links(c, self.events_table_name, keys)

        def prefix(oid: Any, below: int) -> bytes:
            return prefix_link(self._rows_of(c, oid, below))

        return chain_links(stored_events, self.heads, stored, prefix)

    # --- reading: what `load` reads tells the newest link of the case ---

    def select_events(
        self,
        originator_id: UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        statement = (
            "SELECT originator_version, topic, state, chain FROM "
            f"{self.events_table_name} WHERE originator_id = ?"
        )
        params: list[Any] = [_text_id(originator_id)]
        if gt is not None:
            statement += " AND originator_version > ?"
            params.append(gt)
        if lte is not None:
            statement += " AND originator_version <= ?"
            params.append(lte)
        statement += " ORDER BY originator_version" + (" DESC" if desc else "")
        if limit is not None:
            statement += " LIMIT ?"
            params.append(limit)
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, params)
            rows = c.fetchall()
        oid = self.convert_originator_id(_text_id(originator_id))
        remember_rows(self.heads, [(oid, r[0], r[3]) for r in rows])
        return [StoredEvent(oid, r[0], r[1], r[2]) for r in rows]

    # --- reading for verification (`chain.ChainStorage`) ---

    _COLUMNS = "rowid, originator_id, originator_version, topic, state, chain"

    def _row(self, r: Any) -> ChainRow:
        return ChainRow(r[0], self.convert_originator_id(r[1]), r[2], r[3], r[4], r[5])

    def _rows_of(self, c: SQLiteCursor, oid: Any, below: int | None) -> list[ChainRow]:
        statement = f"SELECT {self._COLUMNS} FROM {self.events_table_name} WHERE originator_id = ?"
        params: list[Any] = [_text_id(oid)]
        if below is not None:
            statement += " AND originator_version < ?"
            params.append(below)
        c.execute(statement + " ORDER BY originator_version", params)
        return [self._row(r) for r in c.fetchall()]

    def chain_rows_of(self, originator_id: Any, below: int | None = None) -> list[ChainRow]:
        with self.datastore.transaction(commit=False) as c:
            return self._rows_of(c, originator_id, below)

    def chain_rows_by_case(self, after: Key | None, limit: int) -> list[ChainRow]:
        statement = f"SELECT {self._COLUMNS} FROM {self.events_table_name}"
        params: list[Any] = []
        if after is not None:
            statement += " WHERE (originator_id, originator_version) > (?, ?)"
            params += [_text_id(after[0]), after[1]]
        statement += " ORDER BY originator_id, originator_version LIMIT ?"
        with self.datastore.transaction(commit=False) as c:
            c.execute(statement, [*params, limit])
            return [self._row(r) for r in c.fetchall()]

    def chain_rows_after(self, position: int, limit: int) -> list[ChainRow]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT {self._COLUMNS} FROM {self.events_table_name}"
                " WHERE rowid > ? ORDER BY rowid LIMIT ?",
                (position, limit),
            )
            return [self._row(r) for r in c.fetchall()]

    def chain_stored(self, keys: list[Key]) -> dict[Key, bytes | None]:
        with self.datastore.transaction(commit=False) as c:
            return _stored_links(c, self.events_table_name, keys)

    def chain_block(self, after: int, through: int) -> list[tuple[int, bytes | None]]:
        with self.datastore.transaction(commit=False) as c:
            return _block(c, self.events_table_name, after, through)

    def chain_checkpoints(self) -> list[Checkpoint]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(
                f"SELECT end_position, width, row_count, hash FROM {self.checkpoints_table_name}"
                " ORDER BY end_position"
            )
            return [Checkpoint(*r) for r in c.fetchall()]

    def chain_last_position(self) -> int:
        return self.max_notification_id() or 0


def _text_id(originator_id: Any) -> str:
    return originator_id.hex if isinstance(originator_id, UUID) else str(originator_id)


def _block(c: SQLiteCursor, table: str, after: int, through: int) -> list[tuple[int, bytes | None]]:
    c.execute(
        f"SELECT rowid, chain FROM {table} WHERE rowid > ? AND rowid <= ? ORDER BY rowid",
        (after, through),
    )
    return [(int(r[0]), r[1]) for r in c.fetchall()]


class _SQLiteSealing:
    """Checkpoints written inside the inserting transaction (`chain.seal`)."""

    def __init__(self, recorder: BulkSQLiteApplicationRecorder, c: SQLiteCursor) -> None:
        self.recorder, self.c = recorder, c

    def last_checkpoint(self) -> Checkpoint | None:
        self.c.execute(
            "SELECT end_position, width, row_count, hash FROM "
            f"{self.recorder.checkpoints_table_name} ORDER BY end_position DESC LIMIT 1"
        )
        row = self.c.fetchone()
        return Checkpoint(*row) if row is not None else None

    def block(self, after: int, through: int) -> list[tuple[int, bytes | None]]:
        return _block(self.c, self.recorder.events_table_name, after, through)

    def add_checkpoint(self, checkpoint: Checkpoint) -> None:
        self.c.execute(
            f"INSERT INTO {self.recorder.checkpoints_table_name} VALUES (?, ?, ?, ?)",
            (*tuple(checkpoint[:3]), checkpoint.hash),
        )


def checkpoints_table(events_table: str) -> str:
    """`stored_events` → `stored_chain_checkpoints` (`cases_events` → `cases_chain_…`)."""
    base = events_table.removesuffix("events")
    return f"{base}chain_checkpoints" if base != events_table else f"{events_table}_checkpoints"


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


@contextmanager
def secure_delete(cursor: Any) -> Iterator[Any]:
    """Within it, what this connection deletes or replaces is overwritten with zeros (data
    being erased leaves no copy in the file's free space); the connection's own setting is
    given back after (a lent connection)."""
    previous = _apply(cursor, {"secure_delete": 1})
    try:
        yield cursor
    finally:
        _apply(cursor, previous)


def _apply(cursor: Any, settings: dict[str, int]) -> dict[str, int]:
    """Set each pragma; returns the values they had."""
    previous: dict[str, int] = {}
    for name, value in settings.items():
        cursor.execute(f"PRAGMA {name}")
        previous[name] = int(cursor.fetchone()[0])
        cursor.execute(f"PRAGMA {name} = {int(value)}")
    return previous


def _stored_links(c: SQLiteCursor, table: str, keys: list[Key]) -> dict[Key, bytes | None]:
    """The stored hashes of these (case, version) keys, in the keys' order; a key without a row
    is left out. One statement per `LINKS_PER_STATEMENT` keys: they go in as one JSON array of
    [id, version] pairs, each looked up by the table's primary key."""
    statement = (
        f"SELECT k.key, t.chain FROM json_each(?) AS k CROSS JOIN {table} AS t"
        " ON t.originator_id = json_extract(k.value, '$[0]')"
        " AND t.originator_version = json_extract(k.value, '$[1]')"
    )
    found: dict[Key, bytes | None] = {}
    for first in range(0, len(keys), LINKS_PER_STATEMENT):
        batch = keys[first : first + LINKS_PER_STATEMENT]
        c.execute(statement, (json.dumps([[_text_id(oid), version] for oid, version in batch]),))
        chains: dict[int, bytes | None] = {int(r[0]): r[1] for r in c.fetchall()}
        for index, key in enumerate(batch):
            if index in chains:
                found[key] = chains[index]
    return found
