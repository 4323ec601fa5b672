"""Part (h): the console's pages on a 1M-event store, rendered on the server, against the API.

The store is made as part (c) makes its large one (`bench.reads`: 20,000 cases of 50 events,
decided on a state folded locally and appended in batches of 10,000 events), with the work
of a team rather than of two agents: 40 agents, and a fifth of the cases still open. Of the
open ones, a tenth have no agent, a quarter a missed follow-up, half an escalation waiting
for its area (a running clock), a third a PQR clock (a ninth at warning, a ninth breached);
the others are closed (their follow-ups done and clocks stopped first). Every case's work
happens at the same minutes (as in part (c)), so their follow-ups fall due together. The
case index is caught up before anything is timed; `--keep DIR` builds the store once and
reuses it.

Everything runs in this process through the application `backoffice serve` runs
(`entrypoints.http.app.create_app`, console routes included), driven by Litestar's
`TestClient`: a request goes through the ASGI stack, the session, the page's one worker
thread and the template, without a socket. That is the server's time, as the request log
measures it, less uvicorn's parser. One supervisor is signed in for all of it.

Measured, in rounds that alternate the four so that a noisy neighbour slows all alike:

- the board's panels (`GET /console/board/panels`), after an event was appended (a note on
  an open case, not timed): the board's script fetches them when the log moves, so the
  panels are read from the index, not served from the last reading; also the whole page
  (`GET /console/board`) the same way, and the panels with the log unchanged (held);
- the same content through the API: `GET /follow-ups/due` (today), `GET /cases` with each
  of the board's filters and limits (missed, unassigned, waiting, warned, breached) and
  `GET /cases/{id}` of each case whose clocks the board shows (the API has no route for a
  case's clocks alone; the board reads them from the case index since 2026-12-05); summed
  per board. The board also counts each agent's open cases and due follow-ups, which the API
  has no route for: not in the sum;
- a case page (`GET /console/cases/{id}`) of a random case, against `GET /cases/{id}` of
  the same case.
"""

from __future__ import annotations

import argparse
import random
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import argon2
from litestar.testing import TestClient

from adapters.accounts import Argon2Hasher
from adapters.clock import FixedClock
from application.case.commands import AddNote
from application.ports.accounts import AccessRole
from application.ports.cases import CaseQuery
from application.service import Backoffice
from bench import reads
from bench.common import (
    T0,
    Section,
    file_size,
    median,
    percentile,
    ratio,
    temp_dir,
    verdict,
)
from domain.calendar import BusinessCalendar
from domain.case import decisions
from domain.case.decisions import escalation_reference, new_event
from domain.case.events import (
    CaseEvent,
    ClockBreached,
    ClockStarted,
    ClockStopped,
    ClockWarned,
    Closed,
    FollowUpCompleted,
    FollowUpMissed,
)
from domain.case.state import CaseState
from domain.values import Actor, CaseStatus, ClockKind
from entrypoints import bootstrap
from entrypoints.http.app import create_app
from entrypoints.http.common import Service
from entrypoints.settings import load_settings
from entrypoints.web.board import CLOCK_CASES, ROWS, clock_cases

AGENTS = tuple(f"agente.{n:02d}" for n in range(40))
SUPERVISOR = "supervisor.banco"
PASSWORD = "banco de pruebas: clave larga"
NOW = T0 + timedelta(days=1, hours=2)
"""The office's clock while reading: a day after the cases' work, their follow-ups due today."""
TARGET_MS = 100.0


@dataclass(frozen=True)
class Sizes:
    cases: int
    rounds: int
    warmup: int


FULL = Sizes(cases=20_000, rounds=200, warmup=20)
QUICK = Sizes(cases=2_000, rounds=60, warmup=10)


# --- the store -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Profile:
    """What a case's work leaves it as."""

    open: bool
    agent: str | None
    missed: bool
    waiting: bool
    pqr: bool
    warned: bool
    breached: bool

    @classmethod
    def of(cls, case_no: int) -> Profile:
        n = case_no // 5  # the open cases' own numbering
        is_open = case_no % 5 == 0
        return cls(
            open=is_open,
            agent=None if is_open and n % 10 == 0 else AGENTS[n % len(AGENTS)],
            missed=is_open and n % 4 == 1,
            waiting=is_open and n % 2 == 0,
            pqr=is_open and n % 3 == 0,
            warned=is_open and n % 9 == 3,
            breached=is_open and n % 9 == 0,
        )


