"""The facts the indicators are computed from, and how events become facts.

Events become facts (`facts_from`, or `FactBuilder` one event at a time): one per follow-up,
per closing, per customer contact, per survey answer, per monitoring and per case and Bogotá
day an agent acted on the case (a handling, FCR's denominator), each carrying the
case's owner, category and line of business at the time; and the team's facts (placements,
leavings, shifts, absences, practices held) from the roster's and the register's streams. A
projection keeps the same facts in a database; `domain.indicators.definitions` aggregates them, so a
number has one definition whichever path fed it.
"""

from __future__ import annotations

import enum
import functools
import uuid
from collections.abc import Callable, Iterable, MutableMapping
from datetime import date, datetime, timedelta

import attrs

from domain.calendar import BusinessCalendar
from domain.case.events import (
    AccountChecked,
    Assigned,
    CaseEvent,
    ClockStopped,
    Closed,
    ClosedFirstContact,
    ClosingProtocolCompleted,
    Escalated,
    FollowUpCompleted,
    FollowUpMissed,
    FollowUpScheduled,
    Ingested,
    Interpreted,
    OutsideWriteRequested,
    QualityMonitored,
    Reopened,
    RepeatContactRecorded,
    SurveyAnswered,
    Typified,
    VisitScheduled,
)
from domain.indicators.workforce import (
    AbsenceFact,
    LeavingFact,
    PlacementFact,
    PracticeFact,
    Roster,
    ShiftFact,
    TeamFact,
    practice_order,
    shift_order,
    team_fact_key,
)
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
from domain.team.streams import TEAM_EVENT_TYPES
from domain.values import ActorKind

UNASSIGNED = "(sin asignar)"
UNINTERPRETED = "(sin interpretar)"


class Dimension(enum.StrEnum):
    ALL = "all"
    AGENT = "agent"
    TEAM = "team"
    """The agent's team on the roster on the fact's (Bogotá) day."""
    CATEGORY = "category"
    LINE = "line"


@attrs.frozen
class Attributes:
    """What a fact is grouped by: the case's owner, category and line at the time."""

    agent: str = UNASSIGNED
    category: str = UNINTERPRETED
    line: str = ""

    def key(self, by: Dimension) -> str:
        """The group of a fact (not for teams: see `Facts.grouping`)."""
        if by is Dimension.AGENT:
            return self.agent
        if by is Dimension.CATEGORY:
            return self.category
        if by is Dimension.LINE:
            return self.line
        return "total"


@attrs.frozen
class FollowUpFact:
    case_id: uuid.UUID
    follow_up_id: int
    due_at: datetime
    status: str  # pending, on_time, late, missed
    settled_at: datetime | None
    attributes: Attributes


@attrs.frozen
class ClosingFact:
    case_id: uuid.UUID
    version: int
    closed_at: datetime
    first_contact: bool
    account: str
    typification: str
    attributes: Attributes


@attrs.frozen
class ContactFact:
    case_id: uuid.UUID
    version: int
    account: str
    typification: str
    received_at: datetime


@attrs.frozen
class HandlingFact:
    """An agent acted on the case on this Bogotá day (`at`: the first time that day)."""

    case_id: uuid.UUID
    day: date
    at: datetime
    attributes: Attributes


@attrs.frozen
class SurveyFact:
    case_id: uuid.UUID
    survey_id: str
    answered_at: datetime
    recommendation: int
    agent_satisfaction: int | None
    solved: bool | None
    attributes: Attributes


@attrs.frozen
class MonitoringFact:
    case_id: uuid.UUID
    monitoring_id: str
    monitored_at: datetime
    score: int
    attributes: Attributes
    """The monitored agent (from the monitoring), with the case's category and line."""


