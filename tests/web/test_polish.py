"""What a new user's trial of the console found (issue 14): the timeline and the replay in
words, not codes; the notes' authors by name; moments inside refusals as the console writes
them; a stale form said once; the board's reassignment answered with a redirect."""

from __future__ import annotations

import html
import re
from datetime import timedelta

from adapters.clock import FixedClock
from domain.calendar import BOGOTA
from tests.web.conftest import Console


def _text(fragment: str) -> str:
    """A fragment of a page as its words (tags dropped, spaces folded)."""
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", fragment))).strip()


def _timeline(page: str) -> str:
    start = page.index('id="timeline-title"')
    return page[start : page.index("</section>", start)]


def _entry(timeline: str, event: str) -> str:
    """The timeline's entry of the latest `event` (its Spanish name), as words."""
    found = re.search(rf'<span class="event">{event}</span>.*?</li>', timeline, re.DOTALL)
    assert found is not None, f"no {event} in the timeline"
    return _text(found.group(0))


def _pqr_case(console: Console) -> str:
    """CRM-1 taken by maria.b, interpreted as a PQR, typified with a CUN (its response clock
    starts; RR's marking is an outside write), escalated with high priority (the area's
    clock starts) and with a note (written to RR's notes)."""
    console.sign_in("maria.b")
    case = console.case_id("CRM-1")
    console.get(f"/console/cases/{case}")
    steps = [
        ("assign-case", {"agent": "maria.b"}),
        ("interpret-case", {"category": "pqr", "subcategory": "queja_reclamo"}),
        ("typify-case", {"marking_code": "PQR-ROAM", "resolution": "cun",
                         "cun": "4436-26-0004512"}),
        ("escalate", {"target": "responsible_area", "area": "PQR", "reason": "Revisión",
                      "priority": "high"}),
        ("add-note", {"text": "El cliente pide respuesta escrita"}),
    ]  # fmt: skip
    for command, form in steps:
        answer = console.step(case, command, form)
        assert answer.status_code == 200, (command, _text(console.page)[-2000:])
        assert 'role="alert"' not in console.page, (command, _text(console.page)[-2000:])
    return case


def test_the_timeline_names_clocks_origins_and_writes_in_words(console: Console) -> None:
    case = _pqr_case(console)
    console.get(f"/console/cases/{case}")
    timeline = _timeline(console.page)
    words = _text(timeline)
    # A clock: its kind by its label (not a visit's), when it falls due (not a call).
    assert "Tipo de plazo Respuesta de la PQR" in words
    assert "Tipo de plazo Respuesta del área" in words
    assert "Tipo de visita" not in words
    assert "pqr_response" not in words
    assert "escalation_response" not in words
    clock = _entry(timeline, "Plazo iniciado")  # the latest: the area's answer
    assert "Vence el" in clock
    assert "Llamar al cliente el" not in clock
    assert "(prioridad alta)" in clock
    assert "prioridad high" not in words
    # The origin: the key and its channel.
    assert "Origen CRM-1 (CRM)" in words
    assert "channel=" not in words
    assert "key=" not in words
    # An outside write: the operation and the folder in Spanish, the parameters as pairs.
    assert "Operación Agregar una nota" in words
    assert "add_note" not in words
    assert "register_marking" not in words
    assert "Carpeta: Notas de RR" in words
    assert "rr_notes" not in words
    assert "Cuenta: 80012345" in words
    assert "Texto: El cliente pide respuesta escrita" in words
    assert "account," not in words
    # The case's origin on its facts, too.
    facts = console.page[console.page.index('id="facts-title"') :]
    assert "crm:CRM-1" not in _text(facts[: facts.index("</section>")])
    assert "CRM-1 (CRM)" in _text(facts[: facts.index("</section>")])


