"""The HR roster as streams of the case log: one per agent login (docs/procedure.md §11).

An agent joins the roster with a team and a role, moves team or role, leaves (and may come
back); the shifts scheduled day by day and the absences on them are recorded in the same
stream. Ausentismo and Rotación are read from it, and so is the team of an agent on a day.

Decisions validate against the current state and return events, or raise a `DomainError`;
none reads a clock. A decision that would change nothing returns no event, so an HR export
can be imported again and again.
"""

from __future__ import annotations

import enum
import functools
import uuid
from collections.abc import Iterable
from datetime import date, datetime, time
from typing import Any

import attrs

from domain.case.decisions import clean_text
from domain.errors import InvalidValue, RuleViolation
from domain.values import Actor, require_aware

TEAM_NAMESPACE = uuid.UUID("5b0c1d2e-8f3a-4c6b-9d7e-2a1f0e9c8b7a")


def agent_stream(login: str) -> uuid.UUID:
    """The agent's stream id: the same login always gives the same id."""
    return uuid.uuid5(TEAM_NAMESPACE, f"agent:{login}")


class Role(enum.StrEnum):
    """Who someone is on the roster. Only `agent` (the back office) counts for Ausentismo
    and Rotación; the leaders own the management practices."""

    AGENT = "agent"
    SUPERVISOR = "supervisor"
    COORDINATOR = "coordinator"
    MANAGER = "manager"


# --- events ------------------------------------------------------------------------------


@attrs.frozen(kw_only=True)
class TeamEvent:
    """Base of the roster's and the practice register's events (same fields as a case's)."""

    originator_id: uuid.UUID
    originator_version: int
    timestamp: datetime
    actor: Actor


@attrs.frozen(kw_only=True)
class AgentEvent(TeamEvent):
    agent: str
    """The login, as in `Assigned` and the actors of case events."""


@attrs.frozen(kw_only=True)
class AgentJoined(AgentEvent):
    team: str
    role: Role
    joined_on: date


@attrs.frozen(kw_only=True)
class AgentMoved(AgentEvent):
    """A new team or role, from `effective_on`."""

    team: str
    role: Role
    effective_on: date


@attrs.frozen(kw_only=True)
class AgentLeft(AgentEvent):
    left_on: date
    """The last day on the roster."""
    reason: str | None


@attrs.frozen(kw_only=True)
class ShiftScheduled(AgentEvent):
    """A shift on `day` (a later one for the same day replaces it); `ends` at or before
    `starts` means the shift ends the next day."""

    day: date
    starts: time
    ends: time


@attrs.frozen(kw_only=True)
class ShiftCancelled(AgentEvent):
    day: date


@attrs.frozen(kw_only=True)
class AbsenceRecorded(AgentEvent):
    """The agent missed the scheduled shift of `day` (the roster's *novedad*)."""

    day: date
    reason: str


@attrs.frozen(kw_only=True)
class AbsenceWithdrawn(AgentEvent):
    day: date


# --- the agent's state --------------------------------------------------------------------


@attrs.frozen
class Shift:
    starts: time
    ends: time


@attrs.frozen(kw_only=True)
class AgentState:
    id: uuid.UUID
    version: int
    agent: str
    team: str
    role: Role
    joined_on: date
    left_on: date | None = None
    shifts: dict[date, Shift] = attrs.field(factory=dict)
    """Scheduled shifts by day (a fresh dict per event: states are never shared)."""
    absences: dict[date, str] = attrs.field(factory=dict)
    """Absences by day, with their reason; a cancelled shift keeps its absence on record."""
    placements: tuple[tuple[date, str, Role], ...] = ()
    """(from, team, role) of every join and move, in the order recorded."""
    leavings: tuple[date, ...] = ()
    """Every last day recorded (an agent who rejoined has left before)."""

    def on_roster(self, day: date) -> bool:
        return self.role_on(day) is not None

    def role_on(self, day: date) -> Role | None:
        """The role on `day`, or None when the agent was not on the roster then."""
        placed = placement_on(self.placements, self.leavings, day)
        return None if placed is None else placed[1]


