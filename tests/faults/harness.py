"""What the fault-injection tests share: `backoffice` in a subprocess under a fixed clock,
SIGKILL at a chosen moment, and snapshots of the log and the case index to compare.

A run's output goes to files (never a pipe that a killed or chatty process could leave
full). Each run starts a session of its own, so that whatever it started (the index worker
of a large import) can be found afterwards and waited for: a child left behind by a killed
parent must end by itself (docs/settings.md: "if the import is interrupted, the worker is
stopped"), and `Started.finish` fails when one is still running 30 s later.

`backoffice` reads no fixed clock from its settings (docs/settings.md), and events carry the
clock's time: `cli_env(target, now)` fixes it through `clock_shim/sitecustomize.py`.
"""

from __future__ import annotations

import contextlib
import itertools
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections import defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import psycopg

from adapters.clock import FixedClock
from application.ports.cases import CaseQuery
from application.service import Backoffice
from domain.case.events import CaseEvent
from entrypoints.bootstrap import bootstrap
from entrypoints.settings import load_settings

SCRIPT = str(Path(sys.executable).parent / "backoffice")
ROOT = Path(__file__).resolve().parents[2]
SHIM = Path(__file__).resolve().parent / "clock_shim"
FAR = datetime(2100, 1, 1, tzinfo=UTC)
POLL_SECONDS = 0.005
ORPHAN_SECONDS = 30.0
"""How long what a killed run started may outlive it (the index worker finishing up)."""

Trigger = Callable[[float], bool]
"""Given the seconds since the run started: whether to kill it now."""


@dataclass(frozen=True)
class Target:
    """Where one back office keeps its data: a data folder, and `sqlite` or a PostgreSQL URL."""

    data_dir: Path
    database: str

    @property
    def backend(self) -> str:
        return "sqlite" if self.database == "sqlite" else "postgres"

    def office(self, now: datetime) -> Backoffice:
        settings = load_settings(
            environ={}, data_dir=str(self.data_dir), database_url=self.database
        )
        return bootstrap(settings, clock=FixedClock(now))


@dataclass(frozen=True)
class Run:
    args: tuple[str, ...]
    returncode: int
    stdout: str
    stderr: str
    seconds: float

    @property
    def killed(self) -> bool:
        return self.returncode == -signal.SIGKILL

    def describe(self) -> str:
        """The command (file paths by their names), how it ended, and its last error line."""
        shown = " ".join(Path(a).name if os.sep in a else a for a in self.args)
        last = self.stderr.strip().splitlines()[-1:] or [""]
        return f"backoffice {shown} -> {self.returncode} after {self.seconds:.2f} s: {last[0]}"


