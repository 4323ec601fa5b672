"""The supervisor's board: the team's work and what needs a supervisor now, live.

`/console/board` shows the work by agent (open cases, follow-ups due today, cases with a
missed follow-up), the unassigned cases, the missed follow-ups, the escalations waiting for
each area with their clocks, the PQR and adjustment clocks at warning or breached, and who
is on shift or absent today (the roster and the shifts of `import-roster`/`import-shifts`),
with a form that spreads an absent agent's open cases over agents on shift (each one an
`AssignCase` through the one door, as the supervisor).

Live: the page's script (`static/board.js`) listens to the API's `GET /events` from the log
position the page was made at and, at most once a second, fetches the panels again
(`/console/board/panels`, a fragment) and swaps them in. Without scripts the page is the
same board, as of its loading.

Every list is read through the case index's filtered queries with a limit, the clocks too
(`Backoffice.running_clocks`: the index keeps each running clock and each escalation's area
and priority): no case is read whole.
"""

from __future__ import annotations

import json
import uuid
import weakref
from collections.abc import Iterable, Sequence
from datetime import date, datetime
from typing import Any

import attrs
from litestar import Request, Response, get, post
from litestar.response import Redirect

from application.access.permissions import Reading, may_command, may_give
from application.case.commands import AssignCase, StaleCase
from application.ports.accounts import AccessRole
from application.ports.cases import CaseQuery, CaseSummary, RunningClock
from application.service import Backoffice
from application.team.today import OnTheDay, TeamToday
from domain.calendar import BOGOTA, BusinessCalendar
from domain.errors import DomainError
from domain.team.roster import Role
from domain.values import CaseStatus, ClockKind
from entrypoints.http.problems import Refused
from entrypoints.http.requests_log import note
from entrypoints.web import views
from entrypoints.web.carried import carry, take
from entrypoints.web.pages import (
    CONSOLE,
    Page,
    _html,
    serve_form,
    serve_page,
)
from entrypoints.web.refusals import refusal_text
from entrypoints.web.templates import render

BOARD = f"{CONSOLE}/board"
ROWS = 25
"""Rows a panel lists (the count says how many there are in all)."""
CLOCK_CASES = 12
"""Cases whose clocks each of the clocks' panels shows (waiting, at warning, breached)."""
MOST_REASSIGNED = 500
"""The open cases of one agent a reassignment moves at once (the rest: send it again)."""
WATCHED_CLOCKS = (ClockKind.PQR_RESPONSE, ClockKind.ADJUSTMENT)
"""The clocks of the "at warning or breached" panel (an area's answer has its own)."""


@attrs.define
class _Held:
    """What this process keeps for an office's board: its roster in memory, and the panels
    last read in each language with the moment they were read at (log position, minute)."""

    team: TeamToday
    panels: dict[str, tuple[tuple[int, datetime], dict[str, Any]]] = attrs.field(factory=dict)


_held: weakref.WeakKeyDictionary[Backoffice, _Held] = weakref.WeakKeyDictionary()


def _held_for(office: Backoffice) -> _Held:
    held = _held.get(office)
    if held is None:
        held = _held.setdefault(office, _Held(TeamToday(office.store)))
    return held


def team_of(office: Backoffice) -> TeamToday:
    """The office's roster, kept in memory by this process (read on from the log)."""
    return _held_for(office).team


# --- what the panels show ----------------------------------------------------------------


@attrs.frozen(kw_only=True)
class AgentWork:
    agent: str
    open: int
    due: int
    """Pending follow-ups due by the end of today (the overdue ones included)."""
    overdue: int
    missed: int
    """Open cases with a missed follow-up."""
    person: OnTheDay | None
    """The roster's line of the agent today (None: not on it today, or no roster)."""


@attrs.frozen(kw_only=True)
class ClockRow:
    case_id: uuid.UUID
    key: str
    agent: str | None
    label: str
    reference: str
    priority: str | None
    due_at: datetime
    left: str
    state: str


