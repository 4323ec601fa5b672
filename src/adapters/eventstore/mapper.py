"""Events to stored records and back, with cattrs and stable topic names.

Stored JSON is clean (no module paths, no type tags): a topic such as `case.ingested` names
the event class, and the payload is the event's fields minus `originator_id` and
`originator_version`, which the store keeps in its own columns. Classes can move between
modules without touching stored data. `class_version` leaves room for upcasting.

Two paths, one result. The generic path (cattrs, through `CONVERTER`) converts any event. For
speed only, the end of this module holds hand-written payloads and decoders of the four most
frequent events, and cached date-time and actor conversions: `CONVERTER.unstructure` and
`.structure` walk an event field by field through generic hooks, and a bulk import stores
hundreds of thousands of `Ingested` and `RepeatContactRecorded`, a catch-up or rebuild decodes
as many of those and of `NoteAdded` and `Escalated`. The hand-written ones build and read their
dicts directly: same keys, same order, same values, byte-identical JSON
(`tests/unit/test_event_mapper.py` compares both paths on many events). They decline anything
but payloads exactly as written here (`NotPlain`), and the generic path decides those.

Personal data. With a key store (`personal`, `adapters.personal_keys`), the personal fields of
an event (`domain.case.events.PERSONAL_FIELDS`) are sealed one by one into envelopes after
either path has built the payload, and opened back into text before either path reads one:
both paths see and make the same plain payload, so the comparison of the two stays exact. A
plain text where an envelope could be (an event written before encryption) is read as it is.
The free-text parameters of a write to Claro's systems (`OutsideWriteRequested.params`, the
names in `PERSONAL_PARAMS`) are sealed and opened the same way, value by value in their pairs.
"""

from __future__ import annotations

import contextlib
import functools
import re
import uuid
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Any

import attrs
import cattrs
import orjson
from cattrs.gen import make_dict_unstructure_fn, override
from eventsourcing.persistence import Mapper, MapperDeserialisationError, StoredEvent, Transcoder

from domain.case.events import (
    EVENT_TYPES,
    PERSONAL_FIELDS,
    CaseEvent,
    Escalated,
    Ingested,
    NoteAdded,
    OutsideWriteRequested,
    RepeatContactRecorded,
)
from domain.team.roster import TeamEvent
from domain.team.streams import TEAM_EVENT_TYPES
from domain.values import (
    Actor,
    Channel,
    EscalationTarget,
    LineOfBusiness,
    NoteFolder,
    Priority,
    SourceKey,
)

if TYPE_CHECKING:
    from adapters.personal_keys import PersonalKeyStore

# --- date-times and actors as stored, cached (speed only) ---------------------------------
# A bulk import stores the same moments again and again (its own clock, minute-precision dates
# from the CRM) and a catch-up decodes them again and again; these caches keep each conversion
# to once per distinct value (at most 65,536 moments and 4,096 actors are kept). Without them
# the results are the same: `datetime.isoformat`, `datetime.fromisoformat` and `Actor.parse`.


@functools.lru_cache(maxsize=65_536)
def iso(value: datetime) -> str:
    """A moment as stored: UTC, ISO 8601."""
    return value.astimezone(UTC).isoformat()


