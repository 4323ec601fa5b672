"""The roster and the practice register: decisions, and the indicators they feed."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from domain.calendar import BusinessCalendar
from domain.errors import InvalidValue, RuleViolation
from domain.indicators.definitions import (
    absenteeism,
    attrition,
    first_contact_resolution,
)
from domain.indicators.definitions import (
    practices as practice_compliance,
)
from domain.indicators.facts import (
    Attributes,
    ClosingFact,
    Dimension,
    Facts,
    HandlingFact,
    Period,
    facts_from,
)
from domain.team import practices, roster
from domain.team.practices import Practice
from domain.team.roster import (
    AbsenceRecorded,
    AbsenceWithdrawn,
    AgentJoined,
    AgentLeft,
    AgentMoved,
    AgentState,
    Role,
    ShiftScheduled,
    TeamEvent,
)
from domain.values import Actor, ActorKind

HR = Actor(ActorKind.INTAKE, "nomina")
AT = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
NOVEMBER = Period(
    BusinessCalendar.start_of(date(2026, 11, 1)), BusinessCalendar.start_of(date(2026, 12, 1))
)


class Roster:
    """A log of team events, with each agent's state kept by folding."""

    def __init__(self) -> None:
        self.events: list[TeamEvent] = []
        self.states: dict[str, AgentState | None] = {}

    def record(self, login: str, events: list[Any]) -> list[Any]:
        self.events.extend(events)
        self.states[login] = roster.fold_agent_onto(self.states.get(login), events)
        return events

    def enrol(self, login: str, group: str, role: Role, since: date) -> list[Any]:
        state = self.states.get(login)
        return self.record(
            login,
            roster.enrol(state, agent=login, team=group, role=role, since=since, actor=HR, at=AT),
        )

    def leave(self, login: str, on: date, reason: str | None = None) -> list[Any]:
        state = self.states.get(login)
        return self.record(login, roster.leave(state, left_on=on, reason=reason, actor=HR, at=AT))

    def shift(
        self, login: str, day: date, absence: str | None = None, known: bool = True
    ) -> list[Any]:
        state = self.states.get(login)
        return self.record(
            login,
            roster.schedule_shift(
                state, day=day, starts=time(7), ends=time(15), absence=absence,
                absence_known=known, actor=HR, at=AT,
            ),
        )  # fmt: skip

    def hold(self, owner: str, practice: Practice, when: datetime, key: str) -> None:
        self.events.append(
            practices.hold_practice(
                self.states.get(owner), practice=practice, held_at=when, minutes=15,
                register_key=key, actor=Actor(ActorKind.INTAKE, "registro"), at=AT,
            )
        )  # fmt: skip


def test_the_roster_joins_moves_and_records_leaving_and_says_nothing_twice() -> None:
    r = Roster()
    [joined] = r.enrol("maria.b", "Hogar 1", Role.AGENT, date(2026, 1, 10))
    assert isinstance(joined, AgentJoined)
    assert joined.originator_version == 1
    assert r.enrol("maria.b", "Hogar 1", Role.AGENT, date(2026, 1, 10)) == []
    [moved] = r.enrol("maria.b", "Móvil 2", Role.AGENT, date(2026, 11, 16))
    assert isinstance(moved, AgentMoved)
    assert moved.effective_on == date(2026, 11, 16)
    state = r.states["maria.b"]
    assert state is not None
    assert state.team == "Móvil 2"
    assert state.version == 2
    [left] = r.leave("maria.b", date(2026, 11, 20), "renuncia")
    assert isinstance(left, AgentLeft)
    assert r.leave("maria.b", date(2026, 11, 20)) == []
    with pytest.raises(RuleViolation, match="already left on 2026-11-20"):
        r.leave("maria.b", date(2026, 11, 25))
    with pytest.raises(RuleViolation, match="a rejoin must start after that"):
        r.enrol("maria.b", "Hogar 1", Role.AGENT, date(2026, 11, 20))
    [rejoined] = r.enrol("maria.b", "Hogar 1", Role.AGENT, date(2027, 2, 1))
    assert isinstance(rejoined, AgentJoined)
    assert rejoined.originator_version == 4
    state = r.states["maria.b"]
    assert state is not None
    assert state.left_on is None
    assert state.role_on(date(2026, 12, 1)) is None  # between leaving and rejoining
    assert state.role_on(date(2027, 2, 1)) is Role.AGENT


