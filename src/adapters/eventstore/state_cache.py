"""Folded case states kept beside the log, so that a long case loads fast.

A case of thousands of events (notes, checks, follow-ups over months) would be folded from its
first event on every read. The store keeps, per case, the state folded up to some version in a
table of its own (eventsourcing's snapshot recorder: `stored_snapshots` on SQLite,
`cases_snapshots` on PostgreSQL) and folds only the events after it.

The cached states are a derived cache, never a source of truth:
- each is stamped with the *shape* of the code that folded it (a hash of the domain modules
  that define the state, the events and their values); a state folded by other code is
  ignored and the case is folded from its first event, so an upgrade needs no migration;
- a state is written when a load folded at least `FOLD_AHEAD` events past the newest one,
  after the fold, outside any command's transaction; failing to write it changes nothing;
- replay to a moment or to an older version reads the events as before (or the newest cached
  state at or below that version);
- a cached state holds the case's personal data as it was folded: erasing a data subject
  (`application.privacy`) drops every cached state of their cases (`drop`).
"""

from __future__ import annotations

import functools
import hashlib
import logging
import uuid
from collections.abc import Collection
from pathlib import Path
from typing import Any

import orjson
from eventsourcing.persistence import AggregateRecorder, PersistenceError, StoredEvent

from adapters.eventstore.mapper import make_converter
from domain import values as domain_values
from domain.case import events as domain_events
from domain.case import state as domain_state
from domain.case.state import CaseState

FOLD_AHEAD = 200
"""Events folded past the newest cached state before a new one is written."""

TOPIC = "case.state"

log = logging.getLogger(__name__)

_converter = make_converter()


@functools.cache
def shape() -> str:
    """A fingerprint of the code that folds a case: its state, events and values modules."""
    digest = hashlib.sha256()
    for module in (domain_state, domain_events, domain_values):
        digest.update(Path(str(module.__file__)).read_bytes())
    return digest.hexdigest()[:16]


def encode(state: CaseState) -> StoredEvent:
    document = {"shape": shape(), "state": _converter.unstructure(state)}
    return StoredEvent(
        originator_id=state.case_id,
        originator_version=state.version,
        topic=TOPIC,
        state=orjson.dumps(document),
    )


def decode(stored: StoredEvent) -> CaseState | None:
    """The state in `stored`, or None when other code folded it, it cannot be read, or it is
    not the state of its row's case and version (a row copied onto another case's)."""
    try:
        document: Any = orjson.loads(stored.state)
        if stored.topic != TOPIC or document.get("shape") != shape():
            return None
        state = _converter.structure(document["state"], CaseState)
        row_id = stored.originator_id
        if not isinstance(row_id, uuid.UUID):
            row_id = uuid.UUID(str(row_id))
        if state.case_id != row_id or state.version != stored.originator_version:
            log.warning("a cached case state is not its row's; folding the case's events")
            return None
        return state
    except Exception:  # a cache: whatever is wrong with it, the log is folded instead
        log.warning("a cached case state could not be read; folding the case's events")
        return None


class CaseStateCache:
    """Reads and writes cached states through an eventsourcing aggregate recorder."""

    def __init__(self, recorder: AggregateRecorder) -> None:
        self.recorder = recorder

    def newest(self, case_id: uuid.UUID, *, at_most: int | None = None) -> CaseState | None:
        """The newest usable cached state of the case (at or below version `at_most`)."""
        try:
            found = self.recorder.select_events(case_id, lte=at_most, desc=True, limit=1)
        except PersistenceError:
            return None
        return decode(found[0]) if found else None

    def keep(self, state: CaseState) -> None:
        """Remember `state`; another process having written the same version is fine."""
        try:
            self.recorder.insert_events([encode(state)])
        except (PersistenceError, OSError):  # already kept, a busy database, no source to hash
            log.debug("a case state was not cached", exc_info=True)

    def drop(self, case_ids: Collection[uuid.UUID]) -> int:
        """Delete every cached state of these cases (they hold personal data that is being
        erased); returns how many were deleted. The next load folds the events again."""
        recorder: Any = self.recorder
        while not hasattr(recorder, "datastore") and hasattr(recorder, "recorder"):
            recorder = recorder.recorder  # a wrapper (the at-rest cipher's): its rows
        ids = sorted(set(case_ids))
        if not ids:
            return 0
        index = getattr(recorder, "_stored_events_index", None)
        if index is not None:  # eventsourcing's in-memory recorder
            return sum(len(index.pop(str(case), {})) for case in ids)
        datastore = recorder.datastore
        table = recorder.events_table_name
        if hasattr(datastore, "schema"):  # PostgreSQL
            from psycopg.sql import SQL, Identifier

            statement: Any = SQL("DELETE FROM {t} WHERE originator_id = ANY(%s)").format(
                t=Identifier(datastore.schema, table)
            )
            with datastore.transaction(commit=True) as c:
                c.execute(statement, (ids,))
                return int(c.rowcount)
        from adapters.eventstore.sqlite_recorder import secure_delete

        deleted = 0
        # Zero what the deletes free: the states hold the personal data being erased.
        with datastore.transaction(commit=True) as c, secure_delete(c):
            for start in range(0, len(ids), 500):
                # Stored as the library's SQLite recorder writes ids: hex, no dashes.
                page = [case.hex for case in ids[start : start + 500]]
                marks = ", ".join("?" * len(page))
                where = f"FROM {table} WHERE originator_id IN ({marks})"
                c.execute(f"SELECT count(*) {where}", page)  # the library's cursor: no rowcount
                deleted += int(c.fetchone()[0])
                c.execute(f"DELETE {where}", page)
        return deleted
