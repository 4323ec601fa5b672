"""The case list's filters and search (issue 12): what a supervisor and an agent look for.

Given cases that are unassigned, with a missed follow-up, waiting for an area, with a clock
warned or breached, when the list is filtered, then each filter gives exactly its cases; the
search finds a case by its key, a repeat contact's key, its account, its CUN, the customer's
phone however written, or part of the customer's name whatever the case and accents. On
memory, SQLite and PostgreSQL; and a case index written by the previous release is rebuilt at
start-up with the new columns.
"""

from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

import psycopg
import pytest

from adapters.clock import FixedClock
from application.ports.cases import CaseQuery
from application.service import Backoffice
from domain.values import Actor, EscalationTarget, Priority
from entrypoints import render
from entrypoints.bootstrap import bootstrap
from entrypoints.cli import main
from entrypoints.settings import load_settings
from tests.conftest import T0, record

AGENT = Actor.agent("maria.b")


def keys(office: Backoffice, **query: object) -> list[str]:
    return sorted(r.source.key for r in office.cases(CaseQuery(**query)))  # type: ignore[arg-type]


def _escalate(office: Backoffice, key: str) -> None:
    office.escalate(key, target=EscalationTarget.CONTACT_MATRIX_AREA, area="Facturación",
                    reason="Cobro no reconocido", priority=Priority.HIGH, actor=AGENT)  # fmt: skip


def test_each_filter_gives_exactly_its_cases(office: Backoffice, clock: FixedClock) -> None:
    office.ingest([
        record("ASSIGNED", account="ACC-1", customer_name="Jorge Núñez", follow_up_at=None),
        record("MISSED", account="ACC-2", customer_name="Ana María Peña",
               follow_up_at=T0 + timedelta(hours=1)),
        record("WAITING", account="ACC-3", customer_name="Luis Pérez", follow_up_at=None),
        record("ADJUSTING", account="ACC-4", customer_name="Sofía Gómez", follow_up_at=None),
    ])  # fmt: skip
    for key in ("ASSIGNED", "WAITING", "ADJUSTING"):
        office.assign(key, agent="maria.b", actor=AGENT)
    _escalate(office, "WAITING")
    office.request_adjustment("ADJUSTING", ticket="DIME-1", actor=AGENT)  # 72 h, warns at 48

    assert keys(office, unassigned=True) == ["MISSED"]
    assert keys(office, waiting=True) == ["WAITING"]
    assert keys(office, missed=True) == keys(office, warned=True) == []
    assert keys(office, breached=True) == []
    clock.advance(timedelta(hours=49))
    office.sweep()  # MISSED's follow-up 48 h past due; the escalation's 24 h gone; 48 h warned

    assert keys(office, missed=True) == ["MISSED"]
    assert keys(office, breached=True) == ["WAITING"]
    assert keys(office, warned=True) == ["ADJUSTING"]
    assert keys(office, waiting=True, breached=True) == ["WAITING"]
    assert keys(office, unassigned=True, missed=True) == ["MISSED"]
    clock.advance(timedelta(hours=24))
    office.sweep()
    assert keys(office, breached=True) == ["ADJUSTING", "WAITING"]
    assert keys(office, warned=True) == []


def test_the_search_finds_a_case_by_key_account_cun_or_part_of_the_name(
    office: Backoffice,
) -> None:
    office.ingest([
        record("CRM-1", customer_name="Ana María Peña", account="80012345",
               phone="+57 300 123 4567"),
        record("CRM-2", customer_name="Jorge Núñez", account="80099999",
               cun="4436-26-0000000042", phone="(601) 555-1234"),
        record("CRM-3", customer_name="Mariana Pérez", account="80012346"),
    ])  # fmt: skip
    office.ingest([record("CRM-1-R", account="80012345", received_at=T0)])  # a repeat contact

    assert keys(office, search="CRM-2") == ["CRM-2"]
    assert keys(office, search="crm:CRM-2") == ["CRM-2"]  # as a case reference is written
    assert keys(office, search="email:CRM-2") == []
    assert keys(office, search=" 80012345 ") == ["CRM-1"]
    assert keys(office, search="4436-26-0000000042") == ["CRM-2"]
    assert keys(office, search="CRM-1-R") == ["CRM-1"]
    assert keys(office, search="maria") == ["CRM-1", "CRM-3"]  # María, Mariana
    assert keys(office, search="PEÑA") == ["CRM-1"]
    assert keys(office, search="ana maría") == ["CRM-1"]
    assert keys(office, search="nunez") == ["CRM-2"]
    assert keys(office, search="ez") == []  # under three letters: keys only
    assert keys(office, search="%") == []  # a wildcard is a character like any other
    assert keys(office, search="_") == []
    # The phone, however it is written: with or without Colombia's code, spaced or dashed.
    assert keys(office, search="3001234567") == ["CRM-1"]
    assert keys(office, search="300-123-4567") == ["CRM-1"]
    assert keys(office, search="+573001234567") == ["CRM-1"]
    assert keys(office, search="0057 300 123 4567") == ["CRM-1"]  # as dialled abroad
    assert keys(office, search="601 555 1234") == ["CRM-2"]
    assert keys(office, search="300123456") == []  # a digit short: another number


