"""The case index's board reads: the grouped count by agent, the filters' indexes, and those
indexes added to an index written before them (without projecting it again).

The log is the demo's week (`tests/golden/demo_week.json`, as in `test_port_contracts`).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from adapters.case_index import _CaseIndex, _time, open_case_index
from adapters.memory import InMemoryCaseIndex
from adapters.sql_view import dt, ts
from application.ports.cases import CaseIndex, CaseQuery, LoggedEvent
from domain.values import CaseStatus, Category, LineOfBusiness
from entrypoints.settings import load_settings
from tests.integration.test_port_contracts import WEEK

LOGGED = [LoggedEvent(n, e) for n, e in enumerate(WEEK, start=1)]
NEW_INDEXES = ("case_index_agent", "case_index_missed", "case_clocks_kind", "case_clocks_level")
QUERIES = [
    CaseQuery(),
    CaseQuery(status=CaseStatus.OPEN),
    CaseQuery(status=CaseStatus.CLOSED),
    CaseQuery(status=CaseStatus.OPEN, missed=True),
    CaseQuery(waiting=True),
    CaseQuery(warned=True),
    CaseQuery(breached=True),
    CaseQuery(category=Category.SAC),
    CaseQuery(line=LineOfBusiness.MOVIL, limit=1, offset=3),  # limit and offset do not count
    CaseQuery(unassigned=True),  # nobody's cases: an empty count
]


def _env(database: str, tmp_path: Path) -> dict[str, str]:
    if database == "sqlite":
        settings = load_settings(environ={}, data_dir=str(tmp_path), database_url="sqlite")
    else:
        settings = load_settings(environ={}, database_url=database)
    return settings.index_env()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest) -> str:
    if request.param == "postgres":
        return str(request.getfixturevalue("postgres_url"))
    return "sqlite"


@pytest.fixture
def indexes(database: str, tmp_path: Path) -> Iterator[dict[str, CaseIndex]]:
    """The fake and a real index, both with the whole week projected."""
    opened: dict[str, CaseIndex] = {"fake": InMemoryCaseIndex()}
    opened["sql"] = open_case_index(_env(database, tmp_path))
    try:
        for index in opened.values():
            index.project(LOGGED)
        yield opened
    finally:
        for index in opened.values():
            index.close()


def _one_by_one(index: CaseIndex, query: CaseQuery) -> dict[str, int]:
    """The counts as a count per agent gives them (the board's former way)."""
    agents = {s.agent for s in index.search(CaseQuery(limit=10_000)) if s.agent is not None}
    counts = {a: index.count(CaseQuery(**{**_fields(query), "agent": a})) for a in agents}
    return {agent: n for agent, n in counts.items() if n}


def _fields(query: CaseQuery) -> dict[str, Any]:
    return {"status": query.status, "missed": query.missed, "waiting": query.waiting,
            "warned": query.warned, "breached": query.breached, "category": query.category,
            "line": query.line, "unassigned": query.unassigned}  # fmt: skip


def test_the_grouped_count_is_each_agents_count(indexes: dict[str, CaseIndex]) -> None:
    fake, sql = indexes["fake"], indexes["sql"]
    assert sql.count_by_agent(CaseQuery(status=CaseStatus.OPEN)), "the week has open cases"
    for query in QUERIES:
        grouped = sql.count_by_agent(query)
        assert grouped == _one_by_one(sql, query), query
        assert grouped == fake.count_by_agent(query), query
        assert all(n > 0 for n in grouped.values())
        if not query.unassigned:  # every agent's cases, and nobody's, are all of them
            nobody = sql.count(CaseQuery(**{**_fields(query), "unassigned": True}))
            assert sum(grouped.values()) + nobody == sql.count(query), query
    assert sql.count_by_agent(CaseQuery(unassigned=True)) == {}


def test_the_board_filters_answer_alike_combined(indexes: dict[str, CaseIndex]) -> None:
    """The clock filters read from the clocks' indexes, with the other filters beside them."""
    fake, sql = indexes["fake"], indexes["sql"]
    agents = sorted(sql.count_by_agent(CaseQuery()))
    combined = [
        CaseQuery(waiting=True, status=CaseStatus.OPEN),
        CaseQuery(warned=True, breached=True),
        CaseQuery(waiting=True, warned=True),
        CaseQuery(missed=True, waiting=True),
        *(CaseQuery(agent=a, status=CaseStatus.OPEN) for a in agents),
        *(CaseQuery(agent=a, waiting=True) for a in agents),
    ]
    for query in combined:
        assert list(sql.search(query)) == list(fake.search(query)), query
        assert sql.count(query) == fake.count(query), query


def _sqlite_plan(index: _CaseIndex, query: CaseQuery) -> str:
    where, params = index._where(query)
    with index._transaction(commit=False) as c:
        c.execute(f"EXPLAIN QUERY PLAN SELECT case_id FROM case_index {where}", params)
        return " | ".join(str(row["detail"]) for row in c.fetchall())


def test_the_board_filters_read_their_indexes_on_sqlite(tmp_path: Path) -> None:
    index = open_case_index(_env("sqlite", tmp_path))
    try:
        plans = {
            "agent": _sqlite_plan(index, CaseQuery(agent="maria.b", status=CaseStatus.OPEN)),
            "nobody": _sqlite_plan(index, CaseQuery(unassigned=True, status=CaseStatus.OPEN)),
            "missed": _sqlite_plan(index, CaseQuery(missed=True, status=CaseStatus.OPEN)),
            "waiting": _sqlite_plan(index, CaseQuery(waiting=True, status=CaseStatus.OPEN)),
            "warned": _sqlite_plan(index, CaseQuery(warned=True)),
            "breached": _sqlite_plan(index, CaseQuery(breached=True)),
        }
    finally:
        index.close()
    assert "case_index_agent" in plans["agent"]
    assert "case_index_agent" in plans["nobody"]
    assert "case_index_missed" in plans["missed"]
    assert "case_clocks_kind" in plans["waiting"]
    assert "case_clocks_level" in plans["warned"]
    assert "case_clocks_level" in plans["breached"]
    for name, plan in plans.items():
        assert "SCAN case_index" not in plan, (name, plan)


def _index_names(index: _CaseIndex, postgres: bool) -> set[str]:
    with index._transaction(commit=False) as c:
        if postgres:
            c.execute("SELECT indexname AS name FROM pg_indexes WHERE tablename LIKE 'case_%'")
        else:
            c.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
        return {str(row["name"]) for row in c.fetchall()}


def test_an_index_written_before_gets_the_new_indexes_and_keeps_its_rows(
    database: str, tmp_path: Path
) -> None:
    env = _env(database, tmp_path)
    postgres = database != "sqlite"
    index = open_case_index(env)
    index.project(LOGGED)
    answers = [list(index.search(q)) for q in QUERIES]
    with index._transaction(commit=True) as c:  # as a release before these indexes left it
        for name in NEW_INDEXES:
            c.execute(f"DROP INDEX {name}")
    assert not set(NEW_INDEXES) & _index_names(index, postgres)
    index.close()

    reopened = open_case_index(env)
    try:
        assert set(NEW_INDEXES) <= _index_names(reopened, postgres)
        assert reopened.position() == len(LOGGED)  # not projected again from the first event
        assert [list(reopened.search(q)) for q in QUERIES] == answers
    finally:
        reopened.close()


def test_the_index_reads_its_times_as_the_views_write_them() -> None:
    bogota = timezone(timedelta(hours=-5))
    moments = [datetime(2026, 7, 15, 19, 30, tzinfo=UTC),
               datetime(2026, 12, 31, 23, 59, 59, 999_999, tzinfo=bogota),
               datetime(2026, 2, 28, 0, 0, 0, 1, tzinfo=UTC)]  # fmt: skip
    for moment in moments:
        read = _time(ts(moment))
        assert read == moment == dt(ts(moment))
        assert read.tzinfo is UTC
