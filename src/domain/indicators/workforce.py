"""Ausentismo, Rotación and management-practice compliance (docs/procedure.md §11, §12), as pure
functions over the roster's and the practice register's facts.

Definitions (version `v1` with the case indicators), each a [decision] where docs/procedure.md
leaves
room:
- Ausentismo: absent agent-days / scheduled agent-days in the period: the shifts of
  back-office agents (role `agent`) scheduled on the period's Bogotá days, and those of them
  with an absence (*novedad*) recorded.
- Rotación: agents who left in the period (last day on the roster within it) / agents on the
  roster at any day of the period, both counting back-office agents only.
- Practice compliance, per leader and practice: the units due in the period — each day the
  leader worked (a scheduled shift without absence) for daily practices, each ISO week whose
  Thursday falls in the period for weekly ones, each half-month (1–15, 16–end) whose 8th or
  23rd does for fortnightly ones, each half-year whose last day does for half-yearly ones —
  times the goal of the leader's role then; held practices count in the unit they fall in,
  at most the goal per unit (a busy week does not make up for an empty one).
  A unit still running on the report's day (`today`: a month to date, this week) is due only
  once its goal is met: a week not over yet is not a miss, a practice already held counts.
  Compliance = held (capped) / due.
- Team: the team the roster gives for the agent on the day of the fact; `(sin equipo)` for
  an agent not on the roster.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, timedelta

import attrs

from domain.team.practices import (
    PRACTICES,
    Frequency,
    Practice,
)
from domain.team.roster import Role, placement_on

NO_TEAM = "(sin equipo)"


@attrs.frozen
class PlacementFact:
    """From `since`, the agent is in `team` with `role` (a join or a move)."""

    agent: str
    since: date
    team: str
    role: Role


@attrs.frozen
class LeavingFact:
    agent: str
    left_on: date
    reason: str | None


@attrs.frozen
class ShiftFact:
    agent: str
    day: date
    scheduled: bool
    """False once the shift was cancelled."""


@attrs.frozen
class AbsenceFact:
    agent: str
    day: date
    reason: str | None
    """None once the absence was withdrawn."""


@attrs.frozen
class PracticeFact:
    register_key: str
    practice: Practice
    owner: str
    held_on: date
    minutes: int


TeamFact = PlacementFact | LeavingFact | ShiftFact | AbsenceFact | PracticeFact


def team_fact_key(fact: TeamFact) -> tuple[object, ...]:
    """A team fact replaces the earlier one of its kind with the same key."""
    if isinstance(fact, PlacementFact):
        return (fact.agent, fact.since)
    if isinstance(fact, LeavingFact):
        return (fact.agent, fact.left_on)
    if isinstance(fact, ShiftFact | AbsenceFact):
        return (fact.agent, fact.day)
    return (fact.register_key,)


def shift_order(fact: ShiftFact | AbsenceFact) -> tuple[date, str]:
    return (fact.day, fact.agent)


def attendance(
    shifts: Iterable[ShiftFact], absences: Iterable[AbsenceFact], first: date, end: date
) -> dict[tuple[str, date], bool]:
    """(agent, day) of each shift scheduled in [first, end) → whether the agent was absent."""
    absent = {(a.agent, a.day) for a in absences if a.reason is not None}
    return {
        (s.agent, s.day): (s.agent, s.day) in absent
        for s in shifts
        if s.scheduled and first <= s.day < end
    }


def practice_order(fact: PracticeFact) -> tuple[date, str, str]:
    return (fact.held_on, fact.owner, fact.register_key)


class Roster:
    """Who was where on a given day, from the placements and leavings."""

    def __init__(self, placements: Iterable[PlacementFact], leavings: Iterable[LeavingFact]):
        self._placed: dict[str, list[tuple[date, str, Role]]] = defaultdict(list)
        for p in placements:
            self._placed[p.agent].append((p.since, p.team, p.role))
        self._left: dict[str, list[date]] = defaultdict(list)
        for leaving in leavings:
            self._left[leaving.agent].append(leaving.left_on)

    @property
    def agents(self) -> list[str]:
        return sorted(self._placed)

    def placement(self, agent: str, day: date) -> tuple[str, Role] | None:
        """(team, role) of the agent on `day`, None when not on the roster that day."""
        return placement_on(self._placed.get(agent, ()), self._left.get(agent, ()), day)

    def team(self, agent: str, day: date) -> str:
        placed = self.placement(agent, day)
        return placed[0] if placed else NO_TEAM

    def role(self, agent: str, day: date) -> Role | None:
        placed = self.placement(agent, day)
        return placed[1] if placed else None

    def days_as(self, agent: str, role: Role, first: date, last: date) -> list[date]:
        """The days in [first, last] the agent was on the roster with `role`: the change
        days are few, so this walks the placements, not the days."""
        bounds = sorted(
            {first, last + timedelta(days=1)}
            | {since for since, _, _ in self._placed.get(agent, ()) if first < since <= last}
            | {d + timedelta(days=1) for d in self._left.get(agent, ()) if first <= d < last}
        )
        days: list[date] = []
        for start, end in itertools.pairwise(bounds):
            if self.role(agent, start) is role:
                days.extend(start + timedelta(days=n) for n in range((end - start).days))
        return days


@attrs.frozen
class Absenteeism:
    scheduled: int
    absent: int

    @property
    def ausentismo(self) -> float | None:
        return self.absent / self.scheduled if self.scheduled else None


def ausentismo(
    days: dict[tuple[str, date], bool], roster: Roster, by_agent: bool, by_team: bool
) -> dict[str, Absenteeism]:
    """Absent / scheduled agent-days, from `attendance`."""
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0])
    for (agent, day), absent in days.items():
        placed = roster.placement(agent, day)
        if placed is None or placed[1] is not Role.AGENT:
            continue
        row = totals[agent if by_agent else placed[0] if by_team else "total"]
        row[0] += 1
        row[1] += absent
    return {key: Absenteeism(*row) for key, row in sorted(totals.items())}


@attrs.frozen
class Attrition:
    active: int
    left: int

    @property
    def rotacion(self) -> float | None:
        return self.left / self.active if self.active else None


def rotacion(
    roster: Roster, leavings: Iterable[LeavingFact], first: date, end: date, by_team: bool
) -> dict[str, Attrition]:
    """Back-office agents who left in [first, end) / those on the roster any day of it."""
    last = end - timedelta(days=1)
    active: dict[str, set[str]] = defaultdict(set)
    for agent in roster.agents:
        days = roster.days_as(agent, Role.AGENT, first, last)
        if days:
            active[roster.team(agent, days[-1]) if by_team else "total"].add(agent)
    left: dict[str, set[str]] = defaultdict(set)
    for leaving in leavings:
        if first <= leaving.left_on < end:
            placed = roster.placement(leaving.agent, leaving.left_on)
            if placed is not None and placed[1] is Role.AGENT:
                left[placed[0] if by_team else "total"].add(leaving.agent)
    return {
        key: Attrition(len(active[key]), len(left[key])) for key in sorted(set(active) | set(left))
    }


@attrs.frozen
class PracticeCompliance:
    due: int
    held: int
    """Held within the due units, at most the goal per unit. A unit due in the period may
    reach outside it (the week of a Thursday in the period), and so may its entries."""
    held_total: int
    """Every entry held in the period, capped or not, each in its owner's group that day."""
    minutes: int

    @property
    def compliance(self) -> float | None:
        return self.held / self.due if self.due else None


