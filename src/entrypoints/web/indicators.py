"""The indicators page (`/console/indicators`): every indicator of the office's report for a
period, in total or by team, agent, category or line, with its goal, traffic light (colour
and text), the counts behind it and the definitions' label; trend charts by day and by week
(inline SVG, `entrypoints.chart`); the CSV download (`/console/indicators.csv`: the page's
table in the user's language, values as shown; the API's `/indicators.csv` stays the
systems' variant, English names and raw numbers); the management practices' compliance per
leader.

The numbers are the report's (`office.indicators`), read through the rows the CLI and the
API show (`entrypoints.indicator_tables`), so the page, the CSV and the API agree. The
charts take one report per day and one per ISO week of the period (in total); a period
too long to chart day by day (or week by week) says so instead of computing hundreds of
reports.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Callable
from datetime import date, timedelta
from typing import Any
from urllib.parse import urlencode

import attrs
from babel.dates import format_date
from babel.numbers import get_decimal_symbol
from litestar import Request, Response, get
from litestar.params import FromQuery

from application.access.permissions import Reading
from application.indicators.report import IndicatorReport
from domain.calendar import BusinessCalendar
from domain.indicators.facts import Dimension, Period
from domain.indicators.goals import Goal, Goals, Light
from domain.values import FIRST_YEAR, LAST_YEAR
from entrypoints.chart import SERIES, Series, line_chart
from entrypoints.indicator_tables import indicators_rows, practice_rows
from entrypoints.render import spreadsheet_safe
from entrypoints.web.i18n import Speaker
from entrypoints.web.pages import CONSOLE, Page, serve_page
from entrypoints.web.templates import PAGE_HEADERS

ADDRESS = f"{CONSOLE}/indicators"
MAX_DAYS = 3_660
"""The longest period (as the API: ten years)."""
DAILY_POINTS = 92
"""The longest period charted day by day (a quarter: one report per day)."""
WEEKLY_POINTS = 106
"""The most weeks charted (two years: one report per week)."""
KINDS = ("day", "week", "month", "custom")
CHART_SIZE = (360, 190, 34)
"""A chart's drawing (width, height, padding): about its width on the page, so that its
texts read at their size."""


# --- the period asked for ----------------------------------------------------------------------


class Unreadable(Exception):
    """A choice of the picker the page cannot use: a message id and its values."""

    def __init__(self, message: str, **values: str) -> None:
        super().__init__(message)
        self.message = message
        self.values = values

    def text(self, t: Speaker) -> str:
        return t(self.message, **self.values)


@attrs.frozen
class Choice:
    """The period and grouping shown: Bogotá days `first` to `last` (included); `kind`, how
    it was chosen; `to_date`: a running week or month cut at today."""

    kind: str
    first: date
    last: date
    by: Dimension
    to_date: bool = False

    @property
    def period(self) -> Period:
        return _period(self.first, self.last)


def _period(first: date, last: date) -> Period:
    return Period.of_days(first, last)


def _shown(value: str) -> str:
    return value.strip()[:40]


def _within(day: date, value: str) -> date:
    """`day`, when its year is one the office keeps (`FIRST_YEAR`–`LAST_YEAR`, as every date
    a command or a query takes); otherwise unreadable (a year 9999 overflowed the period)."""
    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise Unreadable(
            "{value} is outside the years {first}–{last}.",
            value=_shown(value), first=str(FIRST_YEAR), last=str(LAST_YEAR),
        )  # fmt: skip
    return day


def _day(value: str) -> date:
    try:
        day = date.fromisoformat(value.strip())
    except ValueError:
        raise Unreadable(
            "{value} is not a day: write it as year-month-day (2026-07-15).", value=_shown(value)
        ) from None
    return _within(day, value)


def _week(value: str) -> date:
    """The Monday of an ISO week written `2026-W29`."""
    found = re.fullmatch(r"(\d{4})-?W(\d{1,2})", value.strip(), re.IGNORECASE)
    try:
        if found is None:
            raise ValueError(value)
        monday = date.fromisocalendar(int(found.group(1)), int(found.group(2)), 1)
    except ValueError:
        raise Unreadable(
            "{value} is not a week: write it as year-W-week (2026-W29).", value=_shown(value)
        ) from None
    return _within(monday, value)


def _month(value: str) -> date:
    found = re.fullmatch(r"(\d{4})-(\d{1,2})", value.strip())
    try:
        if found is None:
            raise ValueError(value)
        first = date(int(found.group(1)), int(found.group(2)), 1)
    except ValueError:
        raise Unreadable(
            "{value} is not a month: write it as year-month (2026-07).", value=_shown(value)
        ) from None
    return _within(first, value)


def _month_end(first: date) -> date:
    following = (first.replace(day=28) + timedelta(days=4)).replace(day=1)
    return following - timedelta(days=1)


def _grouping(value: str | None) -> Dimension:
    if not value:
        return Dimension.ALL
    try:
        return Dimension(value.strip())
    except ValueError:
        raise Unreadable(
            "Unknown grouping: {value}. Choose total, team, agent, category or line.",
            value=_shown(value),
        ) from None


def choose(
    today: date,
    *,
    period: str | None = None,
    day: str | None = None,
    week: str | None = None,
    month: str | None = None,
    first: str | None = None,
    last: str | None = None,
    by: str | None = None,
) -> Choice:
    """The period and grouping the picker asks for (default: the month to date, in total);
    a running week or month is cut at `today`. Raises `Unreadable` for what cannot be
    shown: a date that is not one, the last day before the first, more than ten years, an
    unknown grouping or kind of period."""
    grouping = _grouping(by)
    kind = (period or "").strip() or ("custom" if (first or last) else "month")
    if kind not in KINDS:
        raise Unreadable(
            "Unknown period: {value}. Choose a day, a week, a month or a first and a last day.",
            value=_shown(kind),
        )
    if kind == "day":
        chosen = _day(day) if day else today
        return Choice(kind, chosen, chosen, grouping)
    if kind == "week":
        monday = _week(week) if week else today - timedelta(days=today.weekday())
        sunday = monday + timedelta(days=6)
        running = monday <= today < sunday
        return Choice(kind, monday, today if running else sunday, grouping, running)
    if kind == "month":
        start = _month(month) if month else today.replace(day=1)
        end = _month_end(start)
        running = start <= today < end
        return Choice(kind, start, today if running else end, grouping, running)
    start = _day(first) if first else today.replace(day=1)
    end = _day(last) if last else today
    if end < start:
        raise Unreadable(
            "The last day ({last}) comes before the first ({first}).",
            first=start.isoformat(),
            last=end.isoformat(),
        )
    if (end - start).days > MAX_DAYS:
        raise Unreadable("Choose a period of at most ten years.")
    return Choice(kind, start, end, grouping)


def _query(**values: str) -> str:
    return f"{ADDRESS}?{urlencode(values)}"


def _address(kind: str, first: date, last: date, by: Dimension) -> str:
    """The page's address for a period (as the picker would ask for it)."""
    extra = {} if by is Dimension.ALL else {"by": by.value}
    if kind == "day":
        return _query(period="day", day=first.isoformat(), **extra)
    if kind == "week":
        year, number, _ = first.isocalendar()
        return _query(period="week", week=f"{year}-W{number:02d}", **extra)
    if kind == "month":
        return _query(period="month", month=first.strftime("%Y-%m"), **extra)
    return _query(period="custom", first=first.isoformat(), last=last.isoformat(), **extra)


