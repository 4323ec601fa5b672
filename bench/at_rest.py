"""Part (i): what encryption at rest costs (`adapters.eventstore.cipher`, AES-256-GCM over each
stored event), as ratios of the same work with a key set and without, in one run, on SQLite:

1. agent commands (part (a)'s `Backoffice.add_note`: load the case, decrypting each of its
   events, then encrypt and append one): two stores, interleaved rounds;
2. a bulk import of the NYC export as CRM rows (part (b)'s child process), with and without;
3. building a log of 50-event cases (part (c)'s events, appended in batches) and rebuilding
   the case index from it (every event read and decrypted).

Each store with a key gets a fresh random one; the tamper-evidence chain is on in both.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from eventsourcing.utils import Environment

from adapters.clock import FixedClock
from adapters.eventstore.cipher import RotatingCipher, new_key
from adapters.eventstore.mapper import CaseEventMapper, OrjsonTranscoder
from application.service import Backoffice
from bench import commands, imports, nyc, reads
from bench.common import COST_TARGET, T0, Section, rate, ratio, verdict
from domain.case.events import CaseEvent
from domain.case.state import CaseState, apply
from entrypoints.bootstrap import bootstrap
from entrypoints.settings import load_settings

TARGET = COST_TARGET
"""The issue's bound: no worse than 1.3× the plain store."""
QUICK_COMMANDS = commands.Sizes(cases=300, rounds=50, per_round=30, warmup=50)
FULL_COMMANDS = commands.Sizes(cases=2_000, rounds=100, per_round=60, warmup=200)
"""Many short rounds (part (a) has a few long ones): the two stores alternate every few
commands, so that the machine's neighbours slow both alike; the median round counts."""
REPEATS = 3
"""Builds and rebuilds of the log each way (alternating); the fastest counts."""


def _office(data_dir: Path, encrypted: bool) -> Backoffice:
    settings = load_settings(
        environ={},
        data_dir=data_dir,
        database_url="sqlite",
        encryption_key=new_key() if encrypted else None,
    )
    return bootstrap(settings, clock=FixedClock(T0))


def _commands(root: Path, quick: bool, section: Section) -> None:
    sizes = QUICK_COMMANDS if quick else FULL_COMMANDS
    records = commands.intake_records(sizes.cases)
    on, off = (
        commands.ApplicationVariant(
            root, records, office=_office(root / name, name == "encrypted"), name=name
        )
        for name in ("encrypted", "plain")
    )
    commands.cost_rows(section, on, off, sizes, "encrypted / plain", TARGET)


def _import(root: Path, quick: bool, source: Path, section: Section) -> None:
    imports.cost_row(section, root, quick, source, "--encryption", "encrypted / plain", TARGET)


Times = tuple[float, float]
"""Seconds of wall time and of this process's CPU time."""


def _build(root: Path, label: str, cases: int, encrypted: bool) -> tuple[Backoffice, int, Times]:
    """Part (c)'s log of 50-event cases, appended in batches: the office, its events and the
    time the appends took (wall, CPU; the events are made outside it)."""
    office = _office(root / label, encrypted)
    events = 0
    wall = cpu = 0.0
    for first in range(0, cases, reads.CASES_PER_BATCH):
        numbers = range(first, min(first + reads.CASES_PER_BATCH, cases))
        states: dict[int, CaseState | None] = dict.fromkeys(numbers)
        batch: list[CaseEvent] = []
        for step in range(reads.EVENTS_PER_CASE):
            for number in numbers:
                event = reads.next_event(states[number], number, step)
                states[number] = apply(states[number], event)
                batch.append(event)
        started, cpu_started = time.perf_counter(), time.process_time()
        office.store.append(batch)
        wall += time.perf_counter() - started
        cpu += time.process_time() - cpu_started
        events += len(batch)
    return office, events, (wall, cpu)