def next_event(state: CaseState | None, case_no: int, step: int) -> CaseEvent:
    """Part (c)'s case (`reads.next_event`: intake, assignment, interpretation, follow-ups,
    escalations, notes), given a team's agents, clocks and endings (`Profile`)."""
    event = reads.next_event(state, case_no, step)
    if state is None:
        return event
    profile = Profile.of(case_no)
    at = T0 + timedelta(minutes=step)
    actor = Actor.agent(profile.agent or AGENTS[0])
    clock_id = len(state.clocks) + 1
    if step in (1, 25):  # the assignment: the team's agent (once), or nobody
        if profile.agent is None or step == 25:
            return decisions.add_note(state, text="Pendiente de asignar", actor=actor, at=at)[0]
        return decisions.assign(state, agent=profile.agent, actor=actor, at=at)[0]
    if step == 5 and profile.pqr:
        return new_event(ClockStarted, state, actor, at, clock_id=clock_id,
                         kind=ClockKind.PQR_RESPONSE, started_at=at,
                         warn_at=at + timedelta(days=10), due_at=at + timedelta(days=15),
                         rule="bench", reference="CUN-BANCO")  # fmt: skip
    if step in (45, 46) and profile.pqr:
        pqr = next(c for c in state.clocks if c.kind is ClockKind.PQR_RESPONSE)
        if step == 45 and (profile.warned or profile.breached):
            return new_event(ClockWarned, state, actor, at, clock_id=pqr.clock_id,
                             due_at=pqr.due_at)  # fmt: skip
        if step == 46 and profile.breached:
            return new_event(ClockBreached, state, actor, at, clock_id=pqr.clock_id,
                             due_at=pqr.due_at)  # fmt: skip
    if step == 44 and profile.missed:
        assert isinstance(event, FollowUpCompleted)
        return new_event(FollowUpMissed, state, actor, at, follow_up_id=event.follow_up_id,
                         due_at=event.due_at)  # fmt: skip
    if step == 47 and not profile.open:  # the closing: no escalation left waiting
        return decisions.add_note(state, text="Cierre en preparación", actor=actor, at=at)[0]
    if step == 48 and not profile.open:
        return decisions.complete_follow_up(state, outcome="Cliente conforme", actor=actor,
                                            at=at)[0]  # fmt: skip
    if step == 49 and not profile.open:
        return new_event(Closed, state, actor, at, summary="Solucionado")
    if step % 10 == 8:  # the escalation of step 7 (`reads`) starts its area's clock
        reference = escalation_reference(len(state.escalations))
        return new_event(ClockStarted, state, actor, at, clock_id=clock_id,
                         kind=ClockKind.ESCALATION_RESPONSE, started_at=at,
                         warn_at=at + timedelta(days=2), due_at=at + timedelta(days=3),
                         rule="bench", reference=reference)  # fmt: skip
    if step % 10 == 9 and not (step == 49 and profile.waiting):  # the area answered
        running = [c for c in state.running_clocks if c.kind is ClockKind.ESCALATION_RESPONSE]
        return new_event(ClockStopped, state, actor, at, clock_id=running[-1].clock_id,
                         reason="Respuesta del área")  # fmt: skip
    return event


@dataclass
class Store:
    folder: Path
    office: Backoffice
    case_ids: list[uuid.UUID]
    open_ids: list[uuid.UUID]
    events: int
    build_seconds: float
    index_seconds: float
    kept: bool
    """Reused from an earlier run (`--keep`): not built, only caught up."""

    def megabytes(self) -> float:
        return sum(file_size(self.folder / n) for n in ("cases.sqlite", "case_index.sqlite")) / 1e6


def _settings(root: Path) -> Any:
    return load_settings(
        environ={}, data_dir=str(root / "console"), database_url="sqlite", secure_cookies="false"
    )


