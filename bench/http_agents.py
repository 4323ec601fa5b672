"""Part (f): concurrent agents over HTTP (`backoffice serve`), on SQLite and PostgreSQL.

Each simulated agent is an asyncio task with its own `httpx.AsyncClient` (its own connection),
signed in with its own account (cookie session, CSRF token), working only its own cases. An
episode is an agent's work on one case: open the queue (`GET /cases?agent=…&status=open`),
open the first case in it not yet closed (`GET /cases/{id}`, its ETag), add a note, complete
the follow-up, then close the case (interpret it, register the marking, the closing protocol,
close): 8 requests, the 6 commands each with `If-Match` (the ETag of the previous answer).

Per backend (SQLite with 1 server worker, PostgreSQL with 2), in one run:

1. the store is prepared in process, not timed: a generated CRM export ingested, its cases
   assigned to the agents, one account per agent;
2. `backoffice serve` is started on a free loopback port; every agent signs in;
3. one agent: blocks of episodes over HTTP, back to back, interleaved with blocks of the same
   episodes through the embedding API in this process (`Backoffice.cases` and `.case`, the
   `Dispatcher` with `expected_version`) on other cases of the same store: the HTTP overhead
   per route. Over HTTP twice: with httpx (the load generator's client, as elsewhere) and
   with a thin client (`ThinClient`: one socket, httptools and msgspec), whose own cost is
   small, so that the client's share can be told from the server's. Then the floor of a
   request (`GET /healthz`, `GET /session`);
4. 25, 50 and 100 agents at once, paced: each waits a think time (uniform, mean `THINK`
   seconds) before each request, as people at a screen do: latency at a team's load;
5. 25, 50 and 100 agents at once, saturating: no think time (each sends its next request as
   soon as the last is answered): the server's capacity, and latency when it is the limit;
6. the server is stopped and the log read back: the events recorded after step 1 must equal
   the events the 2xx answers (and the direct calls) reported, case by case.

Beside the main server, a second one is started with `--http h11` (uvicorn's pure-Python
parser, its default before httptools was a dependency) on the same store: step 3 also runs
blocks with httpx against it, interleaved with the others, and it is idle afterwards: the
parser's effect, in the same run.

Every level is bounded in time (`Sizes.seconds`) and in episodes per agent; an agent stops at
the deadline between two requests.
"""

from __future__ import annotations

import asyncio
import contextlib
import enum
import json
import math
import os
import random
import re
import secrets
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import argon2
import attrs
import httptools
import httpx
import msgspec
import psycopg

from adapters.accounts import Argon2Hasher
from application.branches.commands import RegisterMarking
from application.case.commands import (
    AddNote,
    AssignCase,
    CloseCase,
    CompleteClosingProtocol,
    CompleteFollowUp,
    InterpretCase,
)
from application.dispatch import Command, Dispatcher
from application.intake.records import IntakeRecord
from application.ports.cases import CaseQuery
from application.service import Backoffice
from bench.common import Section, percentile, ratio, verdict
from domain.values import (
    Actor,
    CaseStatus,
    Category,
    Channel,
    LineOfBusiness,
    SourceKey,
    Subcategory,
)
from entrypoints.bootstrap import accounts as open_accounts
from entrypoints.bootstrap import bootstrap, dispatcher
from entrypoints.settings import Settings, load_settings

SCRIPT = str(Path(sys.executable).parent / "backoffice")
PASSWORD = "banco de pruebas: clave larga"
LEVELS = (25, 50, 100)
QUEUE_PAGE = 20
"""Cases an agent's queue shows (`limit`); the agent takes the first it has not closed yet."""
THINK = 1.0
"""Paced levels: the mean think time before each request, seconds (uniform, 0.5–1.5×). An
agent on the phone acts every 10–60 s; once a second is a heavy day."""
TIMEOUT = 30.0
TARGET_OVERHEAD = 2.0
"""One agent: what HTTP adds to an episode (HTTP − direct) is at most this many times the
direct calls' time (the issue's "HTTP overhead ≤ 2× the direct call"; docs/performance.md,
part (f), says how it is read). Judged on the thin client and on the server's own time;
httpx's rows are reported beside them (its own cost is the load generator's)."""
TARGET_P95 = 0.050
PG_HOST, PG_PORT, PG_USER = "127.0.0.1", 5432, "postgres"
WORKERS = {"sqlite": 1, "postgres": 2}

QUEUE, CASE = "GET /cases", "GET /cases/{id}"
HEALTHZ, SESSION = "GET /healthz", "GET /session"
COMMANDS = (
    "add-note",
    "complete-follow-up",
    "interpret-case",
    "register-marking",
    "complete-closing-protocol",
    "close-case",
)
ROUTES = (QUEUE, CASE, *(f"POST /commands/{name}" for name in COMMANDS))
NOTES = (
    "Llamé al cliente; confirma que el cobro persiste en la factura de este mes.",
    "Se valida en el CRM: la orden de trabajo sigue abierta, se pide prioridad al área.",
    "Cliente no contesta; se deja mensaje de voz y se reprograma el seguimiento.",
)


@dataclass(frozen=True)
class Sizes:
    warmup: int
    """Episodes at one agent, each way, before the timed rounds (not counted)."""
    rounds: int
    per_round: int
    """One agent: `rounds` blocks of `per_round` episodes over HTTP and as many direct."""
    floor: int
    """Requests to `GET /healthz` and to `GET /session` (one agent)."""
    seconds: float
    """Each paced level lasts this long; …"""
    saturated_seconds: float
    """… each saturating level this long, or until `episodes` in all (split among its
    agents)."""
    episodes: int


FULL = Sizes(warmup=5, rounds=6, per_round=15, floor=200, seconds=8.0, saturated_seconds=5.0,
             episodes=300)  # fmt: skip
