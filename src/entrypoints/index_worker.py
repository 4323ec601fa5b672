"""The index worker: a process that keeps the case index up with the log during a large import.

A bulk import spends about as long projecting the case index as deciding and appending its
cases. With a worker, the import appends batch n + 1 while the worker projects batch n, on
another core (`application.intake.ingestion.Ingestion` says how the import keeps its decisions right
meanwhile). `ProcessIndexWorker.start` runs

    python -m entrypoints.index_worker

which reads one line of JSON on its standard input (the store's and the index's settings, as
`bootstrap` built them), then catches the case index up with the log, again and again, until
its standard input closes: then it catches up once more (the import has appended its last
batch by then), writes one line of JSON on its standard output (log positions it moved past,
its peak memory) and exits 0. A failure exits 1 with one line on standard error, and the import
catches the index up itself. If the importing process dies, the worker sees its input close,
finishes the index and exits.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import subprocess
import sys
import threading
from collections.abc import Mapping
from pathlib import Path
from typing import IO, Any

from adapters.case_index import open_case_index
from adapters.eventstore.store import EventSourcedCaseStore
from adapters.process_memory import peak_resident_kib
from application.jobs.projection import catch_up

log = logging.getLogger(__name__)

BATCH_EVENTS = 20_000
"""Events projected per transaction at most (two of the import's batches of 10,000)."""
FINISH_SECONDS = 10.0
"""How long `finish` waits for the worker to end once its input is closed. The import has
already waited for the index to reach the log's head (with its own stall watchdog), so the
worker only has to notice and exit; one that does not is killed."""
IDLE_SECONDS = 0.005
"""How long the worker waits for new events when it has caught up."""
SOURCE_ROOT = Path(__file__).resolve().parents[1]
"""The folder that holds this project's packages, put on the worker's import path."""


class ProcessIndexWorker:
    """Implements `application.ports.cases.IndexWorker` with a child process."""

    def __init__(self, process: subprocess.Popen[bytes]) -> None:
        self.process = process
        self.summary: dict[str, Any] = {}
        """After a successful `finish`: `projected` (log positions the worker moved the index
        past) and `peak_rss_kib` (its peak resident memory; 0 where unknown)."""

    @classmethod
    def start(cls, config: Mapping[str, Mapping[str, str]]) -> ProcessIndexWorker | None:
        """Start a worker for these settings (`{"store": env, "index": env}`); None when the
        process cannot be started (the import then projects its batches itself)."""
        environment = dict(os.environ)
        paths = [str(SOURCE_ROOT), *filter(None, [environment.get("PYTHONPATH")])]
        environment["PYTHONPATH"] = os.pathsep.join(paths)
        try:
            process = subprocess.Popen(
                # -P: nothing from the current folder on the import path (an export folder
                # holding a `json.py` must not be imported by the worker).
                [sys.executable, "-P", "-m", "entrypoints.index_worker"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                env=environment,
            )
        except OSError as error:
            log.warning("index worker not started (%s): the import projects its batches", error)
            return None
        stdin: IO[bytes] | None = process.stdin
        assert stdin is not None
        try:
            stdin.write(json.dumps(config).encode() + b"\n")
            stdin.flush()
        except OSError:
            pass  # it died at once: `alive()` says so, `finish()` reports why
        return cls(process)

    def alive(self) -> bool:
        return self.process.poll() is None

    def finish(self) -> bool:
        return self._ended(FINISH_SECONDS)  # its input closes: it catches up and exits

    def stop(self, why: str = "") -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.communicate()
            if why:
                log.warning("index worker stopped (%s); the import catches the index up", why)
            return
        self._ended()  # it had ended on its own: say why, if it failed

    def _ended(self, timeout: float | None = None) -> bool:
        try:
            output, errors = self.process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.stop(f"it did not end within {timeout:g} s of the last batch")
            return False
        if self.process.returncode == 0:
            with contextlib.suppress(ValueError, IndexError):  # a summary, not a result
                self.summary = json.loads(output.decode(errors="replace").splitlines()[-1])
            return True
        reason = errors.decode(errors="replace").strip().splitlines()[-1:] or ["no message"]
        log.warning(
            "index worker failed (exit %s: %s); the import catches the index up itself",
            self.process.returncode,
            reason[0],
        )
        return False


def follow(config: Mapping[str, Any], finished: threading.Event) -> int:
    """Catch the index up until `finished` is set, then once more; returns how many log
    positions the index moved past."""
    projected = 0
    store = EventSourcedCaseStore(config["store"])
    try:
        index = open_case_index(config["index"])
        try:
            while True:
                finishing = finished.is_set()  # set before this pass: the log is complete
                moved = catch_up(store, index, BATCH_EVENTS)
                projected += moved
                if finishing:
                    return projected
                if not moved:
                    finished.wait(IDLE_SECONDS)
        finally:
            index.close()
    finally:
        store.close()


def main() -> int:
    config = json.loads(sys.stdin.readline())
    finished = threading.Event()

    def wait_for_end_of_input() -> None:
        sys.stdin.read()
        finished.set()

    threading.Thread(target=wait_for_end_of_input, daemon=True).start()
    try:
        projected = follow(config, finished)
    except Exception as error:  # one line for the importing process; the log stays the truth
        print(f"{type(error).__name__}: {error}", file=sys.stderr)
        return 1
    print(json.dumps({"projected": projected, "peak_rss_kib": peak_resident_kib()}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
