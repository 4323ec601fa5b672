"""One timed CRM import in a process of its own, so that its peak memory is its own.

    python -m bench.import_child EXPORT.csv DATA_DIR [--index-worker on|off] [--profile TOP]
                                 [--chain on|off] [--encryption on|off] [--personal on|off]

Prints one JSON object: the ingest report, the seconds it took, the process's peak RSS
(VmHWM), the index worker's own summary when one ran (the log positions it projected, its
peak RSS) and, with `--profile`, the top functions of this process by own time (cProfile).
"""

from __future__ import annotations

import argparse
import cProfile
import io
import json
import pstats
import sys
import time
from pathlib import Path

from adapters.clock import FixedClock
from adapters.eventstore.cipher import new_key
from adapters.intake.crm_export import CrmExportReader
from application.ports.cases import IndexWorker
from bench.common import T0, peak_rss_kib
from entrypoints.bootstrap import bootstrap
from entrypoints.index_worker import ProcessIndexWorker
from entrypoints.settings import load_settings


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.import_child")
    parser.add_argument("export", type=Path)
    parser.add_argument("data_dir", type=Path)
    parser.add_argument("--index-worker", choices=("on", "off"), default="on")
    parser.add_argument("--profile", type=int, default=0, metavar="TOP")
    parser.add_argument("--chain", choices=("on", "off"), default="on")
    parser.add_argument("--encryption", choices=("on", "off"), default="off")
    parser.add_argument("--personal", choices=("on", "off"), default="on")  # part (j)
    args = parser.parse_args(argv)
    if args.chain == "off":  # part (g): the tamper-evidence chain's cost
        from adapters.eventstore.sqlite_recorder import BulkSQLiteApplicationRecorder

        BulkSQLiteApplicationRecorder.chain = False

    # Part (i): encryption at rest with a fresh key, made here (never on a command line).
    key = new_key() if args.encryption == "on" else None
    settings = load_settings(
        environ={},
        data_dir=args.data_dir,
        database_url="sqlite",
        index_worker=args.index_worker,
        encryption_key=key,
        personal_data_encryption=args.personal,
    )
    profiler = cProfile.Profile() if args.profile else None
    workers: list[ProcessIndexWorker] = []
    with bootstrap(settings, clock=FixedClock(T0)) as office:
        start = office.index_worker
        if start is not None:

            def start_kept() -> IndexWorker | None:
                worker = start()
                if isinstance(worker, ProcessIndexWorker):
                    workers.append(worker)
                return worker

            office.index_worker = start_kept
        reader = CrmExportReader(args.export)
        started = time.perf_counter()
        if profiler is not None:
            profiler.enable()
        report = office.ingest(reader.items())
        if profiler is not None:
            profiler.disable()
        elapsed = time.perf_counter() - started
        events = office.store.last_position()

    result: dict[str, object] = {
        "seconds": elapsed,
        "read": report.read,
        "created": report.created,
        "repeat_contacts": report.repeat_contacts,
        "already_known": report.already_known,
        "rejected": report.rejected_count,
        "first_rejections": [str(r) for r in report.rejected[:3]],
        "events": events,
        "peak_rss_kib": peak_rss_kib(),
        "worker": [w.summary for w in workers],
    }
    if profiler is not None:
        out = io.StringIO()
        stats = pstats.Stats(profiler, stream=out)
        stats.sort_stats(pstats.SortKey.TIME).print_stats(args.profile)
        result["profile"] = out.getvalue()
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
