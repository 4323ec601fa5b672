"""Inline SVG line charts of the indicators, with their goal drawn and the points that meet
it marked; and a self-contained HTML page charting the indicators day by day (the CLI's
`indicators --chart`).

No scripts and no outside files. `line_chart` draws one series (the web console's
indicators page uses it too, with its texts in the user's language); `SERIES` says which
indicators are charted and how each is read from a report (in total).
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from datetime import date

import attrs

from application.indicators.report import IndicatorReport
from domain.indicators.goals import Goal, Goals, Light

WIDTH, HEIGHT, PAD = 640, 220, 36

INK, MUTED, FRAME, WASH = "#1b1f24", "#4a5260", "#c9ced6", "#fafafa"
LINE, MET, MET_WASH, MISSED = "#0b4fb3", "#1a6b34", "#e5f4ea", "#9b1111"
"""Colours as presentation attributes (a page's style sheet may override them)."""


def _pct(value: float | None) -> float | None:
    return None if value is None else 100 * value


def _compliance(r: IndicatorReport) -> float | None:
    total = r.seguimientos.get("total")
    return _pct(total.compliance) if total else None


def _fcr(r: IndicatorReport) -> float | None:
    total = r.fcr.get("total")
    return _pct(total.fcr) if total else None


def _repeats(r: IndicatorReport) -> float | None:
    total = r.fcr.get("total")
    return _pct(total.reincidencia) if total else None


def _nps(r: IndicatorReport) -> float | None:
    total = r.nps.get("total")
    return total.nps if total else None


def _mec(r: IndicatorReport) -> float | None:
    total = r.quality.get("total")
    return total.mec if total else None


def _absent(r: IndicatorReport) -> float | None:
    total = r.ausentismo.get("total")
    return _pct(total.ausentismo) if total else None


@attrs.frozen
class Series:
    """A charted indicator: its key, its title on the CLI's (Spanish) page, the range of its
    axis, its goal among the report's goals and its value in a report (in total, in the
    goal's unit: percent, or NPS points)."""

    key: str
    title: str
    low: float
    high: float
    goal: Callable[[Goals], Goal]
    value: Callable[[IndicatorReport], float | None]


SERIES: tuple[Series, ...] = (
    Series(
        "compliance",
        "Seguimientos: cumplimiento (%)",
        0,
        100,
        lambda g: g.seguimientos,
        _compliance,
    ),
    Series("fcr", "FCR (%)", 0, 100, lambda g: g.fcr, _fcr),
    Series("reincidencia", "Reincidencia (%)", 0, 100, lambda g: g.reincidencia, _repeats),
    Series("nps", "NPS", -100, 100, lambda g: g.nps, _nps),
    Series("calidad_mec", "Calidad MEC (%)", 0, 100, lambda g: g.calidad_mec, _mec),
    Series("ausentismo", "Ausentismo (%)", 0, 100, lambda g: g.ausentismo, _absent),
)


def meets(goal: Goal | None, value: float | None) -> bool | None:
    """Whether `value` meets `goal` (None: no value, or no goal)."""
    if goal is None or value is None:
        return None
    return goal.light(value) is Light.GREEN


def line_chart(
    values: Sequence[float | None],
    *,
    low: float,
    high: float,
    goal: Goal | None,
    point_titles: Sequence[str],
    ticks: Sequence[tuple[int, str]],
    goal_label: str,
    empty_label: str,
    title: str | None = None,
    description: str | None = None,
    ident: str | None = None,
    size: tuple[int, int, int] = (WIDTH, HEIGHT, PAD),
    font: int = 11,
) -> str:
    """One series as an SVG line chart: each known value a point (a filled circle where it
    meets the goal, a hollow one where it does not, with `point_titles` as its tooltip), the
    goal a dashed line labelled `goal_label` over a band of the values that meet it, the
    axis' range and the `ticks` (index, label) under it. With `ident`, the chart names its
    `title` and `description` for assistive technology (`aria-labelledby`), and takes the
    width of its container. `size`: width, height and padding in the drawing's units (the
    smaller, the larger the `font` reads)."""
    if len(point_titles) != len(values):
        raise ValueError("one title per value is needed")
    width, height, pad = size
    count = len(values)
    span = max(count - 1, 1)

    def x(i: int) -> float:
        if count == 1:
            return width / 2
        return pad + (width - 2 * pad) * i / span

    def y(v: float) -> float:
        v = min(max(v, low), high)
        return height - pad - (height - 2 * pad) * (v - low) / (high - low)

    esc = html.escape
    parts: list[str] = []
    if ident is not None and title is not None:
        labelled = f"{ident}-title" + (f" {ident}-desc" if description is not None else "")
        parts.append(
            f'<svg viewBox="0 0 {width} {height}" width="100%" role="img" '
            f'aria-labelledby="{labelled}" class="chart" id="{ident}">'
            f'<title id="{ident}-title">{esc(title)}</title>'
        )
        if description is not None:
            parts.append(f'<desc id="{ident}-desc">{esc(description)}</desc>')
    else:
        parts.append(
            f'<svg viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img">'
        )
    inner = height - 2 * pad
    parts.append(
        f'<rect class="frame" x="{pad}" y="{pad}" width="{width - 2 * pad}" height="{inner}" '
        f'fill="{WASH}" stroke="{FRAME}"/>'
    )
    if goal is not None:
        level = y(goal.target)
        top, bottom = (pad, level) if goal.higher_is_better else (level, height - pad)
        parts.append(
            f'<rect class="band" x="{pad}" y="{top:.1f}" width="{width - 2 * pad}" '
            f'height="{bottom - top:.1f}" fill="{MET_WASH}"/>'
            f'<line class="goal" x1="{pad}" x2="{width - pad}" y1="{level:.1f}" '
            f'y2="{level:.1f}" stroke="{MET}" stroke-width="1.5" stroke-dasharray="6 4"/>'
            f'<text class="goal-label" x="{pad + 4}" y="{level - 5:.1f}" '
            f'text-anchor="start" fill="{MET}" font-size="{font + 1}">{esc(goal_label)}</text>'
        )
    parts.append(
        f'<text x="{pad - 6}" y="{y(high) + 4:.1f}" text-anchor="end" fill="{MUTED}" '
        f'font-size="{font}">{high:g}</text>'
        f'<text x="{pad - 6}" y="{y(low) + 4:.1f}" text-anchor="end" fill="{MUTED}" '
        f'font-size="{font}">{low:g}</text>'
    )
    for i, label in ticks:
        anchor = "start" if count > 1 and i == 0 else "end" if count > 1 and i == span else "middle"
        parts.append(
            f'<text class="tick" x="{x(i):.1f}" y="{height - 12}" text-anchor="{anchor}" '
            f'fill="{MUTED}" font-size="{font}">{esc(label)}</text>'
        )
    known = [(i, v) for i, v in enumerate(values) if v is not None]
    if not known:
        parts.append(
            f'<text x="{width / 2}" y="{height / 2}" text-anchor="middle" fill="{MUTED}" '
            f'font-size="{font + 2}">{esc(empty_label)}</text>'
        )
    line = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in known)
    parts.append(f'<polyline points="{line}" fill="none" stroke="{LINE}" stroke-width="2"/>')
    for i, v in known:
        met = meets(goal, v)
        kind = "met" if met else "missed" if met is False else "point"
        fill = MET if met else "#ffffff" if met is False else LINE
        stroke = MET if met else MISSED if met is False else LINE
        parts.append(
            f'<circle class="{kind}" cx="{x(i):.1f}" cy="{y(v):.1f}" r="4.5" fill="{fill}" '
            f'stroke="{stroke}" stroke-width="2"><title>{esc(point_titles[i])}</title></circle>'
        )
    parts.append("</svg>")
    return "".join(parts)