@attrs.frozen
class Facts:
    follow_ups: tuple[FollowUpFact, ...] = ()
    closings: tuple[ClosingFact, ...] = ()
    contacts: tuple[ContactFact, ...] = ()
    surveys: tuple[SurveyFact, ...] = ()
    monitorings: tuple[MonitoringFact, ...] = ()
    placements: tuple[PlacementFact, ...] = ()
    leavings: tuple[LeavingFact, ...] = ()
    shifts: tuple[ShiftFact, ...] = ()
    absences: tuple[AbsenceFact, ...] = ()
    practices: tuple[PracticeFact, ...] = ()
    handlings: tuple[HandlingFact, ...] = ()

    @functools.cached_property
    def roster(self) -> Roster:
        """Who was where on each day; built once per set of facts (every team indicator and
        the team grouping use it)."""
        return Roster(self.placements, self.leavings)

    def grouping(self, by: Dimension) -> Callable[[Attributes, datetime], str]:
        """The group of a fact with these attributes at that moment."""
        if by is not Dimension.TEAM:
            return lambda attributes, _: attributes.key(by)
        roster = self.roster
        return lambda attributes, moment: roster.team(
            attributes.agent, BusinessCalendar.local_date(moment)
        )


@attrs.frozen
class Period:
    """Half-open: `start` included, `end` excluded."""

    start: datetime
    end: datetime

    def __contains__(self, moment: datetime) -> bool:
        return self.start <= moment < self.end

    @classmethod
    def of_days(cls, first: date, last: date) -> Period:
        """Bogotá's days `first` to `last`, both included."""
        return cls(
            BusinessCalendar.start_of(first), BusinessCalendar.start_of(last + timedelta(days=1))
        )


Fact = (
    FollowUpFact
    | HandlingFact
    | ClosingFact
    | ContactFact
    | SurveyFact
    | MonitoringFact
    | PlacementFact
    | LeavingFact
    | ShiftFact
    | AbsenceFact
    | PracticeFact
)


HANDLING_EVENTS: frozenset[type[CaseEvent]] = frozenset(
    {
        Interpreted,
        AccountChecked,
        FollowUpScheduled,
        FollowUpCompleted,
        Typified,
        Escalated,
        VisitScheduled,
        ClockStopped,
        OutsideWriteRequested,
        ClosingProtocolCompleted,
        Closed,
        ClosedFirstContact,
        Reopened,
    }
)
"""Every kind of event an agent's work on a case records first (the others it records come
with one of these): recorded by an agent, each means the agent acted on the case (docs/procedure.md
§11, "cases handled"). [decision] An assignment is the supervisor's, not work on the case; a
note documents work rather than doing it (and is most of the log: reading every note would
halve the projection's rebuild rate, measured in the benchmark's part d), so a day with only
notes on a case does not count it as handled."""

_ONLY_HANDLING = HANDLING_EVENTS - {
    Interpreted,
    FollowUpScheduled,
    FollowUpCompleted,
    Closed,
    ClosedFirstContact,
}
"""Handling events that make no other fact and change no attribute."""
_NO_ATTRIBUTES = Attributes()

FACT_EVENTS: frozenset[type[CaseEvent | TeamEvent]] = frozenset(
    {
        Ingested,
        Assigned,
        RepeatContactRecorded,
        FollowUpMissed,
        QualityMonitored,
        SurveyAnswered,
        *HANDLING_EVENTS,
        *TEAM_EVENT_TYPES,
    }
)
"""The events that make facts; every other kind leaves the facts as they are."""


