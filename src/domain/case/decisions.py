"""The Case aggregate's decisions.

Each takes the current state and a command's data and returns the new events, or raises a
`DomainError` saying what the procedure forbids. None reads a clock: the caller passes `at`,
the moment the command happens.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any, TypeVar

import attrs

from domain.calendar import BOGOTA
from domain.case.events import (
    Assigned,
    CaseEvent,
    Escalated,
    FollowUpCompleted,
    FollowUpMissed,
    FollowUpScheduled,
    Ingested,
    Interpreted,
    NewRequestRaised,
    NoteAdded,
    RepeatContactRecorded,
    Typified,
    VisitScheduled,
)
from domain.case.state import CaseState, FollowUp, FollowUpStatus
from domain.errors import CaseClosed, InvalidValue, RuleViolation
from domain.values import (
    SUBCATEGORIES,
    Actor,
    Category,
    Channel,
    ClockKind,
    EscalationTarget,
    LineOfBusiness,
    NoteFolder,
    Priority,
    Resolution,
    SourceKey,
    Subcategory,
    VisitKind,
    check_account,
    check_cun,
    check_moment,
    check_phone,
    is_one_address,
    require_aware,
    single_line,
)

E = TypeVar("E", bound=CaseEvent)


@attrs.frozen
class FollowUpRules:
    """When a follow-up counts as on time, and when the sweep may call it missed.

    On time = done at or before its due time (docs/procedure.md §11), plus `on_time_window` of grace
    (none by default); missed = still pending `missed_after` its due time [decision]. Both are
    configuration, and both are part of the indicators' definition label.
    """

    on_time_window: timedelta = timedelta(0)
    missed_after: timedelta = timedelta(hours=24)


DEFAULT_FOLLOW_UP_RULES = FollowUpRules()
# [decision] RR's note field holds this many characters; longer notes go to ESTRATEGICOS (§7).
RR_NOTE_MAX_LENGTH = 240
REPEAT_NOTE_WINDOW = timedelta(minutes=10)
"""[decision] The same note again within this is taken for a double submission."""
NOTE_MAX_LENGTH = 20_000
"""The longest note, in characters."""
REQUEST_MAX_LENGTH = NOTE_MAX_LENGTH
"""The longest request of a case (what the customer asked, as the front line wrote it), in
characters: a note's length, whichever way the case comes in (`ingest`)."""
NAME_MAX_LENGTH = 200
"""The longest customer name or typification, in characters."""
RECEIVED_CLOCK_SKEW_MINUTES = 5
RECEIVED_CLOCK_SKEW = timedelta(minutes=RECEIVED_CLOCK_SKEW_MINUTES)
"""[decision] How far past the back office's clock a case's `received_at` may be: the front
line's CRM and the mail servers keep their own clocks, a few seconds or minutes apart from
ours. A case received later than that would be received in the future: refused. An
e-mail's is its sender's `Date`, the clock of whoever wrote it: one ahead of ours is taken as
now (`received_when`), never refused (a sender's fast clock must not lose the case)."""


def clean_text(field: str, value: str, *, max_length: int = 10_000, one_line: bool = False) -> str:
    """The text, stripped and not empty. `one_line`: refused when it holds a line break or a
    control character (a key, a name, a code); otherwise free text, its control characters
    made harmless (see `_no_nul`)."""
    value = value.strip()
    if not value:
        raise InvalidValue(field, "must not be empty")
    value = single_line(field, value) if one_line else _no_nul(field, value)
    if len(value) > max_length:
        raise InvalidValue(field, f"is {len(value)} characters long; at most {max_length}")
    return value


def _optional_text(value: str | None) -> str | None:
    if value is None:
        return None
    return value.strip() or None


def _no_nul(field: str, value: str) -> str:
    """Free text as it may be kept and shown: no NUL (refused); line breaks as `\n`; any other
    control character (a terminal's escape sequence, a stray form feed) replaced by U+FFFD,
    so that showing the text can never drive the reader's terminal."""
    if "\x00" in value:
        raise InvalidValue(field, "holds a NUL character")
    if _CONTROL.search(value) is None:
        return value
    value = value.replace("\r\n", "\n").replace("\r", "\n")
    return _CONTROL.sub("\ufffd", value)


_CONTROL = re.compile("[\x01-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029]")
"""Control characters but tab and line feed (and NUL, refused on its own)."""


