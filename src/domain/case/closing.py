"""Closing a case (docs/procedure.md §8): the closing protocol, closing in the first contact or
after handling, and reopening. Decisions like the others of `domain.case.decisions`: they take
the case's state and return events or raise a `DomainError`.
"""

from __future__ import annotations

from datetime import datetime

from domain.case.decisions import clean_text, new_event, require_open
from domain.case.events import (
    CaseEvent,
    ClockStopped,
    Closed,
    ClosedFirstContact,
    ClosingProtocolCompleted,
    Reopened,
)
from domain.case.state import CaseState, Escalation, FollowUpStatus, apply
from domain.errors import RuleViolation
from domain.values import (
    Actor,
    ClockKind,
    EscalationTarget,
    Resolution,
)


def complete_closing_protocol(
    state: CaseState,
    *,
    resolution_explained: bool,
    nothing_else_pending: bool,
    closing_script_read: bool,
    survey_invited: bool,
    actor: Actor,
    at: datetime,
) -> list[CaseEvent]:
    """All four checks of §8 must be confirmed; the error names the ones that were not."""
    require_open(state, "record the closing protocol")
    checks = {
        "resolution explained to the customer": resolution_explained,
        "nothing else pending confirmed": nothing_else_pending,
        "closing script read": closing_script_read,
        "survey invitation given": survey_invited,
    }
    missing = [name for name, done in checks.items() if not done]
    if missing:
        raise RuleViolation("the closing protocol is incomplete: missing " + "; ".join(missing))
    return [
        new_event(
            ClosingProtocolCompleted,
            state,
            actor,
            at,
            resolution_explained=True,
            nothing_else_pending=True,
            closing_script_read=True,
            survey_invited=True,
        )
    ]


def _ready_to_close(state: CaseState, action: str) -> None:
    require_open(state, action)
    if state.resolution is None:
        raise RuleViolation(f"{action}: typify the case (marking and resolution) first")
    if not state.protocol_completed:
        raise RuleViolation(f"{action}: record the closing protocol first")
    pending = state.pending_follow_ups
    if pending:
        if len(pending) == 1:
            raise RuleViolation(
                f"{action}: follow-up #{pending[0].follow_up_id} still pending; complete it first"
            )
        ids = ", ".join(f"#{f.follow_up_id}" for f in pending)
        raise RuleViolation(f"{action}: follow-ups {ids} still pending; complete them first")
    blocking = [
        c for c in state.running_clocks if c.kind in (ClockKind.PQR_RESPONSE, ClockKind.ADJUSTMENT)
    ]
    if blocking:
        kinds = ", ".join(c.kind.value for c in blocking)
        raise RuleViolation(f"{action}: {kinds} still running; answer or complete it first")


def gives_priority(escalation: Escalation) -> bool:
    """An escalation to the contact matrix's area after a check found an inconsistency: made
    to give the customer's incident priority (docs/procedure.md §4, "con el fin de dar prioridad a
    la
    incidencia"), it does not by itself rule out a first-contact closing when the customer
    accepts the explanation (§4, closing decision 1)."""
    return escalation.target is EscalationTarget.CONTACT_MATRIX_AREA and (
        escalation.after_inconsistency
    )


def first_contact_blockers(state: CaseState) -> list[str]:
    """Why this case could not be closed as solved in first contact (empty when it can)."""
    reasons = []
    if any(not gives_priority(e) for e in state.escalations):
        reasons.append("it was escalated")
    if state.visits:
        reasons.append("a technical visit was scheduled")
    if state.agent_scheduled_follow_up:
        reasons.append("a further follow-up was scheduled")
    if any(f.status is FollowUpStatus.MISSED for f in state.follow_ups):
        reasons.append("a follow-up was missed")
    if state.resolution is Resolution.CUN:
        reasons.append("its marking generated a CUN")
    if any(c.kind is ClockKind.ADJUSTMENT for c in state.clocks):
        reasons.append("an adjustment was requested")
    return reasons


def close_first_contact(
    state: CaseState, *, summary: str, actor: Actor, at: datetime
) -> list[CaseEvent]:
    _ready_to_close(state, "closing in first contact")
    blockers = first_contact_blockers(state)
    if blockers:
        raise RuleViolation(
            "not a first-contact resolution: " + "; ".join(blockers) + " (close it normally)"
        )
    stops, state = _stop_waiting(state, actor, at)
    closed = new_event(
        ClosedFirstContact,
        state,
        actor,
        at,
        summary=clean_text("summary", summary, max_length=4_000),
    )
    return [*stops, closed]


def _stop_waiting(
    state: CaseState, actor: Actor, at: datetime
) -> tuple[list[CaseEvent], CaseState]:
    """Answers still awaited from areas stop waiting: the case is done."""
    events: list[CaseEvent] = []
    for clock in state.running_clocks:
        if clock.kind is ClockKind.ESCALATION_RESPONSE:
            stop = new_event(
                ClockStopped, state, actor, at, clock_id=clock.clock_id, reason="caso cerrado"
            )
            events.append(stop)
            state = apply(state, stop)
    return events, state


def close(state: CaseState, *, summary: str, actor: Actor, at: datetime) -> list[CaseEvent]:
    """Close the case; answers still awaited from areas stop waiting (the case is done)."""
    _ready_to_close(state, "closing")
    events, state = _stop_waiting(state, actor, at)
    closed = new_event(
        Closed, state, actor, at, summary=clean_text("summary", summary, max_length=4_000)
    )
    return [*events, closed]


def reopen(state: CaseState, *, reason: str, actor: Actor, at: datetime) -> list[CaseEvent]:
    if state.is_open:
        raise RuleViolation("the case is open; only a closed case can be reopened")
    return [
        new_event(Reopened, state, actor, at, reason=clean_text("reason", reason, max_length=2_000))
    ]
