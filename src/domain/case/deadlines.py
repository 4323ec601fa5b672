"""The deadlines a case carries besides its follow-ups, and the decisions on them.

- PQR response: every PQR carries a CUN from filing and must be answered within 15 business
  days counted from the next business day; a warning from business day 12; late means
  *silencio administrativo positivo* (docs/procedure.md §6).
- Recurso de reposición: the customer has 10 business days from the answer's notification.
- Adjustment (SAC, docs/procedure.md §4): the customer has a solution within 72 calendar hours;
  [decision] a warning at 48 hours.

The numbers are configuration (`RegulatoryClocks`), each with its source; the business days
come from a `BusinessCalendar`. A clock starts, may be warned once and breached once, and
stops when its work is done. Warnings and breaches are the sweep's decisions: idempotent.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs

from domain.calendar import BusinessCalendar
from domain.case.decisions import escalate as record_escalation
from domain.case.decisions import escalation_reference, new_event
from domain.case.decisions import typify as record_typification
from domain.case.events import CaseEvent, ClockBreached, ClockStarted, ClockStopped, ClockWarned
from domain.case.state import CaseState, Clock, fold
from domain.errors import RuleViolation
from domain.values import Actor, ClockKind, EscalationTarget, Priority, Resolution


@attrs.frozen(kw_only=True)
class RegulatoryClocks:
    pqr_response_business_days: int = 15
    pqr_warning_business_day: int = 12
    reposicion_business_days: int = 10
    adjustment_hours: int = 72
    adjustment_warning_hours: int = 48
    escalation_response_hours: tuple[tuple[Priority, int], ...] = (
        (Priority.URGENT, 4),
        (Priority.HIGH, 24),
        (Priority.NORMAL, 48),
        (Priority.LOW, 72),
    )
    """[decision] how long an area has to answer an escalation, by priority (calendar hours)."""
    source: str = "CRC Res. 5111 de 2017 (PQR), procedure §4 (72 h); secondary sources"

    def __attrs_post_init__(self) -> None:
        if not 0 < self.pqr_warning_business_day <= self.pqr_response_business_days:
            raise ValueError("the PQR warning day must fall within the response days")
        if not 0 < self.adjustment_warning_hours <= self.adjustment_hours:
            raise ValueError("the adjustment warning must come before its deadline")
        if self.reposicion_business_days < 1:
            raise ValueError("the reposición window must be at least one business day")
        if {p for p, _ in self.escalation_response_hours} != set(Priority):
            raise ValueError("every priority needs an escalation response time")

    def escalation_hours(self, priority: Priority) -> int:
        return dict(self.escalation_response_hours)[priority]


@attrs.frozen
class DeadlineRules:
    calendar: BusinessCalendar
    clocks: RegulatoryClocks = RegulatoryClocks()


def _start(
    state: CaseState,
    kind: ClockKind,
    *,
    started_at: datetime,
    warn_at: datetime | None,
    due_at: datetime,
    rule: str,
    reference: str | None,
    actor: Actor,
    at: datetime,
) -> ClockStarted:
    return new_event(
        ClockStarted,
        state,
        actor,
        at,
        clock_id=max((c.clock_id for c in state.clocks), default=0) + 1,
        kind=kind,
        started_at=started_at,
        warn_at=warn_at,
        due_at=due_at,
        rule=rule,
        reference=reference,
    )


def _stop(state: CaseState, clock_id: int, reason: str, actor: Actor, at: datetime) -> ClockStopped:
    return new_event(ClockStopped, state, actor, at, clock_id=clock_id, reason=reason)


def _running(state: CaseState, kind: ClockKind) -> Clock | None:
    return next((c for c in state.running_clocks if c.kind is kind), None)


def start_pqr_response(
    state: CaseState, *, rules: DeadlineRules, actor: Actor, at: datetime
) -> list[CaseEvent]:
    """After a marking that generates a CUN: the response clock, unless one already runs."""
    if state.resolution is not Resolution.CUN or state.cun is None:
        return []
    running = _running(state, ClockKind.PQR_RESPONSE)
    if running is not None and running.reference == state.cun:
        return []
    c = rules.clocks
    filed = state.cun_filed_at or max(at, state.updated_at)  # radicación (docs/procedure.md §6)
    return [
        _start(
            state,
            ClockKind.PQR_RESPONSE,
            started_at=filed,
            warn_at=rules.calendar.start_of(
                rules.calendar.nth_business_day(filed, c.pqr_warning_business_day)
            ),
            due_at=rules.calendar.deadline(filed, c.pqr_response_business_days),
            rule=f"respuesta PQR: {c.pqr_response_business_days} días hábiles desde el día "
            f"hábil siguiente a la radicación; alerta desde el día {c.pqr_warning_business_day}"
            f" ({c.source})",
            reference=state.cun,
            actor=actor,
            at=at,
        )
    ]


def answer_pqr(
    state: CaseState,
    *,
    notified_at: datetime,
    rules: DeadlineRules,
    actor: Actor,
    at: datetime,
) -> list[CaseEvent]:
    """The PQR was answered and notified: its clock stops, the reposición window opens."""
    running = _running(state, ClockKind.PQR_RESPONSE)
    if running is None:
        raise RuleViolation("the case has no PQR waiting for an answer")
    if notified_at < running.started_at:
        raise RuleViolation("the answer cannot be notified before the PQR was filed")
    c = rules.clocks
    late = " (fuera de término)" if notified_at > running.due_at else ""
    stopped = _stop(
        state, running.clock_id, f"respuesta notificada {notified_at.isoformat()}{late}", actor, at
    )
    after = attrs.evolve(state, version=state.version + 1, updated_at=stopped.timestamp)
    window = _start(
        after,
        ClockKind.REPOSICION,
        started_at=notified_at,
        warn_at=None,
        due_at=rules.calendar.deadline(notified_at, c.reposicion_business_days),
        rule=f"recurso de reposición: {c.reposicion_business_days} días hábiles desde la "
        f"notificación ({c.source})",
        reference=running.reference,
        actor=actor,
        at=at,
    )
    return [stopped, window]


def check_adjustment(state: CaseState) -> None:
    """The case's rules for an adjustment request, before DIME is asked for a ticket."""
    if not state.is_open:
        raise RuleViolation("the case is closed: reopen it before requesting an adjustment")
    if _running(state, ClockKind.ADJUSTMENT) is not None:
        raise RuleViolation("an adjustment is already pending on this case")


