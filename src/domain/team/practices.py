"""The management-practice register (docs/procedure.md §12): the practices, their frequency,
owners, goals and length, and one stream per register entry (`PracticeHeld`).

Re-importing an entry finds its stream taken: the entry's key gives the stream id.
"""

from __future__ import annotations

import enum
import uuid
from datetime import datetime

import attrs

from domain.calendar import BusinessCalendar
from domain.case.decisions import clean_text
from domain.errors import InvalidValue, RuleViolation
from domain.team.roster import TEAM_NAMESPACE, AgentState, Role, TeamEvent
from domain.values import Actor, require_aware


def practice_stream(key: str) -> uuid.UUID:
    """A register entry's stream id, from the entry's key (its id in the register)."""
    return uuid.uuid5(TEAM_NAMESPACE, f"practice:{key}")


class Frequency(enum.StrEnum):
    DAILY = "daily"
    WEEKLY = "weekly"
    FORTNIGHTLY = "fortnightly"
    HALF_YEARLY = "half_yearly"


class Practice(enum.StrEnum):
    """The management practices of docs/procedure.md §12."""

    DAILY_DIALOGUE = "daily_dialogue"
    WEEKLY_DIALOGUE = "weekly_dialogue"
    PROCESS_CONFIRMATION = "process_confirmation"
    PRACTICE_OBSERVATION = "practice_observation"
    LEADERS_AGENDA = "leaders_agenda"
    PRACTICE_REGISTER = "practice_register"
    IMPROVEMENT_MEETING = "improvement_meeting"
    CLIENT_MEETING = "client_meeting"
    BAROMETER_MEETING = "barometer_meeting"

    @property
    def spanish(self) -> str:
        return _SPANISH[self]


_SPANISH = {
    Practice.DAILY_DIALOGUE: "Diálogo diario",
    Practice.WEEKLY_DIALOGUE: "Diálogo semanal",
    Practice.PROCESS_CONFIRMATION: "Confirmación de proceso",
    Practice.PRACTICE_OBSERVATION: "Acompañamiento a prácticas",
    Practice.LEADERS_AGENDA: "Agenda de líderes",
    Practice.PRACTICE_REGISTER: "Registro de prácticas",
    Practice.IMPROVEMENT_MEETING: "Mejora continua",
    Practice.CLIENT_MEETING: "Reunión con el cliente",
    Practice.BAROMETER_MEETING: "Reunión barómetro",
}


@attrs.frozen
class PracticeRule:
    """How often a practice is due, how many times per period for each owning role, and how
    long it takes (minutes)."""

    practice: Practice
    frequency: Frequency
    goals: tuple[tuple[Role, int], ...]
    minutes: int

    def goal_for(self, role: Role) -> int:
        return dict(self.goals).get(role, 0)


S, C, M = Role.SUPERVISOR, Role.COORDINATOR, Role.MANAGER
# docs/procedure.md §12. [decision] "3 a la semana / 1 a la semana" for observing a practice reads
# as
# 3 a week for a coordinator and 1 for a manager; where a practice names several owners, each
# of them holds it with their own team.
PRACTICES: tuple[PracticeRule, ...] = (
    PracticeRule(Practice.DAILY_DIALOGUE, Frequency.DAILY, ((S, 1),), 15),
    PracticeRule(Practice.WEEKLY_DIALOGUE, Frequency.WEEKLY, ((C, 1), (M, 1)), 30),
    PracticeRule(Practice.PROCESS_CONFIRMATION, Frequency.DAILY, ((S, 1),), 30),
    PracticeRule(Practice.PRACTICE_OBSERVATION, Frequency.WEEKLY, ((C, 3), (M, 1)), 30),
    PracticeRule(Practice.LEADERS_AGENDA, Frequency.WEEKLY, ((S, 1), (C, 1), (M, 1)), 30),
    PracticeRule(Practice.PRACTICE_REGISTER, Frequency.WEEKLY, ((S, 1), (C, 1), (M, 1)), 5),
    PracticeRule(Practice.IMPROVEMENT_MEETING, Frequency.FORTNIGHTLY, ((S, 1), (C, 1)), 60),
    PracticeRule(Practice.CLIENT_MEETING, Frequency.FORTNIGHTLY, ((C, 1),), 60),
    PracticeRule(Practice.BAROMETER_MEETING, Frequency.HALF_YEARLY, ((S, 1), (C, 1), (M, 1)), 60),
)
RULES: dict[Practice, PracticeRule] = {rule.practice: rule for rule in PRACTICES}


@attrs.frozen(kw_only=True)
class PracticeHeld(TeamEvent):
    practice: Practice
    owner: str
    """The leader who held it (a login on the roster)."""
    held_at: datetime
    minutes: int
    register_key: str
    """The entry's key in the register, from which its stream id derives."""


def hold_practice(
    owner: AgentState | None,
    *,
    practice: Practice,
    held_at: datetime,
    minutes: int,
    register_key: str,
    actor: Actor,
    at: datetime,
) -> PracticeHeld:
    """A register entry: the owner must be a leader on the roster whose role holds it."""
    require_aware("at", at)
    require_aware("held_at", held_at)
    if owner is None:
        raise RuleViolation("the owner is not on the roster: import the roster first")
    day = BusinessCalendar.local_date(held_at)
    role = owner.role_on(day)
    if role is None:
        raise RuleViolation(f"{owner.agent} was not on the roster on {day}")
    rule = RULES[practice]
    if not rule.goal_for(role):
        owners = ", ".join(r.value for r, _ in rule.goals)
        raise RuleViolation(
            f"{owner.agent} had the role {role.value}; {practice.value} is held by: {owners}"
        )
    if not 0 < minutes <= 600:
        raise InvalidValue("minutes", f"{minutes} is not between 1 and 600")
    key = clean_text("register key", register_key, max_length=200)
    return PracticeHeld(
        originator_id=practice_stream(key),
        originator_version=1,
        timestamp=at,
        actor=actor,
        practice=practice,
        owner=owner.agent,
        held_at=held_at,
        minutes=minutes,
        register_key=key,
    )
