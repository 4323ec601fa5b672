"""CRM export intake: CSV as Excel writes it, UTF-8 CSV, JSON Lines; records and rejections."""

from __future__ import annotations

import gzip
import inspect
import json
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

import pytest

from adapters.intake.crm_export import CrmExportReader, sniff_delimiter, sniff_encoding
from adapters.intake.parsing import DateError, crm_field, parse_datetime, parse_line
from application.intake.records import IntakeItem, IntakeRecord, RejectedRow
from domain.values import Channel, LineOfBusiness, SourceKey

SPANISH_HEADER = (
    "Número caso;Fecha ingreso;Cuenta;Línea;Nombre cliente;Tipificación;Observaciones;"
    "Fecha seguimiento;Asesor front;Recomendado por"
)
ENGLISH_HEADER = (
    "crm_case_id,received_at,account,line,customer_name,typification,request,"
    "follow_up_at,front_agent,recommended_by"
)


def write_lines(path: Path, lines: list[str], encoding: str = "utf-8") -> Path:
    path.write_bytes("".join(f"{line}\r\n" for line in lines).encode(encoding))
    return path


def read_all(path: Path) -> list[IntakeItem]:
    return list(CrmExportReader(path).items())


def records(items: list[IntakeItem]) -> list[IntakeRecord]:
    return [item for item in items if isinstance(item, IntakeRecord)]


def rejections(items: list[IntakeItem]) -> list[RejectedRow]:
    return [item for item in items if isinstance(item, RejectedRow)]


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, tzinfo=UTC)


# --- CSV -----------------------------------------------------------------------------------


def test_an_excel_export_with_semicolons_cp1252_and_spanish_headers_is_read(
    tmp_path: Path,
) -> None:
    path = write_lines(
        tmp_path / "export.csv",
        [
            SPANISH_HEADER,
            "1001;15/07/2026 14:30;8012345;Hogar;José Peña Núñez;Falla técnica;"
            '"Sin servicio; reinició el módem";20/07/2026;front.ana;gerente@claro.com.co',
            "1002;16/07/2026 08:05:09;3001234567;Móvil;María Ibáñez;Facturación;;;;",
        ],
        encoding="cp1252",
    )

    first, second = read_all(path)

    assert first == IntakeRecord(
        source=SourceKey(Channel.CRM, "1001"),
        received_at=utc(2026, 7, 15, 19, 30),
        account="8012345",
        line=LineOfBusiness.HOGAR,
        customer_name="José Peña Núñez",
        typification="Falla técnica",
        request="Sin servicio; reinició el módem",
        follow_up_at=utc(2026, 7, 20, 14, 0),  # a bare follow-up date is 09:00 in Bogotá
        front_agent="front.ana",
        recommended_by="gerente@claro.com.co",
        location="export.csv:2",
    )
    assert isinstance(second, IntakeRecord)
    assert second.received_at == utc(2026, 7, 16, 13, 5, 9)
    assert second.line is LineOfBusiness.MOVIL
    assert second.customer_name == "María Ibáñez"
    assert (second.request, second.follow_up_at, second.front_agent) == ("", None, None)
    assert second.recommended_by is None
    assert second.location == "export.csv:3"


def test_a_utf8_export_with_bom_commas_iso_dates_and_english_headers_is_read(
    tmp_path: Path,
) -> None:
    path = write_lines(
        tmp_path / "export.csv",
        [
            ENGLISH_HEADER,
            "A-1,2026-07-15T14:30:00-05:00,8012345,home,Ñoño Gómez,Falla,Texto,"
            "2026-07-20 10:00,front01,",
            "A-2,2026-07-15 09:15,8012346,mobile,Zoë,Venta,,2026-07-21T10:00:00Z,,",
            "A-3,2026-07-15,8012347,fijo,Ana,Venta,,,,",
        ],
        encoding="utf-8-sig",
    )

    items = read_all(path)

    assert rejections(items) == []
    one, two, three = records(items)
    assert one.source == SourceKey(Channel.CRM, "A-1")
    assert one.received_at == utc(2026, 7, 15, 19, 30)
    assert one.customer_name == "Ñoño Gómez"
    assert one.follow_up_at == utc(2026, 7, 20, 15, 0)
    assert one.recommended_by is None
    assert two.received_at == utc(2026, 7, 15, 14, 15)
    assert two.line is LineOfBusiness.MOVIL
    assert two.follow_up_at == utc(2026, 7, 21, 10, 0)
    assert three.received_at == utc(2026, 7, 15, 5, 0)  # a bare received date is 00:00 Bogotá
    assert three.line is LineOfBusiness.HOGAR


