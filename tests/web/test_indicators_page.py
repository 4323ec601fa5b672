"""The indicators page, in process: the numbers of the office's report for the period asked
for, with goal, traffic light and the counts behind them; the trend charts; the CSV link;
the practices per leader; the period picker; who is refused; what bad input says."""

from __future__ import annotations

import ast
import csv
import html
import io
import re
from collections.abc import Callable, Iterator
from datetime import date, datetime, time, timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.clock import FixedClock
from application.indicators.report import IndicatorReport
from application.intake.surveys import SurveyRecord, import_surveys
from application.team.imports import (
    PracticeRecord,
    RosterRecord,
    ShiftRecord,
    import_practices,
    import_roster,
    import_shifts,
)
from domain.calendar import BOGOTA, BusinessCalendar
from domain.indicators.facts import Dimension, Period
from domain.indicators.goals import Light
from domain.team.practices import Practice
from domain.team.roster import Role
from entrypoints.chart import SERIES
from entrypoints.indicator_tables import indicators_rows, practice_rows
from entrypoints.web import indicators as page_module
from entrypoints.web.i18n import catalogue
from tests.web.conftest import Console

PROTOCOL = {"resolution_explained": "on", "nothing_else_pending": "on",
            "closing_script_read": "on", "survey_invited": "on"}  # fmt: skip
LIGHTS = {
    "green": "✓ Goal met",
    "amber": "! Goal not met (within the margin)",
    "red": "✗ Goal not met",
    None: "– No data",
}
TODAY = date(2026, 7, 17)
"""The day the page is read, once `_a_few_days` has run (T0 is 15 July, 09:00 Bogotá)."""


# --- helpers ---------------------------------------------------------------------------------


def _english(console: Console) -> None:
    console.client.cookies.set("console_lang", "en")


def _text(fragment: str) -> str:
    """The text a reader sees (the charts' drawings left out), spaces normalised."""
    drawn = re.sub(r"<svg.*?</svg>", " ", fragment, flags=re.DOTALL)
    plain = html.unescape(re.sub(r"<[^>]+>", " ", drawn)).replace("\xa0", " ")
    return " ".join(plain.split())


def _row(page: str, ident: str) -> str:
    found = re.search(rf'<tr id="{ident}">(.*?)</tr>', page, re.DOTALL)
    assert found is not None, ident
    return _text(found.group(1))


def _svg(page: str, ident: str) -> str:
    found = re.search(rf'<svg[^>]*id="{ident}".*?</svg>', page, re.DOTALL)
    assert found is not None, ident
    return found.group(0)


def _figure(page: str, ident: str) -> str:
    """A chart with its caption and its table."""
    found = re.search(rf'aria-labelledby="{ident}-caption".*?</details>', page, re.DOTALL)
    assert found is not None, ident
    return found.group(0)


def _period(first: date, last: date) -> Period:
    return Period(
        BusinessCalendar.start_of(first), BusinessCalendar.start_of(last + timedelta(days=1))
    )


def _pct(value: float | None) -> str:
    return "—" if value is None else f"{value * 100:.1f} %"


def _signed(value: float | None) -> str:
    if value is None:
        return "—"
    text = f"{value:.0f}" if value == round(value) else f"{value:.1f}"
    return f"+{text}" if value > 0 else text


def _csv_link(page: str, which: str = "indicators-csv") -> str:
    found = re.search(rf'href="([^"]+)"[^>]*id="{which}"', page)
    assert found is not None
    return html.unescape(found.group(1))


