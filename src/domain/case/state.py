"""The Case aggregate's state, and `apply`/`fold` that rebuild it from its events."""

from __future__ import annotations

import enum
import uuid
from collections.abc import Iterable
from datetime import datetime
from functools import singledispatch
from typing import Any

import attrs

from domain.case.events import (
    ERASED,
    PERSONAL_PARAMS,
    AccountChecked,
    Assigned,
    CaseEvent,
    ClockBreached,
    ClockStarted,
    ClockStopped,
    ClockWarned,
    Closed,
    ClosedFirstContact,
    ClosingProtocolCompleted,
    Escalated,
    FollowUpCompleted,
    FollowUpMissed,
    FollowUpScheduled,
    Ingested,
    Interpreted,
    MailFailed,
    NewRequestRaised,
    NoteAdded,
    OutsideWriteAnswered,
    OutsideWriteRefused,
    OutsideWriteRequested,
    PersonalDataCorrected,
    PersonalDataErased,
    QualityMonitored,
    Reopened,
    RepeatContactRecorded,
    SurveyAnswered,
    SystemCallFailed,
    Typified,
    VisitScheduled,
)
from domain.errors import RuleViolation
from domain.values import (
    CaseStatus,
    Category,
    ClockKind,
    EscalationTarget,
    LineOfBusiness,
    NoteFolder,
    Priority,
    Resolution,
    SourceKey,
    Subcategory,
    VisitKind,
)


class FollowUpStatus(enum.StrEnum):
    PENDING = "pending"
    DONE_ON_TIME = "done_on_time"
    DONE_LATE = "done_late"
    MISSED = "missed"


@attrs.frozen
class NoteEntry:
    """A note as the agent wrote it: the conversation trail `case show` prints."""

    at: datetime
    author: str
    folder: NoteFolder
    text: str


RECENT_NOTES = 20
"""Notes a case keeps at hand (the history holds every one)."""


@attrs.frozen
class FollowUp:
    follow_up_id: int
    due_at: datetime
    status: FollowUpStatus = FollowUpStatus.PENDING
    settled_at: datetime | None = None


@attrs.frozen
class Escalation:
    escalation_id: int
    target: EscalationTarget
    area: str
    reason: str
    priority: Priority
    external_reference: str | None
    at: datetime
    after_inconsistency: bool = False
    """Made after a check found an inconsistency (SAC's "escalar … con el fin de dar
    prioridad a la incidencia")."""


@attrs.frozen
class Visit:
    kind: VisitKind
    slot_start: datetime
    slot_end: datetime
    booking_reference: str


@attrs.frozen
class Clock:
    clock_id: int
    kind: ClockKind
    started_at: datetime
    warn_at: datetime | None
    due_at: datetime
    reference: str | None
    running: bool = True
    warned: bool = False
    breached: bool = False


class WriteStatus(enum.StrEnum):
    PENDING = "pending"
    """Asked for; whether the system applied it is not known yet."""
    ANSWERED = "answered"
    REFUSED = "refused"


@attrs.frozen
class OutsideWrite:
    """A write to one of Claro's systems on behalf of the case (docs/procedure.md §13)."""

    system: str
    operation: str
    key: str
    """The idempotency key: the same request on the same case always carries it."""
    params: tuple[tuple[str, str], ...]
    requested_at: datetime
    status: WriteStatus = WriteStatus.PENDING
    result: tuple[tuple[str, str], ...] = ()
    answered_at: datetime | None = None
    reason: str | None = None
    """Why the system refused it."""