def test_a_move_cannot_start_before_joining_and_a_name_is_required() -> None:
    r = Roster()
    r.enrol("juan.r", "Hogar 1", Role.AGENT, date(2026, 5, 1))
    with pytest.raises(InvalidValue, match=r"before juan\.r joined"):
        r.enrol("juan.r", "Hogar 2", Role.AGENT, date(2026, 4, 1))
    with pytest.raises(InvalidValue, match="team: must not be empty"):
        r.enrol("juan.r", "  ", Role.AGENT, date(2026, 6, 1))
    with pytest.raises(RuleViolation, match="not on the roster"):
        roster.leave(None, left_on=date(2026, 6, 1), reason=None, actor=HR, at=AT)


def test_shifts_and_absences_are_recorded_once_and_an_export_can_withdraw_an_absence() -> None:
    r = Roster()
    r.enrol("ana.p", "Hogar 1", Role.AGENT, date(2026, 11, 1))
    day = date(2026, 11, 3)
    [scheduled] = r.shift("ana.p", day)
    assert isinstance(scheduled, ShiftScheduled)
    assert r.shift("ana.p", day) == []
    [absent] = r.shift("ana.p", day, "incapacidad")
    assert isinstance(absent, AbsenceRecorded)
    assert absent.reason == "incapacidad"
    assert r.shift("ana.p", day, "incapacidad") == []
    # An export without the absence column leaves the absence alone…
    assert r.shift("ana.p", day, None, known=False) == []
    # …one with the column empty says the agent was there after all.
    [withdrawn] = r.shift("ana.p", day, None)
    assert isinstance(withdrawn, AbsenceWithdrawn)
    with pytest.raises(RuleViolation, match="not on the roster on 2026-10-31"):
        r.shift("ana.p", date(2026, 10, 31))


def test_a_practice_is_held_by_a_leader_whose_role_owns_it() -> None:
    r = Roster()
    r.enrol("sup.a", "Hogar 1", Role.SUPERVISOR, date(2026, 1, 1))
    r.enrol("maria.b", "Hogar 1", Role.AGENT, date(2026, 1, 1))
    when = datetime(2026, 11, 3, 13, 0, tzinfo=UTC)
    r.hold("sup.a", Practice.DAILY_DIALOGUE, when, "R-1")
    held = r.events[-1]
    assert isinstance(held, practices.PracticeHeld)
    assert held.originator_id == practices.practice_stream("R-1")
    with pytest.raises(
        RuleViolation, match=r"maria\.b had the role agent; daily_dialogue is held by"
    ):
        r.hold("maria.b", Practice.DAILY_DIALOGUE, when, "R-2")
    with pytest.raises(RuleViolation, match="client_meeting is held by: coordinator"):
        r.hold("sup.a", Practice.CLIENT_MEETING, when, "R-3")
    with pytest.raises(RuleViolation, match="not on the roster on 2025-12-31"):
        r.hold("sup.a", Practice.DAILY_DIALOGUE, datetime(2025, 12, 31, 15, tzinfo=UTC), "R-4")


def november_team() -> Roster:
    """Two teams in November 2026: four agents, a supervisor, a coordinator."""
    r = Roster()
    r.enrol("sup.a", "Hogar 1", Role.SUPERVISOR, date(2026, 1, 1))
    r.enrol("coord.c", "Hogar 1", Role.COORDINATOR, date(2026, 1, 1))
    for login, group in (("maria.b", "Hogar 1"), ("juan.r", "Hogar 1"), ("ana.p", "Móvil 2")):
        r.enrol(login, group, Role.AGENT, date(2026, 1, 1))
    r.enrol("luis.g", "Móvil 2", Role.AGENT, date(2026, 11, 16))  # joins mid-month
    r.leave("juan.r", date(2026, 11, 20), "renuncia")
    r.enrol("ana.p", "Hogar 1", Role.AGENT, date(2026, 11, 23))  # moves team
    # Week of 2–6 November: 5 shifts each for maria, juan, ana, the supervisor.
    for n in range(5):
        day = date(2026, 11, 2) + timedelta(days=n)
        r.shift("maria.b", day, "incapacidad" if n < 2 else None)
        r.shift("juan.r", day)
        r.shift("ana.p", day, "calamidad" if n == 4 else None)
        r.shift("sup.a", day, "vacaciones" if n == 0 else None)
    return r