def _a_few_days(console: Console, clock: FixedClock) -> None:
    """On 15 July an agent closes CRM-1 in first contact (its follow-up done on time) and
    its customer answers the survey (10: a promoter); on 17 July the agent does CRM-3's
    follow-up a day late; CRM-2's stays pending. All through the console's forms."""
    console.sign_in("maria.b")
    one = console.case_id("CRM-1")
    console.get(f"/console/cases/{one}")
    for command, form in [
        ("assign-case", {"agent": "maria.b"}),
        ("complete-follow-up", {"outcome": "Llamé al cliente"}),
        ("interpret-case", {"category": "sac", "subcategory": "cartera"}),
        ("sac-check", {}),
        ("sac-accept", {"marking": "SAC-CAR-EXPL"}),
        ("complete-closing-protocol", PROTOCOL),
        ("close-case", {"summary": "Se explicó la cartera", "first_contact": "on"}),
    ]:
        answer = console.step(one, command, form)
        assert answer.status_code == 200, (command, console.page[-2000:])
        assert 'role="alert"' not in console.page, command
    answered = datetime(2026, 7, 15, 10, 0, tzinfo=BOGOTA)
    survey = SurveyRecord(case="CRM-1", survey_id="S-1", answered_at=answered, recommendation=10,
                          agent_satisfaction=9, solved=True, location="test:1")  # fmt: skip
    assert import_surveys(console.office, [survey]).created == 1
    clock.advance(timedelta(days=2))
    console.sign_in("maria.b")
    three = console.case_id("CRM-3")
    console.get(f"/console/cases/{three}")
    for command, form in [
        ("assign-case", {"agent": "maria.b"}),
        ("complete-follow-up", {"outcome": "Llamé un día tarde"}),
    ]:
        assert console.step(three, command, form).status_code == 200, command
        assert 'role="alert"' not in console.page, command


def _total(console: Console, first: date, last: date) -> dict[str, Any]:
    [row] = indicators_rows(console.office.indicators(_period(first, last), Dimension.ALL))
    return row


# --- the numbers -----------------------------------------------------------------------------


def test_the_month_to_date_shows_the_reports_numbers_lights_and_counts(
    console: Console, clock: FixedClock
) -> None:
    _a_few_days(console, clock)
    console.sign_in("coord.c")
    _english(console)
    answer = console.get("/console/indicators")
    assert answer.status_code == 200
    page = console.page
    report = console.office.indicators(_period(date(2026, 7, 1), TODAY), Dimension.ALL)
    [row] = indicators_rows(report)
    # What the fixture did, as the report counts it: the page must show these.
    assert (row["follow_ups_due"], row["on_time"], row["late"], row["pending"]) == (3, 1, 1, 1)
    assert (row["handled"], row["first_contact"], row["survey_answers"]) == (2, 1, 1)

    compliance = _row(page, "indicator-compliance")
    assert f"{_pct(row['compliance'])} (3 due)" in compliance
    assert "1 on time · 1 late · 0 missed · 1 pending" in compliance
    assert "≥ 90 %" in compliance
    assert LIGHTS[row["compliance_light"]] in compliance
    assert row["compliance_light"] == "red"

    fcr = _row(page, "indicator-fcr")
    assert f"{_pct(row['fcr'])} (2 cases handled)" in fcr
    assert "1 resolved in first contact without a repeat" in fcr
    assert LIGHTS[row["fcr_light"]] in fcr

    repeats = _row(page, "indicator-reincidencia")
    assert f"{_pct(row['reincidencia'])} (1 closed in first contact)" in repeats
    assert "0 came back within the window" in repeats
    assert "≤ 10 %" in repeats
    assert LIGHTS[row["reincidencia_light"]] in repeats

    nps = _row(page, "indicator-nps")
    assert f"{_signed(row['nps'])} (1 answer)" in nps
    assert "1 promoter · 0 detractors" in nps
    assert LIGHTS[row["nps_light"]] in nps

    mec = _row(page, "indicator-calidad_mec")
    assert f"{_pct(None if row['calidad_mec'] is None else row['calidad_mec'] / 100)}" in mec
    assert "(0 monitorings, 1 answer)" in mec
    assert LIGHTS[row["calidad_mec_light"]] in mec

    for key, basis in [("ausentismo", "(0 scheduled agent-days)"),
                       ("rotacion", "(0 agents on the roster)"),
                       ("practice_compliance", "(0 due)")]:  # fmt: skip
        shown = _row(page, f"indicator-{key}")
        assert f"— {basis}" in shown, shown
        assert "– No data" in shown

    text = _text(page)
    assert f"Definitions {report.definitions}" in text
    assert "reincidencia window of 7 days" in text
    assert "Total · Wed 1 Jul 2026 – Fri 17 Jul 2026 (to date)" in text


