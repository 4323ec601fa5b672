"""The survey tool's export (CSV, `;` or `,`, UTF-8 or Windows-1252) as survey records.

Columns (Spanish aliases accepted, as for CRM exports): `crm_case_id` (`caso`), `survey_id`
(`encuesta`, `id_encuesta`), `answered_at` (`fecha_respuesta`, `fecha`), `recommendation`
(`recomendacion`, `nps`: 0–10), `agent_satisfaction` (`satisfaccion_asesor`: 0–10, optional),
`solved` (`solucionado`: si/no, optional). Each bad row is reported (line, field, why) and
skipped.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from adapters.intake.crm_export import sniff_delimiter, sniff_encoding, text_stream
from adapters.intake.parsing import DateError, fold, parse_datetime
from application.intake import RejectedRow
from application.surveys import SurveyRecord

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


class SurveyExportReader:
    def __init__(self, path: Path) -> None:
        self.path = path

    def items(self) -> Iterator[SurveyRecord | RejectedRow]:
        with self.path.open("rb") as raw:
            encoding = sniff_encoding(raw.read(1 << 20))
            raw.seek(0)
            text = text_stream(raw, encoding)
            header = text.readline()
            reader = csv.reader(text, delimiter=sniff_delimiter(header))
            columns = [
                ALIASES.get(fold(name))
                for name in next(csv.reader([header], delimiter=sniff_delimiter(header)))
            ]
            missing = [name for name in REQUIRED if name not in columns]
            name = self.path.name
            if missing:
                yield RejectedRow(
                    location=f"{name}:1",
                    field=None,
                    reason=f"missing columns: {', '.join(missing)}",
                )
                return
            for number, row in enumerate(reader, start=2):
                if not any(cell.strip() for cell in row):
                    continue
                values = {c: v.strip() for c, v in zip(columns, row, strict=False) if c}
                yield _record(values, f"{name}:{number}")


def _score(values: dict[str, str], field: str, location: str) -> int | RejectedRow | None:
    text = values.get(field, "")
    if not text:
        return None
    if not text.isdigit() or not 0 <= int(text) <= 10:
        return RejectedRow(location=location, field=field, reason=f"{text!r} is not 0–10")
    return int(text)


def _record(values: dict[str, str], location: str) -> SurveyRecord | RejectedRow:
    for field in REQUIRED:
        if not values.get(field):
            return RejectedRow(location=location, field=field, reason="required")
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
