"""Typification (docs/procedure.md §7): the marking registered in RR (AC for móvil), then on the
case.

"El asesor registra la marcación (F22 RR), confirmará si es resolutiva en primer contacto o
genera CUN. Para los casos de móvil en AC se deberá dejar un tickler." The case's rules and
the marking catalogue are checked first (`check`); then the marking is written to the
account's system with its idempotency key, the case records what the system answered (a CUN
starts the PQR clock), and a móvil case gets its tickler in AC. Used by `case typify` and by
every branch that typifies (SAC, PQR).

`Notes` does the same for the agent's notes: RR's notes, or its ESTRATEGICOS folder (F7+F6)
when the note is longer than RR's field (§7), then the case.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import attrs

from application.case.commands import AddNote
from application.case.markings import check_marking
from application.case.outside import AC, Operation, OutsideWriter, typified_by
from domain.case import decisions
from domain.case.events import NoteAdded
from domain.case.state import CaseState
from domain.errors import InvalidValue, RuleViolation
from domain.values import Actor, LineOfBusiness, Resolution, check_cun, require_aware

if TYPE_CHECKING:
    from application.case.commands import CommandResult
    from application.ports.office import CaseWork


class Notes:
    def __init__(self, office: CaseWork, writer: OutsideWriter) -> None:
        self.office = office
        self.writer = writer

    def add(self, case: CaseState, *, text: str, actor: Actor) -> CommandResult:
        """The note in RR (AC for móvil), in ESTRATEGICOS when longer than RR's field, then on
        the case; the same note again writes nothing."""
        system = self.writer.systems.account_system(case.line)
        self.writer.systems.require(system)
        # The decision is pure: trying it on the case checks every rule before RR.
        tried = decisions.add_note(
            case, text=text, actor=actor, at=self.office.clock.now(),
            rr_note_max_length=self.office.policies.rr_note_max_length,
        )  # fmt: skip
        for event in tried:
            assert isinstance(event, NoteAdded)
            self.writer.write(
                case, actor, system=system, operation=Operation.ADD_NOTE,
                params={"account": case.account, "text": event.text,
                        "folder": event.folder.value},
                pending=f"consignar la nota en {system}",
            )  # fmt: skip
        return self.office.handle(AddNote(case=case.case_id, text=text), actor)


class Typification:
    def __init__(self, office: CaseWork, writer: OutsideWriter) -> None:
        self.office = office
        self.writer = writer

    def check(
        self,
        case: CaseState,
        marking: str,
        resolution: Resolution | None,
        *,
        cun: str | None = None,
        filed_at: datetime | None = None,
    ) -> None:
        """Every rule for typifying this case with this marking, before anything is written
        (`resolution` None: the one the catalogue, or else RR, gives the marking; `cun` and
        `filed_at`: a PQR already filed, whose marking this is)."""
        if self.office.policies.markings is not None:
            check_marking(self.office.policies.markings, case, marking, resolution)
        code = decisions.check_typify(case, marking_code=marking)
        decisions.check_keeps_pqr(
            case, marking_code=code, cun=check_cun(cun) if cun else None, before_answer=True
        )
        if filed_at is not None:
            require_aware("filed_at", filed_at)
            if filed_at > self.office.clock.now():
                raise InvalidValue("filed_at", "a PQR cannot be filed in the future")
        self.writer.systems.require(self.writer.systems.account_system(case.line))

    def register(
        self,
        case: CaseState,
        *,
        marking: str,
        notes: str,
        actor: Actor,
        cun: str | None = None,
        filed_at: datetime | None = None,
        expect: Resolution | None = None,
    ) -> CommandResult:
        """Write the marking to RR/AC and record on the case what the system answered.

        `expect`: what the command needs the marking to be. Without a marking catalogue only
        RR knows; when it answers otherwise, the case records what RR did (a PQR it filed
        keeps its CUN and clock) and the command is refused, saying so.

        `cun`: a PQR the front line already filed; its CUN stays the case's whatever the
        system answers (a correction of the marking keeps the PQR)."""
        system = self.writer.systems.account_system(case.line)
        marking = marking.strip()
        decisions.check_keeps_pqr(
            case, marking_code=marking, cun=check_cun(cun) if cun else None, before_answer=True
        )
        params = {"account": case.account, "code": marking, "notes": notes}
        if cun:
            params["cun"] = cun  # the marking of a PQR already filed: nothing new is filed
        params["round"] = str(case.reopen_count)  # a reopened case registers anew
        answer = self.writer.write(
            case,
            actor,
            system=system,
            operation=Operation.REGISTER_MARKING,
            params=params,
            pending=f"registrar la marcación {marking} en {system}",
        )
        typified = typified_by(case.case_id, params, answer, filed_at=filed_at)
        resolution = typified.resolution
        result = self.office.handle(typified, actor)
        if case.line is LineOfBusiness.MOVIL:
            self._tickler(result.case, marking, notes, actor)
            result = attrs.evolve(result, case=self.office.case(case.case_id))
        if expect is not None and resolution is not expect:
            said = f"filed a PQR (CUN {result.case.cun})" if result.case.cun else "filed no PQR"
            raise RuleViolation(
                f"{system} {said} for marking {marking}: it means {resolution.value}, not "
                f"{expect.value}; the case records what {system} did"
            )
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
