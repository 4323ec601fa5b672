"""What an agent reads: the notes' text on `case show`, whole values on `history --full`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from entrypoints.cli import main

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "examples" / "crm_export_sample.csv"
LONG = "Cliente indica que el cobro de PPV [partido] no lo reconoce; pide reversión y llamada"


def run(capsys: pytest.CaptureFixture[str], data: Path, *args: str) -> str:
    capsys.readouterr()
    code = main(["--data-dir", str(data), *args])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def test_case_show_gives_the_latest_notes_text_and_history_full_gives_whole_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "data"
    run(capsys, data, "ingest", str(SAMPLE))
    run(capsys, data, "case", "note", "CRM-260001", LONG, "--as", "maria.b")
    shown = run(capsys, data, "case", "show", "CRM-260001")
    assert "agent:maria.b [RR]: Cliente indica" in shown
    assert "[partido]" in shown

    assert LONG not in run(capsys, data, "case", "history", "CRM-260001")  # cut at 60
    assert LONG in run(capsys, data, "case", "history", "CRM-260001", "--full")

    for n in range(24):
        run(capsys, data, "case", "note", "CRM-260001", f"Intento de contacto {n}", "--as",
            "juan.r")  # fmt: skip
    shown = run(capsys, data, "case", "show", "CRM-260001")
    assert "notes (last 20)" in shown
    assert "Intento de contacto 23" in shown
    assert "Intento de contacto 3" not in shown  # 25 notes: the oldest five are in the history
    assert "Intento de contacto 4" in shown


def test_the_case_list_stays_readable_in_80_columns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """In a narrow terminal the list drops channel, line and category (issue 12); every line
    fits and every case keeps its key and its typification whole (wrapped, never cut)."""
    import io

    from rich.console import Console

    from application.ports.cases import CaseQuery
    from entrypoints import render
    from entrypoints.bootstrap import bootstrap
    from entrypoints.settings import load_settings

    data = tmp_path / "data"
    run(capsys, data, "ingest", str(SAMPLE))
    with bootstrap(load_settings(environ={}, data_dir=str(data))) as office:
        rows = office.cases(CaseQuery())
    for width, dropped in ((80, True), (160, False)):
        screen = io.StringIO()
        render.show_summaries(Console(file=screen, width=width), rows, len(rows))
        lines = screen.getvalue().splitlines()
        assert max(len(line) for line in lines) <= width
        assert ("channel" in lines[2]) is not dropped  # title, top rule, header
        text = " ".join(" ".join(lines).split())
        for row in rows:
            assert row.source.key in text
            # wrapped over lines between the borders, never cut short
            assert all(word in text for word in row.typification.split())
        assert "…" not in text


@pytest.mark.parametrize(
    "period",
    [
        ["--from", "0001-01-01", "--to", "0001-01-01"],
        ["--month", "0001-01"],
        ["--week", "9999-W52"],
    ],
)
def test_indicators_for_days_out_of_range_are_refused_not_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], period: list[str]
) -> None:
    """Found by the CLI fuzz: `indicators --from 0001-01-01` raised OverflowError."""
    data = tmp_path / "data"
    run(capsys, data, "ingest", str(SAMPLE))
    assert main(["--data-dir", str(data), "indicators", *period]) == 2
    assert "out of range (years 1900–2199)" in capsys.readouterr().err


def test_an_empty_or_file_data_dir_is_refused(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by a new-user trial: `--data-dir ""` used the current folder and created data
    there; a file given as the folder gave a raw errno."""
    assert main(["--data-dir", "", "cases"]) == 5
    assert capsys.readouterr().err.startswith("error: --data-dir is empty")
    afile = tmp_path / "afile"
    afile.write_text("x", encoding="utf-8")
    assert main(["--data-dir", str(afile), "cases"]) == 5
    assert capsys.readouterr().err.strip() == f"error: {afile} is a file, not a data folder"


def test_a_data_folder_that_cannot_be_made_is_one_line_and_exit_5(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "export.csv"
    export.write_text(
        "caso;fecha;cuenta;linea;cliente;tipificacion\nCRM-1;01/12/2026;1;hogar;Ana;T\n", "utf-8"
    )
    # /proc takes no new folders, not even from root (CI runs as root: chmod would not do).
    assert main(["--data-dir", "/proc/backoffice-prueba", "ingest", str(export)]) == 5
    err = capsys.readouterr().err
    assert err.startswith("error: storage unavailable: ")
    assert "/proc/backoffice-prueba" in err
    assert len(err.strip().splitlines()) == 1


@pytest.mark.postgres
def test_a_misnamed_postgresql_database_is_one_line_and_exit_5(
    postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    misnamed = postgres_url.rsplit("/", 1)[0] + "/no_existe_esta_base"
    for command in (["cases"], ["due"]):
        assert main(["--database-url", misnamed, *command]) == 5
        err = capsys.readouterr().err
        assert err.startswith("error: storage unavailable: ")
        assert 'database "no_existe_esta_base" does not exist' in err
        assert len(err.strip().splitlines()) == 1


@pytest.mark.postgres
def test_a_reading_command_on_an_empty_postgresql_database_creates_nothing(
    postgres_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    import psycopg

    assert main(["--database-url", postgres_url, "cases"]) == 5
    assert "no back-office data in that PostgreSQL database" in capsys.readouterr().err
    with psycopg.connect(postgres_url) as db:
        row = db.execute("SELECT count(*) FROM pg_tables WHERE schemaname = 'public'").fetchone()
    assert row == (0,)


def test_a_version_the_case_does_not_have_is_refused_and_json_or_csv_not_both(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by a new-user trial: `case show K --version 99` showed the case now, and
    `cases --json --csv` gave JSON silently."""
    data = tmp_path / "data"
    run(capsys, data, "ingest", str(SAMPLE))
    assert main(["--data-dir", str(data), "case", "show", "CRM-260002", "--version", "99"]) == 2
    assert "version: the case is at version 1, not 99" in capsys.readouterr().err
    assert main(["--data-dir", str(data), "cases", "--json", "--csv"]) == 2
    assert "give --json or --csv, not both" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("args", "said"),
    [
        (["cases", "--status", "abierto"], "Invalid value for '--status'"),
        (["case", "show"], "Missing argument 'case'"),
        (["nope"], "No such command 'nope'"),
        (["case", "show", "K1", "--version", "abc"], "Invalid value for '--version'"),
    ],
)
def test_a_usage_error_is_one_line_with_where_to_find_help(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], args: list[str], said: str
) -> None:
    """Found by a new-user trial: usage errors were boxes of five or six lines."""
    assert main(["--data-dir", str(tmp_path), *args]) == 2
    err = capsys.readouterr().err
    assert len(err.strip().splitlines()) == 1, err
    assert err.startswith(f"error: {said}")
    assert err.rstrip().endswith("-h)")


def test_the_list_filters_take_any_case_of_their_values(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Found by a new-user trial: `--status Open` and `--line móvil` were refused."""
    data = tmp_path / "data"
    run(capsys, data, "ingest", str(SAMPLE))
    for line in ("Movil", "móvil", "MÓVIL"):
        out = run(capsys, data, "cases", "--status", "OPEN", "--line", line, "--json")
        assert {"CRM-260003", "CRM-260006"} == {row["source"]["key"] for row in json.loads(out)}
    assert main(["--data-dir", str(data), "cases", "--line", "satelital"]) == 2
    assert "--line: 'satelital' is not a line of business" in capsys.readouterr().err
