"""The auditor's replay: a case as it was at any version or moment, what changed between two
of them side by side, and its history exported (JSON through the API, CSV here).

`/console/cases/{ref}/replay` shows the case at a version chosen with a slider over its events
(1..N), or as of a moment (Bogotá time); `…/replay/panel` is the same view as an HTML fragment,
which the page's script swaps in when the slider moves (without scripts, the slider's form is
sent by its button and the whole page comes back). `…/history.csv` is the history for a
spreadsheet in the reader's language, one row per event as the timeline shows it (with the
event's data as JSON beside), like the indicators' CSV.

A long history (thousands of events) is never drawn at once: the slider is one range input
whatever its length; the list of events beside it is a page of `EVENTS_PAGE` around the version
shown (earlier and later pages by link); only the shown version's event has its data drawn;
between two versions compared, the first `BETWEEN_SHOWN` events are listed by name, actor and
time, and the rest counted (the CSV has them all). Reads go through the office's queries only
(`case(ref, version=)`, `case(ref, as_of=)`, `history_stream`, `history`).
"""

from __future__ import annotations

import itertools
import json
import re
import uuid
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote, urlencode

import attrs
from litestar import Request, Response, get
from litestar.params import FromPath, FromQuery

from application.access.permissions import Reading
from application.service import Backoffice
from domain.case.events import CaseEvent
from domain.case.state import CaseState
from domain.errors import CaseNotFound, InvalidValue
from entrypoints import render
from entrypoints.http.requests_log import note
from entrypoints.web import views
from entrypoints.web.forms import local_moment
from entrypoints.web.i18n import Speaker
from entrypoints.web.pages import CONSOLE, Page, serve_page
from entrypoints.web.templates import PAGE_HEADERS

EVENTS_PAGE = 20
"""How many events the list beside the slider shows at a time."""
BETWEEN_SHOWN = 100
"""How many of the events between two compared versions are listed (the rest are counted)."""
LIST_SHOWN = 20
"""How many entries of a list (follow-ups, clocks…) a version's view shows, the newest."""


# --- what a version of the case shows -------------------------------------------------------


@attrs.frozen
class Fact:
    """One field of the case as the replay shows it: `text` (for a list, how many it has)
    and `items` (a list's entries, oldest first), each already in the user's language."""

    key: str
    label: str
    text: str
    items: tuple[str, ...] = ()

    @property
    def shown_items(self) -> tuple[str, ...]:
        """The newest entries (a long list is cut to the last `LIST_SHOWN`)."""
        return self.items[-LIST_SHOWN:]

    @property
    def hidden(self) -> int:
        return max(0, len(self.items) - LIST_SHOWN)


def moment_text(t: Speaker, moment: datetime | None) -> str:
    """A moment to the second, in Bogotá (two events are often in the same minute)."""
    return t.when(moment, seconds=True)


def _clock_state(t: Speaker, running: bool, warned: bool, breached: bool) -> str:
    if breached:
        return t("clock breached")
    if warned:
        return t("clock at warning") if running else t("clock stopped after its warning")
    return t("clock running") if running else t("clock stopped")


