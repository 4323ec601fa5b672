"""Indicators from the case history (docs/procedure.md §11), as pure functions over facts.

The indicator functions aggregate the facts of `domain.indicators.facts` for a period,
grouped by a dimension; Ausentismo, Rotación and practice compliance are defined in
`domain.indicators.workforce`.

Definitions (version `v3`), each a [decision] where docs/procedure.md leaves room:
- Seguimientos: follow-ups due in the period (by due time), done on time (at or before the due
  time, plus the grace of `FollowUpRules`, none by default), late, missed or still pending;
  compliance = on time / due.
- Reincidencia: cases closed in first contact (SPC) in the period that were followed, within
  the window (default 7 days) after closing, by a new contact from the same account with the
  same typification / SPC cases.
- FCR: SPC cases without such a repeat / cases handled in the period (cases on which an agent
  acted in the period, closed or not: `domain.indicators.facts.HANDLING_EVENTS`); a case
  handled in the period counts once, in the group of its last handling in the period.
- Efectividad: follow-up compliance side by side with cases closed per agent-day (the days on
  which the agent closed a case or settled a follow-up).
- Calidad MEC: 40 % the mean monitoring score + 60 % the mean agent satisfaction of the
  survey (0–10 as 0–100 %); goal 90 %; weights and goal are configuration.
- NPS: % promoters − % detractors over the survey answers given in the period; scale and bands
  are configuration (default 0–10, promoters 9–10, detractors 0–6).
"""

from __future__ import annotations

import hashlib
import uuid
from collections import Counter, defaultdict
from datetime import date, datetime, timedelta

import attrs

from domain.calendar import BusinessCalendar
from domain.indicators.facts import (
    ClosingFact,
    ContactFact,
    Dimension,
    Facts,
    Period,
    period_days,
)
from domain.indicators.workforce import (
    Absenteeism,
    Attrition,
    PracticeCompliance,
    attendance,
    ausentismo,
    practice_compliance,
    rotacion,
)
from domain.team.practices import Practice

DEFINITIONS = "v3"
"""The version of the definitions above; a result's label adds its parameters' fingerprint."""


def definition_label(**parameters: object) -> str:
    """`v3+1a2b3c4d`: the definitions' version and a short fingerprint of every parameter
    that changes a number (grace, missed-after, reincidencia window, NPS scale and bands,
    Calidad MEC weights), so results computed with different settings never share a label."""
    canonical = ";".join(f"{name}={parameters[name]!r}" for name in sorted(parameters))
    return f"{DEFINITIONS}+{hashlib.sha256(canonical.encode()).hexdigest()[:8]}"


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
    facts: Facts, period: Period, by: Dimension = Dimension.ALL, now: datetime | None = None
) -> dict[str, FollowUpCompliance]:
    """Follow-ups due in the period. `now`, for a period not over yet (a month to date): a
    follow-up due later and not done yet is not due yet, so not counted."""
    counts: dict[str, Counter[str]] = defaultdict(Counter)
    group = facts.grouping(by)
    for f in facts.follow_ups:
        if now is not None and f.due_at > now and f.status == "pending":
            continue
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
    last_handling: dict[uuid.UUID, str] = {}
    for handling in facts.handlings:  # in time order: the last one in the period wins
        if handling.at in period:
            last_handling[handling.case_id] = group(handling.attributes, handling.at)
    for key in last_handling.values():
        totals[key][0] += 1
    for closing in facts.closings:
        if closing.closed_at not in period or not closing.first_contact:
            continue
        row = totals[group(closing.attributes, closing.closed_at)]
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
            days[agent].add(BusinessCalendar.local_date(closing.closed_at))
    for f in facts.follow_ups:
        if f.settled_at is not None and f.settled_at in period and f.status != "missed":
            days[f.attributes.agent].add(BusinessCalendar.local_date(f.settled_at))
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
    [decision]; configurable. Its goal (90 %) is in `domain.indicators.goals`."""

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


def absenteeism(
    facts: Facts, period: Period, by: Dimension = Dimension.ALL
) -> dict[str, Absenteeism]:
    """Ausentismo (see `domain.indicators.workforce`): in total, by agent or by team (not by
    category or line, which belong to cases, not to shifts)."""
    if by in (Dimension.CATEGORY, Dimension.LINE):
        return {}
    first, end = period_days(period)
    days = attendance(facts.shifts, facts.absences, first, end)
    return ausentismo(days, facts.roster, by is Dimension.AGENT, by is Dimension.TEAM)


def attrition(facts: Facts, period: Period, by: Dimension = Dimension.ALL) -> dict[str, Attrition]:
    """Rotación (see `domain.indicators.workforce`): in total or by team."""
    if by not in (Dimension.ALL, Dimension.TEAM):
        return {}
    first, end = period_days(period)
    return rotacion(facts.roster, facts.leavings, first, end, by is Dimension.TEAM)


def practices(
    facts: Facts, period: Period, by: Dimension = Dimension.ALL, today: date | None = None
) -> dict[tuple[str, Practice], PracticeCompliance]:
    """Management-practice compliance (see `domain.indicators.workforce`): in total, by owner
    (`agent`) or by team; `today`, the report's day, when the period is not over."""
    if by in (Dimension.CATEGORY, Dimension.LINE):
        return {}
    first, end = period_days(period)
    days = attendance(facts.shifts, facts.absences, first, end)
    return practice_compliance(
        facts.practices,
        days,
        facts.roster,
        first,
        end,
        by is Dimension.AGENT,
        by is Dimension.TEAM,
        today,
    )
