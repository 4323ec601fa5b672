"""Properties over random but valid case histories (Hypothesis)."""

from __future__ import annotations

import contextlib
import itertools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.eventstore.mapper import CaseEventMapper
from adapters.eventstore.store import EventSourcedCaseStore
from domain.case import closing, decisions, records
from domain.case.events import CaseEvent
from domain.case.state import CaseState, fold
from domain.errors import DomainError
from domain.values import (
    INTAKE,
    SUBCATEGORIES,
    Actor,
    Category,
    Channel,
    EscalationTarget,
    LineOfBusiness,
    Priority,
    Resolution,
    SourceKey,
    VisitKind,
)

T0 = datetime(2026, 7, 15, 14, 0, tzinfo=UTC)
text = st.text(
    alphabet=st.characters(
        codec="utf-8", exclude_categories=("Cs", "Cc", "Zl", "Zp"), exclude_characters="\x85"
    ),
    min_size=1,
    max_size=30,
).filter(lambda s: s.strip() != "")
recommenders = st.one_of(
    st.none(),
    text.filter(lambda s: "@" not in s),  # a name: recommended by phone
    st.sampled_from(["vp.clientes@claro.com.co", "gerencia.comercial@claro.com.co"]),
)
agents = st.sampled_from(["maria.b", "juan.r", "sofia.t"]).map(Actor.agent)

Command = Callable[[CaseState, Actor, datetime], list[CaseEvent]]


@st.composite
def commands(draw: st.DrawFn) -> Command:
    kind = draw(
        st.sampled_from(
            [
                "assign",
                "interpret",
                "note",
                "schedule",
                "complete",
                "missed",
                "typify",
                "escalate",
                "visit",
                "protocol",
                "close",
                "close_fc",
                "reopen",
                "repeat",
            ]
        )
    )
    hours = draw(st.integers(min_value=1, max_value=200))
    if kind == "assign":
        agent = draw(st.sampled_from(["maria.b", "juan.r"]))
        return lambda s, a, t: decisions.assign(s, agent=agent, actor=a, at=t)
    if kind == "interpret":
        category = draw(st.sampled_from(list(Category)))
        sub = draw(st.sampled_from(SUBCATEGORIES[category]))
        return lambda s, a, t: decisions.interpret(
            s, category=category, subcategory=sub, actor=a, at=t
        )
    if kind == "note":
        note = draw(st.one_of(text, st.just("n" * 300)))
        return lambda s, a, t: decisions.add_note(s, text=note, actor=a, at=t)
    if kind == "schedule":
        return lambda s, a, t: decisions.schedule_follow_up(
            s, due_at=t + timedelta(hours=hours), actor=a, at=t
        )
    if kind == "complete":
        return lambda s, a, t: decisions.complete_follow_up(s, outcome="hecho", actor=a, at=t)
    if kind == "missed":
        return lambda s, a, t: [
            e
            for f in s.pending_follow_ups[:1]
            for e in decisions.mark_follow_up_missed(
                s, follow_up_id=f.follow_up_id, actor=a, at=t + timedelta(hours=hours)
            )
        ]
    if kind == "typify":
        cun = draw(st.one_of(st.none(), st.just("4436-26-0000001")))
        resolution = Resolution.CUN if cun else Resolution.FIRST_CONTACT
        return lambda s, a, t: decisions.typify(
            s, marking_code="M-1", resolution=resolution, cun=cun, actor=a, at=t
        )
    if kind == "escalate":
        target = draw(st.sampled_from(list(EscalationTarget)))
        priority = draw(st.sampled_from(list(Priority)))
        return lambda s, a, t: decisions.escalate(
            s,
            target=target,
            area="Área",
            reason="motivo",
            priority=priority,
            external_reference=None,
            actor=a,
            at=t,
        )
    if kind == "visit":
        visit_kind = draw(st.sampled_from(list(VisitKind)))
        return lambda s, a, t: decisions.schedule_visit(
            s,
            kind=visit_kind,
            slot_start=t + timedelta(hours=hours),
            slot_end=t + timedelta(hours=hours + 4),
            booking_reference="WFM-1",
            actor=a,
            at=t,
        )
    if kind == "protocol":
        return lambda s, a, t: closing.complete_closing_protocol(
            s,
            resolution_explained=True,
            nothing_else_pending=True,
            closing_script_read=True,
            survey_invited=True,
            actor=a,
            at=t,
        )
    if kind == "close":
        return lambda s, a, t: closing.close(s, summary="cerrado", actor=a, at=t)
    if kind == "close_fc":
        return lambda s, a, t: closing.close_first_contact(s, summary="spc", actor=a, at=t)
    if kind == "reopen":
        return lambda s, a, t: closing.reopen(s, reason="vuelve", actor=a, at=t)
    if kind == "monitor":
        monitoring = draw(st.sampled_from(["Q1", "Q2"]))
        score = draw(st.integers(0, 100))
        agent = draw(st.sampled_from(["maria.b", "juan.r"]))
        return lambda s, a, t: records.record_monitoring(
            s,
            monitoring_id=monitoring,
            monitored_at=t,
            agent=agent,
            score=score,
            actor=INTAKE,
            at=t,
        )
    if kind == "survey":
        survey = draw(st.sampled_from(["S1", "S2"]))
        score = draw(st.integers(0, 10))
        satisfaction = draw(st.one_of(st.none(), st.integers(0, 10)))
        solved = draw(st.one_of(st.none(), st.booleans()))
        return lambda s, a, t: records.record_survey(
            s,
            survey_id=survey,
            answered_at=t,
            recommendation=score,
            agent_satisfaction=satisfaction,
            solved=solved,
            actor=INTAKE,
            at=t,
        )
    key = draw(st.sampled_from(["R1", "R2"]))
    return lambda s, a, t: decisions.record_repeat_contact(
        s,
        source=SourceKey(Channel.CRM, key),
        received_at=t,
        request="otra vez",
        actor=INTAKE,
        at=t,
    )