class FactBuilder:
    """Turns events into facts, one event at a time.

    It needs, per case, the attributes so far, the (account, typification) the case was
    ingested with and its pending follow-ups (id → due time); the caller owns those maps
    (plain dicts here, database rows in the projection), so both paths share this one reading
    of the events. A pending follow-up follows its case's owner and category; a settled one
    keeps those of its settling.
    """

    def __init__(
        self,
        attributes: MutableMapping[uuid.UUID, Attributes],
        identity: MutableMapping[uuid.UUID, tuple[str, str]],
        pending: MutableMapping[uuid.UUID, dict[int, datetime]],
    ) -> None:
        self.attributes = attributes
        self.identity = identity
        self.pending = pending
        self._handled: HandlingFact | None = None
        """The last handling fact made: the same case's next events that day, with the same
        attributes, add nothing."""

    def apply(self, e: CaseEvent | TeamEvent) -> list[Fact]:
        """The facts this event creates or replaces (a follow-up fact replaces its earlier one)."""
        if type(e) in _ONLY_HANDLING:  # most of agents' work: notes, escalations, …
            assert isinstance(e, CaseEvent)
            return self._handling(e, self.attributes.get(e.originator_id) or _NO_ATTRIBUTES)
        if isinstance(e, TeamEvent):
            return team_facts(e)
        cid = e.originator_id
        current = self.attributes.get(cid) or _NO_ATTRIBUTES
        new: list[Fact] = []
        if isinstance(e, Ingested):
            current = Attributes(line=e.line.value)
            self.identity[cid] = (e.account, e.typification)
            new.append(
                ContactFact(cid, e.originator_version, e.account, e.typification, e.received_at)
            )
            if e.follow_up_at is not None:
                self.pending[cid] = {1: e.follow_up_at}
                new.append(FollowUpFact(cid, 1, e.follow_up_at, "pending", None, current))
        elif isinstance(e, Assigned | Interpreted):
            if isinstance(e, Assigned):
                current = attrs.evolve(current, agent=e.agent)
            else:
                current = attrs.evolve(current, category=e.category.value)
            new.extend(
                FollowUpFact(cid, follow_up_id, due, "pending", None, current)
                for follow_up_id, due in sorted(self.pending.get(cid, {}).items())
            )
        elif isinstance(e, RepeatContactRecorded):
            account, typification = self.identity[cid]
            new.append(ContactFact(cid, e.originator_version, account, typification, e.received_at))
        elif isinstance(e, FollowUpScheduled):
            self.pending.setdefault(cid, {})[e.follow_up_id] = e.due_at
            new.append(FollowUpFact(cid, e.follow_up_id, e.due_at, "pending", None, current))
        elif isinstance(e, FollowUpCompleted | FollowUpMissed):
            self.pending.get(cid, {}).pop(e.follow_up_id, None)
            status = (
                "missed" if isinstance(e, FollowUpMissed) else ("on_time" if e.on_time else "late")
            )
            new.append(FollowUpFact(cid, e.follow_up_id, e.due_at, status, e.timestamp, current))
        elif isinstance(e, QualityMonitored):
            monitored = attrs.evolve(current, agent=e.agent)
            new.append(MonitoringFact(cid, e.monitoring_id, e.monitored_at, e.score, monitored))
        elif isinstance(e, SurveyAnswered):
            new.append(
                SurveyFact(
                    cid,
                    e.survey_id,
                    e.answered_at,
                    e.recommendation,
                    e.agent_satisfaction,
                    e.solved,
                    current,
                )
            )
        elif isinstance(e, Closed | ClosedFirstContact):
            account, typification = self.identity[cid]
            new.append(
                ClosingFact(
                    cid,
                    e.originator_version,
                    e.timestamp,
                    isinstance(e, ClosedFirstContact),
                    account,
                    typification,
                    current,
                )
            )
        self.attributes[cid] = current
        if type(e) in HANDLING_EVENTS:
            new.extend(self._handling(e, current))
        return new

    def _handling(self, e: CaseEvent, current: Attributes) -> list[Fact]:
        """A handling fact for an agent's work on the case: its (Bogotá) day and the case's
        attributes then; the day's first time and last attributes are what count (see
        `merge_handling`)."""
        if e.actor.kind is not ActorKind.AGENT:
            return []
        day = BusinessCalendar.local_date(e.timestamp)
        previous = self._handled
        if (
            previous is not None
            and previous.case_id == e.originator_id
            and previous.attributes is current
            and previous.day == day
        ):
            return []  # the same case, day and attributes: nothing new to say
        fact = HandlingFact(e.originator_id, day, e.timestamp, current)
        self._handled = fact
        return [fact]


def team_facts(e: TeamEvent) -> list[Fact]:
    """The roster's and the register's facts: each replaces the one with its key."""
    if isinstance(e, AgentJoined):
        return [PlacementFact(e.agent, e.joined_on, e.team, e.role)]
    if isinstance(e, AgentMoved):
        return [PlacementFact(e.agent, e.effective_on, e.team, e.role)]
    if isinstance(e, AgentLeft):
        return [LeavingFact(e.agent, e.left_on, e.reason)]
    if isinstance(e, ShiftScheduled | ShiftCancelled):
        return [ShiftFact(e.agent, e.day, isinstance(e, ShiftScheduled))]
    if isinstance(e, AbsenceRecorded):
        return [AbsenceFact(e.agent, e.day, e.reason)]
    if isinstance(e, AbsenceWithdrawn):
        return [AbsenceFact(e.agent, e.day, None)]
    if isinstance(e, PracticeHeld):
        held_on = BusinessCalendar.local_date(e.held_at)
        return [PracticeFact(e.register_key, e.practice, e.owner, held_on, e.minutes)]
    return []


