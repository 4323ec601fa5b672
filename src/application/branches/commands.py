"""The commands of the procedure's branches, as data (see `application.case.commands`).

Each names its case by id and carries what the agent decides; `Desks.handle` (in
`application.branches.handling`) runs it on the branch's desk, which checks every rule before
it writes to Claro's systems. The same classes are what the HTTP API accepts.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import attrs

from domain.values import Service, SupportRoute, VisitKind


@attrs.frozen(kw_only=True)
class SacCheck:
    """SAC: the account's collections, billing or payments in RR/AC (by the subcategory)."""

    case: uuid.UUID
    inconsistent: bool = False
    """The agent found what RR shows inconsistent (then: escalate to the area)."""


@attrs.frozen(kw_only=True)
class SacEscalate:
    """SAC: an inconsistency, to the responsible area (DIME ticket, contact matrix)."""

    case: uuid.UUID
    reason: str


@attrs.frozen(kw_only=True)
class SacAccept:
    """SAC: the customer accepts the explanation; the marking is registered in RR/AC."""

    case: uuid.UUID
    marking: str


@attrs.frozen(kw_only=True)
class SacDispute:
    """SAC: the customer disputes: a PQR (RR gives the CUN) or an adjustment (DIME)."""

    case: uuid.UUID
    marking: str
    reason: str
    adjustment: bool = False


@attrs.frozen(kw_only=True)
class SupportDiagnose:
    """Support: the Diagnosticador's, RR's and the customer's findings (§5)."""

    case: uuid.UUID
    service: Service | None = None
    serials: tuple[str, ...] = ()
    equipment_ok: bool | None = None


@attrs.frozen(kw_only=True)
class SupportResolve:
    """Support: one of the five routes; the physical one with the WFM slot agreed."""

    case: uuid.UUID
    route: SupportRoute
    reason: str
    visit: VisitKind = VisitKind.LLS
    window_days: int = 5
    slot_id: str | None = None


@attrs.frozen(kw_only=True)
class SupportVisitBookedByCrm:
    """Support: the visit the operation's CRM booked after a no-slot escalation."""

    case: uuid.UUID
    escalation_id: int
    kind: VisitKind
    slot_start: datetime
    slot_end: datetime
    booking_reference: str


@attrs.frozen(kw_only=True)
class PqrRedirect:
    """PQR branch A: not a PQR after all; redirected, with the reason."""

    case: uuid.UUID
    reason: str


@attrs.frozen(kw_only=True)
class PqrCorrect:
    """PQR branch B: the marking corrected after talking to the customer."""

    case: uuid.UUID
    marking: str
    notes: str
    customer_contacted_at: datetime
    area: str | None = None


@attrs.frozen(kw_only=True)
class PqrAgree:
    """PQR branch C: an agreement with the customer, recorded and noted outside."""

    case: uuid.UUID
    agreement: str


@attrs.frozen(kw_only=True)
class SalesEscalate:
    """Sales: to the sales area, with a follow-up with the customer."""

    case: uuid.UUID
    reason: str
    follow_up_at: datetime


BranchCommand = (
    SacCheck
    | SacEscalate
    | SacAccept
    | SacDispute
    | SupportDiagnose
    | SupportResolve
    | SupportVisitBookedByCrm
    | PqrRedirect
    | PqrCorrect
    | PqrAgree
    | SalesEscalate
)
"""Every command of the branches' desks."""

BRANCH_COMMANDS: tuple[type[BranchCommand], ...] = BranchCommand.__args__


# --- the agent's writes to the account's system (RR; AC for móvil) ---------------------------


@attrs.frozen(kw_only=True)
class RegisterMarking:
    """The agent's typification (docs/procedure.md §7): the marking in RR (AC for móvil, with
    its tickler), then on the case, resolved in first contact or with the CUN the system gives.
    `cun` (and `filed_at`): the PQR the front line already filed, whose marking this is."""

    case: uuid.UUID
    marking: str
    cun: str | None = None
    filed_at: datetime | None = None


@attrs.frozen(kw_only=True)
class SettleWrite:
    """A write to Claro's systems left pending, settled by someone who checked in the system
    itself: what it answered (`answer`, then what follows from it on the case), or that it was
    not applied (`answer` None, with `reason`)."""

    case: uuid.UUID
    key: str
    answer: dict[str, str] | None = None
    reason: str = ""


OutsideCommand = RegisterMarking | SettleWrite
"""The agent's commands on the account's system outside the branches."""