def test_ausentismo_counts_absent_over_scheduled_agent_days_of_agents_only() -> None:
    facts = facts_from(november_team().events)
    [total] = absenteeism(facts, NOVEMBER).values()
    assert (total.scheduled, total.absent) == (15, 3)  # the supervisor's shifts do not count
    assert total.ausentismo == pytest.approx(0.2)
    by_agent = absenteeism(facts, NOVEMBER, Dimension.AGENT)
    assert {k: (v.scheduled, v.absent) for k, v in by_agent.items()} == {
        "ana.p": (5, 1),
        "juan.r": (5, 0),
        "maria.b": (5, 2),
    }
    by_team = absenteeism(facts, NOVEMBER, Dimension.TEAM)
    assert {k: (v.scheduled, v.absent) for k, v in by_team.items()} == {
        "Hogar 1": (10, 2),
        "Móvil 2": (5, 1),  # ana was in Móvil 2 that week
    }
    assert absenteeism(facts, NOVEMBER, Dimension.CATEGORY) == {}


def test_rotacion_counts_agents_who_left_over_agents_on_the_roster_in_the_period() -> None:
    facts = facts_from(november_team().events)
    [total] = attrition(facts, NOVEMBER).values()
    assert (total.active, total.left) == (4, 1)  # maria, juan, ana, luis; juan left
    by_team = attrition(facts, NOVEMBER, Dimension.TEAM)
    assert {k: (v.active, v.left) for k, v in by_team.items()} == {
        "Hogar 1": (3, 1),  # maria, juan (left), ana (since the 23rd)
        "Móvil 2": (1, 0),  # luis
    }
    october = Period(
        BusinessCalendar.start_of(date(2026, 10, 1)), BusinessCalendar.start_of(date(2026, 11, 1))
    )
    [before] = attrition(facts, october).values()
    assert (before.active, before.left) == (3, 0)


def test_practice_compliance_caps_each_unit_at_its_goal() -> None:
    r = november_team()
    # Daily dialogue: the supervisor worked 4 days (2–6 Nov, one absent); held on 3 of them,
    # twice on one day (counts once).
    for day, key in ((3, "D1"), (4, "D2"), (4, "D2b"), (5, "D3")):
        r.hold("sup.a", Practice.DAILY_DIALOGUE, datetime(2026, 11, day, 13, tzinfo=UTC), key)
    # Weekly: observation is 3 a week for a coordinator; November has 4 ISO weeks whose
    # Thursday falls in it (5, 12, 19, 26). Held 4 times in the first week, once in the second.
    for day, key in ((2, "O1"), (3, "O2"), (4, "O3"), (5, "O4"), (10, "O5")):
        r.hold(
            "coord.c", Practice.PRACTICE_OBSERVATION, datetime(2026, 11, day, 15, tzinfo=UTC), key
        )
    facts = facts_from(r.events)
    rows = practice_compliance(facts, NOVEMBER, Dimension.AGENT)
    daily = rows[("sup.a", Practice.DAILY_DIALOGUE)]
    assert (daily.due, daily.held, daily.held_total, daily.minutes) == (4, 3, 4, 60)
    observed = rows[("coord.c", Practice.PRACTICE_OBSERVATION)]
    assert (observed.due, observed.held, observed.held_total) == (12, 4, 5)
    assert observed.compliance == pytest.approx(4 / 12)
    # The coordinator's weekly dialogue is due every week and was never held.
    assert rows[("coord.c", Practice.WEEKLY_DIALOGUE)].due == 4
    assert rows[("coord.c", Practice.WEEKLY_DIALOGUE)].held == 0
    # Fortnightly: two half-months in November; half-yearly: none ends in November.
    assert rows[("coord.c", Practice.CLIENT_MEETING)].due == 2
    assert ("coord.c", Practice.BAROMETER_MEETING) not in rows
    # Agents hold no practices.
    assert not [key for key in rows if key[0] == "maria.b"]
    by_team = practice_compliance(facts, NOVEMBER, Dimension.TEAM)
    assert by_team[("Hogar 1", Practice.DAILY_DIALOGUE)] == daily
    december = Period(NOVEMBER.end, BusinessCalendar.start_of(date(2027, 1, 1)))
    assert practice_compliance(facts, december)[("total", Practice.BAROMETER_MEETING)].due == 2


