"""Part (a): agent commands per second, four ways, on the same SQLite (file, WAL).

1. the application: `Backoffice.add_note` (load the case from the store, decide, append);
2. the bare eventsourcing library: `repository.get`, an `@event` method, `Application.save`;
3. raw sqlite3: SELECT the case's events, decode them, INSERT one row, commit;
4. plain CRUD: read the case row, UPDATE it in place, INSERT a history row, commit.

The four run interleaved in rounds (a block of commands each, the order rotating), so a noisy
neighbour slows them alike; the report gives the median round of each.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, Protocol

from eventsourcing.application import Application
from eventsourcing.domain import Aggregate, event

from adapters.eventstore.mapper import TOPICS, event_payload
from application.intake.ingestion import ingested_from
from application.intake.records import IntakeRecord
from application.service import Backoffice
from bench.common import (
    EVENTS_TABLE,
    INSERT_EVENT,
    SELECT_CASE,
    T0,
    Section,
    connect,
    median,
    rate,
    ratio,
    sqlite_office,
    verdict,
)
from domain.case.events import Ingested, NoteAdded
from domain.values import INTAKE, Actor, Channel, LineOfBusiness, NoteFolder, SourceKey

NAMES = ("Ana María Peña", "Jorge Núñez", "Lucía Ibáñez", "Camilo Rengifo", "Sofía Restrepo")
TYPIFICATIONS = ("Facturación - cobro no reconocido", "Soporte - falla internet", "Cartera")
NOTES = (
    "Llamé al cliente; confirma que el cobro persiste en la factura de este mes.",
    "Se valida en el CRM: la orden de trabajo sigue abierta, se pide prioridad al área.",
    "Cliente no contesta; se deja mensaje de voz y se reprograma el seguimiento.",
)
AGENT = "agent:bench"


def note(i: int) -> str:
    """The i-th command's note: never the same text twice in a row on a case (the same note
    again is a no-op, and would not be measured)."""
    return f"{NOTES[i % len(NOTES)]} (#{i})"


TARGET_OVERHEAD = 1.5


@dataclass(frozen=True)
class Sizes:
    cases: int
    rounds: int
    per_round: int
    warmup: int


FULL = Sizes(cases=2_000, rounds=7, per_round=600, warmup=200)
QUICK = Sizes(cases=300, rounds=3, per_round=150, warmup=50)


def intake_records(count: int) -> list[IntakeRecord]:
    """`count` distinct CRM cases (distinct accounts: no repeat contacts)."""
    return [
        IntakeRecord(
            source=SourceKey(Channel.CRM, f"BENCH-{i:07d}"),
            received_at=T0 - timedelta(hours=1),
            account=f"{80_000_000 + i}",
            line=LineOfBusiness.HOGAR if i % 3 else LineOfBusiness.MOVIL,
            customer_name=NAMES[i % len(NAMES)],
            typification=TYPIFICATIONS[i % len(TYPIFICATIONS)],
            request="Sin internet desde ayer, módem con luz roja",
            follow_up_at=T0 + timedelta(days=1),
            front_agent="front.lrojas",
            recommended_by=None,
            location=f"bench:{i}",
        )
        for i in range(count)
    ]


def ingested_event(record: IntakeRecord) -> Ingested:
    return ingested_from(record, T0)


def stored_state(payload: dict[str, Any]) -> bytes:
    """The application's stored JSON for an event payload (header fields are columns)."""
    state = {k: v for k, v in payload.items() if k not in ("originator_id", "originator_version")}
    return json.dumps(state, separators=(",", ":"), ensure_ascii=False).encode()


def note_state(text: str, at: datetime) -> bytes:
    """What the application stores for a `NoteAdded` (same keys, same values)."""
    return stored_state(
        {"timestamp": at.isoformat(), "actor": AGENT, "text": text, "folder": NoteFolder.RR_NOTES}
    )


class Variant(Protocol):
    name: str

    def command(self, i: int) -> None: ...

    def close(self) -> None: ...


# --- 1. the application ----------------------------------------------------------------------