def test_the_csv_is_the_pages_table_in_spanish_and_the_api_keeps_the_raw_one(
    console: Console, clock: FixedClock
) -> None:
    _a_few_days(console, clock)
    console.sign_in("gerente.g")
    console.get("/console/indicators", period="custom", first="2026-07-10", last="2026-07-17",
                by="agent")  # fmt: skip
    link = _csv_link(console.page)
    assert link == (
        "/console/indicators.csv?period=custom&first=2026-07-10&last=2026-07-17&by=agent"
    )
    answer = console.client.get(link)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert (
        'filename="indicadores-2026-07-10-2026-07-17.csv"'
        in (answer.headers["content-disposition"])
    )
    assert answer.text.startswith("\ufeff")  # read as UTF-8 by a spreadsheet
    rows = list(csv.reader(io.StringIO(answer.text.lstrip("\ufeff")), delimiter=";"))
    assert rows[0] == ["Agente", "Indicador", "Valor", "Base del cálculo", "Conteos",
                       "Meta", "Semáforo", "Periodo", "Definiciones"]  # fmt: skip
    report = console.office.indicators(_period(date(2026, 7, 10), TODAY), Dimension.AGENT)
    maria = next(row for row in indicators_rows(report) if row["group"] == "maria.b")
    cells = {(row[1], row[0]): row for row in rows[1:]}
    compliance = cells[("Cumplimiento de seguimientos", "María Bernal (maria.b)")]
    # As the page writes it: rounded to a tenth, a decimal comma, the goal and light in words.
    assert compliance[2] == f"{maria['compliance'] * 100:.1f} %".replace(".", ",")
    assert compliance[5] == "≥ 90 %"
    assert compliance[6].startswith(("✓", "!", "✗", "–"))
    assert compliance[7] == "2026-07-10 – 2026-07-17"
    # Each count agrees with its number (`test_spanish_plurals_…`: "1 incumplido").
    assert compliance[4] == "1 a tiempo · 1 tarde · 0 incumplidos · 0 pendientes"
    assert compliance[8] == report.definitions
    assert all(len(row) == len(rows[0]) for row in rows)
    # The systems' CSV (the API's, linked beside it): English names, raw numbers.
    raw = _csv_link(console.page, "indicators-csv-raw")
    assert raw == "/indicators.csv?first=2026-07-10&last=2026-07-17&by=agent"
    answer = console.client.get(raw)
    assert answer.status_code == 200
    header, *raw_rows = list(csv.reader(io.StringIO(answer.text)))
    assert header[:3] == ["group", "follow_ups_due", "on_time"]
    [raw_maria] = [row for row in raw_rows if row[0] == "maria.b"]
    assert float(raw_maria[header.index("compliance")]) == maria["compliance"]


def test_the_csv_speaks_english_when_english_was_chosen_and_refuses_a_bad_period(
    console: Console, clock: FixedClock
) -> None:
    _a_few_days(console, clock)
    console.sign_in("gerente.g")
    _english(console)
    answer = console.client.get("/console/indicators.csv?period=day&day=2026-07-15")
    assert answer.status_code == 200
    rows = list(csv.reader(io.StringIO(answer.text.lstrip("\ufeff"))))
    assert rows[0][:3] == ["Total", "Indicator", "Value"]
    nps = next(row for row in rows if row[1] == "NPS")
    assert nps[2:4] == ["+100", "1 answer"]  # a signed number, not made a formula's text
    bad = console.client.get("/console/indicators.csv?period=day&day=ayer")
    assert bad.status_code == 400
    assert bad.text == "ayer is not a day: write it as year-month-day (2026-07-15).\n"
    console.sign_in("maria.b")
    assert console.client.get("/console/indicators.csv").status_code == 403