@attrs.frozen(kw_only=True)
class Team:
    in_use: bool
    on_shift: list[OnTheDay]
    absent: list[OnTheDay]
    off: list[OnTheDay]
    working_now: frozenset[str]


@attrs.frozen(kw_only=True)
class Outcome:
    """What a reassignment did with one case."""

    case_id: uuid.UUID
    key: str
    agent: str
    done: bool
    why: str | None = None


_ORDER = {"breached": 0, "warning": 1, "ok": 2, "ended": 3}


def _team(people: Sequence[OnTheDay], in_use: bool, now: datetime, day: date) -> Team:
    agents = [p for p in people if p.role is Role.AGENT]
    return Team(
        in_use=in_use,
        on_shift=[p for p in agents if p.on_shift],
        absent=[p for p in agents if p.absent],
        off=[p for p in agents if p.shift is None and not p.absent],
        working_now=frozenset(p.agent for p in agents if p.working_at(now, day)),
    )


def _clock_rows(page: Page, clocks: Iterable[RunningClock], now: datetime) -> tuple[
    list[tuple[str, list[ClockRow]]], list[ClockRow]
]:  # fmt: skip
    """The escalations waiting for an area, by area, and the PQR and adjustment clocks at
    warning or breached, from the running clocks of the cases shown (as the index keeps
    them); the most urgent first."""
    t = page.t
    deadlines = page.service.office.policies.deadlines
    calendar = deadlines.calendar if deadlines is not None else None
    areas: dict[str, list[tuple[ClockRow, int]]] = {}
    watched: list[tuple[ClockRow, int]] = []
    for c in clocks:
        level = views.clock_level(c, now)
        business = c.kind in views.BUSINESS_DAY_CLOCKS
        row = ClockRow(
            case_id=c.case_id, key=c.source.key, agent=c.agent,
            label=t(views.CLOCK_LABELS[c.kind]), reference=c.reference or "", priority=None,
            due_at=c.due_at, state=level,
            left=views.time_left(c.due_at, now, calendar if business else None, t),
        )  # fmt: skip
        if c.kind is ClockKind.ESCALATION_RESPONSE:
            if c.area is None or c.priority is None:  # an escalation the case does not list
                areas.setdefault("—", []).append((row, c.clock_id))
                continue
            priority = t.label("priority", c.priority.value)
            areas.setdefault(c.area, []).append((attrs.evolve(row, priority=priority), c.clock_id))
        elif c.kind in WATCHED_CLOCKS and level != "ok":
            watched.append((row, c.clock_id))

    def urgency(item: tuple[ClockRow, int]) -> tuple[int, datetime, str, str, int]:
        row, clock_id = item
        return (_ORDER[row.state], row.due_at, row.key, str(row.case_id), clock_id)

    def ordered(rows: list[tuple[ClockRow, int]]) -> list[ClockRow]:
        return [row for row, _ in sorted(rows, key=urgency)]

    by_area = [(area, ordered(rows)) for area, rows in sorted(areas.items())]
    return by_area, ordered(watched)


def clock_cases(
    waiting: Sequence[CaseSummary], warned: Sequence[CaseSummary], breached: Sequence[CaseSummary]
) -> list[uuid.UUID]:
    """The cases whose clocks the board shows: the first `CLOCK_CASES` waiting for an area,
    at warning and breached (each once)."""
    return list(dict.fromkeys(s.case_id for s in (*waiting[:CLOCK_CASES], *breached, *warned)))


def _listed(page: Page, query: CaseQuery) -> tuple[Sequence[CaseSummary], int]:
    """Up to `ROWS` cases of `query` and how many there are in all (counted only when the
    list is full)."""
    office = page.service.office
    found = office.cases(attrs.evolve(query, limit=ROWS))
    total = len(found) if len(found) < ROWS else office.count(query)
    return found, total


