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

from pathlib import Path

from eventsourcing.utils import Environment

from adapters.eventstore.cipher import RotatingCipher, new_key
from adapters.eventstore.mapper import CaseEventMapper, OrjsonTranscoder
from application.service import Backoffice
from bench import commands, costs, imports, nyc, reads
from bench.common import COST_TARGET, Section, sqlite_office

TARGET = COST_TARGET
"""The issue's bound: no worse than 1.3× the plain store."""
QUICK_COMMANDS = commands.Sizes(cases=300, rounds=50, per_round=30, warmup=50)
FULL_COMMANDS = commands.Sizes(cases=2_000, rounds=100, per_round=60, warmup=200)
"""Many short rounds (part (a) has a few long ones): the two stores alternate every few
commands, so that the machine's neighbours slow both alike; the median round counts."""
REPEATS = 3
"""Builds and rebuilds of the log each way (alternating); the fastest counts."""
NAMES = ("encrypted", "plain")
WORDS = " / ".join(NAMES)


def _office(data_dir: Path, encrypted: bool) -> Backoffice:
    return sqlite_office(data_dir, encryption_key=new_key() if encrypted else None)


def _check(office: Backoffice, cases: int) -> None:
    """The last case reads back whole: the cipher really ran both ways."""
    assert office.case(reads.case_id_of(cases - 1)).version == reads.EVENTS_PER_CASE


def _mapper(section: Section) -> None:
    """The cipher's share of the mapper alone (no database)."""
    cipher = RotatingCipher(Environment(env={"CIPHER_KEY": new_key()}))
    on = CaseEventMapper(transcoder=OrjsonTranscoder(), cipher=cipher)
    off = CaseEventMapper(transcoder=OrjsonTranscoder())
    costs.mapper_rows(section, on, off, WORDS)


def run(root: Path, quick: bool, source: Path = nyc.DEFAULT_PATH) -> Section:
    section = Section("(i) Encryption at rest's cost (SQLite): encrypted / plain")
    _mapper(section)
    sizes = QUICK_COMMANDS if quick else FULL_COMMANDS
    costs.command_rows(section, root, sizes, _office, NAMES)
    imports.cost_row(section, root, quick, source, "--encryption", WORDS, TARGET)
    build = costs.appending(_office)
    wall, cpu = f"wall time, {WORDS}", f"CPU time, {WORDS}"
    costs.rebuild_rows(
        section, root, quick, build, repeats=REPEATS, wall=wall, cpu=cpu, check=_check
    )
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
