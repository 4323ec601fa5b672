"""Calling Claro's systems on behalf of a case, without ever losing the case's own facts.

Reads (`call_for_case`) record on the case what failed and what is pending when a system does
not answer. Writes (`OutsideWriter.write`) follow `domain.case.outside`: the command has checked
every rule of the case before calling this; the intent is appended first, with its
idempotency key; the system is called with that key; its answer (or refusal) is appended.
A re-run of the same command finds the same request on the case: an answered one is not sent
again, a pending one is sent again under the same key and the system answers as the first
time. `OutsideSystems.send` is the one place that turns a recorded request into a port call,
for the desks and for the sweep that settles writes left pending.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

import attrs

from application.case.commands import CaseCommand, RequestAdjustment, ScheduleVisit, TypifyCase
from application.ports.systems import (
    AccountSystem,
    Diagnostics,
    FieldScheduling,
    IncidentScope,
    Slot,
    SystemError_,
    SystemRefused,
    TicketKind,
    Tickets,
)
from domain.case import outside, records
from domain.case.events import CaseEvent
from domain.case.state import CaseState, OutsideWrite, WriteStatus, fold
from domain.errors import DomainError, RuleViolation
from domain.values import Actor, LineOfBusiness, NoteFolder, Resolution, VisitKind

if TYPE_CHECKING:
    from application.ports.office import CaseWork

T = TypeVar("T")
Result = dict[str, str]


def call_for_case(
    office: CaseWork,
    case: CaseState,
    actor: Actor,
    operation: str,
    pending: str,
    call: Callable[[], T],
) -> T:
    """Run `call`; if the system fails, record on the case what failed and what is pending
    (`SystemCallFailed`), then let the error go on to the caller."""
    try:
        return call()
    except SystemError_ as error:
        _record_failure(office, case, actor, operation, pending, error)
        raise


def _record_failure(
    office: CaseWork,
    case: CaseState,
    actor: Actor,
    operation: str,
    pending: str,
    error: SystemError_,
) -> None:
    now = office.clock.now()
    system, reason = error.system, str(error)

    def decide(state: CaseState) -> list[CaseEvent]:
        return records.record_system_failure(
            state,
            system=system,
            operation=operation,
            reason=reason,
            pending=pending,
            actor=actor,
            at=now,
        )

    office.execute(case.case_id, decide)


class Operation:
    """The writes a case makes, by the name recorded on it."""

    REGISTER_MARKING = "register_marking"
    ADD_NOTE = "add_note"
    CREATE_ORDER = "create_order"
    LEAVE_TICKLER = "leave_tickler"
    OPEN_INCIDENT = "open_incident"
    OPEN_TICKET = "open_ticket"
    BOOK = "book"


RR, AC, DIAGNOSTICADOR, DIME, WFM = "RR", "AC", "Diagnosticador", "DIME", "WFM"


@attrs.frozen
class OutsideSystems:
    """The systems a case may write to; those a host did not configure are None."""

    rr: AccountSystem | None = None
    ac: AccountSystem | None = None
    """AC: móvil accounts (markings, notes, ticklers); a system of its own, not RR."""
    diagnostics: Diagnostics | None = None
    tickets: Tickets | None = None
    scheduling: FieldScheduling | None = None
    how_to_configure: Mapping[str, str] = attrs.field(factory=dict, repr=False)
    """Per system, what to set to configure it (said when a command needs it)."""

    def account_system(self, line: LineOfBusiness) -> str:
        """Where a case's account lives: RR for hogar, AC for móvil (docs/procedure.md §3, §7)."""
        return AC if line is LineOfBusiness.MOVIL else RR

    def accounts(self, system: str) -> AccountSystem:
        port = self.ac if system == AC else self.rr if system == RR else None
        return self._configured(system, port)

    def require(self, *systems: str) -> None:
        """Refuse, before anything is written, a command that needs a system not configured."""
        ports = {RR: self.rr, AC: self.ac, DIAGNOSTICADOR: self.diagnostics, DIME: self.tickets,
                 WFM: self.scheduling}  # fmt: skip
        for system in systems:
            self._configured(system, ports.get(system))

    def _configured(self, system: str, port: T | None) -> T:
        if port is None:
            hint = self.how_to_configure.get(system)
            raise RuleViolation(
                f"no gateway is configured for {system}" + (f" (set {hint})" if hint else "")
            )
        return port

    def diagnostics_port(self) -> Diagnostics:
        return self._configured(DIAGNOSTICADOR, self.diagnostics)

    def scheduling_port(self) -> FieldScheduling:
        return self._configured(WFM, self.scheduling)

    def send(self, write: OutsideWrite) -> Result:
        """Make the port call a recorded request stands for, under its key."""
        p, key, system = dict(write.params), write.key, write.system
        op = write.operation
        if op == Operation.REGISTER_MARKING:
            receipt = self.accounts(system).register_marking(
                p["account"], p["code"], p["notes"], key=key, cun=p.get("cun")
            )
            answer = {"resolution": receipt.resolution.value}
            if receipt.cun:
                answer["cun"] = receipt.cun
            if receipt.filed_at:
                answer["filed_at"] = receipt.filed_at.isoformat()
            return answer
        if op == Operation.ADD_NOTE:
            self.accounts(system).add_note(
                p["account"], p["text"], NoteFolder(p["folder"]), key=key
            )
            return {}
        if op == Operation.LEAVE_TICKLER:
            due = datetime.fromisoformat(p["due"])
            self.accounts(system).leave_tickler(p["account"], due, p["text"], key=key)
            return {}
        if op == Operation.CREATE_ORDER:
            order = self.accounts(system).create_order(
                p["account"], VisitKind(p["kind"]), p["description"], key=key
            )
            return {"order": order}
        if op == Operation.OPEN_INCIDENT:
            incident = self.diagnostics_port().open_incident(
                p["account"], IncidentScope(p["scope"]), p["description"], key=key
            )
            return {"incident": incident}
        if op == Operation.OPEN_TICKET:
            ticket = self._configured(DIME, self.tickets).open_ticket(
                TicketKind(p["kind"]), p["account"], p["description"], key=key
            )
            return {"ticket": ticket}
        if op == Operation.BOOK:
            slot = Slot(
                datetime.fromisoformat(p["start"]), datetime.fromisoformat(p["end"]), p["slot_id"]
            )
            booking = self.scheduling_port().book(p["account"], p["order"], slot, key=key)
            if booking is None:
                return {"no_slot": "true"}
            return {
                "booking_reference": booking.booking_reference,
                "start": booking.slot.start.isoformat(),
                "end": booking.slot.end.isoformat(),
                "slot_id": booking.slot.slot_id,
            }
        raise RuleViolation(f"unknown outside operation {op!r}")


