"""Survey answers and quality monitorings recorded on their cases (NPS, Calidad MEC)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Protocol, TypeVar

import attrs

from application.intake.records import IngestReport, RejectedRow, record_each
from domain.case import records
from domain.case.events import CaseEvent
from domain.case.state import CaseState
from domain.errors import CaseNotFound, InvalidValue
from domain.values import Actor, ActorKind

if TYPE_CHECKING:
    from application.ports.office import CaseWork

SURVEY_TOOL = Actor(ActorKind.INTAKE, "encuestas")


@attrs.frozen(kw_only=True)
class SurveyRecord:
    case: str
    """The case's source key (CRM case id) or id."""
    survey_id: str
    answered_at: datetime
    recommendation: int
    agent_satisfaction: int | None
    solved: bool | None
    location: str


def import_surveys(office: CaseWork, items: Iterable[SurveyRecord | RejectedRow]) -> IngestReport:
    """Record each answer on its case, once per survey id; report what could not be."""

    def decide_for(r: SurveyRecord) -> Callable[[CaseState], list[CaseEvent]]:
        return lambda state: records.record_survey(
            state,
            survey_id=r.survey_id,
            answered_at=r.answered_at,
            recommendation=r.recommendation,
            agent_satisfaction=r.agent_satisfaction,
            solved=r.solved,
            actor=SURVEY_TOOL,
            at=office.clock.now(),
        )

    return _record_each(office, items, decide_for)


QUALITY_TOOL = Actor(ActorKind.INTAKE, "calidad")


@attrs.frozen(kw_only=True)
class MonitoringRecord:
    case: str
    monitoring_id: str
    monitored_at: datetime
    agent: str
    score: int
    location: str


def import_monitorings(
    office: CaseWork, items: Iterable[MonitoringRecord | RejectedRow]
) -> IngestReport:
    """Record each quality monitoring on its case, once per monitoring id."""

    def decide_for(r: MonitoringRecord) -> Callable[[CaseState], list[CaseEvent]]:
        return lambda state: records.record_monitoring(
            state,
            monitoring_id=r.monitoring_id,
            monitored_at=r.monitored_at,
            agent=r.agent,
            score=r.score,
            actor=QUALITY_TOOL,
            at=office.clock.now(),
        )

    return _record_each(office, items, decide_for)


class _OnACase(Protocol):
    @property
    def case(self) -> str: ...
    @property
    def location(self) -> str: ...


R = TypeVar("R", bound=_OnACase)


def _record_each(
    office: CaseWork,
    items: Iterable[R | RejectedRow],
    decide_for: Callable[[R], Callable[[CaseState], list[CaseEvent]]],
) -> IngestReport:
    def record(item: R) -> bool:
        try:
            case_id = office.resolve(item.case)
        except CaseNotFound:
            raise InvalidValue("crm_case_id", "no case with that key") from None
        return bool(office.execute(case_id, decide_for(item)).events)

    return record_each(items, record)
