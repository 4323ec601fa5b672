"""Operations: readiness (`/readyz`) and metrics in the Prometheus text format (`/metrics`):
see `ROUTES`.

Each application (each worker process of `backoffice serve --workers N`) keeps its metrics in
a registry of its own and reports its own requests: Prometheus scrapes each worker (or sums
what it gets from one at a time through a balancer); no multiprocess mode. The readings of the
log (each projection's lag, the outbox's backlog) are the same from every worker: they are
read from storage at scrape time, at most every `READINGS_SECONDS`.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import attrs
from litestar import Request, Response, get, head
from litestar.openapi.datastructures import ResponseSpec
from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4, generate_latest
from prometheus_client.metrics_core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from application.jobs.outbox import MAIL_EVENTS
from application.ports.accounts import AccessRole
from entrypoints.http.common import (
    Service,
    TrustedHeader,
    client_host,
    current_principal,
    within,
)
from entrypoints.http.problems import Refused

if TYPE_CHECKING:
    from entrypoints.settings import IpNetwork, Settings

READINGS_SECONDS = 5.0
"""How long the log's readings (lags, backlog) are reused by `/readyz` and `/metrics`."""
BACKLOG_CAP = 10_000
"""The outbox's backlog is counted up to this many events (more reads as this many)."""
INDEX_READY_LAG = 10_000
"""Events the case index may be behind the log with the service still ready."""
METRICS_ROLES = frozenset({AccessRole.ADMIN, AccessRole.SUPERVISOR})
FORWARDING_HEADERS = ("forwarded", "x-forwarded-for", "x-real-ip")
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)


@attrs.frozen(kw_only=True)
class Readings:
    """Where the log and its consumers are: the log's head, each projection's position
    (`cases`, `indicators`, `outbox`), and the events calling for mail that the outbox has
    not handled yet (None: the outbox is not reported)."""

    head: int
    positions: dict[str, int]
    outbox_backlog: int | None

    def lag(self, name: str) -> int | None:
        position = self.positions.get(name)
        return None if position is None else max(0, self.head - position)


def read_log_state(service: Service) -> Readings:
    """Read the log's head, the projections' positions and the outbox's backlog (counted up
    to `BACKLOG_CAP`: the events of the kinds that call for mail, after the outbox's
    position; the database leaves the other kinds out)."""
    office = service.office
    head = office.store.last_position()
    positions = dict(office.projections())
    backlog = None
    if service.outbox is not None:
        outbox = service.outbox.position()
        positions["outbox"] = outbox
        waiting = office.store.read_log(outbox, BACKLOG_CAP, through=head, kinds=MAIL_EVENTS)
        backlog = len(waiting)
    return Readings(head=head, positions=positions, outbox_backlog=backlog)


