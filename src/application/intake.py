"""What intake adapters hand to the application: well-formed records, or rejected rows.

A CRM export, a JSON Lines file or a mailbox becomes a stream of `IntakeRecord` (a case to
ingest) and `RejectedRow` (where and why an input could not be read). The stream is lazy so
that a file of any size is read in constant memory.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Protocol

import attrs

from domain.values import LineOfBusiness, SourceKey


@attrs.frozen(kw_only=True)
class IntakeRecord:
    source: SourceKey
    received_at: datetime
    account: str
    line: LineOfBusiness
    customer_name: str
    typification: str
    request: str
    follow_up_at: datetime | None
    front_agent: str | None
    recommended_by: str | None
    location: str = ""
    """Where the record came from (file and line), for error reports."""


@attrs.frozen(kw_only=True)
class RejectedRow:
    """An input that was not ingested. Never carries the customer's personal data."""

    location: str
    field: str | None
    reason: str

    def __str__(self) -> str:
        where = f"{self.location}: {self.field}" if self.field else self.location
        return f"{where}: {self.reason}"


IntakeItem = IntakeRecord | RejectedRow
ProgressCallback = Callable[[int], None]
"""Called with the number of input bytes consumed so far."""


class IntakeReader(Protocol):
    """Reads one input (a file, a mailbox) into intake items, lazily."""

    def size(self) -> int:
        """Total bytes to read, for progress reporting (0 when unknown)."""
        ...

    def items(self, on_progress: ProgressCallback | None = None) -> Iterator[IntakeItem]: ...