def test_a_naive_date_time_is_bogota_time(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "export.csv",
        [SPANISH_HEADER, "1;15/07/2026 22:30;1;hogar;Ana;Falla;;;;"],
    )

    (record,) = read_all(path)

    assert isinstance(record, IntakeRecord)
    assert record.received_at == datetime(2026, 7, 16, 3, 30, tzinfo=UTC)
    assert record.received_at.tzinfo is UTC


def test_headers_are_matched_whatever_their_case_accents_and_separators(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "export.txt",
        [
            "\tID_CASO\tFECHA_RECIBIDO\tCuenta\tLINEA-NEGOCIO\tCliente\tTipificacion\tExtra",
            "\t77\t01/08/2026\t5\tHFC\tAna\tFalla\tignored",
        ],
    )

    (record,) = read_all(path)

    assert isinstance(record, IntakeRecord)
    assert record.source.key == "77"
    assert record.line is LineOfBusiness.HOGAR
    assert record.request == ""


def test_a_header_without_required_columns_is_one_rejection_and_nothing_else(
    tmp_path: Path,
) -> None:
    path = write_lines(
        tmp_path / "export.csv",
        ["caso;fecha;cliente;tipificacion;solicitud", "1;15/07/2026;Ana;Falla;x"],
    )

    assert read_all(path) == [
        RejectedRow(
            location="export.csv:1",
            field=None,
            reason="the header lacks the required column(s): account, line",
        )
    ]


def test_bad_rows_are_rejected_with_line_and_field_and_the_good_rows_kept(
    tmp_path: Path,
) -> None:
    path = write_lines(
        tmp_path / "export.csv",
        [
            SPANISH_HEADER,
            "1;15/07/2026 10:00;111;hogar;Ana Uno;Falla;;;;",
            "2;31/02/2026 10:00;222;hogar;Beto Dos;Falla;;;;",
            '3;15/07/2026 10:00;333;hogar;Carla Tres;Falla;"dos',
            'líneas";;;',
            "4;2026-13-01;444;hogar;Dario Cuatro;Falla;;;;",
            "5;15/07/2026;555;satelital;Eva Cinco;Falla;;;;",
            "",
            "6;15/07/2026;   ;movil;Fabio Seis;Falla;;;;",
            "7;15/07/2026;777;movil;Gina Siete;Falla;;32/07/2026;;",
            "8;15/07/2026;888;movil;;Falla;;;;",
            "9;15/07/2026;999;MÓVIL;Hugo Nueve;Falla;;;;",
        ],
    )

    items = read_all(path)

    assert [(r.source.key, r.location) for r in records(items)] == [
        ("1", "export.csv:2"),
        ("3", "export.csv:4"),
        ("9", "export.csv:12"),
    ]
    assert [(r.location, r.field) for r in rejections(items)] == [
        ("export.csv:3", "received_at"),
        ("export.csv:6", "received_at"),
        ("export.csv:7", "line"),
        ("export.csv:9", "account"),
        ("export.csv:10", "follow_up_at"),
        ("export.csv:11", "customer_name"),
    ]
    reasons = {r.location: r.reason for r in rejections(items)}
    assert "'31/02/2026 10:00' is not a valid date" in reasons["export.csv:3"]
    assert "day is out of range" in reasons["export.csv:3"]
    assert "month must be in 1..12" in reasons["export.csv:6"]
    assert "'satelital'" in reasons["export.csv:7"]
    assert "hogar" in reasons["export.csv:7"]
    assert "missing or empty" in reasons["export.csv:9"]
    for rejected in rejections(items):
        assert not any(name in str(rejected) for name in ("Beto", "Dario", "Eva", "Fabio"))


