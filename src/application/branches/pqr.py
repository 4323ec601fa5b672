"""PQR (docs/procedure.md §6) and sales (§3): the branches after a PQR is filed with its CUN.

- A: correctly escalated, notes match what the customer needs: redirect to the responsible
  area (the contact matrix's `pqr` route) with an e-mail;
- B: incomplete notes, wrong marking or wrong area: after talking to the customer, correct the
  marking (in RR and on the case, the CUN unchanged) and the notes, then escalate;
- C: an agreement with the customer is possible: record it (RR and the case) and notify the
  answer, which stops the response clock and opens the reposición window.

Every rule of the case is checked before the first write to RR/AC; each write carries its
idempotency key (`OutsideWriter`), so running a branch again writes nothing twice.

Sales: interpret, escalate to the sales area, follow up, close.
"""

from __future__ import annotations

from datetime import datetime

from application.case.commands import (
    AnswerPqr,
    CommandResult,
    Escalate,
    ScheduleFollowUp,
    escalate_to_area,
)
from application.case.outside import OutsideSystems, OutsideWriter
from application.case.typification import Notes, Typification
from application.ports.escalation import ContactMatrix, Route
from application.ports.office import CaseWork
from domain.case import deadlines
from domain.case.decisions import add_note, clean_text, escalate
from domain.case.events import CaseEvent
from domain.case.state import CaseState, fold
from domain.errors import RuleViolation
from domain.values import Actor, Category, EscalationTarget, Resolution


class PqrDesk:
    def __init__(self, office: CaseWork, systems: OutsideSystems, matrix: ContactMatrix) -> None:
        self.office = office
        self.systems = systems
        self.matrix = matrix
        self.writer = OutsideWriter(office, systems)
        self.typification = Typification(office, self.writer)
        self.notes = Notes(office, self.writer)

    def _pqr(self, reference: str) -> CaseState:
        case = self.office.case(reference)
        if case.category is not Category.PQR:
            raise RuleViolation("interpret the case as PQR first")
        if case.resolution is not Resolution.CUN or case.cun is None:
            raise RuleViolation("a PQR needs its CUN: typify it with the CUN first")
        return case

    def _route(self) -> Route:
        route = self.matrix.route("pqr")
        if route is None:
            raise RuleViolation("the contact matrix has no route for pqr")
        return route

    def _escalate(
        self, case: CaseState, reason: str, actor: Actor, route: Route | None = None
    ) -> CommandResult:
        route = route or self._route()
        return self.office.handle(escalate_to_area(case, route.area, route.priority, reason), actor)

    def _note_outside(self, case: CaseState, text: str, actor: Actor) -> CommandResult:
        return self.notes.add(case, text=text, actor=actor)

    def redirect(self, reference: str, *, reason: str, actor: Actor) -> CommandResult:
        """Branch A."""
        return self._escalate(self._pqr(reference), f"Redirección de PQR: {reason}", actor)

    def correct(
        self,
        reference: str,
        *,
        marking: str,
        notes: str,
        customer_contacted_at: datetime,
        actor: Actor,
        area: str | None = None,
    ) -> CommandResult:
        """Branch B: only after talking to the customer; the CUN stays the PQR's. `area`: the
        responsible area when the PQR had gone to the wrong one (default: the matrix's)."""
        case = self._pqr(reference)
        if customer_contacted_at < case.opened_at:
            raise RuleViolation("branch B needs a contact with the customer after the PQR came in")
        notes = clean_text("notes", notes, max_length=10_000)
        self.typification.check(case, marking, Resolution.CUN, cun=case.cun)
        route = self._route()
        if area is not None:
            route = Route(clean_text("area", area, max_length=120), route.priority)
        text = f"Corrección de PQR tras contacto con el cliente: {notes}"
        now = self.office.clock.now()
        # The decisions are pure: trying them on the case checks every rule before RR.
        add_note(case, text=text, actor=actor, at=now)
        escalate(
            case, target=EscalationTarget.RESPONSIBLE_AREA, area=route.area,
            reason=f"PQR corregida ({marking.strip()}): {notes}", priority=route.priority,
            external_reference=case.cun, actor=actor, at=now,
        )  # fmt: skip
        self.typification.register(case, marking=marking, notes=text, actor=actor, cun=case.cun)
        self._note_outside(self.office.case(case.case_id), text, actor)
        return self._escalate(case, f"PQR corregida ({marking.strip()}): {notes}", actor, route)

    def agree(self, reference: str, *, agreement: str, actor: Actor) -> CommandResult:
        """Branch C: the agreement is recorded and notified as the PQR's answer."""
        case = self._pqr(reference)
        text = f"Acuerdo con el cliente: {agreement.strip()}"
        now = self.office.clock.now()
        rules = self.office.policies.deadline_rules()
        # The decisions are pure: trying them on the case checks every rule before RR.
        add_note(case, text=text, actor=actor, at=now)
        deadlines.answer_pqr(case, notified_at=now, rules=rules, actor=actor, at=now)
        self._note_outside(case, text, actor)
        return self.office.handle(AnswerPqr(case=case.case_id, notified_at=now), actor)


class SalesDesk:
    def __init__(self, office: CaseWork, matrix: ContactMatrix) -> None:
        self.office = office
        self.matrix = matrix

    def escalate(
        self, reference: str, *, reason: str, follow_up_at: datetime, actor: Actor
    ) -> CommandResult:
        """To the sales area (contact matrix `ventas`), with a follow-up with the customer."""
        case = self.office.case(reference)
        if case.category is not Category.VENTAS:
            raise RuleViolation("interpret the case as ventas first")
        route = self.matrix.route("ventas")
        if route is None:
            raise RuleViolation("the contact matrix has no route for ventas")
        escalation = Escalate(
            case=case.case_id,
            target=EscalationTarget.CONTACT_MATRIX_AREA,
            area=route.area,
            reason=reason,
            priority=route.priority,
        )
        follow_up = ScheduleFollowUp(case=case.case_id, due_at=follow_up_at)
        office = self.office

        def decide(state: CaseState) -> list[CaseEvent]:
            """Both, or neither: a follow-up the case refuses (in the past, at a moment
            already pending) records no escalation, so no mail goes to the area."""
            at = office.clock.now()
            escalated = office.decide(state, escalation, actor, at)
            after = fold(state, escalated) or state
            return [*escalated, *office.decide(after, follow_up, actor, at)]

        return office.execute(case.case_id, decide)
