"""Errors as `application/problem+json` (RFC 9457), each with the domain's one-line reason.

400 for a body that cannot be read (not JSON, nested too deeply, a number too large), 404 for
an unknown case, 409 for a rule of the procedure, 412 for a stale `If-Match`, 415 for a body
of another media type, 422 for bad input (each field as the client named it, and why), 401
without a sign-in, 403 for what the role may not do, 503 when storage or one of Claro's
systems is down. The detail never carries a customer's data beyond the domain's own message
(which names fields and keys, not values): never a query string, never a value of the body.
"""

from __future__ import annotations

import enum
import functools
import logging
import re
import types
import typing
from collections.abc import Callable, Iterable, MutableMapping
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

import anyio.to_thread
import attrs
from litestar import Request, Response
from litestar.datastructures import UploadFile
from litestar.exceptions import (
    HTTPException,
    NotAuthorizedException,
    PermissionDeniedException,
    ValidationException,
)
from litestar.openapi.datastructures import ResponseSpec
from litestar.response.base import ASGIResponse

from application.case.commands import StaleCase, TooMuchContention
from application.ports.systems import SystemError_, SystemRefused, SystemUnavailable
from domain.errors import CaseClosed, CaseNotFound, DomainError, InvalidValue

if TYPE_CHECKING:
    from litestar import Litestar
    from litestar.types import Receive, Scope, Send

PROBLEM = "application/problem+json"
log = logging.getLogger("backoffice.http")
MAX_ERRORS = 10
"""The most fields a problem lists in `errors`; its `detail` says how many more were found."""


def problem(
    status: int, kind: str, title: str, detail: str, headers: dict[str, str] | None = None,
    **extra: Any,
) -> Response[Any]:  # fmt: skip
    """A problem answer; its `errors`, if any, cut to the first `MAX_ERRORS`."""
    body = {"type": f"urn:backoffice:{kind}", "title": title, "status": status, "detail": detail}
    if isinstance(extra.get("errors"), list):
        extra["errors"] = extra["errors"][:MAX_ERRORS]
    return Response(content={**body, **extra}, status_code=status, media_type=PROBLEM,
                    headers=headers)  # fmt: skip


class Refused(HTTPException):
    """403 with the reason the role may not do it."""

    status_code = 403


class BadBody(HTTPException):
    """400: the body cannot be read (not JSON, nested too deeply, a number too large to
    read), with the field at fault when it is known."""

    status_code = 400

    def __init__(self, detail: str, field: str | None = None, reason: str | None = None) -> None:
        super().__init__(detail=detail)
        self.field = field
        self.reason = reason or detail


class UnsupportedBody(HTTPException):
    """415: a body of another media type than the route reads."""

    status_code = 415


class BodyRefused(ValidationException):
    """422 for the fields of a body that cannot be taken: the first faults found, each as
    Litestar's (`key`, `message`, `source`), and how many `more` there were."""

    def __init__(self, faults: list[dict[str, str]], more: int = 0) -> None:
        super().__init__(detail="the body's fields", extra=faults)
        self.more = more


def forbidden(why: str) -> Response[Any]:
    return problem(403, "forbidden", "Not allowed", why)


# --- the domain's errors -------------------------------------------------------------------


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
            412, "stale-case", "The case changed", stale_detail(error), headers=etag(error.current),
            current_version=error.current,
        )  # fmt: skip
    if isinstance(error, TooMuchContention):
        return problem(503, "contention", "Too many changes at once", str(error))
    if isinstance(error, CaseClosed):
        return problem(409, "case-closed", "The case is closed", str(error))
    return problem(409, "rule-of-the-procedure", "Refused by the procedure", str(error))


def stale_detail(error: StaleCase) -> str:
    """Why an `If-Match` did not match: the case changed since the version sent, or (a
    version the case has not reached) the case is behind what was sent."""
    if error.expected > error.current:
        return (
            f"the case is at version {error.current}, not {error.expected} (a version it has "
            "not reached): read it again before acting"
        )
    return str(error)


def etag(version: int) -> dict[str, str]:
    """The `ETag` header of a case at `version`."""
    return {"ETag": f'"{version}"'}


# --- bad input: each field as the client named it, and why ---------------------------------


