"""The worker's port to a scheduler: run jobs at intervals until told to stop."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol


class Ticker(Protocol):
    def every(self, seconds: float, name: str, job: Callable[[], object]) -> None:
        """Run `job` every `seconds` (never two runs of it at once; late runs coalesce)."""
        ...

    def start(self) -> None: ...

    def stop(self) -> None:
        """Stop scheduling and wait for the jobs that are running to finish."""
        ...
