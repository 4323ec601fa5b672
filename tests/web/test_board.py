"""The supervisor's board, in process: each panel from data made by commands, the panels
fetched again after the sweep, the reassignment of an absent agent's cases, and who may not
open it."""

from __future__ import annotations

import re
import uuid
from datetime import date, time, timedelta
from typing import Any

import pytest

from adapters.clock import FixedClock
from adapters.memory import InMemoryCaseIndex
from application.case.commands import (
    AnswerEscalation,
    AssignCase,
    Escalate,
    RequestAdjustment,
    ScheduleFollowUp,
)
from application.ports.cases import RunningClock
from application.service import Backoffice
from application.team.imports import RosterRecord, ShiftRecord, import_roster, import_shifts
from domain.case.decisions import escalation_reference, new_event
from domain.case.events import Assigned, ClockStarted
from domain.case.state import CaseState
from domain.errors import RuleViolation
from domain.team.roster import Role
from domain.values import Actor, ClockKind, EscalationTarget, Priority
from entrypoints.web import board
from tests.conftest import record
from tests.web.conftest import Console

SUPERVISOR = Actor.agent("sofia.t")
TODAY = date(2026, 7, 15)  # tests.conftest.T0 in Bogotá: Wednesday 15 July 2026, 09:00
DAYS = 4
LATER = timedelta(hours=49)
"""Friday 10:00: the follow-ups due on Thursday at 09:00 are a day late (missed), an urgent
escalation's 4 hours are long gone, a 72-hour adjustment is past its 48-hour warning."""


def _english(console: Console) -> None:
    console.client.cookies.set("console_lang", "en")


def _team(office: Backoffice) -> None:
    """The roster: sofia.t supervises; maria.b, carlos.m and ana.p are agents. Every day of
    the week maria.b is absent, the others on the 07:00–16:00 shift."""
    people = {"sofia.t": Role.SUPERVISOR, "maria.b": Role.AGENT, "carlos.m": Role.AGENT,
              "ana.p": Role.AGENT}  # fmt: skip
    report = import_roster(office, [
        RosterRecord(agent=login, team="Premium Hogar", role=role, since=date(2025, 1, 6),
                     left_on=None, leave_reason=None, location=f"roster:{n}")
        for n, (login, role) in enumerate(people.items(), 1)
    ])  # fmt: skip
    assert report.created == len(people)
    shifts = [
        ShiftRecord(agent=login, day=TODAY + timedelta(days=d), starts=time(7), ends=time(16),
                    absence="Incapacidad" if login == "maria.b" else None,
                    absence_known=True, location=f"shifts:{login}:{d}")
        for login in people for d in range(DAYS)
    ]  # fmt: skip
    import_shifts(office, shifts)


def _work(office: Backoffice) -> None:
    """CRM-1 is maria.b's, CRM-2 carlos.m's (escalated to Facturación, urgent, and waiting
    for an adjustment), CRM-3 nobody's."""
    office.handle(AssignCase(case=office.resolve("CRM-1"), agent="maria.b"), SUPERVISOR)
    crm2 = office.resolve("CRM-2")
    office.handle(AssignCase(case=crm2, agent="carlos.m"), SUPERVISOR)
    office.handle(Escalate(case=crm2, target=EscalationTarget.RESPONSIBLE_AREA,
                           area="Facturación", reason="Cobro no reconocido",
                           priority=Priority.URGENT), Actor.agent("carlos.m"))  # fmt: skip
    office.handle(RequestAdjustment(case=crm2, ticket="DIME-77"), Actor.agent("carlos.m"))


def _section(page: str, name: str) -> str:
    found = re.search(rf'id="{name}".*?</section>', page, re.DOTALL)
    assert found is not None, f"no section {name}"
    return found.group(0)


def _row(page: str, row_id: str) -> str:
    found = re.search(rf'<tr id="{re.escape(row_id)}">(.*?)</tr>', page, re.DOTALL)
    assert found is not None, f"no row {row_id}"
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1))).strip()


def _reassign(console: Console, absent: str, receivers: list[str]) -> Any:
    """Send the reassignment form with several agents ticked to receive."""
    data = {"csrf": console.csrf, "absent": absent, "to": receivers}
    answer = console.client.post("/console/board/reassign", data=data, follow_redirects=True)
    console.page = answer.text
    return answer


