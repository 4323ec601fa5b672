"""Hand-written payloads and decoders for the four most frequent events (speed only).

`CONVERTER.unstructure` and `.structure` (`mapper`) walk an event field by field through
generic hooks; a bulk import stores hundreds of thousands of `Ingested` and
`RepeatContactRecorded`, and a catch-up or rebuild decodes as many of those and of `NoteAdded`
and `Escalated`. These build and read their dicts directly: same keys, same order, same
values, byte-identical JSON (`tests/unit/test_event_mapper.py` compares both paths on many
events). They decline anything but payloads exactly as written here (`NotPlain`), and the
generic path decides those.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

import attrs

from adapters.eventstore.moments import actor_text, iso, parse_actor, parse_iso
from domain.case.events import Escalated, Ingested, NoteAdded, RepeatContactRecorded
from domain.values import Channel, EscalationTarget, LineOfBusiness, NoteFolder, Priority, SourceKey

# --- payloads: the bulk import's two events ------------------------------------------------


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

INGESTED_LATER = frozenset({"cun", "filed_at", "linked_to"})
"""`Ingested`'s fields added since the first stores: a payload stored before them is read by
hand too (the fields absent take their defaults, as on the generic path)."""