@functools.lru_cache(maxsize=65_536)
def parse_iso(value: str) -> datetime:
    """A stored moment back; one without a time zone is refused."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        raise ValueError(f"stored date-time {value!r} has no time zone")
    return parsed


parse_actor = functools.lru_cache(maxsize=4_096)(Actor.parse)
actor_text = functools.lru_cache(maxsize=4_096)(Actor.__str__)
"""`Actor.parse` and its reverse, cached."""


# --- topics and the generic path -----------------------------------------------------------


def _topic_name(prefix: str, cls: type[Any]) -> str:
    return prefix + re.sub(r"(?<!^)(?=[A-Z])", "_", cls.__name__).lower()


TOPICS: dict[type[Any], str] = {cls: _topic_name("case.", cls) for cls in EVENT_TYPES} | {
    cls: _topic_name("team.", cls) for cls in TEAM_EVENT_TYPES
}
CLASSES: dict[str, type[Any]] = {topic: cls for cls, topic in TOPICS.items()}


def _structure_datetime(value: Any, _: type) -> datetime:
    return parse_iso(value)


class OrjsonTranscoder(Transcoder):
    """JSON with orjson: the same bytes a standard JSON reader accepts, several times faster."""

    def encode(self, obj: Any) -> bytes:
        return orjson.dumps(obj)

    def decode(self, data: bytes) -> Any:
        return orjson.loads(data)


def make_converter() -> cattrs.Converter:
    """The one converter for events: UTC ISO date-times, UUIDs as text, actors as text."""
    converter = cattrs.Converter(forbid_extra_keys=True, detailed_validation=False)
    converter.register_unstructure_hook(datetime, iso)
    converter.register_structure_hook(datetime, _structure_datetime)
    converter.register_unstructure_hook(uuid.UUID, str)
    converter.register_structure_hook(
        uuid.UUID, lambda v, _: v if isinstance(v, uuid.UUID) else uuid.UUID(v)
    )
    converter.register_unstructure_hook(Actor, str)
    converter.register_structure_hook(Actor, lambda v, _: parse_actor(v))
    converter.register_unstructure_hook(date, date.isoformat)
    converter.register_structure_hook(date, lambda v, _: date.fromisoformat(v))
    converter.register_unstructure_hook(time, lambda t: t.isoformat("minutes"))
    converter.register_structure_hook(time, lambda v, _: time.fromisoformat(v))
    for cls in (*EVENT_TYPES, *TEAM_EVENT_TYPES):
        # The store keeps the case id and version in columns of their own.
        converter.register_unstructure_hook(
            cls,
            make_dict_unstructure_fn(
                cls,
                converter,
                originator_id=override(omit=True),
                originator_version=override(omit=True),
            ),
        )
    return converter


CONVERTER = make_converter()


def event_payload(event: CaseEvent | TeamEvent) -> dict[str, Any]:
    """The event's data as JSON-ready primitives: exactly what is stored for it."""
    data: dict[str, Any] = CONVERTER.unstructure(event)
    return data


