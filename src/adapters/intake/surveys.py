"""The survey and quality tools' exports (CSV, `;` or `,`, UTF-8 or Windows-1252; or JSON
Lines, `.jsonl`, one object a line with the same keys).

Columns (Spanish aliases accepted, as for CRM exports): `crm_case_id` (`caso`), `survey_id`
(`encuesta`, `id_encuesta`), `answered_at` (`fecha_respuesta`, `fecha`), `recommendation`
(`recomendacion`, `nps`: 0–10), `agent_satisfaction` (`satisfaccion_asesor`: 0–10, optional),
`solved` (`solucionado`: si/no, optional). Each bad row is reported (line, field, why) and
skipped.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from itertools import chain
from pathlib import Path

import orjson

from adapters.intake.crm_export import sniff_delimiter, sniff_encoding, text_stream
from adapters.intake.parsing import DateError, fold, parse_datetime
from application.intake.records import RejectedRow
from application.intake.surveys import MonitoringRecord, SurveyRecord

ALIASES = {
    "crm_case_id": "crm_case_id",
    "caso": "crm_case_id",
    "id_caso": "crm_case_id",
    "survey_id": "survey_id",
    "encuesta": "survey_id",
    "id_encuesta": "survey_id",
    "answered_at": "answered_at",
    "fecha_respuesta": "answered_at",
    "fecha": "answered_at",
    "recommendation": "recommendation",
    "recomendacion": "recommendation",
    "nps": "recommendation",
    "agent_satisfaction": "agent_satisfaction",
    "satisfaccion_asesor": "agent_satisfaction",
    "solved": "solved",
    "solucionado": "solved",
}
REQUIRED = ("crm_case_id", "survey_id", "answered_at", "recommendation")
YES = {"si", "s", "yes", "y", "1", "true"}
NO = {"no", "n", "0", "false"}


def table_rows(
    path: Path, aliases: dict[str, str], required: tuple[str, ...]
) -> Iterator[tuple[str, dict[str, str]] | RejectedRow]:
    """(location, {field: text}) per data row of a CSV export, or the header's rejection;
    `.jsonl` / `.ndjson` files give one JSON object a line, with the same keys."""
    if path.suffix.lower() in (".jsonl", ".ndjson"):
        yield from _json_rows(path, aliases, required)
        return
    with path.open("rb") as raw:
        encoding = sniff_encoding(raw.read(1 << 20))
        raw.seek(0)
        text = text_stream(raw, encoding)
        header = text.readline()
        reader = csv.reader(chain((header,), text), delimiter=sniff_delimiter(header))
        try:
            names = next(reader, [])
        except csv.Error as error:
            yield RejectedRow(
                location=f"{path.name}:1", field=None, reason=f"unreadable header: {error}"
            )
            return
        columns = [aliases.get(fold(name)) for name in names]
        missing = [name for name in required if name not in columns]
        if missing:
            yield RejectedRow(
                location=f"{path.name}:1",
                field=None,
                reason=f"missing columns: {', '.join(missing)}",
            )
            return
        # As the CRM reader: a row is placed at the line it starts on (a quoted cell may span
        # lines), an unreadable row is rejected and the rest read on, and when two columns
        # stand for one field the first one counts.
        previous_end = reader.line_num
        while True:
            try:
                row = next(reader)
            except StopIteration:
                return
            except csv.Error as error:
                yield RejectedRow(
                    location=f"{path.name}:{previous_end + 1}",
                    field=None,
                    reason=f"unreadable: {error}",
                )
                previous_end = reader.line_num
                continue
            location = f"{path.name}:{previous_end + 1}"
            previous_end = reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            values: dict[str, str] = {}
            for column, cell in zip(columns, row, strict=False):
                if column and column not in values:
                    values[column] = cell.strip()
            empty = next((f for f in required if not values.get(f)), None)
            if empty is not None:
                yield RejectedRow(location=location, field=empty, reason="required")
            else:
                yield location, values


def _json_rows(
    path: Path, aliases: dict[str, str], required: tuple[str, ...]
) -> Iterator[tuple[str, dict[str, str]] | RejectedRow]:
    with path.open("rb") as raw:
        for number, raw_line in enumerate(raw, start=1):
            # A byte-order mark, as Windows tools write it, is not part of the first object.
            line = raw_line.removeprefix(b"\xef\xbb\xbf") if number == 1 else raw_line
            if not line.strip():
                continue
            location = f"{path.name}:{number}"
            try:
                document = orjson.loads(line)
            except orjson.JSONDecodeError as error:
                yield RejectedRow(location=location, field=None, reason=f"malformed JSON: {error}")
                continue
            if not isinstance(document, dict):
                yield RejectedRow(location=location, field=None, reason="not a JSON object")
                continue
            values: dict[str, str] = {}
            for key, value in document.items():
                field = aliases.get(fold(str(key)))
                if field is None or field in values:
                    continue
                if value is None:  # an empty cell
                    text = ""
                elif isinstance(value, bool):
                    text = "si" if value else "no"
                else:
                    text = str(value)
                values[field] = text.strip()
            empty = next((f for f in required if not values.get(f)), None)
            if empty is not None:
                yield RejectedRow(location=location, field=empty, reason="required")
            else:
                yield location, values


def shown(text: str) -> str:
    """A bad cell as an error message may show it: short numbers and times are echoed, any
    other text (a shifted column could hold a name or an account) is not."""
    short_number = len(text) <= 4 and set(text) <= _NUMBER_SIGNS
    a_time = ":" in text and len(text) <= 8 and set(text) <= _NUMBER_SIGNS
    if short_number or a_time:  # an 8-digit account or a phone is never shown
        return repr(text)
    return "the value"


_NUMBER_SIGNS = frozenset("0123456789:.,-+ ")


class SurveyExportReader:
    def __init__(self, path: Path) -> None:
        self.path = path

    def items(self) -> Iterator[SurveyRecord | RejectedRow]:
        for item in table_rows(self.path, ALIASES, REQUIRED):
            yield item if isinstance(item, RejectedRow) else _record(item[1], item[0])


def _score(
    values: dict[str, str], field: str, location: str, top: int = 10
) -> int | RejectedRow | None:
    text = values.get(field, "")
    if not text:
        return None
    if not (text.isascii() and text.isdigit()) or not 0 <= int(text) <= top:
        return RejectedRow(location=location, field=field, reason=f"{shown(text)} is not 0–{top}")
    return int(text)


def _record(values: dict[str, str], location: str) -> SurveyRecord | RejectedRow:
    try:
        answered = parse_datetime(values["answered_at"])
    except DateError as error:
        return RejectedRow(location=location, field="answered_at", reason=str(error))
    recommendation = _score(values, "recommendation", location)
    satisfaction = _score(values, "agent_satisfaction", location)
    for score in (recommendation, satisfaction):
        if isinstance(score, RejectedRow):
            return score
    solved_text = fold(values.get("solved", ""))
    if solved_text and solved_text not in YES | NO:
        return RejectedRow(location=location, field="solved", reason="expected si or no")
    assert isinstance(recommendation, int)
    assert not isinstance(satisfaction, RejectedRow)
    return SurveyRecord(
        case=values["crm_case_id"],
        survey_id=values["survey_id"],
        answered_at=answered,
        recommendation=recommendation,
        agent_satisfaction=satisfaction,
        solved=None if not solved_text else solved_text in YES,
        location=location,
    )


QUALITY_ALIASES = {
    "crm_case_id": "crm_case_id",
    "caso": "crm_case_id",
    "id_caso": "crm_case_id",
    "monitoring_id": "monitoring_id",
    "monitoreo": "monitoring_id",
    "id_monitoreo": "monitoring_id",
    "monitored_at": "monitored_at",
    "fecha_monitoreo": "monitored_at",
    "fecha": "monitored_at",
    "agent": "agent",
    "asesor": "agent",
    "agente": "agent",
    "score": "score",
    "nota": "score",
    "calificacion": "score",
}
QUALITY_REQUIRED = ("crm_case_id", "monitoring_id", "monitored_at", "agent", "score")


class MonitoringExportReader:
    """The quality tool's export: case, monitoring id, date, monitored agent, score 0–100."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def items(self) -> Iterator[MonitoringRecord | RejectedRow]:
        for item in table_rows(self.path, QUALITY_ALIASES, QUALITY_REQUIRED):
            if isinstance(item, RejectedRow):
                yield item
                continue
            location, values = item
            try:
                monitored = parse_datetime(values["monitored_at"])
            except DateError as error:
                yield RejectedRow(location=location, field="monitored_at", reason=str(error))
                continue
            score = _score(values, "score", location, top=100)
            if isinstance(score, RejectedRow) or score is None:
                yield score or RejectedRow(location=location, field="score", reason="required")
                continue
            yield MonitoringRecord(
                case=values["crm_case_id"],
                monitoring_id=values["monitoring_id"],
                monitored_at=monitored,
                agent=values["agent"],
                score=score,
                location=location,
            )