def build(root: Path, cases: int) -> Store:
    """The store in `root` (made there, or reused when a run with `--keep` left it there)."""
    settings = _settings(root)
    kept = (settings.data_dir / "cases.sqlite").exists()
    office = bootstrap.bootstrap(settings, clock=FixedClock(NOW))
    case_ids = [reads.case_id_of(n) for n in range(cases)]
    open_ids = [reads.case_id_of(n) for n in range(cases) if Profile.of(n).open]
    started = time.perf_counter()
    if not kept:
        for _, batch in reads.batches(cases, next_event):
            office.store.append(batch)
    built = time.perf_counter() - started
    started = time.perf_counter()
    office.catch_up(batch_size=20_000)
    indexed = time.perf_counter() - started
    events = office.store.last_position()
    assert office.count(CaseQuery()) == cases, "a kept store of another size"
    return Store(settings.data_dir, office, case_ids, open_ids, events, built, indexed, kept)


def _service(store: Store) -> tuple[Any, Service]:
    office = store.office
    settings = _settings(store.folder.parent)
    accounts = bootstrap.accounts(office, settings, hasher=Argon2Hasher(argon2.profiles.CHEAPEST))
    known = {account.login for account in accounts.list()}
    for login, role in ((SUPERVISOR, AccessRole.SUPERVISOR),
                        *((a, AccessRole.AGENT) for a in AGENTS)):  # fmt: skip
        if login not in known:
            accounts.add(login, role, "Equipo del banco", PASSWORD)
    service = Service(office, bootstrap.dispatcher(office, settings), accounts)
    app = create_app(settings, service=lambda: service, session_secret=bytes(32))
    return app, service


# --- the measures ----------------------------------------------------------------------------


@dataclass
class Times:
    panels: list[float] = field(default_factory=list)
    board: list[float] = field(default_factory=list)
    held: list[float] = field(default_factory=list)
    api_board: list[float] = field(default_factory=list)
    case_page: list[float] = field(default_factory=list)
    api_case: list[float] = field(default_factory=list)
    api_requests: int = 0


def _api_board_paths(office: Backoffice) -> list[str]:
    """The API's requests for what the board reads: its lists with its filters and limits,
    and each case whose clocks it shows."""
    now = office.clock.now()
    end = BusinessCalendar.end_of(BusinessCalendar.local_date(now))
    paths = [
        f"/follow-ups/due?until={end.isoformat().replace('+00:00', 'Z')}",
        f"/cases?missed=true&status=open&limit={ROWS}",
        f"/cases?unassigned=true&status=open&limit={ROWS}",
        f"/cases?waiting=true&status=open&limit={ROWS}",
        f"/cases?warned=true&limit={CLOCK_CASES}",
        f"/cases?breached=true&limit={CLOCK_CASES}",
    ]
    waiting = office.cases(CaseQuery(waiting=True, status=CaseStatus.OPEN, limit=CLOCK_CASES))
    warned = office.cases(CaseQuery(warned=True, limit=CLOCK_CASES))
    breached = office.cases(CaseQuery(breached=True, limit=CLOCK_CASES))
    return paths + [f"/cases/{case_id}" for case_id in clock_cases(waiting, warned, breached)]


def _timed(client: TestClient[Any], path: str) -> float:
    started = time.perf_counter()
    answer = client.get(path)
    elapsed = time.perf_counter() - started
    assert answer.status_code == 200, (path, answer.status_code, answer.text[:300])
    return elapsed


def measure(store: Store, sizes: Sizes) -> Times:
    app, service = _service(store)
    office = service.office
    rng = random.Random(14)
    times = Times()
    with TestClient(app) as client:
        signed = client.post("/session", json={"login": SUPERVISOR, "password": PASSWORD})
        assert signed.status_code in (200, 201), signed.text
        client.cookies.set("console_lang", "es-CO")
        api_paths = _api_board_paths(office)
        times.api_requests = len(api_paths)
        supervisor = Actor.agent(SUPERVISOR)

        def moved() -> None:  # a note on an open case: the log moved, the board reads again
            case = rng.choice(store.open_ids)
            before = office.store.last_position()
            # A note of its own (the same note again on a case is a no-op: nothing appended).
            text = f"Seguimiento del banco {uuid.uuid4().hex[:8]}"
            office.handle(AddNote(case=case, text=text), supervisor)
            assert office.store.last_position() > before, "the log did not move"

        def api_board() -> float:
            return sum(_timed(client, path) for path in api_paths)

        for n in range(sizes.warmup + sizes.rounds):
            kept = n >= sizes.warmup
            moved()
            panels = _timed(client, "/console/board/panels")
            held = _timed(client, "/console/board/panels")
            moved()
            board = _timed(client, "/console/board")
            moved()
            api = api_board()
            case_id = rng.choice(store.case_ids)
            page = _timed(client, f"/console/cases/{case_id}")
            api_case = _timed(client, f"/cases/{case_id}")
            if kept:
                times.panels.append(panels)
                times.held.append(held)
                times.board.append(board)
                times.api_board.append(api)
                times.case_page.append(page)
                times.api_case.append(api_case)
    return times


