"""Part (e): a long case and a long case list, read in process and from the command line.

1. One store (SQLite, a fresh data folder) with three CRM cases ingested through the Python
   API: one of 10,000 events, one of 1,000 and one with only its intake events. The events
   after the intake are made by the domain's own decisions on a state folded locally (notes,
   with a follow-up scheduled and completed every 100 events, an account check every 250 and
   a reassignment every 2,500) and appended with the store's `append` in batches, as part (c)
   builds its stores; then the case index catches up. Measured:
   - `office.case(KEY)` in a freshly bootstrapped `Backoffice` (the first read on its own: a
     cache may be written then), then a series of reads; baseline: raw sqlite3 SELECT of the
     case's rows and `json.loads` of each, in the same process;
   - `backoffice case show KEY`, `case history KEY --json` and `case history KEY` (human
     lines), each a fresh process: wall time and peak RSS, against a plain Python process that
     loads the same history's JSON (the output of `case history --json`, saved) and writes
     `json.dumps` of it to stdout; the 10,000-event case against the 1,000-event case shows
     whether memory grows with the history (streamed: a ratio near 1).
2. A store of 10,000 cases from a generated CRM export, ingested with `backoffice ingest` (the
   bulk path, index worker on): `backoffice cases --json --limit 10000`, wall time and peak
   RSS, against a plain Python process that loads the command's own output and writes
   `json.dumps` of it.

Every command runs under `bench.child_usage` (a small process in between, so that the peak
RSS is the command's own); the runs go in rounds, every command once per round, so that a
noisy neighbour slows them alike; medians of the rounds are reported.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from adapters.intake.parsing import CRM_FIELDS
from application.intake.records import IntakeRecord
from bench.commands import NAMES, NOTES
from bench.common import (
    REPO_ROOT,
    T0,
    Section,
    file_size,
    mb,
    median,
    ms,
    ratio,
    raw_reader,
    seconds,
    sqlite_office,
    timed,
    verdict,
)
from domain.case import decisions, records
from domain.case.events import CaseEvent
from domain.case.state import CaseState, apply, fold
from domain.values import Actor, Category, Channel, LineOfBusiness, SourceKey, Subcategory

TARGET_CASE_MS = 50.0
TARGET_CONSTANT = 1.10
TARGET_HELP_S = 0.3
"""`backoffice --help`, start-up alone (issue: 0.72 s before imports were made lazy)."""
TARGET_COMMAND_S = 0.6
"""A command on SQLite, start to end (`case show` of a small case)."""
APPEND_BATCH = 2_000


@dataclass(frozen=True)
class Sizes:
    long_events: int
    short_events: int
    cases: int
    reads: int
    rounds: int


FULL = Sizes(long_events=10_000, short_events=1_000, cases=10_000, reads=20, rounds=5)
QUICK = Sizes(long_events=10_000, short_events=1_000, cases=10_000, reads=10, rounds=1)

AGENTS = (Actor.agent("agent.lrojas"), Actor.agent("agent.mgil"))
TYPIFICATIONS = (
    "Soporte - falla internet",
    "Facturación - cobro no reconocido",
    "Cartera - suspensión",
    "Soporte - falla TV",
)
REQUESTS = (
    "Sin internet desde ayer, módem con luz roja",
    "Cobro de PPV que no reconoce en la última factura",
    "Línea suspendida por mora, ya pagó el total",
    "Decodificador sin señal en dos tomas",
)
BASELINE_CODE = (
    "import json, sys\n"
    "with open(sys.argv[1], encoding='utf-8') as f:\n"
    "    data = json.load(f)\n"
    "sys.stdout.write(json.dumps(data, ensure_ascii=False, indent=2) + '\\n')\n"
)
"""The plain baseline: load a JSON file, write it back to stdout as the CLI writes JSON."""


# --- building the long cases -----------------------------------------------------------------


def case_key(events: int) -> str:
    return f"CRM-E{events:06d}"


def intake_record(key: str, n: int) -> IntakeRecord:
    return IntakeRecord(
        source=SourceKey(Channel.CRM, key),
        received_at=T0 - timedelta(hours=1),
        account=f"{81_000_000 + n}",
        line=LineOfBusiness.HOGAR,
        customer_name=NAMES[n % len(NAMES)],
        typification=TYPIFICATIONS[0],
        request=REQUESTS[0],
        follow_up_at=T0 + timedelta(days=1),
        front_agent="front.lrojas",
        recommended_by=None,
        location=f"bench:{key}",
    )


def next_event(state: CaseState, step: int) -> CaseEvent:
    """The case's next event: mostly notes, a few follow-ups, checks and reassignments."""
    at = T0 + timedelta(minutes=step)
    agent = AGENTS[(step // 2_500) % 2]
    if state.agent != agent.name:
        events = decisions.assign(state, agent=agent.name, actor=agent, at=at)
    elif state.category is None:
        events = decisions.interpret(
            state,
            category=Category.SOPORTE,
            subcategory=Subcategory.FALLA_PUNTUAL,
            actor=agent,
            at=at,
        )
    elif step % 100 == 10:
        events = decisions.schedule_follow_up(
            state, due_at=at + timedelta(days=1), actor=agent, at=at
        )
    elif step % 100 == 60 and state.pending_follow_ups:
        events = decisions.complete_follow_up(
            state, outcome="Cliente contactado, sigue la falla", actor=agent, at=at
        )
    elif step % 250 == 125:
        events = records.record_check(
            state,
            system="RR",
            aspect="servicio",
            findings=("Servicio activo", "Sin falla masiva en el sector"),
            inconsistent=False,
            actor=agent,
            at=at,
        )
    else:
        text = f"{NOTES[step % len(NOTES)]} (paso {step})"
        events = decisions.add_note(state, text=text, actor=agent, at=at)
    (event,) = events
    return event


@dataclass
class LongStore:
    data_dir: Path
    keys: dict[str, int]
    """Source key -> events of the case."""
    floor_key: str
    """A case with its intake events only."""
    build_seconds: float


def build_long_cases(data_dir: Path, sizes: Sizes) -> LongStore:
    targets = {case_key(sizes.long_events): sizes.long_events}
    targets[case_key(sizes.short_events)] = sizes.short_events
    floor_key = case_key(0)
    started = time.perf_counter()
    with sqlite_office(data_dir) as office:
        keys = [*targets, floor_key]
        report = office.ingest([intake_record(key, n) for n, key in enumerate(keys)])
        assert report.created == len(keys), report
        for key, total in targets.items():
            # Folded here from its intake events (no `office.case`: a load may cache a state).
            state = fold(None, office.history(SourceKey(Channel.CRM, key).case_id()))
            assert state is not None
            batch: list[CaseEvent] = []
            while state.version < total:
                event = next_event(state, state.version)
                state = apply(state, event)
                batch.append(event)
                if len(batch) == APPEND_BATCH:
                    office.store.append(batch)
                    batch = []
            office.store.append(batch)
        office.catch_up()
    return LongStore(data_dir, targets, floor_key, time.perf_counter() - started)


# --- in process ------------------------------------------------------------------------------


@dataclass
class InProcess:
    first: float
    reads: list[float] = field(default_factory=list)
    raw_first: float = 0.0
    raw: list[float] = field(default_factory=list)


def read_in_process(store: LongStore, sizes: Sizes) -> dict[str, InProcess]:
    """`office.case(KEY)` in a fresh `Backoffice`: the first read of each case, then
    `sizes.reads` rounds over the cases; the raw baseline after each read.

    One read of the intake-only case comes first, untimed, so that what only the process's
    first read does (connections, statements, decoders) is not counted as the long case's.
    """
    raw = raw_reader(store.data_dir / "cases.sqlite")
    results: dict[str, InProcess] = {}
    with sqlite_office(store.data_dir) as office:
        office.case(store.floor_key)
        raw(SourceKey(Channel.CRM, store.floor_key).case_id())
        for key, events in store.keys.items():
            case_id = SourceKey(Channel.CRM, key).case_id()
            first = timed(lambda: office.case(key))  # noqa: B023
            results[key] = InProcess(first, raw_first=timed(lambda: raw(case_id)))  # noqa: B023
            assert office.case(key).version == events
            assert raw(case_id) == events
        for _ in range(sizes.reads):
            for key in store.keys:
                case_id = SourceKey(Channel.CRM, key).case_id()
                results[key].reads.append(timed(lambda: office.case(key)))  # noqa: B023
                results[key].raw.append(timed(lambda: raw(case_id)))  # noqa: B023
    return results


# --- commands in processes of their own ------------------------------------------------------


@dataclass
class Usage:
    seconds: float
    rss_kib: int


@dataclass
class Probe:
    """One command, run once per round."""

    name: str
    command: list[str]
    out: Path
    runs: list[Usage] = field(default_factory=list)

    @property
    def wall(self) -> float:
        return median([u.seconds for u in self.runs])

    @property
    def rss(self) -> float:
        return median([u.rss_kib for u in self.runs])

    def text(self) -> str:
        return f"{seconds_or_ms(self.wall)} / {mb(self.rss)}"


def seconds_or_ms(value: float) -> str:
    return ms(value) if value < 1 else f"{value:,.2f} s"


def backoffice() -> list[str]:
    """The `backoffice` console script of the environment running the benchmark."""
    script = Path(sys.executable).with_name("backoffice")
    if not script.exists():
        raise RuntimeError(f"{script} is missing: install the project (pip install -e .)")
    return [str(script)]


def child_env() -> dict[str, str]:
    """This environment without the project's settings (the data folder is passed)."""
    return {k: v for k, v in os.environ.items() if not k.startswith("BACKOFFICE_")}


def measure(command: Sequence[str], out: Path) -> Usage:
    wrapper = [sys.executable, "-m", "bench.child_usage", str(out), "--", *command]
    done = subprocess.run(
        wrapper, cwd=REPO_ROOT, env=child_env(), capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"bench.child_usage failed ({done.returncode}):\n{done.stderr}")
    result = json.loads(done.stdout.splitlines()[-1])
    if result["returncode"] != 0:
        raise RuntimeError(
            f"{' '.join(command)} exited with {result['returncode']}:\n{result['stderr']}"
        )
    return Usage(float(result["seconds"]), int(result["max_rss_kib"]))


def run_rounds(probes: Sequence[Probe], rounds: int) -> None:
    for _ in range(rounds):
        for probe in probes:
            probe.runs.append(measure(probe.command, probe.out))


def baseline_command(json_file: Path) -> list[str]:
    return [sys.executable, "-c", BASELINE_CODE, str(json_file)]


def saved_json(command: Sequence[str], out: Path, saved: Path, count: int) -> Path:
    """Run `command` once (a warm-up, not counted), check that its JSON output is a list of
    `count` items, and keep it as the baseline's input."""
    measure(command, out)
    with out.open(encoding="utf-8") as f:
        items = len(json.load(f))
    if items != count:
        raise RuntimeError(f"{' '.join(command)} gave {items:,} items, expected {count:,}")
    shutil.copyfile(out, saved)
    return saved


# --- the case list ---------------------------------------------------------------------------


def write_export(path: Path, count: int) -> Path:
    """A CRM export (UTF-8, comma) of `count` cases, every account distinct."""
    start = T0 - timedelta(days=14)
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(CRM_FIELDS)
        for i in range(count):
            received = start + timedelta(minutes=2 * i)
            movil = i % 3 == 0
            writer.writerow(
                [
                    f"CRM-{400_000 + i}",
                    received.isoformat(),
                    f"310{i:07d}" if movil else f"{82_000_000 + i}",
                    "movil" if movil else "hogar",
                    NAMES[i % len(NAMES)],
                    TYPIFICATIONS[i % len(TYPIFICATIONS)],
                    REQUESTS[i % len(REQUESTS)],
                    (received + timedelta(days=2)).isoformat(),
                    f"front.agente{i % 7}",
                    "",
                    "",
                    "",
                ]
            )
    return path


# --- the part --------------------------------------------------------------------------------


@dataclass
class LongCaseRun:
    store: LongStore
    in_process: dict[str, InProcess]
    cold_show: Usage
    """`case show` of the long case on a copy of the store as built: its first load."""
    probes: dict[str, dict[str, Probe]]
    """Source key -> "show", "json" (history), "text" (history), "base" (plain json.dumps)."""
    floor: Probe
    history_files: dict[str, Path]
    help: Probe
    """`backoffice --help`: the start-up of the command line alone."""
    python: Probe
    """`python -c pass`: the interpreter's own start-up, the start-up rows' baseline."""


@dataclass
class ListRun:
    data_dir: Path
    ingest: Usage
    probe: Probe
    base: Probe
    listed: Path


def measure_long_case(root: Path, out: Path, sizes: Sizes) -> LongCaseRun:
    bo = backoffice()
    store = build_long_cases(root / "long", sizes)
    long_key = case_key(sizes.long_events)
    # A copy as built, never read: `case show` there is the first load of the long case.
    cold_dir = root / "long-cold"
    shutil.copytree(store.data_dir, cold_dir)
    cold_show = measure([*bo, "--data-dir", str(cold_dir), "case", "show", long_key], out / "cold")
    in_process = read_in_process(store, sizes)

    cli = [*bo, "--data-dir", str(store.data_dir)]
    probes: dict[str, dict[str, Probe]] = {}
    history_files: dict[str, Path] = {}
    for key, events in store.keys.items():
        history = [*cli, "case", "history", key]
        saved = root / f"{key}.history.json"
        history_files[key] = saved_json([*history, "--json"], out / f"{key}.warmup", saved, events)
        probes[key] = {
            "show": Probe("show", [*cli, "case", "show", key], out / f"{key}.show.txt"),
            "json": Probe("json", [*history, "--json"], out / f"{key}.history.json"),
            "text": Probe("text", history, out / f"{key}.history.txt"),
            "base": Probe("base", baseline_command(saved), out / f"{key}.baseline.json"),
        }
    floor = Probe("floor", [*cli, "case", "show", store.floor_key], out / "floor.txt")
    help_ = Probe("help", [*bo, "--help"], out / "help.txt")
    python = Probe("python", [sys.executable, "-c", "pass"], out / "python.txt")
    everything = [*(p for group in probes.values() for p in group.values()), floor, help_, python]
    run_rounds(everything, sizes.rounds)
    return LongCaseRun(store, in_process, cold_show, probes, floor, history_files, help_, python)


def measure_list(root: Path, out: Path, sizes: Sizes) -> ListRun:
    export = write_export(root / "crm_export.csv", sizes.cases)
    data_dir = root / "list"
    cli = [*backoffice(), "--data-dir", str(data_dir)]
    ingest = measure([*cli, "ingest", str(export), "--json"], out / "ingest.json")
    created = json.loads((out / "ingest.json").read_text(encoding="utf-8"))["created"]
    if created != sizes.cases:
        raise RuntimeError(f"the ingest created {created:,} cases, expected {sizes.cases:,}")
    command = [*cli, "cases", "--json", "--limit", str(sizes.cases)]
    listed = saved_json(command, out / "cases.warmup.json", root / "cases.json", created)
    probe = Probe("cases", command, out / "cases.json")
    base = Probe("base", baseline_command(listed), out / "cases.baseline.json")
    run_rounds([probe, base], sizes.rounds)
    return ListRun(data_dir, ingest, probe, base, listed)


def run(root: Path, quick: bool) -> Section:
    sizes = QUICK if quick else FULL
    section = Section(
        f"(e) A {sizes.long_events:,}-event case and a {sizes.cases:,}-case list: "
        "in process and from the command line"
    )
    out = root / "out"
    out.mkdir()
    long_case = measure_long_case(root, out, sizes)
    case_list = measure_list(root, out, sizes)
    report_in_process(section, long_case)
    report_commands(section, long_case, sizes)
    report_list(section, case_list, sizes)
    section.add(
        f"building the long cases ({sum(long_case.store.keys.values()):,} events, Python API)",
        seconds(long_case.store.build_seconds),
    )
    report_notes(section, long_case, case_list, sizes)
    return section


# --- the report ------------------------------------------------------------------------------


def report_in_process(section: Section, got: LongCaseRun) -> None:
    for n, (key, events) in enumerate(got.store.keys.items()):
        reads = got.in_process[key]
        targeted = n == 0  # the long case
        section.add(
            f"`office.case({key!r})`, {events:,}-event case: first read in a fresh `Backoffice`",
            ms(reads.first),
            f"raw sqlite3 + json: {ms(reads.raw_first)}",
            ratio(reads.first / reads.raw_first),
        )
        section.add(
            f"`office.case({key!r})`, {events:,}-event case: median / max of the "
            f"{len(reads.reads)} reads after it",
            f"{ms(median(reads.reads))} / {ms(max(reads.reads))}",
            f"raw sqlite3 + json: {ms(median(reads.raw))} / {ms(max(reads.raw))}",
            ratio(median(reads.reads) / median(reads.raw)),
            f"< {TARGET_CASE_MS:g} ms" if targeted else "",
            verdict(median(reads.reads) * 1000 < TARGET_CASE_MS) if targeted else "",
        )


def report_commands(section: Section, got: LongCaseRun, sizes: Sizes) -> None:
    long_key, short_key = case_key(sizes.long_events), case_key(sizes.short_events)
    for key, probes in got.probes.items():
        events = got.store.keys[key]
        base = probes["base"]
        if key == long_key:
            section.add(
                f"`backoffice case show {key}`, {events:,} events, the case's first load (a "
                "copy of the store as built, run once): wall time / peak RSS",
                f"{seconds_or_ms(got.cold_show.seconds)} / {mb(got.cold_show.rss_kib)}",
                f"plain `json.dumps` of its history: {base.text()}",
                f"{ratio(got.cold_show.seconds / base.wall)} / "
                f"{ratio(got.cold_show.rss_kib / base.rss)}",
            )
        for name, title in (
            ("show", f"`backoffice case show {key}`"),
            ("json", f"`backoffice case history {key} --json`"),
            ("text", f"`backoffice case history {key}` (human lines)"),
        ):
            probe = probes[name]
            section.add(
                f"{title}, {events:,} events: wall time / peak RSS",
                probe.text(),
                f"plain `json.dumps` of its history: {base.text()}",
                f"{ratio(probe.wall / base.wall)} / {ratio(probe.rss / base.rss)}",
            )
    section.add(
        f"`backoffice case show {got.store.floor_key}` (intake events only): the command's "
        "floor, wall time / peak RSS",
        got.floor.text(),
        f"`python -c pass`: {got.python.text()}",
        ratio(got.floor.wall / got.python.wall),
        f"< {TARGET_COMMAND_S:.1f} s",
        verdict(got.floor.wall < TARGET_COMMAND_S),
    )
    section.add(
        "`backoffice --help`: start-up, wall time / peak RSS",
        got.help.text(),
        f"`python -c pass`: {got.python.text()}",
        ratio(got.help.wall / got.python.wall),
        f"< {TARGET_HELP_S:.1f} s",
        verdict(got.help.wall < TARGET_HELP_S),
    )
    big, small = got.probes[long_key], got.probes[short_key]
    base_growth = big["base"].rss / small["base"].rss
    for name, title in (
        ("json", "`case history --json`"),
        ("text", "`case history` (human lines)"),
        ("show", "`case show`"),
    ):
        growth = big[name].rss / small[name].rss
        targeted = name != "show"
        section.add(
            f"{title} peak RSS: {sizes.long_events:,}-event / {sizes.short_events:,}-event case",
            f"{mb(big[name].rss)} / {mb(small[name].rss)}",
            f"plain `json.dumps`: {mb(big['base'].rss)} / {mb(small['base'].rss)} "
            f"({ratio(base_growth)})",
            ratio(growth),
            f"≤ {TARGET_CONSTANT:.2f}× (constant memory)" if targeted else "",
            verdict(growth <= TARGET_CONSTANT) if targeted else "",
        )


def report_list(section: Section, got: ListRun, sizes: Sizes) -> None:
    probe, base = got.probe, got.base
    section.add(
        f"`backoffice cases --json --limit {sizes.cases}`, {sizes.cases:,}-case store: "
        "wall time / peak RSS",
        probe.text(),
        f"plain `json.dumps` of its output: {base.text()}",
        f"{ratio(probe.wall / base.wall)} / {ratio(probe.rss / base.rss)}",
    )
    section.add(
        f"`backoffice ingest` of the {sizes.cases:,}-row CRM export (setup, once): wall time / "
        "peak RSS",
        f"{seconds(got.ingest.seconds)} / {mb(got.ingest.rss_kib)}",
        f"{sizes.cases / got.ingest.seconds:,.0f} cases/s",
    )


def report_notes(section: Section, got: LongCaseRun, listed: ListRun, sizes: Sizes) -> None:
    long_key, short_key = case_key(sizes.long_events), case_key(sizes.short_events)
    big, small, floor = got.probes[long_key], got.probes[short_key], got.floor
    section.note(
        "In process: a `Backoffice` bootstrapped afresh on the built store (index caught up), "
        f"warmed by one untimed read of {got.store.floor_key}; `office.case(KEY)` by source "
        "key, as `case show` calls it, each read timed on its own with `time.perf_counter`: "
        f"the first read of each case (a state may be cached then), then {sizes.reads} rounds "
        "over the cases. Baseline 'raw sqlite3 + json': the case's rows SELECTed on the same "
        "file and `json.loads` of each, no mapping to event objects and no fold, timed after "
        "each read."
    )
    section.note(
        f"Commands: each a fresh process (the `backoffice` console script, stdout to a file), "
        f"{sizes.rounds} round(s) of every command in turn after one untimed warm-up run of "
        "each JSON command (whose output is kept as the baseline's input); medians of the "
        "rounds. Wall time is start to exit, the interpreter's start-up and imports included "
        "(the floor row); peak RSS is `getrusage(RUSAGE_CHILDREN).ru_maxrss` read by "
        "`bench.child_usage`, a small process between this one and the command."
    )
    section.note(
        "Baseline 'plain `json.dumps`': `python -c` that `json.load`s the command's own JSON "
        "output (the case's history; the case list) and writes `json.dumps(data, "
        "ensure_ascii=False, indent=2)` to stdout, the whole document in memory at once. "
        f"Output sizes: history --json {_size(got.history_files[long_key])} "
        f"({sizes.long_events:,} events) and {_size(got.history_files[short_key])} "
        f"({sizes.short_events:,}); human history {_size(big['text'].out)} and "
        f"{_size(small['text'].out)}; case list {_size(listed.listed)}."
    )
    above = {name: _above(big[name], small[name], floor) for name in ("show", "json", "text")}
    section.note(
        f"Above the floor ({floor.text()}), {sizes.long_events:,}-event / "
        f"{sizes.short_events:,}-event case: `case show` {above['show']}; "
        f"`case history --json` {above['json']}; human history {above['text']}; the long "
        f"case's first `case show` {(got.cold_show.seconds - floor.wall) * 1000:+,.0f} ms, "
        f"{_mb_delta(got.cold_show.rss_kib - floor.rss)}."
    )
    section.note(
        "Long-case events after the intake: notes, a follow-up scheduled every 100 events and "
        "completed 50 later, an RR account check every 250, the case reassigned every 2,500; "
        f"appended in batches of {APPEND_BATCH:,}. Store file "
        f"{file_size(got.store.data_dir / 'cases.sqlite') / 1e6:,.0f} MB. Case list: a generated "
        f"CRM export of {sizes.cases:,} rows (every account distinct) ingested by "
        "`backoffice ingest` with the default settings (index worker on; the peak RSS is the "
        "larger of the import's and its worker's); store file "
        f"{file_size(listed.data_dir / 'cases.sqlite') / 1e6:,.0f} MB."
    )


def _above(big: Probe, small: Probe, floor: Probe) -> str:
    """Wall time and peak RSS of two runs above the floor's."""
    return (
        f"{(big.wall - floor.wall) * 1000:+,.0f} / {(small.wall - floor.wall) * 1000:+,.0f} ms, "
        f"{_mb_delta(big.rss - floor.rss)} / {_mb_delta(small.rss - floor.rss)}"
    )


def _mb_delta(kib: float) -> str:
    return f"{kib * 1024 / 1e6:+,.0f} MB"


def _size(path: Path) -> str:
    return f"{path.stat().st_size / 1e6:,.1f} MB"
