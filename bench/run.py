"""The project's benchmark. Every figure is compared with a baseline measured in the same run.

    .venv/bin/python -m bench.run [--quick] [--only a,b,c] [--nyc PATH] [--profile]
                                  [--out bench/results/latest.md]

(a) agent commands per second: the application vs the bare eventsourcing library, raw sqlite3
    and plain CRUD, on the same SQLite (file, WAL);
(b) bulk import of the NYC Council casework file mapped onto a CRM export (skipped when the
    file is absent): cases/s and peak RSS, vs reading only and raw sqlite3 inserts;
(c) read latency of a 50-event case on a ~10k-event store vs a ~1M-event store;
(d) projection rebuild from zero (case index, indicators) vs reading the raw log;
(e) a 10,000-event case (`office.case`, `case show`, `case history`: latency, wall time, peak
    RSS against a 1,000-event case) and `cases --json` over 10,000 cases, vs plain json.dumps;
(f) concurrent agents over HTTP: `backoffice serve` on SQLite and on PostgreSQL (a fresh
    database, dropped after; skipped without a server at 127.0.0.1:5432), 1, 25, 50 and 100
    simulated agents (queue, case, note, follow-up, closing): throughput and p50/p95/p99 per
    route, vs the same operations through the embedding API; errors and lost writes;
(g) the tamper-evidence chain's cost: commands, a bulk import and a case index rebuild with
    the chain on / off;
(h) the console's pages on a 1M-event store (SQLite), rendered in process through the
    application: the supervisor's board and a case page, p50/p95, vs the same reads through
    the HTTP API in the same run (`--quick`: a 100k-event store);
(i) encryption at rest's cost: commands, a bulk import and a case index rebuild with an
    encryption key set and without;
(j) erasable personal data's cost: the same with personal-data encryption (each personal
    field sealed with its data subject's key) on and off.

The full run takes a few minutes on two cores; `--quick` (smaller sizes, 30k import rows)
about a minute. A Markdown report goes to stdout and to `--out`. SQLite files live in fresh
temporary directories, removed at the end.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

from bench import (
    at_rest,
    chain,
    commands,
    console_pages,
    http_agents,
    imports,
    long_cases,
    nyc,
    personal,
    projections,
    reads,
)
from bench.common import REPO_ROOT, Section, machine, temp_dir

PARTS = ("a", "b", "c", "d", "e", "f", "g", "h", "i", "j")
DEFAULT_OUT = REPO_ROOT / "bench" / "results" / "latest.md"


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.run", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="smaller sizes (about a minute)")
    parser.add_argument(
        "--only",
        default=",".join(PARTS),
        help=f"parts to run, comma-separated (default {','.join(PARTS)})",
    )
    parser.add_argument(
        "--nyc", type=Path, default=nyc.DEFAULT_PATH, help="the NYC Council casework .csv.gz"
    )
    parser.add_argument(
        "--profile",
        action="store_true",
        help=f"also cProfile a {imports.PROFILE_ROWS:,}-row import (part b) and show the top "
        f"{imports.PROFILE_TOP} functions",
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="where to write the report")
    args = parser.parse_args(argv)
    args.only = [p.strip().lower() for p in args.only.split(",") if p.strip()]
    unknown = sorted(set(args.only) - set(PARTS))
    if unknown or not args.only:
        parser.error(f"--only takes a comma-separated subset of {','.join(PARTS)}")
    return args


def header(args: argparse.Namespace, argv: Sequence[str], durations: dict[str, float]) -> str:
    facts = machine(Path(tempfile.gettempdir()))
    command = " ".join(["python -m bench.run", *argv])
    lines = [
        "# Benchmark: premium-backoffice",
        "",
        f"`{command}` ({'quick' if args.quick else 'full'} run; "
        + ", ".join(f"part ({p}) {s:,.0f} s" for p, s in durations.items())
        + f"; total {sum(durations.values()):,.0f} s)",
        "",
        "| machine | |",
        "|---|---|",
        *(f"| {key} | {value} |" for key, value in facts.items()),
        "",
        "Ratios compare with baselines measured in the same run, on the same machine: the "
        "machine is shared and noisy, so absolute numbers move from run to run.",
        "",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    args = parse_args(argv)
    sections: list[Section] = []
    durations: dict[str, float] = {}
    profile: str | None = None
    for part in PARTS:
        if part not in args.only:
            continue
        print(f"part ({part}) …", file=sys.stderr, flush=True)
        started = time.perf_counter()
        with temp_dir(part) as root:
            if part == "a":
                sections.append(commands.run(root, args.quick))
            elif part == "b":
                section, profile = imports.run(root, args.quick, args.nyc, args.profile)
                sections.append(section)
            elif part == "c":
                sections.append(reads.run(root, args.quick))
            elif part == "d":
                sections.append(projections.run(root, args.quick))
            elif part == "e":
                sections.append(long_cases.run(root, args.quick))
            elif part == "f":
                sections.append(http_agents.run(root, args.quick))
            elif part == "g":
                sections.append(chain.run(root, args.quick, args.nyc))
            elif part == "h":
                sections.append(console_pages.run(root, args.quick))
            elif part == "i":
                sections.append(at_rest.run(root, args.quick, args.nyc))
            else:
                sections.append(personal.run(root, args.quick, args.nyc))
        durations[part] = time.perf_counter() - started
        print(f"part ({part}) done in {durations[part]:,.1f} s", file=sys.stderr, flush=True)

    report = "\n".join([header(args, argv, durations), *(s.markdown() for s in sections)])
    if profile:
        report += "\n## Where the import's time goes\n\n" + profile
    print(report)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(report, encoding="utf-8")
    print(f"report written to {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
