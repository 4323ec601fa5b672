"""Support (docs/procedure.md §5): diagnose, then one of the five resolution routes.

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

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

import attrs

from application.case.commands import AnswerEscalation, CommandResult, Escalate, ScheduleVisit
from application.case.outside import (
    DIAGNOSTICADOR,
    DIME,
    RR,
    WFM,
    Operation,
    OutsideSystems,
    OutsideWriter,
    call_for_case,
)
from application.ports.escalation import ContactMatrix, Route
from application.ports.office import CaseWork
from application.ports.systems import (
    Diagnosis,
    Diagnostics,
    Equipment,
    IncidentScope,
    MarkingRecord,
    Slot,
    TicketKind,
)
from domain.calendar import BOGOTA
from domain.case import records
from domain.case.decisions import clean_text, require_open
from domain.case.state import CaseState, WriteStatus
from domain.errors import InvalidValue, RuleViolation
from domain.values import (
    Actor,
    Category,
    EscalationTarget,
    Priority,
    Service,
    Subcategory,
    SupportRoute,
    VisitKind,
)

T = TypeVar("T")


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
    if d.maintenance:
        findings.append(f"mantenimiento programado: {d.maintenance}")
    findings += [f"alarma: {a}" for a in d.alarms]
    if d.tv_technology:
        findings.append(f"tecnología TV: {d.tv_technology}")
    return tuple(findings), (not d.modem_online) or bool(d.alarms) or d.mass_outage is not None


REASON_MAX_LENGTH = 1_900
"""A support route's reason: what the escalation adds to it still fits its 2,000 characters."""


def diagnosis_facts(d: Diagnosis) -> tuple[tuple[str, str], ...]:
    facts = [
        ("cable_modem_enganchado", "sí" if d.modem_online else "no"),
        ("senal_vecinos", "correcta" if d.neighbours_ok else "con falla"),
        ("falla_masiva", d.mass_outage.incident if d.mass_outage else "no"),
        ("mantenimiento", d.maintenance or "no"),
    ]
    facts += [("alarma", a) for a in d.alarms]
    if d.tv_technology:
        facts.append(("tecnologia_tv", d.tv_technology))
    return tuple(facts)


def inventory_findings(
    equipment: tuple[Equipment, ...], serials: tuple[str, ...], equipment_ok: bool | None
) -> tuple[tuple[str, ...], bool, tuple[tuple[str, str], ...]]:
    """RR's equipment (F10) against the serials the customer reads out, and the equipment's
    condition in the customer's words: (findings, whether something is wrong, facts)."""
    findings = [f"equipo {e.kind}: {e.serial}" for e in equipment]
    facts = [("equipo_rr", f"{e.kind} {e.serial}") for e in equipment]
    wrong = False
    if serials:
        in_rr = {e.serial.strip().upper() for e in equipment}
        read = {s.strip().upper() for s in serials if s.strip()}
        for serial in sorted(read - in_rr):
            findings.append(f"serial leído por el cliente que no está en RR: {serial}")
            facts.append(("serial_no_registrado_en_rr", serial))
        for serial in sorted(in_rr - read):
            findings.append(f"serial en RR que el cliente no tiene: {serial}")
            facts.append(("serial_no_instalado", serial))
        wrong = read != in_rr
        if not wrong:
            findings.append("seriales instalados coinciden con RR")
            facts.append(("seriales_coinciden", "sí"))
    if equipment_ok is not None:
        findings.append(
            f"equipos en buen estado (según el cliente): {'sí' if equipment_ok else 'no'}"
        )
        facts.append(("equipos_buen_estado", "sí" if equipment_ok else "no"))
        wrong = wrong or not equipment_ok
    return tuple(findings), wrong, tuple(facts)


@attrs.frozen
class Resolution:
    route: SupportRoute
    reference: str | None
    """The incident, order, booking or ticket that carries the route."""
    result: CommandResult


