"""The case store and the case index in plain Python: the fakes fast tests and embedders use.

`InMemoryCaseStore` implements `application.ports.cases.CaseStore` and `InMemoryCaseIndex`
`application.ports.cases.CaseIndex` with dictionaries and lists, no eventsourcing, no SQL. The
contract suites (`tests/integration/test_port_contracts.py`) run the same checks on them and
on the SQLite and PostgreSQL implementations, so a test written against a fake holds against
the real thing. Nothing here is shared between processes or survives one.
"""

from __future__ import annotations

import threading
import uuid
from collections import Counter
from collections.abc import Collection, Iterator, Sequence
from datetime import datetime
from typing import Any

import attrs

from adapters.case_index import cun_digits, fold_key
from adapters.intake.parsing import fold as fold_text
from application.ports.cases import (
    AnyEvent,
    CaseQuery,
    CaseSummary,
    ConcurrencyConflict,
    DueClock,
    DueFollowUp,
    LoggedEvent,
    PendingWrite,
    RunningClock,
)
from domain.case.decisions import escalation_reference
from domain.case.events import (
    ERASED,
    EVENT_TYPES,
    Assigned,
    CaseEvent,
    ClockBreached,
    ClockStarted,
    ClockStopped,
    ClockWarned,
    Closed,
    ClosedFirstContact,
    Escalated,
    FollowUpCompleted,
    FollowUpMissed,
    FollowUpScheduled,
    Ingested,
    Interpreted,
    OutsideWriteAnswered,
    OutsideWriteRefused,
    OutsideWriteRequested,
    PersonalDataCorrected,
    PersonalDataErased,
    Reopened,
    RepeatContactRecorded,
    Typified,
)
from domain.case.state import CaseState, fold
from domain.team.roster import TeamEvent
from domain.values import CaseStatus, Channel, ClockKind, Priority, SourceKey, phone_digits

# --- the store ---------------------------------------------------------------------------------


class InMemoryCaseStore:
    """Implements `application.ports.cases.CaseStore`: a list for the log, a dict per stream."""

    def __init__(self) -> None:
        self._log: list[LoggedEvent] = []
        self._streams: dict[uuid.UUID, list[AnyEvent]] = {}
        self._lock = threading.Lock()

    def load(self, case_id: uuid.UUID, *, version: int | None = None) -> CaseState | None:
        events: list[Any] = list(self._streams.get(case_id, ()))
        return fold(None, events if version is None else events[:version])

    def history(self, case_id: uuid.UUID) -> Sequence[CaseEvent]:
        events: list[Any] = list(self._streams.get(case_id, ()))
        return events

    def events_of(self, case_id: uuid.UUID, *, after: int = 0) -> Iterator[CaseEvent]:
        events: list[Any] = list(self._streams.get(case_id, ()))
        yield from (e for e in events if e.originator_version > after)

    def stream(self, stream_id: uuid.UUID) -> Sequence[TeamEvent]:
        events: list[Any] = list(self._streams.get(stream_id, ()))
        return events

    def append(self, events: Sequence[AnyEvent]) -> Sequence[LoggedEvent]:
        if not events:
            return []
        with self._lock:  # all or nothing, as one transaction
            expected: dict[uuid.UUID, int] = {}
            for event in events:
                stream = event.originator_id
                if stream not in expected:
                    expected[stream] = len(self._streams.get(stream, ())) + 1
                if event.originator_version != expected[stream]:
                    raise ConcurrencyConflict(
                        f"{stream} version {event.originator_version} is taken or out of order"
                    )
                expected[stream] += 1
            logged = []
            for event in events:
                self._streams.setdefault(event.originator_id, []).append(event)
                logged.append(LoggedEvent(len(self._log) + 1, event))
                self._log.append(logged[-1])
            return logged

    def read_log(
        self,
        after: int,
        limit: int,
        *,
        through: int | None = None,
        kinds: Collection[type[AnyEvent]] | None = None,
    ) -> Sequence[LoggedEvent]:
        wanted = None if kinds is None else set(kinds)
        found: list[LoggedEvent] = []
        for logged in self._log[max(after, 0) :]:
            if through is not None and logged.position > through:
                break
            if wanted is None or type(logged.event) in wanted:
                found.append(logged)
                if len(found) == limit:
                    break
        return found

    def last_position(self) -> int:
        return len(self._log)

    def close(self) -> None:
        pass