def test_a_month_to_date_counts_a_running_unit_only_once_its_goal_is_met() -> None:
    r = november_team()
    for day, key in ((2, "O1"), (3, "O2"), (4, "O3"), (10, "O5")):  # week 1 met; week 2: 1 of 3
        r.hold(
            "coord.c", Practice.PRACTICE_OBSERVATION, datetime(2026, 11, day, 15, tzinfo=UTC), key
        )
    facts = facts_from(r.events)
    # On Wednesday 11 November: week 1 (2-8) is over and met; week 2 (9-15) runs, 1 of 3 held,
    # so it is not due yet; weeks 3 and 4 have not begun.
    to_date = practice_compliance(facts, NOVEMBER, Dimension.AGENT, date(2026, 11, 11))
    observed = to_date[("coord.c", Practice.PRACTICE_OBSERVATION)]
    assert (observed.due, observed.held, observed.held_total) == (3, 3, 4)
    assert observed.compliance == 1.0
    # A weekly dialogue never held: no week of it is over yet on Monday the 2nd...
    monday = practice_compliance(facts, NOVEMBER, Dimension.AGENT, date(2026, 11, 2))
    assert ("coord.c", Practice.WEEKLY_DIALOGUE) not in monday
    # ...one is missed once its week has ended, and all four once the month is over.
    assert to_date[("coord.c", Practice.WEEKLY_DIALOGUE)].due == 1
    whole = practice_compliance(facts, NOVEMBER, Dimension.AGENT)
    assert whole[("coord.c", Practice.WEEKLY_DIALOGUE)].due == 4
    assert whole[("coord.c", Practice.PRACTICE_OBSERVATION)].due == 12


def test_case_indicators_group_by_the_agents_team_on_the_day() -> None:
    r = november_team()
    facts = facts_from(r.events)

    def case(agent: str, day: int) -> uuid.UUID:
        return uuid.uuid5(roster.agent_stream(agent), str(day))

    def closing(agent: str, day: int) -> ClosingFact:
        at = datetime(2026, 11, day, 15, tzinfo=UTC)
        return ClosingFact(case(agent, day), 9, at, True, "A", "T", Attributes(agent))

    def handling(agent: str, day: int) -> HandlingFact:
        at = datetime(2026, 11, day, 14, tzinfo=UTC)
        return HandlingFact(case(agent, day), at.date(), at, Attributes(agent))

    worked = (("ana.p", 10), ("ana.p", 25), ("nadie.x", 10), ("ana.p", 26))
    facts = Facts(
        closings=tuple(closing(*w) for w in worked[:3]),
        handlings=tuple(handling(*w) for w in worked),
        placements=facts.placements,
        leavings=facts.leavings,
    )
    by_team = first_contact_resolution(facts, NOVEMBER, Dimension.TEAM)
    assert {k: (v.handled, v.first_contact) for k, v in by_team.items()} == {
        "(sin equipo)": (1, 1),
        "Hogar 1": (2, 1),  # her team from the 25th; the case handled on the 26th is open
        "Móvil 2": (1, 1),
    }


def test_a_move_dated_before_an_earlier_move_counts_from_its_own_date() -> None:
    r = Roster()
    r.enrol("pedro.l", "Hogar 1", Role.AGENT, date(2026, 1, 1))
    r.enrol("pedro.l", "Hogar 1", Role.SUPERVISOR, date(2026, 9, 1))
    r.enrol("pedro.l", "Hogar 2", Role.COORDINATOR, date(2026, 6, 1))  # recorded late
    state = r.states["pedro.l"]
    assert state is not None
    assert state.role_on(date(2026, 5, 31)) is Role.AGENT
    assert state.role_on(date(2026, 7, 1)) is Role.COORDINATOR
    assert state.role_on(date(2026, 9, 2)) is Role.SUPERVISOR
    assert (state.team, state.role) == ("Hogar 1", Role.SUPERVISOR)  # the latest start
    assert r.enrol("pedro.l", "Hogar 1", Role.SUPERVISOR, date(2026, 9, 1)) == []
    roster = facts_from(r.events).roster
    assert roster.placement("pedro.l", date(2026, 7, 1)) == ("Hogar 2", Role.COORDINATOR)
    assert roster.placement("pedro.l", date(2026, 9, 2)) == ("Hogar 1", Role.SUPERVISOR)


