"""Indicators from the case history (DOMAIN.md §11), as pure functions over facts.

Events become facts (`facts_from`): one per follow-up, per closing and per customer contact,
each carrying the case's owner, category and line of business at the time. The indicator
functions aggregate facts for a period, grouped by a dimension. A projection keeps the same
facts in a database; both paths share the aggregation, so a number has one definition.

Definitions (version `v1`), each a [decision] where DOMAIN.md leaves room:
- Seguimientos: follow-ups due in the period (by due time), done on time, late, missed or
  still pending; compliance = on time / due.
- Reincidencia: cases closed in first contact (SPC) in the period that were followed, within
  the window (default 7 days) after closing, by a new contact from the same account with the
  same typification / SPC cases.
- FCR: SPC cases without such a repeat / cases closed in the period.
- Efectividad: follow-up compliance side by side with cases closed per agent-day (the days on
  which the agent closed a case or settled a follow-up).
- Calidad MEC: 40 % the mean monitoring score + 60 % the mean agent satisfaction of the
  survey (0–10 as 0–100 %); goal 90 %; weights and goal are configuration.
- NPS: % promoters − % detractors over the survey answers given in the period; scale and bands
  are configuration (default 0–10, promoters 9–10, detractors 0–6).
"""

from __future__ import annotations

import enum
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable, MutableMapping
from datetime import date, datetime, timedelta

import attrs

from domain.calendar import BOGOTA
from domain.events import (
    Assigned,
    CaseEvent,
    Closed,
    ClosedFirstContact,
    FollowUpCompleted,
    FollowUpMissed,
    FollowUpScheduled,
    Ingested,
    Interpreted,
    QualityMonitored,
    RepeatContactRecorded,
    SurveyAnswered,
)
from domain.team import (
    TEAM_EVENT_TYPES,
    AbsenceRecorded,
    AbsenceWithdrawn,
    AgentJoined,
    AgentLeft,
    AgentMoved,
    Practice,
    PracticeHeld,
    ShiftCancelled,
    ShiftScheduled,
    TeamEvent,
)
from domain.workforce import (
    AbsenceFact,
    Absenteeism,
    Attrition,
    LeavingFact,
    PlacementFact,
    PracticeCompliance,
    PracticeFact,
    Roster,
    ShiftFact,
    attendance,
    ausentismo,
    practice_compliance,
    practice_order,
    rotacion,
    shift_order,
)

DEFINITIONS = "v1"
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

    def roster(self) -> Roster:
        return Roster(self.placements, self.leavings)

    def grouping(self, by: Dimension) -> Callable[[Attributes, datetime], str]:
        """The group of a fact with these attributes at that moment."""
        if by is not Dimension.TEAM:
            return lambda attributes, _: attributes.key(by)
        roster = self.roster()
        return lambda attributes, moment: roster.team(
            attributes.agent, moment.astimezone(BOGOTA).date()
        )


@attrs.frozen
class Period:
    """Half-open: `start` included, `end` excluded."""

    start: datetime
    end: datetime

    def __contains__(self, moment: datetime) -> bool:
        return self.start <= moment < self.end


