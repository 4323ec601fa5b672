"""The auditor's replay, in process: a case's history made by commands through the console's
forms, then read back at a version, as of a moment, two of them side by side, and as CSV."""

from __future__ import annotations

import csv
import html
import io
import json
import re
from datetime import datetime, timedelta
from urllib.parse import parse_qsl

import attrs
import pytest

from adapters.clock import FixedClock
from domain.calendar import BOGOTA
from domain.case.events import ClockStarted, Escalated, NoteAdded
from entrypoints.web import replay
from tests.web.conftest import Console

NOTE = "=1+1 revisar la cartera"
"""A note a spreadsheet would run as a formula if the CSV wrote it as it is."""


@attrs.frozen
class Made:
    """The case whose history the tests read, and the moments and versions that matter."""

    case: str
    escalated: int
    """The version of the escalation's event."""
    before_note: int
    last: int
    checked_at: datetime
    escalated_at: datetime


def _english(console: Console) -> None:
    console.client.cookies.set("console_lang", "en")


def _make_history(console: Console, clock: FixedClock) -> Made:
    """CRM-1, worked by maria.b through the case page, five minutes between steps: assigned,
    interpreted as SAC cartera, checked (inconsistent), escalated, then a note."""
    console.sign_in("maria.b")
    case = console.case_id("CRM-1")
    console.get(f"/console/cases/{case}")
    moments = {}
    for command, form in [
        ("assign-case", {"agent": "maria.b"}),
        ("interpret-case", {"category": "sac", "subcategory": "cartera"}),
        ("sac-check", {"inconsistent": "on"}),
        ("sac-escalate", {"reason": "La cartera no cuadra con los pagos"}),
        ("add-note", {"text": NOTE}),
    ]:
        clock.advance(timedelta(minutes=5))
        moments[command] = clock.now()
        answer = console.step(case, command, form)
        assert answer.status_code == 200, (command, console.page[-2000:])
        assert 'role="alert"' not in console.page, command
    events = console.office.history(case)
    [escalated] = [e.originator_version for e in events if isinstance(e, Escalated)]
    [noted] = [e for e in events if isinstance(e, NoteAdded)]
    assert isinstance(events[escalated], ClockStarted)  # the area's clock, the same moment
    first_of_note = min(e.originator_version for e in events
                        if e.timestamp == noted.timestamp)  # fmt: skip
    return Made(case=case, escalated=escalated, before_note=first_of_note - 1,
                last=events[-1].originator_version, checked_at=moments["sac-check"],
                escalated_at=moments["sac-escalate"])  # fmt: skip


def _fact(page: str, key: str) -> str:
    found = re.search(rf'<dd data-field="{key}">(.*?)</dd>', page, re.DOTALL)
    assert found is not None, key
    return found.group(1)


def _panel(page: str) -> str:
    """The version's panel of a replay page (not the comparison below it)."""
    start = page.index('<div id="replay-panel"')
    end = page.find('id="replay-compare-title"', start)
    return page[start : end if end >= 0 else len(page)]


def _slider(page: str) -> int:
    found = re.search(r'id="replay-version"[^>]*?value="(\d+)"', page, re.DOTALL)
    assert found is not None
    return int(found.group(1))


def _local(moment: datetime) -> str:
    return moment.astimezone(BOGOTA).strftime("%Y-%m-%dT%H:%M:%S")


def _changed(page: str) -> tuple[set[str], set[str]]:
    """The fields of the side-by-side table, and those marked changed."""
    rows = re.findall(r'<tr data-field="(\w+)"( class="changed")?>', page)
    return {key for key, _ in rows}, {key for key, changed in rows if changed}


