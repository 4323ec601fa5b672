"""Indicators v1 as pure functions: a hand-counted history gives the expected numbers."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest

from domain.case import closing, decisions, records
from domain.case.events import CaseEvent
from domain.case.state import CaseState, fold
from domain.indicators.definitions import (
    efectividad,
    first_contact_resolution,
)
from domain.indicators.definitions import seguimientos as follow_up_compliance
from domain.indicators.facts import (
    Dimension,
    Period,
    facts_from,
)
from domain.indicators.goals import DEFAULT_GOALS, Goal, Light
from domain.values import (
    INTAKE,
    Actor,
    Category,
    Channel,
    LineOfBusiness,
    Resolution,
    SourceKey,
    Subcategory,
)

T0 = datetime(2026, 7, 1, 13, 0, tzinfo=UTC)  # 08:00 in Bogotá
JULY = Period(datetime(2026, 7, 1, 5, tzinfo=UTC), datetime(2026, 8, 1, 5, tzinfo=UTC))
MARIA, JUAN = Actor.agent("maria.b"), Actor.agent("juan.r")


class History:
    def __init__(self) -> None:
        self.events: list[CaseEvent] = []

    def state(self, key: str) -> CaseState:
        case_id = SourceKey(Channel.CRM, key).case_id()
        state = fold(None, [e for e in self.events if e.originator_id == case_id])
        assert state is not None
        return state

    def ingest(self, key: str, account: str, due: datetime | None, at: datetime) -> None:
        self.events.append(
            decisions.ingest(
                source=SourceKey(Channel.CRM, key),
                received_at=at,
                account=account,
                line=LineOfBusiness.HOGAR,
                customer_name="X",
                typification="Factura",
                request="",
                follow_up_at=due,
                front_agent=None,
                recommended_by=None,
                actor=INTAKE,
                at=at,
            )
        )

    def do(self, key: str, decide, **kwargs: object) -> None:  # type: ignore[no-untyped-def]
        self.events.extend(decide(self.state(key), **kwargs))

    def close(self, key: str, who: Actor, at: datetime, *, first_contact: bool) -> None:
        self.do(
            key,
            decisions.interpret,
            category=Category.SAC,
            subcategory=Subcategory.FACTURACION,
            actor=who,
            at=at,
        )
        self.do(
            key,
            decisions.typify,
            marking_code="M",
            resolution=Resolution.FIRST_CONTACT,
            cun=None,
            actor=who,
            at=at,
        )
        self.do(
            key,
            closing.complete_closing_protocol,
            resolution_explained=True,
            nothing_else_pending=True,
            closing_script_read=True,
            survey_invited=True,
            actor=who,
            at=at,
        )
        decide = closing.close_first_contact if first_contact else closing.close
        self.do(key, decide, summary="ok", actor=who, at=at)


def july_history() -> History:
    h = History()
    day = timedelta(days=1)
    h.ingest("A", "111", T0 + day, T0)
    h.ingest("B", "222", T0 + day, T0)
    h.ingest("C", "333", T0 + day, T0)
    h.ingest("D", "444", None, T0)
    h.do("A", decisions.assign, agent="maria.b", actor=MARIA, at=T0)
    h.do("B", decisions.assign, agent="maria.b", actor=MARIA, at=T0)
    h.do("C", decisions.assign, agent="juan.r", actor=JUAN, at=T0)
    h.do("D", decisions.assign, agent="juan.r", actor=JUAN, at=T0)
    h.do("A", decisions.complete_follow_up, outcome="ok", actor=MARIA, at=T0 + day)  # on time
    h.do("B", decisions.complete_follow_up, outcome="ok", actor=MARIA, at=T0 + 2 * day)  # late
    h.do("C", decisions.mark_follow_up_missed, follow_up_id=1, actor=INTAKE, at=T0 + 3 * day)
    h.close("A", MARIA, T0 + day, first_contact=True)  # customer 111 calls again 3 days later
    h.close("B", MARIA, T0 + 2 * day, first_contact=True)  # no repeat
    h.close("D", JUAN, T0 + 2 * day, first_contact=False)
    h.ingest("A2", "111", None, T0 + 4 * day)  # repeat of A within 7 days
    return h


def test_seguimientos_count_due_on_time_late_missed_and_compliance() -> None:
    facts = facts_from(july_history().events)
    [total] = follow_up_compliance(facts, JULY).values()
    assert (total.due, total.on_time, total.late, total.missed, total.pending) == (3, 1, 1, 1, 0)
    assert total.compliance == 1 / 3
    by_agent = follow_up_compliance(facts, JULY, Dimension.AGENT)
    assert by_agent["maria.b"].compliance == 0.5
    assert by_agent["juan.r"].compliance == 0.0
    june = Period(JULY.start - timedelta(days=30), JULY.start)
    assert follow_up_compliance(facts, june) == {}


def test_fcr_and_reincidencia_follow_the_window() -> None:
    facts = facts_from(july_history().events)
    [total] = first_contact_resolution(facts, JULY).values()
    assert (total.handled, total.first_contact, total.repeated) == (3, 2, 1)
    assert total.reincidencia == 0.5
    assert total.fcr == 1 / 3
    [narrow] = first_contact_resolution(facts, JULY, window=timedelta(days=2)).values()
    assert narrow.repeated == 0  # A2 came 3 days after A closed
    assert first_contact_resolution(facts, JULY, Dimension.AGENT)["juan.r"].fcr == 0.0


def test_efectividad_puts_compliance_beside_closings_per_agent_day() -> None:
    facts = facts_from(july_history().events)
    result = efectividad(facts, JULY)
    assert result["maria.b"].closed == 2
    assert result["maria.b"].agent_days == 2  # 2 and 3 July in Bogotá
    assert result["maria.b"].closed_per_agent_day == 1.0
    assert result["juan.r"].compliance == 0.0
    assert result["juan.r"].closed == 1


def test_a_pending_follow_up_counts_for_the_cases_current_owner() -> None:
    h = History()
    h.ingest("P", "555", T0 + timedelta(days=2), T0)
    h.do("P", decisions.assign, agent="maria.b", actor=MARIA, at=T0)
    h.do("P", decisions.assign, agent="juan.r", actor=MARIA, at=T0 + timedelta(hours=1))
    by_agent = follow_up_compliance(facts_from(h.events), JULY, Dimension.AGENT)
    assert list(by_agent) == ["juan.r"]
    assert by_agent["juan.r"].pending == 1


def test_nps_is_promoters_minus_detractors_over_all_answers_on_a_configurable_scale() -> None:
    from domain.indicators.definitions import NpsScale, nps

    h = History()
    h.ingest("N", "999", None, T0)
    h.do("N", decisions.assign, agent="maria.b", actor=MARIA, at=T0)
    for number, score in enumerate([10, 9, 8, 6, 0]):
        h.do(
            "N",
            records.record_survey,
            survey_id=f"S{number}",
            answered_at=T0,
            recommendation=score,
            agent_satisfaction=None,
            solved=None,
            actor=MARIA,
            at=T0,
        )
    h.do(
        "N",
        records.record_survey,
        survey_id="S0",
        answered_at=T0,
        recommendation=0,
        agent_satisfaction=None,
        solved=None,
        actor=MARIA,
        at=T0,
    )  # the same answer again
    [total] = nps(facts_from(h.events), JULY).values()
    assert (total.answers, total.promoters, total.detractors) == (5, 2, 2)
    assert total.nps == 0.0
    nine = NpsScale(maximum=9, promoters_from=8, detractors_to=5)
    assert nps(facts_from(h.events), JULY, Dimension.AGENT, nine)["maria.b"].nps == 40.0
    with pytest.raises(ValueError, match="NPS bands"):
        NpsScale(maximum=10, promoters_from=6, detractors_to=6)


def test_calidad_mec_weighs_monitoring_40_and_perceived_60_against_a_90_goal() -> None:
    from domain.indicators.definitions import QualityWeights, calidad_mec

    h = History()
    h.ingest("Q", "777", None, T0)
    h.do("Q", decisions.assign, agent="juan.r", actor=JUAN, at=T0)
    h.do(
        "Q",
        records.record_monitoring,
        monitoring_id="M1",
        monitored_at=T0,
        agent="maria.b",
        score=80,
        actor=JUAN,
        at=T0,
    )
    h.do(
        "Q",
        records.record_monitoring,
        monitoring_id="M2",
        monitored_at=T0,
        agent="maria.b",
        score=100,
        actor=JUAN,
        at=T0,
    )
    h.do(
        "Q",
        records.record_survey,
        survey_id="S1",
        answered_at=T0,
        recommendation=9,
        agent_satisfaction=9,
        solved=True,
        actor=JUAN,
        at=T0,
    )
    facts = facts_from(h.events)
    [total] = calidad_mec(facts, JULY).values()
    assert (total.emitted, total.perceived) == (90.0, 90.0)
    assert total.mec == pytest.approx(90.0)
    assert DEFAULT_GOALS.calidad_mec.light(total.mec) is Light.GREEN
    by_agent = calidad_mec(facts, JULY, Dimension.AGENT)
    assert by_agent["maria.b"].mec is None  # monitored, but the survey is about juan.r's case
    assert by_agent["juan.r"].perceived == 90.0
    assert Goal(95.0).light(total.mec) is Light.AMBER  # 5 points short, within the margin
    assert Goal(96.0, margin=5).light(total.mec) is Light.RED
    assert Goal(10.0, higher_is_better=False).light(12.0) is Light.AMBER
    assert Goal(10.0, higher_is_better=False).light(10.0) is Light.GREEN
    assert Goal(10.0).light(None) is None
    even = calidad_mec(facts, JULY, weights=QualityWeights(0.5, 0.5))
    assert even["total"].mec == pytest.approx(90.0)
    with pytest.raises(ValueError, match="add up to 1"):
        QualityWeights(0.5, 0.6)


def test_the_chart_page_needs_one_report_per_day() -> None:
    from application.indicators.report import report
    from entrypoints.chart import indicators_page

    daily = report(facts_from(july_history().events), JULY, Dimension.ALL)
    page = indicators_page([date(2026, 7, 1)], [daily])
    assert page.count("<polyline") == 6
    assert page.count("meta 90") == 2  # Seguimientos' goal and Calidad MEC's, each drawn
    with pytest.raises(ValueError, match="one report per day"):
        indicators_page([date(2026, 7, 1), date(2026, 7, 2)], [daily])
