"""The indicators' projection agrees with the pure functions, resumes, and rebuilds equal."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time as wall
import uuid
from collections.abc import Sequence
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.indicator_view import open_indicator_view
from application.indicators.report import IndicatorReport, IndicatorView, report
from application.ports.cases import ConcurrencyConflict, LoggedEvent
from domain.case import decisions, records
from domain.case.events import CaseEvent, MailFailed
from domain.case.state import fold
from domain.errors import DomainError
from domain.indicators.facts import (
    FACT_EVENTS,
    Dimension,
    Period,
    facts_from,
)
from domain.team import practices, roster
from domain.team.practices import Practice
from domain.team.roster import (
    AgentState,
    Role,
    TeamEvent,
)
from domain.values import INTAKE, Actor, ActorKind
from entrypoints.settings import load_settings
from tests.unit.test_case_properties import T0, histories
from tests.unit.test_indicators import JUAN, JULY, MARIA, History, july_history
from tests.unit.test_indicators import T0 as JULY_T0
from tests.unit.test_team import NOVEMBER, november_team

EVERYTHING = Period(datetime(2020, 1, 1, tzinfo=UTC), datetime(2030, 1, 1, tzinfo=UTC))
WINDOW = timedelta(days=7)


def logged(events: Sequence[CaseEvent | TeamEvent]) -> list[LoggedEvent]:
    return [LoggedEvent(position, event) for position, event in enumerate(events, start=1)]


def memory_view() -> IndicatorView:
    return open_indicator_view(load_settings(environ={}, database_url="memory").view_env("ind"))


HR = Actor(ActorKind.INTAKE, "nomina")
LOGINS = ["maria.b", "juan.r", "sup.a", "coord.c"]
DAY0 = date(2026, 7, 1)


@st.composite
def team_history(draw: st.DrawFn) -> list[TeamEvent]:
    """Random roster, shift and register commands around July 2026; refused ones leave no
    trace, as in an import."""
    states: dict[str, AgentState | None] = {}
    events: list[TeamEvent] = []
    days = st.integers(-40, 60).map(lambda n: DAY0 + timedelta(days=n))
    for _ in range(draw(st.integers(0, 30))):
        login = draw(st.sampled_from(LOGINS))
        state = states.get(login)
        kind = draw(st.sampled_from(["enrol", "enrol", "leave", "shift", "shift", "practice"]))
        try:
            if kind == "enrol":
                new: list[Any] = roster.enrol(
                    state, agent=login, team=draw(st.sampled_from(["Hogar 1", "Móvil 2"])),
                    role=draw(st.sampled_from(list(Role))), since=draw(days), actor=HR, at=T0,
                )  # fmt: skip
            elif kind == "leave":
                new = roster.leave(state, left_on=draw(days), reason=None, actor=HR, at=T0)
            elif kind == "shift":
                new = roster.schedule_shift(
                    state, day=draw(days), starts=time(7), ends=time(draw(st.integers(12, 18))),
                    absence=draw(st.sampled_from([None, "incapacidad", "calamidad"])),
                    absence_known=draw(st.booleans()), actor=HR, at=T0,
                )  # fmt: skip
            else:
                moment = datetime.combine(draw(days), time(15), tzinfo=UTC)
                new = [
                    practices.hold_practice(
                        state, practice=draw(st.sampled_from(list(Practice))), held_at=moment,
                        minutes=30, register_key=f"R-{len(events)}", actor=HR, at=T0,
                    )
                ]  # fmt: skip
        except DomainError:
            continue
        if kind != "practice":
            states[login] = roster.fold_agent_onto(state, new)
        events.extend(new)
    return events


@st.composite
def many_cases(draw: st.DrawFn) -> list[CaseEvent | TeamEvent]:
    cases = draw(st.lists(histories(), min_size=1, max_size=4))
    seen: set[uuid.UUID] = set()
    events: list[CaseEvent | TeamEvent] = []
    for case in cases:
        if case[0].originator_id not in seen:
            seen.add(case[0].originator_id)
            events.extend(case)
    # The roster's events interleave with the cases' (each stream keeps its order).
    for event in draw(team_history()):
        events.insert(draw(st.integers(0, len(events))), event)
    return sorted_streams(events)


def sorted_streams(events: list[CaseEvent | TeamEvent]) -> list[CaseEvent | TeamEvent]:
    """Keep each stream's versions in order after the random interleaving."""
    by_stream: dict[uuid.UUID, list[CaseEvent | TeamEvent]] = {}
    for event in events:
        by_stream.setdefault(event.originator_id, []).append(event)
    for stream in by_stream.values():
        stream.sort(key=lambda e: e.originator_version)
    cursors = {stream: iter(evs) for stream, evs in by_stream.items()}
    return [next(cursors[e.originator_id]) for e in events]


PERIODS = [
    EVERYTHING,
    Period(datetime(2026, 7, 1, 5, tzinfo=UTC), datetime(2026, 8, 1, 5, tzinfo=UTC)),
    Period(datetime(2026, 7, 13, 5, tzinfo=UTC), datetime(2026, 7, 20, 5, tzinfo=UTC)),
]