def test_a_multi_line_cell_keeps_the_line_numbers_of_the_rows_after_it(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(
        (
            f"{ENGLISH_HEADER}\r\n"
            '1,15/07/2026,1,hogar,Ana,Falla,"first\r\nsecond\nthird",,,\r\n'
            "2,15/07/2026,1,hogar,Ana,Falla,,,,\r\n"
        ).encode()
    )

    first, second = read_all(path)

    assert isinstance(first, IntakeRecord)
    assert isinstance(second, IntakeRecord)
    assert first.request == "first\nsecond\nthird"
    assert (first.location, second.location) == ("export.csv:2", "export.csv:5")


def test_short_rows_read_missing_cells_as_empty(tmp_path: Path) -> None:
    path = write_lines(
        tmp_path / "export.csv",
        [SPANISH_HEADER, "1;15/07/2026;1;hogar;Ana;Falla", "2;15/07/2026;1;hogar;Ana"],
    )

    first, second = read_all(path)

    assert isinstance(first, IntakeRecord)
    assert first.follow_up_at is None
    assert second == RejectedRow(
        location="export.csv:3", field="typification", reason="is required but missing or empty"
    )


def test_a_cp1252_file_whose_first_megabyte_is_ascii_still_reads_its_accents(
    tmp_path: Path,
) -> None:
    row = "{};15/07/2026 10:00;123;hogar;Juan Perez;Falla;Sin novedad;;;"
    header = "caso;fecha ingreso;cuenta;linea;cliente;tipificacion;solicitud"
    lines = [header] + [row.format(n) for n in range(1, 20_000)]
    lines.append("ultimo;15/07/2026 10:00;123;hogar;Ñusta Peña;Reposición;Año nuevo;;;")
    path = write_lines(tmp_path / "export.csv", lines, encoding="cp1252")
    assert path.read_bytes()[: 1 << 20].isascii()

    items = read_all(path)

    assert rejections(items) == []
    last = records(items)[-1]
    assert (last.customer_name, last.typification, last.request) == (
        "Ñusta Peña",
        "Reposición",
        "Año nuevo",
    )
    assert last.location == f"export.csv:{len(lines)}"


def test_a_gzipped_export_is_read(tmp_path: Path) -> None:
    path = tmp_path / "export.csv.gz"
    path.write_bytes(
        gzip.compress(f"{SPANISH_HEADER}\r\n1;15/07/2026;1;hogar;Peña;Falla;;;;\r\n".encode())
    )

    (record,) = read_all(path)

    assert isinstance(record, IntakeRecord)
    assert record.customer_name == "Peña"
    assert record.location == "export.csv.gz:2"


def test_an_empty_file_is_one_rejection(tmp_path: Path) -> None:
    path = tmp_path / "export.csv"
    path.write_bytes(b"")

    assert read_all(path) == [
        RejectedRow(location="export.csv:1", field=None, reason="no header line")
    ]


def test_an_unknown_extension_is_refused(tmp_path: Path) -> None:
    assert not CrmExportReader.accepts(tmp_path / "export.xlsx")
    assert CrmExportReader.accepts(tmp_path / "EXPORT.NDJSON.GZ")
    with pytest.raises(ValueError, match="not a CRM export"):
        CrmExportReader(tmp_path / "export.xlsx")


# --- JSON Lines ----------------------------------------------------------------------------


def test_json_lines_are_read_with_aliases_numbers_and_blank_lines(tmp_path: Path) -> None:
    path = tmp_path / "export.jsonl"
    lines = [
        json.dumps(
            {
                "caso": 1001,
                "fecha_ingreso": "15/07/2026 14:30",
                "cuenta": 8012345,
                "línea": "Móvil",
                "cliente": "José Peña",
                "tipificación": "Falla",
                "solicitud": "Sin señal",
                "fecha_seguimiento": "2026-07-20",
                "asesor_front": None,
                "otra": [1, 2],
            },
            ensure_ascii=False,
        ),
        "",
        json.dumps(
            {
                "crm_case_id": "A-2",
                "received_at": "2026-07-15T10:00:00Z",
                "account": "9",
                "line": "hogar",
                "customer_name": "Ana",
                "typification": "Venta",
            }
        ),
    ]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    first, second = read_all(path)

    assert first == IntakeRecord(
        source=SourceKey(Channel.CRM, "1001"),
        received_at=utc(2026, 7, 15, 19, 30),
        account="8012345",
        line=LineOfBusiness.MOVIL,
        customer_name="José Peña",
        typification="Falla",
        request="Sin señal",
        follow_up_at=utc(2026, 7, 20, 14, 0),
        front_agent=None,
        recommended_by=None,
        location="export.jsonl:1",
    )
    assert isinstance(second, IntakeRecord)
    assert second.received_at == utc(2026, 7, 15, 10, 0)
    assert second.request == ""
    assert second.location == "export.jsonl:3"


def test_bad_json_lines_are_rejected_and_the_good_ones_kept(tmp_path: Path) -> None:
    good = {
        "caso": "1",
        "fecha": "15/07/2026",
        "cuenta": "1",
        "linea": "hogar",
        "cliente": "Ana",
        "tipificacion": "Falla",
    }
    path = tmp_path / "export.ndjson"
    path.write_text(
        "\n".join(
            [
                json.dumps(good),
                '{"caso": "2", "cliente": "Beto Dos",',
                json.dumps({**good, "caso": "3", "cuenta": True}),
                json.dumps({**good, "caso": "4", "cliente": ["Carla"]}),
                json.dumps([1, 2]),
                json.dumps({**good, "caso": "6", "cuenta": 12.5}),
                json.dumps({**good, "caso": "7", "fecha": "2026-02-30"}),
                json.dumps({k: v for k, v in good.items() if k != "linea"} | {"caso": "8"}),
                json.dumps({**good, "caso": "9"}),
            ]
        ),
        encoding="utf-8",
    )

    items = read_all(path)

    assert [r.source.key for r in records(items)] == ["1", "9"]
    assert [(r.location, r.field) for r in rejections(items)] == [
        ("export.ndjson:2", None),
        ("export.ndjson:3", "account"),
        ("export.ndjson:4", "customer_name"),
        ("export.ndjson:5", None),
        ("export.ndjson:6", "account"),
        ("export.ndjson:7", "received_at"),
        ("export.ndjson:8", "line"),
    ]
    reasons = [r.reason for r in rejections(items)]
    assert reasons[0].startswith("malformed JSON")
    assert reasons[1:5] == [
        "expected text, got a boolean",
        "expected text, got an array",
        "not a JSON object",
        "expected text, got a number",
    ]
    assert all("Beto" not in reason and "Carla" not in reason for reason in reasons)


def test_a_json_line_in_cp1252_is_still_read(tmp_path: Path) -> None:
    path = tmp_path / "export.jsonl"
    line = (
        '{"caso": "1", "fecha": "15/07/2026", "cuenta": "1", "linea": "hogar", '
        '"cliente": "Peña", "tipificacion": "Falla"}\n'
    )
    path.write_bytes(line.encode("cp1252"))

    (record,) = read_all(path)

    assert isinstance(record, IntakeRecord)
    assert record.customer_name == "Peña"


# --- progress and streaming ----------------------------------------------------------------


def generate_export(path: Path, rows: int) -> Path:
    with path.open("w", encoding="cp1252", newline="") as out:
        out.write(SPANISH_HEADER + "\r\n")
        for n in range(rows):
            out.write(
                f"{n};15/07/2026 {n % 24:02d}:{n % 60:02d};{10_000_000 + n};Hogar;"
                f"Cliente Número {n};Falla técnica;Sin servicio desde ayer;;front01;\r\n"
            )
    return path


def test_progress_is_reported_and_ends_at_the_file_size(tmp_path: Path) -> None:
    path = generate_export(tmp_path / "export.csv", 5_000)
    reader = CrmExportReader(path)
    seen: list[int] = []

    count = sum(1 for _ in reader.items(seen.append))

    assert count == 5_000
    assert len(seen) >= 2
    assert seen == sorted(seen)
    assert seen[-1] == reader.size() == path.stat().st_size
    assert all(0 < value <= reader.size() for value in seen)


def test_a_large_file_is_streamed(tmp_path: Path) -> None:
    path = generate_export(tmp_path / "export.csv", 50_000)
    reader = CrmExportReader(path)
    size = reader.size()
    assert size > 4_000_000
    seen: list[int] = []

    stream = reader.items(seen.append)
    assert inspect.isgenerator(stream)
    first = next(stream)
    assert isinstance(first, IntakeRecord)
    assert all(value < size for value in seen)

    for _ in range(2 * 1024):
        next(stream)
    assert 0 < seen[0] < seen[1] < size // 20  # read as it goes, not up front

    tracemalloc.start()
    try:
        for _ in range(5_000):
            next(stream)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert peak < 1_000_000  # a few rows in flight, whatever the file size

    rest = sum(1 for _ in stream)
    assert 1 + 2 * 1024 + 5_000 + rest == 50_000
    assert seen[-1] == size


# --- parsing helpers -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-07-15T14:30:00-05:00", utc(2026, 7, 15, 19, 30)),
        ("2026-07-15T14:30:00+00:00", utc(2026, 7, 15, 14, 30)),
        ("2026-07-15T14:30:00.250", datetime(2026, 7, 15, 19, 30, 0, 250_000, tzinfo=UTC)),
        ("2026-07-15 14:30", utc(2026, 7, 15, 19, 30)),
        ("2026-07-15", utc(2026, 7, 15, 5, 0)),
        ("15/07/2026 14:30", utc(2026, 7, 15, 19, 30)),
        ("15/07/2026 14:30:45", utc(2026, 7, 15, 19, 30, 45)),
        ("15/07/2026", utc(2026, 7, 15, 5, 0)),
        ("5/7/2026 9:05", utc(2026, 7, 5, 14, 5)),
        ("31/12/2026 23:59", utc(2027, 1, 1, 4, 59)),
    ],
)
def test_dates_are_read_day_first_or_iso_in_bogota_time(text: str, expected: datetime) -> None:
    assert parse_datetime(text) == expected


