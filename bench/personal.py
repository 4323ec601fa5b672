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

from pathlib import Path

from adapters.eventstore.mapper import CaseEventMapper, OrjsonTranscoder
from adapters.personal_keys import MemoryPersonalKeyStore
from application.service import Backoffice
from bench import commands, costs, imports, nyc, reads
from bench.common import COST_TARGET, Section, sqlite_office

TARGET = COST_TARGET
"""The issue's bound: no worse than 1.3× the plain store."""
QUICK_COMMANDS = commands.Sizes(cases=300, rounds=7, per_round=200, warmup=50)
REPEATS = 3
"""Builds and rebuilds of the log each way, alternating; the fastest counts."""
NAMES = ("sealed", "plain")
WORDS = " / ".join(NAMES)


def _office(data_dir: Path, sealed: bool) -> Backoffice:
    return sqlite_office(data_dir, personal_data_encryption=sealed)


def _mapper(section: Section) -> None:
    on = CaseEventMapper(transcoder=OrjsonTranscoder())
    on.personal = MemoryPersonalKeyStore(encrypting=True)
    off = CaseEventMapper(transcoder=OrjsonTranscoder())
    off.personal = MemoryPersonalKeyStore(encrypting=False)
    costs.mapper_rows(section, on, off, WORDS)


def _check(office: Backoffice, cases: int) -> None:
    """The last case's name reads back: its sealed fields were opened, both ways."""
    assert office.case(reads.case_id_of(cases - 1)).customer_name == "Cliente de Prueba"


def run(root: Path, quick: bool, source: Path = nyc.DEFAULT_PATH) -> Section:
    section = Section("(j) Erasable personal data's cost (SQLite): sealed / plain")
    _mapper(section)
    sizes = QUICK_COMMANDS if quick else commands.FULL
    costs.command_rows(section, root, sizes, _office, NAMES)
    imports.cost_row(section, root, quick, source, "--personal", WORDS, TARGET)
    build = costs.appending(_office)
    costs.rebuild_rows(
        section, root, quick, build, repeats=REPEATS, wall=f"wall time, {WORDS}", check=_check
    )
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
