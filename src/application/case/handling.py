"""Running the commands on a case: load, decide through the domain, append, retry.

`CaseCommands.handle(command, actor)` is the one path of every command of
`application.case.commands`; `execute(case_id, decide)` the one retry loop, which the branch desks,
the sweep, intake and the outbox use for what they decide themselves. Each command's decision
is one function of the domain (`DECIDERS`), given the state, the command and the moment's
context; what holds for a command before any case is loaded (an agent on the roster) is
checked first.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import Any

import attrs

from application.case.commands import (
    MAX_ATTEMPTS,
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
    MarkFollowUpMissed,
    ReopenCase,
    RequestAdjustment,
    ScheduleFollowUp,
    ScheduleVisit,
    StaleCase,
    SweepClock,
    TooMuchContention,
    TypifyCase,
    check_moments,
)
from application.case.markings import Marking, check_marking
from application.indicators.report import DEFAULT_INDICATOR_RULES, IndicatorRules
from application.ports.cases import CaseStore, Clock, ConcurrencyConflict
from domain.calendar import BusinessCalendar
from domain.case import closing, deadlines, decisions
from domain.case.deadlines import DeadlineRules
from domain.case.decisions import DEFAULT_FOLLOW_UP_RULES, RR_NOTE_MAX_LENGTH, FollowUpRules
from domain.case.events import CaseEvent
from domain.case.state import CaseState, fold
from domain.errors import CaseNotFound, InvalidValue, RuleViolation
from domain.team import roster
from domain.values import Actor


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

    def deadline_rules(self) -> DeadlineRules:
        """The business calendar and clocks; refused when none is configured."""
        if self.deadlines is None:
            raise RuleViolation("no business calendar is configured: clocks cannot be computed")
        return self.deadlines


@attrs.frozen
class Context:
    """What a decision may know besides the case and the command: who, when, the rules."""

    actor: Actor
    at: datetime
    policies: Policies


Decide = Callable[[CaseState], list[CaseEvent]]
Decider = Callable[[CaseState, Any, Context], list[CaseEvent]]


def _typify(s: CaseState, c: TypifyCase, x: Context) -> list[CaseEvent]:
    if x.policies.markings is not None:
        check_marking(x.policies.markings, s, c.marking_code, c.resolution)
    return deadlines.typify(
        s, marking_code=c.marking_code, resolution=c.resolution, cun=c.cun,
        filed_at=c.filed_at, rules=x.policies.deadlines, actor=x.actor, at=x.at,
    )  # fmt: skip


def _close(s: CaseState, c: CloseCase, x: Context) -> list[CaseEvent]:
    close = closing.close_first_contact if c.first_contact else closing.close
    return close(s, summary=c.summary, actor=x.actor, at=x.at)


DECIDERS: dict[type[Any], Decider] = {
    AssignCase: lambda s, c, x: decisions.assign(s, agent=c.agent, actor=x.actor, at=x.at),
    InterpretCase: lambda s, c, x: decisions.interpret(
        s, category=c.category, subcategory=c.subcategory, actor=x.actor, at=x.at
    ),
    AddNote: lambda s, c, x: decisions.add_note(
        s, text=c.text, actor=x.actor, at=x.at, rr_note_max_length=x.policies.rr_note_max_length
    ),
    ScheduleFollowUp: lambda s, c, x: decisions.schedule_follow_up(
        s, due_at=c.due_at, actor=x.actor, at=x.at
    ),
    CompleteFollowUp: lambda s, c, x: decisions.complete_follow_up(
        s,
        follow_up_id=c.follow_up_id,
        outcome=c.outcome,
        actor=x.actor,
        at=x.at,
        rules=x.policies.follow_up,
    ),
    MarkFollowUpMissed: lambda s, c, x: decisions.mark_follow_up_missed(
        s, follow_up_id=c.follow_up_id, actor=x.actor, at=x.at, rules=x.policies.follow_up
    ),
    TypifyCase: _typify,
    AnswerPqr: lambda s, c, x: deadlines.answer_pqr(
        s, notified_at=c.notified_at, rules=x.policies.deadline_rules(), actor=x.actor, at=x.at
    ),
    RequestAdjustment: lambda s, c, x: deadlines.request_adjustment(
        s, ticket=c.ticket, rules=x.policies.deadline_rules(), actor=x.actor, at=x.at
    ),
    CompleteAdjustment: lambda s, c, x: deadlines.complete_adjustment(
        s, outcome=c.outcome, actor=x.actor, at=x.at
    ),
    SweepClock: lambda s, c, x: deadlines.sweep_clock(
        s, clock_id=c.clock_id, actor=x.actor, at=x.at
    ),
    Escalate: lambda s, c, x: deadlines.escalate(
        s,
        target=c.target,
        area=c.area,
        reason=c.reason,
        priority=c.priority,
        external_reference=c.external_reference,
        rules=x.policies.deadlines,
        actor=x.actor,
        at=x.at,
    ),
    AnswerEscalation: lambda s, c, x: deadlines.answer_escalation(
        s, escalation_id=c.escalation_id, answer=c.answer, actor=x.actor, at=x.at
    ),
    ScheduleVisit: lambda s, c, x: decisions.schedule_visit(
        s,
        kind=c.kind,
        slot_start=c.slot_start,
        slot_end=c.slot_end,
        booking_reference=c.booking_reference,
        actor=x.actor,
        at=x.at,
    ),
    CompleteClosingProtocol: lambda s, c, x: closing.complete_closing_protocol(
        s,
        resolution_explained=c.resolution_explained,
        nothing_else_pending=c.nothing_else_pending,
        closing_script_read=c.closing_script_read,
        survey_invited=c.survey_invited,
        actor=x.actor,
        at=x.at,
    ),
    CloseCase: _close,
    ReopenCase: lambda s, c, x: closing.reopen(s, reason=c.reason, actor=x.actor, at=x.at),
}
"""Each command's decision, through the domain."""


