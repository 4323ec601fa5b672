"""Ports: what the application needs from the outside, as small protocols.

Adapters implement them (SQLite, PostgreSQL, in-memory); tests swap fakes in. Nothing here
knows which database is behind a port.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable, Collection, Iterator, Sequence
from datetime import datetime
from typing import Any, Protocol

import attrs

from domain.case.events import CaseEvent
from domain.case.state import CaseState
from domain.errors import InvalidValue
from domain.team.roster import TeamEvent
from domain.values import (
    CaseStatus,
    Category,
    Channel,
    ClockKind,
    LineOfBusiness,
    Priority,
    SourceKey,
    phone_digits,
)


class ConcurrencyConflict(Exception):
    """Someone else appended to the case first (or the case already exists)."""


class Clock(Protocol):
    def now(self) -> datetime:
        """The current moment, an aware UTC datetime."""
        ...


AnyEvent = CaseEvent | TeamEvent
"""What the log holds: the cases' events, and the roster's and practice register's."""


@attrs.frozen
class LoggedEvent:
    """An event with its position in the global log (1, 2, 3, … in commit order)."""

    position: int
    event: AnyEvent


class CaseStore(Protocol):
    """The event store of cases: the only source of truth."""

    def load(self, case_id: uuid.UUID, *, version: int | None = None) -> CaseState | None:
        """The case now, or as it was at `version`; None when there is no such case."""
        ...

    def history(self, case_id: uuid.UUID) -> Sequence[CaseEvent]:
        """Every event of the case, oldest first (empty when there is no such case)."""
        ...

    def events_of(self, case_id: uuid.UUID, *, after: int = 0) -> Iterator[CaseEvent]:
        """The case's events after version `after`, oldest first, read a page at a time: a
        long history in constant memory."""
        ...

    def stream(self, stream_id: uuid.UUID) -> Sequence[TeamEvent]:
        """Every event of an agent's or a register entry's stream, oldest first."""
        ...

    def append(self, events: Sequence[AnyEvent]) -> Sequence[LoggedEvent]:
        """Store events of one or many streams atomically; returns them with their positions.

        Raises `ConcurrencyConflict` when any event's (case, version) is already taken.
        """
        ...

    def read_log(
        self,
        after: int,
        limit: int,
        *,
        through: int | None = None,
        kinds: Collection[type[AnyEvent]] | None = None,
    ) -> Sequence[LoggedEvent]:
        """Up to `limit` events from the global log with positions greater than `after` (and
        at most `through`); only those of these `kinds` when given, the others unread."""
        ...

    def last_position(self) -> int:
        """The position of the newest event in the global log (0 when empty)."""
        ...

    def close(self) -> None: ...


@attrs.frozen(kw_only=True)
class Finding:
    """One sign of tampering: the case and version it concerns (None for the global log's
    checkpoints), what kind (`changed`, `missing`, `unhashed`, `checkpoint`) and a sentence.
    Never any of the event's data."""

    case: uuid.UUID | str | None
    version: int | None
    problem: str
    detail: str
    position: int | None = None
    """The log position it was found at (a checkpoint's last position)."""

    def line(self) -> str:
        if self.case is None:
            return f"log: {self.detail}"
        return f"case {self.case} version {self.version}: {self.detail}"


@attrs.frozen(kw_only=True)
class AuditReport:
    findings: list[Finding]
    rows: int
    """Stored events read."""
    position: int
    """The log position checked up to (the log's end for a whole verification)."""
    checkpoint: int = 0
    """The last checkpoint's last position, for a whole verification."""


class ChainAudit(Protocol):
    """Tamper evidence of a store whose events are chained (`adapters.eventstore.chain`)."""

    def verify_all(self, case_id: uuid.UUID | None = None) -> AuditReport:
        """Every case's chain from its first event and every checkpoint (or one case)."""
        ...

    def verify_log(self, after: int, limit: int) -> AuditReport:
        """The events after position `after` (at most `limit`), each against the stored hash
        of the event before it in its case."""
        ...

    def verify_checkpoints(
        self, after: int = 0, max_blocks: int | None = None
    ) -> tuple[AuditReport, int]:
        """The checkpoints ending after position `after`; returns where it got to."""
        ...

    def verify_cases(
        self, after: tuple[Any, int] | None = None, max_rows: int | None = None
    ) -> tuple[AuditReport, tuple[Any, int] | None]:
        """Cases' chains in key order from after `after`, about `max_rows` rows; returns where
        to go on (None: past the last case)."""
        ...


