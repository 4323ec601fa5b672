"""Part (f)'s companion: the server's own time per route, in process, without a socket.

    .venv/bin/python -m bench.http_server_time [--episodes 200] [--database-url URL]
                                               [--profile "POST /commands/add-note"]

The application of `backoffice serve` (`entrypoints.http.app.create_app`) over a real office
(SQLite in a temporary folder, or a PostgreSQL database given by its URL, which must be
empty), driven through `httpx.ASGITransport`: part (f)'s episode (the queue, the case, the
six commands with `If-Match`), then `GET /session` and `GET /healthz`, for one signed-in
agent; each episode is followed by the same one through the embedding API on another case
(`Backoffice.cases`/`case`, `Dispatcher.handle` with `expected_version`), as part (f) does.
The server's time of a request is from the ASGI call to its return (the request log's
measure, without uvicorn's parsing and the socket). Medians after `WARMUP` episodes.

`--profile ROUTE` also runs cProfile over that route's requests (the event loop's thread
only: the work a handler does in a worker thread is not seen; `--inline` runs anyio's worker
thread calls on the loop instead, so that it is).
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import pstats
import statistics
import tempfile
import time
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import argon2
import httpx

from adapters.accounts import Argon2Hasher
from application.case.commands import AssignCase
from application.ports.cases import CaseQuery
from bench.common import billing_record
from bench.http_agents import COMMANDS, PASSWORD, body, steps
from domain.values import Actor, CaseStatus
from entrypoints import bootstrap
from entrypoints.http.app import create_app
from entrypoints.http.common import Service
from entrypoints.settings import load_settings

LOGIN = "bench.server"
WARMUP = 20
ROUTES = ("GET /cases", "GET /cases/{id}", *(f"POST /commands/{n}" for n in COMMANDS))
FLOOR = ("GET /session", "GET /healthz")


def parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m bench.http_server_time")
    parser.add_argument("--episodes", type=int, default=200)
    parser.add_argument("--database-url", default="sqlite", help="sqlite, or postgresql://…")
    parser.add_argument("--profile", default="", help="a route, as printed")
    parser.add_argument("--inline", action="store_true", help="anyio's thread calls inline")
    parser.add_argument("--sort", default="cumulative", help="the profile's order (tottime…)")
    return parser.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> None:
    args = parse_args(argv)
    if args.inline:
        import anyio.to_thread

        async def inline(fn: Any, *given: Any, **_: Any) -> Any:
            return fn(*given)

        anyio.to_thread.run_sync = inline  # type: ignore[assignment]
    with tempfile.TemporaryDirectory() as folder:
        settings = load_settings(
            environ={},
            data_dir=str(Path(folder) / "data"),
            database_url=args.database_url,
            secure_cookies="false",
        )
        office = bootstrap.bootstrap(settings)
        now = office.clock.now()
        records = [billing_record("SRVT", i, now) for i in range(2 * args.episodes)]
        office.ingest(records, batch_size=len(records))
        for record in records:
            office.handle(AssignCase(case=record.source.case_id(), agent=LOGIN), Actor.agent(LOGIN))
        accounts = bootstrap.accounts(
            office, settings, hasher=Argon2Hasher(argon2.profiles.CHEAPEST)
        )
        accounts.add(LOGIN, "agent", "Agente del banco", PASSWORD)
        service = Service(office, bootstrap.dispatcher(office, settings), accounts)
        app = create_app(settings, service=lambda: service, session_secret=bytes(32))
        cases = [record.source.case_id() for record in records]
        server, direct = asyncio.run(_run(app, service, cases, args.profile, args.sort))
    _report(server, direct, args.profile)


async def _run(
    app: Any, service: Service, cases: list[uuid.UUID], profile: str, sort: str = "cumulative"
) -> tuple[dict[str, list[float]], dict[str, list[float]]]:
    server: dict[str, list[float]] = {}
    direct: dict[str, list[float]] = {}
    route = [""]
    profiler = cProfile.Profile()

    async def timed(scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        watched = bool(profile) and route[0] == profile
        if watched:
            profiler.enable()
        started = time.perf_counter()
        await app(scope, receive, send)
        elapsed = time.perf_counter() - started
        if watched:
            profiler.disable()
        if route[0]:
            server.setdefault(route[0], []).append(elapsed)

    office, door, actor = service.office, service.door, Actor.agent(LOGIN)
    half = len(cases) // 2
    async with (
        app.lifespan(),
        httpx.AsyncClient(transport=httpx.ASGITransport(timed), base_url="http://bench") as client,
    ):
        signed = await client.post("/session", json={"login": LOGIN, "password": PASSWORD})
        csrf = signed.json()["csrf_token"]
        for serial, case in enumerate(cases[:half]):
            route[0] = ROUTES[0]
            queue = await client.get(
                "/cases", params={"agent": LOGIN, "status": "open", "limit": 20}
            )
            assert queue.status_code == 200, queue.text
            route[0] = ROUTES[1]
            etag = (await client.get(f"/cases/{case}")).headers["etag"]
            for name, command in steps(case, serial):
                route[0] = f"POST /commands/{name}"
                done = await client.post(
                    f"/commands/{name}",
                    json=body(command),
                    headers={"X-CSRF-Token": csrf, "If-Match": etag},
                )
                assert done.status_code == 200, done.text
                etag = done.headers["etag"]
            for floor in FLOOR:
                route[0] = floor
                assert (await client.get(floor.split()[1])).status_code == 200
            route[0] = ""
            other = cases[half + serial]
            started = time.perf_counter()
            office.cases(CaseQuery(agent=LOGIN, status=CaseStatus.OPEN, limit=20))
            direct.setdefault(ROUTES[0], []).append(time.perf_counter() - started)
            started = time.perf_counter()
            version = office.case(other).version
            direct.setdefault(ROUTES[1], []).append(time.perf_counter() - started)
            for name, command in steps(other, serial):
                started = time.perf_counter()
                version = door.handle(command, actor, expected_version=version).case.version
                direct.setdefault(f"POST /commands/{name}", []).append(
                    time.perf_counter() - started
                )
    if profile:
        pstats.Stats(profiler).sort_stats(sort).print_stats(40)
    return server, direct


def _report(server: dict[str, list[float]], direct: dict[str, list[float]], profile: str) -> None:
    def median_ms(values: list[float]) -> float:
        return statistics.median(values[WARMUP:] or values) * 1000

    print(f"{'route':40} {'server':>9} {'direct':>9} {'server - direct':>16}   (ms, medians)")
    for route in (*ROUTES, *FLOOR):
        s = median_ms(server[route])
        d = median_ms(direct[route]) if route in direct else None
        shown = "" if d is None else f"{d:9.3f} {s - d:16.3f}"
        print(f"{route:40} {s:9.3f} {shown}")
    total_s = sum(median_ms(server[r]) for r in ROUTES)
    total_d = sum(median_ms(direct[r]) for r in ROUTES)
    print(
        f"{'an episode (sum of the medians)':40} {total_s:9.3f} {total_d:9.3f} "
        f"{total_s - total_d:16.3f}   server / direct {total_s / total_d:.2f}×"
    )


if __name__ == "__main__":
    main()