def panels(page: Page) -> dict[str, Any]:
    """Everything the panels show, as of now. Every supervisor's board asks again when the
    log moves: while it has not moved (and within the minute), the panels read last in the
    same language are given again."""
    office = page.service.office
    position = office.store.last_position()  # read first: nothing after it is missed
    now = office.clock.now()
    moment = (position, now.replace(second=0, microsecond=0))
    held = _held_for(office)
    kept = held.panels.get(page.t.language)
    if kept is not None and kept[0] == moment:
        return kept[1]
    context = _read_panels(page, position, now)
    held.panels[page.t.language] = (moment, context)
    return context


def _read_panels(page: Page, position: int, now: datetime) -> dict[str, Any]:
    office = page.service.office
    today = BusinessCalendar.local_date(now)
    team_today = team_of(office)
    people = team_today.day(today)
    team = _team(people, team_today.in_use(), now.astimezone(BOGOTA), today)

    # The follow-ups due today (and overdue), the open cases and those with a missed follow-up,
    # by agent: grouped counts in the index (exact, however many), not a count per agent nor
    # a list read to count it.
    due_counts = office.count_due_by_agent(BusinessCalendar.end_of(today), now)
    due_by = {agent: due for agent, (due, _) in due_counts.items()}
    overdue_by = {agent: overdue for agent, (_, overdue) in due_counts.items()}
    open_missed = CaseQuery(missed=True, status=CaseStatus.OPEN)
    missed_by = office.count_by_agent(open_missed)
    open_by = office.count_by_agent(CaseQuery(status=CaseStatus.OPEN))
    on_roster = {p.agent: p for p in people if p.role is Role.AGENT}
    agents = set(on_roster) | set(due_by) | set(missed_by)
    if not team.in_use:  # no roster: the agents who sign in
        agents |= {a.login for a in page.service.accounts.list()
                   if a.role is AccessRole.AGENT and not a.disabled}  # fmt: skip
    work = [
        AgentWork(agent=agent, due=due_by.get(agent, 0), overdue=overdue_by.get(agent, 0),
                  missed=missed_by.get(agent, 0), person=on_roster.get(agent),
                  open=open_by.get(agent, 0))
        for agent in sorted(agents)
    ]  # fmt: skip

    unassigned, unassigned_total = _listed(page, CaseQuery(unassigned=True,
                                                           status=CaseStatus.OPEN))  # fmt: skip
    missed, missed_total = _listed(page, open_missed)
    waiting, waiting_total = _listed(page, CaseQuery(waiting=True, status=CaseStatus.OPEN))
    warned = office.cases(CaseQuery(warned=True, limit=CLOCK_CASES))
    breached = office.cases(CaseQuery(breached=True, limit=CLOCK_CASES))
    wanted = clock_cases(waiting, warned, breached)
    areas, clocks = _clock_rows(page, office.running_clocks(wanted), now)
    return {
        "now": now,
        "today": today,
        "position": position,
        "work": work,
        "unassigned": unassigned,
        "unassigned_total": unassigned_total,
        "missed": missed,
        "missed_total": missed_total,
        "areas": areas,
        "waiting_total": waiting_total,
        "waiting_shown": len({r.case_id for _, rows in areas for r in rows}),
        "clocks": clocks,
        "team": team,
        "rows": ROWS,
    }


def _topics() -> list[str]:
    """The topics of the log's events: the names `GET /events` sends each message under."""
    from adapters.eventstore.mapper import TOPICS

    return sorted(set(TOPICS.values()))


def _require(page: Page) -> None:
    page.require(Reading.EVENTS)  # the board lives on the whole log's stream
    page.require(Reading.CASES)


def _board(page: Page, status: int = 200, **extra: Any) -> Response[str]:
    context = panels(page)
    work: list[AgentWork] = context["work"]
    givers = [w for w in work if w.open and (w.person is None or not w.person.on_shift)]
    may_reassign = may_give(page.principal.role, page.principal.scope, AssignCase) is None
    return page.render(
        "board.html",
        status,
        title=page.t("Supervisor's board"),
        topics=" ".join(_topics()),
        may_reassign=may_reassign,
        givers=givers,
        outcomes=extra.pop("outcomes", None),
        form_error=extra.pop("form_error", None),
        chosen=extra.pop("chosen", {}),
        **context,
        **extra,
    )


