"""The back office as one object: a method per command and per query.

This is the embedding API. A UI, an HTTP host, the CLI and the tests all use it; none of them
re-implements a rule. Domain errors come out as the typed exceptions of `domain.errors`.
"""

from __future__ import annotations

import contextlib
import itertools
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta

import attrs

from application.indicators import (
    DEFAULT_INDICATOR_RULES,
    IndicatorReport,
    IndicatorRules,
    IndicatorView,
    report,
)
from application.ingestion import Ingestion
from application.intake import IngestReport, IntakeItem
from application.markings import Marking, check_marking
from application.ports import (
    CaseIndex,
    CaseQuery,
    CaseStore,
    CaseSummary,
    Clock,
    ConcurrencyConflict,
    DueFollowUp,
    LoggedEvent,
    StartIndexWorker,
)
from application.projection import catch_up
from application.sweep import SweepReport, sweep_follow_ups
from domain import closing, deadlines, decisions, roster
from domain.calendar import BusinessCalendar
from domain.deadlines import DeadlineRules
from domain.decisions import DEFAULT_FOLLOW_UP_RULES, RR_NOTE_MAX_LENGTH, FollowUpRules
from domain.errors import CaseNotFound, DomainError, InvalidValue, RuleViolation
from domain.events import CaseEvent
from domain.facts import (
    Dimension,
    Period,
)
from domain.state import CaseState, fold
from domain.values import (
    Actor,
    Category,
    Channel,
    EscalationTarget,
    Priority,
    Resolution,
    SourceKey,
    Subcategory,
    VisitKind,
)

MAX_ATTEMPTS = 25
"""Optimistic concurrency: reload, re-decide and retry this many times before giving up."""


class TooMuchContention(DomainError):
    def __init__(self, case_id: uuid.UUID) -> None:
        super().__init__(f"case {case_id} kept changing under this command; try again")


class AmbiguousReference(DomainError):
    def __init__(self, reference: str, candidates: Sequence[uuid.UUID]) -> None:
        ids = ", ".join(str(c) for c in candidates)
        super().__init__(f"{reference!r} matches several cases ({ids}); use the case id")


@attrs.frozen
class CommandResult:
    """The case after a command, and the events the command recorded (empty for a no-op)."""

    case: CaseState
    events: tuple[CaseEvent, ...]


@attrs.frozen
class Policies:
    follow_up: FollowUpRules = DEFAULT_FOLLOW_UP_RULES
    rr_note_max_length: int = RR_NOTE_MAX_LENGTH
    deadlines: DeadlineRules | None = None
    """The business calendar and regulatory clocks; without them no clock can start."""
    markings: Mapping[str, Marking] | None = None
    """The marking catalogue; when given, typifications must use its codes."""
    indicators: IndicatorRules = DEFAULT_INDICATOR_RULES
    """Reincidencia window, NPS scale, Calidad MEC weights and the indicators' goals."""


Decide = Callable[[CaseState], list[CaseEvent]]