def test_a_daily_nps_from_one_answer_reads_as_such_in_spanish(
    console: Console, clock: FixedClock
) -> None:
    _a_few_days(console, clock)
    console.sign_in("sofia.t")
    answer = console.get("/console/indicators", period="day", day="2026-07-15")
    assert answer.status_code == 200
    [row] = indicators_rows(
        console.office.indicators(_period(date(2026, 7, 15), date(2026, 7, 15)), Dimension.ALL)
    )
    assert (row["nps"], row["survey_answers"]) == (100.0, 1)
    nps = _row(console.page, "indicator-nps")
    assert "+100 (1 respuesta)" in nps
    assert "1 promotor · 0 detractores" in nps
    assert "✓ Meta cumplida" in nps
    assert "≥ +50" in nps
    fcr = _row(console.page, "indicator-fcr")
    assert "100,0 % (1 caso gestionado)" in fcr
    assert 'lang="es-CO"' in console.page


def test_grouped_by_agent_each_indicator_lists_the_agents_with_the_reports_numbers(
    console: Console, clock: FixedClock
) -> None:
    _a_few_days(console, clock)
    console.sign_in("audit.a")
    _english(console)
    console.get("/console/indicators", by="agent")
    report = console.office.indicators(_period(date(2026, 7, 1), TODAY), Dimension.AGENT)
    rows = {r["group"]: r for r in indicators_rows(report)}
    maria = rows["maria.b"]
    found = re.search(r'id="indicator-fcr">(.*?)</section>', console.page, re.DOTALL)
    assert found is not None
    fcr = _text(found.group(1))
    assert "Agent" in fcr
    maria_b = "María Bernal (maria.b)"  # by name, the login beside it
    assert f"{maria_b} {_pct(maria['fcr'])} ({maria['handled']} cases handled)" in fcr
    assert 'id="indicator-rotacion"' not in console.page  # Rotación: in total or by team
    assert "Rotación is counted in total or by team." in _text(console.page)
    efectividad = _text(console.page.split('id="efectividad"')[1].split("</section>")[0])
    e = report.efectividad["maria.b"]
    assert f"María Bernal {_pct(e.compliance)} {e.closed} {e.agent_days}" in efectividad
    assert '<span class="person" title="maria.b">María Bernal</span>' in console.page


def test_by_category_the_peoples_indicators_are_left_out_and_said_so(
    console: Console, clock: FixedClock
) -> None:
    _a_few_days(console, clock)
    console.sign_in("coord.c")
    _english(console)
    console.get("/console/indicators", by="category")
    report = console.office.indicators(_period(date(2026, 7, 1), TODAY), Dimension.CATEGORY)
    sac = next(r for r in indicators_rows(report) if r["group"] == "sac")
    found = re.search(r'id="indicator-fcr">(.*?)</section>', console.page, re.DOTALL)
    assert found is not None
    assert f"SAC {_pct(sac['fcr'])} ({sac['handled']} case handled)" in _text(found.group(1))
    assert 'id="indicator-ausentismo"' not in console.page
    assert "belong to people, not to a category or a line" in _text(console.page)


# --- the charts ------------------------------------------------------------------------------


