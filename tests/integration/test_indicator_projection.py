"""The indicators' projection agrees with the pure functions, resumes, and rebuilds equal."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.indicator_view import open_indicator_view
from application.indicators import report
from application.ports import ConcurrencyConflict, LoggedEvent
from domain.events import CaseEvent
from domain.indicators import Dimension, Period, facts_from
from entrypoints.settings import load_settings
from tests.unit.test_case_properties import histories
from tests.unit.test_indicators import JULY, july_history

EVERYTHING = Period(datetime(2020, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC))
WINDOW = timedelta(days=7)


def logged(events: list[CaseEvent]) -> list[LoggedEvent]:
    return [LoggedEvent(position, event) for position, event in enumerate(events, start=1)]


def memory_view():  # type: ignore[no-untyped-def]
    return open_indicator_view(load_settings(environ={}, database_url="memory").view_env("ind"))


@st.composite
def many_cases(draw: st.DrawFn) -> list[CaseEvent]:
    cases = draw(st.lists(histories(), min_size=1, max_size=4))
    seen: set[uuid.UUID] = set()
    events: list[CaseEvent] = []
    for case in cases:
        if case[0].originator_id not in seen:
            seen.add(case[0].originator_id)
            events.extend(case)
    return events


@given(many_cases(), st.integers(min_value=1, max_value=7))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_projection_and_pure_functions_agree(events: list[CaseEvent], batch: int) -> None:
    view = memory_view()
    try:
        entries = logged(events)
        for start in range(0, len(entries), batch):
            view.project(entries[start : start + batch])
        pure = facts_from(events)
        projected = view.facts(EVERYTHING.start, EVERYTHING.end, WINDOW)
        for by in Dimension:
            assert report(projected, EVERYTHING, by) == report(pure, EVERYTHING, by)
        assert projected.follow_ups == pure.follow_ups
        assert projected.closings == pure.closings
    finally:
        view.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def view_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else "sqlite"
    return load_settings(environ={}, data_dir=str(tmp_path), database_url=url).view_env("ind")


def test_a_crash_mid_catch_up_resumes_without_double_counting(view_env: dict[str, str]) -> None:
    entries = logged(july_history().events)
    expected = report(facts_from(july_history().events), JULY, Dimension.AGENT)
    first = open_indicator_view(view_env)
    first.project(entries[:7])
    first.close()  # the process dies here; its batch of 7 committed with its position
    second = open_indicator_view(view_env)
    assert second.position() == 7
    with pytest.raises(ConcurrencyConflict):
        second.project(entries[5:9])  # re-processing is refused, nothing counted twice
    for start in range(second.position(), len(entries), 3):
        second.project(entries[start : start + 3])
    assert report(second.facts(JULY.start, JULY.end, WINDOW), JULY, Dimension.AGENT) == expected
    second.reset()
    assert second.position() == 0
    for start in range(0, len(entries), 10):
        second.project(entries[start : start + 10])
    assert report(second.facts(JULY.start, JULY.end, WINDOW), JULY, Dimension.AGENT) == expected
    second.close()
