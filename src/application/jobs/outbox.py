"""The outbox: every message the history calls for is sent, at least once, never altered.

It follows the global log with a position of its own. For each event it composes the
messages (`application.jobs.mail.compose`, from the case as of that event), sends them, and only
then moves its position past the event. A crash in between re-sends the same message with the
same Message-ID; nothing is lost and nothing different is sent.

Transient failures (server down, timeouts, 4xx) are retried with backoff; if they persist the
run stops where it is and the next run starts there again. Permanent failures (5xx for every
recipient, no recipients configured) and recipients refused one by one are recorded on the
case as `MailFailed`, and the outbox moves on.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, ClassVar, Protocol

import attrs

from application.jobs.mail import (
    Directory,
    Mailer,
    OutgoingMail,
    PermanentMailError,
    TransientMailError,
    compose,
)
from application.ports.cases import ConcurrencyConflict
from domain.case import records
from domain.case.events import (
    CaseEvent,
    ClockBreached,
    ClockWarned,
    Closed,
    ClosedFirstContact,
    Escalated,
    FollowUpMissed,
)
from domain.case.state import CaseState
from domain.values import Actor, ActorKind

if TYPE_CHECKING:
    from application.ports.office import CaseWork

MAIL_EVENTS = (Escalated, FollowUpMissed, Closed, ClosedFirstContact, ClockWarned, ClockBreached)
OUTBOX = Actor(ActorKind.OUTBOX, "outbox")


class SenderLock(Protocol):
    """At most one outbox sends at a time: held for a run, released by the system when its
    holder dies (a PostgreSQL advisory lock, a file lock), never by a timeout."""

    def try_acquire(self) -> bool:
        """True when this outbox may send now; False when another one is sending."""
        ...

    def release(self) -> None: ...


class InProcessLock:
    """A `SenderLock` for outboxes of one process (the in-memory backend, tests)."""

    _locks: ClassVar[dict[str, threading.Lock]] = {}
    _guard = threading.Lock()

    def __init__(self, name: str = "outbox") -> None:
        with self._guard:
            self._lock = self._locks.setdefault(name, threading.Lock())

    def try_acquire(self) -> bool:
        return self._lock.acquire(blocking=False)

    def release(self) -> None:
        self._lock.release()


class PositionTracker(Protocol):
    """A consumer's position in the global log, kept durably."""

    def position(self) -> int: ...

    def advance(self, position: int) -> None:
        """Record `position` as done; `ConcurrencyConflict` if already at or past it."""
        ...

    def close(self) -> None: ...


@attrs.frozen
class OutboxReport:
    events_read: int
    sent: int
    failed: int
    stopped_by: str | None
    """Why the run stopped early (a transient failure that outlived its retries)."""
    position: int
    moved_on: bool = False
    """Another outbox was sending: this run read and sent nothing."""


class Outbox:
    def __init__(
        self,
        office: CaseWork,
        mailer: Mailer,
        directory: Directory,
        tracker: PositionTracker,
        *,
        sender: str,
        domain: str,
        attempts: int = 3,
        backoff_seconds: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
        lock: SenderLock | None = None,
    ) -> None:
        self.lock = lock or InProcessLock()
        self.office = office
        self.mailer = mailer
        self.directory = directory
        self.tracker = tracker
        self.sender = sender
        self.domain = domain
        self.attempts = attempts
        self.backoff_seconds = backoff_seconds
        self.sleep = sleep

    def close(self) -> None:
        self.tracker.close()

    def process(self, limit: int = 500) -> OutboxReport:
        """Handle up to `limit` events after the outbox's position.

        One outbox sends at a time (`SenderLock`): a run that finds another one sending moves
        on at once (`moved_on`), and the next run starts from wherever that one got to. Each
        message is sent once, with its Message-ID; only a crash between sending and recording
        the position sends it again (the same message).
        """
        if not self.lock.try_acquire():
            return OutboxReport(0, 0, 0, None, self.tracker.position(), moved_on=True)
        try:
            return self._process(limit)
        finally:
            self.lock.release()

    def _process(self, limit: int) -> OutboxReport:
        start = self.tracker.position()
        done = start
        sent = failed = 0
        batch = self.office.store.read_log(start, limit)
        for logged in batch:
            if isinstance(logged.event, MAIL_EVENTS):
                case = self.office.case(
                    logged.event.originator_id, version=logged.event.originator_version
                )
                for mail in compose(logged.event, case, self.directory, domain=self.domain):
                    try:
                        ok = self._deliver(mail, logged.event)
                    except TransientMailError as error:
                        self._advance(done)
                        return OutboxReport(len(batch), sent, failed, str(error), done)
                    sent += ok
                    failed += not ok
                if not self._advance(logged.position):
                    return OutboxReport(len(batch), sent, failed, None, logged.position)
            done = logged.position
        self._advance(done)
        return OutboxReport(len(batch), sent, failed, None, done)

    def _advance(self, position: int) -> bool:
        """Record `position`; False when another worker is already there or beyond."""
        if position <= self.tracker.position():
            return position == self.tracker.position()
        try:
            self.tracker.advance(position)
        except ConcurrencyConflict:
            return False
        return True

    def _deliver(self, mail: OutgoingMail, event: CaseEvent) -> bool:
        """True when every recipient took it; failures are recorded on the case."""
        if mail.problem is not None:
            self._record_failure(mail, mail.recipients, mail.problem)
            return False
        delay = self.backoff_seconds
        for attempt in range(1, self.attempts + 1):
            try:
                delivery = self.mailer.send(mail, sender=self.sender)
            except TransientMailError:
                if attempt == self.attempts:
                    raise
                self.sleep(delay)
                delay *= 2
                continue
            except PermanentMailError as error:
                self._record_failure(mail, mail.recipients, str(error))
                return False
            if delivery.refused:
                refused = tuple(sorted(delivery.refused))
                reasons = "; ".join(f"{r}: {delivery.refused[r]}" for r in refused)
                self._record_failure(mail, refused, reasons)
                return False
            return True
        raise AssertionError("unreachable: the loop returns or raises")

    def _record_failure(self, mail: OutgoingMail, recipients: tuple[str, ...], why: str) -> None:
        at = self.office.clock.now()

        def decide(state: CaseState) -> list[CaseEvent]:
            return records.record_mail_failure(
                state,
                message_id=mail.message_id,
                purpose=mail.purpose,
                recipients=recipients,
                reason=why,
                actor=OUTBOX,
                at=at,
            )

        self.office.execute(mail.case_id, decide)
