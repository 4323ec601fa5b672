"""A CUN is found however the agent writes it (found by a new-user trial).

Claro's CUN comes with dashes (`4436-26-0004512`); an agent reading it out or copying it
from a letter types it bare, spaced or dotted. Given cases with a CUN from the CRM export
and from a typification, when the list is searched with the CUN written any of those ways,
then the case is found; an index written before (shape 3, the CUN kept as written) is
rebuilt at start-up so that old cases are found the same way. On SQLite and PostgreSQL (the
in-memory fake keeps its own search: see the report of this change).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from adapters.case_index import cun_digits
from adapters.clock import FixedClock
from application.ports.cases import CaseQuery
from application.service import Backoffice
from domain.values import Actor, Category, Resolution, Subcategory
from entrypoints.bootstrap import bootstrap
from entrypoints.cli import main
from entrypoints.settings import Settings, load_settings
from tests.conftest import record

AGENT = Actor.agent("maria.b")
SQL_BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=SQL_BACKENDS)
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else "sqlite"
    return load_settings(environ={}, data_dir=str(tmp_path / "data"), database_url=url)


@pytest.fixture(params=[*SQL_BACKENDS, "memory"])
def office(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FixedClock
) -> Iterator[Backoffice]:
    """An office on each SQL backend, and on the in-memory one."""
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else request.param
    chosen = load_settings(environ={}, data_dir=str(tmp_path / "data"), database_url=url)
    with bootstrap(chosen, clock=clock) as office:
        yield office


def found(office: Backoffice, search: str) -> list[str]:
    return sorted(r.source.key for r in office.cases(CaseQuery(search=search)))


def test_cun_digits_keeps_the_digits_of_a_cun_however_written() -> None:
    assert cun_digits("4436-26-0004512") == "4436260004512"
    assert cun_digits(" 4436 26 0004512 ") == "4436260004512"
    assert cun_digits("4436.26.0004512") == "4436260004512"
    assert cun_digits("CUN 4436") is None
    assert cun_digits("--") is None
    assert cun_digits("４４３６") is None  # full-width digits are not a CUN's


def test_a_cun_is_found_with_or_without_its_dashes(office: Backoffice) -> None:
    office.ingest([
        record("CRM-1", cun="4436-26-0004512"),  # filed by the front line, as the CRM wrote it
        record("CRM-2"),
        record("CRM-3", cun="4436-26-0004513"),
    ])  # fmt: skip
    office.interpret("CRM-2", category=Category.PQR, subcategory=Subcategory.QUEJA_RECLAMO,
                     actor=AGENT)  # fmt: skip
    office.typify("CRM-2", marking_code="PQR-1", resolution=Resolution.CUN,
                  cun="4436-26-0009999", actor=AGENT)  # fmt: skip

    for written in ("4436-26-0004512", "4436260004512", "4436 26 0004512", " 4436.26.0004512"):
        assert found(office, written) == ["CRM-1"], written
    for written in ("4436-26-0009999", "4436260009999", "4436 26 0009999"):
        assert found(office, written) == ["CRM-2"], written
    assert found(office, "443626000451") == []  # a digit short: another CUN
    assert found(office, "4436-26") == []  # part of a CUN is not a search by CUN


def test_an_index_of_the_previous_shape_is_rebuilt_and_finds_the_bare_cun(
    settings: Settings, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    with bootstrap(settings, clock=clock) as office:
        office.ingest([record("CRM-1", cun="4436-26-0004512")])
    # As shape 3 left it: the CUN as written, the view's position at the end of the log.
    statements = [
        "UPDATE case_index SET cun = '4436-26-0004512'",
        "UPDATE view_schemas SET version = 3 WHERE view_name = 'case_index'",
    ]
    if settings.backend == "postgres":
        with psycopg.connect(settings.database_url, autocommit=True) as db:
            for statement in statements:
                db.execute(statement)
    else:
        with sqlite3.connect(settings.data_dir / "case_index.sqlite") as lite:
            for statement in statements:
                lite.execute(statement)
    with bootstrap(settings, clock=clock) as office:
        assert "case_index: written by an older release; rebuilding" in caplog.text
        assert found(office, "4436260004512") == ["CRM-1"]
        assert found(office, "4436-26-0004512") == ["CRM-1"]


def test_the_command_line_finds_a_cun_typed_with_spaces(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "export.csv"
    export.write_text(
        "caso;fecha_ingreso;cuenta;linea;cliente;tipificacion;solicitud;cun\n"
        "CRM-C1;01/12/2026 08:00;80012345;hogar;Ana Peña;PQR - queja;Cobro;4436-26-0004512\n"
        "CRM-C2;01/12/2026 08:10;80099999;hogar;Jorge Núñez;Falla;Sin internet;\n",
        encoding="utf-8",
    )
    data = ["--data-dir", str(tmp_path / "data")]
    assert main([*data, "ingest", str(export)]) == 0
    capsys.readouterr()
    assert main([*data, "cases", "--search", "4436 26 0004512", "--csv"]) == 0
    rows = capsys.readouterr().out.splitlines()[1:]
    assert [row.split(",")[0] for row in rows] == ["CRM-C1"]