@attrs.frozen(kw_only=True)
class CaseState:
    case_id: uuid.UUID
    version: int
    source: SourceKey
    received_at: datetime
    account: str
    line: LineOfBusiness
    customer_name: str
    typification: str
    request: str
    front_agent: str | None
    recommended_by: str | None
    opened_at: datetime
    updated_at: datetime
    status: CaseStatus = CaseStatus.OPEN
    agent: str | None = None
    category: Category | None = None
    subcategory: Subcategory | None = None
    follow_ups: tuple[FollowUp, ...] = ()
    repeat_contacts: tuple[SourceKey, ...] = ()
    notes: int = 0
    estrategicos_notes: int = 0
    last_note: str | None = None
    """The latest note's text, and when (the same note again soon is a double submission)."""
    last_note_at: datetime | None = None
    recent_notes: tuple[NoteEntry, ...] = ()
    """The latest notes' text, oldest first (at most `RECENT_NOTES`)."""
    typified_round: int | None = None
    """`reopen_count` when the case was last typified."""
    marking_code: str | None = None
    resolution: Resolution | None = None
    cun: str | None = None
    cun_filed_at: datetime | None = None
    """When the PQR of the case's CUN was filed: its response clock runs from then."""
    front_cun: str | None = None
    """A PQR the front line had already filed when the case came in, and when."""
    front_filed_at: datetime | None = None
    linked_to: uuid.UUID | None = None
    """The case during whose call this request was raised."""
    phone: str | None = None
    """The customer's phone to call back on, when the source gave one."""
    new_requests: tuple[uuid.UUID, ...] = ()
    """The cases opened for new requests raised during this case's calls."""
    escalations: tuple[Escalation, ...] = ()
    visits: tuple[Visit, ...] = ()
    protocol_completed: bool = False
    agent_scheduled_follow_up: bool = False
    closed_first_contact: bool = False
    closed_at: datetime | None = None
    reopen_count: int = 0
    mail_failures: tuple[tuple[str, tuple[str, ...]], ...] = ()
    """(Message-ID, recipients) of each message that could not be delivered."""
    clocks: tuple[Clock, ...] = ()
    checks: tuple[tuple[str, str, bool], ...] = ()
    """(system, aspect, inconsistent) of each check made, oldest first."""
    pending_calls: tuple[str, ...] = ()
    """What outside systems failed to do and is still pending (cleared by the next check)."""
    surveys: tuple[str, ...] = ()
    """The ids of the survey answers recorded on the case."""
    monitorings: tuple[str, ...] = ()
    """The ids of the quality monitorings recorded on the case."""
    outside_writes: tuple[OutsideWrite, ...] = ()
    """Every write to Claro's systems the case asked for, oldest first."""
    personal_data_erased_at: datetime | None = None
    """When the data subject's personal data on the case was last erased."""

    @property
    def is_open(self) -> bool:
        return self.status is CaseStatus.OPEN

    @property
    def pending_follow_ups(self) -> tuple[FollowUp, ...]:
        return tuple(f for f in self.follow_ups if f.status is FollowUpStatus.PENDING)

    @property
    def next_follow_up(self) -> FollowUp | None:
        pending = self.pending_follow_ups
        return min(pending, key=lambda f: f.due_at) if pending else None

    @property
    def running_clocks(self) -> tuple[Clock, ...]:
        return tuple(c for c in self.clocks if c.running)

    @property
    def pending_writes(self) -> tuple[OutsideWrite, ...]:
        """Writes asked for whose outcome the case does not know yet."""
        return tuple(w for w in self.outside_writes if w.status is WriteStatus.PENDING)

    def clock(self, clock_id: int) -> Clock:
        for c in self.clocks:
            if c.clock_id == clock_id:
                return c
        raise RuleViolation(f"the case has no clock #{clock_id}")

    def follow_up(self, follow_up_id: int) -> FollowUp:
        for f in self.follow_ups:
            if f.follow_up_id == follow_up_id:
                return f
        raise RuleViolation(f"the case has no follow-up #{follow_up_id}")


# --- rebuilding state ------------------------------------------------------------------------


@singledispatch
def _apply(event: CaseEvent, state: CaseState | None) -> CaseState:
    raise TypeError(f"unknown case event {type(event).__name__}")


def _next(state: CaseState, event: CaseEvent, **changes: Any) -> CaseState:
    """The state after `event`: its changes, with the event's version and time."""
    return attrs.evolve(
        state, version=event.originator_version, updated_at=event.timestamp, **changes
    )


def _on(state: CaseState | None, event: CaseEvent) -> CaseState:
    if state is None:
        raise ValueError(f"{type(event).__name__} before Ingested in case {event.originator_id}")
    return state


@_apply.register
def _(event: Ingested, state: CaseState | None) -> CaseState:
    if state is not None:
        raise ValueError(f"case {event.originator_id} was ingested twice")
    follow_ups = (FollowUp(1, event.follow_up_at),) if event.follow_up_at else ()
    return CaseState(
        case_id=event.originator_id,
        version=event.originator_version,
        source=event.source,
        received_at=event.received_at,
        account=event.account,
        line=event.line,
        customer_name=event.customer_name,
        typification=event.typification,
        request=event.request,
        front_agent=event.front_agent,
        recommended_by=event.recommended_by,
        opened_at=event.timestamp,
        updated_at=event.timestamp,
        follow_ups=follow_ups,
        front_cun=event.cun,
        front_filed_at=event.filed_at,
        linked_to=event.linked_to,
        phone=event.phone,
    )


@_apply.register
def _(event: Assigned, state: CaseState | None) -> CaseState:
    return _next(_on(state, event), event, agent=event.agent)


@_apply.register
def _(event: RepeatContactRecorded, state: CaseState | None) -> CaseState:
    s = _on(state, event)
    return _next(s, event, repeat_contacts=(*s.repeat_contacts, event.source))


