"""The auditor's replay in the browser: scrub a case's timeline with the keyboard and see the
case before and after its escalation, the panel swapped in without reloading the page."""

from __future__ import annotations

import re
import uuid
from collections.abc import Callable
from datetime import timedelta

from playwright.sync_api import Page, expect

from application.case.commands import AddNote, AssignCase, Escalate, InterpretCase
from domain.case.events import Escalated
from domain.values import Actor, Category, EscalationTarget, Subcategory
from tests.browser.conftest import Served

REASON = "La cartera no cuadra con los pagos"


def _history(served: Served) -> tuple[str, int, int]:
    """CRM-1 assigned, interpreted, escalated to Cartera and noted, five minutes apart: its
    id, the escalation's version and the last version."""
    case = uuid.UUID(served.case_id("CRM-1"))
    maria = Actor.agent("maria.b")
    for command in (
        AssignCase(case=case, agent="maria.b"),
        InterpretCase(case=case, category=Category.SAC, subcategory=Subcategory.CARTERA),
        Escalate(
            case=case, target=EscalationTarget.CONTACT_MATRIX_AREA, area="Cartera", reason=REASON
        ),
        AddNote(case=case, text="Se revisó con el área"),
    ):
        served.clock.advance(timedelta(minutes=5))
        served.office.handle(command, maria)
    events = served.office.history(case)
    [escalated] = [e.originator_version for e in events if isinstance(e, Escalated)]
    return str(case), escalated, events[-1].originator_version


def test_an_auditor_scrubs_the_timeline_and_sees_the_case_before_and_after_an_escalation(
    served: Served, signed_in: Callable[..., Page], check_page: Callable[[Page, str], None]
) -> None:
    case, escalated, last = _history(served)
    page = signed_in("audit.a")
    page.goto(f"{served.url}/console/cases/{case}/replay")
    expect(page.get_by_role("heading", level=1)).to_have_text("Reconstrucción del caso CRM-1")
    check_page(page, "replay")

    slider = page.get_by_role("slider")
    escalations = page.locator('#replay-panel dd[data-field="escalations"]')
    panel = page.locator("#replay-panel")
    expect(slider).to_have_value(str(last))
    expect(escalations).to_contain_text(REASON)
    page.evaluate("() => { window.sameDocument = true; }")  # gone if the page reloads

    slider.focus()  # the keyboard alone: arrow keys move one event at a time
    for _ in range(last - (escalated - 1)):
        page.keyboard.press("ArrowLeft")
    expect(slider).to_have_value(str(escalated - 1))
    expect(panel).to_have_attribute("data-version", str(escalated - 1))
    expect(escalations).to_have_text("0")
    expect(page.locator("#replay-position")).to_contain_text(f"Versión {escalated - 1} de {last}")
    expect(slider).to_have_attribute("aria-valuetext", re.compile(rf"^Versión {escalated - 1} "))
    expect(page).to_have_url(re.compile(rf"/replay\?version={escalated - 1}$"))

    page.keyboard.press("ArrowRight")
    expect(panel).to_have_attribute("data-version", str(escalated))
    expect(escalations).to_contain_text(REASON)
    expect(page.locator("#replay-panel h4").first).to_be_visible()
    expect(slider).to_be_focused()
    assert page.evaluate("() => window.sameDocument === true"), "the page was reloaded"
    check_page(page, "replay-scrubbed")


def test_two_moments_compared_and_an_event_of_the_list_opened(
    served: Served, signed_in: Callable[..., Page]
) -> None:
    case, escalated, _ = _history(served)
    page = signed_in("sofia.t", width=768, height=1024)
    page.goto(f"{served.url}/console/cases/{case}/replay")
    page.locator("#replay-a-version").fill(str(escalated - 1))
    page.locator("#replay-b-version").fill(str(escalated))
    with page.expect_navigation():
        page.get_by_role("button", name="Comparar A y B").click()
    changed = page.locator("#replay-diff tbody tr.changed")
    expect(changed).to_have_count(1)
    expect(changed).to_have_attribute("data-field", "escalations")
    expect(changed).to_contain_text("Cambió")
    expect(page.locator("#replay-between li")).to_have_count(1)

    # An event of the list beside the slider: its panel swapped in, the slider moved to it.
    page.locator("#replay-events a", has_text=re.compile(r"^1$")).click()
    expect(page.locator("#replay-panel")).to_have_attribute("data-version", "1")
    expect(page.get_by_role("slider")).to_have_value("1")
    expect(page.locator("#replay-shown")).to_be_focused()