def test_the_day_and_week_charts_draw_the_goal_and_a_point_for_each_day_with_data(
    console: Console, clock: FixedClock
) -> None:
    _a_few_days(console, clock)
    console.sign_in("coord.c")
    _english(console)
    console.get("/console/indicators", period="month", month="2026-07")
    page = console.page
    days = [date(2026, 7, 1) + timedelta(days=n) for n in range(17)]
    daily = [console.office.indicators(_period(d, d), Dimension.ALL) for d in days]
    drawn_somewhere = 0
    for series in SERIES:
        goal = series.goal(daily[0].goals)
        values = [series.value(r) for r in daily]
        svg = _svg(page, f"chart-day-{series.key}")
        assert 'role="img"' in svg
        assert f'aria-labelledby="chart-day-{series.key}-title chart-day-{series.key}-desc"' in svg
        assert '<line class="goal"' in svg
        assert "goal " in svg  # the goal's label on its line
        met = [v for v in values if v is not None and goal.light(v) is Light.GREEN]
        missed = [v for v in values if v is not None and goal.light(v) is not Light.GREEN]
        assert svg.count('<circle class="met"') == len(met), series.key
        assert svg.count('<circle class="missed"') == len(missed), series.key
        drawn_somewhere += len(met) + len(missed)
        known = len(met) + len(missed)
        assert f"met on {len(met)} of {known} day" in svg
        figure = _figure(page, f"chart-day-{series.key}")
        assert figure.count('<tr><th scope="row">') == 17  # one row per day, data or not
        assert "Thu 16 Jul 2026" in _text(figure)
    assert drawn_somewhere >= 5  # compliance, FCR (2 days), reincidencia, NPS, MEC
    fcr = _figure(page, "chart-day-fcr")
    assert "Wed 15 Jul 2026 100.0 % ✓ Goal met" in _text(fcr)
    assert "Fri 17 Jul 2026 0.0 % ✗ Goal not met" in _text(fcr)
    assert "Mon 13 Jul 2026 — – No data" in _text(fcr)
    weekly = _figure(page, "chart-week-fcr")
    assert weekly.count('<tr><th scope="row">') == 3  # 1–5, 6–12 and 13–17 July
    assert "W29: 13 Jul to 17 Jul" in _text(weekly)
    week = console.office.indicators(_period(date(2026, 7, 13), TODAY), Dimension.ALL)
    assert f"W29: 13 Jul to 17 Jul {_pct(week.fcr['total'].fcr)}" in _text(weekly)