# --- the case index ----------------------------------------------------------------------------


@attrs.define
class _Row:
    """One case as the index keeps it (the SQL views' `case_index` row and its tables)."""

    case_id: uuid.UUID
    source: SourceKey
    status: CaseStatus
    line: Any
    typification: str
    account: str
    customer: str
    cun: str | None
    opened_at: datetime
    updated_at: datetime
    version: int
    phone: str | None = None
    """The national digits of the customer's phone."""
    agent: str | None = None
    category: Any = None
    subcategory: str | None = None
    open: bool = True
    missed: int = 0
    due: dict[int, datetime] = attrs.Factory(dict)
    clocks: dict[int, list[Any]] = attrs.Factory(dict)
    """clock id -> [kind, warn_at, due_at, warned, breached, reference], while it runs."""
    escalations: dict[str, tuple[str, Priority]] = attrs.Factory(dict)
    """An escalation's clock reference -> its area and priority."""
    writes: dict[str, datetime] = attrs.Factory(dict)
    keys: set[str] = attrs.Factory(set)

    @property
    def next_follow_up_at(self) -> datetime | None:
        return min(self.due.values()) if self.due else None


class InMemoryCaseIndex:
    """Implements `application.ports.cases.CaseIndex` over a dict of rows, position included."""

    kinds: Collection[type[AnyEvent]] | None = EVENT_TYPES

    def __init__(self) -> None:
        self._rows: dict[uuid.UUID, _Row] = {}
        self._position = 0
        self._lock = threading.Lock()

    def position(self) -> int:
        return self._position

    def project(
        self, events: Sequence[LoggedEvent], through: int | None = None, after: int | None = None
    ) -> None:
        last = events[-1].position if events else 0
        if through is not None and through < last:
            raise ValueError(f"through {through} is before the last event ({last})")
        position = last if through is None else through
        if not position:
            return
        with self._lock:
            first = events[0].position if events else position
            if first <= self._position or (after is not None and self._position != after):
                raise ConcurrencyConflict(f"the index is already at or past position {position}")
            for logged in events:
                if isinstance(logged.event, CaseEvent):
                    self._apply(logged.event)
            self._position = position

    def _apply(self, e: CaseEvent) -> None:
        if isinstance(e, Ingested):
            if e.originator_id not in self._rows:
                new = _Row(
                    e.originator_id, e.source, CaseStatus.OPEN, e.line, e.typification,
                    e.account, fold_text(e.customer_name), _cun(e.cun), e.timestamp, e.timestamp,
                    e.originator_version, phone_digits(e.phone) if e.phone else None,
                )  # fmt: skip
                if e.follow_up_at is not None:
                    new.due[1] = e.follow_up_at
                self._rows[e.originator_id] = new
            return
        row = self._rows.get(e.originator_id)
        if row is None:
            return
        if isinstance(e, RepeatContactRecorded):
            row.keys.add(e.source.key)
        elif isinstance(e, Assigned):
            row.agent = e.agent
        elif isinstance(e, Interpreted):
            row.category, row.subcategory = e.category, e.subcategory.value
        elif isinstance(e, FollowUpScheduled):
            row.due[e.follow_up_id] = e.due_at
        elif isinstance(e, FollowUpCompleted | FollowUpMissed):
            row.due.pop(e.follow_up_id, None)
            if isinstance(e, FollowUpMissed):
                row.missed += 1
        elif isinstance(e, Typified) and e.cun is not None:
            row.cun = _cun(e.cun)
        elif isinstance(e, Closed | ClosedFirstContact):
            row.status, row.open = CaseStatus.CLOSED, False
        elif isinstance(e, Reopened):
            row.status, row.open = CaseStatus.OPEN, True
        elif isinstance(e, ClockStarted):
            row.clocks.setdefault(
                e.clock_id, [e.kind, e.warn_at, e.due_at, False, False, e.reference]
            )
        elif isinstance(e, Escalated):
            reference = escalation_reference(e.escalation_id)
            row.escalations.setdefault(reference, (e.area, e.priority))
        elif isinstance(e, ClockWarned) and e.clock_id in row.clocks:
            row.clocks[e.clock_id][3] = True
        elif isinstance(e, ClockBreached) and e.clock_id in row.clocks:
            row.clocks[e.clock_id][4] = True
        elif isinstance(e, ClockStopped):
            row.clocks.pop(e.clock_id, None)
        elif isinstance(e, OutsideWriteRequested):
            row.writes.setdefault(e.key, e.timestamp)
        elif isinstance(e, OutsideWriteAnswered | OutsideWriteRefused):
            row.writes.pop(e.key, None)
        elif isinstance(e, PersonalDataErased):  # found no more by name or phone
            row.customer, row.phone = fold_text(ERASED), None
        elif isinstance(e, PersonalDataCorrected):
            if e.customer_name is not None:
                row.customer = fold_text(e.customer_name)
            if e.phone is not None:
                row.phone = phone_digits(e.phone)
        row.version, row.updated_at = e.originator_version, e.timestamp

    # --- queries --------------------------------------------------------------------------

    def _matches(self, row: _Row, q: CaseQuery) -> bool:
        if q.status is not None and row.status is not q.status:
            return False
        if q.agent is not None and row.agent != q.agent:
            return False
        if q.category is not None and row.category is not q.category:
            return False
        if q.line is not None and row.line is not q.line:
            return False
        due = row.next_follow_up_at
        if q.follow_up_due_before is not None and (due is None or due > q.follow_up_due_before):
            return False
        if (q.unassigned and row.agent is not None) or (q.missed and not row.missed):
            return False
        clocks = list(row.clocks.values())
        if q.waiting and not any(c[0] is ClockKind.ESCALATION_RESPONSE for c in clocks):
            return False
        if q.warned and not any(c[3] and not c[4] for c in clocks):
            return False
        if q.breached and not any(c[4] for c in clocks):
            return False
        text = (q.search or "").strip()
        if text:
            channel, key = q.search_key()
            key = fold_key(key)
            own = key == fold_key(row.source.key) and channel in (None, row.source.channel)
            phone = q.search_phone()
            exact = own or key in {fold_key(k) for k in row.keys} or text == row.account
            exact = exact or (row.cun is not None and (cun_digits(text) or text) == row.cun)
            exact = exact or (phone is not None and phone == row.phone)
            name = fold_text(text)
            return exact or (len(name) >= 3 and name in row.customer)
        return True

    def _listed(self, query: CaseQuery) -> list[_Row]:
        rows = [r for r in self._rows.values() if self._matches(r, query)]

        def order(r: _Row) -> tuple[Any, ...]:
            due = r.next_follow_up_at
            return (due is None, due or r.opened_at, r.opened_at, r.source.key, str(r.case_id))

        return sorted(rows, key=order)

    def search(self, query: CaseQuery) -> Sequence[CaseSummary]:
        rows = self._listed(query)[query.offset : query.offset + query.limit]
        return [
            CaseSummary(
                case_id=r.case_id,
                source=r.source,
                status=r.status,
                line=r.line,
                typification=r.typification,
                agent=r.agent,
                category=r.category,
                subcategory=r.subcategory,
                opened_at=r.opened_at,
                updated_at=r.updated_at,
                next_follow_up_at=r.next_follow_up_at,
                version=r.version,
            )
            for r in rows
        ]

    def count(self, query: CaseQuery) -> int:
        return len(self._listed(query))

    def count_by_agent(self, query: CaseQuery) -> dict[str, int]:
        return dict(Counter(r.agent for r in self._listed(query) if r.agent is not None))

    def due_follow_ups(
        self, until: datetime, limit: int = 1000, *, agent: str | None = None
    ) -> Sequence[DueFollowUp]:
        due = [
            (at, str(r.case_id), n, r)
            for r in self._rows.values()
            for n, at in r.due.items()
            if at <= until and (agent is None or r.agent == agent)
        ]
        due.sort(key=lambda d: (d[0], d[1]))
        return [
            DueFollowUp(
                case_id=r.case_id, source=r.source, follow_up_id=n, due_at=at, agent=r.agent
            )
            for at, _, n, r in due[:limit]
        ]

    def count_due_by_agent(
        self, until: datetime, overdue_before: datetime
    ) -> dict[str, tuple[int, int]]:
        counts: dict[str, tuple[int, int]] = {}
        for r in self._rows.values():
            if r.agent is None:
                continue
            due = [at for at in r.due.values() if at <= until]
            if due:
                before = counts.get(r.agent, (0, 0))
                late = sum(1 for at in due if at < overdue_before)
                counts[r.agent] = (before[0] + len(due), before[1] + late)
        return counts

    def due_clocks(self, now: datetime, limit: int = 1000) -> Sequence[DueClock]:
        due = []
        for r in self._rows.values():
            for n, (kind, warn_at, due_at, warned, breached, _) in r.clocks.items():
                warn = warn_at is not None and warn_at <= now and not warned and not breached
                if warn or (due_at < now and not breached):
                    due.append((due_at, str(r.case_id), n, kind, r))
        due.sort(key=lambda d: (d[0], d[1], d[2]))
        return [
            DueClock(
                case_id=r.case_id, source=r.source, clock_id=n, kind=kind, due_at=at, agent=r.agent
            )
            for at, _, n, kind, r in due[:limit]
        ]

    def running_clocks(self, case_ids: Sequence[uuid.UUID]) -> Sequence[RunningClock]:
        found = []
        for case_id in sorted(set(case_ids), key=str):
            r = self._rows.get(case_id)
            if r is None:
                continue
            for n, (kind, warn_at, due_at, warned, breached, reference) in sorted(r.clocks.items()):
                escalation = None
                if kind is ClockKind.ESCALATION_RESPONSE and reference is not None:
                    escalation = r.escalations.get(reference)
                found.append(
                    RunningClock(
                        case_id=r.case_id, source=r.source, agent=r.agent, clock_id=n,
                        kind=kind, reference=reference, warn_at=warn_at, due_at=due_at,
                        warned=warned, breached=breached,
                        area=escalation[0] if escalation else None,
                        priority=escalation[1] if escalation else None,
                    )
                )  # fmt: skip
        return found

    def pending_writes(
        self, requested_before: datetime, limit: int = 1000, *, after: PendingWrite | None = None
    ) -> Sequence[PendingWrite]:
        writes = sorted(
            (at, str(r.case_id), key)
            for r in self._rows.values()
            for key, at in r.writes.items()
            if at < requested_before
        )
        if after is not None:
            start = (after.requested_at, str(after.case_id), after.key)
            writes = [w for w in writes if w > start]
        return [
            PendingWrite(case_id=uuid.UUID(c), key=k, requested_at=at)
            for at, c, k in writes[:limit]
        ]

    def known(self, case_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        return {c for c in case_ids if c in self._rows}

    def sources_of(self, case_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, SourceKey]:
        return {c: self._rows[c].source for c in case_ids if c in self._rows}

    def find_by_source_key(self, key: str) -> Sequence[uuid.UUID]:
        own = {SourceKey(channel, key).case_id() for channel in Channel} & self._rows.keys()
        repeats = {r.case_id for r in self._rows.values() if key in r.keys}
        return sorted(own | repeats)

    def open_cases_for(self, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], uuid.UUID]:
        wanted = set(pairs)
        found: dict[tuple[str, str], _Row] = {}
        for r in self._rows.values():
            pair = (r.account, r.typification)
            if r.open and pair in wanted:
                best = found.get(pair)
                if best is None or (r.opened_at, r.case_id) < (best.opened_at, best.case_id):
                    found[pair] = r
        return {pair: r.case_id for pair, r in found.items()}

    def reset(self) -> None:
        with self._lock:
            self._rows.clear()
            self._position = 0

    def close(self) -> None:
        pass


def _cun(cun: str | None) -> str | None:
    """A CUN as the index keeps it: its digits, as `adapters.case_index` does."""
    return None if cun is None else cun_digits(cun) or cun
