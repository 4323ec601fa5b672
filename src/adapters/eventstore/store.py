"""`CaseStore` on an eventsourcing `Application`: SQLite, PostgreSQL or plain memory.

The environment (eventsourcing's own variables, built by `entrypoints.settings`) picks the
persistence module. The domain's events are saved as they are: no aggregate class, no wrapper.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Iterator, Mapping, Sequence
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import IntegrityError, Mapper, Transcoder

from adapters.eventstore.mapper import TOPICS, CaseEventMapper, OrjsonTranscoder
from adapters.eventstore.state_cache import FOLD_AHEAD, CaseStateCache
from application.ports.cases import AnyEvent, ConcurrencyConflict, LoggedEvent
from domain.case.events import CaseEvent
from domain.case.state import CaseState, fold
from domain.team.roster import TeamEvent

_NEWEST = 2**63 - 1
HISTORY_PAGE = 1_000
"""Events read at a time when a history is streamed."""


class CasesApplication(Application[uuid.UUID]):
    """The cases' event store. Its name prefixes its PostgreSQL tables (`cases_events`)."""

    name = "Cases"

    def construct_transcoder(self) -> Transcoder:
        if self.env.get("TRANSCODER_TOPIC"):
            return super().construct_transcoder()
        return OrjsonTranscoder()

    def construct_mapper(self) -> Mapper[uuid.UUID]:
        return CaseEventMapper(
            transcoder=self.construct_transcoder(),
            compressor=self.factory.compressor(),
            cipher=self.factory.cipher(),
        )


class EventSourcedCaseStore:
    """Implements `application.ports.cases.CaseStore`."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.app = CasesApplication(env=dict(env))
        self.states = CaseStateCache(self.app.factory.aggregate_recorder(purpose="snapshots"))
        self.fold_ahead = FOLD_AHEAD

    def close(self) -> None:
        self.app.close()

    def load(self, case_id: uuid.UUID, *, version: int | None = None) -> CaseState | None:
        # A short case (most of them) is folded from its events: one query. A longer one from
        # the newest cached state at or below `version`, folding only the events after it
        # (see `state_cache`).
        if version is not None and version > _NEWEST:
            version = None  # past any case's last version: the case now (SQLite's integers end)
        # The rows are decoded only when they are the whole case: a long case's first rows
        # would be decoded for nothing (its cached state is read instead).
        rows = self.app.recorder.select_events(case_id, lte=version, limit=self.fold_ahead)
        decode = self.app.mapper.to_domain_event
        if len(rows) < self.fold_ahead:
            whole: list[Any] = [decode(row) for row in rows]
            return fold(None, whole)
        cached = self.states.newest(case_id, at_most=version)
        head: list[Any] = [] if cached is not None else [decode(row) for row in rows]
        start = cached if cached is not None else fold(None, head)
        assert start is not None
        events: list[Any] = list(self.app.events.get(case_id, gt=start.version, lte=version))
        state = fold(start, events)
        folded = len(events) + (len(head) if cached is None else 0)
        if state is not None and version is None and folded >= self.fold_ahead:
            self.states.keep(state)
        return state

    def history(self, case_id: uuid.UUID) -> Sequence[CaseEvent]:
        events: list[Any] = list(self.app.events.get(case_id))
        return events

    def events_of(self, case_id: uuid.UUID, *, after: int = 0) -> Iterator[CaseEvent]:
        while True:
            page: list[Any] = list(self.app.events.get(case_id, gt=after, limit=HISTORY_PAGE))
            yield from page
            if len(page) < HISTORY_PAGE:
                return
            after = page[-1].originator_version

    def stream(self, stream_id: uuid.UUID) -> Sequence[TeamEvent]:
        events: list[Any] = list(self.app.events.get(stream_id))
        return events

    def append(self, events: Sequence[AnyEvent]) -> Sequence[LoggedEvent]:
        if not events:
            return []
        # The mapper and recorder directly: Application.save() would only add protocol checks
        # and a notify() hook that nothing here uses, and EventStore.put() a Recording and a
        # Notification per event that nothing here reads.
        stored = list(map(self.app.mapper.to_stored_event, events))
        try:
            positions = self.app.recorder.insert_events(stored)
        except IntegrityError as error:
            raise ConcurrencyConflict(str(error)) from error
        return [LoggedEvent(p, e) for p, e in zip(positions or (), events, strict=True)]

    def read_log(
        self,
        after: int,
        limit: int,
        *,
        through: int | None = None,
        kinds: Collection[type[AnyEvent]] | None = None,
    ) -> Sequence[LoggedEvent]:
        # Unwanted kinds are left out by the database: never read, never decoded.
        topics = sorted(TOPICS[kind] for kind in kinds) if kinds is not None else ()
        if kinds is not None and not topics:
            return []
        notifications = self.app.recorder.select_notifications(
            start=after, limit=limit, stop=through, topics=topics, inclusive_of_start=False
        )
        to_event = self.app.mapper.to_domain_event
        return [LoggedEvent(n.id, to_event(n)) for n in notifications]  # type: ignore[arg-type]

    def last_position(self) -> int:
        return self.app.recorder.max_notification_id() or 0
