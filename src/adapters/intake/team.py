"""The HR roster's exports and the practice register, as CSV (`;` or `,`, UTF-8 or
Windows-1252, Spanish headers accepted; dates `DD/MM/YYYY` or ISO).

- roster: `agent` (`asesor`, `usuario`), `team` (`equipo`), `role` (`rol`, `cargo`: agent /
  asesor / backoffice, supervisor, coordinator / coordinador, manager / gerente), `since`
  (`fecha_ingreso`, `desde`), optional `left_on` (`fecha_retiro`) and `leave_reason`
  (`motivo_retiro`);
- shifts: `agent`, `day` (`fecha`), `starts` (`hora_inicio`, `entrada`), `ends` (`hora_fin`,
  `salida`), optional `absence` (`novedad`, `ausencia`): when the column is there an empty
  cell means present (and withdraws an absence recorded before); without it absences are
  left as they are; optional `cancelled` (`cancelado`: si/no) takes the shift off;
- practices: `practice` (`practica`: a code of docs/procedure.md §12 or its Spanish name), `owner`
  (`responsable`, `lider`), `held_at` (`fecha`), optional `minutes` (`duracion`) and
  `register_key` (`id_registro`).

Each bad row is reported (place, field, why) and skipped; the good ones are kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, time
from pathlib import Path
from typing import TypeVar

from adapters.intake.parsing import DateError, fold, parse_datetime
from adapters.intake.surveys import NO, YES, shown, table_rows
from application.intake.records import RejectedRow
from application.team.imports import PracticeRecord, RosterRecord, ShiftRecord
from domain.calendar import BOGOTA
from domain.team.practices import Practice
from domain.team.roster import Role

ROSTER_ALIASES = {
    "agent": "agent",
    "asesor": "agent",
    "agente": "agent",
    "usuario": "agent",
    "login": "agent",
    "team": "team",
    "equipo": "team",
    "role": "role",
    "rol": "role",
    "cargo": "role",
    "since": "since",
    "fecha_ingreso": "since",
    "desde": "since",
    "left_on": "left_on",
    "fecha_retiro": "left_on",
    "retiro": "left_on",
    "leave_reason": "leave_reason",
    "motivo_retiro": "leave_reason",
}
ROSTER_REQUIRED = ("agent", "team", "role", "since")
ROLES = {
    "agent": Role.AGENT,
    "asesor": Role.AGENT,
    "agente": Role.AGENT,
    "backoffice": Role.AGENT,
    "back_office": Role.AGENT,
    "supervisor": Role.SUPERVISOR,
    "coordinator": Role.COORDINATOR,
    "coordinador": Role.COORDINATOR,
    "manager": Role.MANAGER,
    "gerente": Role.MANAGER,
}

SHIFT_ALIASES = {
    "agent": "agent",
    "asesor": "agent",
    "agente": "agent",
    "usuario": "agent",
    "login": "agent",
    "day": "day",
    "fecha": "day",
    "dia": "day",
    "starts": "starts",
    "hora_inicio": "starts",
    "inicio": "starts",
    "entrada": "starts",
    "ends": "ends",
    "hora_fin": "ends",
    "fin": "ends",
    "salida": "ends",
    "absence": "absence",
    "novedad": "absence",
    "ausencia": "absence",
    "cancelled": "cancelled",
    "cancelado": "cancelled",
    "anulado": "cancelled",
}
SHIFT_REQUIRED = ("agent", "day", "starts", "ends")

PRACTICE_ALIASES = {
    "practice": "practice",
    "practica": "practice",
    "practica_de_gestion": "practice",
    "owner": "owner",
    "responsable": "owner",
    "lider": "owner",
    "held_at": "held_at",
    "fecha": "held_at",
    "fecha_hora": "held_at",
    "minutes": "minutes",
    "minutos": "minutes",
    "duracion": "minutes",
    "register_key": "register_key",
    "id_registro": "register_key",
    "registro": "register_key",
}
PRACTICE_REQUIRED = ("practice", "owner", "held_at")
PRACTICE_NAMES: dict[str, Practice] = {p.value: p for p in Practice} | {
    fold(p.spanish): p for p in Practice
}
PRACTICE_NAMES |= {
    "dialogo_diario": Practice.DAILY_DIALOGUE,
    "dialogo_semanal": Practice.WEEKLY_DIALOGUE,
    "confirmacion_de_proceso": Practice.PROCESS_CONFIRMATION,
    "acompanamiento": Practice.PRACTICE_OBSERVATION,
    "agenda_del_lider": Practice.LEADERS_AGENDA,
    "agenda_de_lideres": Practice.LEADERS_AGENDA,
    "registro_de_practicas": Practice.PRACTICE_REGISTER,
    "mejora_continua": Practice.IMPROVEMENT_MEETING,
    "reunion_con_el_cliente": Practice.CLIENT_MEETING,
    "reunion_barometro": Practice.BAROMETER_MEETING,
    "barometro": Practice.BAROMETER_MEETING,
}


class _Bad(Exception):
    """A cell that cannot be read: its field and why (the row becomes a `RejectedRow`)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(reason)
        self.field = field
        self.reason = reason


