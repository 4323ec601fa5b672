"""Bulk intake: records in, cases and repeat contacts out, in batches, idempotently.

Per batch: one look-up of the open cases for the batch's (account, typification) pairs, one
append of every new case (one transaction), then the repeat contacts one by one. The common
case (new rows) costs no per-row query; a re-run of the same file is recognised from the
index and the store's own uniqueness, and adds nothing.
"""

from __future__ import annotations

import gc
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, TypeVar

import attrs

from application.intake import IntakeItem, IntakeRecord, RejectedRow
from application.ports import ConcurrencyConflict
from domain import decisions
from domain.decisions import RepeatContact
from domain.errors import CaseClosed, DomainError, InvalidValue
from domain.events import CaseEvent, Ingested
from domain.state import CaseState, fold
from domain.values import INTAKE

if TYPE_CHECKING:
    from application.service import Backoffice

MAX_REPORTED_REJECTIONS = 1_000


@attrs.define
class IngestReport:
    """What an intake run did. `rejected` holds the first rejections; `rejected_count` all."""

    read: int = 0
    created: int = 0
    repeat_contacts: int = 0
    already_known: int = 0
    rejected_count: int = 0
    rejected: list[RejectedRow] = attrs.Factory(list)

    def reject(self, row: RejectedRow) -> None:
        self.rejected_count += 1
        if len(self.rejected) < MAX_REPORTED_REJECTIONS:
            self.rejected.append(row)

    @property
    def ok(self) -> bool:
        return self.rejected_count == 0