def test_a_bare_date_takes_the_given_hour() -> None:
    assert parse_datetime("15/07/2026", 9) == utc(2026, 7, 15, 14, 0)
    assert parse_datetime("2026-07-15", 9) == utc(2026, 7, 15, 14, 0)
    assert parse_datetime("15/07/2026", 0) == utc(2026, 7, 15, 5, 0)


@pytest.mark.parametrize(
    "text",
    [
        "31/02/2026",
        "2026-13-01",
        "15/07/26",
        "07-15-2026",
        "15/07/2026 25:00",
        "15/07/2026 14h30",
        "mañana",
        "2026-07-15T14:30:00+25:00",
        "1a/07/2026",
        "31/12/9999 23:00",
        "0001-01-01T00:00:00+05:00",
    ],
)
def test_impossible_or_unknown_dates_are_refused(text: str) -> None:
    with pytest.raises(DateError, match=r"not a valid|out of range"):
        parse_datetime(text)


def test_a_date_error_does_not_echo_text_that_is_not_a_date() -> None:
    with pytest.raises(DateError) as caught:
        parse_datetime("Juan Pérez")
    assert "Juan" not in str(caught.value)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("hogar", LineOfBusiness.HOGAR),
        ("HOGAR", LineOfBusiness.HOGAR),
        ("Fijo", LineOfBusiness.HOGAR),
        ("hfc", LineOfBusiness.HOGAR),
        ("Home", LineOfBusiness.HOGAR),
        ("móvil", LineOfBusiness.MOVIL),
        ("MÓVIL", LineOfBusiness.MOVIL),
        ("Movil", LineOfBusiness.MOVIL),
        ("mobile", LineOfBusiness.MOVIL),
        ("Celular", LineOfBusiness.MOVIL),
        ("mÓvIl", LineOfBusiness.MOVIL),
        ("satelital", None),
        ("hogar hfc", None),
    ],
)
def test_lines_of_business_are_read_case_and_accent_insensitive(
    text: str, expected: LineOfBusiness | None
) -> None:
    assert parse_line(text) is expected


