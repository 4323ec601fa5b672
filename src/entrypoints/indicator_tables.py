"""How the CLI shows the indicators: one row per group with every number and its traffic
light (tables for people, the same rows as JSON or CSV for machines), and the management
practices one row per group and practice.
"""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from application.indicators.report import IndicatorReport
from domain.indicators.facts import Dimension
from domain.indicators.goals import Goal
from domain.indicators.workforce import PracticeCompliance, overall
from entrypoints.render import local


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


INDICATOR_COLUMNS = (
    "group",
    "follow_ups_due", "on_time", "late", "missed", "pending", "compliance", "compliance_light",
    "handled", "first_contact", "repeated", "fcr", "fcr_light",
    "reincidencia", "reincidencia_light",
    "survey_answers", "nps", "nps_light",
    "quality_emitted", "quality_perceived", "calidad_mec", "calidad_mec_light",
    "scheduled_agent_days", "absent_agent_days", "ausentismo", "ausentismo_light",
    "active_agents", "agents_left", "rotacion", "rotacion_light",
    "practices_due", "practices_held", "practice_compliance", "practice_compliance_light",
    "definitions",
)  # fmt: skip
"""The columns of `indicators_rows`, in order: the CSV's header whatever the rows, also when
a period has none (`render.write_csv(out, rows, INDICATOR_COLUMNS)`: `/indicators.csv`,
`backoffice indicators --csv`)."""

PRACTICE_COLUMNS = (
    "group", "practice", "practica", "due", "held", "held_total", "minutes", "compliance",
    "compliance_light",
)  # fmt: skip
"""The columns of `practice_rows`, in order (`backoffice indicators --practices --csv`)."""


def indicators_rows(report: IndicatorReport) -> list[dict[str, Any]]:
    """One row per group: every indicator's numbers, their traffic lights against the goals
    (green, amber, red; empty without data) and the definitions version; the keys are
    `INDICATOR_COLUMNS`, in that order."""
    by_team_or_all = report.by in (Dimension.ALL, Dimension.TEAM)
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
                "handled": f.handled if f else 0,
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
                # Rotación is counted in total or by team: by agent there is nothing to show.
                "active_agents": (r.active if r else 0) if by_team_or_all else None,
                "agents_left": (r.left if r else 0) if by_team_or_all else None,
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
    """One row per group and practice (docs/procedure.md §12); the keys are
    `PRACTICE_COLUMNS`, in that order."""
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
_DOTS = {"green": ("✓", "green"), "amber": ("!", "yellow"), "red": ("✗", "red")}


def _count(value: int | None) -> str:
    return "-" if value is None else str(value)


def _lit(row: dict[str, Any], name: str, kind: str = "pct") -> Text:
    """A number with its traffic light (styled text: no markup is parsed in a table)."""
    value = row[name]
    if value is None:
        return Text("-")
    text = f"{value:.1%}" if kind == "pct" else f"{value:+.1f}" if kind == "nps" else f"{value:.1f}"
    light = row.get(f"{name}_light")
    return Text.assemble(text, " ", _DOTS[light]) if light else Text(text)


LEGEND = "✓ meets the goal · ! misses it by at most the margin · ✗ misses it by more"


def traffic_light(light: str | None) -> Text:
    """A traffic light as its shape and name (`✓ green`), `-` without data."""
    if light is None:
        return Text("-")
    shape, style = _DOTS[light]
    return Text(f"{shape} {light}", style=style)


def show_indicators(console: Console, report: IndicatorReport) -> None:
    start = local(report.period.start)
    end = local(report.period.end)
    rows = indicators_rows(report)
    title = (
        f"Indicators {start} → {end} Bogotá, by {report.by.value}"
        f" (definitions {report.definitions}; reincidencia window {report.window.days} days)"
    )
    cases = [
        row
        for row in rows
        if row["follow_ups_due"]
        or row["handled"]
        or row["survey_answers"]
        or row["calidad_mec"] is not None
    ]
    if not cases:
        console.print(f"{title}\nNo follow-up due, case handled, survey answer or monitoring.")
    else:
        _case_tables(console, report, title, cases)
    _team_tables(console, report, rows)


def _case_tables(
    console: Console, report: IndicatorReport, title: str, rows: list[dict[str, Any]]
) -> None:
    goals = report.goals
    table = Table(
        title=title,
        title_justify="left",
        caption=LEGEND,
        caption_justify="left",
    )
    for column in ("group", "due", "on time", "late", "missed", "pending",
                   f"compliance {goals.seguimientos.describe()}", "handled", "SPC", "repeated",
                   f"FCR {goals.fcr.describe()}", f"reincidencia {goals.reincidencia.describe()}",
                   "answers", f"NPS {goals.nps.describe()}",
                   f"MEC {goals.calidad_mec.describe()}"):  # fmt: skip
        table.add_column(column, justify="left" if column == "group" else "right")
    for row in rows:
        table.add_row(
            row["group"], str(row["follow_ups_due"]), str(row["on_time"]), str(row["late"]),
            str(row["missed"]), str(row["pending"]), _lit(row, "compliance"),
            str(row["handled"]), str(row["first_contact"]), str(row["repeated"]),
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


def _team_tables(console: Console, report: IndicatorReport, rows: list[dict[str, Any]]) -> None:
    goals = report.goals
    if report.by.value in ("category", "line"):
        console.print(
            f"Ausentismo, Rotación and the practices belong to people, not to a {report.by.value}:"
            " ask for them by all, agent or team."
        )
        return
    rows = [
        row
        for row in rows
        if row["scheduled_agent_days"] or row["active_agents"] or row["practices_due"]
    ]
    if not rows:
        console.print(
            "No shift, agent or management practice in the period"
            " (import-roster, import-shifts, import-practices)."
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
        team.add_row(
            row["group"], str(row["scheduled_agent_days"]), str(row["absent_agent_days"]),
            _lit(row, "ausentismo"), _count(row["active_agents"]), _count(row["agents_left"]),
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
        practices = Table(title="Management practices (§12)", title_justify="left")
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
