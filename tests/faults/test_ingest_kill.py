"""`backoffice ingest` killed with SIGKILL at random moments, then run again to the end, records
exactly what one uninterrupted run records; a further run records nothing.

Given a week of CRM exports (3,200 rows in six files, each its own batch and transaction:
Excel's cp1252 `;` CSV, JSON Lines, UTF-8 `,` CSV, a gzipped CSV; 1,000 accounts, so about a
third of the rows are repeat contacts, many on earlier files' cases; 40 of Monday's rows
exported again on Tuesday; a few rows with an impossible date, rejected), when one `ingest` of
the six runs uninterrupted into one back office and, into another, `ingest` is killed three
times (once the log has grown, a few milliseconds later; or at a random time; at least one kill
between the import's first write and its last) and then run to its end, then every case's
history is the same in both, event for event (type, case id, version, time, actor and data:
the clock is fixed); the case index is what a rebuild gives and the same in both; and a
further run reads every row as already known and adds nothing.

(Under 10,000 rows an import has one batch per file and no index worker; the suite keeps to
that size to stay within its time.)
"""

from __future__ import annotations

import csv
import gzip
import io
import json
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

import orjson

from tests.faults.conftest import NewTarget
from tests.faults.harness import (
    LogLength,
    Started,
    Target,
    Trigger,
    after,
    case_events,
    cli_env,
    described,
    differences,
    index_and_rebuilt,
    index_snapshot,
    killed_runs,
    opened,
    run,
    version_problems,
)

NOW = datetime(2026, 7, 20, 13, 0, tzinfo=UTC)
SEEDS = {"sqlite": 20260720, "postgres": 20260721}
ACCOUNTS = 1_000
KILLS = 3
HEADER = [
    "caso", "fecha_ingreso", "cuenta", "línea", "cliente", "tipificación", "solicitud",
    "fecha_seguimiento", "asesor_front", "recomendado_por", "cun", "fecha_radicacion",
]  # fmt: skip
TYPIFICATIONS = (
    "Facturación - cobro no reconocido",
    "Soporte - falla internet",
    "Cartera - suspensión",
    "Soporte - falla TV",
    "Ventas - cambio de plan",
)
NAMES = ("Ana María Peña", "Jorge Núñez", "Lucía Ibáñez", "Camilo Rengifo", "Sofía Gómez")
FRONT = ("front.lrojas", "front.mgil", "front.dpardo", "front.acano")
START = datetime(2026, 7, 13, 7, 0)  # Bogotá time, as the CRM writes it


def _row(rng: random.Random, number: int, minute: int) -> list[str]:
    account = 80_000_000 + rng.randrange(ACCOUNTS)
    received = START + timedelta(minutes=minute)
    follow_up = ""
    if rng.random() < 0.7:
        due = received + timedelta(days=rng.randint(1, 4), hours=rng.randint(0, 5))
        follow_up = (
            due.strftime("%d/%m/%Y") if rng.random() < 0.2 else due.strftime("%d/%m/%Y %H:%M")
        )
    cun = filed = ""
    if rng.random() < 0.04:
        cun = f"4436-26-{number:010d}"
        filed = (received - timedelta(hours=2)).strftime("%d/%m/%Y %H:%M")
    request = f"Solicitud {number}: no reconoce el cobro de señal"
    if rng.random() < 0.05:
        request += "\nsegunda línea de la observación"
    return [
        f"CRM-{number}",
        # about one row in 400 has an impossible date: rejected, the rest kept (exit 4)
        "31/02/2026 10:00" if rng.random() < 0.0025 else received.strftime("%d/%m/%Y %H:%M"),
        str(account),
        "hogar" if account % 2 else "móvil",
        f"{rng.choice(NAMES)} {number}",
        rng.choice(TYPIFICATIONS),
        request,
        follow_up,
        rng.choice(FRONT),
        "gerencia.premium@claro.example.co" if rng.random() < 0.03 else "",
        cun,
        filed,
    ]


EXPORTS = (
    # name, rows, how it is written
    ("crm_lunes.csv", 1_000, "cp1252;"),
    ("crm_martes.jsonl", 500, "jsonl"),
    ("crm_miercoles.csv", 450, "utf-8,"),
    ("crm_jueves.csv.gz", 450, "gzip;"),
    ("crm_viernes.jsonl", 400, "jsonl"),
    ("crm_sabado.csv", 400, "utf-8,"),
)
RE_EXPORTED = 40
"""Rows of the first file exported again in the second: already known."""


