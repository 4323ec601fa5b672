"""PQR (DOMAIN.md §6) and sales (§3): the branches after a PQR is filed with its CUN.

- A: correctly escalated, notes match what the customer needs: redirect to the responsible
  area (the contact matrix's `pqr` route) with an e-mail;
- B: incomplete notes, wrong marking or wrong area: after talking to the customer, correct the
  marking (in RR and on the case, the CUN unchanged) and the notes, then escalate;
- C: an agreement with the customer is possible: record it (RR and the case) and notify the
  answer, which stops the response clock and opens the reposición window.

Sales: interpret, escalate to the sales area, follow up, close.
"""

from __future__ import annotations

from datetime import datetime

from application.escalation import ContactMatrix
from application.outside import call_for_case
from application.service import Backoffice, CommandResult
from application.systems import AccountSystem
from domain.errors import RuleViolation
from domain.state import CaseState
from domain.values import Actor, Category, EscalationTarget, NoteFolder, Resolution


class PqrDesk:
    def __init__(self, office: Backoffice, accounts: AccountSystem, matrix: ContactMatrix) -> None:
        self.office = office
        self.accounts = accounts
        self.matrix = matrix

    def _pqr(self, reference: str) -> CaseState:
        case = self.office.case(reference)
        if case.category is not Category.PQR:
            raise RuleViolation("interpret the case as PQR first")
        if case.resolution is not Resolution.CUN or case.cun is None:
            raise RuleViolation("a PQR needs its CUN: typify it with the CUN first")
        return case

    def _escalate(self, case: CaseState, reason: str, actor: Actor) -> CommandResult:
        route = self.matrix.route("pqr")
        if route is None:
            raise RuleViolation("the contact matrix has no route for pqr")
        return self.office.escalate(
            case.case_id,
            target=EscalationTarget.RESPONSIBLE_AREA,
            area=route.area,
            reason=reason,
            priority=route.priority,
            external_reference=case.cun,
            actor=actor,
        )

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
    ) -> CommandResult:
        """Branch B: only after talking to the customer."""
        case = self._pqr(reference)
        if customer_contacted_at < case.opened_at:
            raise RuleViolation("branch B needs a contact with the customer after the PQR came in")
        text = f"Corrección de PQR tras contacto con el cliente: {notes}"
        self.accounts.register_marking(case.account, marking, text)
        folder = (
            NoteFolder.ESTRATEGICOS
            if len(text) > self.office.policies.rr_note_max_length
            else (NoteFolder.RR_NOTES)
        )
        self.accounts.add_note(case.account, text, folder)
        self.office.typify(
            case.case_id, marking_code=marking, resolution=Resolution.CUN, cun=case.cun, actor=actor
        )
        self.office.add_note(case.case_id, text=text, actor=actor)
        return self._escalate(case, f"PQR corregida ({marking}): {notes}", actor)

    def agree(self, reference: str, *, agreement: str, actor: Actor) -> CommandResult:
        """Branch C: the agreement is recorded and notified as the PQR's answer."""
        case = self._pqr(reference)
        text = f"Acuerdo con el cliente: {agreement}"
        call_for_case(
            self.office,
            case,
            actor,
            "add_note",
            "consignar el acuerdo en RR",
            lambda: self.accounts.add_note(case.account, text, NoteFolder.RR_NOTES),
        )
        self.office.add_note(case.case_id, text=text, actor=actor)
        return self.office.answer_pqr(
            case.case_id, notified_at=self.office.clock.now(), actor=actor
        )


class SalesDesk:
    def __init__(self, office: Backoffice, matrix: ContactMatrix) -> None:
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
        self.office.escalate(
            case.case_id,
            target=EscalationTarget.CONTACT_MATRIX_AREA,
            area=route.area,
            reason=reason,
            priority=route.priority,
            actor=actor,
        )
        return self.office.schedule_follow_up(case.case_id, due_at=follow_up_at, actor=actor)