def cli_env(target: Target, now: datetime | None, **extra: str) -> dict[str, str]:
    """The environment of a `backoffice` process for `target`, its clock fixed at `now`.

    The tester's own BACKOFFICE_* variables are left out: only what the test sets counts."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("BACKOFFICE_")}
    env["BACKOFFICE_DATA_DIR"] = str(target.data_dir)
    env["BACKOFFICE_DATABASE_URL"] = target.database
    if now is not None:
        env["BACKOFFICE_FAULTS_NOW"] = now.isoformat()
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SHIM), env.get("PYTHONPATH")]))
    env.update(extra)
    return env


class Started:
    """A `backoffice` process under way, its output going to files in `logs`."""

    numbers = itertools.count(1)

    def __init__(self, args: Sequence[str], env: Mapping[str, str], logs: Path) -> None:
        number = next(Started.numbers)  # atomic: runs may start from several threads
        logs.mkdir(parents=True, exist_ok=True)
        self.args = tuple(args)
        self.out = logs / f"run{number}.out"
        self.err = logs / f"run{number}.err"
        self.began = time.monotonic()
        with self.out.open("w") as out, self.err.open("w") as err:
            self.process = subprocess.Popen(
                [SCRIPT, *args],
                env=dict(env),
                stdout=out,
                stderr=err,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.ended: float | None = None
        threading.Thread(target=self._watch, daemon=True).start()

    def _watch(self) -> None:
        self.process.wait()
        self.ended = time.monotonic()

    def seconds(self) -> float:
        """How long it ran, or has run so far."""
        return (self.ended or time.monotonic()) - self.began

    def finish(self, trigger: Trigger | None = None, timeout: float = 60.0) -> Run:
        """Wait for the process; kill it with SIGKILL as soon as `trigger` says so."""
        process = self.process
        while process.poll() is None:
            elapsed = time.monotonic() - self.began
            if trigger is not None and trigger(elapsed):
                with contextlib.suppress(ProcessLookupError):
                    os.kill(process.pid, signal.SIGKILL)
                break
            if elapsed > timeout:
                end_session(process.pid)
                raise AssertionError(f"backoffice {' '.join(self.args)} ran over {timeout} s")
            time.sleep(POLL_SECONDS)
        returncode = process.wait()
        seconds = time.monotonic() - self.began
        left = wait_for_session(process.pid)
        assert not left, (
            f"processes {left} started by backoffice {' '.join(self.args)} were still running "
            f"{ORPHAN_SECONDS:g} s after it ended (exit {returncode})"
        )
        return Run(self.args, returncode, self.out.read_text(), self.err.read_text(), seconds)


def run(
    args: Sequence[str],
    env: Mapping[str, str],
    logs: Path,
    trigger: Trigger | None = None,
    timeout: float = 60.0,
) -> Run:
    return Started(args, env, logs).finish(trigger, timeout)


def killed_runs(
    args: Sequence[str],
    env: Mapping[str, str],
    logs: Path,
    *,
    kills: int,
    trigger: Callable[[int, float], Trigger],
    measure: Callable[[], int],
    typical: Callable[[], float],
) -> list[tuple[Run, int]]:
    """Run `args` again and again until `kills` runs were killed (a run may end before its
    trigger: at most three times as many runs); each run with what `measure` says after it
    (the log's length). Run n is killed when `trigger(n, seconds)` says: `seconds` is how long
    a run takes, the shortest of `typical()` and the runs that ended by themselves here (once
    everything is done, a run takes less)."""
    runs: list[tuple[Run, int]] = []
    for n in range(3 * kills):
        if sum(r.killed for r, _ in runs) == kills:
            break
        seconds = min([typical(), *(r.seconds for r, _ in runs if not r.killed)])
        done = run(args, env, logs, trigger(n, seconds))
        runs.append((done, measure()))
    return runs


def described(runs: Sequence[tuple[Run, int]], what: str) -> list[str]:
    """For an assertion's message: each run, and `what` its measure is."""
    return [f"{r.describe()} ({what} {n})" for r, n in runs]


def session_members(session: int) -> list[int]:
    """Live (not zombie) processes of a session; an orphan's zombie may never be reaped
    in a container whose first process reaps nobody."""
    members = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2 :].split()
        state, sid = fields[0], int(fields[3])
        if sid == session and state not in ("Z", "X"):
            members.append(int(entry.name))
    return members


def wait_for_session(session: int, seconds: float = ORPHAN_SECONDS) -> list[int]:
    """Wait until nothing of the session runs; what still runs after `seconds` is killed and
    returned."""
    deadline = time.monotonic() + seconds
    while (left := session_members(session)) and time.monotonic() < deadline:
        time.sleep(0.02)
    if left:
        end_session(session)
    return left


