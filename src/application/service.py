"""The back office as one object: a method per command and per query.

This is the embedding API. A UI, an HTTP host, the CLI and the tests all use it; none of them
re-implements a rule. Domain errors come out as the typed exceptions of `domain.errors`.
"""

from __future__ import annotations

import contextlib
import itertools
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime, timedelta

import attrs

from application.case.commands import (
    AddNote,
    AnswerEscalation,
    AnswerPqr,
    AssignCase,
    CaseCommand,
    CloseCase,
    CommandResult,
    CompleteAdjustment,
    CompleteClosingProtocol,
    CompleteFollowUp,
    Escalate,
    InterpretCase,
    ReopenCase,
    RequestAdjustment,
    ScheduleFollowUp,
    ScheduleVisit,
    TypifyCase,
)
from application.case.handling import CaseCommands, Decide, Policies
from application.indicators.report import (
    IndicatorReport,
    IndicatorView,
    report,
)
from application.intake.ingestion import Ingestion
from application.intake.records import IngestReport, IntakeItem
from application.jobs.projection import catch_up
from application.jobs.sweep import SweepReport, sweep_follow_ups
from application.ports.cases import (
    CaseIndex,
    CaseQuery,
    CaseStore,
    CaseSummary,
    Clock,
    ConcurrencyConflict,
    DueFollowUp,
    LoggedEvent,
    RunningClock,
    StartIndexWorker,
)
from application.queries import Answer, Query, answer
from domain.case.events import CaseEvent
from domain.case.state import CaseState, fold
from domain.errors import CaseNotFound, DomainError, InvalidValue, RuleViolation
from domain.indicators.facts import (
    Dimension,
    Period,
)
from domain.team.roster import AgentState, agent_stream, fold_agent
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