def test_the_charts_take_one_report_per_day_and_per_week_and_none_beyond_their_limits(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    office = console.office
    asked: list[tuple[Period, Dimension]] = []
    real: Callable[..., IndicatorReport] = office.indicators

    def counted(period: Period, by: Dimension = Dimension.ALL, window: Any = None) -> Any:
        asked.append((period, by))
        return real(period, by, window)

    console.sign_in("coord.c")  # a coordinator's first page: the indicators
    _english(console)
    monkeypatch.setattr(office, "indicators", counted)
    console.get("/console/indicators", period="month", month="2026-06")
    # The month, the practices per leader, 30 days, and the weeks 1–7, …, 29–30 June.
    assert len(asked) == 1 + 1 + 30 + 5
    assert len(set(asked)) == len(asked)
    asked.clear()
    console.get("/console/indicators", period="custom", first="2025-01-01", last="2026-06-30")
    assert 'id="chart-day-fcr"' not in console.page
    assert "longer than 92 days" in _text(console.page)
    assert 'id="chart-week-fcr"' in console.page
    assert len(asked) == 2 + 79  # ISO weeks 2025-W01 to 2026-W27
    asked.clear()
    console.get("/console/indicators", period="custom", first="2017-01-01", last="2026-06-30")
    assert console.client.cookies.get("console_lang") == "en"
    assert 'id="chart-week-fcr"' not in console.page
    assert "more than 106 weeks" in _text(console.page)
    assert len(asked) == 2


# --- the practices ---------------------------------------------------------------------------


def test_the_practices_show_their_compliance_per_leader(
    console: Console, clock: FixedClock
) -> None:
    office = console.office
    since = date(2026, 7, 1)
    roster = [
        RosterRecord(agent="coord.c", team="Premium A", role=Role.COORDINATOR, since=since,
                     left_on=None, leave_reason=None, location="r:1"),
        RosterRecord(agent="maria.b", team="Premium A", role=Role.AGENT, since=since,
                     left_on=None, leave_reason=None, location="r:2"),
    ]  # fmt: skip
    assert import_roster(office, roster).created == 2
    shifts = [
        ShiftRecord(agent="maria.b", day=date(2026, 7, 6 + n), starts=time(8), ends=time(17),
                    absence="incapacidad" if n == 2 else None, absence_known=True,
                    location=f"s:{n}")
        for n in range(5)
    ]  # fmt: skip
    assert import_shifts(office, shifts).created == 5

    def held(practice: Practice, day: int) -> PracticeRecord:
        return PracticeRecord(practice=practice, owner="coord.c", minutes=None,
                              held_at=datetime(2026, 7, day, 10, 0, tzinfo=BOGOTA),
                              register_key=None, location=f"p:{practice.value}:{day}")  # fmt: skip

    entries = [held(Practice.PRACTICE_OBSERVATION, d) for d in (7, 8, 9)]
    entries.append(held(Practice.WEEKLY_DIALOGUE, 6))
    assert import_practices(office, entries).created == 4
    console.sign_in("coord.c")
    _english(console)
    console.get("/console/indicators", period="week", week="2026-W28")
    week = _period(date(2026, 7, 6), date(2026, 7, 12))
    leaders = practice_rows(office.indicators(week, Dimension.AGENT))
    assert {r["group"] for r in leaders} == {"coord.c"}
    table = console.page.split('id="practices"')[1].split("</section>")[0]
    shown = [_text(r) for r in re.findall(r"<tr>(.*?)</tr>", table, re.DOTALL)[1:]]
    assert len(shown) == len(leaders)
    assert '<span class="person" title="coord.c">Coord.C</span>' in table  # the account's name
    for row in leaders:
        expected = (f"Coord.C {row['practica']} {row['due']} {row['held']} {row['held_total']} "
                    f"{row['minutes']} {_pct(row['compliance'])} "
                    f"{LIGHTS[row['compliance_light']]}")  # fmt: skip
        assert expected in shown, (expected, shown)
    observation = next(r for r in leaders if r["practice"] == "practice_observation")
    assert (observation["due"], observation["held"], observation["compliance_light"]) == (
        3, 3, "green",
    )  # fmt: skip
    [total] = indicators_rows(office.indicators(week, Dimension.ALL))
    absent = _row(console.page, "indicator-ausentismo")
    assert f"{_pct(total['ausentismo'])} (5 scheduled agent-days)" in absent
    assert "1 absent" in absent
    assert LIGHTS[total["ausentismo_light"]] == "✗ Goal not met"
    assert LIGHTS[total["ausentismo_light"]] in absent


# --- the period picker -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("asked", "first", "last", "kind", "to_date"),
    [
        ({}, "2026-07-01", "2026-07-17", "month", True),
        ({"period": "day", "day": "2026-07-10"}, "2026-07-10", "2026-07-10", "day", False),
        ({"period": "day"}, "2026-07-17", "2026-07-17", "day", False),
        ({"period": "week", "week": "2026-W29"}, "2026-07-13", "2026-07-17", "week", True),
        ({"period": "week", "week": "2026-W27"}, "2026-06-29", "2026-07-05", "week", False),
        ({"period": "month", "month": "2026-06"}, "2026-06-01", "2026-06-30", "month", False),
        ({"period": "month", "month": "2026-02"}, "2026-02-01", "2026-02-28", "month", False),
        ({"period": "custom", "first": "2026-07-02", "last": "2026-07-09"}, "2026-07-02",
         "2026-07-09", "custom", False),
        ({"first": "2026-05-20", "last": "2026-06-03", "by": "team"}, "2026-05-20",
         "2026-06-03", "custom", False),
    ],
)  # fmt: skip
def test_the_period_picker_chooses_the_period(
    console: Console,
    clock: FixedClock,
    asked: dict[str, str],
    first: str,
    last: str,
    kind: str,
    to_date: bool,
) -> None:
    clock.advance(timedelta(days=2))  # today: Friday 17 July
    console.sign_in("coord.c")
    _english(console)
    answer = console.get("/console/indicators", **asked)
    assert answer.status_code == 200
    by = asked.get("by", "all")
    assert _csv_link(console.page, "indicators-csv-raw") == (
        f"/indicators.csv?first={first}&last={last}&by={by}"
    )
    assert f'<option value="{kind}" selected>' in console.page
    assert f'<option value="{by}" selected>' in console.page
    assert ("(to date)" in _text(console.page)) is to_date
    assert f'id="first" name="first" type="date" value="{first}"' in console.page
    assert f'id="last" name="last" type="date" value="{last}"' in console.page