@pytest.mark.parametrize(
    ("column", "field"),
    [
        ("Número caso", "crm_case_id"),
        ("Nº caso", "crm_case_id"),
        ("NUMERO_CASO", "crm_case_id"),
        ("Fecha", "received_at"),
        ("fecha de ingreso", "received_at"),
        ("Línea de negocio", "line"),
        ("OBSERVACIONES", "request"),
        ("Requerimiento", "request"),
        ("fecha-seguimiento", "follow_up_at"),
        ("Agente Front", "front_agent"),
        ("Recomendado por", "recommended_by"),
        ("nombre_cliente", "customer_name"),
        ("Estado", None),
    ],
)
def test_column_aliases(column: str, field: str | None) -> None:
    assert crm_field(column) == field


def test_the_separator_is_sniffed_outside_quotes() -> None:
    assert sniff_delimiter("a;b;c\r\n") == ";"
    assert sniff_delimiter('"a,1";"b,2";c\r\n') == ";"
    assert sniff_delimiter("a,b,c\n") == ","
    assert sniff_delimiter("a\tb\tc\n") == "\t"
    assert sniff_delimiter("single\n") == ","


def test_the_encoding_is_sniffed() -> None:
    assert sniff_encoding(b"\xef\xbb\xbfcaso;fecha") == "utf-8-sig"
    assert sniff_encoding(b"caso;fecha") == "utf-8"
    assert sniff_encoding("caso;línea".encode()) == "utf-8"
    assert sniff_encoding("caso;línea".encode("cp1252")) == "cp1252"
    assert sniff_encoding("línea".encode()[:2]) == "utf-8"  # cut inside a character


