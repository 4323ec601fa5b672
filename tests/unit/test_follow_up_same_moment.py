"""One pending follow-up per moment on a case: a second one at the same time is refused."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from domain.case import decisions
from domain.case.events import CaseEvent, FollowUpScheduled
from domain.case.state import CaseState, fold
from domain.errors import RuleViolation
from domain.values import INTAKE, Actor, Channel, LineOfBusiness, SourceKey

T0 = datetime(2026, 7, 15, 14, 0, tzinfo=UTC)
AGENT = Actor.agent("maria.b")
DUE = T0 + timedelta(days=2)


def _case(*, follow_up_at: datetime | None = None) -> list[CaseEvent]:
    return [
        decisions.ingest(
            source=SourceKey(Channel.CRM, "CRM-7001"),
            received_at=T0 - timedelta(hours=1),
            account="8012345678",
            line=LineOfBusiness.HOGAR,
            customer_name="Ana Pérez",
            typification="Falla internet",
            request="Sin servicio",
            follow_up_at=follow_up_at,
            front_agent=None,
            recommended_by=None,
            actor=INTAKE,
            at=T0,
        )
    ]


def _state(history: list[CaseEvent]) -> CaseState:
    state = fold(None, history)
    assert state is not None
    return state


def _schedule(history: list[CaseEvent], due_at: datetime) -> list[CaseEvent]:
    events = decisions.schedule_follow_up(_state(history), due_at=due_at, actor=AGENT, at=T0)
    history.extend(events)
    return events


def test_a_second_pending_follow_up_at_the_same_moment_is_refused() -> None:
    history = _case()
    [first] = _schedule(history, DUE)
    assert isinstance(first, FollowUpScheduled)
    with pytest.raises(RuleViolation) as refused:
        _schedule(history, DUE)
    # One line, naming the follow-up already there and its time as agents read it.
    assert str(refused.value) == "follow-up #1 is already pending at 2026-07-17 09:00 Bogotá"
    assert len(_state(history).pending_follow_ups) == 1


def test_the_same_moment_written_in_another_zone_is_the_same_moment() -> None:
    history = _case()
    _schedule(history, DUE)
    bogota = timezone(timedelta(hours=-5))
    with pytest.raises(RuleViolation, match="already pending"):
        _schedule(history, DUE.astimezone(bogota))


def test_the_intake_follow_up_counts_too() -> None:
    history = _case(follow_up_at=DUE)
    with pytest.raises(RuleViolation, match="follow-up #1 is already pending"):
        _schedule(history, DUE)


def test_another_moment_or_a_follow_up_no_longer_pending_is_not_a_duplicate() -> None:
    history = _case()
    _schedule(history, DUE)
    [other] = _schedule(history, DUE + timedelta(minutes=30))
    assert isinstance(other, FollowUpScheduled)
    assert other.follow_up_id == 2
    # Follow-up #1 done: the same moment may be booked again (a new call-back).
    history.extend(
        decisions.complete_follow_up(
            _state(history), follow_up_id=1, outcome="Cliente pide otra llamada", actor=AGENT,
            at=T0 + timedelta(hours=1),
        )
    )  # fmt: skip
    [again] = _schedule(history, DUE)
    assert isinstance(again, FollowUpScheduled)
    assert again.follow_up_id == 3