def placement_on(
    placements: Iterable[tuple[date, str, Role]], leavings: Iterable[date], day: date
) -> tuple[str, Role] | None:
    """(team, role) on `day`: the placement with the latest start on or before the day (of two
    with the same start, the later one), unless a last day falls between that start and the
    day; None when the agent was not on the roster then. The one reading of the roster, for
    the agent's decisions and for the indicators' facts."""
    best: tuple[date, str, Role] | None = None
    for placement in placements:
        if placement[0] <= day and (best is None or placement[0] >= best[0]):
            best = placement
    if best is None or any(best[0] <= left < day for left in leavings):
        return None
    return best[1], best[2]


@functools.singledispatch
def _apply(event: AgentEvent, state: AgentState | None) -> AgentState:
    raise TypeError(f"not an agent event: {type(event).__name__}")


@_apply.register
def _(event: AgentJoined, state: AgentState | None) -> AgentState:
    return AgentState(
        id=event.originator_id,
        version=event.originator_version,
        agent=event.agent,
        team=event.team,
        role=event.role,
        joined_on=event.joined_on,
        shifts={} if state is None else dict(state.shifts),
        absences={} if state is None else dict(state.absences),
        placements=(() if state is None else state.placements)
        + ((event.joined_on, event.team, event.role),),
        leavings=() if state is None else state.leavings,
    )


def _existing(state: AgentState | None, event: AgentEvent) -> AgentState:
    if state is None:
        raise ValueError(f"{type(event).__name__} before the agent joined")
    return state


@_apply.register
def _(event: AgentMoved, state: AgentState | None) -> AgentState:
    s = _existing(state, event)
    placements = (*s.placements, (event.effective_on, event.team, event.role))
    # The team and role now are those of the latest start (a move may be recorded late).
    latest = max(range(len(placements)), key=lambda i: (placements[i][0], i))
    _, team, role = placements[latest]
    return attrs.evolve(
        s, version=event.originator_version, team=team, role=role, placements=placements
    )


@_apply.register
def _(event: AgentLeft, state: AgentState | None) -> AgentState:
    s = _existing(state, event)
    return attrs.evolve(
        s,
        version=event.originator_version,
        left_on=event.left_on,
        leavings=(*s.leavings, event.left_on),
    )


@_apply.register
def _(event: ShiftScheduled, state: AgentState | None) -> AgentState:
    s = _existing(state, event)
    shifts = {**s.shifts, event.day: Shift(event.starts, event.ends)}
    return attrs.evolve(s, version=event.originator_version, shifts=shifts)


@_apply.register
def _(event: ShiftCancelled, state: AgentState | None) -> AgentState:
    s = _existing(state, event)
    shifts = {day: shift for day, shift in s.shifts.items() if day != event.day}
    return attrs.evolve(s, version=event.originator_version, shifts=shifts)


@_apply.register
def _(event: AbsenceRecorded, state: AgentState | None) -> AgentState:
    s = _existing(state, event)
    absences = {**s.absences, event.day: event.reason}
    return attrs.evolve(s, version=event.originator_version, absences=absences)


@_apply.register
def _(event: AbsenceWithdrawn, state: AgentState | None) -> AgentState:
    s = _existing(state, event)
    absences = {day: why for day, why in s.absences.items() if day != event.day}
    return attrs.evolve(s, version=event.originator_version, absences=absences)


def fold_agent(events: Iterable[Any]) -> AgentState | None:
    """The agent's state from their stream (None for an empty one)."""
    return fold_agent_onto(None, events)


def fold_agent_onto(state: AgentState | None, events: Iterable[Any]) -> AgentState | None:
    for event in events:
        state = _apply(event, state)
    return state


# --- decisions ----------------------------------------------------------------------------


def _next(state: AgentState | None, actor: Actor, at: datetime) -> dict[str, Any]:
    require_aware("at", at)
    if state is None:
        raise RuleViolation("the agent is not on the roster: import them first")
    return {
        "originator_id": state.id,
        "originator_version": state.version + 1,
        "timestamp": at,
        "actor": actor,
        "agent": state.agent,
    }


