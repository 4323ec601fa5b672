"""This process's memory as Linux reports it (`/proc/self/status`), in KiB; 0 elsewhere.

VmHWM (the peak) belongs to the current memory map only, unlike `getrusage(RUSAGE_SELF)`: a
child started by fork + exec does not inherit its parent's peak. The index worker reports it;
the benchmark measures with it.
"""

from __future__ import annotations


def resident_kib() -> int:
    """The resident set size now (VmRSS)."""
    return _status_kib("VmRSS")


def peak_resident_kib() -> int:
    """The peak resident set size (VmHWM)."""
    return _status_kib("VmHWM")


def _status_kib(key: str) -> int:
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0