class SupportDesk:
    def __init__(self, office: CaseWork, systems: OutsideSystems, matrix: ContactMatrix) -> None:
        self.office = office
        self.systems = systems
        self.matrix = matrix
        self.writer = OutsideWriter(office, systems)

    def _support_case(self, reference: str) -> CaseState:
        case = self.office.case(reference)
        if case.category is not Category.SOPORTE:
            raise RuleViolation("interpret the case as soporte first")
        return case

    def _call(
        self, case: CaseState, actor: Actor, operation: str, pending: str, call: Callable[[], T]
    ) -> T:
        return call_for_case(self.office, case, actor, operation, pending, call)

    def diagnose(
        self,
        reference: str,
        *,
        actor: Actor,
        service: Service | None = None,
        serials: tuple[str, ...] = (),
        equipment_ok: bool | None = None,
    ) -> tuple[Diagnosis, CommandResult]:
        """The support checks of §5, recorded as findings and as structured facts.

        Falla puntual: `service` is the one that fails (T&D); RR's services (F10) say
        whether it is associated to the account; the Diagnosticador gives mass outages and
        maintenance, the modem, the neighbours' signal and the TV technology. Inventario:
        `serials` are those the customer reads out, compared with RR's equipment list;
        `equipment_ok` is the customer's word on the equipment's condition."""
        case = self._support_case(reference)
        diagnosis = self._call(
            case,
            actor,
            "diagnose",
            "diagnosticar en Diagnosticador",
            lambda: self._diagnostics().diagnose(case.account),
        )
        findings, flagged = diagnosis_findings(diagnosis)
        facts = diagnosis_facts(diagnosis)
        if service is not None or case.subcategory is Subcategory.INVENTARIO:
            installed = self._call(
                case,
                actor,
                "services",
                "revisar servicios e inventario en RR (F10)",
                lambda: self.systems.accounts(RR).services(case.account),
            )
            if service is not None:
                associated = service.value in {s.strip().lower() for s in installed.services}
                findings += (
                    f"servicio con falla: {service.value}",
                    f"servicio asociado en RR (F10): {'sí' if associated else 'no'}",
                )
                facts += (("servicio", service.value),
                          ("servicios_asociados_rr", "sí" if associated else "no"))  # fmt: skip
                flagged = flagged or not associated
            if case.subcategory is Subcategory.INVENTARIO:
                more, mismatch, more_facts = inventory_findings(
                    installed.equipment, serials, equipment_ok
                )
                findings += more
                facts += more_facts
                flagged = flagged or mismatch
        if diagnosis.mass_outage is not None:
            incident = diagnosis.mass_outage.incident
            repeated = any(
                incident in e.external_reference for e in case.escalations if e.external_reference
            )
            if repeated or any(incident in m.notes for m in self._markings(case, actor)):
                findings += (f"el cliente ya se comunicó por el aviso {incident}",)
                facts += (("ya_reporto_el_aviso", incident),)
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
                facts=facts,
            ),
        )
        return diagnosis, result

    def _markings(self, case: CaseState, actor: Actor) -> tuple[MarkingRecord, ...]:
        return self._call(
            case,
            actor,
            "markings",
            "revisar el log de marcaciones (F22+F13)",
            lambda: self.systems.accounts(RR).markings(case.account),
        )

    def _diagnostics(self) -> Diagnostics:
        return self.systems.diagnostics_port()

    def _route(self, key: str) -> Route:
        route = self.matrix.route(key)
        if route is None:
            raise RuleViolation(f"the contact matrix has no route for {key}")
        return route

    def _escalate(
        self,
        case: CaseState,
        target: EscalationTarget,
        route: Route,
        reason: str,
        reference: str | None,
        actor: Actor,
    ) -> CommandResult:
        return self.office.handle(
            Escalate(
                case=case.case_id,
                target=target,
                area=route.area,
                reason=reason,
                priority=route.priority,
                external_reference=reference,
            ),
            actor,
        )

    def _write(
        self,
        case: CaseState,
        actor: Actor,
        system: str,
        operation: str,
        pending: str,
        **params: str,
    ) -> dict[str, str]:
        return self.writer.write(
            case, actor, system=system, operation=operation, params=params, pending=pending
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
        slot_id: str | None = None,
    ) -> Resolution:
        """Take the route. For the physical route, `slot_id` is the WFM slot the customer
        agreed to (see `slots`); without one, the route goes on only when WFM has no slot
        (then DIME and the operation's CRM secure the earliest date)."""
        case = self._support_case(reference)
        account = case.account
        # Every rule first: nothing is written outside unless the whole route may be taken.
        require_open(case, "resolve a support case")
        # Room for what the escalation adds to it ("Visita <order> sin cupo en WFM: …").
        reason = clean_text("reason", reason, max_length=REASON_MAX_LENGTH)
        matrix_key = {
            SupportRoute.PLATFORM_SINGLE: "soporte",
            SupportRoute.SECTOR: "soporte/falla_masiva",
            SupportRoute.PHYSICAL: "soporte/sin_cupo",
            SupportRoute.INVENTORY: "soporte/inventario",
        }.get(route)
        matrix_route = self._route(matrix_key) if matrix_key else None
        self.systems.require(*_SYSTEMS[route])
        if route is SupportRoute.PLATFORM_SINGLE:
            assert matrix_route is not None
            incident = self._write(
                case, actor, DIAGNOSTICADOR, Operation.OPEN_INCIDENT, "abrir caso puntual",
                account=account, scope=IncidentScope.SINGLE.value, description=reason,
            )["incident"]  # fmt: skip
            result = self._escalate(
                case, EscalationTarget.DIAGNOSTICADOR, matrix_route, reason, incident, actor
            )
            return Resolution(route, incident, result)
        if route is SupportRoute.SECTOR:
            assert matrix_route is not None
            diagnosis = self._call(
                case,
                actor,
                "diagnose",
                "consultar el aviso masivo",
                lambda: self._diagnostics().diagnose(account),
            )
            incident = (
                diagnosis.mass_outage.incident
                if diagnosis.mass_outage
                else self._write(
                    case, actor, DIAGNOSTICADOR, Operation.OPEN_INCIDENT, "abrir caso de sector",
                    account=account, scope=IncidentScope.SECTOR.value, description=reason,
                )["incident"]
            )  # fmt: skip
            result = self._escalate(
                case, EscalationTarget.DIAGNOSTICADOR, matrix_route, reason, incident, actor
            )
            return Resolution(route, incident, result)
        if route is SupportRoute.PHYSICAL:
            assert matrix_route is not None
            return self._visit(case, reason, actor, visit, window_days, matrix_route, slot_id)
        if route is SupportRoute.INVENTORY:
            assert matrix_route is not None
            ticket = self._write(
                case, actor, DIME, Operation.OPEN_TICKET, "radicar el error de inventario en DIME",
                kind=TicketKind.INVENTORY_ERROR.value, account=account, description=reason,
            )["ticket"]  # fmt: skip
            result = self._escalate(
                case, EscalationTarget.DIME, matrix_route, reason, ticket, actor
            )
            return Resolution(route, ticket, result)
        result = self.office.handle(
            Escalate(
                case=case.case_id,
                target=EscalationTarget.TRUSTED_TECHNICIAN,
                area="Técnico de confianza del cliente",
                reason=reason,
                priority=Priority.LOW,
            ),
            actor,
        )
        return Resolution(route, None, result)

    def slots(
        self,
        reference: str,
        *,
        actor: Actor,
        visit: VisitKind = VisitKind.LLS,
        window_days: int = 5,
    ) -> tuple[Slot, ...]:
        """The visit slots WFM offers for the case, to agree one with the customer (§5,
        "consultar la agenda disponible en común acuerdo con el cliente")."""
        case = self._support_case(reference)
        return self._offered(case, actor, visit, window_days)

    def _offered(
        self, case: CaseState, actor: Actor, kind: VisitKind, window_days: int
    ) -> tuple[Slot, ...]:
        if not 1 <= window_days <= 60:
            raise InvalidValue("window_days", f"{window_days} is not between 1 and 60")
        now = self.office.clock.now()
        start, end = now + timedelta(hours=2), now + timedelta(days=window_days)
        scheduling = self.systems.scheduling_port()
        account = case.account
        return self._call(
            case, actor, "slots", "consultar agenda en WFM",
            lambda: scheduling.slots(account, kind, start, end),
        )  # fmt: skip

    def _visit(
        self,
        case: CaseState,
        reason: str,
        actor: Actor,
        kind: VisitKind,
        window_days: int,
        no_slot: Route,
        slot_id: str | None,
    ) -> Resolution:
        account = case.account
        case = self.writer.settle_pending(case, actor, operation=Operation.BOOK)
        booked = _booking_for(case, kind)
        chosen: Slot | None = None
        if booked is None:
            offered = self._offered(case, actor, kind, window_days)
            if slot_id is not None:
                chosen = next((s for s in offered if s.slot_id == slot_id), None)
                if chosen is None:
                    raise RuleViolation(
                        f"WFM does not offer slot {slot_id} now: {_listed(offered)}"
                    )
            elif offered:
                raise RuleViolation(
                    f"WFM offers {len(offered)} slot(s): agree one with the customer and give it "
                    f"({_listed(offered)})"
                )
        order = self._write(
            case, actor, RR, Operation.CREATE_ORDER, f"crear la orden {kind.value.upper()}",
            account=account, kind=kind.value, description=reason,
            visit=str(len(case.visits) + 1),  # the case's n-th visit: a new one, a new order
        )["order"]  # fmt: skip
        if chosen is not None:
            answer = self._write(
                case, actor, WFM, Operation.BOOK, "agendar en WFM", account=account,
                order=order, kind=kind.value, start=chosen.start.isoformat(),
                end=chosen.end.isoformat(), slot_id=chosen.slot_id,
            )  # fmt: skip
            if "booking_reference" not in answer:
                raise RuleViolation(
                    f"slot {chosen.slot_id} was taken meanwhile; order {order} stays: agree "
                    "another slot with the customer"
                )
            booked = answer
        if booked is not None:
            result = self.office.handle(
                ScheduleVisit(
                    case=case.case_id,
                    kind=kind,
                    slot_start=datetime.fromisoformat(booked["start"]),
                    slot_end=datetime.fromisoformat(booked["end"]),
                    booking_reference=booked["booking_reference"],
                ),
                actor,
            )
            return Resolution(SupportRoute.PHYSICAL, booked["booking_reference"], result)
        # No slot: DIME "visit without slot" and the operation's CRM secures the earliest date.
        ticket = self._write(
            case, actor, DIME, Operation.OPEN_TICKET, "radicar visita sin cupo en DIME",
            kind=TicketKind.VISIT_WITHOUT_SLOT.value, account=account,
            description=f"{order}: sin cupo en WFM; {reason}",
        )["ticket"]  # fmt: skip
        result = self._escalate(
            case,
            EscalationTarget.OPERATION_CRM,
            no_slot,
            f"Visita {order[:60]} sin cupo en WFM: {reason}",
            ticket,
            actor,
        )
        return Resolution(SupportRoute.PHYSICAL, ticket, result)

    def visit_booked_by_crm(
        self,
        reference: str,
        *,
        escalation_id: int,
        kind: VisitKind,
        slot_start: datetime,
        slot_end: datetime,
        booking_reference: str,
        actor: Actor,
    ) -> CommandResult:
        """The visit the operation's CRM booked after a no-slot escalation: recorded against
        that escalation, which it answers (its clock stops)."""
        case = self._support_case(reference)
        escalation = next((e for e in case.escalations if e.escalation_id == escalation_id), None)
        if escalation is None or escalation.target is not EscalationTarget.OPERATION_CRM:
            raise RuleViolation(
                f"escalation #{escalation_id} is not a visit without slot sent to the "
                "operation's CRM"
            )
        self.office.handle(
            ScheduleVisit(
                case=case.case_id,
                kind=kind,
                slot_start=slot_start,
                slot_end=slot_end,
                booking_reference=booking_reference,
            ),
            actor,
        )
        return self.office.handle(
            AnswerEscalation(
                case=case.case_id,
                escalation_id=escalation_id,
                answer=f"visita agendada por el CRM de la operación: {booking_reference.strip()}",
            ),
            actor,
        )