R = TypeVar("R")


def _rows(
    path: Path,
    aliases: dict[str, str],
    required: tuple[str, ...],
    build: Callable[[dict[str, str], str], R],
) -> Iterator[R | RejectedRow]:
    for item in table_rows(path, aliases, required):
        if isinstance(item, RejectedRow):
            yield item
            continue
        location, values = item
        try:
            yield build(values, location)
        except _Bad as bad:
            yield RejectedRow(location=location, field=bad.field, reason=bad.reason)


def _date(values: dict[str, str], field: str) -> date:
    try:
        return parse_datetime(values[field]).astimezone(BOGOTA).date()
    except DateError as error:
        raise _Bad(field, str(error)) from None


def _time(values: dict[str, str], field: str) -> time:
    text = values[field]
    parts = text.strip().split(":")
    if len(parts) not in (2, 3) or not all(p.isascii() and p.isdigit() for p in parts):
        raise _Bad(field, f"{shown(text)} is not a time (HH:MM)")
    hour, minute = int(parts[0]), int(parts[1])
    if not (0 <= hour < 24 and 0 <= minute < 60):
        raise _Bad(field, f"{shown(text)} is not a time of day")
    return time(hour, minute)


def _roster_record(values: dict[str, str], location: str) -> RosterRecord:
    role = ROLES.get(fold(values["role"]))
    if role is None:
        raise _Bad("role", f"not a known role (accepted: {', '.join(sorted(ROLES))})")
    since = _date(values, "since")
    left_on = _date(values, "left_on") if values.get("left_on") else None
    if left_on is not None and left_on < since:
        raise _Bad("left_on", f"{left_on} is before since {since}")
    return RosterRecord(
        agent=values["agent"],
        team=values["team"],
        role=role,
        since=since,
        left_on=left_on,
        leave_reason=values.get("leave_reason") or None,
        location=location,
    )


def _shift_record(values: dict[str, str], location: str) -> ShiftRecord:
    day, starts, ends = _date(values, "day"), _time(values, "starts"), _time(values, "ends")
    cancelled = fold(values.get("cancelled", ""))
    if cancelled and cancelled not in YES | NO:
        raise _Bad("cancelled", "expected si or no")
    return ShiftRecord(
        agent=values["agent"],
        day=day,
        starts=starts,
        ends=ends,
        absence=values.get("absence") or None,
        absence_known="absence" in values,
        cancelled=cancelled in YES,
        location=location,
    )


def _practice_record(values: dict[str, str], location: str) -> PracticeRecord:
    practice = PRACTICE_NAMES.get(fold(values["practice"]))
    if practice is None:
        accepted = ", ".join(p.value for p in Practice)
        raise _Bad(
            "practice", f"not a practice of §12 (accepted: {accepted}, or their Spanish names)"
        )
    try:
        held_at = parse_datetime(values["held_at"])
    except DateError as error:
        raise _Bad("held_at", str(error)) from None
    text = values.get("minutes", "")
    if text and not (text.isascii() and text.isdigit() and 0 < int(text) <= 600):
        raise _Bad("minutes", f"{shown(text)} is not 1–600 minutes")
    return PracticeRecord(
        practice=practice,
        owner=values["owner"],
        held_at=held_at,
        minutes=int(text) if text else None,
        register_key=values.get("register_key") or None,
        location=location,
    )


class RosterReader:
    def __init__(self, path: Path) -> None:
        self.path = path

    def items(self) -> Iterator[RosterRecord | RejectedRow]:
        return _rows(self.path, ROSTER_ALIASES, ROSTER_REQUIRED, _roster_record)


class ShiftReader:
    def __init__(self, path: Path) -> None:
        self.path = path

    def items(self) -> Iterator[ShiftRecord | RejectedRow]:
        return _rows(self.path, SHIFT_ALIASES, SHIFT_REQUIRED, _shift_record)


class PracticeReader:
    def __init__(self, path: Path) -> None:
        self.path = path

    def items(self) -> Iterator[PracticeRecord | RejectedRow]:
        return _rows(self.path, PRACTICE_ALIASES, PRACTICE_REQUIRED, _practice_record)