@_apply.register
def _(event: Interpreted, state: CaseState | None) -> CaseState:
    return _next(_on(state, event), event, category=event.category, subcategory=event.subcategory)


@_apply.register
def _(event: NoteAdded, state: CaseState | None) -> CaseState:
    s = _on(state, event)
    entry = NoteEntry(event.timestamp, str(event.actor), event.folder, event.text)
    seen = {
        "last_note": event.text,
        "last_note_at": event.timestamp,
        "recent_notes": (*s.recent_notes[-(RECENT_NOTES - 1) :], entry),
    }
    if event.folder is NoteFolder.ESTRATEGICOS:
        return _next(s, event, estrategicos_notes=s.estrategicos_notes + 1, **seen)
    return _next(s, event, notes=s.notes + 1, **seen)


@_apply.register
def _(event: FollowUpScheduled, state: CaseState | None) -> CaseState:
    s = _on(state, event)
    return _next(
        s,
        event,
        follow_ups=(*s.follow_ups, FollowUp(event.follow_up_id, event.due_at)),
        agent_scheduled_follow_up=True,
    )


def _settle(s: CaseState, event: CaseEvent, follow_up_id: int, status: FollowUpStatus) -> CaseState:
    at = event.timestamp
    follow_ups = tuple(
        attrs.evolve(f, status=status, settled_at=at) if f.follow_up_id == follow_up_id else f
        for f in s.follow_ups
    )
    return _next(s, event, follow_ups=follow_ups)


@_apply.register
def _(event: FollowUpCompleted, state: CaseState | None) -> CaseState:
    status = FollowUpStatus.DONE_ON_TIME if event.on_time else FollowUpStatus.DONE_LATE
    return _settle(_on(state, event), event, event.follow_up_id, status)


@_apply.register
def _(event: FollowUpMissed, state: CaseState | None) -> CaseState:
    return _settle(_on(state, event), event, event.follow_up_id, FollowUpStatus.MISSED)


@_apply.register
def _(event: Typified, state: CaseState | None) -> CaseState:
    return _next(
        _on(state, event),
        event,
        marking_code=event.marking_code,
        resolution=event.resolution,
        cun=event.cun,
        cun_filed_at=event.filed_at,
        typified_round=state.reopen_count if state is not None else 0,
    )


@_apply.register
def _(event: Escalated, state: CaseState | None) -> CaseState:
    s = _on(state, event)
    escalation = Escalation(
        escalation_id=event.escalation_id,
        target=event.target,
        area=event.area,
        reason=event.reason,
        priority=event.priority,
        external_reference=event.external_reference,
        at=event.timestamp,
        after_inconsistency=any(inconsistent for _, _, inconsistent in s.checks),
    )
    return _next(s, event, escalations=(*s.escalations, escalation))


@_apply.register
def _(event: VisitScheduled, state: CaseState | None) -> CaseState:
    s = _on(state, event)
    visit = Visit(event.kind, event.slot_start, event.slot_end, event.booking_reference)
    return _next(s, event, visits=(*s.visits, visit))


@_apply.register
def _(event: ClosingProtocolCompleted, state: CaseState | None) -> CaseState:
    return _next(_on(state, event), event, protocol_completed=True)


@_apply.register
def _(event: ClosedFirstContact, state: CaseState | None) -> CaseState:
    return _next(
        _on(state, event),
        event,
        status=CaseStatus.CLOSED,
        closed_first_contact=True,
        closed_at=event.timestamp,
    )


@_apply.register
def _(event: Closed, state: CaseState | None) -> CaseState:
    return _next(
        _on(state, event),
        event,
        status=CaseStatus.CLOSED,
        closed_first_contact=False,
        closed_at=event.timestamp,
    )


@_apply.register
def _(event: Reopened, state: CaseState | None) -> CaseState:
    s = _on(state, event)
    return _next(
        s,
        event,
        status=CaseStatus.OPEN,
        closed_first_contact=False,
        closed_at=None,
        protocol_completed=False,
        reopen_count=s.reopen_count + 1,
    )


@_apply.register
def _(event: MailFailed, state: CaseState | None) -> CaseState:
    s = _on(state, event)
    failure = (event.message_id, event.recipients)
    return _next(s, event, mail_failures=(*s.mail_failures, failure))


@_apply.register
def _(event: ClockStarted, state: CaseState | None) -> CaseState:
    s = _on(state, event)
    clock = Clock(
        event.clock_id, event.kind, event.started_at, event.warn_at, event.due_at, event.reference
    )
    return _next(s, event, clocks=(*s.clocks, clock))