def neighbours(choice: Choice, today: date) -> tuple[str, str | None]:
    """The addresses of the period before and after (None: the next one has not begun)."""
    if choice.kind == "day":
        before = choice.first - timedelta(days=1)
        after = choice.first + timedelta(days=1)
        return _address("day", before, before, choice.by), (
            _address("day", after, after, choice.by) if after <= today else None
        )
    if choice.kind == "week":
        before = choice.first - timedelta(days=7)
        after = choice.first + timedelta(days=7)
        return _address("week", before, before, choice.by), (
            _address("week", after, after, choice.by) if after <= today else None
        )
    if choice.kind == "month":
        before = (choice.first - timedelta(days=1)).replace(day=1)
        after = _month_end(choice.first) + timedelta(days=1)
        return _address("month", before, before, choice.by), (
            _address("month", after, after, choice.by) if after <= today else None
        )
    length = (choice.last - choice.first).days + 1
    shift = timedelta(days=length)
    later = choice.first + shift
    return _address("custom", choice.first - shift, choice.last - shift, choice.by), (
        _address("custom", later, choice.last + shift, choice.by) if later <= today else None
    )


# --- what the page shows -----------------------------------------------------------------------


@attrs.frozen
class Indicator:
    """An indicator as the page presents it: the row's value and light, the counts behind
    it, its goal among the report's goals, and the groupings it is computed for."""

    key: str
    name: str
    explained: str
    goal: Callable[[Goals], Goal]
    value: Callable[[dict[str, Any]], float | None]
    kind: str  # "ratio" (0 to 1, shown as a percent), "points" (0 to 100 %), "nps"
    groupings: frozenset[Dimension]


