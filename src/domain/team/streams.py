"""The team behind the cases: the HR roster (`domain.team.roster`) and the management-practice
register (`domain.team.practices`), whose streams share the case log so that every indicator
comes from one history (topics `team.*`).
"""

from __future__ import annotations

from domain.team.practices import PracticeHeld
from domain.team.roster import (
    AbsenceRecorded,
    AbsenceWithdrawn,
    AgentJoined,
    AgentLeft,
    AgentMoved,
    ShiftCancelled,
    ShiftScheduled,
    TeamEvent,
)

TEAM_EVENT_TYPES: tuple[type[TeamEvent], ...] = (
    AgentJoined,
    AgentMoved,
    AgentLeft,
    ShiftScheduled,
    ShiftCancelled,
    AbsenceRecorded,
    AbsenceWithdrawn,
    PracticeHeld,
)