def test_json_numbers_too_large_to_be_exact_and_a_bom_are_handled(tmp_path: Path) -> None:
    path = tmp_path / "export.jsonl"
    base = '"fecha": "15/07/2026", "linea": "hogar", "cliente": "Ana", "tipificacion": "Falla"'
    path.write_bytes(
        b"\xef\xbb\xbf"
        + f'{{"caso": 1, "cuenta": 8012345.0, {base}}}\n'.encode()
        + f'{{"caso": 2, "cuenta": 123456789012345678901234567890, {base}}}\n'.encode()
    )

    first, second = read_all(path)

    assert isinstance(first, IntakeRecord)
    assert (first.source.key, first.account) == ("1", "8012345")
    assert second == RejectedRow(
        location="export.jsonl:2", field="account", reason="expected text, got a number"
    )


def test_a_pqr_the_front_line_filed_comes_with_its_cun_and_filing_time(tmp_path: Path) -> None:
    """The optional columns `cun` and `fecha_radicacion`: the PQR's clock runs from then."""
    header = "caso;fecha_ingreso;cuenta;linea;cliente;tipificacion;cun;fecha_radicacion"
    path = write_lines(
        tmp_path / "export.csv",
        [
            header,
            "P1;15/07/2026 14:30;801;Hogar;Ana;PQR;4436-26-0000000007;14/07/2026 10:00",
            "P2;15/07/2026 14:30;802;Hogar;Ana;PQR;4436-26-0000000008;",  # filed as it came in
            "P3;15/07/2026 14:30;803;Hogar;Ana;PQR;;14/07/2026 10:00",
            "P4;15/07/2026 14:30;804;Hogar;Ana;PQR;CUN-X;",
            "P5;15/07/2026 14:30;805;Hogar;Ana;PQR;4436-26-0000000009;ayer",
        ],
    )
    items = read_all(path)
    [p1, p2] = records(items)
    assert (p1.cun, p1.filed_at) == ("4436-26-0000000007", utc(2026, 7, 14, 15))
    assert (p2.cun, p2.filed_at) == ("4436-26-0000000008", p2.received_at)
    assert [(r.location, r.field) for r in rejections(items)] == [
        ("export.csv:4", "filed_at"),
        ("export.csv:5", "cun"),
        ("export.csv:6", "filed_at"),
    ]
    assert "a filing time needs its cun" in rejections(items)[0].reason
    assert "6 to 30 digits" in rejections(items)[1].reason