def _board_facts(office: Backoffice) -> str:
    def count(**given: Any) -> str:
        return f"{office.count(CaseQuery(**given)):,}"

    open_ = CaseStatus.OPEN
    return (
        f"{count(status=open_)} open cases, {count(unassigned=True, status=open_)} unassigned, "
        f"{count(missed=True, status=open_)} with a missed follow-up, "
        f"{count(waiting=True, status=open_)} waiting for an area, "
        f"{count(warned=True)} with a clock at warning, {count(breached=True)} breached"
    )


def run(root: Path, quick: bool) -> Section:
    sizes = QUICK if quick else FULL
    section = Section("(h) Console pages on the server: the board and a case page, vs the API")
    store = build(root, sizes.cases)
    try:
        facts = _board_facts(store.office)
        times = measure(store, sizes)
    finally:
        store.office.close()
    api_board = f"the API, {times.api_requests} requests"
    rows: tuple[tuple[str, list[float], str, list[float], bool], ...] = (
        ("board panels (`GET /console/board/panels`), the log moved", times.panels, api_board,
         times.api_board, True),
        ("board page (`GET /console/board`), the log moved", times.board, api_board,
         times.api_board, True),
        ("board panels, the log unchanged (held)", times.held, api_board, times.api_board,
         False),
        ("case page (`GET /console/cases/{id}`)", times.case_page,
         "`GET /cases/{id}`, same case", times.api_case, True),
    )  # fmt: skip
    for title, values, base_label, base, targeted in rows:
        p95 = percentile(values, 95)
        section.add(
            f"{title}, {store.events:,}-event store: p50 / p95",
            reads.stats(values),
            f"{base_label}: {reads.stats(base)}",
            f"{ratio(median(values) / median(base))} / {ratio(p95 / percentile(base, 95))}",
            f"p95 < {TARGET_MS:g} ms" if targeted else "",
            verdict(p95 * 1000 < TARGET_MS) if targeted else "",
        )
    made = "reused (`--keep`), caught up" if store.kept else "built, then its case index"
    section.add(
        f"the store ({len(store.case_ids):,} cases): {made}",
        f"{store.build_seconds:,.1f} s + {store.index_seconds:,.1f} s",
        "" if store.kept else f"{store.events / store.build_seconds:,.0f} events/s",
        "",
        "",
        "",
    )
    section.note(
        "In process: Litestar's `TestClient` over `create_app` (the ASGI stack, the session, "
        "the page's worker thread, the template; no socket), on SQLite "
        f"({store.megabytes():,.0f} MB, log and case index), one supervisor signed in. "
        f"{sizes.rounds} rounds after {sizes.warmup} not counted; each appends a note (not "
        "timed) before each board request, so that the board reads the index again, times "
        "the panels twice (the second held), the page, the API's board requests, then a "
        "random case both ways."
    )
    section.note(f"The store's board: {facts}; {len(AGENTS)} agents.")
    section.note(
        "Ratios: p50 over p50 / p95 over p95. The API's board requests are its lists with "
        "the board's filters and limits and each case whose clocks the board shows (the API "
        "has no route for the clocks alone; the board reads them from the case index); they "
        "leave out the counts by agent, which the API has no route for."
    )
    return section


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.console_pages",
                                     description="part (h) alone")  # fmt: skip
    parser.add_argument("--quick", action="store_true", help="a 100,000-event store")
    parser.add_argument("--keep", type=Path, help="make the store in this folder, or reuse it")
    args = parser.parse_args(argv)
    if args.keep is not None:
        args.keep.mkdir(parents=True, exist_ok=True)
        print(run(args.keep, args.quick).markdown())
        return
    with temp_dir("h") as root:
        print(run(root, args.quick).markdown())


if __name__ == "__main__":
    main()
