"""Errors as `application/problem+json` (RFC 9457), each with the domain's one-line reason.

404 for an unknown case, 409 for a rule of the procedure, 412 for a stale `If-Match`, 422 for
bad input (with the field), 401 without a sign-in, 403 for what the role may not do, 503 when
storage or one of Claro's systems is down. The detail never carries a customer's data beyond
the domain's own message (which names fields and keys, not values).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, MutableMapping
from typing import Any

from litestar import Request, Response
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    PermissionDeniedException,
    ValidationException,
)

from application.case.commands import StaleCase, TooMuchContention
from application.ports.systems import SystemRefused, SystemUnavailable
from domain.errors import CaseClosed, CaseNotFound, DomainError, InvalidValue

PROBLEM = "application/problem+json"
log = logging.getLogger("backoffice.http")


def problem(status: int, kind: str, title: str, detail: str, **extra: Any) -> Response[Any]:
    body = {"type": f"urn:backoffice:{kind}", "title": title, "status": status, "detail": detail}
    return Response(content={**body, **extra}, status_code=status, media_type=PROBLEM)


class Refused(HTTPException):
    """403 with the reason the role may not do it."""

    status_code = 403


def _domain(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    if isinstance(error, CaseNotFound):
        return problem(404, "case-not-found", "No such case", str(error))
    if isinstance(error, InvalidValue):
        return problem(
            422, "invalid-value", "Invalid value", str(error),
            errors=[{"field": error.field, "reason": error.why}],
        )  # fmt: skip
    if isinstance(error, StaleCase):
        return problem(
            412, "stale-case", "The case changed", str(error), current_version=error.current
        )
    if isinstance(error, TooMuchContention):
        return problem(503, "contention", "Too many changes at once", str(error))
    if isinstance(error, CaseClosed):
        return problem(409, "case-closed", "The case is closed", str(error))
    return problem(409, "rule-of-the-procedure", "Refused by the procedure", str(error))


def _validation(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    assert isinstance(error, ValidationException)
    errors = []
    for item in error.extra if isinstance(error.extra, list) else []:
        if isinstance(item, dict):
            errors.append({"field": item.get("key"), "reason": item.get("message")})
    detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors) or str(error.detail)
    return problem(422, "invalid-request", "Invalid request", detail, errors=errors)


def _http(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    assert isinstance(error, HTTPException)
    if isinstance(error, NotAuthorizedException):
        return problem(401, "sign-in", "Sign in first", error.detail)
    if isinstance(error, PermissionDeniedException | Refused):
        return problem(403, "forbidden", "Not allowed", error.detail)
    status = error.status_code
    return problem(status, f"http-{status}", error.detail, error.detail)


def _system(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    if isinstance(error, SystemRefused):
        return problem(409, "system-refused", "Refused by Claro's system", str(error))
    return problem(
        503, "system-unavailable", "A system is unavailable",
        f"{error}; recorded on the case as pending",
    )  # fmt: skip


def _unexpected(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    """Storage down (the driver's or eventsourcing's errors, the disk): 503; anything else:
    500, logged with its type only (its text may hold data)."""
    from eventsourcing.persistence import PersistenceError

    storage = isinstance(error, PersistenceError | OSError) or type(error).__module__.startswith(
        ("psycopg", "eventsourcing", "sqlite3")
    )
    if storage:
        log.warning("storage unavailable: %s", type(error).__name__)
        return problem(503, "storage-unavailable", "Storage unavailable", "try again shortly")
    route = request.scope.get("path_template") or "(unrouted)"  # the path may hold a key
    log.error("unexpected %s on %s %s", type(error).__name__, request.method, route)
    return problem(500, "internal", "Internal error", "the error was logged")


ExceptionHandler = Callable[[Request[Any, Any, Any], Any], Response[Any]]

HANDLERS: MutableMapping[int | type[Exception], ExceptionHandler] = {
    DomainError: _domain,
    ValidationException: _validation,
    HTTPException: _http,
    SystemUnavailable: _system,
    SystemRefused: _system,
    Exception: _unexpected,
}