class OutsideWriter:
    """Writes to Claro's systems for one office; see the module's docstring."""

    def __init__(self, office: CaseWork, systems: OutsideSystems) -> None:
        self.office = office
        self.systems = systems

    def write(
        self,
        case: CaseState,
        actor: Actor,
        *,
        system: str,
        operation: str,
        params: Mapping[str, str],
        pending: str,
    ) -> Result:
        """The system's answer to this request of the case: recorded before if it was
        answered already, else asked for (under the request's key) and recorded.

        Call only after the command has checked the case's rules. Raises `SystemUnavailable`
        (the write stays pending on the case, with a `SystemCallFailed`) or `SystemRefused`
        (recorded as refused).
        """
        office, canonical = self.office, outside.as_params(params)
        self.systems.require(system)  # a missing gateway refuses before the intent
        now = office.clock.now()
        recorded = office.execute(
            case.case_id,
            lambda s: outside.request_write(
                s, system=system, operation=operation, params=canonical, actor=actor, at=now
            ),
        )
        write = outside.find_write(recorded.case, system, operation, canonical)
        assert write is not None, "request_write records the request or finds it"
        if write.status is WriteStatus.ANSWERED:
            return dict(write.result)
        return self.settle(case, write, actor, pending)

    def settle_pending(
        self, case: CaseState, actor: Actor, *, operation: str | None = None
    ) -> CaseState:
        """Send again, under their keys, the case's writes (of one operation, or all) whose
        outcome is unknown, and record the answers; the case after. A write still failing
        stays pending (its failure recorded); a refusal is recorded."""
        for write in case.pending_writes:
            if operation is not None and write.operation != operation:
                continue
            with contextlib.suppress(SystemError_):
                self.settle(case, write, actor, f"{outside.describe(write)} (pendiente)")
        return self.office.case(case.case_id)

    def settle(
        self,
        case: CaseState,
        write: OutsideWrite,
        actor: Actor,
        pending: str,
        *,
        record_failure: bool = True,
        follows: bool = False,
    ) -> Result:
        """Send a recorded request under its key and record the answer (or the refusal; and,
        with `record_failure`, a system that did not answer). With `follows`, what follows on
        the case from the answer alone (`what_follows`) is recorded with it, in one append:
        a process that dies after it leaves both or neither (the sweep's and by-hand path;
        an agent's command records the rest of its own steps when run again)."""
        office = self.office
        try:
            result = self.systems.send(write)
        except SystemRefused as refused:
            reason = str(refused)
            now = office.clock.now()
            office.execute(
                case.case_id,
                lambda s: outside.refuse_write(
                    s, key=write.key, reason=reason, actor=actor, at=now
                ),
            )
            raise
        except SystemError_ as error:
            if record_failure:
                _record_failure(office, case, actor, write.operation, pending, error)
            raise
        now = office.clock.now()
        answer_and_follow = _answer(office, write, outside.as_params(result), actor, now, follows)
        office.execute(case.case_id, answer_and_follow)
        return result


