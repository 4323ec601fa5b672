"""An import with an index worker ends exactly where the same import without one ends.

With a worker the import does not project its batches: the worker does, while the import
decides the next batch, and the import remembers the open cases it created until the index
shows them. Checked with a fake worker that lags as far as the import lets it (in memory, any
records, Hypothesis), then with the real worker process on SQLite and PostgreSQL: failures,
interruptions and the settings that turn it off.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.clock import FixedClock
from application.ingestion import IngestReport
from application.intake import IntakeRecord
from application.ports import CaseQuery
from application.service import Backoffice
from domain.values import Actor, Category, Resolution, Subcategory
from entrypoints.bootstrap import bootstrap
from entrypoints.index_worker import ProcessIndexWorker
from entrypoints.settings import SettingsError, load_settings
from tests.conftest import T0, _admin, record

AGENT = Actor.agent("maria.b")


class LaggingWorker:
    """A worker in the same process that projects only when the import waits for it (a few
    events per look), and the rest when told to finish; or one that dies after `lives`."""

    def __init__(self, office: Backoffice, step: int = 2, lives: int | None = None) -> None:
        self.office = office
        self.step = step
        self.lives = lives
        self.looks = 0
        self.stopped = False
        self.finished = False

    def alive(self) -> bool:
        self.looks += 1
        if self.lives is not None and self.looks > self.lives:
            return False
        index = self.office.index
        batch = self.office.store.read_log(index.position(), self.step)
        if batch:
            index.project(batch)
        return True

    def finish(self) -> bool:
        if self.lives is not None and self.looks > self.lives:
            return False
        self.finished = True
        return True  # the import's own last catch-up projects what is left

    def stop(self) -> None:
        self.stopped = True


def memory_office(clock: FixedClock) -> Backoffice:
    settings = load_settings(environ={}, data_dir="unused", database_url="memory")
    return bootstrap(settings, clock=clock)


def snapshot(office: Backoffice, report: IngestReport, keys: Sequence[str]) -> dict[str, Any]:
    """What an import leaves: its counts, every event, the index's cases and keys."""
    assert office.index.position() == office.store.last_position()
    logged = office.store.read_log(0, 1_000_000)
    return {
        "report": (
            report.read,
            report.created,
            report.repeat_contacts,
            report.already_known,
            report.rejected_count,
        ),
        "events": {(e.event.originator_id, e.event.originator_version): e.event for e in logged},
        "cases": sorted(office.cases(CaseQuery(limit=10_000)), key=lambda c: c.case_id),
        "keys": {key: office.index.find_by_source_key(key) for key in keys},
    }


def records_from(rows: Sequence[tuple[int, int, int]]) -> list[IntakeRecord]:
    return [
        record(f"K{key}", account=f"ACC-{account}", typification=f"T{typification}")
        for key, account, typification in rows
    ]


_row = st.tuples(st.integers(0, 30), st.integers(0, 2), st.integers(0, 1))
"""(key, account, typification): few accounts and keys, so repeats and re-sent rows abound."""


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    before=st.lists(_row, max_size=8),
    rows=st.lists(_row, min_size=1, max_size=40),
    batch_size=st.integers(1, 6),
    step=st.integers(1, 5),
    lives=st.none() | st.integers(0, 6),
)
def test_an_import_with_a_lagging_worker_ends_where_one_without_a_worker_ends(
    before: list[tuple[int, int, int]],
    rows: list[tuple[int, int, int]],
    batch_size: int,
    step: int,
    lives: int | None,
) -> None:
    keys = sorted({f"K{key}" for key, _, _ in before + rows})
    results = []
    workers: list[LaggingWorker] = []
    for with_worker in (False, True):
        with memory_office(FixedClock(T0)) as office:
            office.ingest(records_from(before))  # cases open before this run
            if with_worker:
                office.index_worker = lambda o=office: _keep(
                    workers, LaggingWorker(o, step=step, lives=lives)
                )
            report = office.ingest(records_from(rows), batch_size=batch_size)
            results.append(snapshot(office, report, keys))
    assert results[0] == results[1]
    if len(rows) > batch_size:  # a second batch: the worker was started, then let go
        assert len(workers) == 1
        assert workers[0].finished or workers[0].looks > (lives or 0)
    else:
        assert workers == []


def _keep(workers: list[LaggingWorker], worker: LaggingWorker) -> LaggingWorker:
    workers.append(worker)
    return worker


def test_a_case_closed_during_the_import_is_not_given_the_next_repeat_contact(
    clock: FixedClock,
) -> None:
    # K1 opens a case in the first batch; before the second batch an agent closes it (the
    # index has not seen K1 yet: the worker lags). K2, same account and typification, must
    # open a case of its own, as it would without a worker.
    outcomes = []
    for with_worker in (False, True):
        with memory_office(clock) as office:
            if with_worker:
                office.index_worker = lambda o=office: LaggingWorker(o, step=1)

            def rows(o: Backoffice = office) -> Iterator[IntakeRecord]:
                yield record("K1", account="777")
                yield record("K0", account="000")
                _close(o, record("K1").source.case_id())
                yield record("K2", account="777")
                yield record("K3", account="777")

            report = office.ingest(rows(), batch_size=2)
            assert (report.created, report.repeat_contacts) == (3, 1)
            assert office.case("K3").case_id == office.case("K2").case_id
            outcomes.append(snapshot(office, report, ["K0", "K1", "K2", "K3"]))
    assert outcomes[0] == outcomes[1]


