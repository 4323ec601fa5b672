"""Catching a read model up with the log: the one loop every projection runs; and the pause
of Python's cycle collector that it and an intake run hold while their batches are alive.

Used by the back office (`Backoffice.catch_up`, `rebuild`) and by the index worker that keeps
the case index up beside a large import in a process of its own (`entrypoints.index_worker`).

An intake run or a catch-up keeps tens of thousands of young objects alive at a time (records,
events, rows), none in a reference cycle: the collector would traverse them again and again for
nothing (about a tenth of a large import's time, a third of a catch-up's decoding). Reference
counting still frees everything as usual (`collector_paused`).
"""

from __future__ import annotations

import gc
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from application.indicators.report import IndicatorView
from application.ports.cases import CaseIndex, CaseStore, ConcurrencyConflict


def catch_up(
    store: CaseStore,
    view: CaseIndex | IndicatorView,
    batch_size: int,
    progress: Callable[[int], None] | None = None,
) -> int:
    """Project the log into `view` up to its newest event as of now; returns how many
    positions of the log the view moved past. Events of kinds the view does not use are
    skipped by the store, unread. Another projector working on the same view at the same
    time is not an error: this one reads on from wherever the view has got to."""
    applied = 0
    head = store.last_position()
    with collector_paused():
        while (start := view.position()) < head:
            batch = store.read_log(start, batch_size, through=head, kinds=view.kinds)
            through = batch[-1].position if len(batch) == batch_size else head
            try:
                view.project(batch, through, after=start)
            except ConcurrencyConflict:
                if view.position() == start:
                    raise  # nobody moved the view: not a race but a real conflict
                continue  # another process projected them first: read on from its position
            applied += through - start
            if progress is not None:
                progress(through)
    return applied


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
"""`with collector_paused(): ...` around a run that holds large batches (a catch-up, an
intake run: `application.intake.ingestion`)."""