def _chart(series: Series, goal: Goal, days: Sequence[date], values: Sequence[float | None]) -> str:
    svg = line_chart(
        values,
        low=series.low,
        high=series.high,
        goal=goal,
        point_titles=[
            f"{d.isoformat()}: {v:.1f}" if v is not None else f"{d.isoformat()}: sin datos"
            for d, v in zip(days, values, strict=True)
        ],
        ticks=[(0, days[0].isoformat()), (len(days) - 1, days[-1].isoformat())],
        goal_label=f"meta {goal.target:g}",
        empty_label="sin datos",
    )
    return f"<figure><figcaption>{html.escape(series.title)}</figcaption>{svg}</figure>"


def indicators_page(days: Sequence[date], reports: Sequence[IndicatorReport]) -> str:
    """The page for these days (one report per day, same order)."""
    if not days or len(days) != len(reports):
        raise ValueError("one report per day is needed, and at least one day")
    charts = "".join(
        _chart(s, s.goal(reports[0].goals), days, [s.value(r) for r in reports]) for s in SERIES
    )
    definitions = html.escape(reports[0].definitions)
    return f"""<!doctype html>
<html lang="es"><head><meta charset="utf-8">
<title>Indicadores BackOffice Premium {days[0].isoformat()} – {days[-1].isoformat()}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; }}
figure {{ margin: 0 0 1.5rem 0; }} figcaption {{ font-weight: 600; margin-bottom: .3rem; }}
svg {{ max-width: 100%; height: auto; }}
</style></head><body>
<h1>Indicadores por día, {days[0].isoformat()} a {days[-1].isoformat()} (hora de Bogotá)</h1>
<p>Definiciones {definitions}; calculados solo a partir de los eventos de los casos. La franja
verde es la meta; un punto lleno la cumple, uno vacío no.</p>
{charts}
</body></html>
"""