class _CollectorPause:
    """Python's cycle collector paused while any intake run is under way.

    A batch keeps tens of thousands of young objects alive (records, events, rows), none in a
    reference cycle: the collector would traverse them hundreds of times for nothing (about a
    tenth of a large import's time). Reference counting still frees everything as usual.
    Nested and concurrent runs share one pause; the last one out re-enables the collector if
    it was enabled before the first one came in.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs = 0
        self._was_enabled = True

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._runs == 0:
                self._was_enabled = gc.isenabled()
                gc.disable()
            self._runs += 1
        try:
            yield
        finally:
            with self._lock:
                self._runs -= 1
                if self._runs == 0 and self._was_enabled:
                    gc.enable()


_collector_paused = _CollectorPause()


class _Located(Protocol):
    @property
    def location(self) -> str: ...


L = TypeVar("L", bound=_Located)


def record_each(items: Iterable[L | RejectedRow], record: Callable[[L], bool]) -> IngestReport:
    """Run `record` on each item (True: something new was recorded; False: the log already
    said it); a refused item is reported with its place, its field and why, the others go on.
    Used by the imports of facts from outside (surveys, monitorings, the roster, the register).
    """
    report = IngestReport()
    for item in items:
        if isinstance(item, RejectedRow):
            report.reject(item)
            continue
        report.read += 1
        try:
            new = record(item)
        except (DomainError, ConcurrencyConflict) as error:
            field = error.field if isinstance(error, InvalidValue) else None
            reason = error.why if isinstance(error, InvalidValue) else str(error)
            report.reject(RejectedRow(location=item.location, field=field, reason=reason))
            continue
        if new:
            report.created += 1
        else:
            report.already_known += 1
    return report


def ingested_from(record: IntakeRecord, at: datetime) -> Ingested:
    """The intake's decision on one record (raises the domain's error when it is refused)."""
    return decisions.ingest(
        source=record.source,
        received_at=record.received_at,
        account=record.account,
        line=record.line,
        customer_name=record.customer_name,
        typification=record.typification,
        request=record.request,
        follow_up_at=record.follow_up_at,
        front_agent=record.front_agent,
        recommended_by=record.recommended_by,
        actor=INTAKE,
        at=at,
    )


class Ingestion:
    """One intake run over a `Backoffice`."""

    def __init__(self, office: Backoffice) -> None:
        self.office = office

    def run(
        self, items: Iterable[IntakeItem], *, batch_size: int, report: IngestReport | None
    ) -> IngestReport:
        report = report or IngestReport()
        with _collector_paused():
            batch: list[IntakeRecord] = []
            for item in items:
                if isinstance(item, RejectedRow):
                    report.reject(item)
                    continue
                report.read += 1
                batch.append(item)
                if len(batch) >= batch_size:
                    self._batch(batch, report)
                    batch = []
            if batch:
                self._batch(batch, report)
        return report

    def _batch(
        self, records: list[IntakeRecord], report: IngestReport, *, first_round: bool = True
    ) -> None:
        office = self.office
        office.catch_up()
        now = office.clock.now()
        open_cases = office.index.open_cases_for([(r.account, r.typification) for r in records])
        new_events: list[Ingested] = []
        repeats: dict[uuid.UUID, list[IntakeRecord]] = {}
        seen: set[uuid.UUID] = set()
        for record in records:
            case_id = record.source.case_id()
            pair = (record.account, record.typification)
            target = open_cases.get(pair)
            if case_id in seen or target == case_id:
                report.already_known += 1
            elif target is not None:
                repeats.setdefault(target, []).append(record)
            else:
                event = self._decide(record, now, report)
                if event is not None:
                    seen.add(case_id)
                    open_cases[pair] = case_id
                    new_events.append(event)
        created = {e.originator_id: e for e in new_events}
        repeat_events, known, late = self._decide_repeats(repeats, created, now)
        try:
            # New cases and repeat contacts together: one transaction per batch.
            office.project_fresh(office.store.append([*new_events, *repeat_events]))
        except ConcurrencyConflict:
            # Someone wrote to these cases meanwhile (or this is a re-run): the careful path.
            self._append(new_events, report)
            for target, target_records in repeats.items():
                for record in target_records:
                    self._repeat(target, record, now, report)
            return
        report.created += len(new_events)
        report.repeat_contacts += len(repeat_events)
        report.already_known += known
        if late and first_round:
            self._batch(late, report, first_round=False)
        elif late:  # their case closed under our feet twice: each opens a case of its own
            for record in late:
                event = self._decide(record, now, report)
                if event is not None:
                    self._append([event], report)

    def _decide_repeats(
        self,
        repeats: dict[uuid.UUID, list[IntakeRecord]],
        created: dict[uuid.UUID, Ingested],
        now: datetime,
    ) -> tuple[list[CaseEvent], int, list[IntakeRecord]]:
        """Each target case rebuilt once, its repeat contacts decided in order.

        Returns the events, how many records were already on their case, and the records
        whose case turned out closed (they get a case of their own in a next round).
        """
        events: list[CaseEvent] = []
        known = 0
        late: list[IntakeRecord] = []
        for target, target_records in repeats.items():
            fresh = created.get(target)
            state = fold(None, [fresh]) if fresh else self.office.store.load(target)
            if state is None:
                late.extend(target_records)
                continue
            seen = {state.source, *state.repeat_contacts}
            contacts: list[IntakeRecord] = []
            for record in target_records:
                if record.source in seen:
                    known += 1
                else:
                    seen.add(record.source)
                    contacts.append(record)
            if not contacts:
                continue
            try:
                events.extend(
                    decisions.record_repeat_contacts(
                        state,
                        [RepeatContact(r.source, r.received_at, r.request) for r in contacts],
                        actor=INTAKE,
                        at=now,
                    )
                )
            except CaseClosed:
                late.extend(contacts)
        return events, known, late

    @staticmethod
    def _decide(record: IntakeRecord, now: datetime, report: IngestReport) -> Ingested | None:
        try:
            return ingested_from(record, now)
        except DomainError as error:
            report.reject(RejectedRow(location=record.location, field=None, reason=str(error)))
            return None

    def _append(self, events: list[Ingested], report: IngestReport) -> None:
        office = self.office
        try:
            office.project_fresh(office.store.append(events))
            report.created += len(events)
            return
        except ConcurrencyConflict:
            pass
        # Some of these cases exist (a re-run, or another process was faster): drop the ones
        # the index knows and try the rest together, then one by one.
        office.catch_up()
        known = office.index.known([e.originator_id for e in events])
        report.already_known += len(known)
        fresh = [e for e in events if e.originator_id not in known]
        try:
            office.project_fresh(office.store.append(fresh))
            report.created += len(fresh)
            return
        except ConcurrencyConflict:
            pass
        for event in fresh:
            try:
                office.store.append([event])
                report.created += 1
            except ConcurrencyConflict:
                report.already_known += 1

    def _repeat(
        self, target: uuid.UUID, record: IntakeRecord, now: datetime, report: IngestReport
    ) -> None:
        def decide(state: CaseState) -> list[CaseEvent]:
            return decisions.record_repeat_contact(
                state,
                source=record.source,
                received_at=record.received_at,
                request=record.request,
                actor=INTAKE,
                at=now,
            )

        try:
            result = self.office.execute(target, decide)
        except CaseClosed:
            # The case it matched was closed meanwhile: this contact opens a case of its own.
            event = self._decide(record, now, report)
            if event is not None:
                self._append([event], report)
            return
        if result.events:
            report.repeat_contacts += 1
        else:
            report.already_known += 1