def _units(frequency: Frequency, first: date, end: date) -> list[tuple[date, date, date]]:
    """(anchor, span start, span end exclusive) of each unit whose anchor is in [first, end)."""
    units: list[tuple[date, date, date]] = []
    if frequency is Frequency.WEEKLY:
        monday = first - timedelta(days=first.weekday())
        while monday < end:
            thursday = monday + timedelta(days=3)
            if first <= thursday < end:
                units.append((thursday, monday, monday + timedelta(days=7)))
            monday += timedelta(days=7)
    elif frequency is Frequency.FORTNIGHTLY:
        month = first.replace(day=1)
        while month < end:
            following = (month + timedelta(days=32)).replace(day=1)
            for anchor, start, stop in (
                (month.replace(day=8), month, month.replace(day=16)),
                (month.replace(day=23), month.replace(day=16), following),
            ):
                if first <= anchor < end:
                    units.append((anchor, start, stop))
            month = following
    elif frequency is Frequency.HALF_YEARLY:
        for year in range(first.year, end.year + 1):
            for start, last in (
                (date(year, 1, 1), date(year, 6, 30)),
                (date(year, 7, 1), date(year, 12, 31)),
            ):
                if first <= last < end:
                    units.append((last, start, last + timedelta(days=1)))
    return units


def practice_compliance(
    practices: Iterable[PracticeFact],
    days: dict[tuple[str, date], bool],
    roster: Roster,
    first: date,
    end: date,
    by_owner: bool,
    by_team: bool,
    today: date | None = None,
) -> dict[tuple[str, Practice], PracticeCompliance]:
    """Per group (owner, team or total) and practice: due, held, minutes (see the module);
    `today`: the report's day, None for a period wholly past."""
    held: dict[tuple[str, Practice], list[date]] = defaultdict(list)
    in_period: list[PracticeFact] = []
    for p in practices:
        held[(p.owner, p.practice)].append(p.held_on)
        if first <= p.held_on < end:
            in_period.append(p)
    worked: dict[str, list[date]] = defaultdict(list)
    for (agent, day), absent in days.items():
        if not absent and first <= day < end:
            worked[agent].append(day)

    def group(owner: str, day: date) -> str:
        return owner if by_owner else roster.team(owner, day) if by_team else "total"

    totals: dict[tuple[str, Practice], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    for rule in PRACTICES:
        units = _units(rule.frequency, first, end)
        for owner in roster.agents:
            held_on = held.get((owner, rule.practice), [])
            spans = (
                [(d, d, d + timedelta(days=1)) for d in sorted(set(worked.get(owner, ())))]
                if rule.frequency is Frequency.DAILY
                else units
            )
            for anchor, start, stop in spans:
                role = roster.role(owner, anchor)
                goal = rule.goal_for(role) if role is not None else 0
                if not goal:
                    continue
                done = min(goal, sum(start <= d < stop for d in held_on))
                if today is not None and today < stop and done < goal:
                    continue  # still running and not met yet: not due yet
                row = totals[(group(owner, anchor), rule.practice)]
                row[0] += goal
                row[1] += done
    for p in in_period:  # each entry with the owner's group on its day
        row = totals[(group(p.owner, p.held_on), p.practice)]
        row[2] += 1
        row[3] += p.minutes
    return {
        key: PracticeCompliance(*row)
        for key, row in sorted(totals.items(), key=lambda kv: (kv[0][0], PRACTICES_ORDER[kv[0][1]]))
    }


PRACTICES_ORDER = {rule.practice: n for n, rule in enumerate(PRACTICES)}


def overall(rows: Iterable[PracticeCompliance]) -> PracticeCompliance:
    """Every practice of a group together."""
    due = held = total = minutes = 0
    for r in rows:
        due += r.due
        held += r.held
        total += r.held_total
        minutes += r.minutes
    return PracticeCompliance(due, held, total, minutes)
