"""In-memory RR/AC, Diagnosticador, DIME and WFM: scriptable data, failures and odd answers.

Used by the tests and the demo. Each fake records what it was asked to do (`notes`,
`markings`, `orders`, `ticklers`, `incidents`, `tickets`, `bookings`) and can be told to fail
the next calls of an operation (`script.fail("billing", SystemUnavailable(…))`). Writes honour
their idempotency key as the gateways must: a key seen before is answered with its first
answer, and nothing is written again (`writes` counts the writes applied).
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from collections.abc import Callable
from datetime import datetime
from typing import Any, TypeVar

import attrs

from adapters.clock import SystemClock
from application.ports.cases import Clock
from application.ports.systems import (
    AccountServices,
    BillingStatus,
    Booking,
    CollectionsStatus,
    Diagnosis,
    IncidentScope,
    MarkingReceipt,
    MarkingRecord,
    PaymentStatus,
    Slot,
    SystemRefused,
    TicketKind,
    TicketStatus,
)
from domain.values import NoteFolder, Resolution, VisitKind

T = TypeVar("T")


class Script:
    """Failures to raise, per operation, in order; then the fake answers normally.

    `fail_after` raises once the write is applied (the answer lost on the way back: a crash or
    a timeout after the system did the work)."""

    def __init__(self) -> None:
        self._failures: dict[str, list[Exception]] = defaultdict(list)
        self._after: dict[str, list[BaseException]] = defaultdict(list)
        self.calls: list[str] = []
        self._answers: dict[str, Any] = {}
        self.writes = 0

    def fail_after(self, operation: str, *errors: BaseException) -> None:
        self._after[operation].extend(errors)

    def once(self, operation: str, key: str, write: Callable[[], T]) -> T:
        """Apply `write` once per key; a repeated key gets the first answer."""
        self.check(operation)
        if key in self._answers:
            answer: T = self._answers[key]
        else:
            answer = write()
            self._answers[key] = answer
            self.writes += 1
        if self._after[operation]:
            raise self._after[operation].pop(0)
        return answer

    def fail(self, operation: str, *errors: Exception) -> None:
        self._failures[operation].extend(errors)

    def check(self, operation: str) -> None:
        self.calls.append(operation)
        if self._failures[operation]:
            raise self._failures[operation].pop(0)


@attrs.define
class AccountRecord:
    collections: CollectionsStatus
    billing: BillingStatus
    payments: PaymentStatus
    services: AccountServices
    markings: list[MarkingRecord] = attrs.Factory(list)


class InMemoryAccounts:
    """RR / AC. `cun_markings` are the marking codes that generate a CUN."""

    def __init__(
        self,
        system: str = "RR",
        cun_markings: frozenset[str] = frozenset(),
        clock: Clock | None = None,
    ) -> None:
        self.system = system
        self.clock = clock or SystemClock()
        self.script = Script()
        self.accounts: dict[str, AccountRecord] = {}
        self.cun_markings = cun_markings
        self.notes: list[tuple[str, str, NoteFolder]] = []
        self.orders: list[tuple[str, VisitKind, str, str]] = []
        self.ticklers: list[tuple[str, datetime, str]] = []
        self._numbers = itertools.count(1)

    def _account(self, account: str, operation: str) -> AccountRecord:
        self.script.check(operation)
        try:
            return self.accounts[account]
        except KeyError:
            raise SystemRefused(self.system, operation, "unknown account") from None

    def collections(self, account: str) -> CollectionsStatus:
        return self._account(account, "collections").collections

    def billing(self, account: str) -> BillingStatus:
        return self._account(account, "billing").billing

    def payments(self, account: str) -> PaymentStatus:
        return self._account(account, "payments").payments

    def services(self, account: str) -> AccountServices:
        return self._account(account, "services").services

    def markings(self, account: str) -> tuple[MarkingRecord, ...]:
        return tuple(self._account(account, "markings").markings)

    def _known(self, account: str, operation: str) -> AccountRecord:
        try:
            return self.accounts[account]
        except KeyError:
            raise SystemRefused(self.system, operation, "unknown account") from None

    def register_marking(
        self, account: str, code: str, notes: str, *, key: str, cun: str | None = None
    ) -> MarkingReceipt:
        def write() -> MarkingReceipt:
            record = self._known(account, "register_marking")
            record.markings.append(MarkingRecord(code, self.clock.now(), notes))
            if cun is not None:  # a correction of a PQR already filed
                return MarkingReceipt(Resolution.CUN, cun, None)
            if code in self.cun_markings:
                filed = f"4436-26-{next(self._numbers):010d}"
                return MarkingReceipt(Resolution.CUN, filed, self.clock.now())
            return MarkingReceipt(Resolution.FIRST_CONTACT, None)

        return self.script.once("register_marking", key, write)

    def add_note(self, account: str, text: str, folder: NoteFolder, *, key: str) -> None:
        def write() -> None:
            self._known(account, "add_note")
            self.notes.append((account, text, folder))

        self.script.once("add_note", key, write)

    def create_order(self, account: str, kind: VisitKind, description: str, *, key: str) -> str:
        def write() -> str:
            self._known(account, "create_order")
            number = f"{kind.value.upper()}-{next(self._numbers):07d}"
            self.orders.append((account, kind, description, number))
            return number

        return self.script.once("create_order", key, write)

    def leave_tickler(self, account: str, due: datetime, text: str, *, key: str) -> None:
        def write() -> None:
            self._known(account, "leave_tickler")
            self.ticklers.append((account, due, text))

        self.script.once("leave_tickler", key, write)


class InMemoryDiagnostics:
    def __init__(self) -> None:
        self.script = Script()
        self.diagnoses: dict[str, Diagnosis] = {}
        self.incidents: list[tuple[str, IncidentScope, str, str]] = []
        self._numbers = itertools.count(100_001)

    def diagnose(self, account: str) -> Diagnosis:
        self.script.check("diagnose")
        try:
            return self.diagnoses[account]
        except KeyError:
            raise SystemRefused("Diagnosticador", "diagnose", "unknown account") from None

    def open_incident(
        self, account: str, scope: IncidentScope, description: str, *, key: str
    ) -> str:
        def write() -> str:
            incident = f"INC{next(self._numbers)}"
            self.incidents.append((account, scope, description, incident))
            return incident

        return self.script.once("open_incident", key, write)


class InMemoryTickets:
    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or SystemClock()
        self.script = Script()
        self.tickets: dict[str, tuple[TicketKind, str, str, TicketStatus]] = {}
        self._numbers = itertools.count(1)

    def open_ticket(self, kind: TicketKind, account: str, description: str, *, key: str) -> str:
        if not description.strip():
            self.script.check("open_ticket")
            raise SystemRefused("DIME", "open_ticket", "a ticket needs a description")

        def write() -> str:
            ticket = f"DIME-{next(self._numbers):06d}"
            status = TicketStatus(ticket, "open", self.clock.now())
            self.tickets[ticket] = (kind, account, description, status)
            return ticket

        return self.script.once("open_ticket", key, write)

    def status(self, ticket: str) -> TicketStatus:
        self.script.check("status")
        try:
            return self.tickets[ticket][3]
        except KeyError:
            raise SystemRefused("DIME", "status", "unknown ticket") from None

    def set_status(self, ticket: str, status: str, at: datetime) -> None:
        kind, account, description, _ = self.tickets[ticket]
        self.tickets[ticket] = (kind, account, description, TicketStatus(ticket, status, at))


class InMemoryScheduling:
    """WFM. `free` holds the open slots; a booked slot is gone for everyone else."""

    def __init__(self) -> None:
        self.script = Script()
        self.free: list[Slot] = []
        self.bookings: list[tuple[str, str, Booking]] = []
        self._numbers = itertools.count(1)

    def slots(
        self, account: str, kind: VisitKind, window_start: datetime, window_end: datetime
    ) -> tuple[Slot, ...]:
        self.script.check("slots")
        if window_end <= window_start:
            raise SystemRefused("WFM", "slots", "the window ends before it starts")
        return tuple(
            s for s in sorted(self.free, key=lambda s: s.start)
            if window_start <= s.start and s.end <= window_end
        )  # fmt: skip

    def book(self, account: str, order: str, slot: Slot, *, key: str) -> Booking | None:
        def write() -> Booking | None:
            if slot not in self.free:
                return None
            self.free.remove(slot)
            booking = Booking(f"WFM-{next(self._numbers):06d}", slot)
            self.bookings.append((account, order, booking))
            return booking

        return self.script.once("book", key, write)