class CaseEventMapper(Mapper[uuid.UUID]):
    """eventsourcing's mapper contract, with cattrs instead of vars() and module topics;
    personal fields sealed with their subject's key when a key store is given."""

    personal: PersonalKeyStore | None = None
    """The data subjects' keys (`adapters.personal_keys`), set after construction (the
    library's constructor takes none); None: nothing sealed, and a sealed field refused."""

    def to_stored_events(self, events: Any) -> list[StoredEvent]:
        """`to_stored_event` of each, the subjects' keys of the whole batch found at once."""
        if self.personal is not None:
            self.personal.prepare(events)
        return list(map(self.to_stored_event, events))

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        event: CaseEvent | TeamEvent = domain_event
        cls = type(event)
        topic = TOPICS[cls]
        fast = FAST_PAYLOADS.get(cls)
        state = fast(event) if fast is not None else CONVERTER.unstructure(event)
        personal = self.personal
        if personal is not None and personal.encrypting:
            fields = PERSONAL_FIELDS.get(cls)  # type: ignore[arg-type]
            if fields is not None:
                assert isinstance(event, CaseEvent)
                personal.seal(state, event, fields)
            elif cls is OutsideWriteRequested:
                assert isinstance(event, OutsideWriteRequested)
                personal.seal_params(state, event)
        class_version = getattr(cls, "class_version", 1)
        if class_version > 1:
            state["class_version"] = class_version
        data = self.transcoder.encode(state)
        if self.compressor:
            data = self.compressor.compress(data)
        if self.cipher:
            data = self.cipher.encrypt(data)
        return StoredEvent(
            originator_id=event.originator_id,
            originator_version=event.originator_version,
            topic=topic,
            state=data,
        )

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        try:
            cls = CLASSES[stored_event.topic]
            data = stored_event.state
            if self.cipher:
                data = self.cipher.decrypt(data)
            if self.compressor:
                data = self.compressor.decompress(data)
            state: dict[str, Any] = self.transcoder.decode(data)
            originator_id = stored_event.originator_id
            case = (
                originator_id if isinstance(originator_id, uuid.UUID) else uuid.UUID(originator_id)
            )
            fields = PERSONAL_FIELDS.get(cls)
            if fields is not None:
                if self.personal is not None:
                    self.personal.open(state, case, fields)
                elif any(type(state.get(f)) is dict for f in fields):
                    raise ValueError("personal data sealed, and no key store to open it")
            elif cls is OutsideWriteRequested:
                if self.personal is not None:
                    self.personal.open_params(state, case)
                elif any(type(p) is list and dict in map(type, p) for p in state["params"]):
                    raise ValueError("personal data sealed, and no key store to open it")
            class_version = getattr(cls, "class_version", 1)
            fast = FAST_EVENTS.get(cls)
            if (
                fast is not None
                and class_version == 1
                and (
                    state.keys() == fast[0]
                    or (cls is Ingested and fast[0] - INGESTED_LATER <= state.keys() <= fast[0])
                )
            ):
                with contextlib.suppress(NotPlain, ValueError, TypeError):
                    return fast[1](state, case, stored_event.originator_version)
            from_version = state.pop("class_version", 1)
            while from_version < class_version:
                getattr(cls, f"upcast_v{from_version}_v{from_version + 1}")(state)
                from_version += 1
            state["originator_id"] = case
            state["originator_version"] = stored_event.originator_version
            return CONVERTER.structure(state, cls)
        except Exception as error:
            raise MapperDeserialisationError(
                f"cannot decode stored event {stored_event.topic!r} of case "
                f"{stored_event.originator_id} version {stored_event.originator_version}: {error}"
            ) from error


# --- the hand-written path (speed only): payloads of the bulk import's two events ----------
# `CaseEventMapper` tries these first; `tests/unit/test_event_mapper.py` compares them with the
# generic path above.


def _ingested_payload(e: Ingested) -> dict[str, Any]:
    follow_up_at = e.follow_up_at
    return {
        "timestamp": iso(e.timestamp),
        "actor": actor_text(e.actor),
        "source": {"channel": e.source.channel._value_, "key": e.source.key},
        "received_at": iso(e.received_at),
        "account": e.account,
        "line": e.line._value_,
        "customer_name": e.customer_name,
        "typification": e.typification,
        "request": e.request,
        "follow_up_at": None if follow_up_at is None else iso(follow_up_at),
        "front_agent": e.front_agent,
        "recommended_by": e.recommended_by,
        "cun": e.cun,
        "filed_at": None if e.filed_at is None else iso(e.filed_at),
        "linked_to": None if e.linked_to is None else str(e.linked_to),
        "phone": e.phone,
    }


def _repeat_contact_payload(e: RepeatContactRecorded) -> dict[str, Any]:
    return {
        "timestamp": iso(e.timestamp),
        "actor": actor_text(e.actor),
        "source": {"channel": e.source.channel._value_, "key": e.source.key},
        "received_at": iso(e.received_at),
        "request": e.request,
    }


FAST_PAYLOADS: dict[type[Any], Any] = {
    Ingested: _ingested_payload,
    RepeatContactRecorded: _repeat_contact_payload,
}
"""Exact event class → its hand-written payload function (subclasses take the generic path)."""


# The way back, for the same two and for the two most frequent events of agents' work (notes
# and escalations, which the indicators read for FCR's cases handled): a catch-up or a rebuild
# decodes hundreds of thousands of them. They only take payloads exactly as this module writes
# them (the current keys; text where text is stored); they decline anything else (None, or an
# error) and the generic path decides it, converting or saying what is wrong exactly as it
# always has.