OLD_CASE_INDEX = (
    "CREATE TABLE case_index (case_id TEXT PRIMARY KEY, channel TEXT NOT NULL,"
    " source_key TEXT NOT NULL, match_key TEXT NOT NULL, open_key TEXT,"
    " status TEXT NOT NULL, line TEXT NOT NULL, typification TEXT NOT NULL,"
    " agent TEXT, category TEXT, subcategory TEXT, opened_at TEXT NOT NULL,"
    " updated_at TEXT NOT NULL, next_follow_up_at TEXT, version INTEGER NOT NULL)"
)


@pytest.mark.parametrize(
    "database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_an_index_written_by_the_previous_release_is_rebuilt_at_start_up(
    database: str, tmp_path: Path, clock: FixedClock, caplog: pytest.LogCaptureFixture,
    request: pytest.FixtureRequest,
) -> None:  # fmt: skip
    url = request.getfixturevalue("postgres_url") if database == "postgres" else "sqlite"
    settings = load_settings(environ={}, data_dir=str(tmp_path / "data"), database_url=url)
    with bootstrap(settings, clock=clock) as office:
        office.ingest([record("CRM-1", customer_name="Ana Peña"), record("CRM-2")])
    # As the previous release left it: no recorded shapes, the case index without its new
    # columns (empty here: had it been rebuilt, the list would be empty), position at the end.
    statements = ["DROP TABLE view_schemas", "DROP TABLE case_index", OLD_CASE_INDEX]
    if database == "postgres":
        with psycopg.connect(url, autocommit=True) as db:
            for statement in statements:
                db.execute(statement)
    else:
        with sqlite3.connect(tmp_path / "data" / "case_index.sqlite") as lite:
            for statement in statements:
                lite.execute(statement)
    with bootstrap(settings, clock=clock) as office:
        assert "case_index: written by an older release; rebuilding" in caplog.text
        assert keys(office, search="pena") == ["CRM-1"]
        assert keys(office) == ["CRM-1", "CRM-2"]
    caplog.clear()
    with bootstrap(settings, clock=clock) as office:  # rebuilt once, not at every start
        assert "rebuilding" not in caplog.text
        assert keys(office) == ["CRM-1", "CRM-2"]


def test_cases_csv_is_spreadsheet_safe_and_the_search_works_from_the_command_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "export.csv"
    export.write_text(
        "caso;fecha_ingreso;cuenta;linea;cliente;tipificacion;solicitud\n"
        "CRM-C1;01/12/2026 08:00;80012345;hogar;Ana Peña;=cmd|' /C calc'!A0;Cobro\n"
        "CRM-C2;01/12/2026 08:10;80099999;hogar;Jorge Núñez;Falla;Sin internet\n"
        "CRM-C3;01/12/2026 08:20;80099998;hogar;Eva Ruiz;+SUM(A1);Cobro\n"
        "CRM-C4;01/12/2026 08:30;80099997;hogar;Eva Ruiz;-2+3;Cobro\n"
        "CRM-C5;01/12/2026 08:40;80099996;hogar;Eva Ruiz;@cmd;Cobro\n",
        encoding="utf-8",
    )
    data = ["--data-dir", str(tmp_path / "data")]
    assert main([*data, "ingest", str(export)]) == 0
    capsys.readouterr()
    assert main([*data, "cases", "--search", "peña", "--csv"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("case,channel,status,line,typification")
    assert len(lines) == 2
    assert lines[1].startswith("CRM-C1,crm,open,hogar,'=cmd|")
    assert main([*data, "cases", "--search", "eva ruiz", "--csv"]) == 0
    cells = sorted(line.split(",")[4] for line in capsys.readouterr().out.splitlines()[1:])
    assert cells == ["'+SUM(A1)", "'-2+3", "'@cmd"]  # each read as text by a spreadsheet
    assert main([*data, "cases", "--missed", "--csv"]) == 0  # none: the header alone
    assert capsys.readouterr().out.splitlines() == [",".join(render.SUMMARY_COLUMNS)]
    assert main([*data, "cases", "--unassigned", "--json"]) == 0
    assert '"CRM-C2"' in capsys.readouterr().out


def test_opening_a_current_index_writes_nothing(tmp_path: Path, clock: FixedClock) -> None:
    """Found in review: every command, a read too, rewrote `view_schemas` in the SQLite view
    files (a read-only copy could not be opened). Opening views of the current shape now only
    reads them."""
    settings = load_settings(environ={}, data_dir=str(tmp_path / "data"), database_url="sqlite")
    with bootstrap(settings, clock=clock) as office:
        office.ingest([record("CRM-1")])
    views = [tmp_path / "data" / f"{name}.sqlite" for name in ("case_index", "indicators")]
    before = [(v.stat().st_mtime_ns, v.stat().st_size) for v in views]
    for suffix in ("-wal", "-shm"):
        for view in views:
            view.with_name(view.name + suffix).unlink(missing_ok=True)
    with bootstrap(settings, clock=clock) as office:
        assert keys(office) == ["CRM-1"]
    assert [(v.stat().st_mtime_ns, v.stat().st_size) for v in views] == before