@given(many_cases(), st.integers(min_value=1, max_value=7))
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_projection_and_pure_functions_agree(
    events: list[CaseEvent | TeamEvent], batch: int
) -> None:
    view = memory_view()
    try:
        entries = logged(events)
        for start in range(0, len(entries), batch):
            view.project(entries[start : start + batch])
        pure = facts_from(events)
        for period in PERIODS:
            projected = view.facts(period.start, period.end, WINDOW)
            for by in Dimension:
                assert report(projected, period, by) == report(pure, period, by)
        projected = view.facts(EVERYTHING.start, EVERYTHING.end, WINDOW)
        assert projected.follow_ups == pure.follow_ups
        assert projected.closings == pure.closings
        assert projected.placements == pure.placements
        assert projected.shifts == pure.shifts
        assert projected.absences == pure.absences
        assert projected.practices == pure.practices
    finally:
        view.close()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def view_env(request: pytest.FixtureRequest, tmp_path: Path) -> dict[str, str]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else "sqlite"
    return load_settings(environ={}, data_dir=str(tmp_path), database_url=url).view_env("ind")


def test_a_crash_mid_catch_up_resumes_without_double_counting(view_env: dict[str, str]) -> None:
    # July's cases and November's roster, shifts and practices, in one log.
    roster = november_team()
    for day, key in ((3, "D1"), (4, "D2"), (10, "D3")):
        roster.hold("sup.a", Practice.DAILY_DIALOGUE, datetime(2026, 11, day, 13, tzinfo=UTC), key)
    events: list[CaseEvent | TeamEvent] = [*july_history().events, *roster.events]
    entries = logged(events)
    pure = facts_from(events)
    wanted = [(JULY, Dimension.AGENT), (NOVEMBER, Dimension.TEAM), (NOVEMBER, Dimension.AGENT)]

    def numbers(view: IndicatorView) -> list[IndicatorReport]:
        return [
            report(view.facts(period.start, period.end, WINDOW), period, by)
            for period, by in wanted
        ]

    expected = [report(pure, period, by) for period, by in wanted]
    assert expected[1].ausentismo["Hogar 1"].absent == 2  # the numbers are not empty
    first = open_indicator_view(view_env)
    first.project(entries[:7])
    first.close()  # the process dies here; its batch of 7 committed with its position
    second = open_indicator_view(view_env)
    assert second.position() == 7
    with pytest.raises(ConcurrencyConflict):
        second.project(entries[5:9])  # re-processing is refused, nothing counted twice
    for start in range(second.position(), len(entries), 3):
        second.project(entries[start : start + 3])
    assert numbers(second) == expected
    second.reset()
    assert second.position() == 0
    for start in range(0, len(entries), 10):
        second.project(entries[start : start + 10])
    assert numbers(second) == expected
    second.close()


def test_catching_up_skips_the_kinds_it_does_not_use_and_still_moves_past_them(
    tmp_path: Path,
) -> None:
    from entrypoints.bootstrap import bootstrap

    roster = november_team()
    history = july_history().events
    last = history[-1]
    case = fold(None, [e for e in history if e.originator_id == last.originator_id])
    assert case is not None
    bounced = records.record_mail_failure(
        case, message_id="<m.1@x>", purpose="escalation", recipients=("a@x.co",),
        reason="550 no such user", actor=Actor(ActorKind.OUTBOX, "outbox"), at=last.timestamp,
    )  # fmt: skip
    events: list[CaseEvent | TeamEvent] = [*history, *roster.events, *bounced]
    office = bootstrap(load_settings(environ={}, data_dir=str(tmp_path), database_url="sqlite"))
    try:
        office.store.append(events)
        head = office.store.last_position()
        assert office.catch_up_indicators(batch_size=4) == head  # every position passed
        assert office.indicator_view is not None
        assert office.indicator_view.position() == head  # past the trailing bounce too
        wanted = office.store.read_log(0, 10_000, kinds=FACT_EVENTS)
        assert 0 < len(wanted) < head
        assert not any(isinstance(e.event, MailFailed) for e in wanted)
        pure = facts_from(events)
        for period, by in ((JULY, Dimension.AGENT), (NOVEMBER, Dimension.TEAM)):
            assert office.indicators(period, by) == report(pure, period, by, now=office.clock.now())
        assert office.rebuild("indicators") == head
        assert office.indicators(NOVEMBER, Dimension.TEAM) == report(pure, NOVEMBER, Dimension.TEAM)
    finally:
        office.close()


def busy_log(cases: int) -> list[CaseEvent | TeamEvent]:
    """Enough cases that a catch-up in small batches takes a few seconds, plus the roster."""
    day = timedelta(days=1)
    events: list[CaseEvent | TeamEvent] = []
    for i in range(cases):
        h = History()
        key, who = f"K{i}", (MARIA, JUAN)[i % 2]
        when = JULY_T0 + timedelta(hours=i % 300)
        h.ingest(key, str(1000 + i % 150), when + day, when)
        h.do(key, decisions.assign, agent=who.name, actor=who, at=when)
        if i % 3:
            late = timedelta(hours=5) if i % 5 == 0 else timedelta(0)
            h.do(key, decisions.complete_follow_up, outcome="ok", actor=who, at=when + day + late)
        else:
            h.do(
                key,
                decisions.mark_follow_up_missed,
                follow_up_id=1,
                actor=INTAKE,
                at=when + 3 * day,
            )
        h.close(key, who, when + 3 * day, first_contact=i % 3 != 0 and i % 4 != 0)
        events.extend(h.events)
    return [*events, *november_team().events]


