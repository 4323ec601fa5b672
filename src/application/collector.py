"""Python's cycle collector paused while large batches of young objects are alive.

An intake run or a catch-up keeps tens of thousands of young objects alive at a time (records,
events, rows), none in a reference cycle: the collector would traverse them again and again for
nothing (about a tenth of a large import's time, a third of a catch-up's decoding). Reference
counting still frees everything as usual.
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager


class _CollectorPause:
    """The pause, shared by every run in the process.

    Nested and concurrent runs share one pause; the last one out re-enables the collector if
    it was enabled before the first one came in.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._runs = 0
        self._was_enabled = True

    @contextmanager
    def __call__(self) -> Iterator[None]:
        with self._lock:
            if self._runs == 0:
                self._was_enabled = gc.isenabled()
                gc.disable()
            self._runs += 1
        try:
            yield
        finally:
            with self._lock:
                self._runs -= 1
                if self._runs == 0 and self._was_enabled:
                    gc.enable()


collector_paused = _CollectorPause()
"""`with collector_paused(): ...` around a run that holds large batches."""