def test_the_replay_shows_the_case_before_and_after_the_escalation(
    console: Console, clock: FixedClock
) -> None:
    made = _make_history(console, clock)
    console.sign_in("audit.a")
    _english(console)
    address = f"/console/cases/{made.case}/replay"

    answer = console.get(address, version=str(made.escalated - 1))
    assert answer.status_code == 200
    assert _slider(console.page) == made.escalated - 1
    assert _fact(console.page, "escalations") == "0"
    assert "La cartera no cuadra" not in _panel(console.page)
    assert f"Version {made.escalated - 1} of {made.last}" in console.page
    assert "Account checked" in console.page  # the event of that version, named
    valuetext = re.search(r'aria-valuetext="([^"]*)"', console.page)
    assert valuetext is not None
    assert valuetext.group(1).endswith(" · Account checked · María Bernal")  # who, by name

    answer = console.get(address, version=str(made.escalated))
    assert answer.status_code == 200
    assert _slider(console.page) == made.escalated
    assert _fact(console.page, "escalations").startswith("1<ul")
    assert "La cartera no cuadra con los pagos" in _fact(console.page, "escalations")
    assert console.page.count('id="replay-event-data"') == 1  # only this event's data

    # What the slider's script swaps in: the panel alone, and the address to show.
    answer = console.get(f"{address}/panel", version=str(made.escalated - 1))
    assert answer.status_code == 200
    assert "<html" not in console.page
    assert console.page.count('id="replay-panel"') == 1
    assert _fact(console.page, "escalations") == "0"
    assert answer.headers["HX-Replace-Url"] == f"{address}?version={made.escalated - 1}"

    # Without a version: the case now, and the links to its history.
    console.get(address)
    assert _slider(console.page) == made.last
    assert f'href="/cases/{made.case}/history"' in console.page
    exported = console.client.get(f"/cases/{made.case}/history")  # the session's cookie
    assert exported.status_code == 200
    assert [e["version"] for e in exported.json()] == list(range(1, made.last + 1))
    assert f'href="/console/cases/{made.case}/history.csv"' in console.page


def test_a_supervisor_replays_in_spanish(console: Console, clock: FixedClock) -> None:
    made = _make_history(console, clock)
    console.sign_in("sofia.t")
    answer = console.get(f"/console/cases/{made.case}/replay")
    assert answer.status_code == 200
    assert "Reconstrucción del caso CRM-1" in console.page
    assert f"Versión {made.last} de {made.last}" in console.page


def test_the_case_as_of_a_moment(console: Console, clock: FixedClock) -> None:
    made = _make_history(console, clock)
    console.sign_in("audit.a")
    _english(console)
    address = f"/console/cases/{made.case}/replay"
    between = made.checked_at + timedelta(minutes=2)  # checked, not yet escalated
    answer = console.get(address, at=_local(between))
    assert answer.status_code == 200
    assert _slider(console.page) == made.escalated - 1
    assert _fact(console.page, "escalations") == "0"
    assert _fact(console.page, "checks").startswith("1<ul")
    assert f'value="{_local(between)}"' in console.page  # the moment stays in its field

    answer = console.get(address, at=_local(made.escalated_at + timedelta(minutes=2)))
    assert answer.status_code == 200
    assert _slider(console.page) == made.escalated + 1  # the escalation and its clock
    assert "La cartera no cuadra con los pagos" in _fact(console.page, "escalations")
    assert "running" in _fact(console.page, "clocks")
    # A moment to the minute, as a browser without seconds sends it.
    answer = console.get(address, at=_local(made.escalated_at)[:16])
    assert _slider(console.page) == made.escalated + 1


def test_two_versions_side_by_side_mark_exactly_what_changed(
    console: Console, clock: FixedClock
) -> None:
    made = _make_history(console, clock)
    console.sign_in("audit.a")
    _english(console)
    address = f"/console/cases/{made.case}/replay"

    answer = console.get(address, a_version=str(made.escalated - 1),
                         b_version=str(made.escalated + 1))  # fmt: skip
    assert answer.status_code == 200
    fields, changed = _changed(console.page)
    assert {"status", "agent", "category", "marking", "cun", "follow_ups", "escalations",
            "visits", "clocks", "notes"} <= fields  # fmt: skip
    assert changed == {"escalations", "clocks"}
    assert console.page.count("Changed</strong>") == 2  # said in words, not by colour alone
    between = re.search(r'<ol class="timeline" id="replay-between"(.*?)</ol>', console.page,
                        re.DOTALL)  # fmt: skip
    assert between is not None
    listed = re.findall(r'class="event">([^<]+)</span> <span class="muted">· v(\d+) · [^·]+ · '
                        r'<span class="person" title="([^"]+)">([^<]+)</span>',
                        between.group(1))  # fmt: skip
    maria = ("maria.b", "María Bernal")  # by name, the login as its title
    assert listed == [("Escalated", str(made.escalated), *maria),
                      ("Clock started", str(made.escalated + 1), *maria)]  # fmt: skip
    assert "2 events between A and B" in console.page

    answer = console.get(address, a_version=str(made.before_note), b_version=str(made.last))
    assert _changed(console.page)[1] == {"notes", "last_note", "writes"}
    assert "2 fields changed" not in console.page

    # The same two states, asked by moment: the same marks.
    answer = console.get(address, a_at=_local(made.checked_at + timedelta(minutes=1)),
                         b_at=_local(made.escalated_at + timedelta(minutes=1)))  # fmt: skip
    assert answer.status_code == 200
    assert _changed(console.page)[1] == {"escalations", "clocks"}

    # By default: as the case arrived (A) and as it is now (B).
    console.get(address)
    assert {"agent", "category", "escalations", "notes"} <= _changed(console.page)[1]
    assert "status" not in _changed(console.page)[1]