def _rebuild(root: Path, quick: bool, section: Section) -> None:
    cases = 300 if quick else 2_000
    best: dict[str, list[float]] = {}
    events = 0
    # Alternating, the fastest of each counting: one run alone is mostly noise.
    for n, (label, encrypted) in enumerate((("on", True), ("off", False)) * REPEATS):
        office, events, appended = _build(root, f"log_{label}_{n}", cases, encrypted)
        try:
            started, cpu_started = time.perf_counter(), time.process_time()
            office.index.reset()
            office.catch_up(batch_size=5_000)
            rebuilt = (time.perf_counter() - started, time.process_time() - cpu_started)
            # The last case reads back whole: the cipher really ran both ways.
            last = reads.next_event(None, cases - 1, 0).originator_id
            assert isinstance(last, uuid.UUID)
            assert office.case(last).version == reads.EVENTS_PER_CASE
        finally:
            office.close()
        times = [*appended, *rebuilt]
        kept = best.get(label)
        best[label] = (
            times if kept is None else [min(a, b) for a, b in zip(kept, times, strict=True)]
        )
    for i, what in ((0, "appending 50-event cases in batches"), (2, "case index rebuild")):
        on, off = best["on"][i], best["off"][i]
        section.add(
            f"{what} ({events:,} events), wall time, encrypted / plain",
            rate(events / on, "events/s"),
            rate(events / off, "events/s"),
            ratio(on / off),
            f"≤ {TARGET}×",
            verdict(on / off <= TARGET),
        )
        on, off = best["on"][i + 1], best["off"][i + 1]
        section.add(
            f"{what}, CPU time, encrypted / plain",
            rate(events / on, "events/s"),
            rate(events / off, "events/s"),
            ratio(on / off),
        )


def _mapper(section: Section) -> None:
    """The cipher's share of the mapper alone (no database), in a tight loop: the events of
    part (c)'s cases to stored rows and back, with the cipher and without, alternating."""
    events: list[CaseEvent] = []
    for number in range(20):
        state: CaseState | None = None
        for step in range(reads.EVENTS_PER_CASE):
            event = reads.next_event(state, number, step)
            state = apply(state, event)
            events.append(event)
    cipher = RotatingCipher(Environment(env={"CIPHER_KEY": new_key()}))
    mappers = {
        "on": CaseEventMapper(transcoder=OrjsonTranscoder(), cipher=cipher),
        "off": CaseEventMapper(transcoder=OrjsonTranscoder()),
    }
    rows = {label: [m.to_stored_event(e) for e in events] for label, m in mappers.items()}
    best: dict[tuple[str, str], float] = {}
    for _ in range(7):
        for label, mapper in mappers.items():
            started = time.process_time()
            for event in events:
                mapper.to_stored_event(event)
            encoded = time.process_time()
            for row in rows[label]:
                mapper.to_domain_event(row)
            decoded = time.process_time()
            for way, spent in (("encode", encoded - started), ("decode", decoded - encoded)):
                each = spent / len(events)
                best[label, way] = min(best.get((label, way), each), each)
    for way, what in (("encode", "event to stored row"), ("decode", "stored row to event")):
        on, off = best["on", way], best["off", way]
        section.add(
            f"mapper alone, {what}, CPU time, encrypted / plain",
            f"{on * 1e6:,.1f} µs",
            f"{off * 1e6:,.1f} µs",
            ratio(on / off),
        )


def run(root: Path, quick: bool, source: Path = nyc.DEFAULT_PATH) -> Section:
    section = Section("(i) Encryption at rest's cost (SQLite): encrypted / plain")
    _mapper(section)
    _commands(root, quick, section)
    _import(root, quick, source, section)
    _rebuild(root, quick, section)
    section.note(
        "Ratios are time with a key set over time without one (1.00× = free). AES-256-GCM "
        "(`cryptography`'s AESGCM, one object per key) adds 1–3 µs per event each way (the "
        "mapper rows: a fresh random nonce and the sealing on the way in, the opening on the "
        "way out) and 34 bytes per row (marker, key id, nonce, tag). A command decrypts every "
        "event of the case it loads and encrypts the one it appends; a rebuild decrypts every "
        "event of the log. The import runs once each way; the log is built (only the appends "
        f"timed) and rebuilt {REPEATS} times each way, alternating, and the fastest run counts. "
        "On a shared machine a ratio below 1.00× is noise, and so is any swing of the same size "
        "above it."
    )
    return section