Fact = (
    FollowUpFact
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


FACT_EVENTS: frozenset[type[CaseEvent | TeamEvent]] = frozenset(
    {
        Ingested,
        Assigned,
        Interpreted,
        RepeatContactRecorded,
        FollowUpScheduled,
        FollowUpCompleted,
        FollowUpMissed,
        QualityMonitored,
        SurveyAnswered,
        Closed,
        ClosedFirstContact,
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

    def apply(self, e: CaseEvent | TeamEvent) -> list[Fact]:
        """The facts this event creates or replaces (a follow-up fact replaces its earlier one)."""
        if isinstance(e, TeamEvent):
            return team_facts(e)
        cid = e.originator_id
        current = self.attributes.get(cid, Attributes())
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
        return new


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
        held_on = e.held_at.astimezone(BOGOTA).date()
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
    keyed: dict[tuple[type, object], Fact] = {}
    for event in events:
        for fact in builder.apply(event):
            if isinstance(fact, PlacementFact):
                keyed[(PlacementFact, (fact.agent, fact.since))] = fact
            elif isinstance(fact, LeavingFact):
                keyed[(LeavingFact, (fact.agent, fact.left_on))] = fact
            elif isinstance(fact, ShiftFact | AbsenceFact):
                keyed[(type(fact), (fact.agent, fact.day))] = fact
            elif isinstance(fact, PracticeFact):
                keyed[(PracticeFact, fact.register_key)] = fact
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
    )


def monitoring_order(fact: MonitoringFact) -> tuple[datetime, str, str]:
    return (fact.monitored_at, str(fact.case_id), fact.monitoring_id)


def survey_order(fact: SurveyFact) -> tuple[datetime, str, str]:
    return (fact.answered_at, str(fact.case_id), fact.survey_id)


def follow_up_order(fact: FollowUpFact) -> tuple[datetime, str, int]:
    return (fact.due_at, str(fact.case_id), fact.follow_up_id)


@attrs.frozen
class FollowUpCompliance:
    due: int
    on_time: int
    late: int
    missed: int
    pending: int

    @property
    def compliance(self) -> float | None:
        return self.on_time / self.due if self.due else None


def seguimientos(
    facts: Facts, period: Period, by: Dimension = Dimension.ALL
) -> dict[str, FollowUpCompliance]:
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    group = facts.grouping(by)
    for f in facts.follow_ups:
        if f.due_at in period:
            counts[group(f.attributes, f.due_at)][f.status] += 1
    return {
        key: FollowUpCompliance(
            due=sum(c.values()),
            on_time=c["on_time"],
            late=c["late"],
            missed=c["missed"],
            pending=c["pending"],
        )
        for key, c in sorted(counts.items())
    }


@attrs.frozen
class FirstContactResolution:
    handled: int
    first_contact: int
    repeated: int

    @property
    def fcr(self) -> float | None:
        return (self.first_contact - self.repeated) / self.handled if self.handled else None

    @property
    def reincidencia(self) -> float | None:
        return self.repeated / self.first_contact if self.first_contact else None


def first_contact_resolution(
    facts: Facts,
    period: Period,
    by: Dimension = Dimension.ALL,
    window: timedelta = timedelta(days=7),
) -> dict[str, FirstContactResolution]:
    later: dict[tuple[str, str], list[ContactFact]] = defaultdict(list)
    for c in facts.contacts:
        later[(c.account, c.typification)].append(c)

    def repeated(closing: ClosingFact) -> bool:
        return any(
            closing.closed_at < c.received_at <= closing.closed_at + window
            for c in later[(closing.account, closing.typification)]
        )

    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    group = facts.grouping(by)
    for closing in facts.closings:
        if closing.closed_at not in period:
            continue
        row = totals[group(closing.attributes, closing.closed_at)]
        row[0] += 1
        if closing.first_contact:
            row[1] += 1
            row[2] += repeated(closing)
    return {key: FirstContactResolution(*row) for key, row in sorted(totals.items())}


@attrs.frozen
class Effectiveness:
    compliance: float | None
    closed: int
    agent_days: int

    @property
    def closed_per_agent_day(self) -> float | None:
        return self.closed / self.agent_days if self.agent_days else None


def efectividad(facts: Facts, period: Period) -> dict[str, Effectiveness]:
    """Per agent: follow-up compliance and cases closed per agent-day (Bogotá days)."""
    days: dict[str, set[date]] = defaultdict(set)
    closed: Counter[str] = Counter()
    for closing in facts.closings:
        if closing.closed_at in period:
            agent = closing.attributes.agent
            closed[agent] += 1
            days[agent].add(closing.closed_at.astimezone(BOGOTA).date())
    for f in facts.follow_ups:
        if f.settled_at is not None and f.settled_at in period and f.status != "missed":
            days[f.attributes.agent].add(f.settled_at.astimezone(BOGOTA).date())
    compliance = seguimientos(facts, period, Dimension.AGENT)
    agents = sorted(set(days) | set(compliance))
    return {
        agent: Effectiveness(
            compliance=compliance[agent].compliance if agent in compliance else None,
            closed=closed[agent],
            agent_days=len(days[agent]),
        )
        for agent in agents
    }


@attrs.frozen
class NpsScale:
    """[decision] The survey's scale and bands: default 0–10, promoters 9–10, detractors 0–6
    (Bain); Claro's survey has been described with a 0–9 scale: configure it here."""

    maximum: int = 10
    promoters_from: int = 9
    detractors_to: int = 6

    def __attrs_post_init__(self) -> None:
        if not 0 <= self.detractors_to < self.promoters_from <= self.maximum:
            raise ValueError("NPS bands must be 0 ≤ detractors_to < promoters_from ≤ maximum")


DEFAULT_NPS_SCALE = NpsScale()


@attrs.frozen
class NetPromoter:
    answers: int
    promoters: int
    detractors: int

    @property
    def nps(self) -> float | None:
        """% promoters − % detractors, over all answers (−100 to 100)."""
        if not self.answers:
            return None
        return 100 * (self.promoters - self.detractors) / self.answers


def nps(
    facts: Facts, period: Period, by: Dimension = Dimension.ALL, scale: NpsScale = DEFAULT_NPS_SCALE
) -> dict[str, NetPromoter]:
    """NPS of the survey answers given in the period (by answer time)."""
    totals: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0])
    group = facts.grouping(by)
    for f in facts.surveys:
        if f.answered_at not in period:
            continue
        row = totals[group(f.attributes, f.answered_at)]
        row[0] += 1
        row[1] += f.recommendation >= scale.promoters_from
        row[2] += f.recommendation <= scale.detractors_to
    return {key: NetPromoter(*row) for key, row in sorted(totals.items())}


