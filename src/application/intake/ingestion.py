"""Bulk intake: records in, cases and repeat contacts out, in batches, idempotently.

Per batch: one look-up of the open cases for the batch's (account, typification) pairs, each
case a batch repeats on rebuilt once, and one append of the batch's new cases and repeat
contacts (one transaction). The common case (new rows) costs no per-row query; a re-run of
the same file is recognised from the index and the store's own uniqueness, and adds nothing.
From the second batch on, an index worker may project the case index beside the run
(`Ingestion`).
"""

from __future__ import annotations

import bisect
import time
import uuid
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from application.intake.records import IngestReport, IntakeItem, IntakeRecord, RejectedRow, refusal
from application.jobs.projection import collector_paused
from application.ports.cases import ConcurrencyConflict, IndexWorker
from domain.case import decisions
from domain.case.decisions import RepeatContact
from domain.case.events import CaseEvent, Closed, ClosedFirstContact, Ingested, Reopened
from domain.case.state import CaseState, fold
from domain.errors import CaseClosed, DomainError
from domain.values import INTAKE

if TYPE_CHECKING:
    from application.ports.office import IntakeWork

WORKER_POLL_SECONDS = 0.002
WORKER_POLL_MAX_SECONDS = 0.032
"""A run that waits for the index worker looks at the index's position every 2 ms; when the
index has not moved for a second, less and less often (up to every 32 ms)."""
DECISIVE_KINDS: tuple[type[CaseEvent], ...] = (Ingested, Closed, ClosedFirstContact, Reopened)
"""The events that change which case is open for an (account, typification), i.e. the
index's answer to `open_cases_for`: what an import's decisions depend on besides its own."""
WORKER_STALL_SECONDS = 30.0
"""A worker that leaves the index where it is this long while the run waits is given up (it
is stopped and the run projects what is left itself); a batch takes it well under a second."""


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
        cun=record.cun,
        filed_at=record.filed_at,
        linked_to=record.linked_to,
        phone=record.phone,
        actor=record.opened_by or INTAKE,
        at=at,
    )


def _contact_refusal(record: IntakeRecord, at: datetime) -> RejectedRow | None:
    """Why a record cannot be a repeat contact, if it cannot: whatever would refuse it as a
    new case (`decisions.ingest`), so that a row is taken or rejected the same whether or not
    an open case of its account and typification exists (a second run found a row rejected
    first, for two addresses in `recomendado_por`, taken as a repeat contact once the case it
    repeats had been opened by a later row)."""
    try:
        ingested_from(record, at)
    except DomainError as error:
        return refusal(record.location, error)
    return None


