"""Part (b): bulk import of a CRM export made from the NYC Council casework file.

The import (`office.ingest(CrmExportReader(path).items())` on a fresh SQLite data folder, with
the default settings: an index worker process projects the case index beside the import) runs
in a child process, so that its peak memory is not mixed with this process's. Baselines, same
run, same file: reading the export without storing anything, raw sqlite3 inserting as many
rows of the same stored JSON in one transaction, and the same import without the worker.
"""

from __future__ import annotations

import json
import random
import resource
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from adapters.eventstore.mapper import TOPICS, event_payload
from adapters.intake.crm_export import CrmExportReader
from application.intake.records import IntakeRecord
from bench import nyc
from bench.commands import ingested_event, stored_state
from bench.common import (
    EVENTS_TABLE,
    INSERT_EVENT,
    REPO_ROOT,
    Section,
    connect,
    mb,
    peak_rss_kib,
    rate,
    ratio,
    seconds,
    verdict,
)
from domain.case.events import Ingested

QUICK_ROWS = 30_000
PROFILE_ROWS = 30_000
PROFILE_TOP = 15
TARGET_RATE = 20_000
TARGET_RSS_BYTES = 300e6
PAYLOAD_SAMPLES = 1_000


@dataclass
class ChildRun:
    result: dict[str, Any]
    rusage_kib: int
    """`getrusage(RUSAGE_CHILDREN).ru_maxrss` after the child ended."""
    parent_peak_kib: int
    """This process's peak resident memory (VmHWM) when it started the child."""


def run_child(
    export: Path, data_dir: Path, profile: int = 0, *, index_worker: str = "on"
) -> ChildRun:
    command = [sys.executable, "-m", "bench.import_child", str(export), str(data_dir)]
    command += ["--index-worker", index_worker]
    if profile:
        command += ["--profile", str(profile)]
    parent = peak_rss_kib()
    done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"the import child failed ({done.returncode}):\n{done.stderr}")
    usage = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return ChildRun(json.loads(done.stdout.splitlines()[-1]), usage, parent)


ALTERNATED = 3
"""Imports each way in `rates_on_and_off`."""