def received_when(source: SourceKey, received_at: datetime, at: datetime) -> datetime:
    """When a contact was received, as recorded at `at`: as given; for an e-mail (its
    `Date`, set by the sender's clock) no later than `at`, the mail being in hand now."""
    require_aware("received_at", received_at)
    if source.channel is Channel.EMAIL and received_at > at:
        return at
    return received_at


def check_request(request: str) -> str:
    """A case's request, stripped, as free text is kept (`_no_nul`), at most
    `REQUEST_MAX_LENGTH` characters (may be empty)."""
    request = _no_nul("request", request.strip())
    if len(request) > REQUEST_MAX_LENGTH:
        raise InvalidValue(
            "request", f"is {len(request)} characters long; at most {REQUEST_MAX_LENGTH}"
        )
    return request


def _one_line_or_none(field: str, value: str | None) -> str | None:
    value = _optional_text(value)
    return None if value is None else single_line(field, value)


def ingest(
    *,
    source: SourceKey,
    received_at: datetime,
    account: str,
    line: LineOfBusiness,
    customer_name: str,
    typification: str,
    request: str,
    follow_up_at: datetime | None,
    front_agent: str | None,
    recommended_by: str | None,
    actor: Actor,
    at: datetime,
    cun: str | None = None,
    filed_at: datetime | None = None,
    linked_to: uuid.UUID | None = None,
    phone: str | None = None,
) -> Ingested:
    """A new case. The requested follow-up date is a fact from the source, kept as given; so
    is a PQR the front line already filed (its CUN and filing time).

    Refused: an account that is not an account number (`check_account`), a request longer
    than `REQUEST_MAX_LENGTH`, a case received after `at` (beyond `RECEIVED_CLOCK_SKEW`; an
    e-mail's is taken as `at` instead, `received_when`), and a follow-up on a day before the
    one the case was received (Bogotá): the customer asks for the date of the call back
    during the call. A follow-up already past but not before that day is kept: a late
    hand-over is overdue from the start, and shows as such. These rules hold here, for
    every way a case comes in (a CRM row, an e-mail, a call)."""
    require_aware("at", at)
    received_at = check_moment("received_at", received_when(source, received_at, at))
    if received_at > at + RECEIVED_CLOCK_SKEW:
        raise InvalidValue(
            "received_at",
            "is in the future: a case cannot be received after now (clocks may differ by "
            f"{RECEIVED_CLOCK_SKEW_MINUTES} minutes at most)",
        )
    if follow_up_at is not None:
        check_moment("follow_up_at", follow_up_at)
        if follow_up_at < received_at and (
            follow_up_at.astimezone(BOGOTA).date() < received_at.astimezone(BOGOTA).date()
        ):
            raise InvalidValue(
                "follow_up_at",
                "is on a day before the case was received (received_at): the follow-up the "
                "customer asked for cannot precede the call",
            )
    if cun is not None:
        cun = check_cun(cun)
        filed_at = check_moment("filed_at", filed_at or received_at)
    elif filed_at is not None:
        raise InvalidValue("filed_at", "a filing time needs its cun")
    if not source.key.strip():
        raise InvalidValue("source key", "must not be empty")
    single_line("source key", source.key)
    recommended_by = _optional_text(recommended_by)
    if recommended_by is not None and "@" in recommended_by and not is_one_address(recommended_by):
        raise InvalidValue("recommended_by", "must be one e-mail address (or a name)")
    return Ingested(
        originator_id=source.case_id(),
        originator_version=1,
        timestamp=at,
        actor=actor,
        source=source,
        received_at=received_at,
        account=check_account(account),
        line=line,
        customer_name=clean_text(
            "customer_name", customer_name, max_length=NAME_MAX_LENGTH, one_line=True
        ),
        typification=clean_text(
            "typification", typification, max_length=NAME_MAX_LENGTH, one_line=True
        ),
        request=check_request(request),
        follow_up_at=follow_up_at,
        front_agent=_one_line_or_none("front_agent", front_agent),
        recommended_by=_one_line_or_none("recommended_by", recommended_by),
        cun=cun,
        filed_at=filed_at,
        linked_to=linked_to,
        phone=check_phone(phone) if phone is not None and phone.strip() else None,
    )


def require_open(state: CaseState, action: str) -> None:
    if not state.is_open:
        raise CaseClosed(action)


