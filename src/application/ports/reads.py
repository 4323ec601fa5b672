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

    def as_row(self, case: str = "") -> dict[str, str]:
        """The read as the auditor's exports give it (`EXPORT_COLUMNS`; `at` in ISO 8601,
        UTC; `case`: the case's source key, `crm:CRM-260001`, when the index knows it):
        `backoffice audit reads --json`/`--csv`, `GET /audit/reads.csv`."""
        return {"at": self.at.isoformat(), "reader": self.reader, "case": case,
                "case_id": str(self.case_id), "through": self.through}  # fmt: skip


EXPORT_COLUMNS = ("at", "reader", "case", "case_id", "through")
"""The columns of a read in the auditor's exports (`PersonalRead.as_row`)."""


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
        limit: int | None = None,
    ) -> Sequence[PersonalRead]:
        """The reads kept, oldest first, narrowed by whichever arguments are given (`since`
        inclusive, `until` exclusive)."""
        ...

    def close(self) -> None:
        """Let go of its connections."""
        ...
