"""Deadlines: exact due times on the Bogotá business calendar; warn once, breach once."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from adapters.calendar_co import colombian_calendar
from domain.case import closing, deadlines, decisions
from domain.case.deadlines import DeadlineRules, RegulatoryClocks
from domain.case.events import ClockBreached, ClockStarted, ClockStopped, ClockWarned
from domain.errors import RuleViolation
from domain.values import Actor, Category, ClockKind, Resolution, Subcategory
from tests.unit.test_case_decisions import Scenario, ingested

RULES = DeadlineRules(colombian_calendar(2026, 2027))
AGENT = Actor.agent("sofia.t")
SWEEP = Actor.parse("sweep:w1")
FILED = datetime(2026, 7, 17, 3, 0, tzinfo=UTC)  # Thursday 16 July 2026, 22:00 in Bogotá


def pqr_case() -> Scenario:
    s = Scenario(ingested(None))
    s.when(
        lambda c: decisions.interpret(
            c, category=Category.PQR, subcategory=Subcategory.QUEJA_RECLAMO, actor=AGENT, at=FILED
        )
    )
    s.when(
        lambda c: decisions.typify(
            c,
            marking_code="PQR-1",
            resolution=Resolution.CUN,
            cun="4436-26-0004512",
            actor=AGENT,
            at=FILED,
        )
    )
    return s


def test_a_cun_starts_the_15_business_day_response_clock_from_the_bogota_date() -> None:
    s = pqr_case()
    [started] = s.when(
        lambda c: deadlines.start_pqr_response(c, rules=RULES, actor=AGENT, at=FILED)
    )
    assert isinstance(started, ClockStarted)
    assert started.kind is ClockKind.PQR_RESPONSE
    assert started.reference == "4436-26-0004512"
    # Day 1 is Friday 17 July; 20 July and 7 August are holidays: day 12 is Tuesday 4 August,
    # day 15 is Monday 10 August (ending at 23:59:59.999999 in Bogotá).
    assert started.warn_at == datetime(2026, 8, 4, 5, 0, tzinfo=UTC)
    assert started.due_at == datetime(2026, 8, 11, 4, 59, 59, 999_999, tzinfo=UTC)
    assert "15 días hábiles" in started.rule
    assert deadlines.start_pqr_response(s.state, rules=RULES, actor=AGENT, at=FILED) == []


def test_the_sweep_warns_once_and_breaches_once() -> None:
    s = pqr_case()
    s.when(lambda c: deadlines.start_pqr_response(c, rules=RULES, actor=AGENT, at=FILED))
    clock = s.state.clocks[0]
    warn_at = clock.warn_at
    assert warn_at is not None

    def sweep(at: datetime) -> list[object]:
        return list(s.when(lambda c: deadlines.sweep_clock(c, clock_id=1, actor=SWEEP, at=at)))

    assert sweep(warn_at - timedelta(seconds=1)) == []
    [warned] = sweep(warn_at)
    assert isinstance(warned, ClockWarned)
    assert sweep(warn_at + timedelta(days=1)) == []
    assert sweep(clock.due_at) == []  # due at the very end of day 15: not late yet
    [breached] = sweep(clock.due_at + timedelta(microseconds=1))
    assert isinstance(breached, ClockBreached)
    assert sweep(clock.due_at + timedelta(days=3)) == []
    assert s.state.clocks[0].warned
    assert s.state.clocks[0].breached


def test_answering_stops_the_clock_and_opens_the_reposicion_window() -> None:
    s = pqr_case()
    s.when(lambda c: deadlines.start_pqr_response(c, rules=RULES, actor=AGENT, at=FILED))
    notified = datetime(2026, 7, 24, 20, 0, tzinfo=UTC)  # Friday 24 July, 15:00 Bogotá
    stopped, window = s.when(
        lambda c: deadlines.answer_pqr(
            c, notified_at=notified, rules=RULES, actor=AGENT, at=notified
        )
    )
    assert isinstance(stopped, ClockStopped)
    assert isinstance(window, ClockStarted)
    assert window.kind is ClockKind.REPOSICION
    assert window.due_at == datetime(2026, 8, 11, 4, 59, 59, 999_999, tzinfo=UTC)  # 10 August
    assert [c.running for c in s.state.clocks] == [False, True]
    with pytest.raises(RuleViolation, match="no PQR waiting"):
        s.when(
            lambda c: deadlines.answer_pqr(
                c, notified_at=notified, rules=RULES, actor=AGENT, at=notified
            )
        )
    # The window ends by itself: stopped, not breached.
    [closed] = s.when(
        lambda c: deadlines.sweep_clock(c, clock_id=2, actor=SWEEP, at=window.due_at + timedelta(1))
    )
    assert isinstance(closed, ClockStopped)


def test_a_running_response_or_adjustment_blocks_the_closing() -> None:
    s = pqr_case()
    s.when(lambda c: deadlines.start_pqr_response(c, rules=RULES, actor=AGENT, at=FILED))
    s.when(
        lambda c: closing.complete_closing_protocol(
            c,
            resolution_explained=True,
            nothing_else_pending=True,
            closing_script_read=True,
            survey_invited=True,
            actor=AGENT,
            at=FILED,
        )
    )
    with pytest.raises(RuleViolation, match="pqr_response still running"):
        s.when(lambda c: closing.close(c, summary="x", actor=AGENT, at=FILED))
    s.when(lambda c: deadlines.answer_pqr(c, notified_at=FILED, rules=RULES, actor=AGENT, at=FILED))
    assert s.when(lambda c: closing.close(c, summary="respondida", actor=AGENT, at=FILED))


def test_the_adjustment_has_72_calendar_hours_and_warns_at_48() -> None:
    s = Scenario(ingested(None))
    [started] = s.when(
        lambda c: deadlines.request_adjustment(
            c, ticket="DIME-7781", rules=RULES, actor=AGENT, at=FILED
        )
    )
    assert isinstance(started, ClockStarted)
    assert (started.warn_at, started.due_at) == (
        FILED + timedelta(hours=48),
        FILED + timedelta(hours=72),
    )
    with pytest.raises(RuleViolation, match="already pending"):
        s.when(
            lambda c: deadlines.request_adjustment(
                c, ticket="DIME-2", rules=RULES, actor=AGENT, at=FILED
            )
        )
    [done] = s.when(
        lambda c: deadlines.complete_adjustment(c, outcome="Ajuste aplicado", actor=AGENT, at=FILED)
    )
    assert isinstance(done, ClockStopped)
    assert "an adjustment was requested" in closing.first_contact_blockers(s.state)


def test_regulatory_numbers_are_checked() -> None:
    with pytest.raises(ValueError, match="warning day"):
        RegulatoryClocks(pqr_response_business_days=10, pqr_warning_business_day=12)
    with pytest.raises(ValueError, match="adjustment warning"):
        RegulatoryClocks(adjustment_warning_hours=80)


def test_an_escalation_to_an_area_waits_for_its_answer_by_priority() -> None:
    from domain.values import EscalationTarget, Priority

    s = Scenario(ingested(None))
    at = FILED

    def escalate(target: EscalationTarget, priority: Priority) -> None:
        s.when(
            lambda c: decisions.escalate(
                c,
                target=target,
                area="Cartera",
                reason="x",
                priority=priority,
                external_reference=None,
                actor=AGENT,
                at=at,
            )
        )
        s.when(lambda c: deadlines.start_escalation_response(c, rules=RULES, actor=AGENT, at=at))

    escalate(EscalationTarget.CONTACT_MATRIX_AREA, Priority.URGENT)
    escalate(EscalationTarget.TRUSTED_TECHNICIAN, Priority.LOW)  # nobody at Claro to answer
    [clock] = s.state.running_clocks
    assert (clock.kind, clock.reference) == (ClockKind.ESCALATION_RESPONSE, "escalamiento #1")
    assert clock.due_at == FILED + timedelta(hours=4)
    assert clock.warn_at is None
    assert (
        s.when(
            lambda c: deadlines.sweep_clock(
                c, clock_id=1, actor=SWEEP, at=FILED + timedelta(hours=4)
            )
        )
        == []
    )
    [late] = s.when(
        lambda c: deadlines.sweep_clock(c, clock_id=1, actor=SWEEP, at=FILED + timedelta(hours=5))
    )
    assert isinstance(late, ClockBreached)
    [stopped] = s.when(
        lambda c: deadlines.answer_escalation(
            c,
            escalation_id=1,
            answer="Reconexión hecha",
            actor=AGENT,
            at=FILED + timedelta(hours=6),
        )
    )
    assert isinstance(stopped, ClockStopped)
    with pytest.raises(RuleViolation, match="no answer is awaited"):
        s.when(
            lambda c: deadlines.answer_escalation(
                c, escalation_id=2, answer="x", actor=AGENT, at=FILED
            )
        )


def test_closing_stops_the_answers_still_awaited() -> None:
    from domain.values import EscalationTarget, Priority

    s = Scenario(ingested(None))
    s.when(
        lambda c: decisions.interpret(
            c, category=Category.SAC, subcategory=Subcategory.CARTERA, actor=AGENT, at=FILED
        )
    )
    s.when(
        lambda c: decisions.escalate(
            c,
            target=EscalationTarget.CONTACT_MATRIX_AREA,
            area="Cartera",
            reason="x",
            priority=Priority.HIGH,
            external_reference=None,
            actor=AGENT,
            at=FILED,
        )
    )
    s.when(lambda c: deadlines.start_escalation_response(c, rules=RULES, actor=AGENT, at=FILED))
    s.when(
        lambda c: decisions.typify(
            c,
            marking_code="M",
            resolution=Resolution.FIRST_CONTACT,
            cun=None,
            actor=AGENT,
            at=FILED,
        )
    )
    s.when(
        lambda c: closing.complete_closing_protocol(
            c,
            resolution_explained=True,
            nothing_else_pending=True,
            closing_script_read=True,
            survey_invited=True,
            actor=AGENT,
            at=FILED,
        )
    )
    stop, closed = s.when(lambda c: closing.close(c, summary="ok", actor=AGENT, at=FILED))
    assert isinstance(stop, ClockStopped)
    assert stop.reason == "caso cerrado"
    assert s.state.running_clocks == ()
    assert not s.state.is_open
    assert closed.originator_version == stop.originator_version + 1