def _when(state: CaseState, at: datetime) -> datetime:
    require_aware("at", at)
    # Events of one case keep time order, so an "as of" replay is exact.
    return max(at, state.updated_at)


def new_event(cls: type[E], state: CaseState, actor: Actor, at: datetime, **data: Any) -> E:
    return cls(
        originator_id=state.case_id,
        originator_version=state.version + 1,
        timestamp=_when(state, at),
        actor=actor,
        **data,
    )


def raise_new_request(
    state: CaseState, *, new_case_id: uuid.UUID, typification: str, actor: Actor, at: datetime
) -> list[CaseEvent]:
    """Link the case opened for a new request raised during this case's call (once)."""
    require_open(state, "raise a new request")
    if new_case_id in state.new_requests:
        return []
    if new_case_id == state.case_id:
        raise RuleViolation("the new request is this case's own contact (same typification)")
    return [
        new_event(
            NewRequestRaised, state, actor, at, new_case_id=new_case_id,
            typification=clean_text("typification", typification, max_length=200),
        )
    ]  # fmt: skip


def assign(state: CaseState, *, agent: str, actor: Actor, at: datetime) -> list[CaseEvent]:
    require_open(state, "assign")
    agent = clean_text("agent", agent, max_length=80, one_line=True)
    if state.agent == agent:
        raise RuleViolation(f"the case is already assigned to {agent}")
    return [new_event(Assigned, state, actor, at, agent=agent, previous_agent=state.agent)]


def record_repeat_contact(
    state: CaseState,
    *,
    source: SourceKey,
    received_at: datetime,
    request: str,
    actor: Actor,
    at: datetime,
) -> list[CaseEvent]:
    """A new contact about this open case. Recording the same source key twice is a no-op."""
    return record_repeat_contacts(
        state, [RepeatContact(source, received_at, request)], actor=actor, at=at
    )


@attrs.frozen
class RepeatContact:
    source: SourceKey
    received_at: datetime
    request: str


def new_contacts(state: CaseState, contacts: Sequence[RepeatContact]) -> list[RepeatContact]:
    """The contacts not yet on the case, in order: a source key already on it, or earlier in
    `contacts`, is left out."""
    known = {state.source, *state.repeat_contacts}
    fresh = []
    for contact in contacts:
        if contact.source not in known:
            known.add(contact.source)
            fresh.append(contact)
    return fresh


def record_repeat_contacts(
    state: CaseState, contacts: Sequence[RepeatContact], *, actor: Actor, at: datetime
) -> list[CaseEvent]:
    """Several new contacts about this open case, in order: the events recording them one by
    one would give (those already on the case are skipped, see `new_contacts`), decided in
    one pass — a bulk import may bring hundreds for one case."""
    events: list[CaseEvent] = []
    for contact in new_contacts(state, contacts):
        if not events:
            require_open(state, "recording a repeat contact")
        events.append(
            RepeatContactRecorded(
                originator_id=state.case_id,
                originator_version=state.version + len(events) + 1,
                timestamp=_when(state, at),
                actor=actor,
                source=contact.source,
                received_at=received_when(contact.source, contact.received_at, at),
                request=contact.request.strip(),
            )
        )
    return events


def interpret(
    state: CaseState,
    *,
    category: Category,
    subcategory: Subcategory,
    actor: Actor,
    at: datetime,
) -> list[CaseEvent]:
    require_open(state, "interpret")
    if subcategory not in SUBCATEGORIES[category]:
        allowed = ", ".join(s.value for s in SUBCATEGORIES[category])
        raise InvalidValue(
            "subcategory",
            f"{subcategory.value!r} is not a subcategory of {category.value} (one of: {allowed})",
        )
    if state.category is category and state.subcategory is subcategory:
        raise RuleViolation(f"the case is already interpreted as {category}/{subcategory}")
    return [new_event(Interpreted, state, actor, at, category=category, subcategory=subcategory)]


def add_note(
    state: CaseState,
    *,
    text: str,
    actor: Actor,
    at: datetime,
    rr_note_max_length: int = RR_NOTE_MAX_LENGTH,
) -> list[CaseEvent]:
    """A note; one longer than RR's field goes to the ESTRATEGICOS folder (§7). The latest
    note again within `REPEAT_NOTE_WINDOW` is a no-op (a double submission, or a re-run
    command); later, the same words are a new note."""
    require_open(state, "add a note")
    text = clean_text("text", text, max_length=NOTE_MAX_LENGTH)
    if (
        text == state.last_note
        and state.last_note_at is not None
        and _when(state, at) - state.last_note_at < REPEAT_NOTE_WINDOW
    ):
        return []
    folder = NoteFolder.ESTRATEGICOS if len(text) > rr_note_max_length else NoteFolder.RR_NOTES
    return [new_event(NoteAdded, state, actor, at, text=text, folder=folder)]