class Backoffice:
    """Commands and queries over the cases. Build it with `entrypoints.bootstrap`."""

    def __init__(
        self,
        store: CaseStore,
        index: CaseIndex,
        clock: Clock,
        policies: Policies | None = None,
        indicator_view: IndicatorView | None = None,
        index_worker: StartIndexWorker | None = None,
    ) -> None:
        self.store = store
        self.index = index
        self.clock = clock
        self.policies = policies or Policies()
        self.indicator_view = indicator_view
        self.index_worker = index_worker
        """Starts a worker that keeps the case index up beside a large import (None: the
        import projects its batches itself)."""

    def close(self) -> None:
        self.store.close()
        self.index.close()
        if self.indicator_view is not None:
            self.indicator_view.close()

    def __enter__(self) -> Backoffice:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- reading ---------------------------------------------------------------------------

    def project_fresh(self, logged: Sequence[LoggedEvent]) -> None:
        """Project events just appended, when nothing else was written before them.

        Saves re-reading and decoding them from the log; any gap means someone else wrote in
        between, and the next `catch_up` reads the log instead.
        """
        if not logged or logged[0].position != self.index.position() + 1:
            return
        if logged[-1].position - logged[0].position != len(logged) - 1:
            return
        with contextlib.suppress(ConcurrencyConflict):  # another process projected them
            self.index.project(logged)

    def catch_up(self, batch_size: int = 2_000) -> int:
        """Bring the case index up to the newest event; returns how many events it applied."""
        return self._catch_up(self.index, batch_size)

    def catch_up_indicators(self, batch_size: int = 5_000) -> int:
        """Bring the indicators' projection up to the newest event."""
        if self.indicator_view is None:
            return 0
        return self._catch_up(self.indicator_view, batch_size)

    def _catch_up(
        self,
        view: CaseIndex | IndicatorView,
        batch_size: int,
        progress: Callable[[int], None] | None = None,
    ) -> int:
        return catch_up(self.store, view, batch_size, progress)

    def projections(self) -> dict[str, int]:
        """Each projection's position in the log (`cases`, `indicators`); see
        `store.last_position()` for the newest event."""
        positions = {"cases": self.index.position()}
        if self.indicator_view is not None:
            positions["indicators"] = self.indicator_view.position()
        return positions

    def rebuild(
        self, name: str, progress: Callable[[int], None] | None = None, batch_size: int = 5_000
    ) -> int:
        """Drop a projection (`cases` or `indicators`) and rebuild it from the first event;
        `progress` hears the position reached after each batch. Returns the log positions passed."""
        view: CaseIndex | IndicatorView | None = (
            self.index if name == "cases" else self.indicator_view if name == "indicators" else None
        )
        if view is None:
            raise InvalidValue(
                "projection", f"{name!r} is not one of: {', '.join(self.projections())}"
            )
        view.reset()
        return self._catch_up(view, batch_size, progress)

    def indicators(
        self,
        period: Period,
        by: Dimension = Dimension.ALL,
        window: timedelta | None = None,
    ) -> IndicatorReport:
        """Every indicator of DOMAIN.md §11 and §12 for a period, with its goal."""
        if self.indicator_view is None:
            raise RuleViolation("this back office was built without the indicators' projection")
        rules = self.policies.indicators
        if window is not None:
            rules = attrs.evolve(rules, window=window)
        self.catch_up_indicators()
        facts = self.indicator_view.facts(period.start, period.end, rules.window)
        return report(facts, period, by, rules, self.policies.follow_up)

    def resolve(self, reference: str) -> uuid.UUID:
        """A case id from a case id, `channel:key`, or a bare source key."""
        reference = reference.strip()
        try:
            return uuid.UUID(reference)
        except ValueError:
            pass
        channel, sep, key = reference.partition(":")
        if sep and channel in {c.value for c in Channel}:
            case_id = SourceKey(Channel(channel), key).case_id()
            if self.store.load(case_id) is None:
                raise CaseNotFound(reference)
            return case_id
        self.catch_up()
        found = self.index.find_by_source_key(reference)
        if not found:
            raise CaseNotFound(reference)
        if len(found) > 1:
            raise AmbiguousReference(reference, found)
        return found[0]

    def case(
        self,
        reference: str | uuid.UUID,
        *,
        as_of: datetime | None = None,
        version: int | None = None,
    ) -> CaseState:
        """The case now, as it was at a moment (`as_of`), or at a version."""
        case_id = reference if isinstance(reference, uuid.UUID) else self.resolve(reference)
        if as_of is not None:
            events = [e for e in self.store.history(case_id) if e.timestamp <= as_of]
            state = fold(None, events)
            if state is None:
                raise CaseNotFound(f"{reference} as of {as_of.isoformat()}")
            if version is not None and state.version > version:
                state = fold(None, events[:version])
            assert state is not None
            return state
        state = self.store.load(case_id, version=version)
        if state is None:
            raise CaseNotFound(str(reference))
        return state

    def history(self, reference: str | uuid.UUID) -> Sequence[CaseEvent]:
        """Every event of the case, oldest first: the auditor's view."""
        case_id = reference if isinstance(reference, uuid.UUID) else self.resolve(reference)
        events = self.store.history(case_id)
        if not events:
            raise CaseNotFound(str(reference))
        return events

    def history_stream(self, reference: str | uuid.UUID) -> Iterator[CaseEvent]:
        """`history`, read a page at a time (a case of any length in constant memory). The
        first event is read now, so an unknown case fails here, not halfway through."""
        case_id = reference if isinstance(reference, uuid.UUID) else self.resolve(reference)
        events = self.store.events_of(case_id)
        first = next(events, None)
        if first is None:
            raise CaseNotFound(str(reference))
        return itertools.chain([first], events)

    def cases(self, query: CaseQuery | None = None) -> Sequence[CaseSummary]:
        self.catch_up()
        return self.index.search(query or CaseQuery())

    def count(self, query: CaseQuery | None = None) -> int:
        self.catch_up()
        return self.index.count(query or CaseQuery())

    def due_follow_ups(
        self, until: datetime | None = None, *, limit: int = 1_000
    ) -> Sequence[DueFollowUp]:
        """Pending follow-ups due by `until` (default: now), oldest first."""
        self.catch_up()
        return self.index.due_follow_ups(until or self.clock.now(), limit)

    # --- intake ----------------------------------------------------------------------------

    def ingest(
        self,
        items: Iterable[IntakeItem],
        *,
        batch_size: int = 10_000,
        report: IngestReport | None = None,
    ) -> IngestReport:
        """Ingest records in batches; bad rows are reported, good ones kept.

        Idempotent: a record whose case exists is skipped. A record for an account that has an
        open case of the same typification is recorded on that case as a repeat contact.
        From the second batch on, the index worker (if this office has one) projects the case
        index beside the import; either way the index is current when this returns.
        """
        return Ingestion(self).run(items, batch_size=batch_size, report=report)

    # --- agent commands --------------------------------------------------------------------

    def execute(self, case_id: uuid.UUID, decide: Decide) -> CommandResult:
        for _ in range(MAX_ATTEMPTS):
            state = self.store.load(case_id)
            if state is None:
                raise CaseNotFound(str(case_id))
            events = decide(state)
            if not events:
                return CommandResult(state, ())
            try:
                self.store.append(events)
            except ConcurrencyConflict:
                continue
            new_state = fold(state, events)
            assert new_state is not None
            return CommandResult(new_state, tuple(events))
        raise TooMuchContention(case_id)

    def _run(self, reference: str | uuid.UUID, decide: Decide) -> CommandResult:
        case_id = reference if isinstance(reference, uuid.UUID) else self.resolve(reference)
        return self.execute(case_id, decide)

    def assign(self, reference: str | uuid.UUID, *, agent: str, actor: Actor) -> CommandResult:
        """Give the case to an agent. Once a roster has been imported, only a back-office
        agent on it that day may own cases (a login nobody has, or someone who left, is
        refused with the reason)."""
        now = self.clock.now()
        login = agent.strip()
        day = BusinessCalendar.local_date(now)
        member = roster.fold_agent(self.store.stream(roster.agent_stream(login)))
        why = roster.not_assignable(login, member, day)
        if why is not None and self._roster_in_use():
            raise RuleViolation(f"cannot assign to {why}")
        return self._run(reference, lambda s: decisions.assign(s, agent=agent, actor=actor, at=now))

    def _roster_in_use(self) -> bool:
        if self.indicator_view is None:
            return False
        self.catch_up_indicators()
        return self.indicator_view.has_roster()

    def interpret(
        self,
        reference: str | uuid.UUID,
        *,
        category: Category,
        subcategory: Subcategory,
        actor: Actor,
    ) -> CommandResult:
        now = self.clock.now()
        return self._run(
            reference,
            lambda s: decisions.interpret(
                s, category=category, subcategory=subcategory, actor=actor, at=now
            ),
        )

    def add_note(self, reference: str | uuid.UUID, *, text: str, actor: Actor) -> CommandResult:
        now = self.clock.now()
        limit = self.policies.rr_note_max_length
        return self._run(
            reference,
            lambda s: decisions.add_note(
                s, text=text, actor=actor, at=now, rr_note_max_length=limit
            ),
        )

    def schedule_follow_up(
        self, reference: str | uuid.UUID, *, due_at: datetime, actor: Actor
    ) -> CommandResult:
        now = self.clock.now()
        return self._run(
            reference,
            lambda s: decisions.schedule_follow_up(s, due_at=due_at, actor=actor, at=now),
        )

    def complete_follow_up(
        self,
        reference: str | uuid.UUID,
        *,
        outcome: str,
        actor: Actor,
        follow_up_id: int | None = None,
    ) -> CommandResult:
        now = self.clock.now()
        rules = self.policies.follow_up
        return self._run(
            reference,
            lambda s: decisions.complete_follow_up(
                s, follow_up_id=follow_up_id, outcome=outcome, actor=actor, at=now, rules=rules
            ),
        )

    def mark_follow_up_missed(
        self,
        reference: str | uuid.UUID,
        *,
        follow_up_id: int,
        actor: Actor,
        at: datetime | None = None,
    ) -> CommandResult:
        """The sweep's command: a no-op unless the follow-up is pending and overdue."""
        now = at or self.clock.now()
        rules = self.policies.follow_up
        return self._run(
            reference,
            lambda s: decisions.mark_follow_up_missed(
                s, follow_up_id=follow_up_id, actor=actor, at=now, rules=rules
            ),
        )

    def sweep(self, *, worker: str = "sweep", limit: int = 1_000) -> SweepReport:
        """Record every overdue follow-up as missed, once (see `application.sweep`)."""
        return sweep_follow_ups(self, worker=worker, limit=limit)

    def typify(
        self,
        reference: str | uuid.UUID,
        *,
        marking_code: str,
        resolution: Resolution,
        cun: str | None = None,
        filed_at: datetime | None = None,
        actor: Actor,
    ) -> CommandResult:
        """Record the marking; one that generates a CUN starts its PQR's clock, from its
        filing (`filed_at`, or the case's own front-line filing, or now)."""
        now = self.clock.now()
        rules = self.policies.deadlines

        catalogue = self.policies.markings

        def decide(state: CaseState) -> list[CaseEvent]:
            if catalogue is not None:
                check_marking(catalogue, state, marking_code, resolution)
            events = decisions.typify(
                state,
                marking_code=marking_code,
                resolution=resolution,
                cun=cun,
                actor=actor,
                at=now,
                filed_at=filed_at,
            )
            if rules is None or resolution is not Resolution.CUN:
                return events
            after = fold(state, events)
            assert after is not None
            return events + deadlines.start_pqr_response(after, rules=rules, actor=actor, at=now)

        return self._run(reference, decide)

    def check_typify(
        self, case: CaseState, *, marking_code: str, resolution: Resolution | None
    ) -> None:
        """Every rule of the case and the marking catalogue for this typification; a command
        that registers the marking outside calls it before writing."""
        if self.policies.markings is not None:
            check_marking(self.policies.markings, case, marking_code, resolution)
        decisions.check_typify(case, marking_code=marking_code)

    def deadline_rules(self) -> DeadlineRules:
        """The business calendar and clocks; refused when none is configured."""
        if self.policies.deadlines is None:
            raise RuleViolation("no business calendar is configured: clocks cannot be computed")
        return self.policies.deadlines

    def answer_pqr(
        self, reference: str | uuid.UUID, *, notified_at: datetime, actor: Actor
    ) -> CommandResult:
        """The PQR's answer was notified: its clock stops, the reposición window opens."""
        now, rules = self.clock.now(), self.deadline_rules()
        return self._run(
            reference,
            lambda s: deadlines.answer_pqr(
                s, notified_at=notified_at, rules=rules, actor=actor, at=now
            ),
        )

    def request_adjustment(
        self, reference: str | uuid.UUID, *, ticket: str, actor: Actor
    ) -> CommandResult:
        """An adjustment typified in DIME: the 72-hour solution clock starts."""
        now, rules = self.clock.now(), self.deadline_rules()
        return self._run(
            reference,
            lambda s: deadlines.request_adjustment(
                s, ticket=ticket, rules=rules, actor=actor, at=now
            ),
        )

    def complete_adjustment(
        self, reference: str | uuid.UUID, *, outcome: str, actor: Actor
    ) -> CommandResult:
        now = self.clock.now()
        return self._run(
            reference,
            lambda s: deadlines.complete_adjustment(s, outcome=outcome, actor=actor, at=now),
        )

    def sweep_clock(
        self, reference: str | uuid.UUID, *, clock_id: int, actor: Actor, at: datetime | None = None
    ) -> CommandResult:
        """The sweep's command on a deadline: warn once, breach once, else nothing."""
        now = at or self.clock.now()
        return self._run(
            reference, lambda s: deadlines.sweep_clock(s, clock_id=clock_id, actor=actor, at=now)
        )

    def escalate(
        self,
        reference: str | uuid.UUID,
        *,
        target: EscalationTarget,
        area: str,
        reason: str,
        priority: Priority = Priority.NORMAL,
        external_reference: str | None = None,
        actor: Actor,
    ) -> CommandResult:
        """Record an escalation; one to an area starts that area's response clock."""
        now = self.clock.now()
        rules = self.policies.deadlines

        def decide(state: CaseState) -> list[CaseEvent]:
            events = decisions.escalate(
                state,
                target=target,
                area=area,
                reason=reason,
                priority=priority,
                external_reference=external_reference,
                actor=actor,
                at=now,
            )
            if rules is None:
                return events
            after = fold(state, events)
            assert after is not None
            return events + deadlines.start_escalation_response(
                after, rules=rules, actor=actor, at=now
            )

        return self._run(reference, decide)

    def answer_escalation(
        self, reference: str | uuid.UUID, *, escalation_id: int, answer: str, actor: Actor
    ) -> CommandResult:
        """The area answered the escalation: its response clock stops."""
        now = self.clock.now()
        return self._run(
            reference,
            lambda s: deadlines.answer_escalation(
                s, escalation_id=escalation_id, answer=answer, actor=actor, at=now
            ),
        )

    def schedule_visit(
        self,
        reference: str | uuid.UUID,
        *,
        kind: VisitKind,
        slot_start: datetime,
        slot_end: datetime,
        booking_reference: str,
        actor: Actor,
    ) -> CommandResult:
        now = self.clock.now()
        return self._run(
            reference,
            lambda s: decisions.schedule_visit(
                s,
                kind=kind,
                slot_start=slot_start,
                slot_end=slot_end,
                booking_reference=booking_reference,
                actor=actor,
                at=now,
            ),
        )

    def complete_closing_protocol(
        self,
        reference: str | uuid.UUID,
        *,
        resolution_explained: bool,
        nothing_else_pending: bool,
        closing_script_read: bool,
        survey_invited: bool,
        actor: Actor,
    ) -> CommandResult:
        now = self.clock.now()
        return self._run(
            reference,
            lambda s: closing.complete_closing_protocol(
                s,
                resolution_explained=resolution_explained,
                nothing_else_pending=nothing_else_pending,
                closing_script_read=closing_script_read,
                survey_invited=survey_invited,
                actor=actor,
                at=now,
            ),
        )

    def close_case(
        self,
        reference: str | uuid.UUID,
        *,
        summary: str,
        actor: Actor,
        first_contact: bool = False,
    ) -> CommandResult:
        """Close the case; `first_contact=True` records it as solved in the first contact."""
        now = self.clock.now()
        decide = closing.close_first_contact if first_contact else closing.close
        return self._run(reference, lambda s: decide(s, summary=summary, actor=actor, at=now))

    def reopen(self, reference: str | uuid.UUID, *, reason: str, actor: Actor) -> CommandResult:
        now = self.clock.now()
        return self._run(reference, lambda s: closing.reopen(s, reason=reason, actor=actor, at=now))
