"""How the CLI shows cases and histories: Rich tables for people, JSON for machines."""

from __future__ import annotations

import csv
import itertools
import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import IO, Any

from rich.console import Console
from rich.table import Table

from adapters.eventstore.mapper import CONVERTER, TOPICS, event_payload
from application.intake.records import IngestReport
from application.ports.cases import CaseSummary, DueFollowUp
from domain.calendar import BOGOTA
from domain.case.events import (
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
from domain.case.state import CaseState, WriteStatus
from domain.values import NoteFolder

HEADER_FIELDS = ("originator_id", "originator_version", "timestamp", "actor")


def local(value: datetime | None) -> str:
    """A time as agents read it: Bogotá local time."""
    if value is None:
        return "-"
    return value.astimezone(BOGOTA).strftime("%Y-%m-%d %H:%M")


_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> object:
    """A CSV cell a spreadsheet will not run: text starting like a formula gets a leading
    apostrophe (numbers stay numbers, a negative NPS included)."""
    if isinstance(value, str) and value.startswith(_FORMULA_STARTS):
        return "'" + value
    return value


def write_csv(
    stream: IO[str], rows: Sequence[Mapping[str, object]], columns: Sequence[str] = ("group",)
) -> None:
    """Rows as CSV with a header, every cell spreadsheet-safe (the one CSV writer); `columns`
    is the header when there are no rows."""
    writer = csv.DictWriter(stream, fieldnames=list(rows[0]) if rows else list(columns))
    writer.writeheader()
    writer.writerows({k: spreadsheet_safe(v) for k, v in row.items()} for row in rows)


def dump_json(console: Console, data: Any) -> None:
    """JSON for machines, written straight to the console's file (no highlighting: rich's
    took seconds and hundreds of MB for a long history). A list or an iterator is written
    item by item, so a long one is never held as one string."""
    file = console.file
    if isinstance(data, dict) or not isinstance(data, Iterable) or isinstance(data, str):
        file.write(json.dumps(data, ensure_ascii=False, default=str, indent=2) + "\n")
        return
    file.write("[")
    for n, item in enumerate(data):
        file.write(",\n" if n else "\n")
        file.write(json.dumps(item, ensure_ascii=False, default=str, indent=2))
    file.write("\n]\n")


def case_json(state: CaseState) -> dict[str, Any]:
    data: dict[str, Any] = CONVERTER.unstructure(state)
    data["open_clocks"] = sorted(
        [
            {"kind": "follow_up", "id": f.follow_up_id, "due_at": f.due_at.isoformat()}
            for f in state.pending_follow_ups
        ]
        + [
            {"kind": c.kind.value, "id": c.clock_id, "due_at": c.due_at.isoformat()}
            for c in state.running_clocks
        ],
        key=lambda clock: str(clock["due_at"]),
    )
    data["outside_writes"] = [
        {
            "system": w.system,
            "operation": w.operation,
            "key": w.key,
            "params": dict(w.params),
            "requested_at": w.requested_at.isoformat(),
            "status": w.status.value,
            "result": dict(w.result),
            "reason": w.reason,
        }
        for w in state.outside_writes
    ]
    return data


def show_case(console: Console, state: CaseState, *, as_of: datetime | None = None) -> None:
    title = f"Case {state.source}  ({state.case_id})"
    if as_of is not None:
        title += f"  as of {local(as_of)} Bogotá"
    table = Table(title=title, show_header=False, title_justify="left")
    table.add_column("field", style="bold")
    table.add_column("value")
    rows: list[tuple[str, str]] = [
        ("status", state.status.value + (" (first contact)" if state.closed_first_contact else "")),
        ("version", str(state.version)),
        ("account", state.account),
        ("customer", state.customer_name),
        ("phone", state.phone or "-"),
        ("line", state.line.value),
        ("typification", state.typification),
        ("request", state.request or "-"),
        ("received", local(state.received_at)),
        ("front agent", state.front_agent or "-"),
        ("recommended by", state.recommended_by or "-"),
        ("owner", state.agent or "(unassigned)"),
        (
            "interpretation",
            f"{state.category.value}/{state.subcategory.value}"
            if state.category and state.subcategory
            else "-",
        ),
        (
            "marking",
            f"{state.marking_code} ({state.resolution.value})" if state.resolution else "-",
        ),
        ("CUN", state.cun or "-"),
        (
            "notes recorded",
            f"{state.notes} for RR's notes, {state.estrategicos_notes} for ESTRATEGICOS",
        ),
        ("repeat contacts", str(len(state.repeat_contacts))),
        ("closing protocol", "recorded" if state.protocol_completed else "not yet"),
    ]
    for name, value in rows:
        table.add_row(name, value)
    for f in state.follow_ups:
        table.add_row(f"follow-up #{f.follow_up_id}", f"due {local(f.due_at)}: {f.status.value}")
    for e in state.escalations:
        table.add_row(
            f"escalation #{e.escalation_id}",
            f"{e.target.value} → {e.area} ({e.priority.value}) {e.external_reference or ''}",
        )
    for c in state.clocks:
        status = "running" if c.running else "stopped"
        if c.breached:
            status += ", BREACHED"
        elif c.warned:
            status += ", warned"
        table.add_row(
            f"clock #{c.clock_id} {c.kind.value}",
            f"due {local(c.due_at)} ({status}) {c.reference or ''}",
        )
    for v in state.visits:
        table.add_row(
            f"visit {v.kind.value}",
            f"{local(v.slot_start)}–{local(v.slot_end)} ref {v.booking_reference}",
        )
    shown = state.recent_notes
    for n, note in enumerate(shown):
        label = "notes" if n == 0 else ""
        if n == 0 and len(shown) < state.notes + state.estrategicos_notes:
            label = f"notes (last {len(shown)})"
        folder = " [ESTRATEGICOS]" if note.folder is NoteFolder.ESTRATEGICOS else " [RR]"
        table.add_row(label, f"{local(note.at)} {note.author}{folder}: {note.text}")
    for w in state.outside_writes:
        answer = ", ".join(f"{k} {v}" for k, v in w.result) or "done"
        outcome = {
            WriteStatus.PENDING: "PENDING: not confirmed yet (run the command again)",
            WriteStatus.ANSWERED: answer,
            WriteStatus.REFUSED: f"refused: {w.reason}",
        }[w.status]
        table.add_row(f"{w.system} {w.operation}", f"{local(w.requested_at)}: {outcome}")
    console.print(table)
    due: list[tuple[datetime, str]] = [
        (f.due_at, f"follow-up #{f.follow_up_id}") for f in state.pending_follow_ups
    ]
    due += [(c.due_at, f"{c.kind.value} #{c.clock_id}") for c in state.running_clocks]
    if due:
        console.print("Open clocks:")
        for when, what in sorted(due):
            console.print(f"  {what} due {local(when)} Bogotá")


def event_sentence(event: CaseEvent, case: CaseState | None = None) -> str:
    """What an event recorded, as a sentence for the agent (the CLI's success lines), never
    the event's internal name; `case` (the case after it) names the system of a write's
    answer. Texts the agent typed (notes, outcomes, summaries) are not repeated."""
    match event:
        case Ingested(linked_to=None):
            return "case opened"
        case Ingested():
            return "case opened for the new request, linked to the case it was raised on"
        case NewRequestRaised():
            return f"new request linked: {event.typification}"
        case Assigned(previous_agent=None):
            return f"case assigned to {event.agent}"
        case Assigned():
            return f"case reassigned from {event.previous_agent} to {event.agent}"
        case RepeatContactRecorded():
            return f"repeat contact {event.source} recorded on the open case"
        case Interpreted():
            return f"case interpreted as {event.category.value}/{event.subcategory.value}"
        case NoteAdded():
            if event.folder is NoteFolder.ESTRATEGICOS:
                return "note added to the ESTRATEGICOS folder"
            # Not "RR's": whether it also went to RR or AC, the command's notice says.
            return "note added to the notes folder"
        case FollowUpScheduled():
            return f"follow-up #{event.follow_up_id} scheduled for {local(event.due_at)} Bogotá"
        case FollowUpCompleted():
            timing = "on time" if event.on_time else "late"
            return f"follow-up #{event.follow_up_id} done {timing}"
        case FollowUpMissed():
            return f"follow-up #{event.follow_up_id}, due {local(event.due_at)}, recorded as missed"
        case Typified(cun=None):
            return f"marking {event.marking_code} registered: solved in first contact"
        case Typified():
            return f"marking {event.marking_code} registered: PQR with CUN {event.cun}"
        case Escalated():
            return (
                f"escalation #{event.escalation_id} to {event.area} recorded, "
                f"{event.priority.value} priority"
            )
        case VisitScheduled():
            return (
                f"{event.kind.value.upper()} visit booked for {local(event.slot_start)} to "
                f"{local(event.slot_end)} Bogotá, booking {event.booking_reference}"
            )
        case ClosingProtocolCompleted():
            return "closing protocol recorded"
        case ClosedFirstContact():
            return "case closed, solved in first contact"
        case Closed():
            return "case closed"
        case Reopened():
            return "case reopened"
        case ClockStarted():
            return (
                f"{_words(event.kind.value)} clock #{event.clock_id} started, "
                f"due {local(event.due_at)} Bogotá"
            )
        case ClockWarned():
            return f"clock #{event.clock_id} warned: near its due time"
        case ClockBreached():
            return f"clock #{event.clock_id} breached: past its due time"
        case ClockStopped():
            return f"clock #{event.clock_id} stopped"
        case AccountChecked():
            verdict = "inconsistent" if event.inconsistent else "no inconsistency"
            return f"{event.system} checked for {_words(event.aspect)}: {verdict}"
        case SystemCallFailed():
            return f"{event.system} did not answer to {_words(event.operation)}: left pending"
        case OutsideWriteRequested():
            return f"{_words(event.operation)} sent to {event.system}"
        case OutsideWriteAnswered():
            return f"{_write(event.key, case)} done"
        case OutsideWriteRefused():
            return f"{_write(event.key, case)} refused: {event.reason}"
        case SurveyAnswered():
            return f"survey {event.survey_id} recorded"
        case QualityMonitored():
            return f"quality monitoring {event.monitoring_id} recorded"
        case MailFailed():
            return f"{_words(event.purpose)} mail not delivered to some recipients"
        case PersonalDataErased():
            return "the customer's personal data erased"
        case PersonalDataCorrected():
            return "the customer's personal data corrected"
    return _words(type(event).__name__, camel=True)  # an event without a sentence yet


def _write(key: str, case: CaseState | None) -> str:
    """A write to an outside system, named by its system and operation when known."""
    for w in case.outside_writes if case is not None else ():
        if w.key == key:
            return f"{w.system}: {_words(w.operation)}"
    return f"write {key}"


def _words(name: str, *, camel: bool = False) -> str:
    """`pqr_response` (or `FollowUpScheduled`, `camel`) as lower-case words."""
    if camel:
        name = "".join(f" {ch}" if ch.isupper() else ch for ch in name)
    return " ".join(name.replace("_", " ").split()).lower()


def history_json(events: Sequence[CaseEvent]) -> list[dict[str, Any]]:
    return list(history_entries(events))


def history_entries(events: Iterable[CaseEvent]) -> Iterator[dict[str, Any]]:
    """Each event as the history's JSON shows it, one at a time."""
    for event in events:
        payload = event_payload(event)
        data = {k: v for k, v in payload.items() if k not in HEADER_FIELDS}
        yield {
            "version": event.originator_version,
            "timestamp": payload["timestamp"],
            "actor": payload["actor"],
            "event": TOPICS[type(event)],
            "data": data,
        }


TABLE_MAX_EVENTS = 300
"""A longer history is printed as plain lines, one per event: a table of thousands of rows
is slow to lay out and no easier to read."""


def show_history(
    console: Console, events: Iterable[CaseEvent], *, count: int, full: bool = False
) -> None:
    """A table; past `TABLE_MAX_EVENTS` events, plain lines written as they are read. Values
    longer than 60 characters are cut, unless `full`."""
    events = iter(events)
    head = list(itertools.islice(events, TABLE_MAX_EVENTS + 1))
    if not head:
        return
    title = f"History of case {head[0].originator_id}"
    if len(head) > TABLE_MAX_EVENTS or full:  # lines: whole values are never wrapped
        file = console.file
        file.write(f"{title} ({count} events; # · time (Bogotá) · actor · event · data)\n")
        for event in itertools.chain(head, events):
            file.write("  ".join(_history_row(event, full)) + "\n")
        return
    table = Table(title=title, title_justify="left")
    for column in ("#", "time (Bogotá)", "actor", "event", "data"):
        table.add_column(column)
    for event in head:
        table.add_row(*_history_row(event, full))
    console.print(table)


def _history_row(event: CaseEvent, full: bool) -> tuple[str, ...]:
    [entry] = history_entries([event])
    data = ", ".join(f"{k}={_short(v, full)}" for k, v in entry["data"].items() if v is not None)
    return str(entry["version"]), local(event.timestamp), entry["actor"], entry["event"], data


def _short(value: Any, full: bool = False) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if full or len(text) <= 60 else text[:57] + "…"


def summaries_json(rows: Sequence[CaseSummary]) -> list[dict[str, Any]]:
    return [CONVERTER.unstructure(row) for row in rows]


SUMMARY_COLUMNS = (
    "case", "channel", "status", "line", "typification", "category", "subcategory", "owner",
    "opened (Bogotá)", "next follow-up (Bogotá)", "case id",
)  # fmt: skip


def summaries_rows(rows: Sequence[CaseSummary]) -> list[dict[str, object]]:
    """The case list as flat rows (CSV): times in Bogotá."""
    return [
        {
            "case": r.source.key,
            "channel": r.source.channel.value,
            "status": r.status.value,
            "line": r.line.value,
            "typification": r.typification,
            "category": r.category.value if r.category else "",
            "subcategory": r.subcategory or "",
            "owner": r.agent or "",
            "opened (Bogotá)": local(r.opened_at),
            "next follow-up (Bogotá)": local(r.next_follow_up_at) if r.next_follow_up_at else "",
            "case id": str(r.case_id),
        }
        for r in rows
    ]


NARROW = 100
"""Below this width the case list drops the columns an agent needs least."""


def show_summaries(console: Console, rows: Sequence[CaseSummary], total: int) -> None:
    """The case list; in a narrow terminal (80 columns) without channel, line and category,
    so that what is left stays readable."""
    narrow = console.width < NARROW
    table = Table(title=f"Cases ({len(rows)} of {total})", title_justify="left")
    table.add_column("case", no_wrap=True)
    columns = (
        ("status", "typification", "owner")
        if narrow
        else ("channel", "status", "line", "typification", "category", "owner")
    )
    for column in columns:
        table.add_column(column)
    table.add_column("next follow-up", no_wrap=True)
    for r in rows:
        category = f"{r.category.value}/{r.subcategory}" if r.category else "-"
        cells = {
            "channel": r.source.channel.value, "status": r.status.value, "line": r.line.value,
            "typification": r.typification, "category": category, "owner": r.agent or "-",
        }  # fmt: skip
        table.add_row(r.source.key, *(cells[c] for c in columns), local(r.next_follow_up_at))
    console.print(table)


def due_json(rows: Sequence[DueFollowUp]) -> list[dict[str, Any]]:
    return [CONVERTER.unstructure(row) for row in rows]


def show_due(console: Console, rows: Sequence[DueFollowUp]) -> None:
    table = Table(title=f"Follow-ups due ({len(rows)})", title_justify="left")
    for column in ("due (Bogotá)", "case", "follow-up", "owner"):
        table.add_column(column)
    for r in rows:
        table.add_row(local(r.due_at), str(r.source), f"#{r.follow_up_id}", r.agent or "-")
    console.print(table)


def report_json(report: IngestReport) -> dict[str, Any]:
    return {
        "read": report.read,
        "created": report.created,
        "repeat_contacts": report.repeat_contacts,
        "already_known": report.already_known,
        "rejected_count": report.rejected_count,
        "rejected": [
            {"location": r.location, "field": r.field, "reason": r.reason} for r in report.rejected
        ],
        "differing_count": report.differing_count,
        "differing": [
            {"location": r.location, "field": r.field, "reason": r.reason} for r in report.differing
        ],
    }


def show_report(console: Console, report: IngestReport) -> None:
    console.print(
        f"read {report.read} · created {report.created} · repeat contacts "
        f"{report.repeat_contacts} · already known {report.already_known} · "
        f"rejected {report.rejected_count}"
    )
    for row in report.rejected[:50]:
        console.print(f"  rejected {row}", markup=False, highlight=False)
    if report.rejected_count > 50:
        console.print(f"  … and {report.rejected_count - 50} more (use --json for all)")
    for row in report.differing[:20]:
        console.print(f"  already known, not re-applied: {row}", markup=False, highlight=False)
    if report.differing_count > 20:
        console.print(f"  … and {report.differing_count - 20} more (use --json for all)")