def schedule_follow_up(
    state: CaseState, *, due_at: datetime, actor: Actor, at: datetime
) -> list[CaseEvent]:
    require_open(state, "schedule a follow-up")
    require_aware("due_at", due_at)
    if due_at <= _when(state, at):
        raise InvalidValue(
            "due_at", f"a follow-up belongs to the case's future; {due_at.isoformat()} is past"
        )
    # One call-back per moment: a second pending one at the same time (a command sent twice,
    # a double click) would put the customer on the call list twice and count twice.
    for pending in state.pending_follow_ups:
        if pending.due_at == due_at:
            when = pending.due_at.astimezone(BOGOTA).strftime("%Y-%m-%d %H:%M")
            raise RuleViolation(
                f"follow-up #{pending.follow_up_id} is already pending at {when} Bogotá"
            )
    next_id = max((f.follow_up_id for f in state.follow_ups), default=0) + 1
    return [new_event(FollowUpScheduled, state, actor, at, follow_up_id=next_id, due_at=due_at)]


def _pending(state: CaseState, follow_up_id: int | None) -> FollowUp:
    if follow_up_id is None:
        nxt = state.next_follow_up
        if nxt is None:
            raise RuleViolation("the case has no pending follow-up")
        return nxt
    f = state.follow_up(follow_up_id)
    if f.status is not FollowUpStatus.PENDING:
        raise RuleViolation(f"follow-up #{follow_up_id} is already {f.status.value}")
    return f


def complete_follow_up(
    state: CaseState,
    *,
    follow_up_id: int | None = None,
    outcome: str,
    actor: Actor,
    at: datetime,
    rules: FollowUpRules = DEFAULT_FOLLOW_UP_RULES,
) -> list[CaseEvent]:
    """The agent called the customer back. On time if within the rules' window of its due time."""
    require_open(state, "complete a follow-up")
    f = _pending(state, follow_up_id)
    on_time = _when(state, at) <= f.due_at + rules.on_time_window
    return [
        new_event(
            FollowUpCompleted,
            state,
            actor,
            at,
            follow_up_id=f.follow_up_id,
            due_at=f.due_at,
            on_time=on_time,
            outcome=clean_text("outcome", outcome, max_length=2_000),
        )
    ]


def mark_follow_up_missed(
    state: CaseState,
    *,
    follow_up_id: int,
    actor: Actor,
    at: datetime,
    rules: FollowUpRules = DEFAULT_FOLLOW_UP_RULES,
) -> list[CaseEvent]:
    """The sweep's decision: a no-op when the follow-up is already settled or not yet overdue."""
    if not state.is_open:
        return []
    f = state.follow_up(follow_up_id)
    if f.status is not FollowUpStatus.PENDING:
        return []
    if _when(state, at) < f.due_at + rules.missed_after:
        return []
    return [
        new_event(FollowUpMissed, state, actor, at, follow_up_id=f.follow_up_id, due_at=f.due_at)
    ]


def check_typify(state: CaseState, *, marking_code: str) -> str:
    """The case's rules for a typification, before anything is registered anywhere: the
    marking code, cleaned."""
    require_open(state, "typify")
    if state.category is None:
        raise RuleViolation("interpret the case (category and subcategory) before typifying it")
    return clean_text("marking_code", marking_code, max_length=40, one_line=True)


def check_keeps_pqr(
    state: CaseState, *, marking_code: str, cun: str | None, before_answer: bool = False
) -> None:
    """While a PQR's response clock runs, a typification must carry that PQR's CUN: another
    CUN, or none, would leave the clock running, to breach. Checked before the marking goes to
    the account's system (`before_answer`: `cun` None means the system will file another PQR
    or none, unless this is the same typification again, which it answers as it did), and
    again on what the system answered."""
    pqr = next(
        (c for c in state.running_clocks if c.kind is ClockKind.PQR_RESPONSE and c.reference),
        None,
    )
    if pqr is None or pqr.reference == cun:
        return
    again = (state.marking_code, state.cun) == (marking_code, pqr.reference) and (
        state.typified_round == state.reopen_count
    )
    if before_answer and cun is None and again:
        return
    raise RuleViolation(
        f"the PQR {pqr.reference} is open on this case (its response clock runs): answer it "
        "(pqr-answer) before a typification with another CUN or none"
    )


