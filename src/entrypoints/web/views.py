"""What the console's pages show, worked out from the case and the queries: the rows of the
agent's day, a case's clocks in business days or hours left, its timeline, and the forms of
its next steps with their labels. No storage is read here; every text is a message id the
page translates."""

from __future__ import annotations

import enum
import re
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

import attrs

from application.access.permissions import COMMAND_ROLES, Reading, may_read
from application.case.markings import Marking
from application.dispatch import command_name
from application.ports.accounts import AccessRole
from application.ports.cases import DueFollowUp, RunningClock
from domain.calendar import BusinessCalendar
from domain.case.events import CaseEvent
from domain.case.state import CaseState, Clock, FollowUpStatus
from domain.values import ClockKind
from entrypoints.web.forms import Field, Form
from entrypoints.web.i18n import Speaker

COMMAND_BY_NAME: dict[str, type] = {
    command_name(c): c for c in COMMAND_ROLES if "case" in attrs.fields_dict(c)
}
"""The commands a case page's form may give (those asked for, on one case), by their name in
the console's addresses."""

TITLES: dict[str, str] = {
    "AssignCase": "Assign the case",
    "InterpretCase": "Interpret the case",
    "AddNote": "Add a note",
    "ScheduleFollowUp": "Schedule a follow-up",
    "CompleteFollowUp": "Complete a follow-up",
    "MarkFollowUpMissed": "Mark a follow-up missed",
    "TypifyCase": "Record the typification",
    "AnswerPqr": "Notify the PQR's answer",
    "RequestAdjustment": "Request an adjustment",
    "CompleteAdjustment": "Complete the adjustment",
    "SweepClock": "Sweep a clock",
    "Escalate": "Escalate",
    "AnswerEscalation": "Record an area's answer",
    "ScheduleVisit": "Schedule a visit",
    "CompleteClosingProtocol": "Closing protocol",
    "CloseCase": "Close the case",
    "ReopenCase": "Reopen the case",
    "SacCheck": "SAC: check the account",
    "SacEscalate": "SAC: escalate the inconsistency",
    "SacAccept": "SAC: the customer accepts",
    "SacDispute": "SAC: the customer disputes",
    "SupportDiagnose": "Support: diagnose",
    "SupportResolve": "Support: resolve by route",
    "SupportVisitBookedByCrm": "Support: visit booked by the CRM",
    "PqrRedirect": "PQR: redirect to the responsible area",
    "PqrCorrect": "PQR: correct the typification",
    "PqrAgree": "PQR: agreement with the customer",
    "SalesEscalate": "Sales: escalate",
    "RegisterMarking": "Typify in RR/AC",
    "SettleWrite": "Settle a pending write",
    "OpenCaseFromCall": "Open a case from a call",
    "RaiseNewRequest": "Raise a new request",
}
"""Each command's title on its form (a message id)."""

FIELD_LABELS: dict[str, str] = {
    "agent": "Agent (login)",
    "category": "Category",
    "subcategory": "Subcategory",
    "text": "Note",
    "due_at": "Call the customer on",
    "outcome": "Outcome",
    "follow_up_id": "Follow-up",
    "at": "At",
    "marking_code": "Marking code",
    "marking": "Marking code",
    "resolution": "Resolution",
    "cun": "CUN",
    "filed_at": "Filed at",
    "notified_at": "Answer notified at",
    "ticket": "DIME ticket",
    "clock_id": "Clock",
    "target": "Target",
    "area": "Area",
    "reason": "Reason",
    "priority": "Priority",
    "external_reference": "External reference",
    "escalation_id": "Escalation",
    "answer": "Answer",
    "kind": "Visit kind",
    "visit": "Visit kind",
    "slot_start": "Slot starts",
    "slot_end": "Slot ends",
    "booking_reference": "Booking reference",
    "resolution_explained": "The resolution was explained to the customer",
    "nothing_else_pending": "The customer has nothing else pending",
    "closing_script_read": "The closing script was read",
    "survey_invited": "The customer was invited to the survey",
    "summary": "Summary",
    "first_contact": "Resolved in first contact",
    "inconsistent": "The check found an inconsistency",
    "adjustment": "Ask for an adjustment instead of a PQR",
    "service": "Failing service",
    "serials": "Equipment serials (comma separated)",
    "equipment_ok": "Equipment in good condition",
    "route": "Route",
    "window_days": "Days to look for a slot",
    "slot_id": "WFM slot",
    "notes": "Notes",
    "customer_contacted_at": "Customer contacted at",
    "agreement": "Agreement",
    "follow_up_at": "Follow-up at",
    "key": "Write key",
    "typification": "Typification",
    "request": "Request",
    "account": "Account",
    "line": "Line",
    "customer_name": "Customer",
    "received_at": "Received at",
    "recommended_by": "Recommended by",
    "phone": "Phone",
}
"""Each command field's label (a message id)."""