def test_the_replay_names_the_writes_to_claros_systems_in_spanish(console: Console) -> None:
    case = _pqr_case(console)
    console.sign_in("sofia.t")
    console.get(f"/console/cases/{case}/replay")
    facts = re.search(r'<dd data-field="writes">.*?</dd>', console.page, re.DOTALL)
    assert facts is not None
    words = _text(facts.group(0))
    assert "RR · Agregar una nota · aplicada" in words
    assert "register_marking" not in words
    assert "add_note" not in words
    assert "agent:maria.b" not in _text(console.page)


def test_the_notes_name_their_author_with_the_login_as_title(console: Console) -> None:
    case = _pqr_case(console)
    console.get(f"/console/cases/{case}")
    start = console.page.index('id="notes-title"')
    notes = console.page[start : console.page.index("</section>", start)]
    assert '<span class="person" title="maria.b">María Bernal</span>' in notes
    assert "agent:maria.b" not in notes


def test_a_moment_inside_a_refusal_is_written_as_the_console_writes_it(
    console: Console, clock: FixedClock
) -> None:
    console.sign_in("maria.b")
    case = console.case_id("CRM-1")
    console.get(f"/console/cases/{case}")
    past = (clock.now() - timedelta(days=2)).astimezone(BOGOTA).replace(minute=0, second=0)
    answer = console.step(case, "schedule-follow-up",
                          {"due_at": past.strftime("%Y-%m-%dT%H:%M")})  # fmt: skip
    assert answer.status_code == 422
    alert = re.search(r'id="error-schedule-follow-up">([^<]+)<', console.page)
    assert alert is not None
    shown = html.unescape(alert.group(1))
    assert past.isoformat() not in shown
    assert "T" + past.strftime("%H:%M") not in shown
    month = ("ene", "feb", "mar", "abr", "may", "jun", "jul", "ago", "sept", "oct", "nov",
             "dic")[past.month - 1]  # fmt: skip
    when = f"{past.day} {month} {past.year}, {past:%H:%M}"
    assert shown.endswith(f"el {when} ya pasó"), shown


def test_a_pending_follow_up_at_the_same_moment_is_said_in_bogota_time(
    console: Console, clock: FixedClock
) -> None:
    console.sign_in("maria.b")
    case = console.case_id("CRM-1")
    console.get(f"/console/cases/{case}")
    console.step(case, "assign-case", {"agent": "maria.b"})
    soon = (clock.now() + timedelta(days=1)).astimezone(BOGOTA).replace(minute=30, second=0)
    typed = {"due_at": soon.strftime("%Y-%m-%dT%H:%M")}
    assert console.step(case, "schedule-follow-up", typed).status_code == 200
    answer = console.step(case, "schedule-follow-up", typed)
    assert answer.status_code == 422
    alert = re.search(r'id="error-schedule-follow-up">([^<]+)<', console.page)
    assert alert is not None
    shown = html.unescape(alert.group(1))
    assert soon.strftime("%Y-%m-%d") not in shown
    assert f"{soon.year}, {soon:%H:%M} (hora de Bogotá)" in shown, shown


def test_a_stale_form_is_said_once_without_blaming_anyone(console: Console) -> None:
    console.sign_in("maria.b")
    case = console.case_id("CRM-1")
    console.get(f"/console/cases/{case}")
    seen = console.page
    other = Console(console.client, console.accounts, console.office)
    console.step(case, "add-note", {"text": "primera nota"})
    other.page = seen  # the same page, still open in another tab
    answer = other.step(case, "add-note", {"text": "segunda nota"})
    assert answer.status_code == 409
    words = _text(other.page)
    said = "El caso cambió mientras tenía abierta esta página."
    assert words.count(said) == 1, words.count(said)
    assert "Otra persona" not in words
    form = re.search(r'<details[^>]*id="step-add-note".*?</details>', other.page, re.DOTALL)
    assert form is not None
    assert said in _text(form.group(0))


def test_an_assignment_names_the_agent_by_name(console: Console) -> None:
    case = _pqr_case(console)
    console.get(f"/console/cases/{case}")
    assigned = _entry(_timeline(console.page), "Caso asignado")
    assert "María Bernal" in assigned
    assert "maria.b" not in assigned.split("María Bernal", 1)[1]  # the agent field: the name
