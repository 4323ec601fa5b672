"""The indicators page in the browser: a coordinator picks a period with the picker, reads
the indicators and their trend charts (and the charts' data, with the keyboard), downloads
the CSV; the page passes the screenshots, width and accessibility checks."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

from playwright.sync_api import Page, expect

from application.case.commands import AssignCase, CompleteFollowUp, InterpretCase
from domain.values import Actor, Category, Subcategory
from tests.browser.conftest import Served


def _some_work(served: Served) -> None:
    """On 15 July an agent takes CRM-1, does its follow-up (due on the 16th: on time) and
    interprets it; then two days go by (today: 17 July), CRM-2's and CRM-3's follow-ups
    left undone."""
    case = uuid.UUID(served.case_id("CRM-1"))
    maria = Actor.agent("maria.b")
    for command in (
        AssignCase(case=case, agent="maria.b"),
        CompleteFollowUp(case=case, outcome="Llamé al cliente"),
        InterpretCase(case=case, category=Category.SAC, subcategory=Subcategory.CARTERA),
    ):
        served.office.handle(command, maria)
    served.clock.advance(timedelta(days=2))


def test_a_coordinator_picks_a_period_and_reads_the_indicators_and_their_charts(
    served: Served, signed_in: Callable[..., Page], check_page: Callable[[Page, str], None]
) -> None:
    _some_work(served)
    page = signed_in("coord.c")
    expect(page).to_have_url(re.compile(r"/console/indicators$"))  # a coordinator's start
    expect(page.get_by_role("heading", level=1)).to_contain_text("Indicadores")

    # Only the fields of the kind of period chosen are shown (the month to date: the month).
    expect(page.get_by_label("El mes", exact=True)).to_be_visible()
    for other in ("El día", "La semana", "Primer día", "Último día"):
        expect(page.get_by_label(other, exact=True)).to_be_hidden()
    page.get_by_label("Tipo de periodo", exact=True).select_option("custom")
    expect(page.get_by_label("El mes", exact=True)).to_be_hidden()
    expect(page.get_by_label("Primer día", exact=True)).to_be_visible()
    page.get_by_label("Primer día", exact=True).fill("2026-07-13")
    page.get_by_label("Último día", exact=True).fill("2026-07-17")
    page.get_by_label("Agrupación", exact=True).select_option("all")
    page.get_by_role("button", name="Ver los indicadores").click()
    page.wait_for_url(re.compile(r"period=custom&.*first=2026-07-13&last=2026-07-17"))
    csv = page.locator("#indicators-csv")
    expect(csv).to_have_attribute(
        "href", "/console/indicators.csv?period=custom&first=2026-07-13&last=2026-07-17&by=all"
    )
    compliance = page.locator("#indicator-compliance")
    expect(compliance).to_contain_text("33,3 %")  # 1 on time of the 3 due on the 16th
    expect(compliance).to_contain_text("1 a tiempo · 0 tarde · 0 incumplidos · 2 pendientes")
    expect(compliance).to_contain_text("(3 exigibles)")
    expect(compliance).to_contain_text("✗ Meta no cumplida")

    chart = page.get_by_role("img", name="Cumplimiento de seguimientos por día")
    expect(chart).to_be_visible()
    expect(chart.locator("line.goal")).to_have_count(1)
    expect(chart.locator("circle")).to_have_count(1)  # the 16th: the only day with one due
    fcr = page.get_by_role("img", name="FCR por día")
    expect(fcr.locator("circle.missed")).to_have_count(1)  # the 15th: handled, not closed

    data = page.locator('[aria-labelledby="chart-day-compliance-caption"] details')
    data.locator("summary").focus()
    page.keyboard.press("Enter")  # the chart's data opens from the keyboard
    rows = data.get_by_role("row")
    expect(rows).to_have_count(1 + 5)  # its header and the days 13 to 17
    expect(rows.nth(4)).to_contain_text("33,3 %")

    with page.expect_download() as download:
        csv.click()
    assert download.value.suggested_filename == "indicadores-2026-07-13-2026-07-17.csv"
    saved = Path(download.value.path()).read_text(encoding="utf-8-sig")
    header, *lines = saved.splitlines()
    assert header.startswith("Total;Indicador;Valor;")  # the page's language and separator
    assert any(line.startswith("Total;Cumplimiento de seguimientos;33,3 %;") for line in lines)

    check_page(page, "indicators")
