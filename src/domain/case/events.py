"""The case's events: past-tense facts in the back office's own words.

Each event carries `originator_id` (the case id), `originator_version` (its position in the
case's history, from 1), `timestamp` (aware UTC) and `actor` (who caused it), plus its data.
These are the names an event store expects, so events are stored as they are.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime

import attrs

from domain.values import (
    Actor,
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


@attrs.frozen(kw_only=True)
class CaseEvent:
    originator_id: uuid.UUID
    originator_version: int
    timestamp: datetime
    actor: Actor


@attrs.frozen(kw_only=True)
class Ingested(CaseEvent):
    """A case arrived from the CRM, a corporate e-mail or the corporate phone."""

    source: SourceKey
    received_at: datetime
    account: str
    line: LineOfBusiness
    customer_name: str
    typification: str
    request: str
    follow_up_at: datetime | None
    front_agent: str | None
    recommended_by: str | None
    cun: str | None = None
    """A PQR the front line already filed: its CUN, and when it was filed."""
    filed_at: datetime | None = None
    linked_to: uuid.UUID | None = None
    """The case during whose call the customer raised this new request."""
    phone: str | None = None
    """The customer's phone to call back on, when the source gives one."""


@attrs.frozen(kw_only=True)
class NewRequestRaised(CaseEvent):
    """During the call the customer raised something new: it became a case of its own (§8,
    "confirmar que no existan más solicitudes … y de ser necesario gestionarlas")."""

    new_case_id: uuid.UUID
    typification: str


@attrs.frozen(kw_only=True)
class Assigned(CaseEvent):
    agent: str
    previous_agent: str | None


@attrs.frozen(kw_only=True)
class RepeatContactRecorded(CaseEvent):
    """The same account called again about the same typification while the case was open."""

    source: SourceKey
    received_at: datetime
    request: str


@attrs.frozen(kw_only=True)
class Interpreted(CaseEvent):
    category: Category
    subcategory: Subcategory


@attrs.frozen(kw_only=True)
class NoteAdded(CaseEvent):
    text: str
    folder: NoteFolder


@attrs.frozen(kw_only=True)
class FollowUpScheduled(CaseEvent):
    follow_up_id: int
    due_at: datetime


@attrs.frozen(kw_only=True)
class FollowUpCompleted(CaseEvent):
    follow_up_id: int
    due_at: datetime
    on_time: bool
    outcome: str


@attrs.frozen(kw_only=True)
class FollowUpMissed(CaseEvent):
    follow_up_id: int
    due_at: datetime


@attrs.frozen(kw_only=True)
class Typified(CaseEvent):
    marking_code: str
    resolution: Resolution
    cun: str | None
    filed_at: datetime | None = None
    """When the PQR of the CUN was filed (radicación): its response clock runs from then."""


@attrs.frozen(kw_only=True)
class Escalated(CaseEvent):
    escalation_id: int
    target: EscalationTarget
    area: str
    reason: str
    priority: Priority
    external_reference: str | None


@attrs.frozen(kw_only=True)
class VisitScheduled(CaseEvent):
    kind: VisitKind
    slot_start: datetime
    slot_end: datetime
    booking_reference: str


@attrs.frozen(kw_only=True)
class ClosingProtocolCompleted(CaseEvent):
    """The four checks of the closing protocol (docs/procedure.md §8), each confirmed by the
    agent."""

    resolution_explained: bool
    nothing_else_pending: bool
    closing_script_read: bool
    survey_invited: bool


@attrs.frozen(kw_only=True)
class ClosedFirstContact(CaseEvent):
    summary: str


@attrs.frozen(kw_only=True)
class Closed(CaseEvent):
    summary: str


@attrs.frozen(kw_only=True)
class Reopened(CaseEvent):
    reason: str


@attrs.frozen(kw_only=True)
class ClockStarted(CaseEvent):
    """A regulatory or service deadline starts: when it warns, when it is due, and why."""

    clock_id: int
    kind: ClockKind
    started_at: datetime
    warn_at: datetime | None
    due_at: datetime
    rule: str
    reference: str | None


@attrs.frozen(kw_only=True)
class ClockWarned(CaseEvent):
    clock_id: int
    due_at: datetime


@attrs.frozen(kw_only=True)
class ClockBreached(CaseEvent):
    clock_id: int
    due_at: datetime


@attrs.frozen(kw_only=True)
class ClockStopped(CaseEvent):
    clock_id: int
    reason: str


@attrs.frozen(kw_only=True)
class AccountChecked(CaseEvent):
    """What the agent (through a port) found in RR/AC or the Diagnosticador, and the verdict."""

    system: str
    aspect: str
    findings: tuple[str, ...]
    inconsistent: bool
    facts: tuple[tuple[str, str], ...] = ()
    """The same findings as (what was checked, what was found), for queries and reports:
    e.g. `("servicio", "internet")`, `("servicios_asociados_rr", "no")`,
    `("serial_no_coincide", "CM-1")`."""


