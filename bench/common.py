"""Shared pieces of the benchmark: statistics, the report table, machine facts, SQLite, an
office on SQLite, timing."""

from __future__ import annotations

import json
import math
import os
import platform
import sqlite3
import statistics
import sys
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from importlib.metadata import version
from pathlib import Path
from tempfile import TemporaryDirectory
from typing import Any

from adapters.clock import FixedClock
from adapters.process_memory import peak_resident_kib, resident_kib
from application.intake.records import IntakeRecord
from application.service import Backoffice
from domain.values import Channel, LineOfBusiness, SourceKey
from entrypoints.bootstrap import bootstrap
from entrypoints.settings import load_settings

REPO_ROOT = Path(__file__).resolve().parents[1]

T0 = datetime(2026, 7, 15, 14, 0, tzinfo=UTC)
"""The fixed clock of every benchmark: results do not depend on the day it runs."""

EVENTS_TABLE = (
    "CREATE TABLE IF NOT EXISTS stored_events ("
    "originator_id TEXT, originator_version INTEGER, topic TEXT, state BLOB, "
    "PRIMARY KEY (originator_id, originator_version))"
)
"""The table eventsourcing's SQLite application recorder creates (same shape, same keys)."""
INSERT_EVENT = "INSERT INTO stored_events VALUES (?, ?, ?, ?)"
SELECT_CASE = (
    "SELECT originator_version, topic, state FROM stored_events"
    " WHERE originator_id = ? ORDER BY originator_version"
)
"""A case's rows in order, as the raw sqlite3 baselines read them."""


# --- statistics ------------------------------------------------------------------------------


def timed(action: Callable[[], object]) -> float:
    """Seconds of wall time `action()` takes."""
    started = time.perf_counter()
    action()
    return time.perf_counter() - started


def median(values: Sequence[float]) -> float:
    return statistics.median(values)


def percentile(values: Sequence[float], q: float) -> float:
    """The nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]


# --- formatting ------------------------------------------------------------------------------


def rate(value: float, unit: str = "/s") -> str:
    return f"{value:,.0f} {unit}" if value >= 100 else f"{value:,.1f} {unit}"


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def ratio(value: float) -> str:
    return f"{value:.2f}×"


def mb(kib: float) -> str:
    """KiB (as Linux reports memory) in megabytes of 10^6 bytes."""
    return f"{kib * 1024 / 1e6:,.0f} MB"


def seconds(value: float) -> str:
    return f"{value:,.1f} s"


COST_TARGET = 1.3
"""What a protection may cost, with it over without (parts (g), (i), (j): ≤ 1.3×)."""


def verdict(ok: bool) -> str:
    return "yes" if ok else "**NO**"


# --- the report ------------------------------------------------------------------------------


@dataclass
class Row:
    measure: str
    result: str
    baseline: str = ""
    ratio: str = ""
    target: str = ""
    met: str = ""


@dataclass
class Section:
    title: str
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *args: str) -> None:
        self.rows.append(Row(*args))

    def note(self, text: str) -> None:
        self.notes.append(text)

    def markdown(self) -> str:
        lines = [f"## {self.title}", ""]
        if self.rows:
            lines += [
                "| measure | result | baseline (same run) | ratio | target | met |",
                "|---|---:|---|---:|---|:-:|",
            ]
            lines += [
                f"| {r.measure} | {r.result} | {r.baseline} | {r.ratio} | {r.target} | {r.met} |"
                for r in self.rows
            ]
            lines.append("")
        lines += [f"- {n}" for n in self.notes]
        if self.notes:
            lines.append("")
        return "\n".join(lines)


# --- the machine -----------------------------------------------------------------------------


def _filesystem(path: Path) -> str:
    """The type of the file system holding `path` (from /proc/mounts), or "?"."""
    best, kind = "", "?"
    try:
        with open("/proc/mounts", encoding="utf-8") as mounts:
            for line in mounts:
                parts = line.split()
                if len(parts) >= 3 and str(path).startswith(parts[1]) and len(parts[1]) > len(best):
                    best, kind = parts[1], parts[2]
    except OSError:
        pass
    return kind


def machine(temp_root: Path) -> dict[str, str]:
    probe = sqlite3.connect(":memory:")
    synchronous = probe.execute("PRAGMA synchronous").fetchone()[0]
    probe.close()
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": str(len(os.sched_getaffinity(0))),
        "cpu": _cpu_model(),
        "python": f"{platform.python_implementation()} {sys.version.split()[0]}",
        "eventsourcing": version("eventsourcing"),
        "sqlite": sqlite3.sqlite_version,
        "sqlite default synchronous": {0: "OFF", 1: "NORMAL", 2: "FULL", 3: "EXTRA"}.get(
            synchronous, str(synchronous)
        ),
        "temp dir": f"{temp_root} ({_filesystem(temp_root)})",
    }


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "?"


rss_kib = resident_kib
"""This process's resident set size now (VmRSS), in KiB; 0 when unknown."""
peak_rss_kib = peak_resident_kib
"""This process's peak resident set size (VmHWM), in KiB; 0 when unknown (see
`adapters.process_memory` for why VmHWM)."""


