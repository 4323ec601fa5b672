"""Processes starting together on a new data folder create its tables once, without failing.

Issue 11 (found by the outbox test's SQLite run): three outboxes starting at once on a new
folder; two created eventsourcing's tracking table together, both recorded its migration row,
and one exited with "storage unavailable: Failed to record tracking for __migration__ 1"
(8 of 10 trials of six processes failed before `schema_lock` covered SQLite; 0 after).
"""

from __future__ import annotations

import multiprocessing
from multiprocessing.synchronize import Barrier
from pathlib import Path

import pytest

from entrypoints.settings import load_settings

PROCESSES = 6
TRIALS = 4


def _open_outbox_position(
    data_dir: str, url: str, barrier: Barrier, answers: multiprocessing.Queue[str]
) -> None:
    from entrypoints.bootstrap import bootstrap, outbox_position

    settings = load_settings(environ={}, data_dir=data_dir, database_url=url)
    barrier.wait()
    try:
        outbox_position(settings).close()
        bootstrap(settings).close()
        answers.put("ok")
    except Exception as error:  # reported to the test, which fails with it
        answers.put(f"{type(error).__name__}: {error}")


@pytest.mark.parametrize(
    "database", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_six_processes_opening_a_new_folder_at_once_all_succeed(
    database: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    context = multiprocessing.get_context("fork")
    for trial in range(TRIALS):
        url = request.getfixturevalue("postgres_url") if database == "postgres" else "sqlite"
        if database == "postgres" and trial:
            break  # one fresh database per test: one trial
        data_dir = str(tmp_path / f"trial-{trial}")
        barrier = context.Barrier(PROCESSES)
        answers: multiprocessing.Queue[str] = context.Queue()
        runs = [
            context.Process(target=_open_outbox_position, args=(data_dir, url, barrier, answers))
            for _ in range(PROCESSES)
        ]
        for run in runs:
            run.start()
        outcomes = [answers.get(timeout=60) for _ in runs]
        for run in runs:
            run.join(timeout=60)
        assert outcomes == ["ok"] * PROCESSES, f"trial {trial}: {outcomes}"
