"""The ports' contracts: the in-memory fakes answer as the SQLite and PostgreSQL adapters do.

The log is the demo's week (`tests/golden/demo_week.json`: 234 events through intake, the
branches, clocks, the sweep, writes outside, closings, reopenings and the team's imports), then
erasures and corrections of customers' personal data (`PRIVACY`).

- The case store: every implementation (the fake, eventsourcing's memory, SQLite,
  PostgreSQL) appends it in the same batches and gives back the same cases at every version,
  the same histories and pages, the same log by position, kind and bound, and refuses a taken
  version the same way, appending nothing.
- The case index: every implementation projects it (in batches of random sizes) and answers
  a battery of queries (each filter and search, counts, due follow-ups and clocks at several
  moments, pending writes and their pages, keys, open pairs, searches by a name or phone
  erased or corrected) exactly as SQLite does.
"""

from __future__ import annotations

import json
import random
import uuid
from collections.abc import Callable, Iterator, Sequence
from datetime import datetime, timedelta
from functools import partial
from pathlib import Path
from typing import Any

import orjson
import pytest
from eventsourcing.persistence import StoredEvent

from adapters.case_index import open_case_index
from adapters.eventstore.mapper import CaseEventMapper, OrjsonTranscoder
from adapters.eventstore.store import EventSourcedCaseStore
from adapters.memory import InMemoryCaseIndex, InMemoryCaseStore
from application.ports.cases import (
    AnyEvent,
    CaseIndex,
    CaseQuery,
    CaseStore,
    ConcurrencyConflict,
    LoggedEvent,
)
from domain.case.events import (
    CaseEvent,
    Ingested,
    NoteAdded,
    PersonalDataCorrected,
    PersonalDataErased,
)
from domain.case.state import fold
from domain.team.streams import TEAM_EVENT_TYPES
from domain.values import Actor, ActorKind, CaseStatus, Category, LineOfBusiness
from entrypoints.settings import load_settings