def end_session(session: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(session, signal.SIGKILL)


# --- triggers --------------------------------------------------------------------------------


def after(seconds: float) -> Trigger:
    return lambda elapsed: elapsed >= seconds


class LogLength:
    """How many events a target's log holds, read from outside the back office (its table
    may not exist yet). A count, not the newest position: on PostgreSQL a killed transaction
    leaves a gap in the positions."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self._pg: psycopg.Connection[tuple[Any, ...]] | None = None

    def __call__(self) -> int:
        if self.target.backend == "sqlite":
            path = self.target.data_dir / "cases.sqlite"
            if not path.exists():
                return 0
            try:
                with contextlib.closing(sqlite3.connect(path, timeout=5)) as connection:
                    row = connection.execute("SELECT count(*) FROM stored_events").fetchone()
            except sqlite3.OperationalError:  # no table yet
                return 0
            return int(row[0])
        if self._pg is None:
            self._pg = psycopg.connect(self.target.database, autocommit=True)
        try:
            found = self._pg.execute("SELECT count(*) FROM cases_events").fetchone()
        except psycopg.errors.UndefinedTable:
            return 0
        return int(found[0]) if found else 0

    def close(self) -> None:
        if self._pg is not None:
            self._pg.close()

    def reaches(self, length: int, then: float = 0.0) -> Trigger:
        """Kill once the log holds `length` events, `then` seconds after seeing it."""
        seen: list[float] = []

        def trigger(elapsed: float) -> bool:
            if not seen and self() >= length:
                seen.append(elapsed)
            return bool(seen) and elapsed >= seen[0] + then

        return trigger


# --- snapshots -------------------------------------------------------------------------------


def case_events(office: Backoffice) -> dict[uuid.UUID, list[CaseEvent]]:
    """Every case's history from the global log, in version order: all of each event
    (type, case id, version, time, actor and data) counts when two are compared."""
    histories: dict[uuid.UUID, list[CaseEvent]] = defaultdict(list)
    position = 0
    while batch := office.store.read_log(position, 5_000):
        for logged in batch:
            if isinstance(logged.event, CaseEvent):
                histories[logged.event.originator_id].append(logged.event)
        position = batch[-1].position
    for events in histories.values():
        events.sort(key=lambda e: e.originator_version)
    return dict(histories)


def version_problems(histories: Mapping[uuid.UUID, list[CaseEvent]]) -> list[str]:
    """Cases whose versions are not exactly 1, 2, …, n (a gap or a duplicate)."""
    return [
        f"{case_id}: {versions}"
        for case_id, events in histories.items()
        if (versions := [e.originator_version for e in events]) != list(range(1, len(events) + 1))
    ]


def differences(
    expected: Mapping[uuid.UUID, list[CaseEvent]], actual: Mapping[uuid.UUID, list[CaseEvent]]
) -> list[str]:
    """The first few differences between two sets of histories, said readably."""
    found: list[str] = []
    for case_id in sorted(set(expected) | set(actual), key=str):
        mine, theirs = expected.get(case_id, []), actual.get(case_id, [])
        if mine == theirs:
            continue
        for n in range(max(len(mine), len(theirs))):
            a = mine[n] if n < len(mine) else None
            b = theirs[n] if n < len(theirs) else None
            if a != b:
                found.append(f"case {case_id} event {n + 1}: expected {a!r}, got {b!r}")
                break
        if len(found) >= 5:
            break
    return found


Snapshot = tuple[list[Any], list[Any], list[Any], list[Any]]


def index_snapshot(office: Backoffice) -> Snapshot:
    """Everything the case index answers: the case list, due follow-ups, clocks, writes."""
    index = office.index
    return (
        list(index.search(CaseQuery(limit=1_000_000))),
        list(index.due_follow_ups(FAR, 1_000_000)),
        list(index.due_clocks(FAR, 1_000_000)),
        list(index.pending_writes(FAR, 1_000_000)),
    )


def index_and_rebuilt(office: Backoffice) -> tuple[Snapshot, Snapshot]:
    """The case index caught up as the processes left it, and one rebuilt from scratch."""
    office.catch_up()
    assert office.index.position() == office.store.last_position()
    caught_up = index_snapshot(office)
    office.rebuild("cases")
    return caught_up, index_snapshot(office)


@contextlib.contextmanager
def opened(target: Target, now: datetime) -> Iterator[Backoffice]:
    office = target.office(now)
    try:
        yield office
    finally:
        office.close()
