"""The commands on a case, as data: what a caller asks, in a form every client shares.

Each command names its case by id (a source key such as `CRM-260001` is resolved to it at the
edge: the CLI, the HTTP API) and carries only what the caller decides. Who acts and when are
not part of it: the actor is the signed-in user (or the system), the time is the clock's. The
same classes are what the HTTP API accepts; their fields are plain values, enums and times,
so a JSON schema can be made from them.

`application.case.handling.CaseCommands.handle` runs any of them: load, decide through the domain,
append, retry on a conflict. Every date-time a command carries is checked first, in one place
(`check_moments`).
"""

from __future__ import annotations

import uuid
from datetime import datetime

import attrs

from domain.case.events import CaseEvent
from domain.case.state import CaseState
from domain.errors import DomainError
from domain.values import (
    Category,
    EscalationTarget,
    Priority,
    Resolution,
    Subcategory,
    VisitKind,
    check_moment,
)


@attrs.frozen(kw_only=True)
class AssignCase:
    """Give the case to a back-office agent (or reassign it)."""

    case: uuid.UUID
    agent: str


@attrs.frozen(kw_only=True)
class InterpretCase:
    """Say what the customer needs: the category and subcategory of the procedure."""

    case: uuid.UUID
    category: Category
    subcategory: Subcategory


@attrs.frozen(kw_only=True)
class AddNote:
    """A note of the conversation (RR's notes; ESTRATEGICOS when it does not fit there)."""

    case: uuid.UUID
    text: str


@attrs.frozen(kw_only=True)
class ScheduleFollowUp:
    """Call the customer back at the time they asked for."""

    case: uuid.UUID
    due_at: datetime


@attrs.frozen(kw_only=True)
class CompleteFollowUp:
    """The call back was made (the earliest pending one unless `follow_up_id` names one)."""

    case: uuid.UUID
    outcome: str
    follow_up_id: int | None = None


@attrs.frozen(kw_only=True)
class MarkFollowUpMissed:
    """The sweep's: a follow-up still pending past the allowed delay is recorded as missed."""

    case: uuid.UUID
    follow_up_id: int
    at: datetime | None = None
    """The sweep's moment (default: now)."""


@attrs.frozen(kw_only=True)
class TypifyCase:
    """Record the marking. One that generates a CUN starts its PQR's response clock, from its
    filing (`filed_at`, the front line's filing, or now)."""

    case: uuid.UUID
    marking_code: str
    resolution: Resolution
    cun: str | None = None
    filed_at: datetime | None = None


@attrs.frozen(kw_only=True)
class AnswerPqr:
    """The PQR's answer was notified: its clock stops, the reposición window opens."""

    case: uuid.UUID
    notified_at: datetime


@attrs.frozen(kw_only=True)
class RequestAdjustment:
    """An adjustment typified in DIME: the customer's 72-hour solution clock starts."""

    case: uuid.UUID
    ticket: str


@attrs.frozen(kw_only=True)
class CompleteAdjustment:
    case: uuid.UUID
    outcome: str


@attrs.frozen(kw_only=True)
class SweepClock:
    """The sweep's, on one deadline: warn once, breach once, else nothing."""

    case: uuid.UUID
    clock_id: int
    at: datetime | None = None


@attrs.frozen(kw_only=True)
class Escalate:
    """An escalation; one to an area starts that area's response clock."""

    case: uuid.UUID
    target: EscalationTarget
    area: str
    reason: str
    priority: Priority = Priority.NORMAL
    external_reference: str | None = None


def escalate_to_area(case: CaseState, area: str, priority: Priority, reason: str) -> Escalate:
    """The escalation of a case to the area responsible for it (the contact matrix's route),
    carrying its PQR's CUN when it has one."""
    return Escalate(
        case=case.case_id, target=EscalationTarget.RESPONSIBLE_AREA, area=area, reason=reason,
        priority=priority, external_reference=case.cun,
    )  # fmt: skip


@attrs.frozen(kw_only=True)
class AnswerEscalation:
    """The area answered the escalation: its response clock stops."""

    case: uuid.UUID
    escalation_id: int
    answer: str


@attrs.frozen(kw_only=True)
class ScheduleVisit:
    """A technical visit booked in WFM (or by the CRM), recorded on the case."""

    case: uuid.UUID
    kind: VisitKind
    slot_start: datetime
    slot_end: datetime
    booking_reference: str


@attrs.frozen(kw_only=True)
class CompleteClosingProtocol:
    """The closing protocol's four steps, as the agent went through them."""

    case: uuid.UUID
    resolution_explained: bool
    nothing_else_pending: bool
    closing_script_read: bool
    survey_invited: bool


@attrs.frozen(kw_only=True)
class CloseCase:
    """Close the case; `first_contact` when it was solved in the first contact."""

    case: uuid.UUID
    summary: str
    first_contact: bool = False


@attrs.frozen(kw_only=True)
class ReopenCase:
    case: uuid.UUID
    reason: str


CaseCommand = (
    AssignCase
    | InterpretCase
    | AddNote
    | ScheduleFollowUp
    | CompleteFollowUp
    | MarkFollowUpMissed
    | TypifyCase
    | AnswerPqr
    | RequestAdjustment
    | CompleteAdjustment
    | SweepClock
    | Escalate
    | AnswerEscalation
    | ScheduleVisit
    | CompleteClosingProtocol
    | CloseCase
    | ReopenCase
)
"""Every command on one case."""

CASE_COMMANDS: tuple[type[CaseCommand], ...] = CaseCommand.__args__


def check_moments(command: object) -> None:
    """Every date-time of a command (of any kind: on a case, a branch's, a call's), checked
    before anything is decided: with its time zone, and in the years the back office reads
    (`domain.values.check_moment`, the bounds of the intake's dates too). An `InvalidValue`
    names the field. The doors every command goes through run it: `Dispatcher.handle` and
    `CaseCommands.handle`."""
    kind = type(command)
    if not attrs.has(kind):
        return  # not a command: the door says so
    for field in attrs.fields(kind):
        value = getattr(command, field.name)
        if isinstance(value, datetime):
            check_moment(field.name, value)


@attrs.frozen
class CommandResult:
    """The case after a command, and the events the command recorded (empty for a no-op)."""

    case: CaseState
    events: tuple[CaseEvent, ...]
    notice: str = ""
    """What the caller should also be told (e.g. recorded on the case only: no gateway)."""


MAX_ATTEMPTS = 25
"""Optimistic concurrency: reload, re-decide and retry this many times before giving up."""


class StaleCase(DomainError):
    """The caller acted on a version of the case that is no longer the current one (someone
    else changed it): nothing was recorded; read the case again."""

    def __init__(self, case_id: uuid.UUID, expected: int, current: int) -> None:
        super().__init__(
            f"the case changed since version {expected} (it is at version {current}): "
            "read it again before acting"
        )
        self.case_id = case_id
        self.expected = expected
        self.current = current


class TooMuchContention(DomainError):
    def __init__(self, case_id: uuid.UUID) -> None:
        super().__init__(f"case {case_id} kept changing under this command; try again")
