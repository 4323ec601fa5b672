"""The console's forms, one per command class, made from the command's own attrs fields (no
second set of models): the page shows a field per attribute, and the posted form becomes
the command again, each value read by its type (a Bogotá local time for a `datetime`, an
enumeration's value, a tick for a `bool`). A value that cannot be read is an `InvalidValue`
naming the field, shown on the form."""

from __future__ import annotations

import enum
import functools
import re
import types
import typing
import uuid
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import attrs

from application.dispatch import command_name
from domain.calendar import BOGOTA
from domain.errors import InvalidValue

LONG_TEXT = frozenset({"text", "reason", "summary", "request", "answer", "notes", "agreement",
                       "outcome"})  # fmt: skip
"""Fields written as a paragraph (a text area), not a line."""
HIDDEN = frozenset({"case"})
"""Fields the page fills itself."""


@attrs.frozen
class Field:
    """One input of a form: its name (the command's attribute), how it is entered, whether it
    must be given, the choices of a list (value, label), and the value it starts with."""

    name: str
    kind: str
    """`text`, `textarea`, `select`, `checkbox`, `datetime`, `number`, `list` or `yesno`."""
    required: bool
    choices: tuple[tuple[str, str], ...] = ()
    initial: str = ""


@attrs.frozen
class Form:
    command: type
    name: str
    """The command's name in the console's addresses (`interpret-case`)."""
    fields: tuple[Field, ...]


def _optional(kind: Any) -> tuple[Any, bool]:
    """`kind` without `None`, and whether `None` was allowed."""
    if typing.get_origin(kind) in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(kind) if a is not type(None)]
        if len(args) == 1:
            return args[0], len(args) < len(typing.get_args(kind))
    return kind, False


@functools.cache
def form_of(command: type) -> Form:
    """The form of a command class (its fields, but `case`, which the page fills)."""
    attrs.resolve_types(command)
    fields = []
    for field in attrs.fields(command):
        if field.name in HIDDEN:
            continue
        kind, optional = _optional(field.type)
        has_default = field.default is not attrs.NOTHING
        required = not (optional or has_default)
        initial = ""
        if has_default and field.default is not None and not isinstance(field.default, tuple):
            default = field.default
            initial = default.value if isinstance(default, enum.Enum) else str(default)
        fields.append(_field(field.name, kind, optional, required, initial))
    return Form(command, command_name(command), tuple(fields))


def _field(name: str, kind: Any, optional: bool, required: bool, initial: str) -> Field:
    if kind is bool:
        if optional:
            return Field(name, "yesno", False, (("", "unknown"), ("yes", "yes"), ("no", "no")))
        return Field(name, "checkbox", False, initial=initial)
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        options = tuple((m.value, str(m.value)) for m in kind)
        return Field(name, "select", required, (("", ""),) * optional + options, initial)
    if kind is datetime:
        return Field(name, "datetime", required)
    if kind is int:
        return Field(name, "number", required, initial=initial)
    if typing.get_origin(kind) is tuple:
        return Field(name, "list", required)
    if typing.get_origin(kind) is dict:
        return Field(name, "pairs", required)
    return Field(name, "textarea" if name in LONG_TEXT else "text", required, initial=initial)


def command_from(command: type, case_id: uuid.UUID, posted: Mapping[str, str]) -> Any:
    """The command the posted form gives for the case `case_id`; an `InvalidValue` naming
    the first field that cannot be read."""
    attrs.resolve_types(command)
    values: dict[str, Any] = {"case": case_id}
    for field in attrs.fields(command):
        if field.name in HIDDEN:
            continue
        kind, optional = _optional(field.type)
        raw = (posted.get(field.name) or "").strip()
        has_default = field.default is not attrs.NOTHING
        if kind is bool and not optional:
            values[field.name] = raw in {"on", "true", "yes", "1"}
            continue
        if not raw:
            if optional:
                values[field.name] = None if not has_default else field.default
            elif not has_default:
                raise InvalidValue(field.name, "required")
            continue
        values[field.name] = read_value(field.name, kind, raw)
    return command(**values)


def read_value(name: str, kind: Any, raw: str) -> Any:
    """One posted value as the command's attribute `name` of type `kind` takes it."""
    if kind is bool:
        if raw not in {"yes", "no"}:
            raise InvalidValue(name, "answer yes or no")
        return raw == "yes"
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        try:
            return kind(raw)
        except ValueError:
            raise InvalidValue(name, "not one of the choices") from None
    if kind is datetime:
        return local_moment(name, raw)
    if kind is int:
        if not re.fullmatch(r"-?\d{1,9}", raw):
            raise InvalidValue(name, "give a whole number")
        return int(raw)
    if typing.get_origin(kind) is tuple:
        return tuple(part.strip() for part in re.split(r"[,\n]", raw) if part.strip())
    if typing.get_origin(kind) is dict:
        return _pairs(name, raw)
    return raw


_DATE_AND_TIME = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}", re.IGNORECASE)


def local_moment(name: str, raw: str) -> datetime:
    """A moment given as a form's local date and time (`2026-12-05T09:30`, seconds optional),
    in Bogotá; an `InvalidValue` naming `name` for anything else (a year outside 1900-9998
    included: no arithmetic near the calendar's ends)."""
    text = raw.strip()
    try:
        if len(text) > 40 or not _DATE_AND_TIME.match(text):
            raise ValueError(text)
        moment = datetime.fromisoformat(text)
        if not 1900 <= moment.year <= 9998:
            raise ValueError(text)
    except ValueError:
        raise InvalidValue(name, "give a date and time (2026-12-05 09:30)") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=BOGOTA)
    return moment


def _pairs(name: str, raw: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for line in raw.splitlines():
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep or not key.strip():
            raise InvalidValue(name, "one key=value a line")
        pairs[key.strip()] = value.strip()
    return pairs
