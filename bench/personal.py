"""Part (j): what erasable personal data costs (`adapters.personal_keys`: each personal field
sealed with its data subject's key), as ratios of the same work with personal-data encryption
on and off, in one run, on SQLite:

1. the mapper alone: the events of part (c)'s cases to stored rows and back (no database);
2. agent commands (part (a)'s `Backoffice.add_note`: load the case, opening its sealed fields,
   then seal the note and append it): two stores, interleaved rounds;
3. a bulk import of the NYC export as CRM rows (part (b)'s child process), on and off: every
   new account gets a key, written once per batch;
4. building a log of 50-event cases (part (c)'s events, one subject per case, appended in
   batches) and rebuilding the case index from it (every sealed field opened).

Encryption at rest is off both ways; the tamper-evidence chain is on both ways.
"""

from __future__ import annotations

import time
import uuid
from pathlib import Path

from adapters.clock import FixedClock
from adapters.eventstore.mapper import CaseEventMapper, OrjsonTranscoder
from adapters.personal_keys import MemoryPersonalKeyStore
from application.service import Backoffice
from bench import commands, imports, nyc, reads
from bench.common import COST_TARGET, T0, Section, rate, ratio, verdict
from domain.case.events import CaseEvent
from domain.case.state import CaseState, apply
from entrypoints.bootstrap import bootstrap
from entrypoints.settings import load_settings

TARGET = COST_TARGET
"""The issue's bound: no worse than 1.3× the plain store."""
QUICK_COMMANDS = commands.Sizes(cases=300, rounds=7, per_round=200, warmup=50)
REPEATS = 3
"""Builds and rebuilds of the log each way, alternating; the fastest counts."""
LABELS = {True: "sealed", False: "plain"}


def _office(data_dir: Path, sealed: bool) -> Backoffice:
    settings = load_settings(
        environ={}, data_dir=data_dir, database_url="sqlite", personal_data_encryption=sealed
    )
    return bootstrap(settings, clock=FixedClock(T0))


def _case_events(cases: int) -> list[CaseEvent]:
    events: list[CaseEvent] = []
    for number in range(cases):
        state: CaseState | None = None
        for step in range(reads.EVENTS_PER_CASE):
            event = reads.next_event(state, number, step)
            state = apply(state, event)
            events.append(event)
    return events


def _mapper(section: Section) -> None:
    events = _case_events(20)
    mappers = {sealed: CaseEventMapper(transcoder=OrjsonTranscoder()) for sealed in (True, False)}
    for sealed, mapper in mappers.items():
        mapper.personal = MemoryPersonalKeyStore(encrypting=sealed)
    rows = {sealed: m.to_stored_events(events) for sealed, m in mappers.items()}
    best: dict[tuple[bool, str], float] = {}
    for _ in range(7):
        for sealed, mapper in mappers.items():
            started = time.process_time()
            mapper.to_stored_events(events)
            encoded = time.process_time()
            for row in rows[sealed]:
                mapper.to_domain_event(row)
            decoded = time.process_time()
            for way, spent in (("encode", encoded - started), ("decode", decoded - encoded)):
                each = spent / len(events)
                best[sealed, way] = min(best.get((sealed, way), each), each)
    for way, what in (("encode", "event to stored row"), ("decode", "stored row to event")):
        on, off = best[True, way], best[False, way]
        section.add(
            f"mapper alone, {what}, CPU time, sealed / plain",
            f"{on * 1e6:,.1f} µs",
            f"{off * 1e6:,.1f} µs",
            ratio(on / off),
        )


def _commands(root: Path, quick: bool, section: Section) -> None:
    sizes = QUICK_COMMANDS if quick else commands.FULL
    records = commands.intake_records(sizes.cases)
    on, off = (
        commands.ApplicationVariant(
            root, records, office=_office(root / LABELS[sealed], sealed), name=LABELS[sealed]
        )
        for sealed in (True, False)
    )
    commands.cost_rows(section, on, off, sizes, "sealed / plain", TARGET)


def _import(root: Path, quick: bool, source: Path, section: Section) -> None:
    imports.cost_row(section, root, quick, source, "--personal", "sealed / plain", TARGET)


def _rebuild(root: Path, quick: bool, section: Section) -> None:
    cases = 300 if quick else 2_000
    best: dict[bool, list[float]] = {}
    events = 0
    for n, sealed in enumerate((True, False) * REPEATS):
        office = _office(root / f"log_{LABELS[sealed]}_{n}", sealed)
        try:
            wall = 0.0
            events = 0
            for first in range(0, cases, reads.CASES_PER_BATCH):
                numbers = range(first, min(first + reads.CASES_PER_BATCH, cases))
                states: dict[int, CaseState | None] = dict.fromkeys(numbers)
                batch: list[CaseEvent] = []
                for step in range(reads.EVENTS_PER_CASE):
                    for number in numbers:
                        event = reads.next_event(states[number], number, step)
                        states[number] = apply(states[number], event)
                        batch.append(event)
                started = time.perf_counter()
                office.store.append(batch)
                wall += time.perf_counter() - started
                events += len(batch)
            started = time.perf_counter()
            office.index.reset()
            office.catch_up(batch_size=5_000)
            rebuilt = time.perf_counter() - started
            last = reads.next_event(None, cases - 1, 0).originator_id
            assert isinstance(last, uuid.UUID)
            assert office.case(last).customer_name == "Cliente de Prueba"  # opened, both ways
        finally:
            office.close()
        kept = best.get(sealed)
        best[sealed] = (
            [wall, rebuilt] if kept is None else [min(kept[0], wall), min(kept[1], rebuilt)]
        )
    for i, what in ((0, "appending 50-event cases in batches"), (1, "case index rebuild")):
        on, off = best[True][i], best[False][i]
        section.add(
            f"{what} ({events:,} events), wall time, sealed / plain",
            rate(events / on, "events/s"),
            rate(events / off, "events/s"),
            ratio(on / off),
            f"≤ {TARGET}×",
            verdict(on / off <= TARGET),
        )


def run(root: Path, quick: bool, source: Path = nyc.DEFAULT_PATH) -> Section:
    section = Section("(j) Erasable personal data's cost (SQLite): sealed / plain")
    _mapper(section)
    _commands(root, quick, section)
    _import(root, quick, source, section)
    _rebuild(root, quick, section)
    section.note(
        "Ratios are time with personal-data encryption over time without it (1.00× = free). "
        "Each personal field (name, phone, request, notes, outcomes, reasons, summaries) is "
        "sealed on its own with AES-256-GCM under its subject's key (a fresh nonce, the case "
        "and field as associated data) and opened on the way back; keys are read once and kept "
        "for 30 s. An import writes the new accounts' keys once per batch. The import runs, "
        f"and the log is built and rebuilt, {REPEATS} times each way, alternating; the "
        "fastest run counts."
    )
    return section
