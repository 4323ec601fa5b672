"""Clocks: the system's, and a settable one for tests, demos and replays."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from domain.values import require_aware


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class FixedClock:
    """A clock that stays where it is put until moved."""

    def __init__(self, at: datetime) -> None:
        self._at = require_aware("at", at).astimezone(UTC)

    def now(self) -> datetime:
        return self._at

    def set(self, at: datetime) -> None:
        self._at = require_aware("at", at).astimezone(UTC)

    def advance(self, delta: timedelta) -> None:
        self._at += delta