def typify(
    state: CaseState,
    *,
    marking_code: str,
    resolution: Resolution,
    cun: str | None,
    actor: Actor,
    at: datetime,
    filed_at: datetime | None = None,
) -> list[CaseEvent]:
    """Register the marking (§7): resolved in first contact, or it generates a CUN. The same
    typification again is a no-op (a re-run command).

    `filed_at`: when the PQR of the CUN was filed (RR's answer); a CUN the case came with
    from the front line keeps the filing time it came with, one already on the case keeps
    its own; otherwise the PQR counts as filed now."""
    code = check_typify(state, marking_code=marking_code)
    cun = _optional_text(cun)
    if resolution is Resolution.CUN:
        if cun is None:
            raise InvalidValue("cun", "a marking that generates a CUN needs the CUN")
        cun = check_cun(cun)
        if filed_at is not None:
            # Not after now: a system whose clock runs ahead cannot start a clock in the future.
            filed_at = min(require_aware("filed_at", filed_at), _when(state, at))
        elif cun == state.cun and state.cun_filed_at is not None:
            filed_at = state.cun_filed_at
        elif cun == state.front_cun:
            filed_at = state.front_filed_at
        else:
            filed_at = _when(state, at)
    elif cun is not None:
        raise InvalidValue("cun", "a first-contact resolution carries no CUN")
    if (state.marking_code, state.resolution, state.cun) == (code, resolution, cun) and (
        state.typified_round == state.reopen_count
    ):
        return []  # already typified so since the case was last (re)opened
    check_keeps_pqr(state, marking_code=code, cun=cun)
    return [
        new_event(
            Typified, state, actor, at, marking_code=code, resolution=resolution, cun=cun,
            filed_at=filed_at,
        )
    ]  # fmt: skip


def escalation_reference(escalation_id: int) -> str:
    """The reference of the clock awaiting an area's answer to an escalation."""
    return f"escalamiento #{escalation_id}"


def escalate(
    state: CaseState,
    *,
    target: EscalationTarget,
    area: str,
    reason: str,
    priority: Priority,
    external_reference: str | None,
    actor: Actor,
    at: datetime,
) -> list[CaseEvent]:
    """Record an escalation; the same one again (target, area, reason and reference) while
    the first has not been answered is a no-op, so a re-run command never sends a second
    mail."""
    require_open(state, "escalate")
    area = clean_text("area", area, max_length=120, one_line=True)
    reason = clean_text("reason", reason, max_length=2_000)
    external_reference = _optional_text(external_reference)
    answered = {c.reference for c in state.clocks if not c.running}
    for done in state.escalations:
        if (done.target, done.area, done.reason, done.external_reference) == (
            target,
            area,
            reason,
            external_reference,
        ) and escalation_reference(done.escalation_id) not in answered:
            return []
    return [
        new_event(
            Escalated,
            state,
            actor,
            at,
            escalation_id=len(state.escalations) + 1,
            target=target,
            area=area,
            reason=reason,
            priority=priority,
            external_reference=external_reference,
        )
    ]


def schedule_visit(
    state: CaseState,
    *,
    kind: VisitKind,
    slot_start: datetime,
    slot_end: datetime,
    booking_reference: str,
    actor: Actor,
    at: datetime,
) -> list[CaseEvent]:
    require_open(state, "schedule a visit")
    require_aware("slot_start", slot_start)
    require_aware("slot_end", slot_end)
    if slot_end <= slot_start:
        raise InvalidValue("slot", "the slot must end after it starts")
    booking_reference = clean_text("booking_reference", booking_reference, max_length=60)
    if any(v.booking_reference == booking_reference for v in state.visits):
        return []  # already recorded (a re-run command)
    if slot_start <= _when(state, at):
        raise InvalidValue("slot", f"a visit slot must be in the future; {slot_start} is past")
    return [
        new_event(
            VisitScheduled,
            state,
            actor,
            at,
            kind=kind,
            slot_start=slot_start,
            slot_end=slot_end,
            booking_reference=booking_reference,
        )
    ]
