"""Settings that only last as long as a bulk write: SQLite pragmas, the cycle collector."""

from __future__ import annotations

import gc
from pathlib import Path
from typing import Any

from eventsourcing.sqlite import SQLiteDatastore

from adapters.eventstore.sqlite_recorder import BULK_ROWS, BULK_SETTINGS, write_transaction
from application.jobs.projection import collector_paused


def _pragma(datastore: SQLiteDatastore, name: str) -> int:
    with datastore.transaction(commit=False) as c:
        c.execute(f"PRAGMA {name}")
        return int(c.fetchone()[0])


def test_a_large_write_gets_the_bulk_settings_and_the_connection_gets_its_own_back(
    tmp_path: Path,
) -> None:
    datastore = SQLiteDatastore(str(tmp_path / "bulk.sqlite"), pool_size=1, max_overflow=0)
    try:
        before = {name: _pragma(datastore, name) for name in BULK_SETTINGS}
        assert before != BULK_SETTINGS
        with write_transaction(datastore, BULK_ROWS) as c:
            c.execute("CREATE TABLE t (x INTEGER)")
            for name, value in BULK_SETTINGS.items():
                c.execute(f"PRAGMA {name}")
                assert int(c.fetchone()[0]) == value
        assert {name: _pragma(datastore, name) for name in BULK_SETTINGS} == before
        with write_transaction(datastore, BULK_ROWS - 1) as c:
            c.execute("INSERT INTO t VALUES (1)")
            c.execute("PRAGMA cache_size")
            assert int(c.fetchone()[0]) == before["cache_size"]
        with datastore.transaction(commit=False) as c:
            c.execute("SELECT COUNT(*) FROM t")
            assert c.fetchone()[0] == 1  # both transactions committed
    finally:
        datastore.close()


def test_the_collector_is_paused_during_a_run_and_restored_as_it_was() -> None:
    assert gc.isenabled()
    with collector_paused():
        assert not gc.isenabled()
        with collector_paused():  # nested (or concurrent) runs share the pause
            assert not gc.isenabled()
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    try:
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # it was off before: it stays off
    finally:
        gc.enable()


def test_imports_and_catch_ups_run_with_the_collector_paused(tmp_path: Path) -> None:
    from adapters.clock import FixedClock
    from entrypoints.bootstrap import bootstrap
    from entrypoints.settings import load_settings
    from tests.conftest import T0, record

    office = bootstrap(
        load_settings(environ={}, data_dir=str(tmp_path), database_url="sqlite"),
        clock=FixedClock(T0),
    )
    seen: list[bool] = []
    project, append = office.index.project, office.store.append

    def projecting(*args: Any, **kwargs: Any) -> None:
        seen.append(gc.isenabled())
        project(*args, **kwargs)

    def appending(*args: Any, **kwargs: Any) -> Any:
        seen.append(gc.isenabled())
        return append(*args, **kwargs)

    office.index.project = projecting  # type: ignore[method-assign]
    office.store.append = appending  # type: ignore[method-assign]
    try:
        office.ingest([record("G1"), record("G2")])  # appends, projects its batch
        office.index.reset()
        office.catch_up()  # reads the log back and projects it
        assert len(seen) == 3
        assert not any(seen)
        assert gc.isenabled()  # and back on afterwards
    finally:
        office.close()