def _answer(
    office: CaseWork,
    write: OutsideWrite,
    answer: tuple[tuple[str, str], ...],
    actor: Actor,
    at: datetime,
    follows: bool,
) -> Callable[[CaseState], list[CaseEvent]]:
    def decide(state: CaseState) -> list[CaseEvent]:
        events = outside.answer_write(state, key=write.key, result=answer, actor=actor, at=at)
        command = what_follows(state.case_id, write, dict(answer)) if follows else None
        if not events or command is None:
            return events
        after = fold(state, events)
        assert after is not None
        try:
            return events + office.decide(after, command, actor, at)
        except DomainError:  # the case moved on (closed, typified since): the answer stands
            return events

    return decide


def what_follows(
    case_id: uuid.UUID, write: OutsideWrite, answer: Mapping[str, str]
) -> CaseCommand | None:
    """What follows on the case from a write's answer alone, as the command would have
    recorded it: the marking RR registered (a CUN with its PQR clock, from its filing), the
    adjustment's 72-hour clock, the visit WFM booked. The rest of the command (an escalation,
    a mail) is the agent's to finish, by running it again."""
    params = dict(write.params)
    if write.operation == Operation.REGISTER_MARKING:
        return typified_by(case_id, params, answer)
    if write.operation == Operation.OPEN_TICKET and params.get("kind") == "adjustment":
        return RequestAdjustment(case=case_id, ticket=answer["ticket"])
    if write.operation == Operation.BOOK and "booking_reference" in answer:
        return ScheduleVisit(
            case=case_id, kind=VisitKind(params["kind"]),
            slot_start=datetime.fromisoformat(answer["start"]),
            slot_end=datetime.fromisoformat(answer["end"]),
            booking_reference=answer["booking_reference"],
        )  # fmt: skip
    return None


def typified_by(
    case_id: uuid.UUID,
    params: Mapping[str, str],
    answer: Mapping[str, str],
    *,
    filed_at: datetime | None = None,
) -> TypifyCase:
    """The typification a marking's answer means. A marking sent with the CUN of a PQR already
    filed (`params["cun"]`, a correction) keeps that CUN, filed at `filed_at` (None: as the case
    knows it); otherwise the system's answer says: first contact, or the CUN it filed, from the
    filing time it gives (none given: the same CUN keeps its filing, a new one counts from
    when the case records it)."""
    own_cun = params.get("cun")
    cun = own_cun or answer.get("cun")
    if own_cun is None and "filed_at" in answer:
        filed_at = datetime.fromisoformat(answer["filed_at"])
    return TypifyCase(
        case=case_id, marking_code=params["code"],
        resolution=Resolution.CUN if cun else Resolution(answer["resolution"]), cun=cun,
        filed_at=filed_at if cun else None,
    )  # fmt: skip


def settle_by_hand(
    office: CaseWork,
    case_id: uuid.UUID,
    *,
    key: str,
    answer: Mapping[str, str] | None,
    reason: str,
    actor: Actor,
) -> CaseState:
    """A write left pending, settled by someone who checked in the system itself: what it
    answered (`answer`, then what follows from it on the case), or that it was not applied
    (`answer` None, with the reason): the case can ask for it, or for another, again."""
    now = office.clock.now()
    if answer is None:
        office.execute(
            case_id,
            lambda s: outside.refuse_write(
                s, key=key, reason=f"no aplicado (verificado): {reason}", actor=actor, at=now
            ),
        )
        return office.case(case_id)
    write = next((w for w in office.case(case_id).pending_writes if w.key == key), None)
    if write is None:
        raise RuleViolation(f"no outside write with key {key} is pending on this case")
    office.execute(case_id, _answer(office, write, outside.as_params(answer), actor, now, True))
    return office.case(case_id)