def _close(office: Backoffice, case: uuid.UUID) -> None:
    for _ in office.case(case).pending_follow_ups:
        office.complete_follow_up(case, outcome="llamada hecha", actor=AGENT)
    office.interpret(case, category=Category.SAC, subcategory=Subcategory.CARTERA, actor=AGENT)
    office.typify(case, marking_code="M-1", resolution=Resolution.FIRST_CONTACT, actor=AGENT)
    office.complete_closing_protocol(
        case,
        resolution_explained=True,
        nothing_else_pending=True,
        closing_script_read=True,
        survey_invited=True,
        actor=AGENT,
    )
    office.close_case(case, summary="resuelto", actor=AGENT)


# --- the real worker process ------------------------------------------------------------------


def _rows_for_processes() -> list[IntakeRecord]:
    """300 rows over 60 accounts: repeat contacts within and across batches, a few re-sent."""
    rows = [record(f"R{i}", account=f"ACC-{i % 60}", typification=f"T{i % 2}") for i in range(300)]
    return rows + rows[:7]


def _office(url: str, data_dir: Path, clock: FixedClock, worker: str) -> Backoffice:
    settings = load_settings(
        environ={}, data_dir=str(data_dir), database_url=url, index_worker=worker
    )
    return bootstrap(settings, clock=clock)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def two_urls(request: pytest.FixtureRequest) -> tuple[str, str]:
    """Two empty stores of one backend: one imported with the worker, one without."""
    if request.param == "sqlite":
        return "sqlite", "sqlite"
    first: str = request.getfixturevalue("postgres_url")
    second: str = request.getfixturevalue("second_postgres_url")
    return first, second


@pytest.fixture
def second_postgres_url(postgres_url: str) -> Iterator[str]:
    name = f"{postgres_url.rsplit('/', 1)[1]}_b"
    with _admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield postgres_url.rsplit("/", 1)[0] + "/" + name
    finally:
        with _admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_the_worker_process_projects_the_import_and_the_result_is_the_same(
    two_urls: tuple[str, str], tmp_path: Path, clock: FixedClock
) -> None:
    rows = _rows_for_processes()
    keys = sorted({r.source.key for r in rows})
    results = []
    started: list[ProcessIndexWorker] = []
    for url, worker in zip(two_urls, ("on", "off"), strict=True):
        with _office(url, tmp_path / worker, clock, worker) as office:
            if worker == "off":
                assert office.index_worker is None
            else:
                start = office.index_worker
                assert start is not None
                office.index_worker = lambda s=start: _started(started, s())
            report = office.ingest(rows, batch_size=40)
            results.append(snapshot(office, report, keys))
    assert results[0] == results[1]
    assert results[0]["report"] == (307, 60, 240, 7, 0)
    [process] = started
    assert not process.alive()
    # It did the projecting: every position after the import's first batch.
    assert process.summary["projected"] == len(results[0]["events"]) - 40
    assert process.summary["peak_rss_kib"] > 0


def _started(started: list[ProcessIndexWorker], worker: Any) -> Any:
    assert isinstance(worker, ProcessIndexWorker)
    started.append(worker)
    return worker


def test_a_worker_that_fails_leaves_the_projecting_to_the_import(
    tmp_path: Path, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    rows = _rows_for_processes()
    with _office("sqlite", tmp_path / "data", clock, "on") as office:
        broken = {"store": {"PERSISTENCE_MODULE": "no.such.module"}, "index": {}}
        office.index_worker = lambda: ProcessIndexWorker.start(broken)
        with caplog.at_level(logging.WARNING, logger="entrypoints.index_worker"):
            report = office.ingest(rows, batch_size=40)
        assert (report.created, report.repeat_contacts, report.already_known) == (60, 240, 7)
        assert office.index.position() == office.store.last_position()
        assert office.count() == 60
        assert office.resolve("R299") == office.resolve("R59")  # a repeat on R59's case
    [message] = [r.getMessage() for r in caplog.records]
    assert "index worker failed (exit 1:" in message
    assert "no.such.module" in message
    assert "ACC-" not in message  # nothing of the rows in the log


def test_an_interrupted_import_stops_its_worker_and_keeps_what_it_appended(
    tmp_path: Path, clock: FixedClock
) -> None:
    started: list[ProcessIndexWorker] = []
    rows = _rows_for_processes()

    def interrupted() -> Iterator[IntakeRecord]:
        yield from rows[:150]
        raise KeyboardInterrupt

    with _office("sqlite", tmp_path / "data", clock, "on") as office:
        start = office.index_worker
        assert start is not None
        office.index_worker = lambda: _started(started, start())
        with pytest.raises(KeyboardInterrupt):
            office.ingest(interrupted(), batch_size=40)
        [process] = started
        assert not process.alive()
        appended = office.store.last_position()
        assert appended == 120  # three whole batches; the fourth never got to the store
        office.catch_up()
        assert office.count() == 60
    # The rest of the file later: the index and the store agree with a run that never stopped.
    with _office("sqlite", tmp_path / "data", clock, "on") as office:
        again = office.ingest(rows, batch_size=40)
        assert (again.created, again.repeat_contacts, again.already_known) == (0, 180, 127)


def test_the_worker_is_a_setting_and_never_runs_on_the_memory_backend(tmp_path: Path) -> None:
    assert load_settings(environ={}).index_worker is True
    assert load_settings(environ={"BACKOFFICE_INDEX_WORKER": "off"}).index_worker is False
    assert load_settings(environ={"BACKOFFICE_INDEX_WORKER": "Yes"}).index_worker is True
    with pytest.raises(SettingsError, match="index_worker"):
        load_settings(environ={"BACKOFFICE_INDEX_WORKER": "perhaps"})
    memory = load_settings(environ={}, data_dir=str(tmp_path), database_url="memory")
    with bootstrap(memory) as office:
        assert office.index_worker is None
    sqlite = load_settings(environ={}, data_dir=str(tmp_path), database_url="sqlite")
    with bootstrap(sqlite) as office:
        assert office.index_worker is not None