def test_a_json_line_over_128_kib_is_rejected_and_the_others_kept(tmp_path: Path) -> None:
    """Issue: a 10 MB request went through JSON Lines while CSV refused over 128 KiB."""
    row = {"caso": "1", "fecha_ingreso": "2026-07-15", "cuenta": "8", "linea": "hogar",
           "cliente": "Ana", "tipificacion": "T"}  # fmt: skip
    path = tmp_path / "big.jsonl"
    path.write_text(
        json.dumps({**row, "solicitud": "x" * 200_000}) + "\n" + json.dumps(row) + "\n",
        encoding="utf-8",
    )
    big, small = read_all(path)
    assert isinstance(big, RejectedRow)
    assert (big.location, big.reason) == ("big.jsonl:1", "longer than 128 KiB: not a CRM record")
    assert isinstance(small, IntakeRecord)


def test_a_nul_character_is_refused_naming_the_field() -> None:
    from domain.case import decisions
    from domain.errors import InvalidValue
    from domain.values import INTAKE

    with pytest.raises(InvalidValue, match="request: holds a NUL character"):
        decisions.ingest(
            source=SourceKey(Channel.CRM, "K"), received_at=utc(2026, 7, 15), account="8",
            line=LineOfBusiness.HOGAR, customer_name="Ana", typification="T",
            request="Sin\x00servicio", follow_up_at=None, front_agent=None,
            recommended_by=None, actor=INTAKE, at=utc(2026, 7, 15),
        )  # fmt: skip


def test_the_customers_phone_is_read_as_written_and_a_bad_one_rejected_by_name(
    tmp_path: Path,
) -> None:
    path = write_lines(
        tmp_path / "export.csv",
        [
            "Caso;Fecha;Cuenta;Línea;Cliente;Tipificación;Teléfono",
            "CRM-1;01/12/2026 08:00;80012345;Hogar;Ana Peña;Facturación;+57 300 123-4567",
            "CRM-2;01/12/2026 08:00;80012346;Hogar;Luis Gómez;Facturación;",
            "CRM-3;01/12/2026 08:00;80012347;Hogar;Eva Ruiz;Facturación;llamar a la casa",
        ],
    )
    items = read_all(path)
    [first, second] = records(items)
    assert (first.phone, second.phone) == ("+573001234567", None)
    [bad] = rejections(items)
    assert (bad.location, bad.field) == ("export.csv:4", "phone")
    assert "llamar" not in bad.reason  # the cell is not echoed back
    jsonl = tmp_path / "export.jsonl"
    jsonl.write_text(
        '{"caso": "CRM-4", "fecha": "2026-12-01T08:00:00-05:00", "cuenta": "1", '
        '"linea": "movil", "cliente": "Ana", "tipificacion": "T", "celular": 3001234567}\n',
        "utf-8",
    )
    [from_json] = records(read_all(jsonl))
    assert from_json.phone == "3001234567"  # a number in JSON is read as its digits
