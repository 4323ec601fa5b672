"""The account check of every HTTP request, alone: its time and its statements.

    .venv/bin/python -m bench.http_account_check [--checks 400] [--database-url URL]

What `Asking.principal` asks of `Accounts` on each request (`principal(login)` for a session,
`authenticate_token(secret)` for a bearer token), timed in process over a real office (SQLite
in a temporary folder, or a PostgreSQL database given by its URL, which must be empty), in
the situations a server meets:

- before any roster is imported, the log unchanged since the last request, or moved (another
  request recorded an event in between: one note, untimed);
- once a roster is in use, the same two;
- a token instead of a session, with a roster in use and the log moved.

Each check is counted in SQL statements sent (`psycopg`'s `Cursor.execute` on PostgreSQL, a
round trip each; on SQLite every statement the library runs, `BEGIN` and `ROLLBACK`
included, through a trace callback), and timed (median and p90 after `WARMUP` checks, µs).
"""

from __future__ import annotations

import argparse
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import argon2

from adapters.accounts import Argon2Hasher
from adapters.intake.team import RosterReader
from application.case.commands import AddNote, AssignCase
from application.team.imports import import_roster
from bench.common import billing_record
from domain.values import Actor
from entrypoints import bootstrap
from entrypoints.settings import load_settings

LOGIN = "bench.check"
WARMUP = 20
PASSWORD = "a password for the bench"


class Statements:
    """The SQL statements sent while `counting` is on."""

    def __init__(self) -> None:
        self.count = 0
        self.counting = False

    def seen(self, *_: Any) -> None:
        if self.counting:
            self.count += 1


def count_statements(statements: Statements) -> None:
    """Every new SQLite connection traced, every psycopg statement counted."""
    connect = sqlite3.connect

    def traced(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        connection: sqlite3.Connection = connect(*args, **kwargs)
        connection.set_trace_callback(statements.seen)
        return connection

    sqlite3.connect = traced  # type: ignore[assignment]
    try:
        import psycopg
    except ImportError:  # pragma: no cover - PostgreSQL's driver is a dependency
        return
    execute = psycopg.Cursor.execute

    def counted(self: Any, *args: Any, **kwargs: Any) -> Any:
        statements.seen()
        return execute(self, *args, **kwargs)

    psycopg.Cursor.execute = counted  # type: ignore[method-assign]


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.http_account_check")
    parser.add_argument("--checks", type=int, default=400)
    parser.add_argument("--database-url", default="sqlite", help="sqlite, or postgresql://…")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    statements = Statements()
    count_statements(statements)
    with tempfile.TemporaryDirectory() as folder:
        settings = load_settings(
            environ={}, data_dir=str(Path(folder) / "data"), database_url=args.database_url
        )
        office = bootstrap.bootstrap(settings)
        now = office.clock.now()
        record = billing_record("CHK", 1, now)
        office.ingest([record])
        case = record.source.case_id()
        actor = Actor.agent(LOGIN)
        office.handle(AssignCase(case=case, agent=LOGIN), actor)
        accounts = bootstrap.accounts(
            office, settings, hasher=Argon2Hasher(argon2.profiles.CHEAPEST)
        )
        accounts.add(LOGIN, "agent", "Agente del banco", PASSWORD)
        _, secret = accounts.issue_token(LOGIN, "all")

        notes = iter(range(1_000_000))

        def move() -> None:  # a note like no other (the same note again records nothing)
            office.handle(AddNote(case=case, text=f"Nota del banco {next(notes)}"), actor)

        def session() -> object:
            return accounts.principal(LOGIN)

        def token() -> object:
            return accounts.authenticate_token(secret)

        rows: list[tuple[str, float, float, float]] = []

        def measure(what: str, check: Callable[[], object], between: Callable[[], None]) -> None:
            times: list[float] = []
            counts: list[int] = []
            for _ in range(args.checks):
                between()
                statements.count, statements.counting = 0, True
                started = time.perf_counter()
                check()
                elapsed = time.perf_counter() - started
                statements.counting = False
                times.append(elapsed)
                counts.append(statements.count)
            kept = sorted(times[WARMUP:])
            p90 = kept[int(0.9 * (len(kept) - 1))]
            rows.append((what, statistics.mean(counts[WARMUP:]), statistics.median(kept), p90))

        def nothing() -> None:
            pass

        measure("session, no roster, log unchanged", session, nothing)
        measure("session, no roster, log moved", session, move)
        roster = Path(folder) / "roster.csv"
        roster.write_text(
            "asesor;equipo;cargo;fecha_ingreso;fecha_retiro;motivo_retiro\n"
            f"{LOGIN};Premium Hogar;Asesor;03/03/2025;;\n",
            encoding="utf-8",
        )
        import_roster(office, RosterReader(roster).items())
        measure("session, roster in use, log unchanged", session, nothing)
        measure("session, roster in use, log moved", session, move)
        measure("token, roster in use, log moved", token, move)
        accounts.close()
        office.close()
    print(f"{'check':40} {'statements':>10} {'median µs':>10} {'p90 µs':>10}")
    for what, count, median, p90 in rows:
        print(f"{what:40} {count:10.2f} {median * 1e6:10.1f} {p90 * 1e6:10.1f}")


if __name__ == "__main__":
    main()