def navigation(role: AccessRole, t: Speaker) -> list[tuple[str, str]]:
    """The layout's menu for `role`: (address, label), only what the role may open."""
    items: list[tuple[str, str]] = []
    if role in (AccessRole.AGENT, AccessRole.SUPERVISOR):
        items.append(("/console/day", t("My day")))
    if may_read(role, None, Reading.CASES) is None:
        items.append(("/console/cases", t("Cases")))
    if may_read(role, None, Reading.EVENTS) is None:
        items.append(("/console/board", t("Board")))
    if may_read(role, None, Reading.INDICATORS) is None:
        items.append(("/console/indicators", t("Indicators")))
    return items


def home_of(role: AccessRole) -> str:
    """The first page of `role`: the agent's day; the board for a supervisor; the indicators
    for coordinators and managers; the case search for an auditor."""
    if role is AccessRole.SUPERVISOR:
        return "/console/board"
    if role in (AccessRole.COORDINATOR, AccessRole.MANAGER):
        return "/console/indicators"
    if role is AccessRole.AGENT:
        return "/console/day"
    return "/console/cases"


FILTERS = ("unassigned", "missed", "waiting", "warned", "breached")
"""The queue's filters (the case list's flags), as the page offers them."""


# --- the agent's day -------------------------------------------------------------------------


@attrs.frozen
class DueRow:
    case_id: uuid.UUID
    key: str
    customer: str
    typification: str
    due_at: datetime
    overdue: bool


def due_rows(
    due: Sequence[DueFollowUp], states: Sequence[CaseState], now: datetime
) -> list[DueRow]:
    """The follow-ups due today, overdue first, then in the order of the customer's time."""
    by_id = {s.case_id: s for s in states}
    rows = [
        DueRow(
            case_id=d.case_id,
            key=d.source.key,
            customer=by_id[d.case_id].customer_name if d.case_id in by_id else "",
            typification=by_id[d.case_id].typification if d.case_id in by_id else "",
            due_at=d.due_at,
            overdue=d.due_at < now,
        )
        for d in due
    ]
    return sorted(rows, key=lambda r: (not r.overdue, r.due_at))