def make_exports(folder: Path, seed: int) -> list[Path]:
    """The week's CRM exports: accounts shared across files (repeat contacts on earlier
    files' cases), a few rows re-exported, a few rejected."""
    rng = random.Random(seed)
    folder.mkdir(parents=True, exist_ok=True)
    paths, first, minute = [], [], 0
    for number, (name, count, kind) in enumerate(EXPORTS):
        rows = [_row(rng, 100_000 * (number + 4) + n, minute + n) for n in range(count)]
        minute += count
        if number == 0:
            first = rows
        if number == 1:  # some of Monday's cases, exported again on Tuesday
            rows[:RE_EXPORTED] = [list(row) for row in rng.sample(first, RE_EXPORTED)]
            rng.shuffle(rows)
        path = folder / name
        if kind == "jsonl":
            path.write_bytes(
                b"".join(orjson.dumps(dict(zip(HEADER, r, strict=True))) + b"\n" for r in rows)
            )
        else:
            encoding = "cp1252" if kind.startswith("cp1252") else "utf-8"
            text = io.StringIO(newline="")
            writer = csv.writer(text, delimiter=kind[-1])
            writer.writerow(HEADER)
            writer.writerows(rows)
            data = text.getvalue().encode(encoding)
            path.write_bytes(gzip.compress(data, mtime=0) if kind.startswith("gzip") else data)
        paths.append(path)
    return paths


def test_an_ingest_killed_at_random_moments_ends_as_one_uninterrupted_run(
    backend: str, new_target: NewTarget, tmp_path: Path
) -> None:
    rng = random.Random(SEEDS[backend])
    exports = [str(p) for p in make_exports(tmp_path / "exports", SEEDS[backend])]
    args = ["ingest", *exports, "--json"]
    logs = tmp_path / "logs"

    reference, killed = new_target("reference"), new_target("killed")
    uninterrupted = Started(args, cli_env(reference, NOW), logs)  # meanwhile, on the other core
    env = cli_env(killed, NOW)
    length = LogLength(killed)

    def trigger(n: int, seconds: float) -> Trigger:
        if n % 2:
            return after(rng.uniform(0.2, 0.7) * seconds)
        # once the next file's cases are in, or a few milliseconds later
        return length.reaches(length() + 1, then=rng.uniform(0.0, 0.05))

    try:
        runs = killed_runs(args, env, logs, kills=KILLS, trigger=trigger, measure=length,
                           typical=uninterrupted.seconds)  # fmt: skip
    finally:
        length.close()
        whole = uninterrupted.finish()
    assert whole.returncode == 4, whole.describe()  # the bad rows rejected, the rest kept
    report = json.loads(whole.stdout)
    assert report["rejected_count"] > 0
    assert report["created"] > 0
    assert report["repeat_contacts"] > 0
    counted = LogLength(reference)
    final = counted()
    counted.close()
    said = described(runs, f"events of {final} in the log after it:")
    assert all(r.killed or r.returncode == 4 for r, _ in runs), said
    assert sum(r.killed for r, _ in runs) == KILLS, said
    # at least one kill came between the import's first write and its last
    assert any(r.killed and 0 < n < final for r, n in runs), said
    completed = run(args, env, logs)
    assert completed.returncode == 4, completed.describe()
    assert json.loads(completed.stdout)["rejected_count"] == report["rejected_count"]

    with opened(reference, NOW) as office:
        expected = case_events(office)
        expected_index = index_snapshot(office)
    with opened(killed, NOW) as office:
        actual = case_events(office)
        caught_up, rebuilt = index_and_rebuilt(office)
    assert all(e.timestamp == NOW for events in expected.values() for e in events)
    assert version_problems(actual) == []
    assert len(actual) == len(expected)
    assert differences(expected, actual) == []
    assert caught_up == rebuilt
    assert caught_up == expected_index

    assert_second_run_adds_nothing(args, env, logs, killed, report["read"])


def assert_second_run_adds_nothing(
    args: list[str], env: dict[str, str], logs: Path, target: Target, rows: int
) -> None:
    with opened(target, NOW) as office:
        before = case_events(office), office.store.last_position()
    again = run(args, env, logs)
    assert again.returncode == 4, again.describe()
    second = json.loads(again.stdout)
    assert (second["created"], second["repeat_contacts"]) == (0, 0)
    assert second["already_known"] == second["read"] == rows
    with opened(target, NOW) as office:
        assert (case_events(office), office.store.last_position()) == before