def rates_on_and_off(export: Path, root: Path, option: str) -> tuple[float, float]:
    """The import's speed (cases read per second) with `option` (an `import_child` switch:
    `--chain`, `--encryption`, `--personal`) on and off: `ALTERNATED` child processes each
    way, alternated, the fastest of each (one run each way, always in the same order, moved
    by up to 0.3x from run to run on this shared machine)."""
    best = {"on": 0.0, "off": 0.0}
    for n, mode in enumerate(("on", "off") * ALTERNATED):
        command = [sys.executable, "-m", "bench.import_child", str(export)]
        command += [str(root / f"import_{mode}_{n}"), option, mode]
        done = subprocess.run(command, cwd=REPO_ROOT, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise RuntimeError(f"the import child failed ({done.returncode}):\n{done.stderr}")
        result = json.loads(done.stdout.splitlines()[-1])
        best[mode] = max(best[mode], result["read"] / result["seconds"])
    return best["on"], best["off"]


def cost_row(
    section: Section, root: Path, quick: bool, source: Path, option: str, words: str, target: float
) -> None:
    """The import's row of a part comparing an `import_child` switch on and off
    (`rates_on_and_off`), on the NYC export converted (part (b)'s rows when `quick`)."""
    if not source.exists():
        section.note(f"import skipped: {source} does not exist")
        return
    export = nyc.convert(source, root / "crm_export.csv", QUICK_ROWS if quick else None)
    on, off = rates_on_and_off(export.path, root, option)
    section.add(
        f"bulk import, cases read/s, {words} (time ratio; best of {ALTERNATED})",
        rate(on),
        rate(off),
        ratio(off / on),
        f"≤ {target}×",
        verdict(off / on <= target),
    )


def parse_only(export: Path) -> tuple[float, int, int]:
    """Seconds to read every item of the export, and the records and rejections read."""
    records = rejected = 0
    started = time.perf_counter()
    for item in CrmExportReader(export).items():
        if isinstance(item, IntakeRecord):
            records += 1
        else:
            rejected += 1
    return time.perf_counter() - started, records, rejected


def raw_insert(export: Path, database: Path, count: int) -> float:
    """Seconds for raw sqlite3 to insert `count` rows of the app's stored JSON, one transaction.

    The payloads are the application's own stored JSON for the export's first records
    (recycled); ids are random, as the application's uuid5 case ids are.
    """
    samples: list[bytes] = []
    for item in CrmExportReader(export).items():
        if isinstance(item, IntakeRecord):
            samples.append(stored_state(event_payload(ingested_event(item))))
            if len(samples) == PAYLOAD_SAMPLES:
                break
    topic = TOPICS[Ingested]
    rng = random.Random(42)

    def rows() -> Iterator[tuple[str, int, str, bytes]]:
        for i in range(count):
            yield f"{rng.getrandbits(128):032x}", 1, topic, samples[i % len(samples)]

    conn = connect(database)
    try:
        conn.execute(EVENTS_TABLE)
        started = time.perf_counter()
        conn.execute("BEGIN")
        conn.executemany(INSERT_EVENT, rows())
        conn.execute("COMMIT")
        return time.perf_counter() - started
    finally:
        conn.close()


def run(root: Path, quick: bool, source: Path, profile: bool) -> tuple[Section, str | None]:
    section = Section("(b) Bulk import of a CRM export (NYC Council casework as CRM rows)")
    if not source.exists():
        message = f"skipped: {source} does not exist (pass --nyc PATH to use another copy)"
        print(f"part (b) {message}", file=sys.stderr)
        section.note(message)
        return section, None

    limit = QUICK_ROWS if quick else None
    started = time.perf_counter()
    conversion = nyc.convert(source, root / "crm_export.csv", limit)
    converted = time.perf_counter() - started
    export = conversion.path

    child = run_child(export, root / "import")
    result = child.result
    app_rate = result["read"] / result["seconds"]
    alone = run_child(export, root / "import_alone", index_worker="off").result
    alone_rate = alone["read"] / alone["seconds"]

    # The same rows, every account distinct: the import only creates cases.
    distinct = nyc.convert(
        source, root / "crm_export_distinct.csv", limit, distinct_accounts=True
    ).path
    create_only = run_child(distinct, root / "import_distinct").result
    create_rate = create_only["read"] / create_only["seconds"]

    parse_seconds, parsed, parse_rejected = parse_only(export)
    parse_rate = (parsed + parse_rejected) / parse_seconds
    insert_seconds = raw_insert(export, root / "raw_insert.sqlite", result["read"])
    insert_rate = result["read"] / insert_seconds
    floor_rate = 1 / (1 / parse_rate + 1 / insert_rate)

    section.add(
        "application ingest: cases read/s",
        rate(app_rate),
        f"read only: {rate(parse_rate)}",
        ratio(app_rate / parse_rate),
        f"≥ {TARGET_RATE:,}/s",
        verdict(app_rate >= TARGET_RATE),
    )
    section.add(
        "same import without the index worker (it projects each batch itself): cases read/s",
        rate(alone_rate),
        f"read only: {rate(parse_rate)}",
        ratio(alone_rate / parse_rate),
    )
    section.add(
        "application ingest, with / without the index worker",
        rate(app_rate),
        rate(alone_rate),
        ratio(app_rate / alone_rate),
    )
    section.add(
        "application ingest vs raw sqlite3 insert (1 transaction)",
        rate(app_rate),
        rate(insert_rate),
        ratio(app_rate / insert_rate),
    )
    section.add(
        "application ingest vs read + raw insert (serial floor)",
        rate(app_rate),
        rate(floor_rate),
        ratio(app_rate / floor_rate),
    )
    section.add("application ingest: wall time", seconds(result["seconds"]))
    section.add(
        "same rows, every account distinct (no repeat contacts): cases read/s",
        rate(create_rate),
        f"read only: {rate(parse_rate)}",
        ratio(create_rate / parse_rate),
        f"≥ {TARGET_RATE:,}/s",
        verdict(create_rate >= TARGET_RATE),
    )
    section.add(
        "same rows, every account distinct: wall time / created",
        f"{seconds(create_only['seconds'])} / {create_only['created']:,}",
    )

    peak_kib, how = _peak(child)
    worker_kib = _worker_peak(result)
    section.add(
        "peak RSS: import process + index worker",
        f"{mb(peak_kib)} + {mb(worker_kib)} = {mb(peak_kib + worker_kib)}",
        f"parent's peak at spawn: {mb(child.parent_peak_kib)}",
        "",
        "< 300 MB (341k rows)",
        verdict((peak_kib + worker_kib) * 1024 < TARGET_RSS_BYTES)
        + ("" if limit is None else f" ({conversion.rows:,} rows)"),
    )
    section.add(
        "peak RSS of the import without the worker",
        mb(int(alone["peak_rss_kib"])),
    )
    section.add(
        "rows in the export / read / created / repeat contacts / already known / rejected",
        " / ".join(
            f"{n:,}"
            for n in (
                conversion.rows,
                result["read"],
                result["created"],
                result["repeat_contacts"],
                result["already_known"],
                result["rejected"],
            )
        ),
    )
    section.note(
        f"Source: {source} ({'first ' + format(conversion.rows, ',') if limit else 'all'} rows); "
        f"converted to a CRM export CSV in {converted:.1f} s. Mapping: {nyc.MAPPING}"
    )
    section.note(nyc.ACCOUNT_CHOICE)
    section.note(
        "'every account distinct': the same export with `account` = office + `unique_key`, "
        "imported by a second child on a fresh data folder; it isolates the create path from "
        "the repeat contacts (each batch rebuilds every case it repeats on, once)."
    )
    section.note(
        f"Peak RSS: {how}. The child's own VmHWM: {mb(result['peak_rss_kib'])}; "
        f"`getrusage(RUSAGE_CHILDREN).ru_maxrss`: {mb(child.rusage_kib)}. The index worker's "
        "is its own VmHWM, which it reports when it ends; the two peaks are added, as if they "
        "had come at the same moment."
    )
    section.note(
        "Index worker: the import (batches of 10,000) projects its first batch itself, then a "
        "second process (`entrypoints.index_worker`) projects the case index from the log "
        f"while the import decides and appends the next batch; it projected "
        f"{_worker_projected(result):,} log positions of {result['events']:,}. 'Without the "
        "worker' is the same import with `BACKOFFICE_INDEX_WORKER=off`, in a third child on a "
        "fresh data folder."
    )
    section.note(
        f"The import stored {result['events']:,} events; raw sqlite3 inserted "
        f"{result['read']:,} rows of the application's own stored JSON (recycled from the "
        "first records) with random ids in one transaction; 'read only' iterates "
        "`CrmExportReader(path).items()` and stores nothing."
    )
    if result["first_rejections"]:
        section.note("First rejections: " + "; ".join(result["first_rejections"]))

    profile_text = None
    if profile:
        profile_text = _profile(root, source)
    return section, profile_text


def _worker_peak(result: dict[str, Any]) -> int:
    return sum(int(w.get("peak_rss_kib", 0)) for w in result.get("worker", []))


def _worker_projected(result: dict[str, Any]) -> int:
    return sum(int(w.get("projected", 0)) for w in result.get("worker", []))


def _peak(child: ChildRun) -> tuple[int, str]:
    """The child's peak memory, and how it was measured.

    On Linux a child's `ru_maxrss` starts at its parent's resident size (fork copies the
    memory map, exec records its high-water mark), so RUSAGE_CHILDREN is only the child's
    own peak when the parent was smaller; otherwise the child's VmHWM is used.
    """
    own = int(child.result["peak_rss_kib"])
    if child.rusage_kib > child.parent_peak_kib * 1.05 or own == 0:
        return child.rusage_kib, "`getrusage(RUSAGE_CHILDREN).ru_maxrss` of the import child"
    return own, (
        "the child's VmHWM (RUSAGE_CHILDREN is not above this process's own size, so it "
        "would report the parent)"
    )


def _profile(root: Path, source: Path) -> str:
    export = nyc.convert(source, root / "crm_export_profile.csv", PROFILE_ROWS).path
    child = run_child(export, root / "import_profile", profile=PROFILE_TOP)
    result = child.result
    header = (
        f"cProfile of the application ingest of the first {PROFILE_ROWS:,} rows "
        f"({result['seconds']:.1f} s under the profiler; {result['created']:,} created, "
        f"{result['repeat_contacts']:,} repeat contacts), top {PROFILE_TOP} by own time:"
    )
    return header + "\n\n```\n" + _trim_profile(result["profile"]) + "\n```\n"


def _trim_profile(text: str) -> str:
    """pstats output without its preamble lines and the venv's long path prefixes."""
    lines = text.strip().splitlines()
    start = next((i for i, line in enumerate(lines) if "ncalls" in line), 0)
    prefix = str(REPO_ROOT) + "/"
    return "\n".join(
        line.replace(prefix, "").replace(".venv/lib/python3.11/site-packages/", "")
        for line in lines[start:]
    )
