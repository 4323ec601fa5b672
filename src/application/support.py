"""Support (DOMAIN.md §5): diagnose, then one of the five resolution routes.

`diagnose` reads the Diagnosticador (and RR's installed equipment for inventory cases) and
records the findings. `resolve` takes one of the five routes, exactly:

1. `platform_single` — a single fault from a platform error: a single incident in the
   Diagnosticador, escalated;
2. `sector` — a sector or platform fault: linked to the mass-outage notice (INC…) or a sector
   incident is opened, escalated;
3. `physical` — a physical fault: an LLS/OT order in RR and a slot booked in WFM; with no slot,
   a DIME "visit without slot" ticket and an escalation to the operation's CRM;
4. `inventory` — an inventory error: a DIME ticket, escalated;
5. `not_claro` — not attributable to Claro: referred to the customer's trusted technician.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

import attrs

from application.escalation import ContactMatrix
from application.outside import call_for_case
from application.service import Backoffice, CommandResult
from application.systems import (
    AccountSystem,
    Booking,
    Diagnosis,
    Diagnostics,
    FieldScheduling,
    IncidentScope,
    MarkingRecord,
    Slot,
    TicketKind,
    Tickets,
)
from domain import records
from domain.errors import RuleViolation
from domain.state import CaseState
from domain.values import Actor, Category, EscalationTarget, Priority, Subcategory, VisitKind

T = TypeVar("T")


class SupportRoute(enum.StrEnum):
    PLATFORM_SINGLE = "platform_single"
    SECTOR = "sector"
    PHYSICAL = "physical"
    INVENTORY = "inventory"
    NOT_CLARO = "not_claro"


def diagnosis_findings(d: Diagnosis) -> tuple[tuple[str, ...], bool]:
    findings = [
        f"cable módem enganchado: {'sí' if d.modem_online else 'no'}",
        f"señal de los vecinos: {'correcta' if d.neighbours_ok else 'con falla'}",
        "falla masiva: "
        + (
            f"{d.mass_outage.incident} ({d.mass_outage.severity}, {d.mass_outage.zone})"
            if d.mass_outage
            else "no"
        ),
    ]
    findings += [f"alarma: {a}" for a in d.alarms]
    if d.tv_technology:
        findings.append(f"tecnología TV: {d.tv_technology}")
    return tuple(findings), (not d.modem_online) or bool(d.alarms) or d.mass_outage is not None


@attrs.frozen
class Resolution:
    route: SupportRoute
    reference: str | None
    """The incident, order, booking or ticket that carries the route."""
    result: CommandResult


class SupportDesk:
    def __init__(
        self,
        office: Backoffice,
        diagnostics: Diagnostics,
        accounts: AccountSystem,
        tickets: Tickets,
        scheduling: FieldScheduling,
        matrix: ContactMatrix,
    ) -> None:
        self.office = office
        self.diagnostics = diagnostics
        self.accounts = accounts
        self.tickets = tickets
        self.scheduling = scheduling
        self.matrix = matrix

    def _support_case(self, reference: str) -> CaseState:
        case = self.office.case(reference)
        if case.category is not Category.SOPORTE:
            raise RuleViolation("interpret the case as soporte first")
        return case

    def _call(
        self, case: CaseState, actor: Actor, operation: str, pending: str, call: Callable[[], T]
    ) -> T:
        return call_for_case(self.office, case, actor, operation, pending, call)

    def diagnose(self, reference: str, *, actor: Actor) -> tuple[Diagnosis, CommandResult]:
        case = self._support_case(reference)
        diagnosis = self._call(
            case,
            actor,
            "diagnose",
            "diagnosticar en Diagnosticador",
            lambda: self.diagnostics.diagnose(case.account),
        )
        findings, flagged = diagnosis_findings(diagnosis)
        if case.subcategory is Subcategory.INVENTARIO:
            services = self._call(
                case,
                actor,
                "services",
                "revisar inventario en RR",
                lambda: self.accounts.services(case.account),
            )
            findings += tuple(f"equipo {e.kind}: {e.serial}" for e in services.equipment)
        if diagnosis.mass_outage is not None:
            incident = diagnosis.mass_outage.incident
            repeated = any(
                incident in e.external_reference for e in case.escalations if e.external_reference
            )
            if repeated or any(incident in m.notes for m in self._markings(case, actor)):
                findings += (f"el cliente ya se comunicó por el aviso {incident}",)
        now = self.office.clock.now()
        aspect = case.subcategory.value if case.subcategory else "soporte"
        result = self.office.execute(
            case.case_id,
            lambda s: records.record_check(
                s,
                system="Diagnosticador",
                aspect=aspect,
                findings=findings,
                inconsistent=flagged,
                actor=actor,
                at=now,
            ),
        )
        return diagnosis, result

    def _markings(self, case: CaseState, actor: Actor) -> tuple[MarkingRecord, ...]:
        return self._call(
            case,
            actor,
            "markings",
            "revisar el log de marcaciones (F22+F13)",
            lambda: self.accounts.markings(case.account),
        )

    def _escalate(
        self,
        case: CaseState,
        target: EscalationTarget,
        route_key: str,
        reason: str,
        reference: str | None,
        actor: Actor,
    ) -> CommandResult:
        route = self.matrix.route(route_key)
        if route is None:
            raise RuleViolation(f"the contact matrix has no route for {route_key}")
        return self.office.escalate(
            case.case_id,
            target=target,
            area=route.area,
            reason=reason,
            priority=route.priority,
            external_reference=reference,
            actor=actor,
        )

    def resolve(
        self,
        reference: str,
        route: SupportRoute,
        *,
        reason: str,
        actor: Actor,
        visit: VisitKind = VisitKind.LLS,
        window_days: int = 5,
    ) -> Resolution:
        case = self._support_case(reference)
        account = case.account
        if route is SupportRoute.PLATFORM_SINGLE:
            incident = self._call(
                case,
                actor,
                "open_incident",
                "abrir caso puntual",
                lambda: self.diagnostics.open_incident(account, IncidentScope.SINGLE, reason),
            )
            result = self._escalate(
                case, EscalationTarget.DIAGNOSTICADOR, "soporte", reason, incident, actor
            )
            return Resolution(route, incident, result)
        if route is SupportRoute.SECTOR:
            diagnosis = self._call(
                case,
                actor,
                "diagnose",
                "consultar el aviso masivo",
                lambda: self.diagnostics.diagnose(account),
            )
            incident = (
                diagnosis.mass_outage.incident
                if diagnosis.mass_outage
                else self._call(
                    case,
                    actor,
                    "open_incident",
                    "abrir caso de sector",
                    lambda: self.diagnostics.open_incident(account, IncidentScope.SECTOR, reason),
                )
            )
            result = self._escalate(
                case,
                EscalationTarget.DIAGNOSTICADOR,
                "soporte/falla_masiva",
                reason,
                incident,
                actor,
            )
            return Resolution(route, incident, result)
        if route is SupportRoute.PHYSICAL:
            return self._visit(case, reason, actor, visit, window_days)
        if route is SupportRoute.INVENTORY:
            ticket = self._call(
                case,
                actor,
                "open_ticket",
                "radicar el error de inventario en DIME",
                lambda: self.tickets.open_ticket(TicketKind.INVENTORY_ERROR, account, reason),
            )
            result = self._escalate(
                case, EscalationTarget.DIME, "soporte/inventario", reason, ticket, actor
            )
            return Resolution(route, ticket, result)
        result = self.office.escalate(
            case.case_id,
            target=EscalationTarget.TRUSTED_TECHNICIAN,
            area="Técnico de confianza del cliente",
            reason=reason,
            priority=Priority.LOW,
            actor=actor,
        )
        return Resolution(route, None, result)

    def _visit(
        self, case: CaseState, reason: str, actor: Actor, kind: VisitKind, window_days: int
    ) -> Resolution:
        account = case.account
        order = self._call(
            case,
            actor,
            "create_order",
            f"crear la orden {kind.value.upper()}",
            lambda: self.accounts.create_order(account, kind, reason),
        )
        now = self.office.clock.now()
        start = now + timedelta(hours=2)
        end = now + timedelta(days=window_days)
        slots = self._call(
            case,
            actor,
            "slots",
            "consultar agenda en WFM",
            lambda: self.scheduling.slots(account, kind, start, end),
        )
        for slot in slots:

            def book(chosen: Slot = slot) -> Booking | None:
                return self.scheduling.book(account, order, chosen)

            booking = self._call(case, actor, "book", "agendar en WFM", book)
            if booking is not None:
                result = self.office.schedule_visit(
                    case.case_id,
                    kind=kind,
                    slot_start=booking.slot.start,
                    slot_end=booking.slot.end,
                    booking_reference=booking.booking_reference,
                    actor=actor,
                )
                return Resolution(SupportRoute.PHYSICAL, booking.booking_reference, result)
        # No slot: DIME "visit without slot" and the operation's CRM secures the earliest date.
        ticket = self._call(
            case,
            actor,
            "open_ticket",
            "radicar visita sin cupo en DIME",
            lambda: self.tickets.open_ticket(
                TicketKind.VISIT_WITHOUT_SLOT,
                account,
                f"{order}: sin cupo en WFM hasta {_day(end)}; {reason}",
            ),
        )
        result = self._escalate(
            case,
            EscalationTarget.OPERATION_CRM,
            "soporte/sin_cupo",
            f"Visita {order} sin cupo en WFM: {reason}",
            ticket,
            actor,
        )
        return Resolution(SupportRoute.PHYSICAL, ticket, result)


def _day(moment: datetime) -> str:
    return moment.date().isoformat()
