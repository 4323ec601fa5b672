"""Ports to Claro's systems, shaped by what a case needs (docs/procedure.md §4–§7, §13).

- `AccountSystem`: RR (AS400, hogar) or AC (móvil): collections, billing, payments, services
  and equipment, the marking log; register a marking, add notes, create an LLS or OT, leave a
  tickler.
- `Diagnostics`: Diagnosticador and T&D: the modem, mass outages, the neighbours' signal,
  alarms, the TV technology; open a single or sector incident.
- `Tickets`: DIME: open an escalation ticket of a kind; its status.
- `FieldScheduling`: WFM: visit slots in a window; book one, or learn there is none.

Every write takes an idempotency `key`: the system applies a key once and answers a repeated
key with its first answer, so a retried or re-run write never files twice.

Every port raises `SystemUnavailable` when the system cannot answer now (down, timeout, 5xx:
try later, the case records what is pending) and `SystemRefused` when it answers no (unknown
account, bad request: retrying will not help).
"""

from __future__ import annotations

import enum
from datetime import date, datetime
from decimal import Decimal
from typing import Protocol

import attrs

from domain.values import NoteFolder, Resolution, VisitKind


class SystemError_(Exception):
    def __init__(self, system: str, operation: str, detail: str) -> None:
        super().__init__(f"{system} {operation}: {detail}")
        self.system = system
        self.operation = operation
        self.detail = detail


class SystemUnavailable(SystemError_):
    """The system did not answer in time or failed (retry later)."""


class SystemRefused(SystemError_):
    """The system answered no (retrying the same request will not help)."""


# --- RR / AC -----------------------------------------------------------------------------------


@attrs.frozen
class CollectionsStatus:
    final_notice: bool
    suspended_for_arrears: bool
    debt: Decimal
    payment_benefit: str | None
    benefit_met: bool | None


class ChargeKind(enum.StrEnum):
    PPV = "ppv"
    EXTRA_OUTLET = "extra_outlet"
    LDN = "ldn"
    LDI = "ldi"
    MOBILE_CALLS = "mobile_calls"


@attrs.frozen
class Charge:
    kind: ChargeKind
    amount: Decimal
    on: date
    description: str


@attrs.frozen
class BillingStatus:
    monthly_rent: Decimal
    active_discounts: tuple[str, ...]
    extra_charges: tuple[Charge, ...]
    last_invoice_sent: date | None


@attrs.frozen
class Payment:
    amount: Decimal
    on: date
    channel: str


@attrs.frozen
class PaymentStatus:
    up_to_date: bool
    due_dates: tuple[date, ...]
    posted_payments: tuple[Payment, ...]


@attrs.frozen
class Equipment:
    kind: str
    """`cable_modem`, `decoder` or `smart_card`."""
    serial: str


@attrs.frozen
class AccountServices:
    services: tuple[str, ...]
    equipment: tuple[Equipment, ...]


@attrs.frozen
class MarkingRecord:
    code: str
    at: datetime
    notes: str


@attrs.frozen
class MarkingReceipt:
    """What RR says back: a CUN when the marking generates one, and when its PQR was filed."""

    resolution: Resolution
    cun: str | None
    filed_at: datetime | None = None


class AccountSystem(Protocol):
    def collections(self, account: str) -> CollectionsStatus: ...

    def billing(self, account: str) -> BillingStatus: ...

    def payments(self, account: str) -> PaymentStatus: ...

    def services(self, account: str) -> AccountServices: ...

    def markings(self, account: str) -> tuple[MarkingRecord, ...]: ...

    def register_marking(
        self, account: str, code: str, notes: str, *, key: str, cun: str | None = None
    ) -> MarkingReceipt:
        """Register a marking (F22). One that generates a CUN files a PQR and answers its CUN;
        with `cun`, the marking corrects that PQR (already filed) and files nothing new."""
        ...

    def add_note(self, account: str, text: str, folder: NoteFolder, *, key: str) -> None: ...

    def create_order(self, account: str, kind: VisitKind, description: str, *, key: str) -> str:
        """An LLS service call or an OT work order; returns its number."""
        ...

    def leave_tickler(self, account: str, due: datetime, text: str, *, key: str) -> None: ...


# --- Diagnosticador / T&D ----------------------------------------------------------------------


@attrs.frozen
class MassOutage:
    incident: str
    """The notice number, `INC…`."""
    severity: str
    zone: str


@attrs.frozen
class Diagnosis:
    modem_online: bool
    mass_outage: MassOutage | None
    neighbours_ok: bool
    alarms: tuple[str, ...]
    tv_technology: str | None
    """DVB, ATSC, NAGRA, TVBOX or FIBRA, for TV services."""
    maintenance: str | None = None
    """A maintenance window announced for the customer's zone, if any."""


class IncidentScope(enum.StrEnum):
    SINGLE = "single"
    SECTOR = "sector"


class Diagnostics(Protocol):
    def diagnose(self, account: str) -> Diagnosis: ...

    def open_incident(
        self, account: str, scope: IncidentScope, description: str, *, key: str
    ) -> str: ...


# --- DIME ----------------------------------------------------------------------------------------


class TicketKind(enum.StrEnum):
    ADJUSTMENT = "adjustment"
    INVENTORY_ERROR = "inventory_error"
    VISIT_WITHOUT_SLOT = "visit_without_slot"
    PQR = "pqr"


@attrs.frozen
class TicketStatus:
    ticket: str
    status: str
    """`open`, `in_progress`, `solved` or `rejected`."""
    updated_at: datetime


class Tickets(Protocol):
    def open_ticket(self, kind: TicketKind, account: str, description: str, *, key: str) -> str: ...

    def status(self, ticket: str) -> TicketStatus: ...


# --- WFM -----------------------------------------------------------------------------------------


@attrs.frozen
class Slot:
    start: datetime
    end: datetime
    slot_id: str


@attrs.frozen
class Booking:
    booking_reference: str
    slot: Slot


class FieldScheduling(Protocol):
    def slots(
        self, account: str, kind: VisitKind, window_start: datetime, window_end: datetime
    ) -> tuple[Slot, ...]: ...

    def book(self, account: str, order: str, slot: Slot, *, key: str) -> Booking | None:
        """The booking, or None when the slot is no longer available."""
        ...