class ApplicationVariant:
    """`Backoffice.add_note` on a SQLite office of its own under `root`, or on `office` (a
    variant of the settings: a part comparing two of them names each)."""

    name = "application (`Backoffice.add_note`)"

    def __init__(
        self,
        root: Path,
        records: Sequence[IntakeRecord],
        *,
        office: Backoffice | None = None,
        name: str | None = None,
    ) -> None:
        self.office: Backoffice = sqlite_office(root / "app") if office is None else office
        if name is not None:
            self.name = name
        report = self.office.ingest(records, batch_size=len(records))
        assert report.created == len(records), report
        self.ids = [r.source.case_id() for r in records]
        self.actor = Actor.agent("bench")

    def command(self, i: int) -> None:
        self.office.add_note(self.ids[i % len(self.ids)], text=note(i), actor=self.actor)

    def close(self) -> None:
        self.office.close()


# --- 2. the bare eventsourcing library -------------------------------------------------------


class BareCase(Aggregate):
    """A plain eventsourcing aggregate holding the same data as the domain's case."""

    @event("Ingested")
    def __init__(
        self,
        source: str,
        received_at: datetime,
        account: str,
        line: str,
        customer_name: str,
        typification: str,
        request: str,
        follow_up_at: datetime | None,
        front_agent: str | None,
        recommended_by: str | None,
        actor: str,
    ) -> None:
        self.source = source
        self.received_at = received_at
        self.account = account
        self.line = line
        self.customer_name = customer_name
        self.typification = typification
        self.request = request
        self.follow_up_at = follow_up_at
        self.front_agent = front_agent
        self.recommended_by = recommended_by
        self.actor = actor
        self.notes = 0

    @event("NoteAdded")
    def add_note(self, text: str, folder: str, actor: str) -> None:
        self.notes += 1


class BareCases(Application[uuid.UUID]):
    """eventsourcing as it comes: default mapper, JSON transcoder, SQLite recorder."""


class BareLibraryVariant:
    name = "bare eventsourcing `Application`"

    def __init__(self, root: Path, records: Sequence[IntakeRecord]) -> None:
        self.app = BareCases(
            env={
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": str(root / "bare.sqlite"),
                "SQLITE_LOCK_TIMEOUT": "30",
            }
        )
        cases = [
            BareCase(
                source=str(r.source),
                received_at=r.received_at,
                account=r.account,
                line=r.line.value,
                customer_name=r.customer_name,
                typification=r.typification,
                request=r.request,
                follow_up_at=r.follow_up_at,
                front_agent=r.front_agent,
                recommended_by=r.recommended_by,
                actor=str(INTAKE),
            )
            for r in records
        ]
        self.app.save(*cases)
        self.ids = [c.id for c in cases]

    def command(self, i: int) -> None:
        case: BareCase = self.app.repository.get(self.ids[i % len(self.ids)])
        case.add_note(text=note(i), folder=NoteFolder.RR_NOTES.value, actor=AGENT)
        self.app.save(case)

    def close(self) -> None:
        self.app.close()


# --- 3. raw sqlite3, event-sourced -----------------------------------------------------------


class RawSqliteVariant:
    name = "raw sqlite3 (SELECT events, INSERT 1)"

    def __init__(self, root: Path, records: Sequence[IntakeRecord]) -> None:
        self.conn = connect(root / "raw.sqlite")
        self.conn.execute(EVENTS_TABLE)
        rows = []
        for record in records:
            ingested = ingested_event(record)
            state = stored_state(event_payload(ingested))
            rows.append((ingested.originator_id.hex, 1, TOPICS[Ingested], state))
        self.conn.execute("BEGIN")
        self.conn.executemany(INSERT_EVENT, rows)
        self.conn.execute("COMMIT")
        self.ids = [row[0] for row in rows]
        self.topic = TOPICS[NoteAdded]

    def command(self, i: int) -> None:
        case_id = self.ids[i % len(self.ids)]
        rows = self.conn.execute(SELECT_CASE, (case_id,)).fetchall()
        history = [json.loads(state) for _, _, state in rows]  # a load decodes what it reads
        assert history
        state = note_state(note(i), T0)
        self.conn.execute("BEGIN")
        self.conn.execute(INSERT_EVENT, (case_id, rows[-1][0] + 1, self.topic, state))
        self.conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()


# --- 4. plain CRUD ---------------------------------------------------------------------------