@attrs.frozen(kw_only=True)
class SystemCallFailed(CaseEvent):
    """An outside system did not answer: what failed, and what is still pending on the case."""

    system: str
    operation: str
    reason: str
    pending: str


@attrs.frozen(kw_only=True)
class OutsideWriteRequested(CaseEvent):
    """The case is about to write to one of Claro's systems: what, where, and under which
    idempotency key. Until it is answered or refused the case shows it as pending."""

    system: str
    operation: str
    key: str
    params: tuple[tuple[str, str], ...]


@attrs.frozen(kw_only=True)
class OutsideWriteAnswered(CaseEvent):
    """The system applied the write (once, under its key) and said back `result` (a CUN, a
    ticket, an order, a booking…)."""

    key: str
    result: tuple[tuple[str, str], ...]


@attrs.frozen(kw_only=True)
class OutsideWriteRefused(CaseEvent):
    """The system answered no to the write (retrying the same request will not help)."""

    key: str
    reason: str


@attrs.frozen(kw_only=True)
class SurveyAnswered(CaseEvent):
    """The customer's satisfaction survey about the case (Claro's survey tool)."""

    survey_id: str
    answered_at: datetime
    recommendation: int
    """0–10: how likely to recommend (NPS)."""
    agent_satisfaction: int | None
    """0–10: "índice de satisfacción del asesor" (perceived quality)."""
    solved: bool | None


@attrs.frozen(kw_only=True)
class QualityMonitored(CaseEvent):
    """A quality monitoring of the agent's work on the case (Claro's tool): 0–100."""

    monitoring_id: str
    monitored_at: datetime
    agent: str
    score: int


@attrs.frozen(kw_only=True)
class MailFailed(CaseEvent):
    """A message about the case could not be delivered (permanently) to some recipients."""

    message_id: str
    purpose: str
    recipients: tuple[str, ...]
    reason: str


@attrs.frozen(kw_only=True)
class PersonalDataErased(CaseEvent):
    """The data subject's personal data on this case is erased (Ley 1581, supresión):
    recorded on each of the subject's cases just before their keys are deleted, so a replay
    shows when. `requested_by` and `reason` stay readable for ever: they must not hold the
    subject's personal data. The actor is the operator who ran the erasure."""

    requested_by: str
    reason: str


@attrs.frozen(kw_only=True)
class PersonalDataCorrected(CaseEvent):
    """The data subject had their data rectified (Ley 1581, rectificación): the new values
    (None: unchanged). The values are personal data themselves, stored encrypted."""

    customer_name: str | None
    phone: str | None


ERASED = "[dato personal borrado]"
"""What a personal field reads as once its subject's key is deleted (or erased in the fold)."""

PERSONAL_FIELDS: Mapping[type[CaseEvent], tuple[str, ...]] = {
    Ingested: ("customer_name", "request", "phone"),
    RepeatContactRecorded: ("request",),
    NoteAdded: ("text",),
    FollowUpCompleted: ("outcome",),
    Escalated: ("reason",),
    ClosedFirstContact: ("summary",),
    Closed: ("summary",),
    Reopened: ("reason",),
    PersonalDataCorrected: ("customer_name", "phone"),
}
"""The fields of each event that hold a data subject's personal data: the customer's name and
phone, and the free text written from what the customer said (the request, notes, a
follow-up's outcome, an escalation's reason, a closing summary, a reopening's reason). They
are stored encrypted with a key of the subject (docs/privacy.md); every field is a text, or
None where the event allows it. The account stays readable: it names the subject."""

PERSONAL_PARAMS: frozenset[str] = frozenset({"text", "notes", "description"})
"""The parameters of a write to Claro's systems (`OutsideWriteRequested.params`) that carry
free text written from what the customer said: a note's or a tickler's `text` (RR, AC), a
marking's `notes`, and the `description` of an order (RR), an incident (Diagnosticador) or a
ticket (DIME). Their values are stored encrypted like `PERSONAL_FIELDS`, each on its own, the
pairs kept in place; the other parameters (the account, codes, kinds, scopes, orders, slots,
dates, rounds, folders, CUNs) are the back office's own facts."""

EVENT_TYPES: tuple[type[CaseEvent], ...] = (
    Ingested,
    Assigned,
    RepeatContactRecorded,
    Interpreted,
    NoteAdded,
    FollowUpScheduled,
    FollowUpCompleted,
    FollowUpMissed,
    Typified,
    Escalated,
    VisitScheduled,
    ClosingProtocolCompleted,
    ClosedFirstContact,
    Closed,
    Reopened,
    MailFailed,
    ClockStarted,
    ClockWarned,
    ClockBreached,
    ClockStopped,
    AccountChecked,
    SystemCallFailed,
    SurveyAnswered,
    QualityMonitored,
    OutsideWriteRequested,
    OutsideWriteAnswered,
    OutsideWriteRefused,
    NewRequestRaised,
    PersonalDataErased,
    PersonalDataCorrected,
)