def facts(state: CaseState, t: Speaker) -> list[Fact]:
    """The fields of the case the replay shows and compares, in the user's language."""
    category = (
        t.label("category", state.category.value)
        + (f" · {t.label('subcategory', state.subcategory.value)}" if state.subcategory else "")
        if state.category is not None
        else t("not interpreted")
    )
    marking = "—"
    if state.marking_code:
        marking = state.marking_code
        if state.resolution is not None:
            marking += f" · {t.label('resolution', state.resolution.value)}"
    cun = f"{state.cun} · {moment_text(t, state.cun_filed_at)}" if state.cun else "—"
    follow_ups = tuple(
        f"#{f.follow_up_id} · {moment_text(t, f.due_at)} · {t.label('follow-up', f.status.value)}"
        for f in state.follow_ups
    )
    escalations = tuple(
        f"#{e.escalation_id} · {e.area} · {moment_text(t, e.at)} · {e.reason}"
        for e in state.escalations
    )
    visits = tuple(
        f"{t.label('kind', v.kind.value)} · {moment_text(t, v.slot_start)} · {v.booking_reference}"
        for v in state.visits
    )
    clocks = tuple(
        f"#{c.clock_id} · {t(views.CLOCK_LABELS[c.kind])}"
        + (f" {c.reference}" if c.reference else "")
        + f" · {moment_text(t, c.due_at)} · {_clock_state(t, c.running, c.warned, c.breached)}"
        for c in state.clocks
    )
    checks = tuple(
        f"{system} · {aspect} · {t('found inconsistent') if bad else t('found consistent')}"
        for system, aspect, bad in state.checks
    )
    writes = tuple(
        f"{views.operation_text(w.system, w.operation, t)} · {t.label('write', w.status.value)}"
        for w in state.outside_writes
    )
    last = state.recent_notes[-1] if state.recent_notes else None
    author = views.actor_text(last.author, t) if last else ""
    last_note = f"{moment_text(t, last.at)} · {author}: {last.text}" if last else "—"
    closed = "—"
    if state.closed_at is not None:
        closed = moment_text(t, state.closed_at)
        if state.closed_first_contact:
            closed += f" · {t('in first contact')}"

    def many(key: str, label: str, items: tuple[str, ...]) -> Fact:
        return Fact(key, label, t.number(len(items), 0), items)

    return [
        Fact("status", t("Status"), t.label("status", state.status.value)),
        Fact("agent", t("Agent"), state.agent or t("unassigned")),
        Fact("category", t("Category"), category),
        Fact("marking", t("Marking"), marking),
        Fact("cun", "CUN", cun),
        many("follow_ups", t("Follow-ups"), follow_ups),
        many("escalations", t("Escalations"), escalations),
        many("visits", t("Visits"), visits),
        many("clocks", t("Clocks"), clocks),
        many("checks", t("Account checks"), checks),
        many("writes", t("Writes to Claro's systems"), writes),
        Fact("notes", t("Notes"), t.number(state.notes, 0)),
        Fact("last_note", t("Latest note"), last_note),
        Fact(
            "protocol",
            t("Closing protocol"),
            t("all four checks confirmed") if state.protocol_completed else t("not completed yet"),
        ),
        Fact("closed", t("Closed on"), closed),
        Fact("reopened", t("Times reopened"), t.number(state.reopen_count, 0)),
        Fact("repeats", t("Repeat contacts"), t.number(len(state.repeat_contacts), 0)),
    ]


@attrs.frozen
class Change:
    """A field at A and at B; for a list, the entries only one side has (an entry whose
    status changed is on both sides, as it was)."""

    key: str
    label: str
    a: Fact
    b: Fact

    @property
    def changed(self) -> bool:
        return (self.a.text, self.a.items) != (self.b.text, self.b.items)

    @property
    def only_a(self) -> tuple[str, ...]:
        theirs = set(self.b.items)
        return tuple(i for i in self.a.items if i not in theirs)[-LIST_SHOWN:]

    @property
    def only_b(self) -> tuple[str, ...]:
        theirs = set(self.a.items)
        return tuple(i for i in self.b.items if i not in theirs)[-LIST_SHOWN:]


def changes(a: Sequence[Fact], b: Sequence[Fact]) -> list[Change]:
    """Each field side by side, A's and B's (both from `facts`, in the same order)."""
    return [Change(x.key, x.label, x, y) for x, y in zip(a, b, strict=True)]


@attrs.frozen
class EventRow:
    """An event as the lists show it: its version, time, actor and name (no data)."""

    version: int
    at: datetime
    actor: str
    event: str


def _rows(events: Sequence[CaseEvent], t: Speaker) -> list[EventRow]:
    return [
        EventRow(e.version, e.at, e.actor, t.label("event", e.event))
        for e in reversed(views.timeline(events, t))  # the timeline is newest first
    ]


def _events(office: Backoffice, case_id: uuid.UUID, after: int, upto: int) -> list[CaseEvent]:
    """The events of versions `after`+1..`upto`, read a page at a time and no further."""
    if upto <= after:
        return []
    events = office.store.events_of(case_id, after=after)  # from `after` on, not version 1
    return list(itertools.islice(events, upto - after))