QUICK = Sizes(warmup=3, rounds=3, per_round=6, floor=50, seconds=2.0, saturated_seconds=1.5,
              episodes=90)  # fmt: skip


def steps(case_id: uuid.UUID, serial: int) -> list[tuple[str, Command]]:
    """The commands of one episode, in order, as the embedding API takes them."""
    note = f"{NOTES[serial % len(NOTES)]} (#{serial})"
    interpret = InterpretCase(case=case_id, category=Category.SAC, subcategory=Subcategory.CARTERA)
    protocol = CompleteClosingProtocol(
        case=case_id,
        resolution_explained=True,
        nothing_else_pending=True,
        closing_script_read=True,
        survey_invited=True,
    )
    return [
        ("add-note", AddNote(case=case_id, text=note)),
        ("complete-follow-up", CompleteFollowUp(case=case_id, outcome="Llamada hecha a tiempo")),
        ("interpret-case", interpret),
        ("register-marking", RegisterMarking(case=case_id, marking="M-1")),
        ("complete-closing-protocol", protocol),
        ("close-case", CloseCase(case=case_id, summary="Resuelto: ajuste aplicado y explicado")),
    ]


def body(command: Command) -> dict[str, Any]:
    """The command as the JSON a client sends."""
    out: dict[str, Any] = {}
    for key, value in attrs.asdict(command, recurse=False).items():
        if value is None:
            continue
        out[key] = (
            str(value) if isinstance(value, uuid.UUID)
            else value.value if isinstance(value, enum.Enum) else value
        )  # fmt: skip
    return out


# --- what is measured ------------------------------------------------------------------------


@dataclass
class Tally:
    """One phase's requests (or direct calls): latency per route, errors, writes answered."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    episodes: int = 0
    commands_ok: int = 0
    wall: float = 0.0
    cpu: float = 0.0
    """This process's CPU time (the load generator's, or the direct calls'), seconds."""
    busy: float = 0.0
    """CPU-seconds the whole machine was busy (all cores, every process, from /proc/stat)."""
    server_cpu: float = 0.0
    server_ms: dict[str, list[float]] = field(default_factory=dict)
    """The server's own duration per route (its request log), seconds."""

    def error(self, route: str, what: str) -> None:
        self.errors[route] += 1
        if len(self.examples) < 5:
            self.examples.append(f"{route}: {what}")

    @property
    def requests(self) -> int:
        return sum(len(v) for v in self.latencies.values()) + sum(self.errors.values())

    @property
    def failed(self) -> int:
        return sum(self.errors.values())

    def all(self) -> list[float]:
        return [x for v in self.latencies.values() for x in v]


@dataclass
class Ledger:
    """Writes answered 2xx (or returned, direct), per case, over the whole run."""

    events: Counter[uuid.UUID] = field(default_factory=Counter)
    commands: int = 0

    def record(self, tally: Tally, case: uuid.UUID, events: int) -> None:
        tally.commands_ok += 1
        self.commands += 1
        self.events[case] += events


class Agent:
    """One simulated agent over HTTP: its own client (connection), session and cases."""

    def __init__(self, login: str, base: str, seed: int, client: Any = None) -> None:
        self.login = login
        self.client: Any = client or httpx.AsyncClient(base_url=base, timeout=TIMEOUT)
        """An `httpx.AsyncClient`, or a `ThinClient` (the same calls, the same answers)."""
        self.csrf = ""
        self.closed: set[str] = set()
        self.serial = 0
        self.rng = random.Random(seed)
        self.at = 0
        """The next request of the episode: 0 the queue, 1 the case, 2–7 the commands."""
        self.case = ""
        self.etag = ""
        self.level_start = 0

    async def sign_in(self) -> None:
        answer = await self.client.post("/session", json={"login": self.login,
                                                          "password": PASSWORD})  # fmt: skip
        answer.raise_for_status()
        self.csrf = answer.json()["csrf_token"]

    async def call(
        self, tally: Tally, route: str, method: str, url: str, **kwargs: Any
    ) -> tuple[httpx.Response, Any] | None:
        """One request, timed up to its parsed answer; None (an error counted) unless 2xx."""
        started = time.perf_counter()
        try:
            answer = await self.client.request(method, url, **kwargs)
            data = answer.json() if answer.is_success and answer.content else None
        except (httpx.HTTPError, ValueError, OSError) as error:
            tally.error(route, f"{type(error).__name__} {error}"[:160])
            return None
        elapsed = time.perf_counter() - started
        if not answer.is_success:
            tally.error(route, f"{answer.status_code} {answer.text[:160]}")
            return None
        tally.latencies[route].append(elapsed)
        return answer, data

    async def step(self, tally: Tally, ledger: Ledger) -> bool:
        """The next request of the agent's episode (8 in all: the queue, the case, the six
        commands); False when the queue had no open case left."""
        if self.at == 0:
            tally.episodes += 1
            self.serial += 1
            params = {"agent": self.login, "status": "open", "limit": QUEUE_PAGE}
            queue = await self.call(tally, QUEUE, "GET", "/cases", params=params)
            if queue is None:
                return True
            rows = [row["case_id"] for row in queue[1] if row["case_id"] not in self.closed]
            if not rows:
                tally.error(QUEUE, f"no open case left in {self.login}'s queue")
                return False
            self.case = rows[0]
            self.closed.add(self.case)  # whatever happens next, not taken again
            self.at = 1
        elif self.at == 1:
            seen = await self.call(tally, CASE, "GET", f"/cases/{self.case}")
            self.at = 0 if seen is None else 2
            self.etag = "" if seen is None else seen[0].headers["etag"]
        else:
            case = uuid.UUID(self.case)
            name, command = steps(case, self.serial)[self.at - 2]
            headers = {"X-CSRF-Token": self.csrf, "If-Match": self.etag}
            done = await self.call(tally, f"POST /commands/{name}", "POST",
                                   f"/commands/{name}", json=body(command),
                                   headers=headers)  # fmt: skip
            if done is None:
                self.at = 0  # the episode is abandoned; the case is not taken again
                return True
            self.etag = done[0].headers["etag"]
            ledger.record(tally, case, len(done[1]["events"]))
            self.at = (self.at + 1) % len(ROUTES)
        return True

    async def episode(self, tally: Tally, ledger: Ledger) -> None:
        """One case's work, back to back (from the queue to the closing)."""
        assert self.at == 0
        while await self.step(tally, ledger) and self.at != 0:
            pass

    async def level(
        self, tally: Tally, ledger: Ledger, deadline: float, cap: int, think: float | None
    ) -> None:
        """Work until `deadline`, or until `cap` episodes begun in this level; thinking before
        each request when paced."""
        while True:
            if think:
                pause = think * self.rng.uniform(0.5, 1.5)
                left = deadline - time.perf_counter()
                await asyncio.sleep(max(0.0, min(pause, left)))
                if pause >= left:
                    return
            if time.perf_counter() >= deadline:
                return
            if self.at == 0 and self.serial - self.level_start >= cap:
                return
            if not await self.step(tally, ledger):
                return

    async def preroll(self, untimed: Tally, ledger: Ledger) -> None:
        """Go a random number of requests into an episode, untimed, before a level: agents
        started at once would otherwise all open their queue together, then all add a note,
        and a short level would not reach the last commands."""
        if self.at == 0:
            for _ in range(self.rng.randrange(len(ROUTES))):
                await self.step(untimed, ledger)
        self.level_start = self.serial


