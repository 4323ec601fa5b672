"""The outbox: every message the history calls for is sent, at least once, never altered.

It follows the global log with a position of its own. For each event it composes the
messages (`application.mail.compose`, from the case as of that event), sends them, and only
then moves its position past the event. A crash in between re-sends the same message with the
same Message-ID; nothing is lost and nothing different is sent.

Transient failures (server down, timeouts, 4xx) are retried with backoff; if they persist the
run stops where it is and the next run starts there again. Permanent failures (5xx for every
recipient, no recipients configured) and recipients refused one by one are recorded on the
case as `MailFailed`, and the outbox moves on.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import attrs

from application.mail import (
    Directory,
    Mailer,
    OutgoingMail,
    PermanentMailError,
    TransientMailError,
    compose,
)
from application.ports import ConcurrencyConflict
from domain import records
from domain.events import (
    CaseEvent,
    ClockBreached,
    ClockWarned,
    Closed,
    ClosedFirstContact,
    Escalated,
    FollowUpMissed,
)
from domain.state import CaseState
from domain.values import Actor, ActorKind

if TYPE_CHECKING:
    from application.service import Backoffice

MAIL_EVENTS = (Escalated, FollowUpMissed, Closed, ClosedFirstContact, ClockWarned, ClockBreached)
OUTBOX = Actor(ActorKind.OUTBOX, "outbox")


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


class Outbox:
    def __init__(
        self,
        office: Backoffice,
        mailer: Mailer,
        directory: Directory,
        tracker: PositionTracker,
        *,
        sender: str,
        domain: str,
        attempts: int = 3,
        backoff_seconds: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
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

        With several workers, whoever records a position first wins; a worker that finds
        itself overtaken stops its run (the next run starts from the new position). The
        messages both sent meanwhile are the same messages, with the same Message-IDs.
        """
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