GOLDEN = Path(__file__).resolve().parents[1] / "golden" / "demo_week.json"
IMPLEMENTATIONS = ["fake", "memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


def _week() -> list[AnyEvent]:
    mapper = CaseEventMapper(transcoder=OrjsonTranscoder())
    events: list[AnyEvent] = []
    for row in json.loads(GOLDEN.read_text("utf-8"))["events"]:
        stored = StoredEvent(
            originator_id=uuid.UUID(row["stream"]),
            originator_version=row["version"],
            topic=row["topic"],
            state=orjson.dumps(row["data"]),
        )
        events.append(mapper.to_domain_event(stored))
    return events


WEEK = _week()


def _privacy() -> list[AnyEvent]:
    """After the week: two customers erased (one without a phone), one's name and phone
    corrected, another's phone alone."""
    dpo = Actor(ActorKind.SUPERVISOR, "dpo")
    cases = {e.source.key: e.originator_id for e in WEEK if isinstance(e, Ingested)}
    versions = {e.originator_id: e.originator_version for e in WEEK if isinstance(e, CaseEvent)}
    at = max(e.timestamp for e in WEEK) + timedelta(minutes=5)
    events: list[AnyEvent] = []

    def next_version(key: str) -> dict[str, Any]:
        case = cases[key]
        versions[case] += 1
        return {"originator_id": case, "originator_version": versions[case], "actor": dpo}

    for key in ("CRM-260001", "20261128093012.4411@correo.claro.com.co"):
        events.append(
            PersonalDataErased(**next_version(key), timestamp=at, requested_by="REQ", reason="r")
        )
    events.append(
        PersonalDataCorrected(
            **next_version("CRM-260002"), timestamp=at, customer_name="Jorge Núñez Rojas",
            phone="310 123 4567",
        )
    )  # fmt: skip
    events.append(
        PersonalDataCorrected(
            **next_version("CRM-260003"), timestamp=at, customer_name=None, phone="3115550000"
        )
    )
    return events


PRIVACY = _privacy()
LOG = [*WEEK, *PRIVACY]


def _url(name: str, request: pytest.FixtureRequest) -> str:
    return str(request.getfixturevalue("postgres_url")) if name == "postgres" else name


@pytest.fixture(params=IMPLEMENTATIONS)
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[CaseStore]:
    name = request.param
    if name == "fake":
        yield InMemoryCaseStore()
        return
    settings = load_settings(environ={}, data_dir=str(tmp_path), database_url=_url(name, request))
    real = EventSourcedCaseStore(settings.store_env())
    try:
        yield real
    finally:
        real.close()


def _batches(events: Sequence[AnyEvent], seed: int) -> Iterator[Sequence[AnyEvent]]:
    chooser = random.Random(seed)
    start = 0
    while start < len(events):
        size = chooser.randint(1, 40)
        yield events[start : start + size]
        start += size


def test_the_store_gives_back_what_it_was_given(store: CaseStore) -> None:
    positions: list[int] = []
    for batch in _batches(LOG, seed=7):
        logged = store.append(batch)
        assert [entry.event for entry in logged] == list(batch)
        positions += [entry.position for entry in logged]
    assert positions == list(range(1, len(LOG) + 1))
    assert store.last_position() == len(LOG)

    cases = {e.originator_id for e in WEEK if isinstance(e, Ingested)}
    for case_id in sorted(cases):
        mine = [e for e in LOG if isinstance(e, CaseEvent) and e.originator_id == case_id]
        assert list(store.history(case_id)) == mine
        assert list(store.events_of(case_id, after=2)) == mine[2:]
        for version in (1, len(mine) // 2 or 1, len(mine)):
            assert store.load(case_id, version=version) == fold(None, mine[:version])
        assert store.load(case_id) == fold(None, mine)
    assert store.load(uuid.uuid4()) is None
    assert list(store.history(uuid.uuid4())) == []

    everything = store.read_log(0, 10_000)
    assert [(e.position, e.event) for e in everything] == list(enumerate(LOG, start=1))
    assert [e.position for e in store.read_log(10, 5)] == [11, 12, 13, 14, 15]
    assert [e.position for e in store.read_log(10, 100, through=12)] == [11, 12]
    team = store.read_log(0, 10_000, kinds=TEAM_EVENT_TYPES)
    assert team
    assert all(type(e.event) in TEAM_EVENT_TYPES for e in team)
    notes = store.read_log(0, 10_000, kinds=[NoteAdded])
    assert [e.position for e in notes] == [
        n for n, e in enumerate(LOG, start=1) if isinstance(e, NoteAdded)
    ]
    assert store.read_log(0, 10, kinds=[]) == []


def test_the_store_refuses_a_taken_version_and_appends_nothing_of_that_batch(
    store: CaseStore,
) -> None:
    first = [e for e in WEEK if isinstance(e, CaseEvent)][:3]
    store.append([first[0]])
    other = next(
        e for e in WEEK if isinstance(e, Ingested) and e.originator_id != first[0].originator_id
    )
    with pytest.raises(ConcurrencyConflict):
        store.append([other, first[0]])  # the second is taken: neither is appended
    assert store.last_position() == 1
    assert list(store.history(other.originator_id)) == []


# --- the case index ------------------------------------------------------------------------


@pytest.fixture
def indexes(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[dict[str, CaseIndex]]:
    """The fake and the real ones (SQLite; PostgreSQL when the server is there)."""
    opened: dict[str, CaseIndex] = {"fake": InMemoryCaseIndex()}
    opened["sqlite"] = open_case_index(
        load_settings(environ={}, data_dir=str(tmp_path), database_url="sqlite").index_env()
    )
    if request.node.get_closest_marker("postgres") is not None:
        url = str(request.getfixturevalue("postgres_url"))
        opened["postgres"] = open_case_index(
            load_settings(environ={}, database_url=url).index_env()
        )
    try:
        yield opened
    finally:
        for index in opened.values():
            index.close()


def _search(index: CaseIndex, query: CaseQuery) -> Any:
    return list(index.search(query))


def _count(index: CaseIndex, query: CaseQuery) -> Any:
    return index.count(query)


def _due(index: CaseIndex, moment: datetime) -> Any:
    every = list(index.due_follow_ups(moment))
    by_agent = {a: list(index.due_follow_ups(moment, agent=a)) for a in {d.agent for d in every}}
    return every, by_agent


def _clocks(index: CaseIndex, moment: datetime) -> Any:
    return list(index.due_clocks(moment))


def _writes(index: CaseIndex, moment: datetime) -> Any:
    return list(index.pending_writes(moment))


def _key(index: CaseIndex, key: str) -> Any:
    return list(index.find_by_source_key(key))


def _queries(week_start: datetime) -> list[tuple[str, Callable[[CaseIndex], Any]]]:
    queries: list[tuple[str, Callable[[CaseIndex], Any]]] = []
    filters: list[dict[str, Any]] = [
        {}, {"status": CaseStatus.OPEN}, {"status": CaseStatus.CLOSED}, {"agent": "maria.b"},
        {"category": Category.SAC}, {"line": LineOfBusiness.MOVIL}, {"unassigned": True},
        {"missed": True}, {"waiting": True}, {"warned": True}, {"breached": True},
        {"follow_up_due_before": week_start + timedelta(days=2)}, {"limit": 3, "offset": 2},
        {"search": "CRM-260003"}, {"search": "crm:CRM-260003"}, {"search": "80123456"},
        {"search": "pena"}, {"search": "María"}, {"search": "xx"}, {"search": "%"},
        # Erased (CRM-260001, the e-mail's case) or corrected (CRM-260002, CRM-260003):
        {"search": "Ana María Peña"}, {"search": "3008606013"}, {"search": "Martha"},
        {"search": "dato personal"}, {"search": "Jorge Núñez"}, {"search": "rojas"},
        {"search": "3008083975"}, {"search": "3101234567"}, {"search": "3009428753"},
        {"search": "311 555 0000"}, {"search": "Lucía Ibáñez"},
    ]  # fmt: skip
    for f in filters:
        query = CaseQuery(**f)
        queries.append((f"search {f}", partial(_search, query=query)))
        queries.append((f"count {f}", partial(_count, query=query)))
    for hours in (0, 30, 80, 200):
        moment = week_start + timedelta(hours=hours)
        queries.append((f"due at +{hours}h", partial(_due, moment=moment)))
        queries.append((f"clocks at +{hours}h", partial(_clocks, moment=moment)))
        queries.append((f"writes at +{hours}h", partial(_writes, moment=moment)))
    ids = sorted({e.originator_id for e in WEEK if isinstance(e, Ingested)})
    queries.append(("known", lambda i: i.known([*ids, uuid.uuid4()])))
    keys = sorted({e.source.key for e in WEEK if isinstance(e, Ingested)})
    for key in [*keys, "no-such-key"]:
        queries.append((f"key {key}", partial(_key, key=key)))
    pairs = sorted({(e.account, e.typification) for e in WEEK if isinstance(e, Ingested)})
    queries.append(("open pairs", lambda i: i.open_cases_for(pairs)))
    return queries


@pytest.mark.parametrize(
    "backends", ["fake and sqlite", pytest.param("and postgres", marks=pytest.mark.postgres)]
)
def test_every_case_index_answers_as_sqlite_does(
    backends: str, indexes: dict[str, CaseIndex]
) -> None:
    logged = [LoggedEvent(n, e) for n, e in enumerate(LOG, start=1)]
    first = min(e.timestamp for e in WEEK if isinstance(e, CaseEvent))
    checkpoints = {*range(70, len(logged), 20), len(logged)}
    for seed, index in enumerate(indexes.values()):
        done = 0
        for batch in _batches(logged[:60], seed):  # type: ignore[arg-type]
            index.project(batch)  # type: ignore[arg-type]
            done += len(batch)
        assert index.position() == done == 60
    for stop in sorted(checkpoints):
        answers: dict[str, list[Any]] = {}
        for name, index in indexes.items():
            if index.position() < stop:
                index.project(logged[index.position() : stop])
            answers[name] = [query(index) for _, query in _queries(first)]
        names = [name for name, _ in _queries(first)]
        for name, answered in answers.items():
            if name == "sqlite":
                continue  # the reference
            for label, got, want in zip(names, answered, answers["sqlite"], strict=True):
                assert got == want, f"{name} after {stop} events, {label}"
    erased, corrected = "CRM-260001", ("CRM-260002", "CRM-260003")
    expected = {  # what the index says after the erasures and corrections, on every backend
        "Ana María Peña": set(), "3008606013": set(), "Martha": set(),
        "dato personal": {erased, "20261128093012.4411@correo.claro.com.co"},
        "rojas": {corrected[0]}, "3008083975": set(), "3101234567": {corrected[0]},
        "3009428753": set(), "311 555 0000": {corrected[1]}, "Lucía Ibáñez": {corrected[1]},
    }  # fmt: skip
    for name, index in indexes.items():
        for search, keys in expected.items():
            found = {s.source.key for s in index.search(CaseQuery(search=search))}
            assert found == keys, f"{name}: search {search!r}"
    fake = indexes["fake"]
    with pytest.raises(ConcurrencyConflict):
        fake.project(logged[-1:])  # already projected
    fake.reset()
    assert fake.position() == 0
    assert fake.search(CaseQuery()) == []
