"""The CLI's success lines: every kind of case event is said as a sentence for the agent,
never by its internal name (found by a new-user trial: `FollowUpScheduled recorded on …`)."""

from __future__ import annotations

import enum
import types
import typing
import uuid
from datetime import UTC, datetime
from typing import Any

import attrs
import pytest

from domain.case.events import EVENT_TYPES, CaseEvent, FollowUpScheduled
from domain.values import Actor, Channel, SourceKey
from entrypoints import render

T0 = datetime(2026, 7, 15, 14, 0, tzinfo=UTC)


def _value(kind: Any) -> Any:
    """A plausible value of a field's type (the first member of an enum, the first of a
    union that is not None)."""
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        kind = next(k for k in typing.get_args(kind) if k is not type(None))
    if typing.get_origin(kind) is tuple:
        return ()
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        return next(iter(kind))
    simple: dict[Any, Any] = {
        uuid.UUID: uuid.UUID(int=1), int: 1, str: "x", bool: True, datetime: T0,
        Actor: Actor.agent("maria.b"), SourceKey: SourceKey(Channel.CRM, "CRM-1"),
    }  # fmt: skip
    return simple[kind]


def _example(kind: type[CaseEvent]) -> CaseEvent:
    hints = typing.get_type_hints(kind)
    return kind(**{f.name: _value(hints[f.name]) for f in attrs.fields(kind) if f.init})


@pytest.mark.parametrize("kind", EVENT_TYPES, ids=lambda k: k.__name__)
def test_every_event_has_a_sentence_of_its_own(kind: type[CaseEvent]) -> None:
    sentence = render.event_sentence(_example(kind))
    assert kind.__name__ not in sentence
    words = render._words(kind.__name__, camel=True)  # the fallback for an unknown event
    assert sentence != words, f"{kind.__name__} has no sentence of its own"


def test_a_follow_up_is_said_with_its_number_and_bogota_time() -> None:
    event = _example(FollowUpScheduled)
    assert isinstance(event, FollowUpScheduled)
    event = attrs.evolve(event, follow_up_id=3, due_at=datetime(2026, 12, 20, 15, tzinfo=UTC))
    assert render.event_sentence(event) == "follow-up #3 scheduled for 2026-12-20 10:00 Bogotá"