class ThinAnswer:
    """What `Agent.call` reads of an answer (as httpx's `Response` gives it)."""

    def __init__(self, status: int, headers: dict[str, str], content: bytes) -> None:
        self.status_code, self.headers, self.content = status, headers, content

    @property
    def is_success(self) -> bool:
        return 200 <= self.status_code < 300

    @property
    def text(self) -> str:
        return self.content.decode("utf-8", "replace")

    def json(self) -> Any:
        return msgspec.json.decode(self.content)


class ThinClient:
    """An HTTP/1.1 keep-alive client as thin as Python allows: one socket, the request written
    by hand, the answer parsed by httptools (C) and its JSON by msgspec; the session cookie
    kept (and replaced when the server sends another). Not a general client: what the
    episodes send (JSON bodies, query strings, a few headers) and nothing else. It measures
    the server as a client that costs little would see it (a browser, a Go or Java service):
    httpx spends about a millisecond of CPU on each request in this process."""

    def __init__(self, base: str, cookies: dict[str, str]) -> None:
        self.host, port = base.removeprefix("http://").rsplit(":", 1)
        self.port = int(port)
        self.cookies = dict(cookies)
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def request(
        self, method: str, url: str, *, params: dict[str, Any] | None = None,
        json: Any = None, headers: dict[str, str] | None = None,
    ) -> ThinAnswer:  # fmt: skip
        if self.writer is None:
            self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
        assert self.reader is not None
        target = f"{url}?{urlencode(params)}" if params else url
        payload = b"" if json is None else msgspec.json.encode(json)
        lines = [f"{method} {target} HTTP/1.1", f"Host: {self.host}:{self.port}",
                 "Accept: */*", f"Content-Length: {len(payload)}"]  # fmt: skip
        if json is not None:
            lines.append("Content-Type: application/json")
        if self.cookies:
            lines.append("Cookie: " + "; ".join(f"{k}={v}" for k, v in self.cookies.items()))
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + payload)
        got = _Parsed()
        parser = httptools.HttpResponseParser(got)
        while not got.complete:
            data = await asyncio.wait_for(self.reader.read(65536), TIMEOUT)
            if not data:
                raise ConnectionError("the server closed the connection")
            parser.feed_data(data)
        for value in got.set_cookies:
            name, _, rest = value.partition("=")
            content = rest.split(";", 1)[0]
            if content and "max-age=0" not in value.lower():
                self.cookies[name.strip()] = content
            else:
                self.cookies.pop(name.strip(), None)
        return ThinAnswer(parser.get_status_code(), got.headers, b"".join(got.body))

    async def aclose(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(OSError):
                await self.writer.wait_closed()
            self.writer = None


class _Parsed:
    """httptools' callbacks: one answer's headers and body."""

    def __init__(self) -> None:
        self.headers: dict[str, str] = {}
        self.set_cookies: list[str] = []
        self.body: list[bytes] = []
        self.complete = False

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        if key == "set-cookie":
            self.set_cookies.append(value.decode("latin-1"))
        self.headers[key] = value.decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.complete = True


class Direct:
    """The same episodes through the embedding API, in this process (one agent)."""

    def __init__(self, office: Backoffice, door: Dispatcher, login: str) -> None:
        self.office, self.door, self.login = office, door, login
        self.actor = Actor.agent(login)
        self.closed: set[uuid.UUID] = set()
        self.serial = 0

    def episode(self, tally: Tally, ledger: Ledger) -> None:
        tally.episodes += 1
        self.serial += 1
        clock = time.perf_counter
        started = clock()
        rows = self.office.cases(CaseQuery(agent=self.login, status=CaseStatus.OPEN,
                                           limit=QUEUE_PAGE))  # fmt: skip
        tally.latencies[QUEUE].append(clock() - started)
        case = next(r.case_id for r in rows if r.case_id not in self.closed)
        self.closed.add(case)
        started = clock()
        version = self.office.case(case).version
        tally.latencies[CASE].append(clock() - started)
        for name, command in steps(case, self.serial):
            started = clock()
            result = self.door.handle(command, self.actor, expected_version=version)
            tally.latencies[f"POST /commands/{name}"].append(clock() - started)
            version = result.case.version
            ledger.record(tally, case, len(result.events))


# --- the machine's and the server's CPU ----------------------------------------------------


def _machine_busy() -> float:
    """CPU-seconds the machine has been busy since boot (all cores, every process)."""
    with open("/proc/stat", encoding="ascii") as stat:
        values = [int(v) for v in stat.readline().split()[1:]]
    idle = values[3] + values[4]
    return (sum(values[:8]) - idle) / os.sysconf("SC_CLK_TCK")


def _tree_cpu(pid: int) -> float:
    """CPU-seconds used so far by a process and its live descendants (the server's workers)."""
    total = 0.0
    pending = [pid]
    while pending:
        current = pending.pop()
        try:
            with open(f"/proc/{current}/stat", encoding="ascii") as stat:
                fields = stat.read().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            with open(f"/proc/{current}/task/{current}/children", encoding="ascii") as kids:
                pending += [int(k) for k in kids.read().split()]
        except OSError:
            continue
    return total


def connections_per_process(pid: int, port: int) -> list[int]:
    """Established connections to `port` held by each of the server's processes (a worker
    keeps a client's keep-alive connection: an agent stays with the worker that accepted
    it), largest first."""
    inodes: set[str] = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table, encoding="ascii") as rows:
                for row in rows.read().splitlines()[1:]:
                    cells = row.split()
                    if int(cells[1].rsplit(":", 1)[1], 16) == port and cells[3] == "01":
                        inodes.add(cells[9])
        except OSError:
            continue
    counts = []
    pending = [pid]
    while pending:
        current = pending.pop()
        held = 0
        try:
            for fd in os.listdir(f"/proc/{current}/fd"):
                with contextlib.suppress(OSError):
                    target = os.readlink(f"/proc/{current}/fd/{fd}")
                    held += target.startswith("socket:[") and target[8:-1] in inodes
            with open(f"/proc/{current}/task/{current}/children", encoding="ascii") as kids:
                pending += [int(k) for k in kids.read().split()]
        except OSError:
            continue
        if held:
            counts.append(held)
    return sorted(counts, reverse=True)