CATCH_UP_CHILD = """
import sys
from entrypoints.bootstrap import bootstrap
from entrypoints.settings import load_settings
office = bootstrap(load_settings(environ={}, data_dir=sys.argv[1], database_url=sys.argv[2]))
print("started", flush=True)
office.catch_up_indicators(batch_size=3)
print("finished", flush=True)
"""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_url")
        return url
    return "sqlite"


def test_a_catch_up_killed_mid_way_resumes_without_double_counting(
    database_url: str, tmp_path: Path
) -> None:
    from entrypoints.bootstrap import bootstrap

    settings = load_settings(environ={}, data_dir=str(tmp_path / "data"), database_url=database_url)
    events = busy_log(500)
    office = bootstrap(settings)
    try:
        for start in range(0, len(events), 1_000):
            office.store.append(events[start : start + 1_000])
        head = office.store.last_position()
        assert office.indicator_view is not None
        child = subprocess.Popen(
            [sys.executable, "-c", CATCH_UP_CHILD, str(settings.data_dir), settings.database_url],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
        )
        try:
            assert child.stdout is not None
            assert child.stdout.readline().strip() == "started"
            deadline = wall.monotonic() + 60
            while office.indicator_view.position() < head // 4:
                assert wall.monotonic() < deadline, "the child never got going"
                assert child.poll() is None, "the child finished before it could be killed"
                wall.sleep(0.01)
            child.send_signal(signal.SIGKILL)  # no clean-up, mid-transaction or between two
        finally:
            child.wait(timeout=30)
        stopped = office.indicator_view.position()
        assert head // 4 <= stopped < head
        assert office.catch_up_indicators() == head - stopped  # resumes where it stopped
        pure = facts_from(events)
        for period, by in ((JULY, Dimension.AGENT), (NOVEMBER, Dimension.TEAM)):
            assert office.indicators(period, by) == report(pure, period, by, now=office.clock.now())
    finally:
        office.close()


def test_the_sample_month_reads_the_same_from_the_projection_and_the_pure_functions(
    tmp_path: Path,
) -> None:
    from bench.month import MONTH, simulate

    office = simulate(tmp_path / "month", seed=7)
    try:
        events = [logged.event for logged in office.store.read_log(0, 1_000_000)]
        pure = facts_from(events)
        period = Period(
            datetime.combine(MONTH[0], time(5), tzinfo=UTC),
            datetime.combine(MONTH[1], time(5), tzinfo=UTC),
        )
        for by in Dimension:
            assert office.indicators(period, by) == report(pure, period, by, now=office.clock.now())
        month = office.indicators(period)
        assert month.seguimientos["total"].missed > 0
        assert month.fcr["total"].repeated > 0
        assert month.nps["total"].answers > 0
        assert month.ausentismo["total"].absent > 0
        assert month.practices[("total", Practice.DAILY_DIALOGUE)].held > 0
    finally:
        office.close()


def test_two_catch_ups_at_once_both_finish_and_count_each_event_once(
    database_url: str, tmp_path: Path
) -> None:
    from entrypoints.bootstrap import bootstrap

    settings = load_settings(environ={}, data_dir=str(tmp_path / "data"), database_url=database_url)
    events = busy_log(300)
    office = bootstrap(settings)
    try:
        office.store.append(events)
        children = [
            subprocess.Popen(
                [sys.executable, "-c", CATCH_UP_CHILD, str(settings.data_dir), database_url],
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
                env={**os.environ, "PYTHONPATH": os.pathsep.join(sys.path)},
            )
            for _ in range(2)
        ]
        for child in children:
            out, err = child.communicate(timeout=120)
            assert child.returncode == 0, err
            assert out.split() == ["started", "finished"]
        assert office.indicator_view is not None
        assert office.indicator_view.position() == office.store.last_position()
        pure = facts_from(events)
        for period, by in ((JULY, Dimension.AGENT), (NOVEMBER, Dimension.TEAM)):
            assert office.indicators(period, by) == report(pure, period, by, now=office.clock.now())
    finally:
        office.close()


def test_a_batch_read_before_a_rebuild_reset_is_refused(view_env: dict[str, str]) -> None:
    entries = logged(july_history().events)
    view = open_indicator_view(view_env)
    try:
        view.project(entries[:5])
        batch = entries[5:9]  # read from position 5 …
        view.reset()  # … while a rebuild started from zero
        with pytest.raises(ConcurrencyConflict):
            view.project(batch, after=5)
        assert view.position() == 0  # positions 1–5 are not skipped
        view.project(entries[:4], after=0)
        assert view.position() == 4
    finally:
        view.close()