def facts_from(events: Iterable[CaseEvent | TeamEvent]) -> Facts:
    """Every fact an event stream holds (events in log order)."""
    builder = FactBuilder({}, {}, {})
    follow_ups: dict[tuple[uuid.UUID, int], FollowUpFact] = {}
    closings: list[ClosingFact] = []
    contacts: list[ContactFact] = []
    surveys: list[SurveyFact] = []
    monitorings: list[MonitoringFact] = []
    handlings: dict[tuple[uuid.UUID, date], HandlingFact] = {}
    keyed: dict[tuple[type, object], Fact] = {}
    for event in events:
        for fact in builder.apply(event):
            if isinstance(fact, HandlingFact):
                key = (fact.case_id, fact.day)
                handlings[key] = merge_handling(handlings.get(key), fact)
            elif isinstance(fact, TeamFact):
                keyed[(type(fact), team_fact_key(fact))] = fact
            elif isinstance(fact, FollowUpFact):
                follow_ups[(fact.case_id, fact.follow_up_id)] = fact
            elif isinstance(fact, ClosingFact):
                closings.append(fact)
            elif isinstance(fact, SurveyFact):
                surveys.append(fact)
            elif isinstance(fact, MonitoringFact):
                monitorings.append(fact)
            else:
                contacts.append(fact)
    return Facts(
        tuple(sorted(follow_ups.values(), key=follow_up_order)),
        tuple(sorted(closings, key=lambda c: (c.closed_at, str(c.case_id), c.version))),
        tuple(sorted(contacts, key=lambda c: (c.received_at, str(c.case_id), c.version))),
        tuple(sorted(surveys, key=survey_order)),
        tuple(sorted(monitorings, key=monitoring_order)),
        tuple(
            sorted(
                (f for f in keyed.values() if isinstance(f, PlacementFact)),
                key=lambda p: (p.agent, p.since),
            )
        ),
        tuple(
            sorted(
                (f for f in keyed.values() if isinstance(f, LeavingFact)),
                key=lambda p: (p.agent, p.left_on),
            )
        ),
        tuple(sorted((f for f in keyed.values() if isinstance(f, ShiftFact)), key=shift_order)),
        tuple(sorted((f for f in keyed.values() if isinstance(f, AbsenceFact)), key=shift_order)),
        tuple(
            sorted((f for f in keyed.values() if isinstance(f, PracticeFact)), key=practice_order)
        ),
        tuple(sorted(handlings.values(), key=handling_order)),
    )


def merge_handling(earlier: HandlingFact | None, later: HandlingFact) -> HandlingFact:
    """One handling per case and day: the day's first time, its last attributes (so the
    case counts in the group of its last handling)."""
    if earlier is None:
        return later
    return attrs.evolve(earlier, attributes=later.attributes)


def handling_order(fact: HandlingFact) -> tuple[datetime, str]:
    return (fact.at, str(fact.case_id))


def monitoring_order(fact: MonitoringFact) -> tuple[datetime, str, str]:
    return (fact.monitored_at, str(fact.case_id), fact.monitoring_id)


def survey_order(fact: SurveyFact) -> tuple[datetime, str, str]:
    return (fact.answered_at, str(fact.case_id), fact.survey_id)


def follow_up_order(fact: FollowUpFact) -> tuple[datetime, str, int]:
    return (fact.due_at, str(fact.case_id), fact.follow_up_id)


def period_days(period: Period) -> tuple[date, date]:
    """The Bogotá days a period touches, as [first, end)."""
    first = BusinessCalendar.local_date(period.start)
    last = BusinessCalendar.local_date(period.end - timedelta(microseconds=1))
    return first, last + timedelta(days=1)