def test_the_history_as_csv_is_one_spreadsheet_row_per_event_in_the_readers_language(
    console: Console, clock: FixedClock
) -> None:
    made = _make_history(console, clock)
    events = console.office.history(made.case)
    console.sign_in("audit.a")
    answer = console.get(f"/console/cases/{made.case}/history.csv")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/csv")
    assert 'filename="historial-CRM-1.csv"' in answer.headers["content-disposition"]
    assert answer.text.startswith("\ufeff")  # a spreadsheet reads it as UTF-8
    rows = list(csv.reader(io.StringIO(answer.text[1:]), delimiter=";"))  # Spanish: `;`
    assert rows[0] == ["Versión", "Fecha y hora (Bogotá)", "Fecha y hora (UTC)", "Quién",
                       "Evento", "Detalle", "Datos (JSON)"]  # fmt: skip
    body = rows[1:]
    assert len(body) == len(events) == made.last
    for row, event in zip(body, events, strict=True):
        version, bogota, utc, who, kind, _, data = row
        assert int(version) == event.originator_version
        assert datetime.fromisoformat(utc) == event.timestamp
        assert utc.endswith("+00:00")
        assert bogota.endswith(event.timestamp.astimezone(BOGOTA).strftime("%H:%M:%S"))
        assert not kind.startswith("case.")  # the event in words
        assert "agent:" not in who  # a person by name
        assert isinstance(json.loads(data), dict)
        assert "\n" not in data  # compact
    assert "María Bernal" in {row[3] for row in body}
    [note] = [row for row, e in zip(body, events, strict=True) if isinstance(e, NoteAdded)]
    assert NOTE in note[5]  # within "Nota: …": a spreadsheet shows it, does not run it
    assert not note[5].startswith(("=", "+", "-", "@"))
    assert json.loads(note[6])["text"] == NOTE
    _english(console)
    english = console.get(f"/console/cases/{made.case}/history.csv").text
    header = "\ufeffVersion,Time (Bogotá),Time (UTC),Who,Event,Details,Data (JSON)"
    assert english.splitlines()[0] == header  # English: `,`


@pytest.mark.parametrize("login", ["maria.b", "coord.c"])
def test_who_may_not_replay_is_refused_with_the_reason(
    console: Console, clock: FixedClock, login: str
) -> None:
    case = console.case_id("CRM-1")
    console.sign_in(login)
    _english(console)
    for address in (f"/console/cases/{case}/replay", f"/console/cases/{case}/replay/panel"):
        answer = console.get(address, version="1")
        assert answer.status_code == 403, address
        assert 'role="alert"' in console.page
        assert "Escalations" not in console.page
    answer = console.get(f"/console/cases/{case}/history.csv")
    if login == "maria.b":  # an agent reads a case's history (the case page's timeline)
        assert answer.status_code == 200
    else:
        assert answer.status_code == 403
        assert "case.ingested" not in answer.text


def test_nobody_signed_in_is_sent_to_sign_in(console: Console) -> None:
    case = console.case_id("CRM-1")
    for address in (f"/console/cases/{case}/replay", f"/console/cases/{case}/history.csv"):
        answer = console.get(address)
        assert answer.url.path == "/console/sign-in", address