class NotPlain(Exception):
    """A payload the hand-written decoders leave to the generic path."""


def _text(value: Any) -> str:
    if type(value) is not str:
        raise NotPlain
    return value


def _optional_text(value: Any) -> str | None:
    return None if value is None else _text(value)


def _source(data: Any) -> SourceKey:
    if type(data) is not dict or data.keys() != _SOURCE_KEYS:
        raise NotPlain
    return SourceKey(Channel(data["channel"]), _text(data["key"]))


_SOURCE_KEYS = frozenset({"channel", "key"})


def _optional_moment(value: Any) -> datetime | None:
    return None if value is None else parse_iso(value)


def _contact(state: dict[str, Any], case: uuid.UUID, version: int) -> dict[str, Any]:
    """The fields both events share: the case, who recorded it when, which contact."""
    return {
        "originator_id": case,
        "originator_version": version,
        "timestamp": parse_iso(state["timestamp"]),
        "actor": parse_actor(state["actor"]),
        "source": _source(state["source"]),
        "received_at": parse_iso(state["received_at"]),
        "request": _text(state["request"]),
    }


def _ingested(state: dict[str, Any], case: uuid.UUID, version: int) -> Ingested:
    return Ingested(
        **_contact(state, case, version),
        account=_text(state["account"]),
        line=LineOfBusiness(state["line"]),
        customer_name=_text(state["customer_name"]),
        typification=_text(state["typification"]),
        follow_up_at=_optional_moment(state["follow_up_at"]),
        front_agent=_optional_text(state["front_agent"]),
        recommended_by=_optional_text(state["recommended_by"]),
        cun=_optional_text(state.get("cun")),
        filed_at=_optional_moment(state.get("filed_at")),
        linked_to=_optional_uuid(state.get("linked_to")),
        phone=_optional_text(state.get("phone")),
    )


def _optional_uuid(value: Any) -> uuid.UUID | None:
    return None if value is None else uuid.UUID(_text(value))


def _repeat_contact(state: dict[str, Any], case: uuid.UUID, version: int) -> RepeatContactRecorded:
    return RepeatContactRecorded(**_contact(state, case, version))


def _note(state: dict[str, Any], case: uuid.UUID, version: int) -> NoteAdded:
    return NoteAdded(
        originator_id=case,
        originator_version=version,
        timestamp=parse_iso(state["timestamp"]),
        actor=parse_actor(state["actor"]),
        text=_text(state["text"]),
        folder=NoteFolder(state["folder"]),
    )


def _escalated(state: dict[str, Any], case: uuid.UUID, version: int) -> Escalated:
    escalation_id = state["escalation_id"]
    if type(escalation_id) is not int:
        raise NotPlain
    return Escalated(
        originator_id=case,
        originator_version=version,
        timestamp=parse_iso(state["timestamp"]),
        actor=parse_actor(state["actor"]),
        escalation_id=escalation_id,
        target=EscalationTarget(state["target"]),
        area=_text(state["area"]),
        reason=_text(state["reason"]),
        priority=Priority(state["priority"]),
        external_reference=_optional_text(state["external_reference"]),
    )


FAST_EVENTS: dict[type[Any], tuple[frozenset[str], Any]] = {
    cls: (
        frozenset(a.name for a in attrs.fields(cls)) - {"originator_id", "originator_version"},
        decode,
    )
    for cls, decode in (
        (Ingested, _ingested),
        (RepeatContactRecorded, _repeat_contact),
        (NoteAdded, _note),
        (Escalated, _escalated),
    )
}
"""Exact event class → (its payload's keys, its hand-written decoder), for payloads of
class version 1 (a later version's payloads are upcast on the generic path)."""

INGESTED_LATER = frozenset({"cun", "filed_at", "linked_to", "phone"})
"""`Ingested`'s fields added since the first stores: a payload stored before them is read by
hand too (the fields absent take their defaults, as on the generic path)."""