def test_the_board_shows_each_panel_from_the_cases_and_the_roster(
    console: Console, clock: FixedClock
) -> None:
    office = console.office
    _team(office)
    _work(office)
    clock.advance(LATER)
    report = office.sweep()
    assert (report.missed, report.warned, report.breached) == (3, 1, 1)
    again = ScheduleFollowUp(case=office.resolve("CRM-2"), due_at=clock.now() + timedelta(hours=5))
    office.handle(again, Actor.agent("carlos.m"))  # carlos.m calls the customer again at 15:00

    console.sign_in("sofia.t")
    _english(console)
    answer = console.get("/console/board")
    assert answer.status_code == 200
    page = console.page
    crm1, crm2, crm3 = (console.case_id(f"CRM-{n}") for n in (1, 2, 3))

    # Work by agent: open cases, follow-ups due today and missed, presence today.
    # People by their account's name, the login as its title; ana.p has no account: her login.
    assert _row(page, "work-maria.b") == "María Bernal absent 1 0 1"
    assert '<span class="person" title="maria.b">María Bernal</span>' in page
    assert _row(page, "work-carlos.m") == "Carlos Mejía working now 1 1 1"
    assert _row(page, "work-ana.p") == "ana.p working now 0 0 0"

    missed = _section(page, "board-missed")
    assert "(3)" in missed
    assert all(f'id="missed-{case}"' in missed for case in (crm1, crm2, crm3))
    unassigned = _section(page, "board-unassigned")
    assert f'id="unassigned-{crm3}"' in unassigned
    assert crm1 not in unassigned
    assert crm2 not in unassigned

    areas = _section(page, "board-areas")
    assert re.search(r"<h3[^>]*>Facturación", areas)
    assert crm2 in areas
    assert crm1 not in areas
    assert '<span class="badge breached">' in areas  # 4 hours for an urgent one: long gone
    assert "Urgent" in areas

    clocks = _section(page, "board-clocks")
    assert "DIME-77" in clocks
    assert "at warning · 23 hours left" in clocks  # due Saturday 09:00
    assert crm2 in clocks
    assert crm1 not in clocks

    team = _section(page, "board-team")
    assert re.search(r'<li id="absent-maria.b">.*María Bernal.*Incapacidad', team)
    assert "Carlos Mejía" in team
    assert "ana.p" in team
    assert "sofia.t" not in team  # the supervisor is not an agent of the board
    assert "Sofía Torres" not in team

    # The reassignment form offers the absent agent and the agents on shift.
    form = _section(page, "board-reassign")
    assert re.search(r'<option value="maria.b">María Bernal \(maria.b\) · ', form)
    assert re.search(r'value="carlos.m"> Carlos Mejía \(carlos.m\) · 07:00', form)
    assert re.search(r'value="ana.p"> ana.p · 07:00', form)
    # The page listens from the log's position it was made at.
    position = office.store.last_position()
    assert f'data-events="/events?from={position}"' in page
    assert "case.follow_up_missed" in page  # the topics the script listens to


def test_a_follow_up_turned_missed_appears_on_the_panels_fetched_again(
    console: Console, clock: FixedClock
) -> None:
    office = console.office
    _team(office)
    _work(office)
    console.sign_in("sofia.t")
    _english(console)
    crm1 = console.case_id("CRM-1")
    console.get("/console/board/panels")
    assert "<html" not in console.page  # a fragment for the page's script
    assert f'id="missed-{crm1}"' not in _section(console.page, "board-missed")
    assert _row(console.page, "work-maria.b") == "María Bernal absent 1 0 0"

    clock.advance(LATER)
    office.sweep()  # as the worker does

    answer = console.get("/console/board/panels")
    assert answer.status_code == 200
    assert answer.headers["cache-control"] == "no-store"
    assert f'id="missed-{crm1}"' in _section(console.page, "board-missed")
    assert _row(console.page, "work-maria.b") == "María Bernal absent 1 0 1"