CRUD_TABLES = (
    "CREATE TABLE cases (case_id TEXT PRIMARY KEY, source_key TEXT NOT NULL,"
    " received_at TEXT NOT NULL, account TEXT NOT NULL, line TEXT NOT NULL,"
    " customer_name TEXT NOT NULL, typification TEXT NOT NULL, request TEXT NOT NULL,"
    " follow_up_at TEXT, front_agent TEXT, recommended_by TEXT, status TEXT NOT NULL,"
    " notes INTEGER NOT NULL DEFAULT 0, opened_at TEXT NOT NULL, updated_at TEXT NOT NULL,"
    " version INTEGER NOT NULL)",
    "CREATE TABLE case_history (id INTEGER PRIMARY KEY, case_id TEXT NOT NULL,"
    " version INTEGER NOT NULL, at TEXT NOT NULL, actor TEXT NOT NULL, change TEXT NOT NULL)",
    "CREATE INDEX case_history_case ON case_history (case_id, version)",
)


class CrudVariant:
    name = "plain CRUD (UPDATE row + history row)"

    def __init__(self, root: Path, records: Sequence[IntakeRecord]) -> None:
        self.conn = connect(root / "crud.sqlite")
        for statement in CRUD_TABLES:
            self.conn.execute(statement)
        at = T0.isoformat()
        rows = [
            (
                r.source.case_id().hex,
                str(r.source),
                r.received_at.isoformat(),
                r.account,
                r.line.value,
                r.customer_name,
                r.typification,
                r.request,
                r.follow_up_at.isoformat() if r.follow_up_at else None,
                r.front_agent,
                r.recommended_by,
                at,
                at,
            )
            for r in records
        ]
        self.conn.execute("BEGIN")
        self.conn.executemany(
            "INSERT INTO cases (case_id, source_key, received_at, account, line, customer_name,"
            " typification, request, follow_up_at, front_agent, recommended_by, status,"
            " opened_at, updated_at, version) VALUES (?,?,?,?,?,?,?,?,?,?,?,'open',?,?,1)",
            rows,
        )
        self.conn.execute("COMMIT")
        self.ids = [row[0] for row in rows]

    def command(self, i: int) -> None:
        case_id = self.ids[i % len(self.ids)]
        at = T0.isoformat()
        change = json.dumps(
            {"text": note(i), "folder": NoteFolder.RR_NOTES.value},
            ensure_ascii=False,
        )
        self.conn.execute("BEGIN")
        status, version = self.conn.execute(
            "SELECT status, version FROM cases WHERE case_id = ?", (case_id,)
        ).fetchone()
        assert status == "open"
        self.conn.execute(
            "UPDATE cases SET notes = notes + 1, updated_at = ?, version = version + 1"
            " WHERE case_id = ?",
            (at, case_id),
        )
        self.conn.execute(
            "INSERT INTO case_history (case_id, version, at, actor, change) VALUES (?, ?, ?, ?, ?)",
            (case_id, version + 1, at, AGENT, change),
        )
        self.conn.execute("COMMIT")

    def close(self) -> None:
        self.conn.close()


# --- the harness -----------------------------------------------------------------------------


@dataclass
class Timing:
    wall: list[float]
    """Seconds per command, one value per round."""
    cpu: list[float]

    @property
    def per_command(self) -> float:
        return median(self.wall)

    @property
    def cpu_per_command(self) -> float:
        return median(self.cpu)


def measure(variants: Sequence[Variant], sizes: Sizes) -> dict[str, Timing]:
    counters = dict.fromkeys((v.name for v in variants), 0)
    timings = {v.name: Timing([], []) for v in variants}

    def block(variant: Variant, count: int) -> tuple[float, float]:
        start = counters[variant.name]
        wall, cpu = time.perf_counter(), time.process_time()
        for i in range(start, start + count):
            variant.command(i)
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        counters[variant.name] = start + count
        return wall, cpu

    for variant in variants:
        block(variant, sizes.warmup)
    for round_no in range(sizes.rounds):
        shift = round_no % len(variants)
        for variant in [*variants[shift:], *variants[:shift]]:
            wall, cpu = block(variant, sizes.per_round)
            timings[variant.name].wall.append(wall / sizes.per_round)
            timings[variant.name].cpu.append(cpu / sizes.per_round)
    return timings


