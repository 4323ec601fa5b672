"""Running the branches' commands (`application.branches.commands`) on their desks.

`Desks.handle(command, actor)` gives any branch command to the desk that owns it; the desk
checks every rule of the case and of the contact matrix before it writes to Claro's systems
(with an idempotency key) and records what happened on the case. What a desk found on the way
(a check's findings, a diagnosis, a route's reference) is in the events it recorded.
"""

from __future__ import annotations

import attrs

from application.branches.commands import (
    BranchCommand,
    PqrAgree,
    PqrCorrect,
    PqrRedirect,
    SacAccept,
    SacCheck,
    SacDispute,
    SacEscalate,
    SalesEscalate,
    SupportDiagnose,
    SupportResolve,
    SupportVisitBookedByCrm,
)
from application.branches.pqr import PqrDesk, SalesDesk
from application.branches.sac import SacDesk
from application.branches.support import SupportDesk
from application.case.commands import CommandResult
from domain.values import Actor


@attrs.frozen
class Desks:
    """The desks of one back office (built by `application.dispatch.Dispatcher`)."""

    sac: SacDesk
    support: SupportDesk
    pqr: PqrDesk
    sales: SalesDesk

    def handle(self, command: BranchCommand, actor: Actor) -> CommandResult:
        case = str(command.case)
        match command:
            case SacCheck():
                return self.sac.check(case, actor=actor, inconsistent=command.inconsistent).result
            case SacEscalate():
                return self.sac.escalate(case, reason=command.reason, actor=actor)
            case SacAccept():
                return self.sac.customer_accepts(case, marking=command.marking, actor=actor)
            case SacDispute():
                return self.sac.customer_disputes(
                    case, marking=command.marking, reason=command.reason,
                    adjustment=command.adjustment, actor=actor,
                )  # fmt: skip
            case SupportDiagnose():
                _, result = self.support.diagnose(
                    case, actor=actor, service=command.service, serials=command.serials,
                    equipment_ok=command.equipment_ok,
                )  # fmt: skip
                return result
            case SupportResolve():
                return self.support.resolve(
                    case, command.route, reason=command.reason, actor=actor,
                    visit=command.visit, window_days=command.window_days,
                    slot_id=command.slot_id,
                ).result  # fmt: skip
            case SupportVisitBookedByCrm():
                return self.support.visit_booked_by_crm(
                    case, escalation_id=command.escalation_id, kind=command.kind,
                    slot_start=command.slot_start, slot_end=command.slot_end,
                    booking_reference=command.booking_reference, actor=actor,
                )  # fmt: skip
            case PqrRedirect():
                return self.pqr.redirect(case, reason=command.reason, actor=actor)
            case PqrCorrect():
                return self.pqr.correct(
                    case, marking=command.marking, notes=command.notes,
                    customer_contacted_at=command.customer_contacted_at, actor=actor,
                    area=command.area,
                )  # fmt: skip
            case PqrAgree():
                return self.pqr.agree(case, agreement=command.agreement, actor=actor)
            case SalesEscalate():
                return self.sales.escalate(
                    case, reason=command.reason, follow_up_at=command.follow_up_at, actor=actor
                )