@contextmanager
def measured(tally: Tally, server: int | None) -> Iterator[None]:
    wall, cpu, busy = time.perf_counter(), time.process_time(), _machine_busy()
    served = _tree_cpu(server) if server else 0.0
    try:
        yield
    finally:
        tally.wall += time.perf_counter() - wall
        tally.cpu += time.process_time() - cpu
        tally.busy += _machine_busy() - busy
        if server:
            tally.server_cpu += _tree_cpu(server) - served


# --- the store, the accounts, the server ---------------------------------------------------


def one_agent_episodes(sizes: Sizes) -> int:
    return sizes.warmup + sizes.rounds * sizes.per_round


def paced_cap(sizes: Sizes) -> int:
    """The most episodes a paced agent can start in a level (the shortest think times)."""
    return math.floor(sizes.seconds / (len(ROUTES) * 0.5 * THINK)) + 1


def saturated_cap(sizes: Sizes, n: int) -> int:
    return math.ceil(sizes.episodes / n)


@dataclass
class Plan:
    """Which agent works how many cases (`direct` is the embedding API's agent)."""

    sizes: Sizes
    logins: list[str]
    direct: str = "bench.direct"

    def cases_of(self, index: int) -> int:
        s = self.sizes
        # each level: its cap, and one more begun by the pre-roll
        levels = sum(paced_cap(s) + saturated_cap(s, n) + 2 for n in LEVELS if index < n)
        # the first agent's one-agent blocks: with httpx on the h11 server, then with httpx
        # and with the thin client on the main one
        return (3 * one_agent_episodes(s) if index == 0 else 0) + levels

    def per_agent(self) -> dict[str, int]:
        wanted = {login: self.cases_of(i) for i, login in enumerate(self.logins)}
        wanted[self.direct] = 2 * one_agent_episodes(self.sizes)  # beside each server
        return wanted


def prepare(office: Backoffice, settings: Settings, plan: Plan) -> tuple[int, float]:
    """Ingest the cases, give each agent its own, make the accounts. Cases and seconds."""
    started = time.perf_counter()
    now = office.clock.now()
    records: list[IntakeRecord] = []
    owners: list[str] = []
    for login, count in plan.per_agent().items():
        for _ in range(count):
            i = len(records)
            records.append(IntakeRecord(
                source=SourceKey(Channel.CRM, f"HTTPB-{i:07d}"),
                received_at=now - timedelta(hours=1), account=f"{70_000_000 + i}",
                line=LineOfBusiness.HOGAR if i % 3 else LineOfBusiness.MOVIL,
                customer_name="Cliente de Prueba", typification="Facturación - cobro no reconocido",
                request="Cobro no reconocido en la factura", follow_up_at=now + timedelta(days=1),
                front_agent="front.bench", recommended_by=None, location=f"bench:{i}",
            ))  # fmt: skip
            owners.append(login)
    report = office.ingest(records, batch_size=len(records))
    assert report.created == len(records), report
    for record, login in zip(records, owners, strict=True):
        office.handle(AssignCase(case=record.source.case_id(), agent=login), Actor.agent(login))
    # Argon2's cheapest profile for the bench's accounts (a hash carries its own cost): 100
    # agents sign in in a second; sign-in is not what this part measures.
    accounts = open_accounts(office, settings, hasher=Argon2Hasher(argon2.profiles.CHEAPEST))
    try:
        for login in plan.logins:
            accounts.add(login, "agent", f"Agente {login}", PASSWORD)
    finally:
        accounts.close()
    return len(records), time.perf_counter() - started


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    base: str
    log: Path
    connections: list[int] = field(default_factory=list)
    """The agents' connections held by each server process, once all signed in."""