PEOPLE = frozenset({Dimension.ALL, Dimension.TEAM, Dimension.AGENT})
EVERY = frozenset(Dimension)

INDICATORS: tuple[Indicator, ...] = (
    Indicator("compliance", "Follow-up compliance",
              "Follow-ups done on time ÷ follow-ups due in the period.",
              lambda g: g.seguimientos, lambda r: r["compliance"], "ratio", EVERY),
    Indicator("fcr", "FCR", "Cases closed in first contact without a repeat ÷ cases handled.",
              lambda g: g.fcr, lambda r: r["fcr"], "ratio", EVERY),
    Indicator("reincidencia", "Reincidencia",
              "First-contact closings the same account called again about within the window"
              " ÷ first-contact closings.",
              lambda g: g.reincidencia, lambda r: r["reincidencia"], "ratio", EVERY),
    Indicator("nps", "NPS", "% promoters − % detractors of the survey answers.",
              lambda g: g.nps, lambda r: r["nps"], "nps", EVERY),
    Indicator("calidad_mec", "Calidad MEC",
              "The monitorings' mean score and the survey's agent satisfaction, weighted.",
              lambda g: g.calidad_mec, lambda r: r["calidad_mec"], "points", EVERY),
    Indicator("ausentismo", "Ausentismo",
              "Absent agent-days ÷ scheduled agent-days (back-office agents).",
              lambda g: g.ausentismo, lambda r: r["ausentismo"], "ratio", PEOPLE),
    Indicator("rotacion", "Rotación",
              "Agents who left ÷ agents on the roster in the period.",
              lambda g: g.rotacion, lambda r: r["rotacion"], "ratio",
              frozenset({Dimension.ALL, Dimension.TEAM})),
    Indicator("practice_compliance", "Practice compliance",
              "Management practices held (up to each goal) ÷ practices due (§12).",
              lambda g: g.practices, lambda r: r["practice_compliance"], "ratio", PEOPLE),
)  # fmt: skip
"""Every indicator of the report, in the order the page shows them."""

LIGHT_CLASS = {"green": "ok", "amber": "warning", "red": "breached", None: "muted"}
LIGHT_TEXT = {
    "green": "✓ Goal met",
    "amber": "! Goal not met (within the margin)",
    "red": "✗ Goal not met",
    None: "– No data",
}
"""Each traffic light as text too (its shape and words), so colour is never alone."""

GROUPINGS = (
    (Dimension.ALL, "Total"),
    (Dimension.TEAM, "By team"),
    (Dimension.AGENT, "By agent"),
    (Dimension.CATEGORY, "By category"),
    (Dimension.LINE, "By line of business"),
)
GROUP_HEADINGS = {
    Dimension.ALL: "Total",
    Dimension.TEAM: "Team on the roster",
    Dimension.AGENT: "Agent",
    Dimension.CATEGORY: "Case category",
    Dimension.LINE: "Line of business",
}
PERIODS = (("day", "Day"), ("week", "Week"), ("month", "Month"), ("custom", "From… to…"))
GROUP_NAMES = {
    "total": "Total",
    "sac": "SAC",
    "pqr": "PQR",
    "soporte": "Soporte",
    "ventas": "Ventas",
    "hogar": "Hogar",
    "movil": "Móvil",
}
"""Groups as the back office names them (domain terms keep their Spanish names)."""


@attrs.frozen
class Cell:
    group: str
    value: str
    basis: str
    details: str
    light: str | None
    light_class: str
    light_text: str


