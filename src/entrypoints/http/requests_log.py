"""One structured log line per request: method, route (its template, never the path with
its values), status, duration, who asked and which case. No customer data: no query string,
no body, no case reference as typed (a key may be an account), only the case's id.

The middleware wraps the whole application (`entrypoints.http.app.create_app`), so a request
no route answers (404, 405) has its line too, as the route `(unrouted)`; the method is one
of HTTP's or `(other)`: the metrics' labels stay bounded whatever clients send."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("backoffice.http.requests")


def note(scope: Scope, **fields: Any) -> None:
    """Add `fields` (the user, the case) to the request's log line."""
    scope.setdefault("state", {}).setdefault("log", {}).update(fields)


METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNROUTED = "(unrouted)"


def method_of(scope: Scope) -> str:
    """The request's method as logged and counted: one of `METHODS`, else `(other)`."""
    method = str(scope.get("method", ""))
    return method if method in METHODS else "(other)"


Observe = Callable[[str, str, int, float], None]
"""What else is told of each request: its method, route template, status and seconds (the
metrics' histogram)."""


def request_log(app: ASGIApp, observe: Observe | None = None) -> ASGIApp:
    """`app` logging each HTTP request (and telling `observe` of it): one wrapper and one
    measure for the log line and the metrics."""

    async def middleware(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def sent(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await app(scope, receive, sent)
        finally:
            seconds = time.perf_counter() - started
            route = scope.get("path_template") or UNROUTED
            method = method_of(scope)
            if observe is not None:
                observe(method, route, status, seconds)
            noted = scope.get("state", {}).get("log", {})
            fields = {
                "method": method,
                "route": route,
                "status": status,
                "ms": round(seconds * 1000, 1),
                "user": noted.get("user"),
                "case": noted.get("case"),
            }
            log.info("request", extra={"fields": fields})

    return middleware
