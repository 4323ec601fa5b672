"""How the CLI shows cases and histories: Rich tables for people, JSON for machines."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from rich.console import Console
from rich.table import Table

from adapters.eventstore.mapper import CONVERTER, TOPICS, event_payload
from application.indicators import IndicatorReport
from application.ingestion import IngestReport
from application.ports import CaseSummary, DueFollowUp
from domain.calendar import BOGOTA
from domain.events import CaseEvent
from domain.goals import Goal
from domain.state import CaseState
from domain.workforce import PracticeCompliance, overall

HEADER_FIELDS = ("originator_id", "originator_version", "timestamp", "actor")


def local(value: datetime | None) -> str:
    """A time as agents read it: Bogotá local time."""
    if value is None:
        return "-"
    return value.astimezone(BOGOTA).strftime("%Y-%m-%d %H:%M")


def dump_json(console: Console, data: Any) -> None:
    console.print_json(json.dumps(data, ensure_ascii=False, default=str))


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
        ("notes", f"{state.notes} in RR, {state.estrategicos_notes} in ESTRATEGICOS"),
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
    console.print(table)
    due: list[tuple[datetime, str]] = [
        (f.due_at, f"follow-up #{f.follow_up_id}") for f in state.pending_follow_ups
    ]
    due += [(c.due_at, f"{c.kind.value} #{c.clock_id}") for c in state.running_clocks]
    if due:
        console.print("Open clocks:")
        for when, what in sorted(due):
            console.print(f"  {what} due {local(when)} Bogotá")


def history_json(events: Sequence[CaseEvent]) -> list[dict[str, Any]]:
    entries = []
    for event in events:
        payload = event_payload(event)
        data = {k: v for k, v in payload.items() if k not in HEADER_FIELDS}
        entries.append(
            {
                "version": event.originator_version,
                "timestamp": payload["timestamp"],
                "actor": payload["actor"],
                "event": TOPICS[type(event)],
                "data": data,
            }
        )
    return entries


def show_history(console: Console, events: Sequence[CaseEvent]) -> None:
    table = Table(title=f"History of case {events[0].originator_id}", title_justify="left")
    for column in ("#", "time (Bogotá)", "actor", "event", "data"):
        table.add_column(column)
    for entry, event in zip(history_json(events), events, strict=True):
        data = ", ".join(f"{k}={_short(v)}" for k, v in entry["data"].items() if v is not None)
        table.add_row(
            str(entry["version"]), local(event.timestamp), entry["actor"], entry["event"], data
        )
    console.print(table)


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
    return text if len(text) <= 60 else text[:57] + "…"


def summaries_json(rows: Sequence[CaseSummary]) -> list[dict[str, Any]]:
    return [CONVERTER.unstructure(row) for row in rows]


def show_summaries(console: Console, rows: Sequence[CaseSummary], total: int) -> None:
    table = Table(title=f"Cases ({len(rows)} of {total})", title_justify="left")
    table.add_column("case", no_wrap=True)
    for column in ("channel", "status", "line", "typification", "category", "owner"):
        table.add_column(column)
    table.add_column("next follow-up", no_wrap=True)
    for r in rows:
        category = f"{r.category.value}/{r.subcategory}" if r.category else "-"
        table.add_row(
            r.source.key,
            r.source.channel.value,
            r.status.value,
            r.line.value,
            r.typification,
            category,
            r.agent or "-",
            local(r.next_follow_up_at),
        )
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


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def indicators_rows(report: IndicatorReport) -> list[dict[str, Any]]:
    """One row per group: every indicator's numbers, their traffic lights against the goals
    (green, amber, red; empty without data) and the definitions version."""
    goals = report.goals
    practice_totals = practices_by_group(report)
    keys = sorted(
        set(report.seguimientos)
        | set(report.fcr)
        | set(report.nps)
        | set(report.quality)
        | set(report.ausentismo)
        | set(report.rotacion)
        | set(practice_totals)
    )
    rows = []
    for key in keys:
        s = report.seguimientos.get(key)
        f = report.fcr.get(key)
        n = report.nps.get(key)
        q = report.quality.get(key)
        a = report.ausentismo.get(key)
        r = report.rotacion.get(key)
        p = practice_totals.get(key)
        compliance = s.compliance if s else None
        fcr = f.fcr if f else None
        repeats = f.reincidencia if f else None
        absent = a.ausentismo if a else None
        attrition = r.rotacion if r else None
        held = p.compliance if p else None
        rows.append(
            {
                "group": key,
                "follow_ups_due": s.due if s else 0,
                "on_time": s.on_time if s else 0,
                "late": s.late if s else 0,
                "missed": s.missed if s else 0,
                "pending": s.pending if s else 0,
                "compliance": compliance,
                "compliance_light": _light(goals.seguimientos, compliance, 100),
                "closed": f.handled if f else 0,
                "first_contact": f.first_contact if f else 0,
                "repeated": f.repeated if f else 0,
                "fcr": fcr,
                "fcr_light": _light(goals.fcr, fcr, 100),
                "reincidencia": repeats,
                "reincidencia_light": _light(goals.reincidencia, repeats, 100),
                "survey_answers": n.answers if n else 0,
                "nps": n.nps if n else None,
                "nps_light": _light(goals.nps, n.nps if n else None, 1),
                "quality_emitted": q.emitted if q else None,
                "quality_perceived": q.perceived if q else None,
                "calidad_mec": q.mec if q else None,
                "calidad_mec_light": _light(goals.calidad_mec, q.mec if q else None, 1),
                "scheduled_agent_days": a.scheduled if a else 0,
                "absent_agent_days": a.absent if a else 0,
                "ausentismo": absent,
                "ausentismo_light": _light(goals.ausentismo, absent, 100),
                "active_agents": r.active if r else 0,
                "agents_left": r.left if r else 0,
                "rotacion": attrition,
                "rotacion_light": _light(goals.rotacion, attrition, 100),
                "practices_due": p.due if p else 0,
                "practices_held": p.held if p else 0,
                "practice_compliance": held,
                "practice_compliance_light": _light(goals.practices, held, 100),
                "definitions": report.definitions,
            }
        )
    return rows


def practices_by_group(report: IndicatorReport) -> dict[str, PracticeCompliance]:
    grouped: dict[str, list[PracticeCompliance]] = {}
    for (group, _), row in report.practices.items():
        grouped.setdefault(group, []).append(row)
    return {group: overall(rows) for group, rows in grouped.items()}


def practice_rows(report: IndicatorReport) -> list[dict[str, Any]]:
    """One row per group and practice (DOMAIN.md §12)."""
    return [
        {
            "group": group,
            "practice": practice.value,
            "practica": practice.spanish,
            "due": row.due,
            "held": row.held,
            "held_total": row.held_total,
            "minutes": row.minutes,
            "compliance": row.compliance,
            "compliance_light": _light(report.goals.practices, row.compliance, 100),
        }
        for (group, practice), row in report.practices.items()
    ]


def _light(goal: Goal, value: float | None, scale: float) -> str | None:
    light = goal.light(None if value is None else value * scale)
    return None if light is None else light.value


# Shapes that differ without colour too (piped output, colour-blind readers).
_DOTS = {"green": "[green]✓[/green]", "amber": "[yellow]![/yellow]", "red": "[red]✗[/red]"}


def _lit(row: dict[str, Any], name: str, kind: str = "pct") -> str:
    """A number with its traffic light."""
    value = row[name]
    if value is None:
        return "-"
    text = f"{value:.1%}" if kind == "pct" else f"{value:+.1f}" if kind == "nps" else f"{value:.1f}"
    light = row.get(f"{name}_light")
    return f"{text} {_DOTS[light]}" if light else text


LEGEND = "✓ meets the goal · ! misses it by at most the margin · ✗ misses it by more"


def show_indicators(console: Console, report: IndicatorReport) -> None:
    start = local(report.period.start)
    end = local(report.period.end)
    goals = report.goals
    rows = indicators_rows(report)
    table = Table(
        title=f"Indicators {start} → {end} Bogotá, by {report.by.value}"
        f" (definitions {report.definitions}; reincidencia window {report.window.days} days)",
        title_justify="left",
        caption=LEGEND,
        caption_justify="left",
    )
    for column in ("group", "due", "on time", "late", "missed", "pending",
                   f"compliance {goals.seguimientos.describe()}", "closed", "SPC", "repeated",
                   f"FCR {goals.fcr.describe()}", f"reincidencia {goals.reincidencia.describe()}",
                   "answers", f"NPS {goals.nps.describe()}",
                   f"MEC {goals.calidad_mec.describe()}"):  # fmt: skip
        table.add_column(column, justify="left" if column == "group" else "right")
    for row in rows:
        if not (row["follow_ups_due"] or row["closed"] or row["survey_answers"]
                or row["calidad_mec"] is not None):  # fmt: skip
            continue
        table.add_row(
            row["group"], str(row["follow_ups_due"]), str(row["on_time"]), str(row["late"]),
            str(row["missed"]), str(row["pending"]), _lit(row, "compliance"),
            str(row["closed"]), str(row["first_contact"]), str(row["repeated"]),
            _lit(row, "fcr"), _lit(row, "reincidencia"), str(row["survey_answers"]),
            _lit(row, "nps", "nps"), _lit(row, "calidad_mec", "points"),
        )  # fmt: skip
    console.print(table)
    effectiveness = Table(title="Efectividad by agent", title_justify="left")
    for column in ("agent", "follow-up compliance", "closed", "agent-days", "closed per day"):
        effectiveness.add_column(column, justify="left" if column == "agent" else "right")
    for agent, e in report.efectividad.items():
        per_day = "-" if e.closed_per_agent_day is None else f"{e.closed_per_agent_day:.2f}"
        effectiveness.add_row(agent, _pct(e.compliance), str(e.closed), str(e.agent_days), per_day)
    console.print(effectiveness)
    if report.by.value in ("category", "line"):
        console.print(
            f"Ausentismo, Rotación and the practices belong to people, not to a {report.by.value}:"
            " ask for them by all, agent or team."
        )
        return
    team = Table(
        title="Team (HR roster and practice register)",
        title_justify="left",
        caption=LEGEND,
        caption_justify="left",
    )
    for column in ("group", "scheduled", "absent", f"ausentismo {goals.ausentismo.describe()}",
                   "active", "left", f"rotación {goals.rotacion.describe()}", "practices due",
                   "held", f"compliance {goals.practices.describe()}"):  # fmt: skip
        team.add_column(column, justify="left" if column == "group" else "right")
    for row in rows:
        if not (row["scheduled_agent_days"] or row["active_agents"] or row["practices_due"]):
            continue
        team.add_row(
            row["group"], str(row["scheduled_agent_days"]), str(row["absent_agent_days"]),
            _lit(row, "ausentismo"), str(row["active_agents"]), str(row["agents_left"]),
            _lit(row, "rotacion"), str(row["practices_due"]), str(row["practices_held"]),
            _lit(row, "practice_compliance"),
        )  # fmt: skip
    console.print(team)
    show_practices(console, report)


def show_practices(console: Console, report: IndicatorReport) -> None:
    detail = practice_rows(report)
    if not detail:
        console.print("No management practice was due or held in the period.")
    else:
        practices = Table(title="Management practices (DOMAIN.md §12)", title_justify="left")
        for column in ("group", "practice", "due", "held", "all held", "minutes", "compliance"):
            practices.add_column(
                column, justify="right" if column not in ("group", "practice") else "left"
            )
        for p in detail:
            practices.add_row(
                p["group"], p["practica"], str(p["due"]), str(p["held"]), str(p["held_total"]),
                str(p["minutes"]), _lit(p, "compliance"),
            )  # fmt: skip
        console.print(practices)
