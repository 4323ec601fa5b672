"""Part (g): what the tamper-evidence chain costs (`adapters.eventstore.chain`), as ratios of
the same work with the chain on and off, in one run, on SQLite:

1. agent commands (part (a)'s `Backoffice.add_note`): two stores, interleaved rounds;
2. a bulk import of the NYC export as CRM rows (part (b)'s child process), on and off;
3. building a log of 50-event cases (part (d)'s store) and rebuilding the case index from it.

"Off" is the recorder's `chain = False`, which exists for this comparison only: such a store
stores no hashes, and its events would be findings of `audit verify`.
"""

from __future__ import annotations

import time
from pathlib import Path

from adapters.eventstore.sqlite_recorder import BulkSQLiteApplicationRecorder
from bench import commands, imports, nyc, reads
from bench.common import COST_TARGET, Section, rate, ratio, verdict

TARGET = COST_TARGET
"""The issue's bound for personal-data encryption; the chain is held to it too."""


def _commands(root: Path, quick: bool, section: Section) -> None:
    sizes = commands.QUICK if quick else commands.FULL
    records = commands.intake_records(sizes.cases)
    on = commands.ApplicationVariant(root / "on", records, name="chain on")
    off = commands.ApplicationVariant(root / "off", records, name="chain off")
    off.office.store.app.recorder.chain = False  # type: ignore[attr-defined]
    commands.cost_rows(section, on, off, sizes, "chain on / off", TARGET)


def _import(root: Path, quick: bool, source: Path, section: Section) -> None:
    imports.cost_row(section, root, quick, source, "--chain", "chain on / off", TARGET)


def _rebuild(root: Path, quick: bool, section: Section) -> None:
    cases = 300 if quick else 2_000
    best: dict[str, list[float]] = {"on": [], "off": []}
    events = 0
    # Twice each, alternating, the faster of each counting: one run alone is mostly noise.
    for n, (label, chain) in enumerate((("on", True), ("off", False)) * 2):
        BulkSQLiteApplicationRecorder.chain = chain
        try:
            store = reads.build(root, f"log_{label}_{n}", cases)
        finally:
            BulkSQLiteApplicationRecorder.chain = True
        office = store.office
        started = time.perf_counter()
        office.index.reset()
        office.catch_up(batch_size=5_000)
        rebuilt = time.perf_counter() - started
        office.close()
        events = store.events
        if not best[label]:
            best[label] = [store.build_seconds, rebuilt]
        else:
            best[label] = [min(best[label][0], store.build_seconds), min(best[label][1], rebuilt)]
    for i, what in ((0, "appending 50-event cases in batches"), (1, "case index rebuild")):
        on, off = best["on"][i], best["off"][i]
        section.add(
            f"{what} ({events:,} events), chain on / off",
            rate(events / on, "events/s"),
            rate(events / off, "events/s"),
            ratio(on / off),
            f"≤ {TARGET}×",
            verdict(on / off <= TARGET),
        )


def run(root: Path, quick: bool, source: Path = nyc.DEFAULT_PATH) -> Section:
    section = Section("(g) The tamper-evidence chain's cost (SQLite): chain on / off")
    _commands(root, quick, section)
    _import(root, quick, source, section)
    _rebuild(root, quick, section)
    section.note(
        "Ratios are time with the chain over time without it (1.00× = free). A command loads "
        "its case first, so its append links to the hash that read remembered: no extra query. "
        "An import's new cases need none either; a rebuild reads one 32-byte column more. "
        "The import runs once each way; the log is built and rebuilt twice each way, "
        "alternating, and the faster run counts."
    )
    return section
