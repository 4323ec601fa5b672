"""Every reader, fed text it was never meant to read: no traceback, ever.

Hypothesis writes files of the readers' own shape (their headers, then rows of arbitrary
cells: control characters, other scripts, odd digits, dates out of range, huge numbers) and
of arbitrary bytes. Each reader must yield records and rejections naming where, and the
domain must take or refuse each record with one of its own errors.
"""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.intake.crm_export import CrmExportReader
from adapters.intake.mail import MailReader
from adapters.intake.surveys import MonitoringExportReader, SurveyExportReader
from adapters.intake.team import PracticeReader, RosterReader, ShiftReader
from application.ingestion import ingested_from
from application.intake import IntakeRecord, RejectedRow
from domain.errors import DomainError
from tests.conftest import T0

HEADERS: dict[str, tuple[Any, str]] = {
    "crm.csv": (CrmExportReader,
                "caso;fecha_ingreso;cuenta;linea;cliente;tipificacion;solicitud;"
                "fecha_seguimiento;asesor_front;recomendado_por;cun;fecha_radicacion"),
    "surveys.csv": (SurveyExportReader,
                    "caso;encuesta;fecha;recomendacion;satisfaccion_asesor;resuelto"),
    "quality.csv": (MonitoringExportReader, "caso;monitoreo;fecha;asesor;nota"),
    "roster.csv": (RosterReader, "asesor;equipo;rol;desde;hasta;motivo"),
    "shifts.csv": (ShiftReader, "asesor;fecha;hora_inicio;hora_fin;novedad"),
    "practices.csv": (PracticeReader, "practica;responsable;fecha;minutos;registro"),
}  # fmt: skip

cells = st.one_of(
    st.text(max_size=24),
    st.sampled_from(["", "01/12/2026", "31/12/9999 23:59", "0001-01-01", "2026-13-40",
                     "²", "١٢", "9" * 40, "-1", "hogar", "movil", "agent", "=1+1", "a@b.co",
                     "\x00", "\r", "\u2028", '"', ";"]),
)  # fmt: skip
rows = st.lists(st.lists(cells, min_size=1, max_size=14), max_size=6)


def _csv(header: str, body: list[list[str]]) -> str:
    def cell(value: str) -> str:
        return '"' + value.replace('"', '""') + '"' if any(c in value for c in ';"\r\n') else value

    return "\n".join([header, *(";".join(cell(v) for v in row) for row in body)]) + "\n"


def _consume(reader: Any) -> list[Any]:
    items = list(reader.items())
    for item in items:
        if isinstance(item, RejectedRow):
            assert item.location  # every rejection says where
    return items


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=st.sampled_from(sorted(HEADERS)), body=rows)
def test_a_reader_of_its_own_shape_never_raises(
    tmp_path: Path, name: str, body: list[list[str]]
) -> None:
    reader_class, header = HEADERS[name]
    path = tmp_path / name
    path.write_text(_csv(header, body), encoding="utf-8", errors="surrogatepass")
    for item in _consume(reader_class(path)):
        if isinstance(item, IntakeRecord):
            with contextlib.suppress(DomainError):  # refused, with its reason: reported
                ingested_from(item, T0)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(name=st.sampled_from([*sorted(HEADERS), "crm.jsonl", "crm.csv.gz", "mail.eml"]),
       data=st.binary(max_size=400))  # fmt: skip
def test_arbitrary_bytes_never_make_a_reader_raise(tmp_path: Path, name: str, data: bytes) -> None:
    path = tmp_path / name
    path.write_bytes(data)
    if name.startswith("crm."):
        _consume(CrmExportReader(path))
    elif name == "mail.eml":
        _consume(MailReader(path))
    else:
        _consume(HEADERS[name][0](path))