@attrs.frozen(kw_only=True)
class CaseSummary:
    """One row of the case list: enough to find and triage, no customer name."""

    case_id: uuid.UUID
    source: SourceKey
    status: CaseStatus
    line: LineOfBusiness
    typification: str
    agent: str | None
    category: Category | None
    subcategory: str | None
    opened_at: datetime
    updated_at: datetime
    next_follow_up_at: datetime | None
    version: int


@attrs.frozen(kw_only=True)
class DueFollowUp:
    case_id: uuid.UUID
    source: SourceKey
    follow_up_id: int
    due_at: datetime
    agent: str | None


@attrs.frozen(kw_only=True)
class DueClock:
    """A running deadline that has reached its warning or its due time."""

    case_id: uuid.UUID
    source: SourceKey
    clock_id: int
    kind: ClockKind
    due_at: datetime
    agent: str | None


@attrs.frozen(kw_only=True)
class RunningClock:
    """A running clock of a case as the index keeps it, with the case's key and agent and, for
    an area's answer, the area and priority of the escalation it waits on (None when the case
    lists no escalation of that reference): the board's clock panels, no case read whole."""

    case_id: uuid.UUID
    source: SourceKey
    agent: str | None
    clock_id: int
    kind: ClockKind
    reference: str | None
    warn_at: datetime | None
    due_at: datetime
    warned: bool
    breached: bool
    area: str | None = None
    priority: Priority | None = None


@attrs.frozen(kw_only=True)
class PendingWrite:
    """A write to one of Claro's systems the case asked for and has no answer to yet."""

    case_id: uuid.UUID
    key: str
    requested_at: datetime


MAX_SEARCH = 200
"""The longest search: a key, an account, a CUN, a phone or part of a name is far shorter."""


@attrs.frozen(kw_only=True)
class CaseQuery:
    status: CaseStatus | None = None
    agent: str | None = None
    category: Category | None = None
    line: LineOfBusiness | None = None
    follow_up_due_before: datetime | None = None
    unassigned: bool = False
    """Only cases no agent owns."""
    missed: bool = False
    """Only cases with a follow-up recorded as missed."""
    waiting: bool = False
    """Only cases with an escalation whose area's answer is awaited."""
    warned: bool = False
    """Only cases with a running clock past its warning, not yet breached."""
    breached: bool = False
    """Only cases with a running clock past its due time."""
    search: str | None = None
    """A source key (the case's or a repeat contact's, bare or as `channel:key`), an account,
    a CUN, or part of the customer's name (three letters or more; case and accents do not
    matter)."""

    limit: int = 100
    offset: int = 0

    def __attrs_post_init__(self) -> None:
        if self.search is not None and len(self.search) > MAX_SEARCH:
            raise InvalidValue("search", f"at most {MAX_SEARCH} characters")
        if self.limit < 1:
            raise InvalidValue("limit", "at least 1")
        if self.offset < 0:
            raise InvalidValue("offset", "not negative")

    def search_key(self) -> tuple[Channel | None, str]:
        """The search as a key, and its channel when written `channel:key` (`crm:CRM-1`, the
        channel in any letter case), as a case reference is read."""
        text = (self.search or "").strip()
        channel, sep, key = text.partition(":")
        if sep and channel.lower() in {c.value for c in Channel}:
            return Channel(channel.lower()), key
        return None, text

    def search_phone(self) -> str | None:
        """The search as a phone's national digits, when it is written like a phone
        (`300 123 4567`, `+57 300-123-4567`); None otherwise."""
        text = (self.search or "").strip()
        return phone_digits(text) if _PHONE_LIKE.fullmatch(text) else None


_PHONE_LIKE = re.compile(r"\+?[\d\s\-.()]{7,25}")


