"""Who is on the team on a day: the roster's people with their shift and absence (the
supervisor's board).

The roster and the shifts live in the log, one stream per login (`domain.team.roster`),
imported by `backoffice import-roster` and `import-shifts`. `TeamToday` keeps every
person's state in memory, read from the log's team events only (the store leaves the
cases' events unread), and reads on from the position it last saw: after the first
reading, asking again costs one read of the log's head, and one of the team's events
since when the log has moved. Read-only: it records nothing.
"""

from __future__ import annotations

import threading
import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta

import attrs

from application.ports.cases import CaseStore
from domain.calendar import BOGOTA
from domain.team.roster import (
    AbsenceRecorded,
    AbsenceWithdrawn,
    AgentJoined,
    AgentLeft,
    AgentMoved,
    AgentState,
    Role,
    Shift,
    ShiftCancelled,
    ShiftScheduled,
    fold_agent_onto,
    placement_on,
)

TEAM_KINDS = (
    AgentJoined, AgentMoved, AgentLeft, ShiftScheduled, ShiftCancelled, AbsenceRecorded,
    AbsenceWithdrawn,
)  # fmt: skip
"""The events of the people's streams (a practice register entry is not a person's)."""
BATCH = 5_000


@attrs.frozen(kw_only=True)
class OnTheDay:
    """A person of the roster on a day: team and role that day, the day's shift (None: no
    shift scheduled) and the absence recorded on it (None: none)."""

    agent: str
    team: str
    role: Role
    shift: Shift | None
    absence: str | None

    @property
    def absent(self) -> bool:
        return self.absence is not None

    @property
    def on_shift(self) -> bool:
        """Scheduled that day and not absent."""
        return self.shift is not None and self.absence is None

    def working_at(self, moment: datetime, day: date) -> bool:
        """Whether `moment` falls in the day's shift (one ending at or before it starts ends
        the next day), the agent not absent."""
        if not self.on_shift or self.shift is None:
            return False
        starts = datetime.combine(day, self.shift.starts, BOGOTA)
        ends = datetime.combine(day, self.shift.ends, BOGOTA)
        if ends <= starts:
            ends += timedelta(days=1)
        return starts <= moment < ends


def on_the_day(state: AgentState, day: date) -> OnTheDay | None:
    """`state` on `day`; None when the person is not on the roster that day."""
    placed = placement_on(state.placements, state.leavings, day)
    if placed is None:
        return None
    team, role = placed
    return OnTheDay(agent=state.agent, team=team, role=role, shift=state.shifts.get(day),
                    absence=state.absences.get(day))  # fmt: skip


class TeamToday:
    """The roster's people as the log says now, kept in memory (see the module)."""

    def __init__(self, store: CaseStore) -> None:
        self.store = store
        self._states: dict[uuid.UUID, AgentState] = {}
        self._position = 0
        self._lock = threading.Lock()

    def refresh(self) -> None:
        """Read the team's events recorded since the last reading."""
        with self._lock:
            head = self.store.last_position()
            while self._position < head:
                batch = self.store.read_log(self._position, BATCH, through=head, kinds=TEAM_KINDS)
                for logged in batch:
                    stream = logged.event.originator_id
                    folded = fold_agent_onto(self._states.get(stream), [logged.event])
                    if folded is not None:
                        self._states[stream] = folded
                self._position = batch[-1].position if len(batch) == BATCH else head

    def day(self, day: date) -> Sequence[OnTheDay]:
        """Everyone on the roster on `day`, by login."""
        self.refresh()
        with self._lock:
            states = list(self._states.values())
        people = (on_the_day(state, day) for state in states)
        return sorted((p for p in people if p is not None), key=lambda p: p.agent)

    def in_use(self) -> bool:
        """Whether anyone was ever placed on the roster."""
        self.refresh()
        with self._lock:
            return bool(self._states)
