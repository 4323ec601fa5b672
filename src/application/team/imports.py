"""The HR roster and the management-practice register, imported into the log.

Three imports, each taking parsed records (or the reader's rejections) and returning an
`IngestReport`: `created` counts rows that recorded something new, `already_known` rows that
the log already said, and each refused row is reported with its place and reason while the
others are kept. Running an import twice adds nothing.

- roster rows: an agent's team and role from a date, and their last day if they left;
- shift rows: an agent's shift on a day, and (when the export has the column) the absence;
- practice rows: a management practice held, by whom, when, for how long.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import date, datetime, time
from typing import TYPE_CHECKING

import attrs

from application.case.commands import MAX_ATTEMPTS
from application.intake.records import IngestReport, RejectedRow, record_each
from application.ports.cases import ConcurrencyConflict
from domain.errors import RuleViolation
from domain.team import practices, roster
from domain.team.practices import Practice
from domain.team.roster import (
    AgentEvent,
    AgentState,
    Role,
)
from domain.values import Actor, ActorKind

if TYPE_CHECKING:
    from application.ports.office import CaseWork

HR_ROSTER = Actor(ActorKind.INTAKE, "nomina")
PRACTICE_REGISTER = Actor(ActorKind.INTAKE, "registro-practicas")


@attrs.frozen(kw_only=True)
class RosterRecord:
    agent: str
    team: str
    role: Role
    since: date
    """The day the agent joined, or started in this team and role."""
    left_on: date | None
    leave_reason: str | None
    location: str


@attrs.frozen(kw_only=True)
class ShiftRecord:
    agent: str
    day: date
    starts: time
    ends: time
    absence: str | None
    """The *novedad*: why the agent missed the shift; None when present."""
    absence_known: bool
    """Whether the export has an absence column: without it, absences are left as they are."""
    cancelled: bool = False
    """The shift was taken off the schedule (its absence, if any, stays on record)."""
    location: str


@attrs.frozen(kw_only=True)
class PracticeRecord:
    practice: Practice
    owner: str
    held_at: datetime
    minutes: int | None
    """None: the practice's usual length (docs/procedure.md §12)."""
    register_key: str | None
    """The entry's id in the register; None: practice, owner and time make the key."""
    location: str


class _Agents:
    """Agent states for one import run: each stream read once, kept up to date as we append."""

    def __init__(self, office: CaseWork) -> None:
        self.office = office
        self.states: dict[uuid.UUID, AgentState | None] = {}

    def get(self, login: str) -> AgentState | None:
        stream = roster.agent_stream(login.strip())
        if stream not in self.states:
            self.states[stream] = roster.fold_agent(self.office.store.stream(stream))
        return self.states[stream]

    def record(self, login: str, decide: Callable[[AgentState | None], list[AgentEvent]]) -> bool:
        """Decide on the agent's current state and append; True when something was new."""
        for _ in range(MAX_ATTEMPTS):
            state = self.get(login)
            events = decide(state)
            if not events:
                return False
            try:
                self.office.store.append(events)
            except ConcurrencyConflict:
                self.states.pop(roster.agent_stream(login.strip()), None)  # someone else wrote
                continue
            self.states[events[0].originator_id] = roster.fold_agent_onto(state, events)
            return True
        raise ConcurrencyConflict(f"the roster of {login!r} kept changing; try again")


def import_roster(office: CaseWork, items: Iterable[RosterRecord | RejectedRow]) -> IngestReport:
    """Join, move or record the leaving of each agent the roster lists."""
    agents = _Agents(office)

    def record(r: RosterRecord) -> bool:
        now = office.clock.now()

        def decide(state: AgentState | None) -> list[AgentEvent]:
            # The placement and the leaving of one row go in together, or neither does.
            events = roster.enrol(
                state, agent=r.agent, team=r.team, role=r.role, since=r.since,
                actor=HR_ROSTER, at=now,
            )  # fmt: skip
            if r.left_on is not None:
                placed = roster.fold_agent_onto(state, events)
                events += roster.leave(
                    placed, left_on=r.left_on, reason=r.leave_reason, actor=HR_ROSTER, at=now
                )
            return events

        return agents.record(r.agent, decide)

    return record_each(items, record)


def import_shifts(office: CaseWork, items: Iterable[ShiftRecord | RejectedRow]) -> IngestReport:
    """Schedule each shift and record (or withdraw) its absence. An agent has one shift a
    day: a second row of the file for the same agent and day is rejected (the first counts),
    so importing the file again records nothing."""
    agents = _Agents(office)
    first_rows: dict[tuple[str, date], str] = {}

    def once_a_day(
        rows: Iterable[ShiftRecord | RejectedRow],
    ) -> Iterator[ShiftRecord | RejectedRow]:
        for row in rows:
            if isinstance(row, ShiftRecord):
                first = first_rows.setdefault((row.agent.strip(), row.day), row.location)
                if first != row.location:
                    yield RejectedRow(
                        location=row.location, field="fecha",
                        reason=f"this agent already has a shift that day in this file ({first})",
                    )  # fmt: skip
                    continue
            yield row

    def record(r: ShiftRecord) -> bool:
        now = office.clock.now()
        if r.cancelled:
            return agents.record(
                r.agent, lambda s: roster.cancel_shift(s, day=r.day, actor=HR_ROSTER, at=now)
            )
        return agents.record(
            r.agent,
            lambda s: roster.schedule_shift(
                s,
                day=r.day,
                starts=r.starts,
                ends=r.ends,
                absence=r.absence,
                absence_known=r.absence_known,
                actor=HR_ROSTER,
                at=now,
            ),
        )

    return record_each(once_a_day(items), record)


def import_practices(
    office: CaseWork, items: Iterable[PracticeRecord | RejectedRow]
) -> IngestReport:
    """Record each practice held, once per register entry."""
    agents = _Agents(office)

    def record(r: PracticeRecord) -> bool:
        key = r.register_key or f"{r.practice.value}|{r.owner}|{r.held_at.isoformat()}"
        minutes = r.minutes if r.minutes is not None else practices.RULES[r.practice].minutes
        entry = (r.practice, r.owner.strip(), r.held_at, minutes)
        # An entry already in the log is known whatever the roster says now (a role
        # corrected later must not turn a re-import into rejections).
        if known := _entry(office, practices.practice_stream(key.strip())):
            if known != entry:
                raise RuleViolation(f"register entry {key!r} is already recorded with other data")
            return False
        event = practices.hold_practice(
            agents.get(r.owner),
            practice=r.practice,
            held_at=r.held_at,
            minutes=minutes,
            register_key=key,
            actor=PRACTICE_REGISTER,
            at=office.clock.now(),
        )
        try:
            office.store.append([event])
        except ConcurrencyConflict:  # recorded meanwhile by another import
            if _entry(office, event.originator_id) != entry:
                raise RuleViolation(
                    f"register entry {key!r} is already recorded with other data"
                ) from None
            return False
        return True

    return record_each(items, record)


def _entry(office: CaseWork, stream: uuid.UUID) -> tuple[object, ...] | None:
    """(practice, owner, held at, minutes) of a register entry in the log, if it is there."""
    known = office.store.stream(stream)
    if not known or not isinstance(known[0], practices.PracticeHeld):
        return None
    held = known[0]
    return (held.practice, held.owner, held.held_at, held.minutes)
