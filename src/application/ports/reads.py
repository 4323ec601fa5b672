"""Who read a case's personal data, as a port: the register of reads.

Reading a case through the HTTP API or the web console shows the customer's name, phone and
what they dictated; each such read is recorded here (who, when, which case, through what),
apart from the case's events: a read changes nothing of the case, and the register grows with
every page opened, so it lives in its own table and never in the log. The auditor exports it;
`privacy export` gives a data subject the reads of their cases.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Protocol, runtime_checkable

import attrs


@attrs.frozen(kw_only=True)
class PersonalRead:
    """One read of one case's personal data."""

    at: datetime
    """When (aware, UTC)."""
    reader: str
    """The signed-in account that read it (its login or token name), as on events' actors."""
    case_id: uuid.UUID
    through: str
    """What showed it: an HTTP route's template (`GET /cases/{reference}`, with `?search`,
    `?as_of` or `?version` when that is what made it a read of personal data) or a console
    page (`console:case`)."""
    id: int | None = None
    """The register's number for it (the table's row id, increasing as reads are recorded):
    given by the register to what it lists, None on a read not yet recorded. With `at`, the
    register's order, and the cursor of its pages (`ReadRegister.reads(after=…)`)."""

    def as_row(self, case: str = "") -> dict[str, str | int]:
        """The read as the auditor's exports give it (`EXPORT_COLUMNS`; `id` a whole number;
        `at` in ISO 8601, UTC; `case`: the case's source key, `crm:CRM-260001`, when the
        index knows it): `backoffice audit reads --json`/`--csv`, `GET /audit/reads.csv`."""
        return {"id": "" if self.id is None else self.id, "at": self.at.isoformat(),
                "reader": self.reader, "case": case, "case_id": str(self.case_id),
                "through": self.through}  # fmt: skip


EXPORT_COLUMNS = ("id", "at", "reader", "case", "case_id", "through")
"""The columns of a read in the auditor's exports (`PersonalRead.as_row`)."""

MAX_READ_ID = 2**63 - 1
"""The largest id the register's table can hold (a signed 64-bit integer on both backends)."""


class UnknownRead(LookupError):
    """`after` names no read the register has (never given, or deleted since)."""

    def __init__(self, read_id: int) -> None:
        super().__init__(f"no read has id {read_id}")
        self.read_id = read_id


@runtime_checkable
class ReadRegister(Protocol):
    """Records and lists reads of cases' personal data."""

    def record(self, reads: Sequence[PersonalRead]) -> None:
        """Keep these reads (several at once: a list page shows many cases)."""
        ...

    def reads(
        self,
        *,
        case_ids: Collection[uuid.UUID] | None = None,
        reader: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        after: int | None = None,
        limit: int | None = None,
    ) -> Sequence[PersonalRead]:
        """The reads kept, each with its `id`, in the register's order: by `at`, then by `id`
        (reads of the same moment in the order they were recorded); narrowed by whichever
        arguments are given (`since` inclusive, `until` exclusive). `after`: only the reads
        that come after the read with that id in this order, whatever their moment: the next
        page after one that ended with that read (`since` alone cannot step past many reads of
        one moment); `UnknownRead` when the register has no read with that id."""
        ...

    def close(self) -> None:
        """Let go of its connections."""
        ...