@contextmanager
def serving(
    env: dict[str, str], log: Path, workers: int, http: str = "httptools"
) -> Iterator[Server]:
    """`backoffice serve --http <http>` on a free loopback port; its request log (stderr)
    goes to `log`."""
    port = _free_port()
    with open(log, "wb") as err:
        process = subprocess.Popen(
            [SCRIPT, "serve", "--host", "127.0.0.1", "--port", str(port),
             "--workers", str(workers), "--http", http],
            env=env, stdout=subprocess.DEVNULL, stderr=err,
        )  # fmt: skip
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            if process.poll() is not None:
                raise RuntimeError(f"the server stopped: {log.read_text()[-2000:]}")
            if time.monotonic() > deadline:
                raise RuntimeError("the server did not start in 60 s")
            time.sleep(0.1)
        yield Server(process, base, log)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def backend(kind: str, root: Path) -> Iterator[tuple[Settings, dict[str, str]] | None]:
    """The settings (in process) and the server's environment; on PostgreSQL a fresh
    database, dropped afterwards (None when no server answers)."""
    data = root / f"{kind}-data"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("BACKOFFICE_", "PG"))}
    env["BACKOFFICE_DATA_DIR"] = str(data)
    env["BACKOFFICE_SECURE_COOKIES"] = "false"  # plain HTTP on the loopback
    if kind == "sqlite":
        yield load_settings(environ={}, data_dir=str(data), database_url="sqlite"), env
        return
    try:
        admin = psycopg.connect(host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres",
                                autocommit=True, connect_timeout=3)  # fmt: skip
    except psycopg.Error:
        yield None
        return
    name = f"bench_http_{uuid.uuid4().hex[:12]}"
    url = f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    try:
        admin.execute(f'CREATE DATABASE "{name}"')
        env["BACKOFFICE_DATABASE_URL"] = url
        env["BACKOFFICE_SESSION_SECRET"] = secrets.token_hex(32)
        yield load_settings(environ={}, data_dir=str(data), database_url=url), env
    finally:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.close()


# --- the run -------------------------------------------------------------------------------

ONE, FLOOR = "1 agent", "floor"
THIN = "1 agent, thin client"
H11 = "1 agent, h11 server"
"""The same one-agent blocks (httpx) against a server started with `--http h11`."""


def paced(n: int) -> str:
    return f"{n} agents, paced"


def saturating(n: int) -> str:
    return f"{n} agents, saturating"


PHASES = (ONE, THIN, H11, FLOOR, *map(paced, LEVELS), *map(saturating, LEVELS))


@dataclass
class Outcome:
    """What one backend gave."""

    kind: str
    workers: int
    cases: int
    setup: float
    direct: Tally
    """The direct calls interleaved with the one-agent blocks over HTTP."""
    untimed: Tally
    """Warm-up and pre-roll requests: their errors count, their latency does not."""
    phases: dict[str, Tally]
    connections: list[int]
    server_problems: list[str]
    commands_ok: int
    events_answered: int
    events_logged: int
    cases_differing: int
    other_events: int

    @property
    def label(self) -> str:
        return f"{self.kind}, {self.workers} worker{'s' if self.workers > 1 else ''}"

    def all_tallies(self) -> list[Tally]:
        return [self.direct, self.untimed, *self.phases.values()]


async def drive(
    server: Server, old: Server, plan: Plan, direct: Direct, ledger: Ledger, sizes: Sizes
) -> tuple[Tally, Tally, dict[str, Tally], dict[str, list[tuple[int, int]]]]:
    """Sign everyone in; one agent (interleaved with direct calls); the floor; the paced
    levels; the saturating levels. Returns the direct calls' tally, the untimed requests'
    (warm-up, pre-rolls), each phase's, and each phase's spans of the server's log."""
    agents = [Agent(login, server.base, seed=i) for i, login in enumerate(plan.logins)]
    pid = server.process.pid
    phases = {name: Tally() for name in PHASES}
    spans: dict[str, list[tuple[int, int]]] = defaultdict(list)
    direct_tally, untimed = Tally(), Tally()

    @contextmanager
    def phase(name: str) -> Iterator[Tally]:
        serving = old if name == H11 else server
        start = serving.log.stat().st_size
        with measured(phases[name], serving.process.pid):
            yield phases[name]
        spans[name].append((start, serving.log.stat().st_size))
        if name not in (ONE, THIN, H11, FLOOR):
            _say(f"  {name}: {phases[name].requests:,} requests, {phases[name].failed} failed")

    async def level(name: str, n: int, seconds: float, cap: int, think: float | None) -> None:
        await asyncio.gather(*(agent.preroll(untimed, ledger) for agent in agents[:n]))
        with phase(name) as tally:
            deadline = time.perf_counter() + seconds
            await asyncio.gather(
                *(agent.level(tally, ledger, deadline, cap, think) for agent in agents[:n])
            )

    try:
        gate = asyncio.Semaphore(10)

        async def sign_in(agent: Agent) -> None:
            async with gate:
                await agent.sign_in()

        signing = time.perf_counter()
        await asyncio.gather(*(sign_in(a) for a in agents))
        _say(f"{len(agents)} agents signed in in {time.perf_counter() - signing:.1f} s")
        port = int(server.base.rsplit(":", 1)[1])
        server.connections = connections_per_process(pid, port)
        first = agents[0]
        thin = Agent(first.login, server.base, seed=-1,
                     client=ThinClient(server.base, dict(first.client.cookies)))  # fmt: skip
        thin.csrf = first.csrf
        before = Agent(first.login, old.base, seed=-2)
        await before.sign_in()
        agents += [thin, before]  # closed with the others; in no level
        ways = {ONE: first, THIN: thin, H11: before}
        await one_agent(ways, direct, (direct_tally, untimed), ledger, sizes, phase)
        with phase(FLOOR) as tally:
            for route, path in ((HEALTHZ, "/healthz"), (SESSION, "/session")):
                for _ in range(sizes.floor):
                    await first.call(tally, route, "GET", path)
        for n in LEVELS:
            await level(paced(n), n, sizes.seconds, paced_cap(sizes), THINK)
        for n in LEVELS:
            await level(saturating(n), n, sizes.saturated_seconds, saturated_cap(sizes, n), None)
        return direct_tally, untimed, phases, spans
    finally:
        await asyncio.gather(*(a.client.aclose() for a in agents))


