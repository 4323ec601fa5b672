"""Events to stored records and back, with cattrs and stable topic names.

The generic path is here; `fast_codec` holds the hand-written payloads and decoders of the
four most frequent events (speed only, compared with this path by tests), `moments` the
cached date-time and actor conversions.

Stored JSON is clean (no module paths, no type tags): a topic such as `case.ingested` names
the event class, and the payload is the event's fields minus `originator_id` and
`originator_version`, which the store keeps in its own columns. Classes can move between
modules without touching stored data. `class_version` leaves room for upcasting.
"""

from __future__ import annotations

import contextlib
import re
import uuid
from datetime import date, datetime, time
from typing import Any

import cattrs
import orjson
from cattrs.gen import make_dict_unstructure_fn, override
from eventsourcing.persistence import Mapper, MapperDeserialisationError, StoredEvent, Transcoder

from adapters.eventstore.fast_codec import FAST_EVENTS, FAST_PAYLOADS, INGESTED_LATER, NotPlain
from adapters.eventstore.moments import iso, parse_actor, parse_iso
from domain.case.events import (
    EVENT_TYPES,
    CaseEvent,
    Ingested,
)
from domain.team.roster import TeamEvent
from domain.team.streams import TEAM_EVENT_TYPES
from domain.values import (
    Actor,
)


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
    """eventsourcing's mapper contract, with cattrs instead of vars() and module topics."""

    def to_stored_event(self, domain_event: Any) -> StoredEvent:
        event: CaseEvent | TeamEvent = domain_event
        cls = type(event)
        topic = TOPICS[cls]
        fast = FAST_PAYLOADS.get(cls)
        state = fast(event) if fast is not None else CONVERTER.unstructure(event)
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