def test_the_absent_agents_cases_are_spread_over_the_agents_on_shift(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    office = console.office
    office.ingest([record(f"CRM-{n}", account=f"8001000{n}") for n in (4, 5, 6, 7)])
    _team(office)
    absent = [console.case_id(f"CRM-{n}") for n in (1, 4, 5, 6, 7)]
    for case in absent:
        office.handle(AssignCase(case=uuid.UUID(case), agent="maria.b"), SUPERVISOR)
    refused = uuid.UUID(absent[2])
    door = console.client.app.state.service.door
    handle = door.handle

    def refusing(command: Any, actor: Actor, **kwargs: Any) -> Any:
        if getattr(command, "case", None) == refused:
            raise RuleViolation("the case is already assigned to carlos.m")
        return handle(command, actor, **kwargs)

    monkeypatch.setattr(door, "handle", refusing)
    console.sign_in("sofia.t")
    _english(console)
    console.get("/console/board")
    answer = _reassign(console, "maria.b", ["carlos.m", "ana.p"])
    assert answer.status_code == 200, console.page[-2000:]

    owners = {case: office.case(case).agent for case in absent}
    assert owners[str(refused)] == "maria.b"  # refused: left as it was, reported
    moved = [str(owners[c]) for c in absent if c != str(refused)]
    assert sorted(moved) == ["ana.p", "ana.p", "carlos.m", "carlos.m"]  # evenly
    for case in absent:
        last = office.history(case)[-1]
        if case != str(refused):
            assert isinstance(last, Assigned)
            assert last.actor == SUPERVISOR
            assert last.previous_agent == "maria.b"
    report = _section(console.page, "board-reassigned")
    assert "4 cases reassigned" in report
    assert "1 case left as it was" in report
    assert "already assigned to carlos.m" in _row(console.page, f"reassigned-{refused}")
    assert "reassigned" in _row(console.page, f"reassigned-{absent[0]}")
    # The board after it: maria.b has only the refused case left.
    assert _row(console.page, "work-maria.b").startswith("María Bernal absent 1 ")
    # Sent to the board (Post/Redirect/Get): a reload reads the board, reassigns nothing
    # again, and the report is said once.
    assert [r.status_code for r in answer.history] == [303]
    assert (answer.request.method, answer.url.path) == ("GET", "/console/board")
    before = office.store.last_position()
    assert console.get("/console/board").status_code == 200
    assert 'id="board-reassigned"' not in console.page
    assert office.store.last_position() == before


def test_the_form_refuses_an_agent_on_shift_as_the_absent_one(console: Console) -> None:
    office = console.office
    _team(office)
    _work(office)
    console.sign_in("sofia.t")
    _english(console)
    console.get("/console/board")
    before = office.store.last_position()
    answer = console.post("/console/board/reassign", {"absent": "carlos.m", "to": "ana.p"})
    assert answer.status_code == 422
    # Sent to the board (Post/Redirect/Get), the choice kept: a reload posts nothing again.
    assert [r.status_code for r in answer.history] == [303]
    assert (answer.request.method, answer.url.path) == ("GET", "/console/board")
    form = _section(console.page, "board-reassign")
    assert "Carlos Mejía (carlos.m) is on shift today" in form
    assert re.search(r'value="ana.p" checked>', form)
    assert console.get("/console/board").status_code == 200
    assert "is on shift today" not in console.page
    answer = console.post("/console/board/reassign", {"absent": "maria.b", "to": "sofia.t"})
    assert answer.status_code == 422
    assert "Sofía Torres (sofia.t) is not on shift today" in console.page
    assert office.store.last_position() == before


def test_a_reassignment_without_the_sessions_token_is_refused(console: Console) -> None:
    office = console.office
    _team(office)
    _work(office)
    console.sign_in("sofia.t")
    console.get("/console/board")
    before = office.store.last_position()
    answer = console.post("/console/board/reassign",
                          {"absent": "maria.b", "to": "carlos.m"}, csrf="")  # fmt: skip
    assert answer.status_code == 403
    answer = console.post("/console/board/reassign",
                          {"absent": "maria.b", "to": "carlos.m"}, csrf="forged")  # fmt: skip
    assert answer.status_code == 403
    assert office.store.last_position() == before
    assert office.case(console.case_id("CRM-1")).agent == "maria.b"


@pytest.mark.parametrize("login", ["maria.b", "coord.c", "gerente.g"])
def test_who_may_not_read_the_live_log_is_refused_the_board(console: Console, login: str) -> None:
    console.sign_in(login)
    _english(console)
    for path in ("/console/board", "/console/board/panels"):
        answer = console.get(path)
        assert answer.status_code == 403, path
        assert "may not read events" in console.page
    console.get("/console/cases")
    answer = console.post("/console/board/reassign", {"absent": "carlos.m", "to": "maria.b"})
    assert answer.status_code == 403
    assert "Board" not in re.sub(r"<main.*", "", console.page, flags=re.DOTALL)  # not offered


def test_an_auditor_reads_the_board_without_the_reassignment_form(console: Console) -> None:
    _team(console.office)
    console.sign_in("audit.a")
    _english(console)
    answer = console.get("/console/board")
    assert answer.status_code == 200
    assert 'id="board-work"' in console.page
    assert 'id="board-reassign"' not in console.page
    assert 'action="/console/board/reassign"' not in console.page
    console.get("/console/cases")
    answer = console.post("/console/board/reassign", {"absent": "maria.b", "to": "carlos.m"})
    assert answer.status_code == 403
    assert console.office.case(console.case_id("CRM-1")).agent is None


def test_the_board_in_spanish(console: Console) -> None:
    _team(console.office)
    console.sign_in("sofia.t")
    answer = console.get("/console/board")
    assert answer.status_code == 200
    assert "Tablero del supervisor" in console.page
    assert "Seguimientos incumplidos" in console.page


def _my_shift(console: Console) -> str | None:
    """The agent's day's line on their shift today, as text (None: the page has none)."""
    answer = console.get("/console/day")
    assert answer.status_code == 200
    found = re.search(r'<p id="my-shift">(.*?)</p>', console.page, re.DOTALL)
    if found is None:
        return None
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", found.group(1))).strip()


def test_the_agents_day_says_their_shift_today_from_the_roster(
    console: Console, clock: FixedClock
) -> None:
    console.sign_in("carlos.m")
    _english(console)
    assert _my_shift(console) is None  # no roster imported: nothing to say
    _team(console.office)
    assert _my_shift(console) == "working now 07:00–16:00"  # Wednesday 09:00
    console.sign_in("maria.b")
    _english(console)
    assert _my_shift(console) == "absent"
    assert "Incapacidad" not in console.page  # the reason is the supervisor's to read
    console.sign_in("carlos.m")
    _english(console)
    clock.advance(timedelta(hours=8))  # 17:00: the shift is over, the day is still his
    assert _my_shift(console) == "on shift today 07:00–16:00"
    clock.advance(timedelta(days=DAYS))  # no shift scheduled that day
    assert _my_shift(console) == "no shift today"


# --- the clocks' panels from the index, as from the cases read whole -------------------------


def _clocks_of(state: CaseState) -> list[RunningClock]:
    """A case's running clocks worked out from the case read whole, as the board read them
    before the index kept them: each escalation's area and priority found by its clock's
    reference."""
    escalations = {escalation_reference(e.escalation_id): e for e in state.escalations}
    found = []
    for c in state.running_clocks:
        escalation = None
        if c.kind is ClockKind.ESCALATION_RESPONSE:
            escalation = escalations.get(c.reference or "")
        found.append(
            RunningClock(
                case_id=state.case_id, source=state.source, agent=state.agent,
                clock_id=c.clock_id, kind=c.kind, reference=c.reference, warn_at=c.warn_at,
                due_at=c.due_at, warned=c.warned, breached=c.breached,
                area=escalation.area if escalation else None,
                priority=escalation.priority if escalation else None,
            )
        )  # fmt: skip
    return found


def _start_clock(office: Backoffice, key: str, kind: ClockKind, reference: str,
                 warn: timedelta, due: timedelta) -> None:  # fmt: skip
    """A clock started on the case as the domain records one (no command starts a PQR's
    clock without a marking catalogue's CUN, nor an area's without its escalation)."""
    state = office.case(office.resolve(key))
    now = office.clock.now()
    event = new_event(ClockStarted, state, Actor.agent("carlos.m"), now,
                      clock_id=len(state.clocks) + 1, kind=kind, started_at=now,
                      warn_at=now + warn, due_at=now + due, rule="prueba",
                      reference=reference)  # fmt: skip
    office.store.append([event])


def _clocks_everywhere(office: Backoffice, clock: FixedClock) -> None:
    """Clocks of every kind the panels show: CRM-2's urgent escalation to Facturación and
    its adjustment (`_work`); CRM-1 escalated to Soporte (answered: its clock stopped) and
    then to Facturación, high; CRM-3 with a PQR clock and an area's clock whose escalation
    the case does not list."""
    _work(office)
    crm1 = office.resolve("CRM-1")
    maria = Actor.agent("maria.b")
    for area, priority in (("Soporte técnico", Priority.NORMAL), ("Facturación", Priority.HIGH)):
        office.handle(Escalate(case=crm1, target=EscalationTarget.RESPONSIBLE_AREA, area=area,
                               reason="Revisión", priority=priority), maria)  # fmt: skip
    office.handle(AnswerEscalation(case=crm1, escalation_id=1, answer="Resuelto"), maria)
    _start_clock(office, "CRM-3", ClockKind.PQR_RESPONSE, "4436-26-0004512",
                 timedelta(hours=30), timedelta(days=15))  # fmt: skip
    _start_clock(office, "CRM-3", ClockKind.ESCALATION_RESPONSE, escalation_reference(7),
                 timedelta(hours=2), timedelta(hours=20))  # fmt: skip
    clock.advance(LATER)
    office.sweep()


def test_the_index_keeps_the_running_clocks_the_cases_have(
    console: Console, clock: FixedClock
) -> None:
    office = console.office
    _team(office)
    _clocks_everywhere(office, clock)
    cases = [office.resolve(f"CRM-{n}") for n in (1, 2, 3)]
    expected = sorted((c for case in cases for c in _clocks_of(office.case(case))),
                      key=lambda c: (str(c.case_id), c.clock_id))  # fmt: skip
    kinds = [(c.kind, c.area, c.priority) for c in expected]
    assert (ClockKind.ESCALATION_RESPONSE, "Facturación", Priority.URGENT) in kinds
    assert (ClockKind.ESCALATION_RESPONSE, "Facturación", Priority.HIGH) in kinds
    assert (ClockKind.ESCALATION_RESPONSE, None, None) in kinds  # no such escalation
    assert (ClockKind.ESCALATION_RESPONSE, "Soporte técnico", Priority.NORMAL) not in kinds
    assert {ClockKind.ADJUSTMENT, ClockKind.PQR_RESPONSE} <= {c.kind for c in expected}
    assert any(c.breached for c in expected)
    assert any(c.warned and not c.breached for c in expected)

    assert list(office.running_clocks(cases)) == expected
    assert list(office.running_clocks([])) == []
    # The in-memory index, projected from the same log, gives the same.
    memory = InMemoryCaseIndex()
    memory.project(office.store.read_log(0, 100_000))
    assert list(memory.running_clocks(cases)) == expected
    # The board's due and overdue follow-ups by agent: counted in one read, as listed.
    now = clock.now()
    crm2 = office.resolve("CRM-2")
    for later in (timedelta(hours=5), timedelta(days=2)):
        office.handle(ScheduleFollowUp(case=crm2, due_at=now + later), Actor.agent("carlos.m"))
    memory.project(office.store.read_log(memory.position(), 100_000))
    for until, before in ((now, now), (now + timedelta(days=30), now + timedelta(hours=6))):
        counted: dict[str, tuple[int, int]] = {}
        for d in office.due_follow_ups(until):
            if d.agent is not None:
                due, late = counted.get(d.agent, (0, 0))
                counted[d.agent] = (due + 1, late + (d.due_at < before))
        assert office.count_due_by_agent(until, before) == counted
        assert memory.count_due_by_agent(until, before) == counted
    assert office.count_due_by_agent(now + timedelta(days=30), now + timedelta(hours=6)) == {
        "carlos.m": (2, 1)
    }


def test_the_boards_clock_rows_are_those_the_cases_read_whole_give(
    console: Console, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    office = console.office
    _team(office)
    _clocks_everywhere(office, clock)
    console.sign_in("sofia.t")
    _english(console)
    console.get("/console/board/panels")
    from_index = {name: _section(console.page, name) for name in ("board-areas", "board-clocks")}
    areas = from_index["board-areas"]
    assert re.search(r"<h3[^>]*>— ", areas)  # the area's clock of no listed escalation
    assert re.search(r"<h3[^>]*>Facturación <span class=\"muted\">\(2\)", areas)
    assert "Soporte" not in areas  # answered
    assert "High" in areas
    assert "Urgent" in areas
    assert "4436-26-0004512" in from_index["board-clocks"]
    assert "DIME-77" in from_index["board-clocks"]

    def read_whole(case_ids: list[uuid.UUID]) -> list[RunningClock]:
        return [c for case in case_ids for c in _clocks_of(office.case(case))]

    monkeypatch.setattr(office, "running_clocks", read_whole)
    board._held_for(office).panels.clear()  # read the panels again, not the last reading
    console.get("/console/board/panels")
    for name, section in from_index.items():
        assert _section(console.page, name) == section, name