class Operations:
    """What `/readyz` and `/metrics` share in one application: the metrics' registry, the
    thresholds of readiness, who may read the metrics without signing in, and the log's
    readings (read at most every `READINGS_SECONDS`)."""

    def __init__(self, settings: Settings, trusted: TrustedHeader | None = None) -> None:
        self.max_indicators_lag = settings.ready_max_indicators_lag
        self.max_outbox_backlog = settings.ready_max_outbox_backlog
        self.open_to: tuple[IpNetwork, ...] = settings.metrics_networks()
        self.trusted = trusted
        self.service: Service | None = None
        """Set when the application starts (its lifespan)."""
        self.registry = CollectorRegistry()
        self.requests = Histogram(
            "backoffice_http_request_duration_seconds",
            "HTTP requests and their duration, by method, route template and status",
            ["method", "route", "status"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.conflicts = Counter(
            "backoffice_command_conflicts",
            "Commands refused for a concurrent change: stale (a stale If-Match, 412) or "
            "contention (too many changes of the case at once, 503)",
            ["kind"],
            registry=self.registry,
        )
        for kind in ("stale", "contention"):
            self.conflicts.labels(kind=kind)
        self.registry.register(_LogCollector(self))
        self._lock = threading.Lock()
        self._readings: tuple[float, Readings] | None = None

    def readings(self) -> Readings:
        """The log's readings, at most `READINGS_SECONDS` old (storage errors propagate)."""
        service = self.service
        if service is None:
            raise RuntimeError("the application has not started")
        with self._lock:
            now = time.monotonic()
            if self._readings is not None and now - self._readings[0] < READINGS_SECONDS:
                return self._readings[1]
            readings = read_log_state(service)
            self._readings = (time.monotonic(), readings)
            return readings

    def not_ready(self, readings: Readings) -> list[str]:
        """Why the service is not ready (nothing: ready)."""
        reasons = []
        index = readings.lag("cases") or 0
        if index > INDEX_READY_LAG:
            reasons.append(f"the case index is {index} events behind (at most {INDEX_READY_LAG})")
        indicators = readings.lag("indicators") or 0
        if indicators > self.max_indicators_lag:
            reasons.append(
                f"the indicators are {indicators} events behind (at most {self.max_indicators_lag})"
            )
        backlog = readings.outbox_backlog or 0
        if backlog > self.max_outbox_backlog:
            shown = f"{backlog}+" if backlog >= BACKLOG_CAP else str(backlog)
            reasons.append(
                f"the outbox has {shown} events with mail to send"
                f" (at most {self.max_outbox_backlog}): is the worker running?"
            )
        return reasons

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count an HTTP request and its duration by method, route template and status
        (`requests_log.request_log` calls it with the request log's own measure)."""
        self.requests.labels(method=method, route=route, status=str(status)).observe(seconds)

    def open_without_sign_in(self, request: Request[Any, Any, Any]) -> bool:
        """A request for the metrics straight from one of `open_to` (by default the
        loopback): not one a proxy forwarded (it would carry a forwarding header, or the
        trusted user header)."""
        if not within(client_host(request), self.open_to):
            return False
        forwarded = [*FORWARDING_HEADERS]
        if self.trusted is not None:
            forwarded.append(self.trusted.header)
        return not any(name in request.headers for name in forwarded)


def operations_of(request: Request[Any, Any, Any]) -> Operations:
    operations: Operations = request.app.state.operations
    return operations


class _LogCollector(Collector):
    """The log's readings as gauges, read when scraped."""

    def __init__(self, operations: Operations) -> None:
        self.operations = operations

    def describe(self) -> list[Metric]:
        return []  # read at scrape time only, never when registered

    def collect(self) -> Iterator[Metric]:
        up = GaugeMetricFamily("backoffice_storage_up", "1 when the log could be read, else 0")
        if self.operations.service is None:
            return
        try:
            readings = self.operations.readings()
        except Exception:  # storage down: said by storage_up, without the driver's text
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        head = GaugeMetricFamily("backoffice_log_head", "The position of the log's newest event")
        head.add_metric([], readings.head)
        yield head
        lag = GaugeMetricFamily(
            "backoffice_projection_lag_events",
            "Events of the log a consumer has not handled yet (the log's head minus its "
            "position): the case index (cases), the indicators, the outbox",
            labels=["projection"],
        )
        for name in readings.positions:
            lag.add_metric([name], readings.lag(name) or 0)
        yield lag
        if readings.outbox_backlog is not None:
            backlog = GaugeMetricFamily(
                "backoffice_outbox_backlog_events",
                f"Events calling for mail that the outbox has not sent yet (counted up to "
                f"{BACKLOG_CAP})",
            )
            backlog.add_metric([], readings.outbox_backlog)
            yield backlog


# --- the routes ------------------------------------------------------------------------------


NOT_READY = {
    503: ResponseSpec(
        dict[str, Any], generate_examples=False,
        description="Not ready: `status` `behind` with the `reasons` (and the lags), or "
        "`unavailable` with the `reason` (storage does not answer)",
    )
}  # fmt: skip


@get("/readyz", summary="Ready to serve", tags=["operations"], responses=NOT_READY)
async def readyz(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    """Storage answers, the case index and the indicators are not far behind the log, and
    the outbox has not too much mail left to send (thresholds: `BACKOFFICE_READY_MAX_*`);
    503 with the reasons otherwise."""
    # (A handler of its own thread, not `sync_to_thread`: with HEAD on the same path,
    # Litestar wraps a synchronous handler twice.)
    status, body = await anyio.to_thread.run_sync(readiness, operations_of(request))
    return Response(body, status_code=status)


@head("/readyz", include_in_schema=False)
async def readyz_head(request: Request[Any, Any, Any]) -> Response[None]:
    """`GET /readyz`'s status (200, or 503 when not ready) without its body (a load
    balancer's probe; not in the OpenAPI document, as HEAD goes with GET)."""
    status, _ = await anyio.to_thread.run_sync(readiness, operations_of(request))
    return Response(None, status_code=status)


def readiness(operations: Operations) -> tuple[int, dict[str, Any]]:
    """Whether the service is ready (200) or not (503), and why, as `/readyz` says it."""
    try:
        readings = operations.readings()
    except Exception as error:  # storage down: not ready, said without the driver's text
        return 503, {"status": "unavailable", "reason": type(error).__name__}
    reasons = operations.not_ready(readings)
    body: dict[str, Any] = {
        "status": "behind" if reasons else "ok",
        "index_lag": readings.lag("cases"),
        "indicators_lag": readings.lag("indicators"),
        "outbox_backlog": readings.outbox_backlog,
    }
    if reasons:
        body["reasons"] = reasons
    return (503 if reasons else 200), body


@get("/metrics", summary="Metrics (Prometheus)", tags=["operations"],
     media_type=CONTENT_TYPE_PLAIN_0_0_4)  # fmt: skip
async def metrics(request: Request[Any, Any, Any]) -> Response[bytes]:
    """The metrics in the Prometheus text format: requests and their duration by route and
    status, command conflicts, each projection's lag, the outbox's backlog, of this worker
    process. Read without signing in from the loopback (`BACKOFFICE_METRICS_OPEN_TO`);
    from elsewhere by an admin or a supervisor (a session, or a token of scope read or all)."""
    operations = operations_of(request)
    if not operations.open_without_sign_in(request):
        principal = await current_principal(request)
        why = metrics_refusal(principal.role, principal.scope)
        if why is not None:
            raise Refused(why)
    body = await anyio.to_thread.run_sync(generate_latest, operations.registry)
    return Response(body, media_type=CONTENT_TYPE_PLAIN_0_0_4)


def metrics_refusal(role: AccessRole, scope: str | None) -> str | None:
    """Why `role` (with a token's `scope`) may not read the metrics from anywhere; None when
    it may. (Not a console's refusal: no page shows the metrics.)"""
    if role not in METRICS_ROLES:
        article = "an" if role.value[0] in "aeiou" else "a"
        return f"the metrics are for an admin or a supervisor, not {article} {role.value}"
    if scope == "intake":
        return "a token with scope intake only hands cases over"
    return None


def record_conflict(request: Request[Any, Any, Any], kind: str) -> None:
    """Count a command refused for a concurrent change (`stale`, `contention`)."""
    operations_of(request).conflicts.labels(kind=kind).inc()


ROUTES: list[Any] = [readyz, readyz_head, metrics]