def test_the_picker_steps_to_the_period_before_and_after(
    console: Console, clock: FixedClock
) -> None:
    clock.advance(timedelta(days=2))
    console.sign_in("coord.c")
    console.get("/console/indicators", period="month", month="2026-06", by="team")
    links = dict(re.findall(r'<a href="([^"]+)" rel="(prev|next)">', console.page))
    assert {html.unescape(k): v for k, v in links.items()} == {
        "/console/indicators?period=month&month=2026-05&by=team": "prev",
        "/console/indicators?period=month&month=2026-07&by=team": "next",
    }
    console.get("/console/indicators")  # this month: nothing after it yet
    assert 'rel="next"' not in console.page
    assert 'href="/console/indicators?period=month&amp;month=2026-06" rel="prev"' in console.page
    console.get("/console/indicators", period="day", day="2026-07-16")
    assert 'href="/console/indicators?period=day&amp;day=2026-07-17" rel="next"' in console.page


def test_the_choice_of_a_period_is_a_pure_function_of_today() -> None:
    today = date(2026, 12, 31)
    choice = page_module.choose(today, period="week", week="2026-W53")
    assert (choice.first, choice.last, choice.to_date) == (date(2026, 12, 28), today, True)
    choice = page_module.choose(today, period="month")
    assert (choice.first, choice.last, choice.to_date) == (date(2026, 12, 1), today, False)
    assert page_module.choose(today, period="week", week="2026w5").first == date(2026, 1, 26)
    with pytest.raises(page_module.Unreadable):
        page_module.choose(today, period="week", week="2025-W53")  # 2025 has 52 weeks


# --- refusals and bad input ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("asked", "spanish"),
    [
        ({"first": "2026-07-10", "last": "2026-07-01"},
         "El último día (2026-07-01) es anterior al primero (2026-07-10)."),
        ({"by": "nope"}, "Agrupación desconocida: nope. Elija total, equipo, agente, categoría"),
        ({"first": "2016-01-01", "last": "2026-07-01"}, "Elija un periodo de máximo diez años."),
        ({"period": "day", "day": "15/07/2026"}, "15/07/2026 no es un día"),
        ({"period": "week", "week": "2026-W60"}, "2026-W60 no es una semana"),
        ({"period": "month", "month": "2026-13"}, "2026-13 no es un mes"),
        ({"period": "month", "month": "9999-12"}, "9999-12 está fuera de los años 1900–2199."),
        ({"period": "day", "day": "9999-12-31"}, "9999-12-31 está fuera de los años 1900–2199."),
        ({"period": "week", "week": "9999-W52"}, "9999-W52 está fuera de los años 1900–2199."),
        ({"first": "9999-12-30", "last": "9999-12-31"}, "9999-12-30 está fuera de los años"),
        ({"period": "year"}, "Periodo desconocido: year."),
    ],
)  # fmt: skip
def test_bad_input_is_said_on_the_page_in_the_users_language(
    console: Console, asked: dict[str, str], spanish: str
) -> None:
    console.sign_in("coord.c")
    answer = console.get("/console/indicators", **asked)
    assert answer.status_code == 400
    alert = re.search(r'<p class="alert error" role="alert"[^>]*>(.*?)</p>', console.page)
    assert alert is not None
    assert spanish in html.unescape(alert.group(1))
    assert "Traceback" not in console.page
    assert 'id="period-picker"' in console.page  # to correct it
    assert 'id="indicators-csv"' not in console.page
    for name, value in asked.items():
        if name != "period":
            assert f'name="{name}"' in console.page
            assert f'value="{html.escape(value)}"' in console.page or name == "by"