@attrs.frozen
class Section:
    key: str
    name: str
    explained: str
    goal: str
    cells: tuple[Cell, ...]


def _signed(value: float, t: Speaker) -> str:
    digits = 0 if abs(value - round(value)) < 1e-9 else 1
    text = t.number(value, digits)
    return f"+{text}" if value > 0 else text


def value_text(kind: str, value: float | None, t: Speaker) -> str:
    """A value in its unit: a percent, or NPS points with their sign."""
    if value is None:
        return "—"
    if kind == "nps":
        return _signed(value, t)
    if kind == "points":
        return t.percent(value / 100)
    return t.percent(value)


def goal_text(goal: Goal, kind: str, t: Speaker) -> str:
    """A goal as `≥ 90 %` (`≥ +50` for NPS), never broken across lines."""
    sign = "≥" if goal.higher_is_better else "≤"
    target = _signed(goal.target, t) if kind == "nps" else t.percent(goal.target / 100, 0)
    return f"{sign} {target}".replace(" ", "\u00a0")


def _counts(key: str, row: dict[str, Any], report: IndicatorReport, t: Speaker) -> tuple[str, str]:
    """What an indicator's value is computed over (`basis`, its denominator) and from
    (`details`), as counts."""
    group = row["group"]
    if key == "compliance":
        return (
            t.plural("{n} due", "{n} due", row["follow_ups_due"]),
            " · ".join((
                t.plural("{n} on time", "{n} on time", row["on_time"]),
                t.plural("{n} late", "{n} late", row["late"]),
                t.plural("{n} missed", "{n} missed", row["missed"]),
                t.plural("{n} pending", "{n} pending", row["pending"]),
            )),
        )  # fmt: skip
    if key == "fcr":
        resolved = row["first_contact"] - row["repeated"]
        return (
            t.plural("{n} case handled", "{n} cases handled", row["handled"]),
            t.plural("{n} resolved in first contact without a repeat",
                     "{n} resolved in first contact without a repeat", resolved),
        )  # fmt: skip
    if key == "reincidencia":
        return (
            t.plural("{n} closed in first contact", "{n} closed in first contact",
                     row["first_contact"]),
            t.plural("{n} came back within the window", "{n} came back within the window",
                     row["repeated"]),
        )  # fmt: skip
    if key == "nps":
        answers = report.nps.get(group)
        promoters, detractors = (answers.promoters, answers.detractors) if answers else (0, 0)
        return (
            t.plural("{n} answer", "{n} answers", row["survey_answers"]),
            t.plural("{n} promoter", "{n} promoters", promoters) + " · "
            + t.plural("{n} detractor", "{n} detractors", detractors),
        )  # fmt: skip
    if key == "calidad_mec":
        quality = report.quality.get(group)
        monitorings = quality.monitorings if quality else 0
        perceived = quality.perceived_answers if quality else 0
        return (
            t.plural("{n} monitoring", "{n} monitorings", monitorings) + ", "
            + t.plural("{n} answer", "{n} answers", perceived),
            t("monitoring score {emitted} · agent satisfaction {perceived}",
              emitted=t.number(row["quality_emitted"]),
              perceived=t.number(row["quality_perceived"])),
        )  # fmt: skip
    if key == "ausentismo":
        return (
            t.plural("{n} scheduled agent-day", "{n} scheduled agent-days",
                     row["scheduled_agent_days"]),
            t.plural("{n} absent", "{n} absent", row["absent_agent_days"]),
        )  # fmt: skip
    if key == "rotacion":
        return (
            t.plural("{n} agent on the roster", "{n} agents on the roster",
                     row["active_agents"] or 0),
            t.plural("{n} left", "{n} left", row["agents_left"] or 0),
        )  # fmt: skip
    return (
        t.plural("{n} due", "{n} due", row["practices_due"]),
        t.plural("{n} held", "{n} held", row["practices_held"]),
    )


