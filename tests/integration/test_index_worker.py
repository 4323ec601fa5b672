"""An import with an index worker ends exactly where the same import without one ends.

With a worker the import does not project its batches: the worker does, while the import
decides the next batch, and the import remembers the open cases it created until the index
shows them. Checked with a fake worker that lags as far as the import lets it (in memory, any
records, other agents closing, reopening and annotating cases between batches, Hypothesis),
then with the real worker process on SQLite and PostgreSQL: failures, stalls, interruptions,
the settings that turn it off.
"""

from __future__ import annotations

import logging
import os
import signal
from collections.abc import Callable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from adapters.clock import FixedClock
from application.intake import ingestion
from application.intake.records import IngestReport, IntakeRecord
from application.ports.cases import CaseQuery
from application.service import Backoffice
from domain.values import Actor, CaseStatus
from entrypoints import index_worker
from entrypoints.bootstrap import bootstrap
from entrypoints.index_worker import ProcessIndexWorker
from entrypoints.settings import SettingsError, load_settings
from tests.conftest import T0, _admin, close_case, record

AGENT = Actor.agent("maria.b")


class LaggingWorker:
    """A worker in the same process that projects only when the import waits for it (a few
    events per look), and the rest when told to finish; or one that dies after `lives`."""

    def __init__(
        self, office: Backoffice, step: int = 2, lives: int | None = None, *, stuck: bool = False
    ) -> None:
        self.office = office
        self.step = step
        self.lives = lives
        self.stuck = stuck
        self.looks = 0
        self.stopped: str | None = None
        self.finished = False

    def alive(self) -> bool:
        self.looks += 1
        if self.lives is not None and self.looks > self.lives:
            return False
        if self.stuck:
            return True  # alive, and never moves the index
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

    def stop(self, why: str = "") -> None:
        self.stopped = why


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


_row = st.tuples(st.integers(0, 20), st.integers(0, 2), st.integers(0, 1))
"""(key, account, typification): few accounts and keys, so repeats and re-sent rows abound."""


