"""The console's pages and forms, in process, as a browser without scripts uses them."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from adapters.clock import FixedClock
from domain.calendar import BOGOTA
from domain.case.events import ClosedFirstContact
from tests.http.conftest import PASSWORD
from tests.web.conftest import Console

PROTOCOL = {"resolution_explained": "on", "nothing_else_pending": "on",
            "closing_script_read": "on", "survey_invited": "on"}  # fmt: skip


def _english(console: Console) -> None:
    console.client.cookies.set("console_lang", "en")


def test_a_page_asks_to_sign_in_and_comes_back_to_it(console: Console) -> None:
    answer = console.get("/console/cases", q="CRM-2")
    assert answer.url.path == "/console/sign-in"
    assert "next=%2Fconsole%2Fcases%3Fq%3DCRM-2" in str(answer.url)
    found = re.search(r'name="next" value="([^"]+)"', console.page)
    assert found is not None
    # The language's link comes back to this very page, its `next` kept.
    assert "/console/language/en?next=/console/sign-in%3Fnext%3D%252Fconsole" in console.page
    back = found.group(1).replace("&amp;", "&")
    answer = console.post("/console/sign-in", {"login": "maria.b", "password": PASSWORD,
                                               "next": back})  # fmt: skip
    assert answer.status_code == 200
    assert answer.url.path == "/console/cases"
    assert "CRM-2" in console.page
    assert "CRM-1" not in console.page


def test_sign_in_refuses_a_wrong_password_and_an_outside_address(console: Console) -> None:
    console.get("/console/sign-in")
    answer = console.post("/console/sign-in", {"login": "maria.b", "password": "nope", "next": ""})
    assert answer.status_code == 401
    assert 'role="alert"' in console.page
    assert 'value="maria.b"' in console.page  # the login stays typed
    console.get("/console/sign-in")
    away = {"login": "maria.b", "password": PASSWORD, "next": "https://evil.example/x"}
    answer = console.post("/console/sign-in", away)
    assert answer.url.path == "/console/day"  # the agent's first page, not the other site


def test_an_agent_works_a_sac_case_from_the_queue_to_the_first_contact_closing(
    console: Console,
) -> None:
    console.sign_in("maria.b")
    _english(console)
    console.get("/console/cases", filter="unassigned")
    assert "CRM-1" in console.page
    case = console.case_id("CRM-1")
    console.get(f"/console/cases/{case}")
    assert 'id="step-assign-case"' in console.page
    # Taking it: the agent is me, by name.
    assert '<option value="maria.b" selected>María Bernal (maria.b)</option>' in console.page
    steps = [
        ("assign-case", {"agent": "maria.b"}, "step-interpret-case"),
        ("complete-follow-up", {"outcome": "Llamé al cliente"}, "step-interpret-case"),
        ("interpret-case", {"category": "sac", "subcategory": "cartera"}, "step-sac-check"),
        ("sac-check", {}, "step-sac-accept"),
        ("sac-accept", {"marking": "SAC-CAR-EXPL"}, "step-complete-closing-protocol"),
        ("complete-closing-protocol", PROTOCOL, "step-close-case"),
        (
            "close-case",
            {"summary": "Se explicó el estado de cartera", "first_contact": "on"},
            "step-reopen-case",
        ),
    ]
    for command, form, expected_next in steps:
        answer = console.step(case, command, form)
        assert answer.status_code == 200, (command, console.page[-3000:])
        assert 'role="alert"' not in console.page, command
        assert f'id="{expected_next}"' in console.page, command
    events = console.office.history(case)
    assert isinstance(events[-1], ClosedFirstContact)
    assert {e.actor.name for e in events[1:]} == {"maria.b"}
    assert "Closed first contact" in console.page  # the timeline shows it


def test_a_refusal_of_the_procedure_is_shown_on_its_form_and_nothing_is_recorded(
    console: Console,
) -> None:
    console.sign_in("maria.b")
    _english(console)
    case = console.case_id("CRM-1")
    console.get(f"/console/cases/{case}")
    console.step(case, "assign-case", {"agent": "maria.b"})
    version = console.office.case(case).version
    answer = console.step(case, "close-case", {"summary": "nada"})
    assert answer.status_code == 422
    assert re.search(r'<details class="step[^"]*" id="step-close-case" open>', console.page)
    alert = re.search(r'id="error-close-case">([^<]+)<', console.page)
    assert alert is not None
    assert "typify the case" in alert.group(1)
    assert 'name="summary" required maxlength="10000">nada</textarea>' in console.page
    assert console.office.case(case).version == version


def test_a_refused_form_sends_the_browser_to_the_case_page_so_a_reload_posts_nothing(
    console: Console,
) -> None:
    console.sign_in("maria.b")
    _english(console)
    case = console.case_id("CRM-1")
    console.get(f"/console/cases/{case}")
    console.step(case, "assign-case", {"agent": "maria.b"})
    version = console.office.case(case).version
    typed = "Cliente conforme con la solución; se cierra.\nSegunda línea"
    answer = console.step(case, "close-case", {"summary": typed})
    # Post/Redirect/Get: the form's answer is a 303 to the case page, which shows the refusal
    # (with the refusal's status) and what was typed.
    assert [r.status_code for r in answer.history] == [303]
    assert answer.history[0].headers["location"] == f"/console/cases/{case}#step-close-case"
    assert answer.request.method == "GET"
    assert answer.url.path == f"/console/cases/{case}"
    assert answer.status_code == 422
    alert = re.search(r'id="error-close-case">([^<]+)<', console.page)
    assert alert is not None
    assert "typify the case" in alert.group(1)
    assert f'maxlength="10000">{html.escape(typed)}</textarea>' in console.page
    # A reload is a GET of the case page: the refusal was shown once, nothing is posted.
    position = console.office.store.last_position()
    again = console.get(f"/console/cases/{case}")
    assert again.status_code == 200
    assert 'id="error-close-case"' not in console.page
    assert console.office.store.last_position() == position
    assert console.office.case(case).version == version
    # Carried for this case only: another case's page does not show it, this one still does.
    form = {"csrf": console.csrf, "version": str(version), "summary": typed}
    sent = console.client.post(f"/console/cases/{case}/do/close-case", data=form,
                               follow_redirects=False)  # fmt: skip
    assert sent.status_code == 303
    other = console.get(f"/console/cases/{console.case_id('CRM-2')}")
    assert other.status_code == 200
    assert "typify the case" not in console.page
    assert console.get(f"/console/cases/{case}").status_code == 422
    assert 'id="error-close-case"' in console.page


def test_a_bad_value_names_its_field(console: Console) -> None:
    console.sign_in("maria.b")
    _english(console)
    case = console.case_id("CRM-1")
    console.get(f"/console/cases/{case}")
    answer = console.step(case, "schedule-follow-up", {"due_at": "mañana temprano"})
    assert answer.status_code == 422
    alert = re.search(r'id="error-schedule-follow-up">([^<]+)<', console.page)
    assert alert is not None
    assert alert.group(1) == "Call the customer on: give a date and time (2026-12-05 09:30)"


def test_a_stale_page_says_so_instead_of_overwriting(console: Console, clock: FixedClock) -> None:
    console.sign_in("maria.b")
    _english(console)
    case = console.case_id("CRM-1")
    console.get(f"/console/cases/{case}")
    seen = console.page
    other = Console(console.client, console.accounts, console.office)
    other.page = seen
    console.step(case, "add-note", {"text": "primera nota"})  # changes the case
    version = console.office.case(case).version
    other.page = seen  # the first page, still open in another tab
    answer = other.step(case, "add-note", {"text": "nota sobre lo que vi antes"})
    assert answer.status_code == 409
    assert answer.url.path == f"/console/cases/{case}"  # sent to the case page (a GET)
    assert 'maxlength="10000">nota sobre lo que vi antes</textarea>' in other.page
    assert "The case changed while you had this page open" in other.page
    assert console.office.case(case).version == version
    assert "primera nota" in other.page  # the case as it is now


def test_a_stale_form_too_long_for_the_cookie_is_answered_in_place(console: Console) -> None:
    """What was typed rides in the session's cookie up to `REFUSED_MOST` characters; past it
    the refusal is answered on the POST address, the text still on the form."""
    from entrypoints.web.pages import REFUSED_MOST

    console.sign_in("maria.b")
    _english(console)
    case = console.case_id("CRM-1")
    console.get(f"/console/cases/{case}")
    seen = console.page
    other = Console(console.client, console.accounts, console.office)
    console.step(case, "add-note", {"text": "primera nota"})  # changes the case
    other.page = seen
    long_text = "x" * (REFUSED_MOST + 1)
    answer = other.step(case, "add-note", {"text": long_text})
    assert answer.status_code == 409
    assert answer.url.path == f"/console/cases/{case}/do/add-note"  # not redirected
    assert long_text in other.page
    assert "The case changed while you had this page open" in other.page


def test_a_form_without_the_sessions_token_is_refused(console: Console) -> None:
    console.sign_in("maria.b")
    case = console.case_id("CRM-1")
    console.get(f"/console/cases/{case}")
    version = console.office.case(case).version
    answer = console.post(f"/console/cases/{case}/do/add-note",
                          {"version": str(version), "text": "x"}, csrf="forged")  # fmt: skip
    assert answer.status_code == 403
    assert console.office.case(case).version == version


def test_an_auditor_reads_the_case_and_its_timeline_but_gets_no_form(console: Console) -> None:
    console.sign_in("audit.a")
    case = console.case_id("CRM-1")
    answer = console.get(f"/console/cases/{case}")
    assert answer.status_code == 200
    assert '<form method="post" action="/console/cases/' not in console.page
    assert 'id="timeline-title"' in console.page
    version = console.office.case(case).version
    answer = console.post(f"/console/cases/{case}/do/add-note",
                          {"version": str(version), "text": "x"})  # fmt: skip
    assert answer.status_code == 403
    assert console.office.case(case).version == version


def test_the_agents_day_lists_overdue_follow_ups_first_then_by_the_customers_time(
    console: Console, clock: FixedClock
) -> None:
    console.sign_in("maria.b")
    _english(console)
    for key in ("CRM-1", "CRM-2", "CRM-3"):
        case = console.case_id(key)
        console.get(f"/console/cases/{case}")
        console.step(case, "assign-case", {"agent": "maria.b"})
    # CRM-1..3 each have a follow-up due at T0 + 1 day; move the day on and stagger them.
    clock.advance(timedelta(days=1, hours=1))  # CRM-* follow-ups are now overdue by 1 h
    case3 = console.case_id("CRM-3")
    console.get(f"/console/cases/{case3}")
    console.step(case3, "complete-follow-up", {"outcome": "ok"})
    later = (clock.now() + timedelta(hours=2)).astimezone(BOGOTA).strftime("%Y-%m-%dT%H:%M")
    console.step(case3, "schedule-follow-up", {"due_at": later})
    answer = console.get("/console/day")
    assert answer.status_code == 200
    due = re.findall(r'<tr class="(breached|)">\s*<td>[^<]*(?:<span[^>]*>[^<]*</span>)?</td>\s*'
                     r'<td><a href="/console/cases/[^"]+">(CRM-\d)</a>', console.page)  # fmt: skip
    assert [key for _, key in due][-1] == "CRM-3"
    assert [state for state, _ in due] == ["breached", "breached", ""]


def test_an_unknown_console_address_is_a_page_not_problem_details(console: Console) -> None:
    console.sign_in("maria.b")
    _english(console)
    answer = console.get("/console/nowhere")
    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")
    assert "<h1>Not found</h1>" in console.page
    assert "No page of the console answers to this address." in console.page
    answer = console.get(f"/console/cases/{console.case_id('CRM-1')}/do/close-case")  # a GET
    assert answer.status_code == 405
    assert "No page of the console answers to this address." in console.page
    api = console.client.get("/nowhere")
    assert api.headers["content-type"].startswith("application/problem+json")
    answer = console.get(f"/console/cases/{'9' * 30}")
    assert answer.status_code == 404
    assert "No case answers to that reference." in console.page


def test_a_long_case_shows_its_latest_events_and_points_to_the_replay(console: Console) -> None:
    from domain.values import Actor

    case = console.case_id("CRM-1")
    for n in range(60):
        console.office.add_note(case, text=f"nota {n}", actor=Actor.agent("sofia.t"))
    console.sign_in("sofia.t")
    _english(console)
    console.get(f"/console/cases/{case}")
    timeline = console.page[console.page.index('id="timeline-title"') :]
    assert timeline.count('<span class="event">') == 50
    assert "The latest 50 of 61 events." in console.page
    assert f'href="/console/cases/{case}/replay">The replay shows them all.' in console.page
    assert "nota 59" in timeline
    assert "nota 9<" not in timeline  # older than the latest 50


def test_an_agent_takes_a_free_case_but_not_a_colleagues(console: Console) -> None:
    _english(console)
    console.sign_in("carlos.m")
    case = console.case_id("CRM-1")
    console.get(f"/console/cases/{case}")
    assert console.step(case, "assign-case", {"agent": "carlos.m"}).status_code == 200
    console.sign_in("maria.b")
    _english(console)
    console.get(f"/console/cases/{case}")
    version = console.office.case(case).version
    answer = console.step(case, "assign-case", {"agent": "maria.b"})
    assert answer.status_code == 403
    assert "the case is carlos.m's: reassigning it is a supervisor's" in html.unescape(console.page)
    assert console.office.case(case).version == version
    assert console.office.case(case).agent == "carlos.m"


def test_people_are_shown_by_name_with_their_login_beside(console: Console) -> None:
    console.sign_in("sofia.t")
    _english(console)
    case = console.case_id("CRM-1")
    console.get(f"/console/cases/{case}")
    # The assignment offers the agents by name (the login is what is sent).
    select = re.search(r'<select id="assign-case-agent".*?</select>', console.page, re.DOTALL)
    assert select is not None
    options = re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', select.group(0))
    assert options == [("", "— choose —"), ("carlos.m", "Carlos Mejía (carlos.m)"),
                       ("maria.b", "María Bernal (maria.b)")]  # fmt: skip
    assert "selected" not in select.group(0)  # a supervisor is no agent: nobody chosen
    console.step(case, "assign-case", {"agent": "carlos.m"})
    named = '<span class="person" title="carlos.m">Carlos Mejía</span>'
    assert f"<dt>Agent</dt><dd>{named}</dd>" in console.page
    timeline = console.page[console.page.index('id="timeline-title"') :]
    assert '<span class="person" title="sofia.t">Sofía Torres</span>' in timeline
    assert '· <span class="person">Intake</span>' in timeline  # not a person's
    console.get("/console/cases", q="CRM-1")
    assert named in console.page
    console.get(f"/console/cases/{case}/replay")
    assert '<span class="person" title="sofia.t">Sofía Torres</span>' in console.page