def _has_data(key: str, row: dict[str, Any]) -> bool:
    """Whether the group had anything to count for the indicator (else it is left out of
    a grouped table)."""
    basis = {
        "compliance": row["follow_ups_due"],
        "fcr": row["handled"],
        "reincidencia": row["first_contact"],
        "nps": row["survey_answers"],
        "calidad_mec": row["calidad_mec"] is not None,
        "ausentismo": row["scheduled_agent_days"],
        "rotacion": row["active_agents"],
        "practice_compliance": row["practices_due"],
    }[key]
    return bool(basis)


def group_name(group: str, t: Speaker) -> str:
    return t(GROUP_NAMES[group]) if group in GROUP_NAMES else group


def sections(
    report: IndicatorReport, t: Speaker, named: Callable[[str], str] | None = None
) -> list[Section]:
    """Every indicator computed for the report's grouping, each with its goal and, per
    group (the total alone when not grouped; else the groups with something to count), its
    value, light and counts; `named`: how an agent's login is shown, grouped by agent."""
    rows = indicators_rows(report)
    if report.by is Dimension.ALL and not rows:
        rows = _empty_total(report)
    shown = []
    for indicator in INDICATORS:
        if report.by not in indicator.groupings:
            continue
        goal = indicator.goal(report.goals)
        cells = []

        def shown_group(group: str) -> str:
            if named is not None and report.by is Dimension.AGENT:
                return named(group)
            return group_name(group, t)

        for row in rows:
            if report.by is not Dimension.ALL and not _has_data(indicator.key, row):
                continue
            light = row[f"{indicator.key}_light"]
            basis, details = _counts(indicator.key, row, report, t)
            cells.append(
                Cell(
                    group=shown_group(row["group"]),
                    value=value_text(indicator.kind, indicator.value(row), t),
                    basis=basis,
                    details=details,
                    light=light,
                    light_class=LIGHT_CLASS[light],
                    light_text=t(LIGHT_TEXT[light]),
                )
            )
        shown.append(Section(indicator.key, t(indicator.name), t(indicator.explained),
                             goal_text(goal, indicator.kind, t), tuple(cells)))  # fmt: skip
    return shown


def _empty_total(report: IndicatorReport) -> list[dict[str, Any]]:
    """The total's row of a period with nothing in it (every count zero, no value)."""
    from domain.indicators.definitions import FollowUpCompliance

    empty = attrs.evolve(report, seguimientos={"total": FollowUpCompliance(0, 0, 0, 0, 0)})
    return indicators_rows(empty)


@attrs.frozen
class PracticeRow:
    leader: str
    practice: str
    due: int
    held: int
    held_total: int
    minutes: int
    compliance: str
    light_class: str
    light_text: str


def practice_table(report: IndicatorReport, t: Speaker) -> list[PracticeRow]:
    """The management practices (§12), one row per leader and practice."""
    rows = sorted(practice_rows(report), key=lambda r: (r["group"], r["practice"]))
    return [
        PracticeRow(
            leader=row["group"],
            practice=row["practica"],
            due=row["due"],
            held=row["held"],
            held_total=row["held_total"],
            minutes=row["minutes"],
            compliance=t.percent(row["compliance"]),
            light_class=LIGHT_CLASS[row["compliance_light"]],
            light_text=t(LIGHT_TEXT[row["compliance_light"]]),
        )
        for row in rows
    ]


# --- the charts --------------------------------------------------------------------------------


@attrs.frozen
class Point:
    label: str
    """The day or week, as a row of the chart's table names it."""
    value: str
    light_class: str
    light_text: str


@attrs.frozen
class Chart:
    ident: str
    name: str
    goal: str
    svg: str
    points: tuple[Point, ...]


Reports = Callable[[date, date, Dimension], IndicatorReport]


def spans(choice: Choice) -> tuple[list[tuple[date, date]] | None, list[tuple[date, date]] | None]:
    """The days and the ISO weeks (cut at the period's ends) the charts take a report for;
    None: too many to chart."""
    length = (choice.last - choice.first).days + 1
    days = (
        [(d, d) for d in (choice.first + timedelta(days=n) for n in range(length))]
        if length <= DAILY_POINTS
        else None
    )
    weeks: list[tuple[date, date]] = []
    monday = choice.first - timedelta(days=choice.first.weekday())
    while monday <= choice.last and len(weeks) <= WEEKLY_POINTS:
        weeks.append((max(monday, choice.first), min(monday + timedelta(days=6), choice.last)))
        monday += timedelta(days=7)
    return days, (weeks if len(weeks) <= WEEKLY_POINTS else None)


