"""SAC (DOMAIN.md §4): check the account, then close, escalate, or file a PQR / adjustment.

1. `check`: by subcategory, read RR/AC (cartera: collections; facturación: billing; recaudo:
   payments) and record what was found (`AccountChecked`), with the inconsistencies the rules
   can see; the agent may add their own judgement.
2. Then one of:
   - `escalate`: an inconsistency goes to the contact matrix's area for the subcategory;
   - `customer_accepts`: the marking is registered in RR as solved in first contact;
   - `customer_disputes`: a PQR (the RR marking returns the CUN, the 15-business-day clock
     starts) or an adjustment (a DIME ticket, the 72-hour clock), escalated to the area.

When RR or DIME does not answer, the case records what failed and what is pending
(`SystemCallFailed`), and the error goes back to the caller; nothing already recorded is lost.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TypeVar

import attrs

from application.escalation import ContactMatrix
from application.outside import call_for_case
from application.service import Backoffice, CommandResult
from application.systems import (
    AccountSystem,
    BillingStatus,
    CollectionsStatus,
    PaymentStatus,
    TicketKind,
    Tickets,
)
from domain import records
from domain.errors import RuleViolation
from domain.state import CaseState
from domain.values import (
    Actor,
    Category,
    EscalationTarget,
    LineOfBusiness,
    Resolution,
    Subcategory,
)

T = TypeVar("T")


def _money(value: Decimal) -> str:
    return f"${value:,.2f}".replace(",", "_").replace(".", ",").replace("_", ".")


def cartera_findings(status: CollectionsStatus) -> tuple[tuple[str, ...], bool]:
    findings = [
        f"aviso final: {'sí' if status.final_notice else 'no'}",
        f"suspensión por mora: {'sí' if status.suspended_for_arrears else 'no'}",
        f"deuda: {_money(status.debt)}",
    ]
    if status.payment_benefit:
        met = {True: "cumplido", False: "no cumplido", None: "sin verificar"}[status.benefit_met]
        findings.append(f"beneficio de pago: {status.payment_benefit} ({met})")
    paid_but_suspended = status.suspended_for_arrears and status.debt <= 0
    benefit_met_but_suspended = status.suspended_for_arrears and status.benefit_met is True
    return tuple(findings), paid_but_suspended or benefit_met_but_suspended


def facturacion_findings(status: BillingStatus) -> tuple[tuple[str, ...], bool]:
    findings = [f"renta mensual: {_money(status.monthly_rent)}"]
    findings += [f"descuento vigente: {d}" for d in status.active_discounts] or [
        "sin descuentos vigentes"
    ]
    findings += [
        f"cobro adicional {c.kind.value}: {_money(c.amount)} ({c.on.isoformat()}) {c.description}"
        for c in status.extra_charges
    ]
    sent = status.last_invoice_sent.isoformat() if status.last_invoice_sent else "sin registro"
    findings.append(f"última factura enviada: {sent}")
    # Extra charges are what customers dispute; whether one is wrong is the agent's call.
    return tuple(findings), False


def recaudo_findings(status: PaymentStatus) -> tuple[tuple[str, ...], bool]:
    findings = [f"cuenta al día: {'sí' if status.up_to_date else 'no'}"]
    findings += [f"fecha de pago: {d.isoformat()}" for d in status.due_dates]
    findings += [
        f"pago registrado: {_money(p.amount)} el {p.on.isoformat()} por {p.channel}"
        for p in status.posted_payments
    ] or ["sin pagos registrados"]
    posted_but_late = not status.up_to_date and bool(status.posted_payments)
    return tuple(findings), posted_but_late


@attrs.frozen
class Check:
    findings: tuple[str, ...]
    inconsistent: bool
    result: CommandResult


class SacDesk:
    def __init__(
        self,
        office: Backoffice,
        accounts: AccountSystem,
        tickets: Tickets,
        matrix: ContactMatrix,
        *,
        system: str = "RR",
    ) -> None:
        self.office = office
        self.accounts = accounts
        self.tickets = tickets
        self.matrix = matrix
        self.system = system

    def _sac_case(self, reference: str) -> CaseState:
        case = self.office.case(reference)
        if case.category is not Category.SAC or case.subcategory is None:
            raise RuleViolation("interpret the case as SAC (cartera, facturación or recaudo) first")
        return case

    def _call(
        self, case: CaseState, actor: Actor, operation: str, pending: str, call: Callable[[], T]
    ) -> T:
        return call_for_case(self.office, case, actor, operation, pending, call)

    def check(self, reference: str, *, actor: Actor, inconsistent: bool = False) -> Check:
        """Read RR for the case's subcategory; `inconsistent` adds the agent's own verdict."""
        case = self._sac_case(reference)
        sub = case.subcategory
        account = case.account
        pending = f"revisar {sub.value if sub else ''} en {self.system}"
        if sub is Subcategory.CARTERA:
            findings, flagged = cartera_findings(
                self._call(
                    case, actor, "collections", pending, lambda: self.accounts.collections(account)
                )
            )
        elif sub is Subcategory.FACTURACION:
            findings, flagged = facturacion_findings(
                self._call(case, actor, "billing", pending, lambda: self.accounts.billing(account))
            )
        else:
            findings, flagged = recaudo_findings(
                self._call(
                    case, actor, "payments", pending, lambda: self.accounts.payments(account)
                )
            )
        verdict = flagged or inconsistent
        now = self.office.clock.now()
        aspect = sub.value if sub else "sac"
        result = self.office.execute(
            case.case_id,
            lambda s: records.record_check(
                s, system=self.system, aspect=aspect, findings=findings, inconsistent=verdict,
                actor=actor, at=now,
            ),
        )  # fmt: skip
        return Check(findings, verdict, result)

    def escalate(self, reference: str, *, reason: str, actor: Actor) -> CommandResult:
        """The inconsistency goes by e-mail to the contact matrix's area (§9)."""
        case = self._sac_case(reference)
        key = f"sac/{case.subcategory.value if case.subcategory else ''}"
        route = self.matrix.route(key)
        if route is None:
            raise RuleViolation(f"the contact matrix has no route for {key}")
        return self.office.escalate(
            case.case_id, target=EscalationTarget.CONTACT_MATRIX_AREA, area=route.area,
            reason=reason, priority=route.priority, actor=actor,
        )  # fmt: skip

    def customer_accepts(self, reference: str, *, marking: str, actor: Actor) -> CommandResult:
        """Registered in RR as solved in first contact; the closing protocol comes next."""
        case = self._sac_case(reference)
        receipt = self._call(
            case, actor, "register_marking", f"registrar la marcación {marking} en {self.system}",
            lambda: self.accounts.register_marking(case.account, marking, "primer contacto"),
        )  # fmt: skip
        if receipt.resolution is not Resolution.FIRST_CONTACT:
            raise RuleViolation(f"{self.system} says marking {marking} generates a CUN")
        self._tickler(case, actor, f"Marcación {marking}: solución en primer contacto")
        return self.office.typify(
            case.case_id, marking_code=marking, resolution=Resolution.FIRST_CONTACT, actor=actor
        )

    def _tickler(self, case: CaseState, actor: Actor, text: str) -> None:
        """Móvil (AC): every typification leaves a tickler, due at the next follow-up (§7)."""
        if case.line is not LineOfBusiness.MOVIL:
            return
        upcoming = case.next_follow_up
        due = upcoming.due_at if upcoming else self.office.clock.now()
        self._call(
            case,
            actor,
            "leave_tickler",
            "dejar el tickler en AC",
            lambda: self.accounts.leave_tickler(case.account, due, text),
        )

    def customer_disputes(
        self, reference: str, *, marking: str, reason: str, adjustment: bool, actor: Actor
    ) -> CommandResult:
        """A PQR (RR gives the CUN; 15 business days) or an adjustment (DIME; 72 hours)."""
        case = self._sac_case(reference)
        if adjustment:
            ticket = self._call(
                case, actor, "open_ticket", "radicar el ajuste en DIME",
                lambda: self.tickets.open_ticket(TicketKind.ADJUSTMENT, case.account, reason),
            )  # fmt: skip
            self.office.request_adjustment(case.case_id, ticket=ticket, actor=actor)
            self._tickler(case, actor, f"Ajuste {ticket}: {reason}")
            route = self.matrix.route("sac/ajuste") or self.matrix.route(
                f"sac/{case.subcategory.value if case.subcategory else ''}"
            )
            if route is None:
                raise RuleViolation("the contact matrix has no route for sac/ajuste")
            return self.office.escalate(
                case.case_id, target=EscalationTarget.DIME, area=route.area, reason=reason,
                priority=route.priority, external_reference=ticket, actor=actor,
            )  # fmt: skip
        receipt = self._call(
            case, actor, "register_marking", f"radicar la PQR ({marking}) en {self.system}",
            lambda: self.accounts.register_marking(case.account, marking, reason),
        )  # fmt: skip
        if receipt.cun is None:
            raise RuleViolation(f"{self.system} gave no CUN for marking {marking}")
        self._tickler(case, actor, f"PQR {receipt.cun} ({marking}): {reason}")
        self.office.typify(
            case.case_id, marking_code=marking, resolution=Resolution.CUN, cun=receipt.cun,
            actor=actor,
        )  # fmt: skip
        route = self.matrix.route("pqr")
        if route is None:
            raise RuleViolation("the contact matrix has no route for pqr")
        return self.office.escalate(
            case.case_id, target=EscalationTarget.RESPONSIBLE_AREA, area=route.area,
            reason=reason, priority=route.priority, external_reference=receipt.cun, actor=actor,
        )  # fmt: skip