# --- what the user asked for ------------------------------------------------------------------


class Unreadable(Exception):
    """A version or moment the replay cannot show; the message is in the user's language."""


def parse_version(raw: str | None, last: int, t: Speaker) -> int | None:
    """A version from 1 to `last` (None: not given)."""
    text = (raw or "").strip()
    if not text:
        return None
    if not re.fullmatch(r"\d{1,12}", text):
        raise Unreadable(t("The version must be a whole number from 1 to {last}.", last=last))
    version = int(text)
    if not 1 <= version <= last:
        raise Unreadable(
            t(
                "There is no version {version}: this case has versions 1 to {last}.",
                version=version,
                last=last,
            )
        )
    return version


def parse_moment(raw: str | None, t: Speaker) -> datetime | None:
    """A moment as a `datetime-local` input gives it, in Bogotá time (None: not given)."""
    text = (raw or "").strip()
    if not text:
        return None
    try:
        return local_moment("at", text)
    except InvalidValue:
        raise Unreadable(
            t(
                "“{moment}” is not a date and time; give one like 2026-12-05T09:30.",
                moment=text[:40],
            )
        ) from None


def _as_of(office: Backoffice, case_id: uuid.UUID, moment: datetime, t: Speaker,
           first: datetime) -> CaseState:  # fmt: skip
    try:
        return office.case(case_id, as_of=moment)
    except CaseNotFound:
        raise Unreadable(
            t(
                "The case did not exist yet at {moment}: its first event was recorded on {first}.",
                moment=moment_text(t, moment),
                first=moment_text(t, first),
            )
        ) from None


@attrs.frozen
class Asked:
    """A side of the replay: the case at a version or as of a moment, and how it was asked."""

    state: CaseState
    moment: datetime | None = None


def _side(
    office: Backoffice,
    now: CaseState,
    version: str | None,
    moment: str | None,
    t: Speaker,
    *,
    default: int | None = None,
    name: str = "",
) -> Asked:
    """The case at the version or moment given (not both), else at `default` (else now)."""
    last = now.version
    chosen = parse_version(version, last, t)
    at = parse_moment(moment, t)
    if chosen is not None and at is not None:
        raise Unreadable(
            t("For {side}, give a version or a moment, not both.", side=name)
            if name
            else t("Give a version or a moment, not both.")
        )
    if at is not None:
        first = next(office.history_stream(now.case_id)).timestamp  # recorded, not received
        return Asked(_as_of(office, now.case_id, at, t, first), at)
    chosen = chosen if chosen is not None else default
    if chosen is None or chosen == last:
        return Asked(now)
    return Asked(office.case(now.case_id, version=chosen))