def request_adjustment(
    state: CaseState, *, ticket: str, rules: DeadlineRules, actor: Actor, at: datetime
) -> list[CaseEvent]:
    """An adjustment request (typified in DIME): the customer's 72-hour solution clock. The
    same ticket again is a no-op (a re-run command)."""
    ticket = ticket.strip()
    if not ticket:
        raise RuleViolation("an adjustment request needs its DIME ticket")
    running = _running(state, ClockKind.ADJUSTMENT)
    if running is not None and running.reference == ticket:
        return []
    check_adjustment(state)
    c = rules.clocks
    started = max(at, state.updated_at)
    return [
        _start(
            state,
            ClockKind.ADJUSTMENT,
            started_at=started,
            warn_at=started + timedelta(hours=c.adjustment_warning_hours),
            due_at=started + timedelta(hours=c.adjustment_hours),
            rule=f"ajuste: solución en {c.adjustment_hours} horas calendario ({c.source})",
            reference=ticket,
            actor=actor,
            at=at,
        )
    ]


def complete_adjustment(
    state: CaseState, *, outcome: str, actor: Actor, at: datetime
) -> list[CaseEvent]:
    running = _running(state, ClockKind.ADJUSTMENT)
    if running is None:
        raise RuleViolation("the case has no pending adjustment")
    return [_stop(state, running.clock_id, outcome.strip() or "ajuste aplicado", actor, at)]


