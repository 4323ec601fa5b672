"""A self-contained HTML page charting the indicators day by day, for the supervisor.

No scripts and no outside files: one inline SVG line chart per indicator (follow-up
compliance, FCR, reincidencia, NPS, Calidad MEC, Ausentismo), with its goal drawn.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from datetime import date

from application.indicators.report import IndicatorReport
from domain.indicators.goals import Goal, Goals

WIDTH, HEIGHT, PAD = 640, 220, 36


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


Series = tuple[
    str, float, float, Callable[[Goals], Goal], Callable[[IndicatorReport], float | None]
]
SERIES: tuple[Series, ...] = (
    ("Seguimientos: cumplimiento (%)", 0, 100, lambda g: g.seguimientos, _compliance),
    ("FCR (%)", 0, 100, lambda g: g.fcr, _fcr),
    ("Reincidencia (%)", 0, 100, lambda g: g.reincidencia, _repeats),
    ("NPS", -100, 100, lambda g: g.nps, _nps),
    ("Calidad MEC (%)", 0, 100, lambda g: g.calidad_mec, _mec),
    ("Ausentismo (%)", 0, 100, lambda g: g.ausentismo, _absent),
)


def _chart(
    title: str,
    low: float,
    high: float,
    goal: float | None,
    days: Sequence[date],
    values: Sequence[float | None],
) -> str:
    span = max(len(days) - 1, 1)

    def x(i: int) -> float:
        return PAD + (WIDTH - 2 * PAD) * i / span

    def y(v: float) -> float:
        return HEIGHT - PAD - (HEIGHT - 2 * PAD) * (v - low) / (high - low)

    known = [(i, v) for i, v in enumerate(values) if v is not None]
    line = " ".join(f"{x(i):.1f},{y(v):.1f}" for i, v in known)
    dots = "".join(
        f'<circle cx="{x(i):.1f}" cy="{y(v):.1f}" r="3">'
        f"<title>{days[i].isoformat()}: {v:.1f}</title></circle>"
        for i, v in known
    )
    goal_line = (
        f'<line class="goal" x1="{PAD}" x2="{WIDTH - PAD}" y1="{y(goal):.1f}" y2="{y(goal):.1f}"/>'
        f'<text x="{WIDTH - PAD}" y="{y(goal) - 4:.1f}" text-anchor="end">meta {goal:g}</text>'
        if goal is not None
        else ""
    )
    axis = (
        f'<text x="{PAD - 6}" y="{y(high) + 4:.1f}" text-anchor="end">{high:g}</text>'
        f'<text x="{PAD - 6}" y="{y(low) + 4:.1f}" text-anchor="end">{low:g}</text>'
        f'<text x="{PAD}" y="{HEIGHT - 8}">{days[0].isoformat()}</text>'
        f'<text x="{WIDTH - PAD}" y="{HEIGHT - 8}" text-anchor="end">{days[-1].isoformat()}</text>'
    )
    empty = "" if known else f'<text x="{WIDTH / 2}" y="{HEIGHT / 2}">sin datos</text>'
    return (
        f"<figure><figcaption>{html.escape(title)}</figcaption>"
        f'<svg viewBox="0 0 {WIDTH} {HEIGHT}" width="{WIDTH}" height="{HEIGHT}" role="img">'
        f'<rect x="{PAD}" y="{PAD}" width="{WIDTH - 2 * PAD}" height="{HEIGHT - 2 * PAD}"/>'
        f"{goal_line}{axis}{empty}"
        f'<polyline points="{line}"/>{dots}</svg></figure>'
    )


def indicators_page(days: Sequence[date], reports: Sequence[IndicatorReport]) -> str:
    """The page for these days (one report per day, same order)."""
    if not days or len(days) != len(reports):
        raise ValueError("one report per day is needed, and at least one day")
    charts = "".join(
        _chart(title, low, high, goal(reports[0].goals).target, days, [value(r) for r in reports])
        for title, low, high, goal, value in SERIES
    )
    definitions = html.escape(reports[0].definitions)
    return f"""<!doctype html>
<html lang="es"><head><meta charset="utf-8">
<title>Indicadores BackOffice Premium {days[0].isoformat()} – {days[-1].isoformat()}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 2rem; color: #222; }}
figure {{ margin: 0 0 1.5rem 0; }} figcaption {{ font-weight: 600; margin-bottom: .3rem; }}
rect {{ fill: #fafafa; stroke: #ccc; }} polyline {{ fill: none; stroke: #c00; stroke-width: 2; }}
circle {{ fill: #c00; }} .goal {{ stroke: #2a7; stroke-dasharray: 4 3; }}
text {{ font-size: 11px; fill: #555; }}
</style></head><body>
<h1>Indicadores por día, {days[0].isoformat()} a {days[-1].isoformat()} (hora de Bogotá)</h1>
<p>Definiciones {definitions}; calculados solo a partir de los eventos de los casos.</p>
{charts}
</body></html>
"""