# --- files and SQLite ------------------------------------------------------------------------


@contextmanager
def temp_dir(prefix: str) -> Iterator[Path]:
    """A fresh directory, removed afterwards (with every SQLite file in it)."""
    with TemporaryDirectory(prefix=f"bench-{prefix}-", ignore_cleanup_errors=True) as name:
        yield Path(name)


def connect(path: Path) -> sqlite3.Connection:
    """A raw connection set up as eventsourcing sets up its own: WAL, autocommit, no pragmas.

    Transactions are explicit (`BEGIN` … `COMMIT`), as in eventsourcing's recorders.
    """
    conn = sqlite3.connect(path, isolation_level=None, timeout=30)
    conn.execute("PRAGMA journal_mode=WAL")
    return conn


def file_size(path: Path) -> int:
    """Bytes of an SQLite database with its WAL."""
    total = 0
    for suffix in ("", "-wal"):
        candidate = path.with_name(path.name + suffix)
        if candidate.exists():
            total += candidate.stat().st_size
    return total


def raw_reader(path: Path) -> Callable[[uuid.UUID], int]:
    """The raw baseline of a case's load on the store at `path`: `SELECT_CASE` on a connection
    of its own and `json.loads` of each row (no mapping to events, no fold); its rows' count."""
    conn = sqlite3.connect(path, isolation_level=None)

    def read(case_id: uuid.UUID) -> int:
        rows = conn.execute(SELECT_CASE, (case_id.hex,)).fetchall()
        return len([json.loads(state) for _, _, state in rows])

    return read


def sqlite_office(data_dir: Path, **settings: Any) -> Backoffice:
    """A `Backoffice` on SQLite in `data_dir` (no environment read), at the benchmark's clock
    (`T0`); `settings` are other overrides of `load_settings` (a None one: the default)."""
    overrides = load_settings(environ={}, data_dir=data_dir, database_url="sqlite", **settings)
    return bootstrap(overrides, clock=FixedClock(T0))


def billing_record(prefix: str, i: int, now: datetime) -> IntakeRecord:
    """CRM case number `i` (key `PREFIX-00000i`, its own account): a charge the customer does
    not recognise, received an hour before `now`, its follow-up a day after."""
    return IntakeRecord(
        source=SourceKey(Channel.CRM, f"{prefix}-{i:06d}"),
        received_at=now - timedelta(hours=1),
        account=f"{71_000_000 + i}",
        line=LineOfBusiness.HOGAR,
        customer_name="Cliente de Prueba",
        typification="Facturación - cobro no reconocido",
        request="Cobro no reconocido en la factura",
        follow_up_at=now + timedelta(days=1),
        front_agent="front.bench",
        recommended_by=None,
        location=f"bench:{i}",
    )