def _change_clock(s: CaseState, event: CaseEvent, clock_id: int, **changes: Any) -> CaseState:
    clocks = tuple(attrs.evolve(c, **changes) if c.clock_id == clock_id else c for c in s.clocks)
    return _next(s, event, clocks=clocks)


@_apply.register
def _(event: ClockWarned, state: CaseState | None) -> CaseState:
    return _change_clock(_on(state, event), event, event.clock_id, warned=True)


@_apply.register
def _(event: ClockBreached, state: CaseState | None) -> CaseState:
    return _change_clock(_on(state, event), event, event.clock_id, breached=True)


@_apply.register
def _(event: ClockStopped, state: CaseState | None) -> CaseState:
    return _change_clock(_on(state, event), event, event.clock_id, running=False)


@_apply.register
def _(event: AccountChecked, state: CaseState | None) -> CaseState:
    s = _on(state, event)
    check = (event.system, event.aspect, event.inconsistent)
    return _next(s, event, checks=(*s.checks, check), pending_calls=())


@_apply.register
def _(event: SystemCallFailed, state: CaseState | None) -> CaseState:
    s = _on(state, event)
    return _next(s, event, pending_calls=(*s.pending_calls, event.pending))


@_apply.register
def _(event: SurveyAnswered, state: CaseState | None) -> CaseState:
    s = _on(state, event)
    return _next(s, event, surveys=(*s.surveys, event.survey_id))


@_apply.register
def _(event: QualityMonitored, state: CaseState | None) -> CaseState:
    s = _on(state, event)
    return _next(s, event, monitorings=(*s.monitorings, event.monitoring_id))


@_apply.register
def _(event: OutsideWriteRequested, state: CaseState | None) -> CaseState:
    s = _on(state, event)
    write = OutsideWrite(event.system, event.operation, event.key, event.params, event.timestamp)
    return _next(s, event, outside_writes=(*s.outside_writes, write))


def _settle_write(s: CaseState, event: CaseEvent, key: str, **changes: Any) -> CaseState:
    writes = tuple(attrs.evolve(w, **changes) if w.key == key else w for w in s.outside_writes)
    return _next(s, event, outside_writes=writes)


@_apply.register
def _(event: OutsideWriteAnswered, state: CaseState | None) -> CaseState:
    return _settle_write(
        _on(state, event), event, event.key, status=WriteStatus.ANSWERED, result=event.result,
        answered_at=event.timestamp,
    )  # fmt: skip


@_apply.register
def _(event: OutsideWriteRefused, state: CaseState | None) -> CaseState:
    return _settle_write(
        _on(state, event), event, event.key, status=WriteStatus.REFUSED, reason=event.reason
    )


@_apply.register
def _(event: NewRequestRaised, state: CaseState | None) -> CaseState:
    s = _on(state, event)
    return _next(s, event, new_requests=(*s.new_requests, event.new_case_id))


@_apply.register
def _(event: PersonalDataErased, state: CaseState | None) -> CaseState:
    # The fields read as erased from here on, whether the key is deleted yet or not: a state
    # folded (and cached) in between holds no personal data either.
    s = _on(state, event)
    return _next(
        s,
        event,
        customer_name=ERASED,
        request=ERASED,
        phone=None if s.phone is None else ERASED,
        last_note=None if s.last_note is None else ERASED,
        recent_notes=tuple(attrs.evolve(n, text=ERASED) for n in s.recent_notes),
        escalations=tuple(attrs.evolve(e, reason=ERASED) for e in s.escalations),
        outside_writes=tuple(
            attrs.evolve(w, params=_erased_params(w.params)) for w in s.outside_writes
        ),
        personal_data_erased_at=event.timestamp,
    )


def _erased_params(params: tuple[tuple[str, str], ...]) -> tuple[tuple[str, str], ...]:
    """A write's parameters with their free text (`PERSONAL_PARAMS`) read as erased."""
    return tuple((n, ERASED if n in PERSONAL_PARAMS else v) for n, v in params)


@_apply.register
def _(event: PersonalDataCorrected, state: CaseState | None) -> CaseState:
    s = _on(state, event)
    return _next(
        s,
        event,
        customer_name=s.customer_name if event.customer_name is None else event.customer_name,
        phone=s.phone if event.phone is None else event.phone,
    )


def apply(state: CaseState | None, event: CaseEvent) -> CaseState:
    """One event on top of a state (None before the case exists)."""
    return _apply(event, state)


def fold(state: CaseState | None, events: Iterable[CaseEvent]) -> CaseState | None:
    """Rebuild a case from its events, in order. Same events, same state, always."""
    for event in events:
        state = apply(state, event)
    return state