def _short(day: date, t: Speaker) -> str:
    return format_date(day, "d MMM", locale=t.locale)


def _week_name(first: date, t: Speaker) -> str:
    return t("W{week}", week=f"{first.isocalendar()[1]:02d}")


def charts(
    spans_: list[tuple[date, date]], unit: str, reports: Reports, goals: Goals, t: Speaker
) -> list[Chart]:
    """One chart per charted indicator (in total) over `spans_` (days or weeks)."""
    taken = [reports(first, last, Dimension.ALL) for first, last in spans_]
    if unit == "day":
        labels = [t.day(first) for first, _ in spans_]
        every = 1 if len(spans_) <= 8 else 7
        tick = [_short(first, t) for first, _ in spans_]
    else:
        labels = [
            t("{week}: {first} to {last}", week=_week_name(first, t), first=_short(first, t),
              last=_short(last, t))
            for first, last in spans_
        ]  # fmt: skip
        every = 1 if len(spans_) <= 14 else 4
        tick = [_week_name(first, t) for first, _ in spans_]
    end = len(spans_) - 1
    ticks = [(i, tick[i]) for i in range(0, len(spans_), every) if i == end or end - i >= 2]
    if end not in {i for i, _ in ticks}:
        ticks.append((end, tick[end]))
    made = []
    for series in SERIES:
        indicator = next(i for i in INDICATORS if i.key == series.key)
        made.append(_chart(series, indicator, unit, spans_, labels, ticks, taken, goals, t))
    return made


def _chart(
    series: Series,
    indicator: Indicator,
    unit: str,
    spans_: list[tuple[date, date]],
    labels: list[str],
    ticks: list[tuple[int, str]],
    taken: list[IndicatorReport],
    goals: Goals,
    t: Speaker,
) -> Chart:
    goal = series.goal(goals)
    values = [series.value(r) for r in taken]
    kind = "nps" if indicator.kind == "nps" else "points"
    lights = [goal.light(v) for v in values]
    shown = [value_text(kind, v, t) for v in values]
    light_keys: list[str | None] = [None if light is None else light.value for light in lights]
    points = tuple(
        Point(label, text, LIGHT_CLASS[light], t(LIGHT_TEXT[light]))
        for label, text, light in zip(labels, shown, light_keys, strict=True)
    )
    name = t(indicator.name)
    target = goal_text(goal, indicator.kind, t)
    known = sum(1 for v in values if v is not None)
    met = sum(1 for light in lights if light is Light.GREEN)
    first, last = t.day(spans_[0][0]), t.day(spans_[-1][1])
    if unit == "day":
        title = t("{name} by day", name=name)
        summary = t.ngettext(
            "Goal {goal}: met on {met} of {n} day with data, from {first} to {last}.",
            "Goal {goal}: met on {met} of {n} days with data, from {first} to {last}.",
            known,
        )
    else:
        title = t("{name} by week", name=name)
        summary = t.ngettext(
            "Goal {goal}: met in {met} of {n} week with data, from {first} to {last}.",
            "Goal {goal}: met in {met} of {n} weeks with data, from {first} to {last}.",
            known,
        )
    description = summary.format(goal=target, met=met, n=known, first=first, last=last)
    ident = f"chart-{unit}-{series.key}"
    svg = line_chart(
        values,
        low=series.low,
        high=series.high,
        goal=goal,
        point_titles=[f"{p.label}: {p.value} ({p.light_text})" for p in points],
        ticks=ticks,
        goal_label=t("goal {goal}", goal=target),
        empty_label=t("No data for the period"),
        title=title,
        description=description,
        ident=ident,
        size=CHART_SIZE,
        font=12,
    )
    return Chart(ident, title, target, svg, points)


# --- the page --------------------------------------------------------------------------------