async def one_agent(
    ways: dict[str, Agent],
    direct: Direct,
    tallies: tuple[Tally, Tally],
    ledger: Ledger,
    sizes: Sizes,
    phase: Callable[[str], contextlib.AbstractContextManager[Tally]],
) -> None:
    """Step 3: warm-up episodes each way, then rounds of blocks of episodes, one block each
    way (direct, and each phase's agent over HTTP), their order turning each round."""
    direct_tally, untimed = tallies
    for _ in range(sizes.warmup):
        direct.episode(untimed, ledger)
        for agent in ways.values():
            await agent.episode(untimed, ledger)
    order = ["direct", *ways]
    for round_no in range(sizes.rounds):
        turn = round_no % len(order)
        for way in order[turn:] + order[:turn]:
            if way == "direct":
                with measured(direct_tally, None):
                    for _ in range(sizes.per_round):
                        direct.episode(direct_tally, ledger)
                continue
            with phase(way) as tally:
                for _ in range(sizes.per_round):
                    await ways[way].episode(tally, ledger)


SERVE_BANNER = "Serving "
"""How `backoffice serve`'s one line on start begins (where it serves, what): not a problem."""


def read_server_log(
    log: Path, phases: dict[str, Tally], spans: dict[str, list[tuple[int, int]]]
) -> list[str]:
    """Each phase's server-side durations by route (from the request log); the lines that
    are not a request answered below 500 (errors, tracebacks, warnings)."""
    text = log.read_bytes()
    for name, parts in spans.items():
        routes: dict[str, list[float]] = defaultdict(list)
        lines = [line for start, end in parts for line in text[start:end].splitlines()]
        for line in lines:
            try:
                entry = json.loads(line)
            except ValueError:
                continue
            if entry.get("msg") == "request":
                route = re.sub(r"\{reference(:str)?\}", "{id}", str(entry["route"]))
                routes[f"{entry['method']} {route}"].append(entry["ms"] / 1000)
        phases[name].server_ms = dict(routes)
    problems: list[str] = []
    for written in text.decode("utf-8", "replace").splitlines():
        try:
            entry = json.loads(written)
        except ValueError:
            if written.strip() and not written.startswith(SERVE_BANNER):
                problems.append(written.strip()[:200])
            continue
        if entry.get("msg") != "request" or int(entry.get("status", 200)) >= 500:
            problems.append(written[:200])
    return problems


def count_log(office: Backoffice, after: int) -> Counter[uuid.UUID]:
    """The events the log holds after position `after`, per case."""
    counted: Counter[uuid.UUID] = Counter()
    while True:
        page = office.store.read_log(after, 5_000)
        if not page:
            return counted
        for logged in page:
            counted[logged.event.originator_id] += 1
        after = page[-1].position


def run_backend(kind: str, root: Path, sizes: Sizes) -> Outcome | None:
    with backend(kind, root) as given:
        if given is None:
            return None
        settings, env = given
        plan = Plan(sizes, [f"bench.a{i:03d}" for i in range(max(LEVELS))])
        office = bootstrap(settings)
        try:
            cases, setup = prepare(office, settings, plan)
            _say(f"{kind}: {cases:,} cases and {len(plan.logins)} accounts ready")
            start = office.store.last_position()
            direct = Direct(office, dispatcher(office, settings), plan.direct)
            ledger = Ledger()
            old_log = root / f"{kind}-serve-h11.log"
            log = root / f"{kind}-serve.log"
            with (
                serving(env, old_log, WORKERS[kind], http="h11") as old,
                serving(env, log, WORKERS[kind]) as server,
            ):
                _say(f"{kind}: serving")
                direct_tally, untimed, phases, spans = asyncio.run(
                    drive(server, old, plan, direct, ledger, sizes)
                )
                connections = server.connections
            _say(f"{kind}: stopped")
            logged = count_log(office, start)
        finally:
            office.close()
        main = {name: spans[name] for name in spans if name != H11}
        problems = read_server_log(log, phases, main)
        problems += read_server_log(old_log, phases, {H11: spans[H11]})
        ours = set(ledger.events)
        return Outcome(
            kind=kind, workers=WORKERS[kind], cases=cases, setup=setup, direct=direct_tally,

            untimed=untimed, phases=phases, connections=connections, server_problems=problems,
            commands_ok=ledger.commands,
            events_answered=sum(ledger.events.values()),
            events_logged=sum(logged[c] for c in ours),
            cases_differing=sum(1 for c in ours | set(logged) if logged[c] != ledger.events[c]),
            other_events=sum(v for c, v in logged.items() if c not in ours),
        )  # fmt: skip


# --- the report ----------------------------------------------------------------------------


def _ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}" if seconds < 0.1 else f"{seconds * 1000:,.0f}"


def _p(values: Sequence[float], q: float = 50) -> str:
    return _ms(percentile(values, q)) if values else "–"