@pytest.mark.parametrize(
    ("params", "said"),
    [
        ({"version": "0"}, "There is no version 0: this case has versions 1 to {last}."),
        ({"version": "99"}, "There is no version 99: this case has versions 1 to {last}."),
        ({"version": "tres"}, "The version must be a whole number from 1 to {last}."),
        ({"at": "mañana"}, "“mañana” is not a date and time; give one like 2026-12-05T09:30."),
        ({"at": "2026-13-45T25:00"}, "is not a date and time"),
        ({"at": "9999-12-31T23:59"}, "is not a date and time"),
        ({"at": "2020-01-01T08:00"}, "The case did not exist yet at 1 Jan 2020, 08:00:00"),
        ({"a_version": "1", "a_at": "2026-07-15T09:00"},
         "For A, give a version or a moment, not both."),
        ({"b_version": "-2"}, "The version must be a whole number from 1 to {last}."),
    ],
)  # fmt: skip
def test_a_version_or_moment_out_of_range_is_said_on_the_page(
    console: Console, params: dict[str, str], said: str
) -> None:
    case = console.case_id("CRM-2")
    last = console.office.case(case).version
    console.sign_in("audit.a")
    _english(console)
    answer = console.get(f"/console/cases/{case}/replay", **params)
    assert answer.status_code == 422
    alert = re.search(r'role="alert" id="replay-(?:compare-)?error">([^<]+)<', console.page)
    assert alert is not None
    assert said.format(last=last) in html.unescape(alert.group(1))
    assert "Traceback" not in console.page
    assert 'id="replay-version"' in console.page  # the page is still there to go on with
    answer = console.get(f"/console/cases/{case}/replay/panel", version="0")
    assert answer.status_code == 422
    assert "There is no version 0" in console.page


def test_an_unknown_case_is_not_found(console: Console) -> None:
    console.sign_in("audit.a")
    assert console.get("/console/cases/CRM-404/replay").status_code == 404
    assert console.get("/console/cases/CRM-404/history.csv").status_code == 404


def test_a_long_history_is_listed_a_page_at_a_time(
    console: Console, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    console.sign_in("maria.b")
    case = console.case_id("CRM-3")
    console.get(f"/console/cases/{case}")
    for n in range(7):  # each note is three events: the RR write asked, answered, the note
        clock.advance(timedelta(minutes=1))
        console.step(case, "add-note", {"text": f"nota {n}"})
    last = console.office.case(case).version
    monkeypatch.setattr(replay, "EVENTS_PAGE", 6)  # pages as a history of thousands has them
    monkeypatch.setattr(replay, "BETWEEN_SHOWN", 5)
    assert last > 3 * replay.EVENTS_PAGE
    console.sign_in("audit.a")
    _english(console)
    address = f"/console/cases/{case}/replay"
    shown = last // 2
    console.get(address, version=str(shown))
    listed = [int(v) for v in re.findall(r'<tr(?: aria-current="true")?><td>(?:<a [^>]*>|<strong>)'
                                         r"(\d+)", console.page)]  # fmt: skip
    assert len(listed) == replay.EVENTS_PAGE
    assert shown in listed
    assert listed == list(range(listed[0], listed[0] + replay.EVENTS_PAGE))
    assert f'max="{last}"' in console.page  # the slider still spans every version
    assert console.page.count('id="replay-event-data"') == 1
    earlier = re.search(r'<a href="([^"]+)">Earlier events</a>', console.page)
    later = re.search(r'<a href="([^"]+)">Later events</a>', console.page)
    assert earlier is not None
    assert later is not None
    path, _, query = html.unescape(later.group(1)).partition("?")
    console.get(path, **dict(parse_qsl(query)))
    again = [int(v) for v in re.findall(r'<tr(?: aria-current="true")?><td>(?:<a [^>]*>|<strong>)'
                                        r"(\d+)", console.page)]  # fmt: skip
    assert again[0] == listed[-1] + 1
    assert _slider(console.page) == shown  # paging the list does not move the slider
    # Between A and B: the first BETWEEN_SHOWN events listed, the others counted.
    console.get(address)
    assert console.page.count('<li><span class="event">') == 5
    assert f"{last - 1} events between A and B" in console.page
    assert "Only the first 5 are listed" in console.page


def test_the_history_csv_is_named_safely_whatever_the_case_key(console: Console) -> None:
    """A key from outside with a dash that is not ASCII and quotes (a line break is refused
    at intake): the download is still one attachment, its name made of safe characters (it
    was a 500)."""
    from domain.values import Channel, SourceKey
    from tests.conftest import record

    key = 'CRM–7 "B" ñ/..'
    console.office.ingest([record(key, account="80012399")])
    case = SourceKey(Channel.CRM, key).case_id()
    console.sign_in("audit.a")
    answer = console.get(f"/console/cases/{case}/history.csv")
    assert answer.status_code == 200
    disposition = answer.headers["content-disposition"]
    assert 'filename="historial-CRM_7__B____...csv"' in disposition