@st.composite
def histories(draw: st.DrawFn) -> list[CaseEvent]:
    """A valid history: an intake, then random commands; refused ones leave no trace."""
    key = draw(st.text(alphabet="ABCDEF0123456789", min_size=1, max_size=8))
    follow_up = draw(
        st.one_of(st.none(), st.integers(1, 100).map(lambda h: T0 + timedelta(hours=h)))
    )
    events: list[CaseEvent] = [
        decisions.ingest(
            source=SourceKey(draw(st.sampled_from(list(Channel))), key),
            received_at=T0,
            account=draw(st.text(alphabet="0123456789", min_size=1, max_size=12)),
            line=draw(st.sampled_from(list(LineOfBusiness))),
            customer_name=draw(text),
            typification=draw(text),
            request=draw(  # any text the readers can decode: no NUL, no lone surrogate
                st.text(
                    st.characters(exclude_characters="\x00", exclude_categories=["Cs"]),
                    max_size=40,
                )
            ),
            follow_up_at=follow_up,
            front_agent=draw(st.one_of(st.none(), text)),
            recommended_by=draw(recommenders),
            actor=INTAKE,
            at=T0,
        )
    ]
    moment = T0
    for command in draw(st.lists(commands(), max_size=25)):
        moment += timedelta(minutes=draw(st.integers(0, 600)))
        state = fold(None, events)
        assert state is not None
        with contextlib.suppress(DomainError):
            events.extend(command(state, draw(agents), moment))
    return events


@given(histories())
@settings(max_examples=150, deadline=None)
def test_folding_the_same_events_twice_gives_equal_states(events: list[CaseEvent]) -> None:
    assert fold(None, events) == fold(None, list(events))
    assert [e.originator_version for e in events] == list(range(1, len(events) + 1))
    assert all(a.timestamp <= b.timestamp for a, b in itertools.pairwise(events))


@given(histories())
@settings(max_examples=150, deadline=None)
def test_every_event_survives_the_mapper_exactly(events: list[CaseEvent]) -> None:
    mapper = EventSourcedCaseStore({"PERSISTENCE_MODULE": "eventsourcing.popo"}).app.mapper
    assert isinstance(mapper, CaseEventMapper)
    for event in events:
        stored = mapper.to_stored_event(event)
        assert stored.topic.startswith("case.")
        back = mapper.to_domain_event(stored)
        assert back == event
        assert type(back) is type(event)


@given(histories())
@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
def test_a_stored_and_reloaded_case_equals_the_live_one(events: list[CaseEvent]) -> None:
    store = EventSourcedCaseStore(
        {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": ":memory:"}
    )
    try:
        store.append(events)
        live = fold(None, events)
        assert store.load(events[0].originator_id) == live
        middle = len(events) // 2 or 1
        assert store.load(events[0].originator_id, version=middle) == fold(None, events[:middle])
        assert list(store.history(events[0].originator_id)) == events
    finally:
        store.close()
