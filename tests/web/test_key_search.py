"""A case key is found whatever its letter case: in the console's search box, the API's
`GET /cases?search=`, the CLI's `cases --search` (the same query), and every index (SQLite,
PostgreSQL, in memory), through an index of the folded keys rather than a scan."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest

from adapters.memory import InMemoryCaseIndex
from application.ports.cases import CaseQuery
from entrypoints.cli import main
from tests.conftest import record
from tests.web.conftest import ACCOUNTS, Console


def _keys_found(console: Console) -> list[str]:
    return sorted(set(re.findall(r'href="/console/cases/[^"]+">(CRM-\d+)</a>', console.page)))


def test_the_console_and_the_api_find_a_key_written_in_any_letter_case(console: Console) -> None:
    office = console.office
    # A repeat contact of CRM-1 (same account and typification) under a key of its own.
    office.ingest([record("Crm-Rep-9", account=ACCOUNTS[0], customer_name="Cliente 1")])
    crm1 = console.case_id("CRM-1")
    console.sign_in("sofia.t")
    for written in ("crm-2", "CRM-2", "cRm-2", "crm:crm-2", "CRM:crm-2", "  crm-2 "):
        answer = console.get("/console/cases", q=written)
        assert answer.status_code == 200
        assert _keys_found(console) == ["CRM-2"], written
    console.get("/console/cases", q="CRM-REP-9")
    assert _keys_found(console) == ["CRM-1"]
    console.get("/console/cases", q="email:crm-2")  # another channel's key: not this case
    assert _keys_found(console) == []

    api: Any = console.client
    crm2 = console.case_id("CRM-2")
    for written in ("crm-2", "CRM-2", "Crm:cRM-2"):
        answer = api.get("/cases", params={"search": written})
        assert answer.status_code == 200, answer.text
        assert [row["case_id"] for row in answer.json()] == [crm2], written
    found = api.get("/cases", params={"search": "crm-rep-9"}).json()
    assert [row["case_id"] for row in found] == [crm1]


def test_every_index_folds_the_keys_alike(console: Console) -> None:
    office = console.office
    office.ingest([record("Crm-Rep-9", account=ACCOUNTS[0], customer_name="Cliente 1")])
    memory = InMemoryCaseIndex()
    memory.project(office.store.read_log(0, 10_000))
    for index in (office.index, memory):
        for written, key in (("crm-3", "CRM-3"), ("CRM-3", "CRM-3"), ("CRM-rep-9", "CRM-1")):
            [found] = index.search(CaseQuery(search=written))
            assert found.source.key == key, (index, written)
        assert index.search(CaseQuery(search="crm-33")) == []


def test_the_key_search_reads_the_folded_keys_index_on_sqlite(console: Console) -> None:
    index: Any = console.office.index
    if index.placeholder != "?":  # PostgreSQL plans a few rows with a scan whatever the index
        return
    # A two-letter search (a name search, three letters or more, scans the names anyway).
    where, params = index._where(CaseQuery(search="k7"))
    with index._transaction(commit=False) as c:
        c.execute(f"EXPLAIN QUERY PLAN SELECT case_id FROM case_index {where}", params)
        plan = " | ".join(row["detail"] for row in c.fetchall())
    assert "case_index_key_folded" in plan, plan
    assert "case_keys_folded" in plan, plan
    assert "SCAN case_index" not in plan, plan


def test_the_command_line_finds_a_key_in_any_letter_case(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = tmp_path / "export.csv"
    export.write_text(
        "caso;fecha_ingreso;cuenta;linea;cliente;tipificacion;solicitud\n"
        "CRM-K1;01/12/2026 08:00;80012345;hogar;Ana Peña;Cobro;Cobro doble\n"
        "CRM-K2;01/12/2026 08:10;80099999;hogar;Jorge Núñez;Falla;Sin internet\n",
        encoding="utf-8",
    )
    data = ["--data-dir", str(tmp_path / "data")]
    assert main([*data, "ingest", str(export)]) == 0
    capsys.readouterr()
    for written in ("crm-k2", "CRM-k2", "crm:crm-K2"):
        assert main([*data, "cases", "--search", written, "--csv"]) == 0
        lines = capsys.readouterr().out.splitlines()
        assert [line.split(",")[0] for line in lines[1:]] == ["CRM-K2"], written