def test_bad_input_in_english(console: Console) -> None:
    console.sign_in("audit.a")
    _english(console)
    answer = console.get("/console/indicators", first="2026-07-10", last="2026-07-01")
    assert answer.status_code == 400
    assert "The last day (2026-07-01) comes before the first (2026-07-10)." in console.page


@pytest.mark.parametrize("login", ["maria.b", "admin.x"])
def test_those_who_may_not_read_the_indicators_get_the_refusal_with_its_reason(
    console: Console, login: str
) -> None:
    console.sign_in(login)
    answer = console.get("/console/indicators")
    assert answer.status_code == 403
    role = "agente" if login == "maria.b" else "administrador"
    assert role in console.page
    assert "no puede consultar los indicadores" in console.page
    _english(console)
    console.get("/console/indicators")
    assert "may not read indicators" in console.page
    assert 'id="period-picker"' not in console.page


@pytest.mark.parametrize("login", ["sofia.t", "coord.c", "gerente.g", "audit.a"])
def test_supervisors_coordinators_managers_and_auditors_read_them(
    console: Console, login: str
) -> None:
    console.sign_in(login)
    assert console.get("/console/indicators").status_code == 200
    assert 'href="/console/indicators" aria-current="page"' in console.page


def test_nobody_signed_in_is_sent_to_sign_in(console: Console) -> None:
    answer = console.get("/console/indicators", period="day")
    assert answer.url.path == "/console/sign-in"


# --- the page's Spanish ----------------------------------------------------------------------


def test_spanish_plurals_take_the_catalogues_two_forms() -> None:
    from entrypoints.web.i18n import speaker

    t = speaker("es-CO")
    row = {"group": "maria.b", "follow_ups_due": 2, "on_time": 0, "late": 2, "missed": 1,
           "pending": 0}  # fmt: skip
    basis, counts = page_module._counts("compliance", row, None, t)  # type: ignore[arg-type]
    assert (basis, counts) == ("2 exigibles", "0 a tiempo · 2 tarde · 1 incumplido · 0 pendientes")
    assert t.plural("{n} detractor", "{n} detractors", 0) == "0 detractores"
    assert t.plural("{n} answer", "{n} answers", 2) == "2 respuestas"


def _messages() -> Iterator[str]:
    """Every message id the page's module and templates translate."""
    module = Path(page_module.__file__)
    tree = ast.parse(module.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            name = getattr(node.func, "attr", getattr(node.func, "id", ""))
            texts = [
                a.value
                for a in node.args
                if isinstance(a, ast.Constant) and isinstance(a.value, str)
            ]
            if name in ("t", "Unreadable") and texts:
                yield texts[0]
            elif name in ("plural", "ngettext"):
                yield from texts[:2]
    for template in (module.parent / "pages_html").glob("*indicators*.html"):
        source = template.read_text(encoding="utf-8")
        yield from re.findall(r'\bt\("([^"]+)"', source)
        for one, many in re.findall(r't\.plural\("([^"]+)", "([^"]+)"', source):
            yield from (one, many)
    for indicator in page_module.INDICATORS:
        yield from (indicator.name, indicator.explained)
    yield from page_module.LIGHT_TEXT.values()
    yield from (label for _, label in page_module.GROUPINGS)
    yield from page_module.GROUP_HEADINGS.values()
    yield from (label for _, label in page_module.PERIODS)
    yield from page_module.GROUP_NAMES.values()
    yield from (label for label, _ in page_module._quick(TODAY, Dimension.ALL))


def test_every_message_of_the_page_has_its_spanish() -> None:
    spanish = catalogue("es-CO")
    plurals = {m.id[1] if isinstance(m.id, tuple) else "" for m in spanish}
    missing = sorted(
        {
            m
            for m in _messages()
            if m != "Indicators"  # the menu's, translated with it
            and m not in spanish
            and m not in plurals
        }
    )
    assert not missing, missing
    assert len(set(_messages())) > 80