@attrs.frozen
class QualityWeights:
    """Calidad MEC (§11): emitted (monitoring) 40 %, perceived (the survey's agent
    satisfaction, 0–10 read as 0–100 %) 60 % — the seed's "540%"/"560%" are OCR for 40/60
    [decision]; configurable. Its goal (90 %) is in `domain.goals`."""

    emitted: float = 0.4
    perceived: float = 0.6

    def __attrs_post_init__(self) -> None:
        if abs(self.emitted + self.perceived - 1) > 1e-9 or min(self.emitted, self.perceived) < 0:
            raise ValueError("the quality weights must be non-negative and add up to 1")


DEFAULT_QUALITY_WEIGHTS = QualityWeights()


@attrs.frozen
class Quality:
    monitorings: int
    emitted: float | None
    """Mean monitoring score, 0–100."""
    perceived_answers: int
    perceived: float | None
    """Mean agent satisfaction in the survey, as 0–100."""
    weights: QualityWeights = DEFAULT_QUALITY_WEIGHTS

    @property
    def mec(self) -> float | None:
        if self.emitted is None or self.perceived is None:
            return None
        return self.weights.emitted * self.emitted + self.weights.perceived * self.perceived


def calidad_mec(
    facts: Facts,
    period: Period,
    by: Dimension = Dimension.ALL,
    weights: QualityWeights = DEFAULT_QUALITY_WEIGHTS,
) -> dict[str, Quality]:
    emitted: dict[str, list[int]] = defaultdict(list)
    perceived: dict[str, list[int]] = defaultdict(list)
    group = facts.grouping(by)
    for m in facts.monitorings:
        if m.monitored_at in period:
            emitted[group(m.attributes, m.monitored_at)].append(m.score)
    for f in facts.surveys:
        if f.answered_at in period and f.agent_satisfaction is not None:
            perceived[group(f.attributes, f.answered_at)].append(f.agent_satisfaction * 10)

    def mean(values: list[int]) -> float | None:
        return sum(values) / len(values) if values else None

    return {
        key: Quality(
            len(emitted[key]),
            mean(emitted[key]),
            len(perceived[key]),
            mean(perceived[key]),
            weights,
        )
        for key in sorted(set(emitted) | set(perceived))
    }


def period_days(period: Period) -> tuple[date, date]:
    """The Bogotá days a period touches, as [first, end)."""
    first = period.start.astimezone(BOGOTA).date()
    last = (period.end - timedelta(microseconds=1)).astimezone(BOGOTA).date()
    return first, last + timedelta(days=1)


def absenteeism(
    facts: Facts, period: Period, by: Dimension = Dimension.ALL
) -> dict[str, Absenteeism]:
    """Ausentismo (see `domain.workforce`): in total, by agent or by team (not by category
    or line, which belong to cases, not to shifts)."""
    if by in (Dimension.CATEGORY, Dimension.LINE):
        return {}
    first, end = period_days(period)
    days = attendance(facts.shifts, facts.absences, first, end)
    return ausentismo(days, facts.roster(), by is Dimension.AGENT, by is Dimension.TEAM)


def attrition(facts: Facts, period: Period, by: Dimension = Dimension.ALL) -> dict[str, Attrition]:
    """Rotación (see `domain.workforce`): in total or by team."""
    if by not in (Dimension.ALL, Dimension.TEAM):
        return {}
    first, end = period_days(period)
    return rotacion(facts.roster(), facts.leavings, first, end, by is Dimension.TEAM)


def practices(
    facts: Facts, period: Period, by: Dimension = Dimension.ALL
) -> dict[tuple[str, Practice], PracticeCompliance]:
    """Management-practice compliance (see `domain.workforce`): in total, by owner (`agent`)
    or by team."""
    if by in (Dimension.CATEGORY, Dimension.LINE):
        return {}
    first, end = period_days(period)
    days = attendance(facts.shifts, facts.absences, first, end)
    return practice_compliance(
        facts.practices,
        days,
        facts.roster(),
        first,
        end,
        by is Dimension.AGENT,
        by is Dimension.TEAM,
    )
