"""The readers of the outside tables (surveys, monitorings, the roster, shifts, practices):
the same row handling as the CRM reader, whatever the file does."""

from __future__ import annotations

import csv
from pathlib import Path

from adapters.intake.surveys import table_rows
from application.intake.records import RejectedRow

ALIASES = {"caso": "case", "case": "case", "nota": "note", "comentario": "note"}
REQUIRED = ("case",)


def rows(path: Path) -> list[tuple[str, dict[str, str]] | RejectedRow]:
    return list(table_rows(path, ALIASES, REQUIRED))


def test_a_row_is_placed_at_the_line_it_starts_on_even_after_a_quoted_cell_spans_lines(
    tmp_path: Path,
) -> None:
    export = tmp_path / "t.csv"
    export.write_text('caso;nota\nA;"dos\nlíneas"\nB;x\n;falta\n', encoding="utf-8")
    first, second, third = rows(export)
    assert first == ("t.csv:2", {"case": "A", "note": "dos\nlíneas"})
    assert second == ("t.csv:4", {"case": "B", "note": "x"})
    assert isinstance(third, RejectedRow)
    assert (third.location, third.field) == ("t.csv:5", "case")


def test_of_two_columns_for_one_field_the_first_counts_in_csv_as_in_json(tmp_path: Path) -> None:
    table = tmp_path / "t.csv"
    table.write_text("caso;nota;comentario\nA;primera;segunda\n", encoding="utf-8")
    lines = tmp_path / "t.jsonl"
    lines.write_text('{"caso": "A", "nota": "primera", "comentario": "segunda"}\n')
    assert rows(table) == [("t.csv:2", {"case": "A", "note": "primera"})]
    assert rows(lines) == [("t.jsonl:1", {"case": "A", "note": "primera"})]


def test_a_json_lines_file_may_start_with_a_byte_order_mark(tmp_path: Path) -> None:
    lines = tmp_path / "t.jsonl"
    lines.write_bytes(b'\xef\xbb\xbf{"caso": "A"}\n{"caso": "B"}\n')
    assert rows(lines) == [("t.jsonl:1", {"case": "A"}), ("t.jsonl:2", {"case": "B"})]


def test_an_unreadable_row_is_rejected_and_the_rest_read_on(tmp_path: Path) -> None:
    export = tmp_path / "t.csv"
    export.write_text(f"caso;nota\nA;{'x' * 200}\nB;y\n", encoding="utf-8")
    limit = csv.field_size_limit(100)  # a cell over the limit, as an unclosed quote makes one
    try:
        bad, good = rows(export)
    finally:
        csv.field_size_limit(limit)
    assert isinstance(bad, RejectedRow)
    assert bad.location == "t.csv:2"
    assert "unreadable" in bad.reason
    assert good == ("t.csv:3", {"case": "B", "note": "y"})