def sweep_clock(state: CaseState, *, clock_id: int, actor: Actor, at: datetime) -> list[CaseEvent]:
    """The sweep's decision on one clock: warn once, breach once, nothing otherwise."""
    clock = state.clock(clock_id)
    if not clock.running:
        return []
    now = max(at, state.updated_at)
    version = state.version + 1
    if clock.kind is ClockKind.REPOSICION:
        if now <= clock.due_at:
            return []
        # The customer's window ended: nothing is late, the clock just stops.
        return [_stop(state, clock_id, "plazo de reposición vencido", actor, at)]
    if now > clock.due_at and not clock.breached:
        events: list[CaseEvent] = []
        if clock.warn_at is not None and not clock.warned:
            # No sweep ran between the warning and the breach: the warning is still owed, and
            # comes first, so no alert is silently skipped.
            events.append(
                ClockWarned(
                    originator_id=state.case_id, originator_version=version, timestamp=now,
                    actor=actor, clock_id=clock_id, due_at=clock.due_at,
                )
            )  # fmt: skip
        events.append(
            ClockBreached(
                originator_id=state.case_id, originator_version=version + len(events),
                timestamp=now, actor=actor, clock_id=clock_id, due_at=clock.due_at,
            )
        )  # fmt: skip
        return events
    if clock.warn_at is not None and now >= clock.warn_at and not (clock.warned or clock.breached):
        return [
            ClockWarned(
                originator_id=state.case_id, originator_version=version, timestamp=now,
                actor=actor, clock_id=clock_id, due_at=clock.due_at,
            )
        ]  # fmt: skip
    return []


ANSWERED_BY_AN_AREA = frozenset(
    {
        EscalationTarget.CONTACT_MATRIX_AREA,
        EscalationTarget.RESPONSIBLE_AREA,
        EscalationTarget.DIME,
        EscalationTarget.DIAGNOSTICADOR,
        EscalationTarget.TECHNICAL_VISIT,
        EscalationTarget.OPERATION_CRM,
    }
)
"""Escalations a Claro area must answer (not the customer's technician, not a summary)."""


def start_escalation_response(
    state: CaseState, *, rules: DeadlineRules, actor: Actor, at: datetime
) -> list[CaseEvent]:
    """After an escalation to an area: the area's response clock, by priority (§10)."""
    if not state.escalations:
        return []
    escalation = state.escalations[-1]
    reference = escalation_reference(escalation.escalation_id)
    if escalation.target not in ANSWERED_BY_AN_AREA or any(
        c.reference == reference for c in state.clocks
    ):
        return []
    hours = rules.clocks.escalation_hours(escalation.priority)
    started = max(at, state.updated_at)
    return [
        _start(
            state,
            ClockKind.ESCALATION_RESPONSE,
            started_at=started,
            warn_at=None,
            due_at=started + timedelta(hours=hours),
            rule=f"respuesta de {escalation.area} en {hours} horas (prioridad "
            f"{escalation.priority.value})",
            reference=reference,
            actor=actor,
            at=at,
        )
    ]


def answer_escalation(
    state: CaseState, *, escalation_id: int, answer: str, actor: Actor, at: datetime
) -> list[CaseEvent]:
    """The area answered: its response clock stops."""
    reference = escalation_reference(escalation_id)
    clock = next((c for c in state.running_clocks if c.reference == reference), None)
    if clock is None:
        raise RuleViolation(f"no answer is awaited for escalation #{escalation_id}")
    reason = f"respuesta del área: {answer.strip() or 'recibida'}"
    return [_stop(state, clock.clock_id, reason, actor, at)]


# --- commands whose facts start a clock -----------------------------------------------------


def typify(
    state: CaseState,
    *,
    marking_code: str,
    resolution: Resolution,
    cun: str | None,
    filed_at: datetime | None,
    rules: DeadlineRules | None,
    actor: Actor,
    at: datetime,
) -> list[CaseEvent]:
    """The typification (`decisions.typify`); one that generates a CUN also starts its PQR's
    response clock (§9), when a business calendar is configured."""
    events = record_typification(
        state, marking_code=marking_code, resolution=resolution, cun=cun, actor=actor, at=at,
        filed_at=filed_at,
    )  # fmt: skip
    if rules is None or resolution is not Resolution.CUN:
        return events
    after = fold(state, events)
    assert after is not None
    return events + start_pqr_response(after, rules=rules, actor=actor, at=at)


def escalate(
    state: CaseState,
    *,
    target: EscalationTarget,
    area: str,
    reason: str,
    priority: Priority,
    external_reference: str | None,
    rules: DeadlineRules | None,
    actor: Actor,
    at: datetime,
) -> list[CaseEvent]:
    """The escalation (`decisions.escalate`); one to an area also starts that area's response
    clock (§10), when a business calendar is configured."""
    events = record_escalation(
        state, target=target, area=area, reason=reason, priority=priority,
        external_reference=external_reference, actor=actor, at=at,
    )  # fmt: skip
    if rules is None:
        return events
    after = fold(state, events)
    assert after is not None
    return events + start_escalation_response(after, rules=rules, actor=actor, at=at)