_other_work = st.lists(
    st.tuples(st.sampled_from(["close", "reopen", "note"]), st.integers(0, 6)), max_size=3
)
"""What other agents do between two batches: (action, key of the case it is done to)."""


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    before=st.lists(_row, max_size=8),
    rows=st.lists(_row, min_size=1, max_size=40),
    batch_size=st.integers(1, 6),
    step=st.integers(1, 5),
    lives=st.none() | st.integers(0, 6),
    others=st.lists(_other_work, max_size=8),
)
def test_an_import_with_a_lagging_worker_ends_where_one_without_a_worker_ends(
    before: list[tuple[int, int, int]],
    rows: list[tuple[int, int, int]],
    batch_size: int,
    step: int,
    lives: int | None,
    others: list[list[tuple[str, int]]],
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
            items = _with_other_work(office, records_from(rows), batch_size, others)
            report = office.ingest(items, batch_size=batch_size)
            results.append(snapshot(office, report, keys))
    assert results[0] == results[1]
    if len(rows) > batch_size:  # a second batch: the worker was started, then let go
        assert len(workers) == 1
        assert workers[0].finished or workers[0].looks > (lives or 0)
    else:
        assert workers == []


def _with_other_work(
    office: Backoffice,
    records: list[IntakeRecord],
    batch_size: int,
    others: list[list[tuple[str, int]]],
) -> Iterator[IntakeRecord]:
    """The records, with other agents' work done on existing cases after each batch."""
    for start in range(0, len(records), batch_size):
        yield from records[start : start + batch_size]
        work = others[start // batch_size] if start // batch_size < len(others) else []
        for action, key in work:
            case = record(f"K{key}").source.case_id()
            state = office.store.load(case)
            if state is None:
                continue
            closed = state.status is CaseStatus.CLOSED
            if action == "close" and not closed and not state.reopen_count:  # closes once
                close_case(office, case)
            elif action == "reopen" and closed:
                office.reopen(case, reason="el cliente volvió a llamar", actor=AGENT)
            elif action == "note" and not closed:
                office.add_note(case, text="revisado", actor=AGENT)


def _keep(workers: list[LaggingWorker], worker: LaggingWorker) -> LaggingWorker:
    workers.append(worker)
    return worker


def test_a_case_closed_during_the_import_is_not_given_the_next_repeat_contact(
    clock: FixedClock,
) -> None:
    # K1 opens a case in the first batch; before the second batch an agent closes it. K2,
    # same account and typification, must open a case of its own (K3 a repeat contact on it),
    # as without a worker.
    outcomes = []
    for with_worker in (False, True):
        with memory_office(clock) as office:
            if with_worker:
                office.index_worker = lambda o=office: LaggingWorker(o, step=1)

            def rows(o: Backoffice = office) -> Iterator[IntakeRecord]:
                yield record("K1", account="777")
                yield record("K0", account="000")
                close_case(o, record("K1").source.case_id())
                yield record("K2", account="777")
                yield record("K3", account="777")

            report = office.ingest(rows(), batch_size=2)
            assert (report.created, report.repeat_contacts) == (3, 1)
            assert office.case("K3").case_id == office.case("K2").case_id
            outcomes.append(snapshot(office, report, ["K0", "K1", "K2", "K3"]))
    assert outcomes[0] == outcomes[1]


def test_a_case_reopened_between_two_batches_gets_the_next_contact(clock: FixedClock) -> None:
    # K1 (account 777) was closed before the import. Between its second and third batches an
    # agent reopens it; the worker has not projected that yet. K3, same account and
    # typification, is a repeat contact on K1, as without a worker: the import sees that the
    # log holds someone else's events past the index and waits for the index first.
    for with_worker in (False, True):
        with memory_office(clock) as office:
            office.ingest([record("K1", account="777")])
            close_case(office, record("K1").source.case_id())
            if with_worker:
                office.index_worker = lambda o=office: LaggingWorker(o, step=1)

            def rows(o: Backoffice = office) -> Iterator[IntakeRecord]:
                yield from (record("A1", account="1"), record("A2", account="2"))
                yield from (record("A3", account="3"), record("A4", account="4"))
                o.reopen(record("K1").source.case_id(), reason="volvió a llamar", actor=AGENT)
                yield record("K3", account="777")

            report = office.ingest(rows(), batch_size=2)
            assert (report.created, report.repeat_contacts) == (4, 1)
            assert office.resolve("K3") == record("K1").source.case_id()


def test_a_write_by_someone_else_during_the_first_batch_does_not_hide_that_batch(
    clock: FixedClock,
) -> None:
    # Another agent writes between the first batch's catch-up and its append: its events do
    # not follow the index's position, so the import does not project them itself. The
    # worker that takes over must still start from an index that has the first batch.
    outcomes = []
    for with_worker in (False, True):
        with memory_office(clock) as office:
            office.ingest([record("OLD", account="ACC-OLD-1")])
            if with_worker:
                office.index_worker = lambda o=office: LaggingWorker(o, step=1)
            _before_append(
                office,
                partial(office.add_note, record("OLD").source.case_id(), text="n", actor=AGENT),
            )
            rows = [record(f"A{i}", account=f"ACC-{i}") for i in range(4)]
            rows += [record(f"B{i}", account=f"ACC-{i}") for i in range(4)]
            report = office.ingest(rows, batch_size=4)
            assert (report.created, report.repeat_contacts) == (4, 4)
            outcomes.append(snapshot(office, report, [r.source.key for r in rows]))
    assert outcomes[0] == outcomes[1]


def test_contacts_whose_case_closed_under_the_import_share_one_new_case(
    clock: FixedClock,
) -> None:
    # K3 and K4 (account 777), in the import's second batch, are decided as repeat contacts
    # on K1; just before that batch is appended an agent closes K1, so the append conflicts
    # and the careful path finds K1 closed for both: they open one case together (K4 a
    # repeat contact on K3's), with the worker running or without one.
    for with_worker in (False, True):
        workers: list[LaggingWorker] = []
        with memory_office(clock) as office:
            if with_worker:
                office.index_worker = lambda o=office, w=workers: _keep(w, LaggingWorker(o, step=1))
            office.ingest([record("K1", account="777"), record("K2", account="000")])
            k1 = record("K1").source.case_id()
            _before_append(office, partial(close_case, office, k1), at=2)
            rows = [record("X1", account="1"), record("X2", account="2")]
            rows += [record("K3", account="777"), record("K4", account="777")]
            report = office.ingest(rows, batch_size=2)
            assert len(workers) == int(with_worker)
            assert (report.created, report.repeat_contacts) == (3, 1)
            k3 = office.case("K3")
            assert k3.repeat_contacts == (record("K4").source,)
            assert office.resolve("K4") == k3.case_id


def _before_append(office: Backoffice, other_work: Callable[[], object], at: int = 1) -> None:
    """Have another agent's work done just before the `at`-th append from now."""
    append = office.store.append
    calls = [0]

    def append_after_it(events: Any) -> Any:
        calls[0] += 1
        if calls[0] == at:
            other_work()
        return append(events)

    office.store.append = append_after_it  # type: ignore[method-assign]


def test_notes_by_others_do_not_make_the_import_wait_a_closing_does(
    clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    settles = _count_settles(monkeypatch)
    waits_before_the_closing: list[int] = []
    with memory_office(clock) as office:
        office.ingest([record("N1", account="900"), record("N2", account="901")])
        settles.clear()
        office.index_worker = lambda o=office: LaggingWorker(o, step=1)
        rows = records_from([(i, i, 0) for i in range(10, 20)])

        def work(o: Backoffice = office) -> Iterator[IntakeRecord]:
            for start in range(0, len(rows), 2):
                yield from rows[start : start + 2]
                if start < 6:  # after each of the first three batches: notes
                    for key in ("N1", "N2"):
                        o.add_note(record(key).source.case_id(), text="revisado", actor=AGENT)
                elif start == 6:  # after the fourth: a closing
                    waits_before_the_closing.append(len(settles))
                    close_case(o, record("N1").source.case_id())

        report = office.ingest(work(), batch_size=2)
        assert report.created == 10
    assert waits_before_the_closing == [0]
    assert len(settles) == 2  # for the closing, and at the end


def test_a_worker_that_stalls_is_given_up_and_the_import_finishes(
    clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ingestion, "WORKER_STALL_SECONDS", 0.05)
    with memory_office(clock) as office:
        stuck: list[LaggingWorker] = []
        office.index_worker = lambda: _keep(stuck, LaggingWorker(office, stuck=True))
        rows = [record(f"S{i}", account=f"ACC-{i % 3}") for i in range(12)]
        report = office.ingest(rows, batch_size=2)
        assert (report.created, report.repeat_contacts) == (3, 9)
        assert office.index.position() == office.store.last_position()
        [worker] = stuck
        assert worker.stopped is not None
        assert "did not move for 0.05 s" in worker.stopped
        assert not worker.finished


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
    two_urls: tuple[str, str], tmp_path: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    settles = _count_settles(monkeypatch)
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
    assert settles == [1, 1]  # nobody else wrote: each import waited for the log at its end only


def _count_settles(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Every time an import waits for the index to reach the log's head (one entry each; a
    run always does once, at its end)."""
    settles: list[int] = []
    settle = ingestion.Ingestion._settle

    def counted(self: ingestion.Ingestion) -> None:
        settles.append(1)
        settle(self)

    monkeypatch.setattr(ingestion.Ingestion, "_settle", counted)
    return settles


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
        assert process.process.returncode is not None
        assert process.process.returncode < 0  # killed, not finished
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


def test_the_worker_imports_nothing_from_the_current_folder_and_follows_a_relative_data_dir(
    tmp_path: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A folder of exports that happens to hold `orjson.py`; the data folder given relative to
    # it; and a host that changes folder after bootstrapping.
    exports = tmp_path / "exports"
    exports.mkdir()
    for folder in (exports, tmp_path):  # where it bootstraps, where the worker starts
        (folder / "orjson.py").write_text("raise SystemExit('imported from the current folder')\n")
    monkeypatch.chdir(exports)
    started: list[ProcessIndexWorker] = []
    settings = load_settings(environ={}, data_dir="data", database_url="sqlite")
    with bootstrap(settings, clock=clock) as office:
        start = office.index_worker
        assert start is not None
        office.index_worker = lambda: _started(started, start())
        monkeypatch.chdir(tmp_path)
        report = office.ingest(_rows_for_processes(), batch_size=40)
        assert (report.created, report.repeat_contacts, report.already_known) == (60, 240, 7)
    [process] = started
    assert process.process.returncode == 0
    assert process.summary["projected"] > 0  # it did the work, on the import's own files
    assert (exports / "data" / "case_index.sqlite").exists()
    assert not (tmp_path / "data").exists()


def test_a_worker_that_does_not_end_when_told_is_killed(
    tmp_path: Path,
    clock: FixedClock,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    monkeypatch.setattr(index_worker, "FINISH_SECONDS", 0.5)
    started: list[ProcessIndexWorker] = []
    with _office("sqlite", tmp_path / "data", clock, "on") as office:
        start = office.index_worker
        assert start is not None

        def frozen_at_the_end() -> Any:
            worker = start()
            assert isinstance(worker, ProcessIndexWorker)
            finish = worker.finish

            def finish_frozen() -> bool:
                os.kill(worker.process.pid, signal.SIGSTOP)  # it will never read its input
                return finish()

            worker.finish = finish_frozen  # type: ignore[method-assign]
            started.append(worker)
            return worker

        office.index_worker = frozen_at_the_end
        with caplog.at_level(logging.WARNING, logger="entrypoints.index_worker"):
            report = office.ingest(_rows_for_processes(), batch_size=40)
        assert (report.created, report.repeat_contacts, report.already_known) == (60, 240, 7)
        assert office.index.position() == office.store.last_position()
    [worker] = started
    assert worker.process.returncode == -signal.SIGKILL
    assert any("did not end within 0.5 s" in r.getMessage() for r in caplog.records)