class CaseCommands:
    """Handles the commands on cases over the store: the application's one retry loop."""

    def __init__(
        self,
        store: CaseStore,
        clock: Clock,
        policies: Policies,
        roster_in_use: Callable[[], bool] = lambda: False,
    ) -> None:
        self.store = store
        self.clock = clock
        self.policies = policies
        self.roster_in_use = roster_in_use

    def handle(
        self, command: CaseCommand, actor: Actor, *, expected_version: int | None = None
    ) -> CommandResult:
        """Run `command` as `actor` now (the sweep's commands at their own moment).
        `expected_version`: the version the caller saw; when the case is at another one (or
        moves on while this decides), `StaleCase` and nothing is recorded."""
        check_moments(command)
        at = getattr(command, "at", None) or self.clock.now()
        if isinstance(command, AssignCase):
            self._check_assignable(command.agent, at)

        def decide(state: CaseState) -> list[CaseEvent]:
            if expected_version is not None and state.version != expected_version:
                raise StaleCase(state.case_id, expected_version, state.version)
            return self.decide(state, command, actor, at)

        return self.execute(command.case, decide)

    def decide(
        self, state: CaseState, command: CaseCommand, actor: Actor, at: datetime
    ) -> list[CaseEvent]:
        """The events `command` records on `state`, nothing appended: for a caller that
        records them with others in one append (a write's answer and what follows from it)."""
        return DECIDERS[type(command)](state, command, Context(actor, at, self.policies))

    def execute(self, case_id: uuid.UUID, decide: Decide) -> CommandResult:
        """Load the case, decide, append; on a conflict (someone appended first), again."""
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

    def _check_assignable(self, agent: str, at: datetime) -> None:
        """Once a roster is in use, only a back-office agent on it that day owns cases."""
        login = agent.strip()
        if not login:
            raise InvalidValue("agent", "must not be empty")
        member = roster.fold_agent(self.store.stream(roster.agent_stream(login)))
        why = roster.not_assignable(login, member, BusinessCalendar.local_date(at))
        if why is not None and self.roster_in_use():
            raise RuleViolation(f"cannot assign the case: {why}")
