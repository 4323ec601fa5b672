"""The questions a client asks, as data, answered over a narrow read port.

Each query is a frozen attrs class of plain values (the case by id; days as dates in Bogotá),
the same shape a command has (`application.case.commands`), so the HTTP API can accept them
as they are. `answer(reads, query)` gives the answer from anything that implements `Reads`
(the `Backoffice` does); `CaseQuery` (`application.ports.cases`) is the case list's.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from typing import Protocol, overload

import attrs

from application.indicators.report import IndicatorReport
from application.ports.cases import CaseQuery, CaseSummary, DueFollowUp
from domain.calendar import BusinessCalendar
from domain.case.events import CaseEvent
from domain.case.state import CaseState
from domain.indicators.facts import Dimension, Period


@attrs.frozen(kw_only=True)
class CaseAt:
    """A case now, as it was at a moment (`as_of`), or at a version: the auditor's replay."""

    case: uuid.UUID
    as_of: datetime | None = None
    version: int | None = None


@attrs.frozen(kw_only=True)
class CaseHistory:
    """Every event of a case, oldest first."""

    case: uuid.UUID


@attrs.frozen(kw_only=True)
class CaseCount:
    """How many cases the list's filters give (without the list)."""

    query: CaseQuery


@attrs.frozen(kw_only=True)
class DueFollowUps:
    """Pending follow-ups due by `until` (default: now), oldest first: the call list."""

    until: datetime | None = None
    limit: int = 1_000
    agent: str | None = None
    """Only the follow-ups of this agent's cases (an agent's own call list)."""


@attrs.frozen(kw_only=True)
class Indicators:
    """Every indicator for the days from `first` to `last` (Bogotá dates, both included)."""

    first: date
    last: date
    by: Dimension = Dimension.ALL
    window_days: int | None = None
    """The reincidencia window; the configured one when not given."""


Query = CaseAt | CaseHistory | CaseQuery | CaseCount | DueFollowUps | Indicators
QUERIES: tuple[type[Query], ...] = Query.__args__


Answer = (
    CaseState | Sequence[CaseEvent] | Sequence[CaseSummary] | int | Sequence[DueFollowUp]
    | IndicatorReport
)  # fmt: skip
"""What a query gives (each query's own type: see `answer`'s overloads)."""


class Reads(Protocol):
    """The read side a query needs: cases, their history, the list, the call list, the
    indicators."""

    def case(
        self, reference: str | uuid.UUID, *, as_of: datetime | None = None,
        version: int | None = None,
    ) -> CaseState: ...  # fmt: skip

    def history(self, reference: str | uuid.UUID) -> Sequence[CaseEvent]: ...

    def cases(self, query: CaseQuery | None = None) -> Sequence[CaseSummary]: ...

    def count(self, query: CaseQuery | None = None) -> int: ...

    def due_follow_ups(
        self, until: datetime | None = None, *, limit: int = 1_000, agent: str | None = None
    ) -> Sequence[DueFollowUp]: ...

    def indicators(
        self, period: Period, by: Dimension = Dimension.ALL, window: timedelta | None = None
    ) -> IndicatorReport: ...


@overload
def answer(reads: Reads, query: CaseAt) -> CaseState: ...
@overload
def answer(reads: Reads, query: CaseHistory) -> Sequence[CaseEvent]: ...
@overload
def answer(reads: Reads, query: CaseQuery) -> Sequence[CaseSummary]: ...
@overload
def answer(reads: Reads, query: CaseCount) -> int: ...
@overload
def answer(reads: Reads, query: DueFollowUps) -> Sequence[DueFollowUp]: ...
@overload
def answer(reads: Reads, query: Indicators) -> IndicatorReport: ...


def answer(reads: Reads, query: Query) -> Answer:
    """The answer to `query`."""
    match query:
        case CaseAt():
            return reads.case(query.case, as_of=query.as_of, version=query.version)
        case CaseHistory():
            return reads.history(query.case)
        case CaseQuery():
            return reads.cases(query)
        case CaseCount():
            return reads.count(query.query)
        case DueFollowUps():
            return reads.due_follow_ups(query.until, limit=query.limit, agent=query.agent)
        case Indicators():
            period = Period(
                BusinessCalendar.start_of(query.first),
                BusinessCalendar.start_of(query.last + timedelta(days=1)),
            )
            window = None if query.window_days is None else timedelta(days=query.window_days)
            return reads.indicators(period, query.by, window)
