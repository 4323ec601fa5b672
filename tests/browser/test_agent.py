"""An agent's morning in the browser: sign in, take a SAC case from the queue, follow the
procedure on the case page to the first-contact closing; each page checked (screenshots at
two sizes, no sideways scrolling, accessibility); what an agent may not do, refused."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect

from domain.case.events import ClosedFirstContact
from tests.browser.conftest import Served


def _step(page: Page, name: str, fields: dict[str, str | bool] | None = None) -> None:
    """Open the step's form on the case page, fill its fields (a text, a list's value, a
    tick), send it, and wait for the new page, which must show no refusal."""
    step = page.locator(f"#step-{name}")
    if step.get_attribute("open") is None:
        step.locator("summary").click()
    for field, value in (fields or {}).items():
        box = page.locator(f"#{name}-{field}")
        if value is True:
            box.check()
        elif box.evaluate("e => e.tagName") == "SELECT":
            box.select_option(str(value))
        else:
            box.fill(str(value))
    with page.expect_navigation():
        step.locator("button[type=submit]").click()
    expect(page.locator(f"#error-{name}")).to_have_count(0)


def test_an_agent_works_a_sac_case_from_the_queue_to_the_first_contact_closing(
    served: Served, signed_in: Callable[..., Page], check_page: Callable[[Page, str], None]
) -> None:
    page = signed_in("maria.b")
    assert page.url.endswith("/console/day")
    expect(page.locator("html")).to_have_attribute("lang", "es-CO")
    check_page(page, "day")
    page.goto(f"{served.url}/console/cases?filter=unassigned")
    check_page(page, "cases")
    page.get_by_role("link", name="CRM-1").click()
    page.wait_for_url("**/console/cases/*")
    check_page(page, "case")
    _step(page, "assign-case")  # the agent field is already me
    _step(page, "complete-follow-up", {"outcome": "Llamé al cliente"})
    _step(page, "interpret-case", {"category": "sac", "subcategory": "cartera"})
    _step(page, "sac-check")
    _step(page, "sac-accept", {"marking": "SAC-CAR-EXPL"})
    _step(page, "complete-closing-protocol", dict.fromkeys(
        ("resolution_explained", "nothing_else_pending", "closing_script_read", "survey_invited"),
        True))  # fmt: skip
    _step(page, "close-case", {"summary": "Se explicó el estado de cartera", "first_contact": True})
    events = served.office.history(served.case_id("CRM-1"))
    assert isinstance(events[-1], ClosedFirstContact)
    assert {e.actor.name for e in events[1:]} == {"maria.b"}
    expect(page.locator("#step-reopen-case")).to_have_count(1)


def test_a_refusal_is_shown_on_the_form_in_spanish(
    served: Served, signed_in: Callable[..., Page]
) -> None:
    page = signed_in("maria.b")
    page.goto(f"{served.url}/console/cases/{served.case_id('CRM-2')}")
    _step(page, "assign-case")
    step = page.locator("#step-interpret-case")
    step.locator("summary").click()
    page.locator("#interpret-case-category").select_option("sac")
    page.locator("#interpret-case-subcategory").select_option("falla_puntual")
    with page.expect_navigation():
        step.locator("button[type=submit]").click()
    error = page.locator("#error-interpret-case")
    expect(error).to_be_visible()
    assert "subcategory" not in error.inner_text()  # said in Spanish, not the domain's English
    assert served.office.case(served.case_id("CRM-2")).category is None
    # The browser is on the case page (Post/Redirect/Get), what was chosen kept: a reload
    # asks nothing and posts nothing; the refusal was said once.
    case = served.case_id("CRM-2")
    assert page.url.split("#")[0] == f"{served.url}/console/cases/{case}"
    expect(page.locator("#interpret-case-category")).to_have_value("sac")
    position = served.office.store.last_position()
    answer = page.reload()
    assert answer is not None
    assert (answer.request.method, answer.status) == ("GET", 200)
    expect(page.locator("#error-interpret-case")).to_have_count(0)
    assert served.office.store.last_position() == position


def _send_refused(page: Page, name: str, fields: dict[str, str]) -> None:
    """Open the step's form, fill it, send it, and wait for the page showing its refusal."""
    step = page.locator(f"#step-{name}")
    if step.get_attribute("open") is None:
        step.locator("summary").click()
    for field, value in fields.items():
        box = page.locator(f"#{name}-{field}")
        if box.evaluate("e => e.tagName") == "SELECT":
            box.select_option(value)
        else:
            box.fill(value)
    with page.expect_navigation():
        step.locator("button[type=submit]").click()
    expect(page.locator(f"#error-{name}")).to_be_visible()


def test_after_a_refusal_the_keyboard_is_on_the_field_or_the_refusal(
    served: Served, signed_in: Callable[..., Page]
) -> None:
    """The focus is not left on <body>: on the field the refusal names (a date in the past),
    else on the refusal itself (a case already the agent's), so that Tab goes on from it."""
    page = signed_in("maria.b")
    page.goto(f"{served.url}/console/cases/{served.case_id('CRM-2')}")
    _step(page, "assign-case")
    _send_refused(page, "schedule-follow-up", {"due_at": "2026-01-05T09:00"})
    field = page.locator("#schedule-follow-up-due_at")
    expect(field).to_have_attribute("aria-invalid", "true")
    expect(field).to_be_focused()
    _send_refused(page, "assign-case", {"agent": "maria.b"})
    expect(page.locator("#error-assign-case")).to_be_focused()
    assert page.evaluate("document.activeElement.tagName") != "BODY"


def test_an_agent_is_refused_the_board_the_indicators_and_the_replay(
    served: Served, signed_in: Callable[..., Page]
) -> None:
    page = signed_in("maria.b")
    nav = page.get_by_role("navigation")
    expect(nav.get_by_role("link")).to_have_count(2)  # my day, cases
    for address in ("/console/board", "/console/indicators",
                    f"/console/cases/{served.case_id('CRM-1')}/replay"):  # fmt: skip
        answer = page.goto(f"{served.url}{address}")
        assert answer is not None
        assert answer.status == 403, address
        expect(page.get_by_role("alert")).to_be_visible()
