"""The stored form of events: stable topics, clean JSON, upcasting of old payloads."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

import orjson
import pytest
from eventsourcing.persistence import MapperDeserialisationError, StoredEvent
from hypothesis import given, settings
from hypothesis import strategies as st

from adapters.eventstore import mapper as mapper_module
from adapters.eventstore.mapper import (
    CLASSES,
    CONVERTER,
    FAST_PAYLOADS,
    TOPICS,
    CaseEventMapper,
    OrjsonTranscoder,
)
from domain.case.events import EVENT_TYPES, Escalated, Ingested, NoteAdded, RepeatContactRecorded
from domain.team.roster import (
    AbsenceRecorded,
    ShiftScheduled,
    agent_stream,
)
from domain.team.streams import TEAM_EVENT_TYPES
from domain.values import (
    Actor,
    ActorKind,
    Channel,
    EscalationTarget,
    LineOfBusiness,
    NoteFolder,
    Priority,
    SourceKey,
)

CASE = uuid.UUID("00000000-0000-5000-8000-000000000001")
T0 = datetime(2026, 7, 15, 14, 0, tzinfo=UTC)


def mapper() -> CaseEventMapper:
    return CaseEventMapper(transcoder=OrjsonTranscoder())


def test_every_event_type_has_a_stable_dotted_topic() -> None:
    assert set(TOPICS) == set(EVENT_TYPES) | set(TEAM_EVENT_TYPES)
    assert TOPICS[NoteAdded] == "case.note_added"
    assert TOPICS[AbsenceRecorded] == "team.absence_recorded"
    assert CLASSES["case.closed_first_contact"].__name__ == "ClosedFirstContact"
    assert len(set(TOPICS.values())) == len(EVENT_TYPES) + len(TEAM_EVENT_TYPES)


def test_team_events_store_dates_and_times_as_iso_text_and_come_back_equal() -> None:
    event = ShiftScheduled(
        originator_id=agent_stream("maria.b"),
        originator_version=2,
        timestamp=T0,
        actor=Actor(ActorKind.INTAKE, "nomina"),
        agent="maria.b",
        day=date(2026, 7, 16),
        starts=time(7, 0),
        ends=time(15, 30),
    )
    stored = mapper().to_stored_event(event)
    assert stored.topic == "team.shift_scheduled"
    assert json.loads(stored.state) == {
        "timestamp": "2026-07-15T14:00:00+00:00",
        "actor": "intake:nomina",
        "agent": "maria.b",
        "day": "2026-07-16",
        "starts": "07:00",
        "ends": "15:30",
    }
    assert mapper().to_domain_event(stored) == event


def test_stored_json_is_plain_and_has_no_header_fields() -> None:
    event = NoteAdded(
        originator_id=CASE,
        originator_version=3,
        timestamp=T0,
        actor=Actor.agent("maria.b"),
        text="Llamó el cliente",
        folder=NoteFolder.RR_NOTES,
    )
    stored = mapper().to_stored_event(event)
    assert (stored.originator_id, stored.originator_version) == (CASE, 3)
    assert json.loads(stored.state) == {
        "timestamp": "2026-07-15T14:00:00+00:00",
        "actor": "agent:maria.b",
        "text": "Llamó el cliente",
        "folder": "rr_notes",
    }


def test_an_old_payload_is_upcast_to_the_current_class_version(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Version 1 of NoteAdded had no folder; version 2 says every old note was in RR.
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["folder"] = "rr_notes"

    monkeypatch.setattr(NoteAdded, "class_version", 2, raising=False)
    monkeypatch.setattr(NoteAdded, "upcast_v1_v2", staticmethod(upcast_v1_v2), raising=False)
    old = StoredEvent(
        originator_id=CASE,
        originator_version=2,
        topic="case.note_added",
        state=b'{"timestamp":"2026-07-15T14:00:00+00:00","actor":"agent:x","text":"hola"}',
    )
    event = mapper().to_domain_event(old)
    assert isinstance(event, NoteAdded)
    assert event.folder is NoteFolder.RR_NOTES
    restored = mapper().to_stored_event(event)
    assert json.loads(restored.state)["class_version"] == 2


def test_an_undecodable_record_names_the_topic_case_and_version() -> None:
    broken = StoredEvent(
        originator_id=CASE, originator_version=7, topic="case.note_added", state=b"{not json"
    )
    with pytest.raises(MapperDeserialisationError, match=r"case.note_added.*version 7"):
        mapper().to_domain_event(broken)
    unknown = StoredEvent(originator_id=CASE, originator_version=1, topic="case.nope", state=b"{}")
    with pytest.raises(MapperDeserialisationError, match=r"case\.nope"):
        mapper().to_domain_event(unknown)


# --- the bulk import's hand-written payloads ------------------------------------------------

_zones = st.sampled_from(
    [UTC, timezone(timedelta(hours=-5)), timezone(timedelta(hours=5, minutes=30))]
)
_moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=_zones
)
_texts = st.text(max_size=30)
_optional_texts = st.none() | _texts
_sources = st.builds(SourceKey, st.sampled_from(list(Channel)), _texts)
_actors = st.builds(Actor, st.sampled_from(list(ActorKind)), _texts)


@settings(max_examples=300)
@given(
    timestamp=_moments,
    actor=_actors,
    source=_sources,
    received_at=_moments,
    line=st.sampled_from(list(LineOfBusiness)),
    texts=st.tuples(_texts, _texts, _texts, _texts),
    follow_up_at=st.none() | _moments,
    front_agent=_optional_texts,
    recommended_by=_optional_texts,
)
def test_ingested_is_stored_exactly_as_the_generic_converter_would(
    timestamp: datetime,
    actor: Actor,
    source: SourceKey,
    received_at: datetime,
    line: LineOfBusiness,
    texts: tuple[str, str, str, str],
    follow_up_at: datetime | None,
    front_agent: str | None,
    recommended_by: str | None,
) -> None:
    account, customer_name, typification, request = texts
    event = Ingested(
        originator_id=CASE,
        originator_version=1,
        timestamp=timestamp,
        actor=actor,
        source=source,
        received_at=received_at,
        account=account,
        line=line,
        customer_name=customer_name,
        typification=typification,
        request=request,
        follow_up_at=follow_up_at,
        front_agent=front_agent,
        recommended_by=recommended_by,
    )
    _assert_fast_payload_is_the_generic_one(event)


@settings(max_examples=200)
@given(
    timestamp=_moments,
    actor=_actors,
    source=_sources,
    received_at=_moments,
    request=_texts,
    version=st.integers(min_value=2, max_value=10_000),
)
def test_a_repeat_contact_is_stored_exactly_as_the_generic_converter_would(
    timestamp: datetime,
    actor: Actor,
    source: SourceKey,
    received_at: datetime,
    request: str,
    version: int,
) -> None:
    event = RepeatContactRecorded(
        originator_id=CASE,
        originator_version=version,
        timestamp=timestamp,
        actor=actor,
        source=source,
        received_at=received_at,
        request=request,
    )
    _assert_fast_payload_is_the_generic_one(event)


def _assert_fast_payload_is_the_generic_one(event: Ingested | RepeatContactRecorded) -> None:
    fast = FAST_PAYLOADS[type(event)](event)
    generic = CONVERTER.unstructure(event)
    assert fast == generic
    assert list(fast) == list(generic)  # same keys in the same order
    assert orjson.dumps(fast) == orjson.dumps(generic)  # byte-identical stored JSON
    stored = mapper().to_stored_event(event)
    assert stored.state == orjson.dumps(generic)
    # And back: the hand-written decoder gives what cattrs gives, which is the event.
    decoded = mapper().to_domain_event(stored)
    state = {**orjson.loads(stored.state), "originator_id": CASE}
    state["originator_version"] = event.originator_version
    assert decoded == CONVERTER.structure(state, type(event)) == event
    assert type(decoded) is type(event)


def _ingested_record(**changes: Any) -> StoredEvent:
    payload = {
        "timestamp": "2026-07-15T14:00:00+00:00",
        "actor": "intake:crm",
        "source": {"channel": "crm", "key": "CRM-1"},
        "received_at": "2026-07-15T13:00:00+00:00",
        "account": "ACC-1",
        "line": "hogar",
        "customer_name": "Ana",
        "typification": "Falla internet",
        "request": "Sin servicio",
        "follow_up_at": None,
        "front_agent": None,
        "recommended_by": None,
    }
    payload.update(changes)
    payload = {k: v for k, v in payload.items() if v != "<absent>"}
    return StoredEvent(
        originator_id=CASE, originator_version=1, topic="case.ingested", state=orjson.dumps(payload)
    )


def test_a_bulk_event_with_other_keys_is_refused_as_the_generic_path_refuses_it() -> None:
    assert isinstance(mapper().to_domain_event(_ingested_record()), Ingested)
    with pytest.raises(MapperDeserialisationError, match=r"case\.ingested.*version 1"):
        mapper().to_domain_event(_ingested_record(extra="x"))
    with pytest.raises(MapperDeserialisationError, match=r"case\.ingested"):
        mapper().to_domain_event(_ingested_record(account="<absent>"))
    with pytest.raises(MapperDeserialisationError, match=r"case\.ingested"):
        mapper().to_domain_event(_ingested_record(source={"channel": "crm"}))
    with pytest.raises(MapperDeserialisationError, match=r"case\.ingested"):
        mapper().to_domain_event(_ingested_record(line="satelital"))


def test_a_bulk_event_of_a_later_class_version_is_upcast_not_decoded_by_hand(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def upcast_v1_v2(state: dict[str, Any]) -> None:
        state["account"] = "migrated-" + state["account"]

    monkeypatch.setattr(Ingested, "class_version", 2, raising=False)
    monkeypatch.setattr(Ingested, "upcast_v1_v2", staticmethod(upcast_v1_v2), raising=False)
    event = mapper().to_domain_event(_ingested_record())
    assert event.account == "migrated-ACC-1"


def test_the_bulk_events_are_decoded_by_hand_not_by_cattrs(monkeypatch: pytest.MonkeyPatch) -> None:
    class NoCattrs:
        def structure(self, *_: Any) -> Any:
            raise AssertionError("the generic path was taken")

    monkeypatch.setattr(mapper_module, "CONVERTER", NoCattrs())
    assert isinstance(mapper().to_domain_event(_ingested_record()), Ingested)
    repeat = StoredEvent(
        originator_id=CASE,
        originator_version=2,
        topic="case.repeat_contact_recorded",
        state=orjson.dumps(
            {
                "timestamp": "2026-07-15T14:00:00+00:00",
                "actor": "intake:crm",
                "source": {"channel": "crm", "key": "CRM-2"},
                "received_at": "2026-07-15T13:00:00+00:00",
                "request": "Otra vez",
            }
        ),
    )
    assert isinstance(mapper().to_domain_event(repeat), RepeatContactRecorded)


@pytest.mark.parametrize(
    "changes",
    [
        {"account": 3001234567},
        {"customer_name": None},
        {"source": {"channel": "crm", "key": 42}},
        {"request": ["a"]},
        {"front_agent": 7},
    ],
)
def test_a_bulk_event_with_values_of_another_type_is_read_as_the_generic_path_reads_it(
    changes: dict[str, Any],
) -> None:
    # Not what this code writes, but a payload from elsewhere must read the same either way.
    stored = _ingested_record(**changes)
    state = {**orjson.loads(stored.state), "originator_id": CASE, "originator_version": 1}
    assert mapper().to_domain_event(stored) == CONVERTER.structure(state, Ingested)


@settings(max_examples=150, deadline=None)
@given(
    timestamp=st.datetimes(timezones=st.just(UTC)),
    login=st.text(st.characters(codec="utf-8", exclude_categories=["Cs"]), min_size=1),
    text=st.text(min_size=1),
    folder=st.sampled_from(NoteFolder),
    target=st.sampled_from(EscalationTarget),
    priority=st.sampled_from(Priority),
    reference=st.none() | st.text(),
    version=st.integers(min_value=2, max_value=10_000),
)
def test_notes_and_escalations_decode_by_hand_exactly_as_cattrs_does(
    timestamp: datetime,
    login: str,
    text: str,
    folder: NoteFolder,
    target: EscalationTarget,
    priority: Priority,
    reference: str | None,
    version: int,
) -> None:
    actor = Actor(ActorKind.AGENT, login)
    events = [
        NoteAdded(
            originator_id=CASE, originator_version=version, timestamp=timestamp, actor=actor,
            text=text, folder=folder,
        ),
        Escalated(
            originator_id=CASE, originator_version=version, timestamp=timestamp, actor=actor,
            escalation_id=version, target=target, area=text, reason=text, priority=priority,
            external_reference=reference,
        ),
    ]  # fmt: skip
    for event in events:
        stored = mapper().to_stored_event(event)
        state = {**orjson.loads(stored.state), "originator_id": CASE}
        state["originator_version"] = version
        assert mapper().to_domain_event(stored) == CONVERTER.structure(state, type(event)) == event