def _listed(slots: tuple[Slot, ...]) -> str:
    if not slots:
        return "none left"
    return ", ".join(f"{s.slot_id} {_local(s.start)}–{_local(s.end)[-5:]}" for s in slots)


def _local(moment: datetime) -> str:
    return moment.astimezone(BOGOTA).strftime("%Y-%m-%d %H:%M")


_SYSTEMS: dict[SupportRoute, tuple[str, ...]] = {
    SupportRoute.PLATFORM_SINGLE: (DIAGNOSTICADOR,),
    SupportRoute.SECTOR: (DIAGNOSTICADOR,),
    SupportRoute.PHYSICAL: (RR, WFM, DIME),
    SupportRoute.INVENTORY: (DIME,),
    SupportRoute.NOT_CLARO: (),
}
"""What each route may write to: all must be configured before the route is taken."""


def _booking_for(case: CaseState, kind: VisitKind) -> dict[str, str] | None:
    """A booking WFM gave the case for a visit of this kind that the case has not recorded
    yet (a re-run after the answer was lost books nothing new)."""
    recorded = {v.booking_reference for v in case.visits}
    for write in case.outside_writes:
        if write.operation != Operation.BOOK or write.status is not WriteStatus.ANSWERED:
            continue
        answer = dict(write.result)
        reference = answer.get("booking_reference")
        if dict(write.params).get("kind") == kind.value and reference and reference not in recorded:
            return answer
    return None
