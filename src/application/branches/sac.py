"""SAC (docs/procedure.md §4): check the account, then close, escalate, or file a PQR / adjustment.

1. `check`: by subcategory, read RR/AC (cartera: collections; facturación: billing; recaudo:
   payments) and record what was found (`AccountChecked`), with the inconsistencies the rules
   can see; the agent may add their own judgement.
2. Then one of:
   - `escalate`: an inconsistency goes to the contact matrix's area for the subcategory;
   - `customer_accepts`: the marking is registered in RR as solved in first contact;
   - `customer_disputes`: a PQR (the RR marking returns the CUN, the 15-business-day clock
     starts) or an adjustment (a DIME ticket, the 72-hour clock), escalated to the area.

Every rule of the case (state, marking catalogue, CUN rules, the contact matrix's route) is
checked before the first write to RR/AC or DIME; each write goes through `OutsideWriter`, with
its idempotency key, so running a command again never files a second PQR or ticket. When a
system does not answer, the case records what failed and what is pending, and the error goes
back to the caller; nothing already recorded is lost.
"""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import TypeVar

import attrs

from application.case.commands import CommandResult, Escalate, RequestAdjustment, escalate_to_area
from application.case.outside import DIME, Operation, OutsideSystems, OutsideWriter, call_for_case
from application.case.typification import Typification
from application.ports.escalation import ContactMatrix, Route
from application.ports.office import CaseWork
from application.ports.systems import (
    BillingStatus,
    CollectionsStatus,
    PaymentStatus,
    TicketKind,
)
from domain.case import deadlines, decisions, records
from domain.case.state import CaseState
from domain.errors import RuleViolation
from domain.values import (
    Actor,
    Category,
    EscalationTarget,
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
    def __init__(self, office: CaseWork, systems: OutsideSystems, matrix: ContactMatrix) -> None:
        self.office = office
        self.systems = systems
        self.matrix = matrix
        self.writer = OutsideWriter(office, systems)
        self.typification = Typification(office, self.writer)

    def _sac_case(self, reference: str) -> CaseState:
        case = self.office.case(reference)
        if case.category is not Category.SAC or case.subcategory is None:
            raise RuleViolation("interpret the case as SAC (cartera, facturación or recaudo) first")
        return case

    def _call(
        self, case: CaseState, actor: Actor, operation: str, pending: str, call: Callable[[], T]
    ) -> T:
        return call_for_case(self.office, case, actor, operation, pending, call)

    def _route(self, *keys: str) -> Route:
        for key in keys:
            route = self.matrix.route(key)
            if route is not None:
                return route
        raise RuleViolation(f"the contact matrix has no route for {keys[0]}")

    def check(self, reference: str, *, actor: Actor, inconsistent: bool = False) -> Check:
        """Read RR (AC for móvil) for the case's subcategory; `inconsistent` adds the agent's
        own verdict."""
        case = self._sac_case(reference)
        sub = case.subcategory
        account = case.account
        system = self.systems.account_system(case.line)
        accounts = self.systems.accounts(system)
        pending = f"revisar {sub.value if sub else ''} en {system}"
        if sub is Subcategory.CARTERA:
            findings, flagged = cartera_findings(
                self._call(
                    case, actor, "collections", pending, lambda: accounts.collections(account)
                )
            )
        elif sub is Subcategory.FACTURACION:
            findings, flagged = facturacion_findings(
                self._call(case, actor, "billing", pending, lambda: accounts.billing(account))
            )
        else:
            findings, flagged = recaudo_findings(
                self._call(case, actor, "payments", pending, lambda: accounts.payments(account))
            )
        verdict = flagged or inconsistent
        now = self.office.clock.now()
        aspect = sub.value if sub else "sac"
        result = self.office.execute(
            case.case_id,
            lambda s: records.record_check(
                s, system=system, aspect=aspect, findings=findings, inconsistent=verdict,
                actor=actor, at=now,
            ),
        )  # fmt: skip
        return Check(findings, verdict, result)

    def escalate(self, reference: str, *, reason: str, actor: Actor) -> CommandResult:
        """The inconsistency goes by e-mail to the contact matrix's area (§9)."""
        case = self._sac_case(reference)
        route = self._route(f"sac/{case.subcategory.value if case.subcategory else ''}")
        return self.office.handle(
            Escalate(
                case=case.case_id,
                target=EscalationTarget.CONTACT_MATRIX_AREA,
                area=route.area,
                reason=reason,
                priority=route.priority,
            ),
            actor,
        )

    def customer_accepts(self, reference: str, *, marking: str, actor: Actor) -> CommandResult:
        """Registered in RR (AC for móvil) as solved in first contact; the closing protocol
        comes next."""
        case = self._sac_case(reference)
        self.typification.check(case, marking, Resolution.FIRST_CONTACT)
        return self.typification.register(
            case, marking=marking, notes="Solución en primer contacto", actor=actor,
            expect=Resolution.FIRST_CONTACT,
        )  # fmt: skip

    def customer_disputes(
        self, reference: str, *, marking: str, reason: str, adjustment: bool, actor: Actor
    ) -> CommandResult:
        """A PQR (RR gives the CUN; 15 business days) or an adjustment (the marking in RR, a
        DIME ticket; 72 hours), escalated to the responsible area."""
        case = self._sac_case(reference)
        sub = case.subcategory.value if case.subcategory else ""
        # Every rule first: nothing is written outside unless the whole command may go on.
        if adjustment:
            self.typification.check(case, marking, Resolution.FIRST_CONTACT)
            self.office.policies.deadline_rules()
            deadlines.check_adjustment(case)
            self.systems.require(DIME)
            route = self._route("sac/ajuste", f"sac/{sub}")
        else:
            self.typification.check(case, marking, Resolution.CUN)
            route = self._route("pqr")
        if not reason.strip():
            raise RuleViolation("say what the customer disputes (reason)")
        # The escalation it ends with, tried on the case (pure): its rules too come first.
        decisions.escalate(
            case, target=EscalationTarget.RESPONSIBLE_AREA, area=route.area, reason=reason,
            priority=route.priority, external_reference=None, actor=actor,
            at=self.office.clock.now(),
        )  # fmt: skip
        typified = self.typification.register(
            case, marking=marking, notes=reason, actor=actor,
            expect=Resolution.FIRST_CONTACT if adjustment else Resolution.CUN,
        )  # fmt: skip
        case = typified.case
        if not adjustment:
            return self.office.handle(
                escalate_to_area(case, route.area, route.priority, reason), actor
            )
        answer = self.writer.write(
            case, actor, system=DIME, operation=Operation.OPEN_TICKET,
            params={"kind": TicketKind.ADJUSTMENT.value, "account": case.account,
                    "description": reason},
            pending="radicar el ajuste en DIME",
        )  # fmt: skip
        ticket = answer["ticket"]
        self.office.handle(RequestAdjustment(case=case.case_id, ticket=ticket), actor)
        return self.office.handle(
            Escalate(
                case=case.case_id,
                target=EscalationTarget.DIME,
                area=route.area,
                reason=reason,
                priority=route.priority,
                external_reference=ticket,
            ),
            actor,
        )
