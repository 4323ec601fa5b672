"""The supervisor's board in the browser: a follow-up turns missed while the board is open and
appears on it without reloading (the page listens to `GET /events`); the supervisor then
moves the absent agent's cases to an agent on shift from the board."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect

from domain.case.events import Assigned
from domain.values import Actor
from tests.browser.conftest import WAIT_MS, Served
from tests.web.test_board import LATER, _team, _work


def test_a_missed_follow_up_appears_live_and_is_reassigned_from_the_board(
    served: Served, signed_in: Callable[..., Page], check_page: Callable[[Page, str], None]
) -> None:
    _team(served.office)  # maria.b absent all week; carlos.m and ana.p on shift
    _work(served.office)  # CRM-1 is maria.b's, its follow-up due tomorrow at 09:00
    crm1 = served.case_id("CRM-1")
    page = signed_in("sofia.t")
    assert page.url.endswith("/console/board")  # a supervisor's first page
    expect(page.locator("#board-status")).to_have_text("En vivo: el tablero se actualiza solo.")
    expect(page.locator(f"#missed-{crm1}")).to_have_count(0)
    page.evaluate("() => { window.sameDocument = true; }")  # gone if the page reloads

    served.clock.advance(LATER)
    assert served.office.sweep().missed == 3  # as the worker does

    expect(page.locator(f"#missed-{crm1}")).to_be_visible(timeout=WAIT_MS)
    expect(page.locator(f"#missed-{crm1}")).to_contain_text("María Bernal")  # by name
    assert page.evaluate("() => window.sameDocument === true")  # not reloaded

    page.locator("#reassign-absent").select_option("maria.b")
    page.get_by_label("Carlos Mejía (carlos.m) · 07:00–16:00").check()
    with page.expect_navigation():
        page.get_by_role("button", name="Reasignar los casos").click()
    expect(page.locator("#board-reassigned")).to_contain_text("1 caso reasignado")
    expect(page.locator(f"#missed-{crm1}")).to_contain_text("Carlos Mejía")
    last = served.office.history(crm1)[-1]
    assert isinstance(last, Assigned)
    assert (last.agent, last.previous_agent) == ("carlos.m", "maria.b")
    assert last.actor == Actor.agent("sofia.t")
    check_page(page, "board")