def _validation(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    assert isinstance(error, ValidationException)
    errors = input_errors(request, error)
    given = len(error.extra) if isinstance(error.extra, list) else 0
    more = getattr(error, "more", 0) + max(0, given - MAX_ERRORS)
    detail = "; ".join(f"{e['field']}: {e['reason']}" for e in errors) or "the request is not valid"
    if more:
        detail += f"; and {more} more"
    return problem(422, "invalid-request", "Invalid request", detail, errors=errors)


_MISSING_PARAMETER = re.compile(r"Missing required (\w+) parameter '([^']*)'")


def input_errors(
    request: Request[Any, Any, Any], error: ValidationException
) -> list[dict[str, str]]:
    """Each field at fault in a refused request, as the client named it (the query parameter
    `from`, not the handler's argument; `text`, not the body `data`), with a reason a person
    understands. Never the value sent (it may be a customer's data), never the query string
    (Litestar's own detail carries it). The first `MAX_ERRORS` only."""
    missing = _MISSING_PARAMETER.match(str(error.detail))
    if missing is not None:  # Litestar's: its detail names the path and the query string
        return [{"field": missing.group(2), "reason": "required"}]
    parameters = _parameters(request)
    errors = []
    for item in error.extra[:MAX_ERRORS] if isinstance(error.extra, list) else []:
        if isinstance(item, dict):
            key, message = str(item.get("key") or ""), str(item.get("message") or "")
            errors.append(_field_error(parameters, key, message, item.get("source") == "body"))
    return errors


def _parameters(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The route handler's parameters (`FieldDefinition`s by argument name), if routed."""
    handler = request.scope.get("route_handler")
    signature = getattr(handler, "parsed_fn_signature", None)
    return dict(signature.parameters) if signature is not None else {}


def _field_error(
    parameters: dict[str, Any], key: str, message: str, in_body: bool
) -> dict[str, str]:
    if in_body or key == "data":
        path = "" if key == "data" else key
        kind = _type_at(_body_type(parameters), path)
    else:
        parameter = parameters.get(key)
        alias = getattr(getattr(parameter, "kwarg_definition", None), "name", None)
        path, kind = alias or key, getattr(parameter, "annotation", None)
    missing = re.fullmatch(r"Object missing required field `(.+)`", message)
    if missing is not None:
        field = f"{path}.{missing.group(1)}" if path else missing.group(1)
        inner = _type_at(kind, missing.group(1))
        return {"field": field, "reason": _required(inner)}
    if in_body and not path and message.strip("'") == "data":  # Litestar found no body
        return {"field": "body", "reason": "required: send the fields as a JSON object"}
    return {"field": path or "body", "reason": reason_for(message, kind)}


def _required(kind: Any) -> str:
    if _is_upload(kind):
        return "required: a part of the multipart form with this name, holding the file"
    return "required"


def _body_type(parameters: dict[str, Any]) -> Any:
    data = parameters.get("data")
    return None if data is None else data.annotation


def alternatives(kind: Any) -> tuple[Any, ...]:
    """The types a value of `kind` may be: `T` of `T | None`, `Optional[T]` or
    `Annotated[T, …]`; each of a union's other than None; else `kind` alone."""
    if typing.get_origin(kind) is typing.Annotated:
        kind = typing.get_args(kind)[0]
    if isinstance(kind, types.UnionType) or typing.get_origin(kind) is typing.Union:
        return tuple(arg for arg in typing.get_args(kind) if arg is not type(None))
    return (kind,)


def attrs_class(kind: Any) -> type | None:
    """The attrs class a value of `kind` is (the first of a union's), or None."""
    for candidate in alternatives(kind):
        if isinstance(candidate, type) and attrs.has(candidate):
            return candidate
    return None


@functools.cache
def field_types(cls: type) -> dict[str, Any]:
    """The fields of the attrs class `cls` and their types (resolved once a class)."""
    return dict(typing.get_type_hints(cls))


def _type_at(kind: Any, path: str) -> Any:
    """The type of the field at `path` (`a.b`) of the attrs class `kind`, or None."""
    for name in [part for part in path.split(".") if part]:
        cls = attrs_class(kind)
        if cls is None or name not in field_types(cls):
            return None
        kind = field_types(cls)[name]
    return kind


_KINDS = {
    "int": "a whole number", "str": "text", "bool": "true or false", "float": "a number",
    "object": "an object", "array": "a list", "null": "null", "datetime": "a date-time",
    "date": "a date", "uuid": "a UUID", "decimal": "a number",
}  # fmt: skip


def _kind(words: str) -> str:
    return " or ".join(_KINDS.get(word.strip(), word.strip()) for word in words.split("|"))


def reason_for(message: str, kind: Any = None) -> str:
    """msgspec's message for a value (`Expected `int`, got `str``) as a person reads it
    ("expected a whole number, got text"), without the value sent."""
    message = message.split(" - at `", 1)[0]
    if m := re.fullmatch(r"Expected `([^`]+)`, got `([^`]+)`", message):
        return f"expected {_kind(m.group(1))}, got {_kind(m.group(2))}"
    if m := re.fullmatch(r"Expected `[^`]+`( of length)? (>=|>|<=|<) (-?[\d.]+)", message):
        what = " characters" if m.group(1) and str in alternatives(kind) else ""
        what = " items" if m.group(1) and not what else what
        bound = {">=": "at least", ">": "more than", "<=": "at most", "<": "less than"}
        return f"{bound[m.group(2)]} {m.group(3)}{what}"
    if message.startswith(("Invalid enum value", "Invalid value")):
        for choice in alternatives(kind):
            if isinstance(choice, type) and issubclass(choice, enum.Enum):
                return "not one of: " + ", ".join(str(member.value) for member in choice)
        return "not one of the values it takes"
    if message == "Invalid UUID":
        return "not a UUID"
    if m := re.fullmatch(r"Invalid RFC3339 encoded (datetime|date|time)", message):
        return {
            "datetime": "not a date-time: ISO 8601 with its offset (2026-12-01T08:00:00-05:00)",
            "date": "not a date: ISO 8601 (2026-12-01)",
            "time": "not a time: ISO 8601 (08:00:00)",
        }[m.group(1)]
    if message.startswith("Unsupported type"):
        if _is_upload(kind):
            return "not a file: send a part of the multipart form with its file's name"
        return "not a value of the expected type"
    if message.endswith("out of range"):
        return "a number out of range"
    return re.sub(r"'[^']*'", "…", message).replace("`", "")  # no value sent, in any case


def _is_upload(kind: Any) -> bool:
    for choice in alternatives(kind):
        one = typing.get_args(choice)[0] if typing.get_origin(choice) is list else choice
        if isinstance(one, type) and issubclass(one, UploadFile):
            return True
    return False


# --- the framework's errors ------------------------------------------------------------------

SCHEMA_DOCUMENT = "/schema/openapi.json"
_SAID = {
    404: f"no route answers this path: see {SCHEMA_DOCUMENT}",
    405: "this path does not answer this method",
}


def megabytes(size: int) -> str:
    return f"{size / 1_000_000:g} MB"


def too_large(limit: int | None) -> str:
    """What a 413 says: the route's limit on the body (`limit` bytes; None: no limit)."""
    if limit is None:
        return "the body is too large"
    return f"the body is larger than {megabytes(limit)}"


def _body_limit(request: Request[Any, Any, Any]) -> int | None:
    handler = request.scope.get("route_handler")
    resolve = getattr(handler, "resolve_request_max_body_size", None)
    return resolve() if callable(resolve) else None


def _http(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    assert isinstance(error, HTTPException)
    if isinstance(error, NotAuthorizedException):
        return problem(401, "sign-in", "Sign in first", error.detail)
    if isinstance(error, PermissionDeniedException | Refused):
        return forbidden(error.detail)
    if isinstance(error, BadBody):
        named: dict[str, Any] = {}
        if error.field:
            named["errors"] = [{"field": error.field, "reason": error.reason}]
        return problem(400, "malformed-body", "The body cannot be read", error.detail, **named)
    if isinstance(error, UnsupportedBody):
        return problem(415, "unsupported-media-type", "Unsupported media type", error.detail)
    status = error.status_code
    phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
    detail = _SAID.get(status, error.detail) if error.detail == phrase else error.detail
    if status == 413:  # Litestar's own words: the route's limit said instead
        detail = too_large(_body_limit(request))
    headers = {k: v for k, v in (error.headers or {}).items() if k.lower() == "allow"}
    return problem(status, f"http-{status}", phrase, detail, headers=headers or None)


# --- Claro's systems ---------------------------------------------------------------------------


def _system(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    assert isinstance(error, SystemError_)
    return system_problem(error)


def system_problem(error: SystemError_, version: int | None = None) -> Response[Any]:
    """409 for a system that answered no, 503 for one that did not answer; with the case's
    `version` (as `ETag` and `current_version`) when the case recorded what happened."""
    headers = None if version is None else etag(version)
    extra = {} if version is None else {"current_version": version}
    if isinstance(error, SystemRefused):
        return problem(409, "system-refused", "Refused by Claro's system", str(error),
                       headers=headers, **extra)  # fmt: skip
    return problem(
        503, "system-unavailable", "A system is unavailable",
        f"{error}; recorded on the case as pending", headers=headers, **extra,
    )  # fmt: skip


def _unexpected(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    """Storage down (the driver's or eventsourcing's errors, the disk): 503; anything else:
    500, logged with its type only (its text may hold data). An `OverflowError` too: the
    dates and numbers a request gives are bounded where they are read (a query's dates by
    `common.query_moment`, a command's by the dispatcher), so one that is left is no fault
    of the input that this handler could name."""
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


def answer_for(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
    """The problem `HANDLERS` answer for `error` (the handler of its nearest class)."""
    for kind in type(error).__mro__:
        handler = HANDLERS.get(kind)
        if handler is not None:
            return handler(request, error)
    return _unexpected(request, error)


# --- an answer decided off the event loop ------------------------------------------------------


class Later(Response[Any]):
    """An error's answer decided in a worker thread: exception handlers run on the event
    loop, which must not wait on storage. For error paths only (it costs a thread hop)."""

    def __init__(self, decide: Callable[[], Response[Any]]) -> None:
        super().__init__(content=None)
        self.decide = decide

    def to_asgi_response(
        self, app: Litestar | None, request: Request[Any, Any, Any], **options: Any
    ) -> ASGIResponse:
        return _Decided(self.decide, app, request, options)


class _Decided(ASGIResponse):
    def __init__(
        self,
        decide: Callable[[], Response[Any]],
        app: Litestar | None,
        request: Request[Any, Any, Any],
        options: dict[str, Any],
    ) -> None:  # not ASGIResponse's own: it sends what `decide` answers
        self.decide, self.app, self.request, self.options = decide, app, request, options

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = await anyio.to_thread.run_sync(self.decide)
        asgi = response.to_asgi_response(self.app, self.request, **self.options)
        await asgi(scope, receive, send)


# --- the problems in the OpenAPI document ------------------------------------------------------


@attrs.frozen(kw_only=True)
class FieldError:
    field: str | None
    """The field as the client named it: a body's (`text`, `case`), a query parameter
    (`from`), a header (`If-Match`); `body` for the body as a whole."""
    reason: str


@attrs.frozen(kw_only=True)
class Problem:
    """An error (RFC 9457, `application/problem+json`): what kind (`type`, a URN), its
    title, the HTTP status and the reason in one line (`detail`), never a customer's data."""

    type: str
    title: str
    status: int
    detail: str
    errors: list[FieldError] | None = None
    """422 (and a 400 that knows the field): each field at fault, and why; the first
    `MAX_ERRORS` found, `detail` ending with how many more."""
    current_version: int | None = None
    """412, and a 409 or 503 the case recorded (a system's refusal, a write left pending):
    the case's version now, also its `ETag`."""


PROBLEM_STATUSES: dict[int, str] = {
    400: "The request cannot be read: a body that is not JSON, nested too deeply or with a "
    "number too large (`urn:backoffice:malformed-body`, the field in `errors` when known)",
    401: "Sign in first: a session cookie, a bearer token or the single sign-on",
    403: "Not allowed for this role or token scope (or without the session's CSRF token): "
    "the reason in `detail`",
    404: "No such case (or account, token)",
    409: "Refused by a rule of the procedure or by one of Claro's systems, or a request with "
    "this Idempotency-Key still in progress; when the case recorded the refusal, its version "
    "now in `current_version` and `ETag`",
    412: "The case changed since the If-Match version: its version now in `current_version` "
    "and `ETag`; nothing was recorded",
    413: "The body is larger than the route's limit (`detail` names it)",
    415: "The body is not of the media type the route reads",
    422: "Invalid input: `errors` names each field as sent (a body's field, a query parameter, "
    f"a header) and why (the first {MAX_ERRORS}; `detail` ends with how many more)",
    503: "Storage, or one of Claro's systems, is unavailable: try again shortly (what the "
    "case recorded is said)",
}


def problem_responses(
    statuses: Iterable[int], *, body_limit: int | None = None
) -> dict[int, ResponseSpec]:
    """The OpenAPI responses of a route that may answer these error statuses, each a
    `Problem` as `application/problem+json` (Litestar's `responses=`); a 413's says the
    route's `body_limit` (bytes), as its `detail` does."""

    def spec(status: int) -> ResponseSpec:
        said = PROBLEM_STATUSES[status]
        if status == 413 and body_limit is not None:
            said = f"The body is larger than {megabytes(body_limit)} (`detail` says so)"
        return ResponseSpec(
            data_container=Problem, media_type=PROBLEM, generate_examples=False,
            description=said,
        )  # fmt: skip

    return {status: spec(status) for status in sorted(statuses)}
