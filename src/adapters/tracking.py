"""A consumer's position in the global log, on eventsourcing's tracking table.

Single-row tracking: the position only moves forward, in its own transaction; recording a
position at or behind the current one is refused (`ConcurrencyConflict`).
"""

from __future__ import annotations

from collections.abc import Mapping

from eventsourcing.persistence import InfrastructureFactory, IntegrityError, Tracking
from eventsourcing.utils import Environment

from adapters.sql_view import UPSTREAM
from application.ports.cases import ConcurrencyConflict


class TrackedPosition:
    """Implements `application.jobs.outbox.PositionTracker` for the consumer named `name`."""

    def __init__(self, env: Mapping[str, str], name: str) -> None:
        self.factory = InfrastructureFactory.construct(Environment(name, dict(env)))
        self.recorder = self.factory.tracking_recorder()

    def position(self) -> int:
        return self.recorder.max_tracking_id(UPSTREAM) or 0

    def advance(self, position: int) -> None:
        try:
            self.recorder.insert_tracking(Tracking(UPSTREAM, position))
        except IntegrityError as error:
            raise ConcurrencyConflict(f"already at or past position {position}") from error

    def close(self) -> None:
        self.factory.close()