class Ingestion:
    """One intake run over an `IntakeWork` port.

    From its second batch on, a run hands the case index to an index worker when the office
    can start one (`IntakeWork.index_worker`): the worker projects batch n while the run
    decides batch n + 1. The run then remembers the open cases it created (per batch, until
    the index shows them), so that a later row of the same account and typification still
    finds its case; it lets the worker fall at most one batch behind. Its decisions are those
    of a run without a worker: when the log holds events of other writers that the index
    has not projected yet (a closing, a reopening), the run waits for the index to show them
    before it decides the next batch. When the run ends, the index has everything.
    """

    def __init__(self, office: IntakeWork) -> None:
        self.office = office
        self.worker: IndexWorker | None = None
        self._worker_tried = False
        self._batches = 0
        self._unindexed: list[tuple[list[int], dict[tuple[str, str], uuid.UUID]]] = []
        """Per batch appended while a worker runs: its log positions, and the open cases it
        created by (account, typification). Dropped once the index is past its positions."""

    def run(
        self, items: Iterable[IntakeItem], *, batch_size: int, report: IngestReport | None
    ) -> IngestReport:
        report = report or IngestReport()
        with collector_paused():
            try:
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
                self._settle()  # the index has everything, by the worker or by this run
                self._end_worker(finish=True)
            finally:
                self._end_worker()  # still running only if something went wrong
        return report

    # --- the index: projected here, or by a worker while this run goes on ------------------

    def _prepare(self) -> None:
        """Before a batch: the index as current as the batch's decisions need it."""
        office = self.office
        if self.worker is None:
            office.catch_up()  # everything so far, then (from the second batch) the worker
            if self._batches and not self._worker_tried and office.index_worker is not None:
                self._worker_tried = True  # one attempt per run
                self.worker = office.index_worker()
            self._batches += 1
            return
        self._batches += 1
        if len(self._unindexed) > 1:  # the worker may be busy with the last batch only
            self._wait_for(self._unindexed[-2][0][-1])
        position = office.index.position()
        self._unindexed = [u for u in self._unindexed if u[0][-1] > position]
        if self._others_decisive_since(position):
            self._settle()  # others opened, closed or reopened cases: decide on that index

    def _others_decisive_since(self, position: int) -> bool:
        """Whether the log holds, past `position`, events of other writers that change which
        case is open for an (account, typification): only those would make this run decide
        otherwise than with an index at the log's head. (Their notes, assignments and the
        like, and PostgreSQL's unused ids, do not: no wait for them.)"""
        store = self.office.store
        head = store.last_position()
        mine_since = [ps[bisect.bisect_right(ps, position) :] for ps, _ in self._unindexed]
        if head - position == sum(map(len, mine_since)):
            return False  # nothing but this run's own batches
        # The positions between this run's own: read just those, just the decisive kinds.
        ours = sorted(p for positions in mine_since for p in positions)
        start = position
        for mine in [*ours, head + 1]:
            if mine > start + 1 and store.read_log(
                start, 1, through=mine - 1, kinds=DECISIVE_KINDS
            ):
                return True
            start = mine
        return False

    def _wait_for(self, position: int) -> None:
        """Until the index is at `position`; without the worker if it stops or stalls."""
        index = self.office.index
        reached, since, pause = index.position(), time.monotonic(), WORKER_POLL_SECONDS
        while self.worker is not None and (now_at := index.position()) < position:
            if now_at != reached:
                reached, since, pause = now_at, time.monotonic(), WORKER_POLL_SECONDS
            elif not self.worker.alive():
                self._end_worker()
            elif time.monotonic() - since > WORKER_STALL_SECONDS:
                self._end_worker(why=f"the index did not move for {WORKER_STALL_SECONDS:g} s")
            else:
                time.sleep(pause)
                if time.monotonic() - since > 1.0:  # a long wait: fewer queries
                    pause = min(pause * 2, WORKER_POLL_MAX_SECONDS)
        if self.worker is None:
            self.office.catch_up()

    def _settle(self) -> None:
        """The index up to the log's head, so that the index alone tells what exists."""
        if self.worker is not None:
            self._wait_for(self.office.store.last_position())
        self._unindexed.clear()
        self.office.catch_up()

    def _end_worker(self, *, finish: bool = False, why: str = "") -> None:
        """Let the worker end (`finish`, once the index is at the head) or stop it now."""
        worker, self.worker = self.worker, None
        self._unindexed.clear()
        if worker is not None and finish:
            worker.finish()
        elif worker is not None:
            worker.stop(why)

    def _open_cases(self, records: list[IntakeRecord]) -> dict[tuple[str, str], uuid.UUID]:
        """The open case of each record's (account, typification), if any."""
        pairs = [(r.account, r.typification) for r in records]
        found = self.office.index.open_cases_for(pairs)
        for _, opened in self._unindexed:  # oldest first: a newer batch's case wins
            for pair in pairs:
                case = opened.get(pair)
                if case is not None:
                    found[pair] = case
        return found

    def _own_cases(
        self, records: list[IntakeRecord], open_cases: dict[tuple[str, str], uuid.UUID]
    ) -> set[uuid.UUID]:
        """The records' own cases that exist although the open case of their (account,
        typification) is another one: a re-exported record whose values changed (it is
        known, not a repeat contact on that other case). Only those records are looked up."""
        candidates = [
            own
            for r in records
            if (target := open_cases.get((r.account, r.typification))) is not None
            and target != (own := r.source.case_id())
        ]
        if not candidates:
            return set()
        created_here = {case for _, opened in self._unindexed for case in opened.values()}
        return set(self.office.index.known(candidates)) | (created_here & set(candidates))

    def _report_differences(self, record: IntakeRecord, report: IngestReport) -> None:
        state = self.office.store.load(record.source.case_id())
        if state is None:
            return
        changed = [
            name
            for name, now, then in (
                ("account", record.account, state.account),
                ("typification", record.typification, state.typification),
                ("line", record.line, state.line),
            )
            if now != then
        ]
        if changed:
            report.differs(
                RejectedRow(
                    location=record.location,
                    field=", ".join(changed),
                    reason=f"differs from case {state.source} as ingested: kept as it was",
                )
            )

    # --- a batch -----------------------------------------------------------------------------

    def _batch(
        self, records: list[IntakeRecord], report: IngestReport, *, first_round: bool = True
    ) -> None:
        office = self.office
        if first_round:
            self._prepare()
        now = office.clock.now()
        open_cases = self._open_cases(records)
        own_cases = self._own_cases(records, open_cases)
        new_events: list[Ingested] = []
        opened: dict[tuple[str, str], uuid.UUID] = {}
        repeats: dict[uuid.UUID, list[IntakeRecord]] = {}
        seen: set[uuid.UUID] = set()
        for record in records:
            case_id = record.source.case_id()
            pair = (record.account, record.typification)
            target = open_cases.get(pair)
            if case_id in seen or target == case_id:
                report.already_known += 1
            elif case_id in own_cases:  # its own case exists, whatever its pair points to now
                report.already_known += 1
                self._report_differences(record, report)
            elif target is not None and (refused := _contact_refusal(record, now)) is not None:
                report.reject(refused)
            elif target is not None:
                repeats.setdefault(target, []).append(record)
            else:
                event = self._decide(record, now, report)
                if event is not None:
                    seen.add(case_id)
                    open_cases[pair] = opened[pair] = case_id
                    new_events.append(event)
        created = {e.originator_id: e for e in new_events}
        repeat_events, known, late = self._decide_repeats(repeats, created, now)
        try:
            # New cases and repeat contacts together: one transaction per batch.
            logged = office.store.append([*new_events, *repeat_events])
        except ConcurrencyConflict:
            # Someone wrote to these cases meanwhile (or this is a re-run): the careful path,
            # on an index that shows everything written so far.
            self._settle()
            self._append(new_events, report)
            closed = [
                record
                for target, target_records in repeats.items()
                for record in target_records
                if not self._repeat(target, record, now, report)
            ]
            self._settle()  # what this path wrote is in no batch's memory: the index shows it
            self._again(closed, report, now, first_round=first_round)
            return
        if self.worker is None:
            office.project_fresh(logged)
        elif logged:
            self._unindexed.append(([e.position for e in logged], opened))
        report.created += len(new_events)
        report.repeat_contacts += len(repeat_events)
        report.already_known += known
        self._again(late, report, now, first_round=first_round)

    def _again(
        self, records: list[IntakeRecord], report: IngestReport, now: datetime, *, first_round: bool
    ) -> None:
        """Records whose case turned out closed, decided again on an index that shows the
        closings: those of one account and typification open one case together. If their
        case closes under our feet again, each opens a case of its own."""
        if not records:
            return
        self._settle()
        if first_round:
            self._batch(records, report, first_round=False)
            return
        for record in records:
            event = self._decide(record, now, report)
            if event is not None:
                self._append([event], report)
        self._settle()

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
            contacts = decisions.new_contacts(
                state, [RepeatContact(r.source, r.received_at, r.request) for r in target_records]
            )
            known += len(target_records) - len(contacts)
            if not contacts:
                continue
            try:
                events.extend(
                    decisions.record_repeat_contacts(state, contacts, actor=INTAKE, at=now)
                )
            except CaseClosed:
                by_source = {r.source: r for r in reversed(target_records)}  # the first of each
                late.extend(by_source[c.source] for c in contacts)
        return events, known, late

    @staticmethod
    def _decide(record: IntakeRecord, now: datetime, report: IngestReport) -> Ingested | None:
        try:
            return ingested_from(record, now)
        except DomainError as error:
            report.reject(refusal(record.location, error))
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
    ) -> bool:
        """Record one repeat contact on `target`; False (nothing done) when it is closed."""

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
            return False  # closed meanwhile: decided again, with the other such records
        if result.events:
            report.repeat_contacts += 1
        else:
            report.already_known += 1
        return True
