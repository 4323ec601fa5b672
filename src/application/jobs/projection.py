"""Catching a read model up with the log: the one loop every projection runs.

Used by the back office (`Backoffice.catch_up`, `rebuild`) and by the index worker that keeps
the case index up beside a large import in a process of its own (`entrypoints.index_worker`).
"""

from __future__ import annotations

from collections.abc import Callable

from application.collector import collector_paused
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