def _pcts(values: Sequence[float]) -> str:
    return " / ".join(_p(values, q) for q in (50, 95, 99)) if values else "–"


def _episode(tally: Tally) -> float:
    """Wall time of one episode (its 8 requests) in the blocks that ran them back to back."""
    return tally.wall / max(1, tally.episodes)


def _served(tally: Tally) -> float:
    """The server's own time of one episode: its request log's durations (from the request
    reaching the application to its answer sent, uvicorn's parsing and the socket aside),
    summed over the blocks, per episode."""
    return sum(sum(v) for v in tally.server_ms.values()) / max(1, tally.episodes)


class HttpSection(Section):
    """The usual table, then tables per backend: every route's latency, every level."""

    def __init__(self, title: str) -> None:
        super().__init__(title)
        self.tables: list[str] = []

    def markdown(self) -> str:
        return "\n".join([super().markdown(), *self.tables])


def report(outcomes: Sequence[Outcome], sizes: Sizes, skipped: Sequence[str]) -> Section:
    section = HttpSection("(f) Concurrent agents over HTTP (`backoffice serve`)")
    for o in outcomes:
        one, thin, direct = o.phases[ONE], o.phases[THIN], o.direct
        both = Tally(episodes=one.episodes + thin.episodes)
        both.server_ms = {"all": [x for t in (one, thin) for v in t.server_ms.values() for x in v]}
        target = f"adds ≤ {TARGET_OVERHEAD:.0f}×"
        for what, tally, judged in (
            ("HTTP (thin client: a socket, httptools, msgspec) vs the embedding API", thin,
             True),
            ("the server's own time (its request log) vs the embedding API", both, True),
            ("HTTP (httpx, the load generator's client) vs the embedding API", one, False),
            ("HTTP (httpx) against `serve --http h11` (before) vs the embedding API",
             o.phases[H11], False),
        ):  # fmt: skip
            took = _served(tally) if what.startswith("the server") else _episode(tally)
            plain = _episode(direct)
            added = (took - plain) / plain  # what HTTP adds, against the direct call
            section.add(
                f"{o.label}: one agent, an episode (8 requests, back to back), {what}",
                f"{_ms(took)} ms", f"{_ms(plain)} ms",
                f"{ratio(took / plain)}; adds {ratio(added)}", target if judged else "",
                verdict(added <= TARGET_OVERHEAD) if judged else "",
            )  # fmt: skip
        for n in LEVELS:
            t = o.phases[paced(n)]
            p95 = percentile(t.all(), 95) if t.all() else math.inf
            target = met = ""
            if n == max(LEVELS) and o.kind == "postgres":
                target, met = f"p95 ≤ {TARGET_P95 * 1000:.0f} ms", verdict(p95 <= TARGET_P95)
            section.add(
                f"{o.label}: {paced(n)} (think {THINK:g} s): requests/s; p50 / p95 / p99 ms",
                f"{t.requests / t.wall:,.0f}/s; {_pcts(t.all())}",
                f"1 agent: {_pcts(one.all())}",
                ratio(p95 / percentile(one.all(), 95)), target, met,
            )  # fmt: skip
        base = one.commands_ok / one.wall
        for n in LEVELS:
            t = o.phases[saturating(n)]
            section.add(
                f"{o.label}: {saturating(n)}: commands/s (2xx); p50 / p95 / p99 ms",
                f"{t.commands_ok / t.wall:,.0f}/s; {_pcts(t.all())}",
                f"1 agent: {base:,.0f}/s", ratio(t.commands_ok / t.wall / base),
            )  # fmt: skip
        failed = sum(t.failed for t in o.all_tallies())
        section.add(
            f"{o.label}: requests answered with an error (or not at all)",
            f"{failed:,}", f"of {sum(t.requests for t in o.all_tallies()):,}", "", "0",
            verdict(failed == 0 and not o.server_problems),
        )  # fmt: skip
        exact = o.events_answered == o.events_logged and not o.cases_differing
        section.add(
            f"{o.label}: events in the log after the run vs reported by the answers",
            f"{o.events_logged:,}", f"{o.events_answered:,} ({o.commands_ok:,} commands 2xx)",
            ratio(o.events_logged / max(1, o.events_answered)), "equal, case by case",
            verdict(exact and o.other_events == 0),
        )  # fmt: skip
        section.tables += [_route_table(o), _phase_table(o)]
        if o.server_problems:
            section.note(f"{o.label}: {len(o.server_problems)} line(s) of the server's log are "
                         f"not a request answered below 500: {o.server_problems[:3]}")  # fmt: skip
        examples = [e for t in o.all_tallies() for e in t.examples][:3]
        if examples:
            section.note(f"{o.label}: errors, e.g. {examples}")
    section.note(
        f"An episode is one agent's work on one of its cases: open the queue (`GET /cases"
        f"?agent=…&status=open&limit={QUEUE_PAGE}`), open the first case not yet closed, then "
        f"six commands with `If-Match`: add-note, complete-follow-up, and the closing "
        f"(interpret-case, register-marking, complete-closing-protocol, close-case). Each agent "
        f"has its own client, connection, session and cases (assigned before the run)."
    )
    section.note(
        f"One agent's target: what HTTP adds to an episode (HTTP − direct) at most "
        f"{TARGET_OVERHEAD:g}× the direct calls' time (the ratio column: HTTP / direct, then "
        f"what it adds / direct), judged on the thin client and on the server's own time. "
        f"httpx's rows have no target: httpx costs this process about a millisecond of CPU a "
        f"request, the load generator's, which a client that costs little (a browser, a "
        f"service in a compiled language) does not pay."
    )
    section.note(
        f"One agent: {sizes.warmup} warm-up episodes each way, then {sizes.rounds} interleaved "
        f"blocks of {sizes.per_round} episodes over HTTP with httpx, {sizes.per_round} over "
        f"HTTP with the thin client, {sizes.per_round} with httpx against a second server "
        f"started with `--http h11` (the same store) and {sizes.per_round} through the "
        f"embedding API in this process (`Backoffice.cases`, `Backoffice.case`, "
        f"`Dispatcher.handle` with `expected_version`) on the same store. The server's own "
        f"time is what its request log measures: from the request reaching the application "
        f"to the answer handed to uvicorn (the parsing of the request, the socket and the "
        f"client are not in it). Each level starts "
        f"with every agent a random 0–7 requests into an episode (untimed), so that the "
        f"routes are mixed from the first second. Paced levels: each "
        f"agent thinks {THINK / 2:g}–{THINK * 1.5:g} s before each request, for "
        f"{sizes.seconds:g} s. Saturating levels: no think time, for "
        f"{sizes.saturated_seconds:g} s or {sizes.episodes} episodes in all; there the "
        f"latency is about agents ÷ throughput (Little's law), whatever the code does. "
        f"Latency is the client's, from sending to the parsed answer; the server's own (its "
        f"request log) is in the route tables."
    )
    section.note(
        "The load generator (this process: one asyncio loop, httpx) shares the two cores "
        "with the server and PostgreSQL, and the machine is shared with other work: the "
        "phase tables give each one's CPU. Accounts use Argon2's cheapest profile (sign-in "
        "is not measured); RR/AC have no gateway here, so notes and markings are recorded on "
        "the case only, through the API and directly alike."
    )
    for kind in skipped:
        section.note(f"{kind}: skipped (no server at {PG_HOST}:{PG_PORT}).")
    return section


