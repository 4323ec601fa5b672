"""What intake adapters hand to the application, and what an import run says back.

A CRM export, a JSON Lines file or a mailbox becomes a stream of `IntakeRecord` (a case to
ingest) and `RejectedRow` (where and why an input could not be read). The stream is lazy so
that a file of any size is read in constant memory. Every import answers with an
`IngestReport`; the imports of facts from outside record their items with `record_each`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Iterator
from datetime import datetime
from typing import Protocol, TypeVar

import attrs

from application.ports.cases import ConcurrencyConflict
from domain.errors import DomainError, InvalidValue
from domain.values import Actor, LineOfBusiness, SourceKey


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
    cun: str | None = None
    """A PQR the front line already filed: its CUN…"""
    filed_at: datetime | None = None
    """…and when it was filed (radicación)."""
    opened_by: Actor | None = None
    """The agent who opened it from a phone call (None: the intake, from a file)."""
    linked_to: uuid.UUID | None = None
    """The case during whose call the customer raised it."""
    phone: str | None = None
    """The customer's phone to call back on."""
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


MAX_REPORTED_REJECTIONS = 1_000


@attrs.define
class IngestReport:
    """What an intake run did. `rejected` holds the first rejections; `rejected_count` all."""

    read: int = 0
    created: int = 0
    repeat_contacts: int = 0
    already_known: int = 0
    rejected_count: int = 0
    rejected: list[RejectedRow] = attrs.Factory(list)
    differing_count: int = 0
    differing: list[RejectedRow] = attrs.Factory(list)
    """Records of a case already ingested (counted as already known) whose values differ
    from it: said here, not re-applied (the case keeps what it was ingested with)."""

    def reject(self, row: RejectedRow) -> None:
        self.rejected_count += 1
        if len(self.rejected) < MAX_REPORTED_REJECTIONS:
            self.rejected.append(row)

    def differs(self, row: RejectedRow) -> None:
        self.differing_count += 1
        if len(self.differing) < MAX_REPORTED_REJECTIONS:
            self.differing.append(row)

    @property
    def ok(self) -> bool:
        return self.rejected_count == 0


class _Located(Protocol):
    @property
    def location(self) -> str: ...


L = TypeVar("L", bound=_Located)


def refusal(location: str, error: DomainError | ConcurrencyConflict) -> RejectedRow:
    """The rejection of the item at `location` that the domain (or the store) refused: the
    field at fault when the error names one, and why."""
    if isinstance(error, InvalidValue):
        return RejectedRow(location=location, field=error.field, reason=error.why)
    return RejectedRow(location=location, field=None, reason=str(error))


def record_each(items: Iterable[L | RejectedRow], record: Callable[[L], bool]) -> IngestReport:
    """Run `record` on each item (True: something new was recorded; False: the log already
    said it); a refused item is reported with its place, its field and why, the others go on.
    Used by the imports of facts from outside (surveys, monitorings, the roster, the register).
    """
    report = IngestReport()
    for item in items:
        if isinstance(item, RejectedRow):
            report.reject(item)
            continue
        report.read += 1
        try:
            new = record(item)
        except (DomainError, ConcurrencyConflict) as error:
            report.reject(refusal(item.location, error))
            continue
        if new:
            report.created += 1
        else:
            report.already_known += 1
    return report