def _window(version: int, last: int, first: str | None) -> tuple[int, int]:
    """The versions of the page of events listed: around `version`, or from `first`."""
    if first and first.strip().isdigit() and len(first.strip()) <= 12:
        start = min(max(1, int(first)), last)  # a page asked for: from where it was asked
    else:  # a full page with the version in its middle
        start = min(max(1, version - EVENTS_PAGE // 2), max(1, last - EVENTS_PAGE + 1))
    return start, min(last, start + EVENTS_PAGE - 1)


# --- the pages -------------------------------------------------------------------------------


def _address(case_id: uuid.UUID, tail: str = "", **query: object) -> str:
    base = f"{CONSOLE}/cases/{case_id}/replay{tail}"
    given = {k: v for k, v in query.items() if v not in (None, "")}
    return f"{base}?{urlencode(given)}" if given else base


def _panel(page: Page, now: CaseState, shown: Asked, first: str | None) -> dict[str, Any]:
    """What the panel of the version shown needs: the case, its event, the page of events."""
    t, office = page.t, page.service.office
    state, last = shown.state, now.version
    start, end = _window(state.version, last, first)
    low = min(start, state.version)
    read = _events(office, now.case_id, low - 1, max(end, state.version))
    events = [e for e in read if start <= e.originator_version <= end]
    rows = _rows(events, t)
    [entry] = views.timeline([read[state.version - low]], t, page.people.name)
    current = EventRow(entry.version, entry.at, entry.actor, t.label("event", entry.event))
    position = t("Version {version} of {last}", version=state.version, last=last)
    who = page.people.name(current.actor)  # a person by name (the system's parts as they are)
    valuetext = " · ".join((position, moment_text(t, current.at), current.event, who))
    return {
        "case": state,
        "last": last,
        "moment": shown.moment,
        "facts": facts(state, t),
        "current": current,
        "details": entry.details,
        "valuetext": valuetext,
        "rows": rows,
        "start": start,
        "end": end,
        "earlier": _address(now.case_id, version=state.version, first=max(1, start - EVENTS_PAGE))
        if start > 1
        else None,
        "later": _address(now.case_id, version=state.version, first=end + 1)
        if end < last
        else None,
        "address": lambda version: _address(now.case_id, version=version),
        "panel": lambda version: _address(now.case_id, "/panel", version=version),
        "moment_text": lambda m: moment_text(t, m),
    }


def _compare(page: Page, now: CaseState, asked: dict[str, str | None]) -> dict[str, Any]:
    """A and B side by side (by default the case as received and now), the events between."""
    t, office = page.t, page.service.office
    a = _side(office, now, asked["a_version"], asked["a_at"], t, default=1, name="A")
    b = _side(office, now, asked["b_version"], asked["b_at"], t, name="B")
    low, high = sorted((a.state.version, b.state.version))
    between = _events(office, now.case_id, low, min(high, low + BETWEEN_SHOWN))
    return {
        "a": a,
        "b": b,
        "changes": changes(facts(a.state, t), facts(b.state, t)),
        "between": _rows(between, t),
        "between_count": high - low,
    }


def _replay(
    page: Page,
    reference: str,
    asked: dict[str, str | None],
    fragment: bool = False,
) -> Response[Any]:
    page.require(Reading.REPLAY)
    t, office = page.t, page.service.office
    now = office.case(reference)
    note(page.request.scope, case=str(now.case_id))
    page.record_reads([now.case_id], "console:replay")
    error = compare_error = None
    try:
        shown = _side(office, now, asked["version"], asked["at"], t)
    except Unreadable as unreadable:
        shown, error = Asked(now), str(unreadable)
    panel = _panel(page, now, shown, asked["first"])
    if fragment:
        response = page.render("_replay_panel.html", 422 if error else 200, error=error,
                               **panel)  # fmt: skip
        if error is None:  # the address bar follows the slider, for a link or a reload
            response.headers["HX-Replace-Url"] = _address(now.case_id, version=shown.state.version)
        return response
    compared: dict[str, Any] | None = None
    try:
        compared = _compare(page, now, asked)
    except Unreadable as unreadable:
        compare_error = str(unreadable)
    status = 422 if error or compare_error else 200
    return page.render(
        "replay.html",
        status,
        title=t("Replay of case {key}", key=now.source.key),
        now=now,
        error=error,
        compare_error=compare_error,
        compared=compared,
        asked={k: v or "" for k, v in asked.items()},
        at_value=Speaker.iso_local(shown.moment or shown.state.updated_at, seconds=True),
        history_json=f"/cases/{now.case_id}/history",
        history_csv=f"{CONSOLE}/cases/{now.case_id}/history.csv",
        case_address=f"{CONSOLE}/cases/{now.case_id}",
        panel_address=_address(now.case_id, "/panel"),
        replay_address=_address(now.case_id),
        **panel,
    )


def _asked(**given: str | None) -> dict[str, str | None]:
    return given


@get(f"{CONSOLE}/cases/{{reference:str}}/replay", include_in_schema=False)
async def replay(
    request: Request[Any, Any, Any],
    reference: FromPath[str],
    version: FromQuery[str | None] = None,
    at: FromQuery[str | None] = None,
    first: FromQuery[str | None] = None,
    a_version: FromQuery[str | None] = None,
    a_at: FromQuery[str | None] = None,
    b_version: FromQuery[str | None] = None,
    b_at: FromQuery[str | None] = None,
) -> Response[Any]:
    """The case at a version (the slider) or as of a moment, the events around it, and two
    versions or moments compared side by side. Supervisors and auditors."""
    asked = _asked(version=version, at=at, first=first, a_version=a_version, a_at=a_at,
                   b_version=b_version, b_at=b_at)  # fmt: skip
    return await serve_page(request, lambda page: _replay(page, reference, asked))


@get(f"{CONSOLE}/cases/{{reference:str}}/replay/panel", include_in_schema=False)
async def replay_panel(
    request: Request[Any, Any, Any],
    reference: FromPath[str],
    version: FromQuery[str | None] = None,
    at: FromQuery[str | None] = None,
    first: FromQuery[str | None] = None,
) -> Response[Any]:
    """The version's panel alone (an HTML fragment), which the slider's script swaps in."""
    asked = _asked(version=version, at=at, first=first, a_version=None, a_at=None,
                   b_version=None, b_at=None)  # fmt: skip
    return await serve_page(request, lambda page: _replay(page, reference, asked, True))


def history_csv_text(
    events: Sequence[CaseEvent], t: Speaker, named: Callable[[str], str] | None = None
) -> str:
    """The history for a spreadsheet in the reader's language, as the case page's timeline
    shows it: one row per event, oldest first, the headers, the event and the details in the
    user's words, the person by name, the moment in Bogotá (to the second) and in UTC, and
    the event's data as compact JSON for whoever needs it whole. The separator is the one a
    spreadsheet of that language expects (`;` where the decimal mark is a comma), after a
    byte-order mark, every cell spreadsheet-safe (the indicators' CSV writes the same way)."""
    from entrypoints.web.indicators import spreadsheet_writer

    out, writer = spreadsheet_writer(t)
    writer.writerow([t("Version"), t("Time (Bogotá)"), t("Time (UTC)"), t("Who"), t("Event"),
                     t("Details"), t("Data (JSON)")])  # fmt: skip
    entries = list(reversed(views.timeline(events, t, named)))
    data = (json.dumps(e["data"], ensure_ascii=False, separators=(",", ":"), default=str)
            for e in render.history_entries(events))  # fmt: skip
    for entry, event, as_json in zip(entries, events, data, strict=True):
        who = named(entry.actor) if named is not None else entry.actor
        details = "; ".join(f"{k}: {v}" for k, v in entry.details)
        cells = (entry.version, t.when(event.timestamp, seconds=True),
                 event.timestamp.astimezone(UTC).isoformat(), who,
                 t.label("event", entry.event), details, as_json)  # fmt: skip
        writer.writerow([_safe(cell) for cell in cells])
    return out.getvalue()


def _safe(value: object) -> object:
    """A cell a spreadsheet shows and does not run (a text that reads as a formula gets its
    apostrophe); numbers as they are."""
    from entrypoints.render import spreadsheet_safe

    return spreadsheet_safe(value) if isinstance(value, str) else value


_FILE_NAME_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
"""What a case key may not keep in the history CSV's file name."""


def _history_csv(page: Page, reference: str) -> Response[Any]:
    page.require(Reading.HISTORY)
    events = page.service.office.history(reference)
    case_id = events[0].originator_id
    note(page.request.scope, case=str(case_id))
    page.record_reads([case_id], "console:history.csv")
    text = history_csv_text(events, page.t, page.people.name)
    source = getattr(events[0], "source", None)
    key = source.key if source is not None else str(case_id)
    # The key as a file name: ASCII letters, digits, dots, dashes (a key comes from outside
    # or holds a typification: no quote, line break or other character reaches the header).
    name = f"{page.t('history')}-{_FILE_NAME_UNSAFE.sub('_', key)[:60]}.csv"
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"; '
            f"filename*=UTF-8''{quote(name)}",
            **PAGE_HEADERS,
        },
    )


@get(f"{CONSOLE}/cases/{{reference:str}}/history.csv", include_in_schema=False)
async def history_csv(request: Request[Any, Any, Any], reference: FromPath[str]) -> Response[Any]:
    """The case's history as CSV (who may read a case's history: agents, supervisors,
    auditors), one row per event."""
    return await serve_page(request, lambda page: _history_csv(page, reference))


ROUTES: list[Any] = [replay, replay_panel, history_csv]
"""The replay's routes (added to the console's by `entrypoints.web.routes`)."""