def _route_table(o: Outcome) -> str:
    one, top = o.phases[ONE], max(LEVELS)
    thin = o.phases[THIN]
    head = [
        "direct, 1 agent", "HTTP, 1 agent", "thin client, 1 agent", "server, 1 agent",
        "HTTP / direct (p50)", "thin / direct (p50)",
        *(paced(n) for n in LEVELS), saturating(top), f"server, {top} paced / saturating",
    ]  # fmt: skip
    lines = [
        f"**{o.label}**: latency by route, p50 / p95 / p99 ms (the server's own: p50)",
        "",
        "| route | " + " | ".join(head) + " |",
        "|---|" + "---:|" * len(head),
    ]
    floor = o.phases[FLOOR]
    for route in (*ROUTES, HEALTHZ, SESSION):
        h = one.latencies.get(route) or floor.latencies.get(route, [])
        s = one.server_ms.get(route) or floor.server_ms.get(route, [])
        d = o.direct.latencies.get(route, [])
        t = thin.latencies.get(route) or []
        cells = [
            _pcts(d), _pcts(h), _pcts(t), _p(s),
            ratio(percentile(h, 50) / percentile(d, 50)) if h and d else "–",
            ratio(percentile(t, 50) / percentile(d, 50)) if t and d else "–",
            *(_pcts(o.phases[paced(n)].latencies.get(route, [])) for n in LEVELS),
            _pcts(o.phases[saturating(top)].latencies.get(route, [])),
            f"{_p(o.phases[paced(top)].server_ms.get(route, []))} / "
            f"{_p(o.phases[saturating(top)].server_ms.get(route, []))}",
        ]  # fmt: skip
        lines.append(f"| `{route}` | " + " | ".join(cells) + " |")
    lines.append("")
    return "\n".join(lines)


def _phase_table(o: Outcome) -> str:
    lines = [
        f"**{o.label}**: by phase (CPU in cores: CPU-seconds over wall seconds, of 2; the "
        "machine's counts every process)",
        "",
        "| phase | wall | episodes | requests/s | commands/s | errors | all requests p50 / p95 "
        "/ p99 ms | machine CPU | server CPU | load generator CPU |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name, t in [("1 agent, direct", o.direct), *o.phases.items()]:
        if not t.wall:
            continue
        server = f"{t.server_cpu / t.wall:.2f}" if t is not o.direct else "–"
        lines.append(
            f"| {name} | {t.wall:.1f} s | {t.episodes:,} | {t.requests / t.wall:,.0f} | "
            f"{t.commands_ok / t.wall:,.0f} | {t.failed} | {_pcts(t.all())} | "
            f"{t.busy / t.wall:.2f} | {server} | {t.cpu / t.wall:.2f} |"
        )
    lines += [
        "",
        f"Setup (not timed above): {o.cases:,} cases ingested and assigned, {max(LEVELS)} "
        f"accounts, in {o.setup:.1f} s. After the run: {o.commands_ok:,} commands answered "
        f"2xx (or returned, direct) reported {o.events_answered:,} events; the log holds "
        f"{o.events_logged:,} on those cases ({o.cases_differing} case(s) differing, "
        f"{o.other_events} event(s) on other cases). The agents' {max(LEVELS)} connections, "
        f"by server process: {' / '.join(map(str, o.connections)) or '?'} (a keep-alive "
        f"connection stays with the worker that accepted it).",
        "",
    ]
    return "\n".join(lines)


_STARTED = [time.perf_counter()]


def _say(text: str) -> None:
    elapsed = time.perf_counter() - _STARTED[0]
    print(f"  (f) {elapsed:6.1f} s  {text}", file=sys.stderr, flush=True)


def run(root: Path, quick: bool) -> Section:
    sizes = QUICK if quick else FULL
    outcomes: list[Outcome] = []
    skipped: list[str] = []
    _STARTED[0] = time.perf_counter()
    for kind in WORKERS:
        outcome = run_backend(kind, root, sizes)
        if outcome is None:
            skipped.append(kind)
        else:
            outcomes.append(outcome)
    return report(outcomes, sizes, skipped)