def test_the_same_roster_rows_again_record_nothing_even_after_leaving_or_rejoining() -> None:
    r = Roster()
    # A roster export with the history of one agent: two stints, a move in the first.
    rows = [
        ("Hogar 1", Role.AGENT, date(2025, 1, 1), None),
        ("Hogar 2", Role.AGENT, date(2025, 3, 1), date(2025, 6, 30)),
        ("Móvil 2", Role.SUPERVISOR, date(2026, 2, 1), None),
    ]
    for _ in range(3):
        recorded = []
        for group, role, since, left in rows:
            recorded += r.enrol("ana.p", group, role, since)
            if left is not None:
                recorded += r.leave("ana.p", left)
        if _ == 0:
            assert [type(e).__name__ for e in recorded] == [
                "AgentJoined", "AgentMoved", "AgentLeft", "AgentJoined",
            ]  # fmt: skip
        else:
            assert recorded == []
    state = r.states["ana.p"]
    assert state is not None
    assert state.role_on(date(2025, 6, 30)) is Role.AGENT
    assert state.role_on(date(2025, 7, 1)) is None
    assert state.role_on(date(2026, 2, 1)) is Role.SUPERVISOR


def test_a_last_day_before_a_later_move_is_refused() -> None:
    r = Roster()
    r.enrol("ana.p", "Hogar 1", Role.AGENT, date(2025, 1, 1))
    r.enrol("ana.p", "Hogar 2", Role.AGENT, date(2025, 3, 1))
    with pytest.raises(RuleViolation, match="moved team or role on 2025-03-01"):
        r.leave("ana.p", date(2025, 2, 15))


def test_a_roster_row_is_recorded_whole_or_not_at_all(tmp_path: Path) -> None:
    from application.team.imports import RosterRecord, import_roster
    from entrypoints.bootstrap import bootstrap
    from entrypoints.settings import load_settings

    def row(group: str, since: date, left: date | None) -> RosterRecord:
        return RosterRecord(
            agent="ana.p", team=group, role=Role.AGENT, since=since, left_on=left,
            leave_reason=None, location=f"nomina.csv:{since.month}",
        )  # fmt: skip

    settings = load_settings(environ={}, data_dir=str(tmp_path), database_url="memory")
    with bootstrap(settings) as office:
        rows = [row("Hogar 1", date(2025, 1, 1), None), row("Hogar 2", date(2025, 9, 1), None)]
        assert import_roster(office, rows).created == 2
        # A move dated before the September one, with a last day before September too: the
        # move alone would be valid, the leaving is not; neither is recorded.
        report = import_roster(office, [row("Hogar 3", date(2025, 6, 1), date(2025, 7, 31))])
        assert report.rejected_count == 1
        assert "moved team or role on 2025-09-01" in str(report.rejected[0])
        assert len(office.store.stream(roster.agent_stream("ana.p"))) == 2
        # A domain error on a field names the field once, with the row's place.
        early = import_roster(office, [row("Hogar 4", date(2024, 12, 1), None)])
        assert [str(r) for r in early.rejected] == [
            "nomina.csv:12: since: 2024-12-01 is before ana.p joined (2025-01-01)"
        ]


def test_a_shift_export_says_something_about_absences_only_when_it_has_the_column(
    tmp_path: Path,
) -> None:
    from adapters.intake.team import ShiftReader
    from application.team.imports import ShiftRecord

    with_column = tmp_path / "with.csv"
    with_column.write_text(
        "asesor;fecha;hora_inicio;hora_fin;novedad\n"
        "maria.b;27/11/2026;07:00;16:00;\n"
        "maria.b;28/11/2026;07:00;16:00;incapacidad\n",
        encoding="utf-8",
    )
    without = tmp_path / "without.csv"
    without.write_text(
        "asesor;fecha;hora_inicio;hora_fin\nmaria.b;27/11/2026;07:00;16:00\n", encoding="utf-8"
    )
    present, absent = ShiftReader(with_column).items()
    [silent] = ShiftReader(without).items()
    assert isinstance(present, ShiftRecord)
    assert isinstance(absent, ShiftRecord)
    assert isinstance(silent, ShiftRecord)
    assert (present.absence, present.absence_known) == (None, True)  # withdraws one recorded
    assert (absent.absence, absent.absence_known) == ("incapacidad", True)
    assert (silent.absence, silent.absence_known) == (None, False)  # leaves absences alone


def test_superscript_digits_are_a_bad_time_not_a_traceback(tmp_path: Path) -> None:
    """Issue: '²' passes `str.isdigit` and then broke `int`."""
    from adapters.intake.team import ShiftReader
    from application.intake.records import RejectedRow

    path = tmp_path / "shifts.csv"
    path.write_text("asesor;fecha;hora_inicio;hora_fin\nana.p;03/11/2026;0²:00;16:00\n",
                    encoding="utf-8")  # fmt: skip
    [refused] = ShiftReader(path).items()
    assert isinstance(refused, RejectedRow)
    assert refused.field is not None
    assert "is not a time" in refused.reason
