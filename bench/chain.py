"""Part (g): what the tamper-evidence chain costs (`adapters.eventstore.chain`), as ratios of
the same work with the chain on and off, in one run, on SQLite:

1. agent commands (part (a)'s `Backoffice.add_note`): two stores, interleaved rounds;
2. a bulk import of the NYC export as CRM rows (part (b)'s child process), on and off;
3. building a log of 50-event cases (part (d)'s store) and rebuilding the case index from it.

"Off" is the recorder's `chain = False`, which exists for this comparison only: such a store
stores no hashes, and its events would be findings of `audit verify`.
"""

from __future__ import annotations

from pathlib import Path

from adapters.eventstore.sqlite_recorder import BulkSQLiteApplicationRecorder
from bench import commands, costs, imports, nyc, reads
from bench.common import COST_TARGET, Section

TARGET = COST_TARGET
"""The issue's bound for personal-data encryption; the chain is held to it too."""


def _commands(root: Path, quick: bool, section: Section) -> None:
    sizes = commands.QUICK if quick else commands.FULL
    records = commands.intake_records(sizes.cases)
    on = commands.ApplicationVariant(root / "on", records, name="chain on")
    off = commands.ApplicationVariant(root / "off", records, name="chain off")
    off.office.store.app.recorder.chain = False  # type: ignore[attr-defined]
    commands.cost_rows(section, on, off, sizes, "chain on / off", TARGET)


def _log(root: Path, label: str, cases: int, chain: bool) -> costs.Log:
    """Part (d)'s store (`reads.build`), the chain on or off while it is built; the time
    counted is the whole build's (the events made, and appended)."""
    BulkSQLiteApplicationRecorder.chain = chain
    try:
        store = reads.build(root, label, cases)
    finally:
        BulkSQLiteApplicationRecorder.chain = True
    return costs.Log(store.office, store.events, (store.build_seconds, 0.0))


def run(root: Path, quick: bool, source: Path = nyc.DEFAULT_PATH) -> Section:
    section = Section("(g) The tamper-evidence chain's cost (SQLite): chain on / off")
    _commands(root, quick, section)
    imports.cost_row(section, root, quick, source, "--chain", "chain on / off", TARGET)
    costs.rebuild_rows(section, root, quick, _log, repeats=2, wall="chain on / off")
    section.note(
        "Ratios are time with the chain over time without it (1.00× = free). A command loads "
        "its case first, so its append links to the hash that read remembered: no extra query. "
        "An import's new cases need none either; a rebuild reads one 32-byte column more. "
        "The import runs once each way; the log is built and rebuilt twice each way, "
        "alternating, and the faster run counts."
    )
    return section