def cost_rows(
    section: Section,
    on: ApplicationVariant,
    off: ApplicationVariant,
    sizes: Sizes,
    words: str,
    target: float,
) -> None:
    """Part (a)'s `add_note` timed on `on` and `off` (closed afterwards), as two rows: the
    wall time with its target, and the CPU time (`words`: "chain on / off", ...)."""
    try:
        timings = measure([on, off], sizes)
    finally:
        on.close()
        off.close()
    with_it, without = timings[on.name], timings[off.name]
    cost = with_it.per_command / without.per_command
    section.add(
        f"agent command (`add_note`), wall time, {words}",
        f"{with_it.per_command * 1e6:,.0f} µs",
        f"{without.per_command * 1e6:,.0f} µs",
        ratio(cost),
        f"≤ {target}×",
        verdict(cost <= target),
    )
    section.add(
        f"agent command, CPU time, {words}",
        f"{with_it.cpu_per_command * 1e6:,.0f} µs",
        f"{without.cpu_per_command * 1e6:,.0f} µs",
        ratio(with_it.cpu_per_command / without.cpu_per_command),
    )


def run(root: Path, quick: bool) -> Section:
    sizes = QUICK if quick else FULL
    records = intake_records(sizes.cases)
    section = Section("(a) Agent commands per second (add a note to an open case)")
    started = time.perf_counter()
    variants: list[Variant] = []
    try:
        for cls in (ApplicationVariant, BareLibraryVariant, RawSqliteVariant, CrudVariant):
            variants.append(cls(root, records))
        setup = time.perf_counter() - started
        timings = measure(variants, sizes)
    finally:
        for variant in variants:
            variant.close()

    app, bare, raw, crud = (timings[v.name] for v in variants)
    for variant in variants:
        t = timings[variant.name]
        section.add(
            f"{variant.name}: commands/s",
            rate(1 / t.per_command),
            "",
            "",
            "",
            "",
        )
    overhead = app.per_command / bare.per_command
    section.add(
        "app / bare library, wall time per command",
        f"{app.per_command * 1e6:,.0f} µs",
        f"{bare.per_command * 1e6:,.0f} µs",
        ratio(overhead),
        f"≤ {TARGET_OVERHEAD}×",
        verdict(overhead <= TARGET_OVERHEAD),
    )
    section.add(
        "app / bare library, CPU time per command",
        f"{app.cpu_per_command * 1e6:,.0f} µs",
        f"{bare.cpu_per_command * 1e6:,.0f} µs",
        ratio(app.cpu_per_command / bare.cpu_per_command),
    )
    for label, base in (("raw sqlite3", raw), ("plain CRUD", crud)):
        section.add(
            f"app / {label}, wall time per command",
            f"{app.per_command * 1e6:,.0f} µs",
            f"{base.per_command * 1e6:,.0f} µs",
            ratio(app.per_command / base.per_command),
        )
        section.add(
            f"app / {label}, CPU time per command",
            f"{app.cpu_per_command * 1e6:,.0f} µs",
            f"{base.cpu_per_command * 1e6:,.0f} µs",
            ratio(app.cpu_per_command / base.cpu_per_command),
        )
    total = sizes.warmup + sizes.rounds * sizes.per_round
    section.note(
        f"{sizes.cases:,} cases ingested per variant first (one batch, not timed; setup took "
        f"{setup:.1f} s), then {total:,} commands each, round-robin over the cases "
        f"({sizes.warmup} warm-up, then {sizes.rounds} interleaved rounds of "
        f"{sizes.per_round}); medians of the rounds. Every command commits its own transaction."
    )
    section.note(
        "Same SQLite settings everywhere: a file per variant in one temporary directory, WAL, "
        "the library's default `synchronous` (so each commit waits for an fsync); CPU time "
        "(`time.process_time`) leaves the fsync wait out and shows the code's own cost."
    )
    section.note(
        "raw sqlite3 decodes the case's rows with `json.loads` before inserting; plain CRUD "
        "reads the case row (status, version), updates it in place and adds a history row."
    )
    return section
