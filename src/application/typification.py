"""Typification (DOMAIN.md §7): the marking registered in RR (AC for móvil), then on the case.

"El asesor registra la marcación (F22 RR), confirmará si es resolutiva en primer contacto o
genera CUN. Para los casos de móvil en AC se deberá dejar un tickler." The case's rules and
the marking catalogue are checked first (`check`); then the marking is written to the
account's system with its idempotency key, the case records what the system answered (a CUN
starts the PQR clock), and a móvil case gets its tickler in AC. Used by `case typify` and by
every branch that typifies (SAC, PQR).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from application.outside import AC, Operation, OutsideWriter
from domain.state import CaseState
from domain.values import Actor, LineOfBusiness, Resolution

if TYPE_CHECKING:
    from application.service import Backoffice, CommandResult


class Typification:
    def __init__(self, office: Backoffice, writer: OutsideWriter) -> None:
        self.office = office
        self.writer = writer

    def check(self, case: CaseState, marking: str, resolution: Resolution) -> None:
        """Every rule for typifying this case with this marking, before anything is written."""
        self.office.check_typify(case, marking_code=marking, resolution=resolution)
        self.writer.systems.require(self.writer.systems.account_system(case.line))

    def register(
        self,
        case: CaseState,
        *,
        marking: str,
        notes: str,
        actor: Actor,
        cun: str | None = None,
    ) -> CommandResult:
        """Write the marking to RR/AC and record on the case what the system answered.

        `cun`: a PQR the front line already filed; its CUN stays the case's whatever the
        system answers (a correction of the marking keeps the PQR)."""
        system = self.writer.systems.account_system(case.line)
        marking = marking.strip()
        answer = self.writer.write(
            case,
            actor,
            system=system,
            operation=Operation.REGISTER_MARKING,
            params={"account": case.account, "code": marking, "notes": notes},
            pending=f"registrar la marcación {marking} en {system}",
        )
        resolution = Resolution.CUN if cun else Resolution(answer["resolution"])
        result = self.office.typify(
            case.case_id,
            marking_code=marking,
            resolution=resolution,
            cun=cun or answer.get("cun"),
            actor=actor,
        )
        if case.line is LineOfBusiness.MOVIL:
            self._tickler(result.case, marking, notes, actor)
        return result

    def _tickler(self, case: CaseState, marking: str, notes: str, actor: Actor) -> None:
        """Móvil (AC): every typification leaves a tickler, due at the next follow-up, or when
        the marking was registered (§7)."""
        upcoming = case.next_follow_up
        registered = [w for w in case.outside_writes if w.operation == Operation.REGISTER_MARKING]
        due = upcoming.due_at if upcoming else registered[-1].requested_at
        label = f"PQR {case.cun} ({marking})" if case.cun else f"Marcación {marking}"
        self.writer.write(
            case,
            actor,
            system=AC,
            operation=Operation.LEAVE_TICKLER,
            params={"account": case.account, "due": due.isoformat(), "text": f"{label}: {notes}"},
            pending="dejar el tickler en AC",
        )