def enrol(
    state: AgentState | None,
    *,
    agent: str,
    team: str,
    role: Role,
    since: date,
    actor: Actor,
    at: datetime,
) -> list[AgentEvent]:
    """The roster says `agent` is in `team` with `role` from `since`: join, rejoin after
    leaving, or move; nothing when the roster already says so."""
    require_aware("at", at)
    agent = clean_text("agent", agent, max_length=80)
    team = clean_text("team", team, max_length=80)
    if state is not None and (since, team, role) in state.placements:
        return []  # a row of the roster's history, already recorded
    if state is None or (state.left_on is not None and since > state.left_on):
        return [
            AgentJoined(
                originator_id=agent_stream(agent),
                originator_version=1 if state is None else state.version + 1,
                timestamp=at,
                actor=actor,
                agent=agent,
                team=team,
                role=role,
                joined_on=since,
            )
        ]
    if state.left_on is not None:
        raise RuleViolation(
            f"{agent} left on {state.left_on}; a rejoin must start after that (got {since})"
        )
    if (state.team, state.role) == (team, role):
        return []
    if since < state.joined_on:
        raise InvalidValue("since", f"{since} is before {agent} joined ({state.joined_on})")
    return [AgentMoved(**_next(state, actor, at), team=team, role=role, effective_on=since)]


def leave(
    state: AgentState | None, *, left_on: date, reason: str | None, actor: Actor, at: datetime
) -> list[AgentEvent]:
    """The agent's last day on the roster; nothing when it is already recorded."""
    fields = _next(state, actor, at)
    assert state is not None
    if left_on in state.leavings:
        return []  # this stint's end, or an earlier one's, already recorded
    if state.left_on is not None:
        raise RuleViolation(f"{state.agent} already left on {state.left_on}")
    if left_on < state.joined_on:
        raise InvalidValue("left_on", f"{left_on} is before the agent joined ({state.joined_on})")
    latest = max(since for since, _, _ in state.placements)
    if left_on < latest:
        raise RuleViolation(
            f"{state.agent} moved team or role on {latest}; the last day cannot be before it"
        )
    reason = reason.strip() if reason else None
    return [AgentLeft(**fields, left_on=left_on, reason=reason or None)]


def schedule_shift(
    state: AgentState | None,
    *,
    day: date,
    starts: time,
    ends: time,
    absence: str | None,
    absence_known: bool,
    actor: Actor,
    at: datetime,
) -> list[AgentEvent]:
    """The roster's line for one agent and day: the shift, and — when the export says
    (`absence_known`) — whether the agent was absent (`absence`, the *novedad*) or not."""
    fields = _next(state, actor, at)
    assert state is not None
    if not state.on_roster(day):
        raise RuleViolation(f"{state.agent} is not on the roster on {day}")
    events: list[AgentEvent] = []
    current = state.shifts.get(day)
    if current is None or (current.starts, current.ends) != (starts, ends):
        events.append(ShiftScheduled(**fields, day=day, starts=starts, ends=ends))
        fields = {**fields, "originator_version": fields["originator_version"] + 1}
    if not absence_known:
        return events
    had = state.absences.get(day)
    absence = absence.strip() if absence else None
    if absence and absence != had:
        events.append(
            AbsenceRecorded(**fields, day=day, reason=clean_text("absence", absence, max_length=80))
        )
    elif not absence and had:
        events.append(AbsenceWithdrawn(**fields, day=day))
    return events


def cancel_shift(
    state: AgentState | None, *, day: date, actor: Actor, at: datetime
) -> list[AgentEvent]:
    """The day's shift is off the schedule; nothing when there is none."""
    fields = _next(state, actor, at)
    assert state is not None
    if day not in state.shifts:
        return []
    return [ShiftCancelled(**fields, day=day)]


def not_assignable(login: str, state: AgentState | None, day: date) -> str | None:
    """Why `login` may not own cases on `day` when a roster is in use (None when it may): only
    a back-office agent on the roster that day works cases."""
    if state is None:
        return f"{login} is not on the roster"
    role = state.role_on(day)
    if role is None:
        left = [d for d in state.leavings if d < day]
        when = f" (left on {max(left).isoformat()})" if left else ""
        return f"{login} is not on the roster on {day.isoformat()}{when}"
    if role is not Role.AGENT:
        return f"{login} is a {role.value} on the roster, not a back-office agent"
    return None