class AmbiguousReference(DomainError):
    def __init__(self, reference: str, candidates: Sequence[uuid.UUID]) -> None:
        ids = ", ".join(str(c) for c in candidates)
        super().__init__(f"{reference!r} matches several cases ({ids}); use the case id")


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
        self.commands = CaseCommands(store, clock, self.policies, self._roster_in_use)
        """Every command on a case (`application.case.commands`) goes through it."""
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
        """Every indicator of docs/procedure.md §11 and §12 for a period, with its goal."""
        if self.indicator_view is None:
            raise RuleViolation("this back office was built without the indicators' projection")
        rules = self.policies.indicators
        if window is not None:
            rules = attrs.evolve(rules, window=window)
        self.catch_up_indicators()
        facts = self.indicator_view.facts(period.start, period.end, rules.window)
        return report(facts, period, by, rules, self.policies.follow_up, self.clock.now())

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
            if next(iter(self.store.events_of(case_id)), None) is None:  # exists: one row
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
                raise CaseNotFound(str(reference), as_of=as_of.isoformat())
            if version is not None and state.version > version:
                state = fold(None, events[:version])
            assert state is not None
            return state
        state = self.store.load(case_id, version=version)
        if state is None:
            raise CaseNotFound(str(reference))
        if version is not None and state.version < version:
            raise InvalidValue("version", f"the case is at version {state.version}, not {version}")
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

    def count_by_agent(self, query: CaseQuery) -> dict[str, int]:
        """How many of the query's cases each agent has (the board's columns), in one read."""
        self.catch_up()
        return self.index.count_by_agent(query)

    def count_due_by_agent(
        self, until: datetime, overdue_before: datetime
    ) -> dict[str, tuple[int, int]]:
        """Each agent's pending follow-ups due by `until` and, of those, the ones due before
        `overdue_before`, counted in the index in one read (exact, however many)."""
        self.catch_up()
        return self.index.count_due_by_agent(until, overdue_before)

    def running_clocks(self, case_ids: Sequence[uuid.UUID]) -> Sequence[RunningClock]:
        """The running clocks of these cases from the index (the board's clock panels), with
        the escalation's area and priority for an area's answer, no case read whole."""
        self.catch_up()
        return self.index.running_clocks(case_ids)

    def due_follow_ups(
        self, until: datetime | None = None, *, limit: int = 1_000, agent: str | None = None
    ) -> Sequence[DueFollowUp]:
        """Pending follow-ups due by `until` (default: now), oldest first; of `agent`'s
        cases only, when given (an agent's call list)."""
        self.catch_up()
        return self.index.due_follow_ups(until or self.clock.now(), limit, agent=agent)

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

    def ask(self, query: Query) -> Answer:
        """The answer to a query of `application.queries` (`answer` gives each its type)."""
        return answer(self, query)

    def handle(
        self, command: CaseCommand, actor: Actor, *, expected_version: int | None = None
    ) -> CommandResult:
        """Run a command of `application.case.commands` as `actor` (`expected_version`: the
        case's version the caller saw, else `StaleCase`)."""
        return self.commands.handle(command, actor, expected_version=expected_version)

    def execute(self, case_id: uuid.UUID, decide: Decide) -> CommandResult:
        """Load, decide, append, retry: for what a desk, the sweep or intake decide."""
        return self.commands.execute(case_id, decide)

    def decide(
        self, state: CaseState, command: CaseCommand, actor: Actor, at: datetime
    ) -> list[CaseEvent]:
        """The events `command` records on `state`, nothing appended."""
        return self.commands.decide(state, command, actor, at)

    def _id(self, reference: str | uuid.UUID) -> uuid.UUID:
        return reference if isinstance(reference, uuid.UUID) else self.resolve(reference)

    def _roster_in_use(self) -> bool:
        if self.indicator_view is None:
            return False
        self.catch_up_indicators()
        return self.indicator_view.has_roster()

    def roster_in_use(self) -> bool:
        """Whether an HR roster has been imported: from then on, only people on it that day
        own cases or sign in as the team's roles (`application.access.accounts`)."""
        return self._roster_in_use()

    def roster(self, login: str) -> AgentState | None:
        """The roster's state of a login (None: never on it), read from its stream."""
        return fold_agent(self.store.stream(agent_stream(login)))

    # The embedding API's commands: each builds its command of `application.case.commands`, with
    # the case named by any reference, and hands it over. No rule lives here.

    def assign(self, reference: str | uuid.UUID, *, agent: str, actor: Actor) -> CommandResult:
        """Give the case to an agent. Once a roster has been imported, only a back-office
        agent on it that day may own cases (a login nobody has, or someone who left, is
        refused with the reason)."""
        return self.handle(AssignCase(case=self._id(reference), agent=agent), actor)

    def interpret(
        self,
        reference: str | uuid.UUID,
        *,
        category: Category,
        subcategory: Subcategory,
        actor: Actor,
    ) -> CommandResult:
        command = InterpretCase(
            case=self._id(reference), category=category, subcategory=subcategory
        )
        return self.handle(command, actor)

    def add_note(self, reference: str | uuid.UUID, *, text: str, actor: Actor) -> CommandResult:
        return self.handle(AddNote(case=self._id(reference), text=text), actor)

    def schedule_follow_up(
        self, reference: str | uuid.UUID, *, due_at: datetime, actor: Actor
    ) -> CommandResult:
        return self.handle(ScheduleFollowUp(case=self._id(reference), due_at=due_at), actor)

    def complete_follow_up(
        self,
        reference: str | uuid.UUID,
        *,
        outcome: str,
        actor: Actor,
        follow_up_id: int | None = None,
    ) -> CommandResult:
        command = CompleteFollowUp(
            case=self._id(reference), outcome=outcome, follow_up_id=follow_up_id
        )
        return self.handle(command, actor)

    def sweep(self, *, worker: str = "sweep", limit: int = 1_000) -> SweepReport:
        """Record every overdue follow-up as missed, once (see `application.jobs.sweep`)."""
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
        command = TypifyCase(
            case=self._id(reference), marking_code=marking_code, resolution=resolution,
            cun=cun, filed_at=filed_at,
        )  # fmt: skip
        return self.handle(command, actor)

    def answer_pqr(
        self, reference: str | uuid.UUID, *, notified_at: datetime, actor: Actor
    ) -> CommandResult:
        """The PQR's answer was notified: its clock stops, the reposición window opens."""
        return self.handle(AnswerPqr(case=self._id(reference), notified_at=notified_at), actor)

    def request_adjustment(
        self, reference: str | uuid.UUID, *, ticket: str, actor: Actor
    ) -> CommandResult:
        """An adjustment typified in DIME: the 72-hour solution clock starts."""
        return self.handle(RequestAdjustment(case=self._id(reference), ticket=ticket), actor)

    def complete_adjustment(
        self, reference: str | uuid.UUID, *, outcome: str, actor: Actor
    ) -> CommandResult:
        return self.handle(CompleteAdjustment(case=self._id(reference), outcome=outcome), actor)

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
        command = Escalate(
            case=self._id(reference), target=target, area=area, reason=reason,
            priority=priority, external_reference=external_reference,
        )  # fmt: skip
        return self.handle(command, actor)

    def answer_escalation(
        self, reference: str | uuid.UUID, *, escalation_id: int, answer: str, actor: Actor
    ) -> CommandResult:
        """The area answered the escalation: its response clock stops."""
        command = AnswerEscalation(
            case=self._id(reference), escalation_id=escalation_id, answer=answer
        )
        return self.handle(command, actor)

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
        command = ScheduleVisit(
            case=self._id(reference), kind=kind, slot_start=slot_start, slot_end=slot_end,
            booking_reference=booking_reference,
        )  # fmt: skip
        return self.handle(command, actor)

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
        command = CompleteClosingProtocol(
            case=self._id(reference), resolution_explained=resolution_explained,
            nothing_else_pending=nothing_else_pending, closing_script_read=closing_script_read,
            survey_invited=survey_invited,
        )  # fmt: skip
        return self.handle(command, actor)

    def close_case(
        self,
        reference: str | uuid.UUID,
        *,
        summary: str,
        actor: Actor,
        first_contact: bool = False,
    ) -> CommandResult:
        """Close the case; `first_contact=True` records it as solved in the first contact."""
        command = CloseCase(case=self._id(reference), summary=summary, first_contact=first_contact)
        return self.handle(command, actor)

    def reopen(self, reference: str | uuid.UUID, *, reason: str, actor: Actor) -> CommandResult:
        return self.handle(ReopenCase(case=self._id(reference), reason=reason), actor)