# --- the routes ------------------------------------------------------------------------------


@get(BOARD, include_in_schema=False)
async def board(request: Request[Any, Any, Any]) -> Response[Any]:
    """The board, as of now; the page's script keeps it up to date."""

    def work(page: Page) -> Response[Any]:
        _require(page)
        refused = _refusal_carried(request)
        if refused is not None:  # the reassignment form refused a moment ago, sent here
            return _board(page, 422, form_error=refused[0], chosen=refused[1])
        report = _report_carried(request)
        if report is not None:  # a reassignment done a moment ago, sent here
            return _board(page, outcomes=report[1], chosen={}, reassigned_from=report[0])
        return _board(page)

    return await serve_page(request, work)


REFUSED = "board_refused"
"""The session's key for the reassignment form's refusal, kept for the board it is sent to."""


def _refused(request: Request[Any, Any, Any], error: str, chosen: dict[str, Any]) -> Response[Any]:
    """The reassignment form refused: why and what was chosen kept in the session, and the
    browser sent to the board (Post/Redirect/Get: a reload posts nothing again)."""
    carry(request, REFUSED, {"error": error, "chosen": chosen})
    return Redirect(f"{BOARD}#board-reassign", status_code=303)


def _refusal_carried(request: Request[Any, Any, Any]) -> tuple[str, dict[str, Any]] | None:
    """The reassignment's refusal the session carries (taken out: shown once)."""
    carried = take(request, REFUSED)
    if carried is None:
        return None
    chosen = carried.get("chosen")
    return str(carried.get("error", "")), chosen if isinstance(chosen, dict) else {}


REPORT = "board_reassigned"
"""The session's key for a reassignment's report, kept for the board it is sent to."""
REPORT_MOST = 2_000
"""The most characters of a report carried in the session's cookie (about fifteen cases): the
cookie is sent with every request, and past one 4 KB cookie a proxy's header limit (8 KB is
common) may refuse them all; a longer report is answered in place, on the POST address."""


def _reported(request: Request[Any, Any, Any], absent: str,
              outcomes: Sequence[Outcome]) -> Response[Any] | None:  # fmt: skip
    """A reassignment done: its report kept in the session and the browser sent to the board
    (Post/Redirect/Get: a reload reads the board, it does not reassign again). None when it
    cannot be carried (no session, or a report too long for its cookie)."""
    rows = [[str(o.case_id), o.key, o.agent, o.done, o.why] for o in outcomes]
    if "session" not in request.scope or len(json.dumps(rows)) > REPORT_MOST:
        return None
    carry(request, REPORT, {"from": absent, "outcomes": rows})
    return Redirect(f"{BOARD}#board-reassigned", status_code=303)


def _report_carried(request: Request[Any, Any, Any]) -> tuple[str, list[Outcome]] | None:
    """The reassignment's report the session carries (taken out: shown once): who the cases
    were taken from, and what was done with each."""
    carried = take(request, REPORT)
    if carried is None:
        return None
    try:
        outcomes = [
            Outcome(case_id=uuid.UUID(str(case_id)), key=str(key), agent=str(agent),
                    done=bool(done), why=None if why is None else str(why))
            for case_id, key, agent, done, why in carried.get("outcomes", [])
        ]  # fmt: skip
    except (TypeError, ValueError):
        return None
    return str(carried.get("from", "")), outcomes


@get(f"{BOARD}/panels", include_in_schema=False)
async def board_panels(request: Request[Any, Any, Any]) -> Response[Any]:
    """The board's panels alone (an HTML fragment), for the page's script to swap in."""

    def work(page: Page) -> Response[Any]:
        _require(page)
        body = render("_board_panels.html", t=page.t, person=page.people, **panels(page))
        return _html(body)

    return await serve_page(request, work)


def spread(cases: Sequence[CaseSummary], agents: Sequence[str]) -> list[tuple[CaseSummary, str]]:
    """The cases dealt out to the agents in turn, the first due first: each gets as many as
    the others, or one more."""
    return [(case, agents[n % len(agents)]) for n, case in enumerate(cases)]


