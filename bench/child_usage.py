"""Run one command in a process of its own and report its wall time and peak memory.

    python -m bench.child_usage OUT_FILE -- COMMAND [ARG …]

The command's stdout goes to OUT_FILE, its stderr is kept. Prints one JSON object: the
seconds from start to exit, `getrusage(RUSAGE_CHILDREN).ru_maxrss` (KiB) and the exit code.

Why a process in between: on Linux a child's `ru_maxrss` starts at the resident size of the
process that started it (exec records the old memory map's high-water mark), and
RUSAGE_CHILDREN is the largest of every child that ended. This small process has started
nothing else and is itself smaller than any command measured, so what it reports is the
command's own peak. Standard library only, to stay small.
"""

from __future__ import annotations

import json
import resource
import subprocess
import sys
import time


def main(argv: list[str] | None = None) -> int:
    args = list(sys.argv[1:] if argv is None else argv)
    if len(args) < 3 or args[1] != "--":
        print("usage: python -m bench.child_usage OUT_FILE -- COMMAND [ARG …]", file=sys.stderr)
        return 2
    out, command = args[0], args[2:]
    with open(out, "wb") as sink:
        started = time.perf_counter()
        done = subprocess.run(command, stdout=sink, stderr=subprocess.PIPE, check=False)
        elapsed = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    result = {
        "seconds": elapsed,
        "max_rss_kib": usage.ru_maxrss,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,
        "returncode": done.returncode,
        "stderr": done.stderr.decode("utf-8", "replace")[-2_000:],
    }
    json.dump(result, sys.stdout)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