def time_left(
    due_at: datetime, now: datetime, calendar: BusinessCalendar | None, t: Speaker
) -> str:
    """What is left until `due_at` (or how late it is), in business days with a `calendar`
    when a day or more, else in hours or minutes."""
    if due_at <= now:
        hours = int((now - due_at).total_seconds() // 3600)
        if hours >= 48 and calendar is not None:
            days = calendar.business_days_between(
                BusinessCalendar.local_date(due_at), BusinessCalendar.local_date(now)
            )
            return t.plural("{n} business day late", "{n} business days late", days)
        if hours >= 1:
            return t.plural("{n} hour late", "{n} hours late", hours)
        minutes = max(1, int((now - due_at).total_seconds() // 60))
        return t.plural("{n} minute late", "{n} minutes late", minutes)
    if calendar is not None:
        days = calendar.business_days_between(
            BusinessCalendar.local_date(now), BusinessCalendar.local_date(due_at)
        )
        if days >= 1:
            return t.plural("{n} business day left", "{n} business days left", days)
    hours = int((due_at - now).total_seconds() // 3600)
    if hours >= 1:
        return t.plural("{n} hour left", "{n} hours left", hours)
    minutes = max(1, int((due_at - now).total_seconds() // 60))
    return t.plural("{n} minute left", "{n} minutes left", minutes)


CLOCK_LABELS = {
    ClockKind.PQR_RESPONSE: "PQR answer (business days)",
    ClockKind.REPOSICION: "Reposición window",
    ClockKind.ADJUSTMENT: "Adjustment (72 hours)",
    ClockKind.ESCALATION_RESPONSE: "Area's answer",
}
BUSINESS_DAY_CLOCKS = frozenset({ClockKind.PQR_RESPONSE, ClockKind.REPOSICION})


def clock_rows(
    state: CaseState, now: datetime, calendar: BusinessCalendar | None, t: Speaker
) -> list[dict[str, Any]]:
    """The running clocks and pending follow-ups of a case, the nearest first, as the agent
    reads them: what runs, until when, what is left (in business days for the regulator's
    clocks, in hours for the others) and its state (`ok`, `warning` or `breached`)."""
    rows: list[dict[str, Any]] = []
    for f in state.pending_follow_ups:
        late = f.due_at < now
        rows.append({"label": "Follow-up", "reference": f"#{f.follow_up_id}",
                     "due_at": f.due_at, "calendar": None,
                     "state": "breached" if late else "ok"})  # fmt: skip
    for c in state.running_clocks:
        rows.append({"label": CLOCK_LABELS[c.kind], "reference": c.reference or "",
                     "due_at": c.due_at,
                     "calendar": calendar if c.kind in BUSINESS_DAY_CLOCKS else None,
                     "state": clock_level(c, now)})  # fmt: skip
    rows.sort(key=lambda r: r["due_at"])
    for row in rows:
        ended = row["state"] == "ended"
        left = time_left(row["due_at"], now, row.pop("calendar"), t)
        row["left"] = t("window closed") if ended else left
        row["label"] = t(row["label"])
    return rows


def clock_level(clock: Clock | RunningClock, now: datetime) -> str:
    """A running clock's state at `now`: `breached` (past due), `warning` (past its warning),
    `ok`; the reposición window past its end is `ended` (nothing is late: the customer's
    window closed, and the sweep stops it)."""
    if clock.kind is ClockKind.REPOSICION:
        return "ended" if clock.due_at <= now else "ok"
    if clock.breached or clock.due_at <= now:
        return "breached"
    if clock.warned or (clock.warn_at is not None and clock.warn_at <= now):
        return "warning"
    return "ok"


_LEVEL = {"breached": 0, "warning": 1, "ok": 2, "ended": 3}


@attrs.frozen
class OpenCaseRow:
    case: CaseState
    clocks: list[dict[str, Any]]

    @property
    def nearest(self) -> dict[str, Any] | None:
        return self.clocks[0] if self.clocks else None

    @property
    def level(self) -> str:
        if not self.clocks:
            return "ok"
        level: str = min((c["state"] for c in self.clocks), key=_LEVEL.__getitem__)
        return level


def open_case_rows(
    states: Iterable[CaseState], now: datetime, calendar: BusinessCalendar | None, t: Speaker
) -> list[OpenCaseRow]:
    """My open cases, the one whose clock is nearest its warning or breach first (breached,
    then at warning, then by the nearest due time; cases without a clock last)."""
    rows = [OpenCaseRow(s, clock_rows(s, now, calendar, t)) for s in states]
    far = now + timedelta(days=36_500)

    def order(row: OpenCaseRow) -> tuple[int, datetime]:
        nearest = row.nearest
        return (_LEVEL[row.level], nearest["due_at"] if nearest else far)

    return sorted(rows, key=order)


# --- the case page ---------------------------------------------------------------------------


@attrs.frozen
class FieldView:
    field: Field
    label: str
    choices: tuple[tuple[str, str], ...]


@attrs.frozen
class FormView:
    form: Form
    title: str
    fields: tuple[FieldView, ...]


def _choices(
    field: Field, state: CaseState, t: Speaker, markings: Mapping[str, Marking] | None
) -> tuple[tuple[str, str], ...]:
    """The choices of a field: the case's own (its pending follow-ups, the escalations whose
    answer is awaited, its running clocks, its pending writes), the marking catalogue's codes
    for the case's category (when there is a catalogue), or the enumeration's."""
    if field.name in ("marking", "marking_code") and markings:
        return tuple(
            (code, f"{code} · {m.label}")
            for code, m in sorted(markings.items())
            if state.category is None or state.category in m.categories
        )
    if field.name == "follow_up_id":
        return tuple(
            (str(f.follow_up_id), f"#{f.follow_up_id} · {t.when(f.due_at)}")
            for f in state.follow_ups
            if f.status is FollowUpStatus.PENDING
        )
    if field.name == "escalation_id":
        return tuple(
            (str(e.escalation_id), f"#{e.escalation_id} · {e.area}") for e in state.escalations
        )
    if field.name == "clock_id":
        return tuple(
            (str(c.clock_id), f"#{c.clock_id} · {t(CLOCK_LABELS[c.kind])}")
            for c in state.running_clocks
        )
    if field.name == "key" and field.kind == "text":
        return tuple(
            (w.key, operation_text(w.system, w.operation, t)) for w in state.pending_writes
        )
    return tuple((value, t.label(field.name, value) if value else "")
                 for value, _ in field.choices)  # fmt: skip


def title_of(command: type, t: Speaker) -> str:
    """A command's title on its form, in the user's language."""
    return t(TITLES.get(command.__name__, command.__name__))


def form_view(
    form: Form,
    state: CaseState,
    t: Speaker,
    me: str,
    markings: Mapping[str, Marking] | None = None,
) -> FormView:
    """The form of a step on the case, labelled in the user's language; `me` (the user's
    login) is the agent a case is assigned to unless changed (taking a case); `markings`,
    the catalogue the marking codes are chosen from."""
    fields = []
    for given in form.fields:
        field = attrs.evolve(given, initial=me) if given.name == "agent" else given
        label = t(FIELD_LABELS.get(field.name, field.name))
        fields.append(FieldView(field, label, _choices(field, state, t, markings)))
    return FormView(form, title_of(form.command, t), tuple(fields))


@attrs.frozen
class TimelineEntry:
    version: int
    at: datetime
    actor: str
    event: str
    details: list[tuple[str, str]]


EVENT_FIELD_LABELS: dict[str, str] = {
    "case.clock_started kind": "Clock kind",
    "case.clock_started due_at": "Due on",
    "case.clock_warned due_at": "Due on",
    "case.clock_breached due_at": "Due on",
}
"""An event's field whose meaning differs from the form's field of the same name (a clock's
`kind` is not a visit's; its `due_at` is when it falls due, not a call to the customer), by
"topic field" (message ids)."""
EVENT_VALUE_KINDS: dict[str, str] = {"case.clock_started kind": "clock"}
"""An event's field whose values are labelled as another kind than the field's name."""
PAIRS = frozenset({"params", "result"})
"""The event fields that hold (name, value) pairs: an outside write's parameters, its answer."""


PEOPLE_FIELDS = frozenset({"agent", "previous_agent"})
"""An event's fields that name a person of the team by login (an assignment's agents)."""


def timeline(
    events: Iterable[CaseEvent], t: Speaker, named: Callable[[str], str] | None = None
) -> list[TimelineEntry]:
    """Every event of the case, newest first, with who recorded it and its data; `named`
    gives a person's name from their login (the agents an assignment names)."""
    from entrypoints import render

    entries = []
    for entry in render.history_entries(events):
        topic = entry["event"]
        details = [(_key(topic, key, t),
                    named(value) if named is not None and key in PEOPLE_FIELDS
                    and isinstance(value, str) else _shown(value, t, key, topic))
                   for key, value in entry["data"].items()
                   if value not in (None, "", [], {}, ())]  # fmt: skip
        entries.append(
            TimelineEntry(
                version=entry["version"],
                at=datetime.fromisoformat(entry["timestamp"]),
                actor=actor_text(entry["actor"], t),
                event=topic,
                details=details,
            )
        )
    entries.reverse()
    return entries


def _key(topic: str, name: str, t: Speaker) -> str:
    """An event's field as the timeline names it: the event's own label for it, else the
    form's label, else the catalogue's `data:` label."""
    label = EVENT_FIELD_LABELS.get(f"{topic} {name}") or FIELD_LABELS.get(name)
    return t(label) if label else t.label("data", name)


_MOMENT = re.compile(r"\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([+-]\d{2}:\d{2}|Z)")
"""A moment with its offset, as ISO 8601 writes it (`T`) or Python's `str` (a space)."""


def moment_of(text: str) -> datetime | None:
    """`text` read as a moment with its offset (None: it is not one)."""
    if not _MOMENT.fullmatch(text):
        return None
    try:
        return datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def actor_text(actor: str, t: Speaker) -> str:
    """Who recorded an event, as people read it: a person by login (`agent:maria.b`), the
    system's parts by what they are (`intake:crm-front`: "Intake (crm-front)")."""
    kind, _, name = actor.partition(":")
    if kind in ("agent", "supervisor") and name:
        return name
    label = t.label("actor", kind)
    return f"{label} ({name})" if name and name != kind else label


_PRIORITY_IN_RULE = re.compile(r"\(prioridad (low|normal|high|urgent)\)")
"""The priority an escalation's clock rule names by its code (`(prioridad high)`)."""


def _shown(value: Any, t: Speaker, name: str = "", topic: str = "") -> str:
    """A value of an event as the timeline shows it: moments in Bogotá time, yes or no, an
    enumeration's value by its label when the catalogue has one (`category:sac`), a case's
    origin as its key and channel, (name, value) pairs as "Name: value"."""
    if isinstance(value, bool):
        return t("yes") if value else t("no")
    if isinstance(value, enum.Enum):
        value = value.value
    if isinstance(value, str) and (moment := moment_of(value)) is not None:
        return t.when(moment)
    if name == "rule" and isinstance(value, str):
        return _PRIORITY_IN_RULE.sub(
            lambda m: f"({t('priority')} {t.label('priority', m.group(1)).lower()})", value
        )
    if isinstance(value, str) and name:
        kind = EVENT_VALUE_KINDS.get(f"{topic} {name}", name)
        key = f"{kind}:{value}"
        label = t.gettext(key)
        if label == key:
            return value
        return label[:1].upper() + label[1:]
    if name == "source" and isinstance(value, dict) and {"channel", "key"} <= value.keys():
        return source_text(str(value["key"]), str(value["channel"]), t)
    if name in PAIRS and isinstance(value, list | tuple):
        return "; ".join(_pair(pair, t) for pair in value)
    if isinstance(value, dict):
        return "; ".join(f"{t.label('param', k)}: {_shown(v, t, k)}" for k, v in value.items())
    if isinstance(value, list | tuple):
        return ", ".join(_shown(v, t, name) for v in value)
    return str(value)


def _pair(pair: Any, t: Speaker) -> str:
    if isinstance(pair, list | tuple) and len(pair) == 2:
        key, value = str(pair[0]), pair[1]
        return f"{t.label('param', key)}: {_shown(value, t, key)}"
    return _shown(pair, t)


def source_text(key: str, channel: str, t: Speaker) -> str:
    """Where a case came from, as people read it: `CRM-260006 (CRM)`."""
    return f"{key} ({t.label('channel', channel)})"


def operation_text(system: str, operation: str, t: Speaker) -> str:
    """A write to (or a read of) one of Claro's systems: `AC · Registrar la marcación`."""
    return f"{system} · {t.label('operation', operation)}"