def _reassign(page: Page, absent: str, receivers: Sequence[str]) -> list[Outcome]:
    """Each open case of `absent` assigned to one of `receivers` in turn, through the one
    door as the supervisor, on the version the index showed (a case changed meanwhile is
    read again; one no longer the absent agent's is left as it is)."""
    office = page.service.office
    door = page.service.door
    principal = page.principal
    t = page.t
    cases = office.cases(CaseQuery(agent=absent, status=CaseStatus.OPEN, limit=MOST_REASSIGNED))
    outcomes = []
    for summary, agent in spread(cases, receivers):
        command = AssignCase(case=summary.case_id, agent=agent)
        key = summary.source.key
        why = may_command(principal.role, principal.scope, command, principal.login)
        if why is not None:
            outcomes.append(Outcome(case_id=summary.case_id, key=key, agent=agent, done=False,
                                    why=refusal_text(why, t)))  # fmt: skip
            continue
        version = summary.version
        for _ in range(2):
            try:
                door.handle(command, principal.actor, expected_version=version)
            except StaleCase:
                fresh = office.case(summary.case_id)
                if fresh.agent != absent or not fresh.is_open:
                    why = t("Left as it is: the case changed meanwhile.")
                    break
                version = fresh.version
                continue
            except (DomainError, ValueError) as refused:
                why = refusal_text(str(refused), t)
                break
            why = None
            break
        else:
            why = t("Left as it is: the case changed meanwhile.")
        outcomes.append(Outcome(case_id=summary.case_id, key=key, agent=agent,
                                done=why is None, why=why))  # fmt: skip
    return outcomes


@post(f"{BOARD}/reassign", include_in_schema=False)
async def reassign(request: Request[Any, Any, Any]) -> Response[Any]:
    """The reassignment form: the open cases of the absent agent chosen, spread evenly over
    the agents on shift chosen. A refusal for one case is reported with that case; the
    others go on."""
    form = await request.form()  # read once: `serve_form` gets the same, kept by the request
    receivers = list(dict.fromkeys(str(v).strip() for v in form.getall("to", []) if str(v)))

    def work(page: Page, posted: dict[str, str]) -> Response[Any]:
        _require(page)
        why = may_give(page.principal.role, page.principal.scope, AssignCase)
        if why is not None:
            raise Refused(why)
        absent = posted.get("absent", "").strip()
        chosen = {"absent": absent, "to": receivers}
        error = _check_choice(page, absent, receivers)
        if error is not None:
            if "session" not in request.scope:  # nowhere to carry it: said here
                return _board(page, 422, form_error=error, chosen=chosen)
            return _refused(request, error, chosen)
        note(request.scope, reassigned_from=absent)
        outcomes = _reassign(page, absent, receivers)
        sent = _reported(request, absent, outcomes)
        if sent is not None:
            return sent
        return _board(page, outcomes=outcomes, chosen={}, reassigned_from=absent)

    return await serve_form(request, work)


def _check_choice(page: Page, absent: str, receivers: Sequence[str]) -> str | None:
    """Why the form's choice cannot be carried out (None: it can): an agent who is not
    working today, and agents on shift today (not the same one) to receive."""
    t = page.t
    office = page.service.office
    today = BusinessCalendar.local_date(office.clock.now())
    people = {p.agent: p for p in team_of(office).day(today) if p.role is Role.AGENT}
    named = page.people.label  # "name (login)"
    if not absent:
        return t("Choose the agent whose cases are to be reassigned.")
    if absent in people and people[absent].on_shift:
        return t("{agent} is on shift today: choose an agent who is absent.", agent=named(absent))
    if not receivers:
        return t("Choose at least one agent on shift to receive the cases.")
    for agent in receivers:
        if agent == absent:
            return t("{agent} cannot receive their own cases.", agent=named(agent))
        person = people.get(agent)
        if person is None or not person.on_shift:
            return t("{agent} is not on shift today.", agent=named(agent))
    return None


ROUTES: list[Any] = [board, board_panels, reassign]