def _picker(choice: Choice | None, asked: dict[str, str | None]) -> dict[str, str]:
    """The picker's values: the period shown, else what was asked (to correct it)."""
    if choice is None:
        values = {key: (value or "").strip()[:40] for key, value in asked.items()}
        custom = values["first"] or values["last"]
        values["period"] = values["period"] or ("custom" if custom else "month")
        return values
    year, number, _ = choice.first.isocalendar()
    return {
        "period": choice.kind,
        "day": choice.first.isoformat(),
        "week": f"{year}-W{number:02d}",
        "month": choice.first.strftime("%Y-%m"),
        "first": choice.first.isoformat(),
        "last": choice.last.isoformat(),
        "by": choice.by.value,
    }


def _quick(today: date, by: Dimension) -> list[tuple[str, str]]:
    """Shortcuts: today, this week, this month, last month."""
    last_month = (today.replace(day=1) - timedelta(days=1)).replace(day=1)
    return [
        ("today", _address("day", today, today, by)),
        ("this week", _address("week", today, today, by)),
        ("this month", _address("month", today, today, by)),
        ("last month", _address("month", last_month, last_month, by)),
    ]


def indicators_page(page: Page, asked: dict[str, str | None]) -> Response[str]:
    """The page for what the picker asked (`asked`: the query's values)."""
    page.require(Reading.INDICATORS)
    t = page.t
    office = page.service.office
    today = BusinessCalendar.local_date(office.clock.now())
    common: dict[str, Any] = {
        "title": t("Indicators"),
        "periods": [(k, t(label)) for k, label in PERIODS],
        "groupings": [(d.value, t(label)) for d, label in GROUPINGS],
        "quick": [(t(label), address) for label, address in _quick(today, Dimension.ALL)],
    }
    try:
        choice = choose(today, **asked)
    except Unreadable as unreadable:
        return page.render("indicators.html", 400, error=unreadable.text(t), choice=None,
                           picker=_picker(None, asked), **common)  # fmt: skip

    taken: dict[tuple[date, date, Dimension], IndicatorReport] = {}

    def reports(first: date, last: date, by: Dimension) -> IndicatorReport:
        key = (first, last, by)
        if key not in taken:
            taken[key] = office.indicators(_period(first, last), by)
        return taken[key]

    report = reports(choice.first, choice.last, choice.by)
    leaders = reports(choice.first, choice.last, Dimension.AGENT)
    days, weeks = spans(choice)
    before, after = neighbours(choice, today)
    period = {"first": choice.first.isoformat(), "last": choice.last.isoformat(),
              "by": choice.by.value}  # fmt: skip
    return page.render(
        "indicators.html",
        error=None,
        choice=choice,
        picker=_picker(choice, asked),
        report=report,
        first=t.day(choice.first),
        last=t.day(choice.last),
        grouped=choice.by is not Dimension.ALL,
        grouping=dict(GROUPINGS)[choice.by],
        group_heading=GROUP_HEADINGS[choice.by],
        sections=sections(report, t, page.people.label),
        people=choice.by in PEOPLE,
        efectividad=sorted(report.efectividad.items()),
        practices=practice_table(leaders, t),
        practices_goal=goal_text(report.goals.practices, "ratio", t),
        daily=charts(days, "day", reports, report.goals, t) if days else None,
        weekly=charts(weeks, "week", reports, report.goals, t) if weeks else None,
        daily_limit=DAILY_POINTS,
        weekly_limit=WEEKLY_POINTS,
        csv=f"{ADDRESS}.csv?" + urlencode({"period": "custom", **period}),
        csv_name=csv_name(choice, t),
        csv_raw="/indicators.csv?" + urlencode(period),
        before=before,
        after=after,
        **common,
    )


@get(ADDRESS, include_in_schema=False)
async def indicators(
    request: Request[Any, Any, Any],
    period: FromQuery[str | None] = None,
    day: FromQuery[str | None] = None,
    week: FromQuery[str | None] = None,
    month: FromQuery[str | None] = None,
    first: FromQuery[str | None] = None,
    last: FromQuery[str | None] = None,
    by: FromQuery[str | None] = None,
) -> Response[Any]:
    """Every indicator of a period (default: the month to date), in total or grouped, with
    its goal, traffic light and counts; trends by day and week; the practices per leader."""
    asked = {"period": period, "day": day, "week": week, "month": month, "first": first,
             "last": last, "by": by}  # fmt: skip
    return await serve_page(request, lambda page: indicators_page(page, asked))


# --- the CSV download ------------------------------------------------------------------------


