"""`Ticker` on APScheduler 3.11 (its background scheduler and thread pool).

APScheduler only ticks: it keeps no job store of its own (the event store is the only source
of truth for what is due), so several workers never share scheduler state.
"""

from __future__ import annotations

from collections.abc import Callable

from apscheduler.schedulers.background import BackgroundScheduler


class ApschedulerTicker:
    def __init__(self) -> None:
        self._scheduler = BackgroundScheduler(timezone="UTC")

    def every(self, seconds: float, name: str, job: Callable[[], object]) -> None:
        self._scheduler.add_job(
            job,
            "interval",
            seconds=seconds,
            id=name,
            name=name,
            max_instances=1,
            coalesce=True,
            misfire_grace_time=None,
        )

    def start(self) -> None:
        self._scheduler.start()

    def stop(self) -> None:
        if self._scheduler.running:
            self._scheduler.shutdown(wait=True)