class CaseIndex(Protocol):
    """A read model of the cases, kept by projecting the global log.

    `project` records the events and the new position in one transaction, so an event is
    never counted twice and a restart resumes where it stopped.
    """

    def position(self) -> int:
        """The position of the last event projected (0 when none)."""
        ...

    @property
    def kinds(self) -> Collection[type[AnyEvent]] | None:
        """The kinds of event this read model uses (None: all); catching up skips the others."""
        ...

    def project(
        self, events: Sequence[LoggedEvent], through: int | None = None, after: int | None = None
    ) -> None:
        """Apply these events (positions strictly after `position()`, in order) and move the
        position to the last of them, or to `through` when given (the events between were of
        no use to this read model). With `after`, the position the events were read from,
        the view must still be there.

        Raises `ConcurrencyConflict` (and changes nothing) when another projector has already
        recorded a position at or past the new one, or the view is no longer at `after`.
        """
        ...

    def search(self, query: CaseQuery) -> Sequence[CaseSummary]: ...

    def count(self, query: CaseQuery) -> int: ...

    def count_by_agent(self, query: CaseQuery) -> dict[str, int]:
        """How many of the query's cases each agent has (its limit and offset aside); the
        cases of no agent, and agents with none, are not in it."""
        ...

    def due_follow_ups(
        self, until: datetime, limit: int = 1000, *, agent: str | None = None
    ) -> Sequence[DueFollowUp]:
        """Pending follow-ups due by `until`, oldest first (of `agent`'s cases, if given)."""
        ...

    def count_due_by_agent(
        self, until: datetime, overdue_before: datetime
    ) -> dict[str, tuple[int, int]]:
        """For each agent, how many pending follow-ups of their cases are due by `until` and
        how many of those before `overdue_before` (the board's columns); agents with none,
        and the cases of no agent, are not in it."""
        ...

    def due_clocks(self, now: datetime, limit: int = 1000) -> Sequence[DueClock]:
        """Running clocks whose warning or due time has come and not been recorded yet."""
        ...

    def running_clocks(self, case_ids: Sequence[uuid.UUID]) -> Sequence[RunningClock]:
        """The running clocks of these cases (stopped ones are gone), by case and clock id."""
        ...

    def pending_writes(
        self, requested_before: datetime, limit: int = 1000, *, after: PendingWrite | None = None
    ) -> Sequence[PendingWrite]:
        """Outside writes asked for before that moment and still without an answer, oldest
        first (the sweep settles them); those that come after `after` in that order."""
        ...

    def known(self, case_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        """Which of these cases the index has seen."""
        ...

    def sources_of(self, case_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, SourceKey]:
        """The source key (channel and key: `crm:CRM-260001`) of each of these cases the
        index has seen, in one read: what a person reading a list of case ids recognises."""
        ...

    def find_by_source_key(self, key: str) -> Sequence[uuid.UUID]:
        """Cases whose source key (any channel) or repeat-contact key is `key`."""
        ...

    def open_cases_for(self, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], uuid.UUID]:
        """For (account, typification) pairs, the open case that has them, if any."""
        ...

    def reset(self) -> None:
        """Drop every row and the position: the next catch-up rebuilds from zero."""
        ...

    def close(self) -> None: ...


class IndexWorker(Protocol):
    """A worker of its own (another process) that keeps the case index up with the log while
    a large import writes, so that projecting and deciding run at the same time.

    The import then no longer projects its batches itself; it remembers the open cases it
    created until the index shows them. Whatever happens to the worker, the log is the truth:
    when it fails, the import catches the index up itself.
    """

    def alive(self) -> bool:
        """False once the worker has stopped (finished, failed or was stopped)."""
        ...

    def finish(self) -> bool:
        """Let the worker catch up with the log as it is now, and wait for it to end.

        True when it got there; False when it failed (the caller then catches up itself).
        """
        ...

    def stop(self, why: str = "") -> None:
        """End the worker now, wherever it is: the import failed or was interrupted, or (with
        `why`, which the worker reports) it gave the worker up."""
        ...


StartIndexWorker = Callable[[], IndexWorker | None]
"""Starts an index worker; None when this deployment cannot run one (an in-memory store)."""