def csv_name(choice: Choice, t: Speaker) -> str:
    """The downloaded file's name, in the user's language."""
    return f"{t('indicators')}-{choice.first.isoformat()}-{choice.last.isoformat()}.csv"


_NUMBER = re.compile(r"[+-]?[\d.,\u00a0 ]+%?")
"""A value as the page writes it (`+100`, `-20`, `87,5 %`): a number, not a formula."""


def _cell(text: str) -> str:
    """A cell as the page shows it (no-break spaces as spaces), safe in a spreadsheet: a
    formula-like text gets its apostrophe, a signed number (an NPS) is left as it reads."""
    plain = text.replace("\u00a0", " ").replace("\u202f", " ")
    if _NUMBER.fullmatch(plain):
        return plain
    safe = spreadsheet_safe(plain)
    return safe if isinstance(safe, str) else plain


def spreadsheet_writer(t: Speaker) -> tuple[io.StringIO, Any]:
    """A CSV writer for a spreadsheet of the user's language: a byte-order mark (so that it
    reads UTF-8), and the separator that language's spreadsheets expect (`;` where the decimal
    mark is a comma, as in Spanish)."""
    out = io.StringIO()
    out.write("\ufeff")
    separator = ";" if get_decimal_symbol(t.locale) == "," else ","
    return out, csv.writer(out, delimiter=separator, lineterminator="\r\n")


def csv_text(
    report: IndicatorReport, choice: Choice, t: Speaker, named: Callable[[str], str] | None = None
) -> str:
    """The page's table as CSV for a spreadsheet: one row per indicator and group, the
    headers and the words in the user's language, each value rounded and written as the page
    shows it. The separator is the one a spreadsheet of that language expects (`;` where the
    decimal mark is a comma, as in Spanish), after a byte-order mark (read as UTF-8)."""
    out, writer = spreadsheet_writer(t)
    writer.writerow([t(GROUP_HEADINGS[choice.by]), t("Indicator"), t("Value"),
                     t("Counted over"), t("Counts"), t("Goal"), t("Traffic light"),
                     t("Period"), t("Definitions")])  # fmt: skip
    period = f"{choice.first.isoformat()} – {choice.last.isoformat()}"
    for section in sections(report, t, named):
        for c in section.cells:
            row = (c.group, section.name, c.value, c.basis, c.details, section.goal,
                   c.light_text, period, report.definitions)  # fmt: skip
            writer.writerow([_cell(str(value)) for value in row])
    return out.getvalue()


def indicators_csv(page: Page, asked: dict[str, str | None]) -> Response[Any]:
    """The CSV of the period the picker asked for; a choice that cannot be read is one line
    saying why (400)."""
    page.require(Reading.INDICATORS)
    t = page.t
    office = page.service.office
    today = BusinessCalendar.local_date(office.clock.now())
    try:
        choice = choose(today, **asked)
    except Unreadable as unreadable:
        return Response(unreadable.text(t) + "\n", status_code=400,
                        media_type="text/plain; charset=utf-8", headers=PAGE_HEADERS)  # fmt: skip
    report = office.indicators(_period(choice.first, choice.last), choice.by)
    disposition = f'attachment; filename="{csv_name(choice, t)}"'
    body = csv_text(report, choice, t, page.people.label)
    return Response(body, media_type="text/csv; charset=utf-8",
                    headers={**PAGE_HEADERS, "Content-Disposition": disposition})  # fmt: skip


@get(f"{ADDRESS}.csv", include_in_schema=False)
async def indicators_download(
    request: Request[Any, Any, Any],
    period: FromQuery[str | None] = None,
    day: FromQuery[str | None] = None,
    week: FromQuery[str | None] = None,
    month: FromQuery[str | None] = None,
    first: FromQuery[str | None] = None,
    last: FromQuery[str | None] = None,
    by: FromQuery[str | None] = None,
) -> Response[Any]:
    """The indicators of a period as the page shows them, as CSV for a spreadsheet."""
    asked = {"period": period, "day": day, "week": week, "month": month, "first": first,
             "last": last, "by": by}  # fmt: skip
    return await serve_page(request, lambda page: indicators_csv(page, asked))


ROUTES: list[Any] = [indicators, indicators_download]
