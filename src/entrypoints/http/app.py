"""The ASGI application: the commands and queries of the back office over HTTP.

One route per command class (`POST /commands/<name>`, the body being the command as JSON:
the same attrs classes the CLI builds, read by Litestar, documented in the OpenAPI
document), the case list, a case (as of a moment or a version), its history, the follow-ups
due, the indicators, the projections, and intake for the front line's systems. Every
command goes to the one door (`application.dispatch.Dispatcher`) as the signed-in user; no
use case lives here.
"""

from __future__ import annotations

import contextlib
import inspect
import io
import logging
import os
import re
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import date, datetime
from typing import TYPE_CHECKING, Annotated, Any

import anyio.to_thread
import attrs
from litestar import Litestar, Request, Response, Router, delete, get, head, post
from litestar.datastructures import State
from litestar.di import NamedDependency, Provide
from litestar.enums import ParamType
from litestar.exceptions import NotAuthorizedException, NotFoundException, ValidationException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.datastructures import ResponseSpec
from litestar.openapi.plugins import JsonRenderPlugin, YamlRenderPlugin
from litestar.params import (
    FromPath,
    FromQuery,
    HeaderParameter,
    JSONBody,
    ParameterKwarg,
    QueryParameter,
)
from litestar.types import Empty

from application.access.accounts import Principal, SignInRefused
from application.access.permissions import (
    COMMAND_ROLES,
    Reading,
    may_ask_slots,
    may_command,
    may_give,
    may_hand_over,
    may_take,
)
from application.case.commands import (
    AssignCase,
    CommandResult,
    StaleCase,
    TooMuchContention,
)
from application.case.outside import WFM
from application.dispatch import Command, command_name
from application.ports.accounts import AccessRole
from application.ports.cases import CaseQuery, CaseSummary, DueFollowUp
from application.ports.systems import Slot, SystemError_
from domain.case.state import CaseState
from domain.errors import InvalidValue
from domain.indicators.facts import Dimension, Period
from domain.values import VisitKind
from entrypoints import web
from entrypoints.http import admin, events, operations, reads, uploads
from entrypoints.http.common import (
    STORAGE_INT_MAX,
    ApiRequest,
    Asking,
    IdempotencyKey,
    Service,
    TrustedHeader,
    asking_of,
    csrf_refusal,
    csrf_token,
    current_principal,
    hand_over,
    idempotent,
    new_session,
    note_claimed_user,
    query_moment,
    record_reads,
    refused_first,
    require,
    service_of,
    signed_in_by,
)
from entrypoints.http.problems import (
    HANDLERS,
    SCHEMA_DOCUMENT,
    ExceptionHandler,
    Refused,
    alternatives,
    etag,
    problem_responses,
    system_problem,
)
from entrypoints.http.requests_log import note, request_log
from entrypoints.http.sessions import SessionCookieConfig, end_session
from entrypoints.web.origin import cross_site_sign_in

if TYPE_CHECKING:
    from entrypoints.settings import Settings

# --- what goes over the wire (besides the domain's own attrs classes) ----------------------


@attrs.frozen(kw_only=True)
class EventOut:
    """One recorded event: its name, the case's version it made, when, who, and its data."""

    event: str
    version: int
    timestamp: str
    actor: str
    data: dict[str, Any]


@attrs.frozen(kw_only=True)
class Done:
    """A command's answer: the case after it, and the events it recorded (none: it was
    already done)."""

    case: CaseState
    events: list[EventOut]
    notice: str = ""


@attrs.frozen(kw_only=True)
class SignIn:
    login: str
    password: str


@attrs.frozen(kw_only=True)
class Me:
    """Who is signed in, and the token to send as `X-CSRF-Token` with every change."""

    login: str
    role: str
    name: str
    csrf_token: str | None = None


@attrs.frozen(kw_only=True)
class CrmRow:
    """A case handed over by the front line's CRM: a row of its export, as text (dates as the
    export writes them: `27/11/2026 08:15` in Bogotá, or ISO 8601)."""

    crm_case_id: str
    received_at: str
    account: str
    line: str
    customer_name: str
    typification: str
    request: str = ""
    follow_up_at: str = ""
    front_agent: str = ""
    recommended_by: str = ""
    cun: str = ""
    filed_at: str = ""
    phone: str = ""


@attrs.frozen(kw_only=True)
class HandedOver:
    """What intake did with a case handed over: `created`, `repeat_contact` (recorded on the
    open case it repeats) or `known` (handed over before: nothing new)."""

    outcome: str
    case: CaseState


def _events(result: CommandResult) -> list[EventOut]:
    from entrypoints import render

    return [EventOut(**entry) for entry in render.history_entries(result.events)]


def _etag(state: CaseState) -> dict[str, str]:
    return etag(state.version)


def _expected(if_match: str | None) -> int | None:
    """The case version an `If-Match` header names (`"7"`, as the `ETag` gave it, or `7`),
    or None (no header, or `*`). A weak tag (`W/"7"`) is refused: `If-Match` compares tags
    strongly (RFC 9110) and the API's are strong. A refusal never repeats what was sent."""
    if if_match is None or if_match.strip() == "*":
        return None
    sent = if_match.strip()
    if sent.startswith("W/"):
        raise InvalidValue("If-Match", 'a weak tag never matches (If-Match compares strongly): '
                                       'send the ETag as it was given ("7")')  # fmt: skip
    match = re.fullmatch(r'"([0-9]+)"|([0-9]+)', sent)
    if match is None:
        raise InvalidValue("If-Match", 'give the case version as the ETag gave it ("7")')
    digits = match.group(1) or match.group(2)
    version = int(digits) if len(digits) <= len(str(STORAGE_INT_MAX)) else STORAGE_INT_MAX + 1
    if not 1 <= version <= STORAGE_INT_MAX:
        raise InvalidValue("If-Match", f"a case version is from 1 to {STORAGE_INT_MAX}: send "
                                       "the ETag as it was given")  # fmt: skip
    return version


# --- who is asking -------------------------------------------------------------------------


# --- sign-in -------------------------------------------------------------------------------


@post("/session", status_code=200, summary="Sign in", tags=["session"])
async def sign_in(request: Request[Any, Any, Any], data: JSONBody[SignIn]) -> Me:
    """Sign in with a password: the session is a signed, encrypted `HttpOnly`, `SameSite`
    cookie; the answer carries the CSRF token to send with every change."""

    refusal = cross_site_sign_in(request)  # login CSRF: another site's page posting it
    if refusal is not None:
        raise Refused(refusal)
    service = service_of(request.app.state)
    try:
        # Argon2 takes a few hundred milliseconds on purpose: off the event loop. (Not
        # `sync_to_thread`: with three handlers on one path Litestar wraps it three times.)
        principal = await anyio.to_thread.run_sync(
            service.accounts.sign_in, data.login, data.password
        )
    except SignInRefused as refused:
        raise NotAuthorizedException(str(refused)) from None
    note(request.scope, user=principal.login)  # the log line says who signed in
    csrf = new_session(request, principal)
    return Me(login=principal.login, role=principal.role.value, name=principal.name,
              csrf_token=csrf)  # fmt: skip


@get("/session", summary="Who is signed in", tags=["session"])
async def who(request: Request[Any, Any, Any], principal: NamedDependency[Principal]) -> Me:
    """Who is signed in, and the CSRF token a person sends with changes; none when signed in
    by a bearer token (which sends none), whatever session cookie came with it."""
    by_token = signed_in_by(request) == "token"
    return Me(login=principal.login, role=principal.role.value, name=principal.name,
              csrf_token=None if by_token else csrf_token(request, principal))  # fmt: skip


@delete("/session", status_code=204, summary="Sign out", tags=["session"])
async def sign_out(request: Request[Any, Any, Any]) -> None:
    """Sign out: a change like any other, so it needs the session's CSRF token (a page of
    another site cannot sign the user out). A password's session ends for good, with every
    session of its account issued before (`sessions.end_session`)."""

    session = request.session if "session" in request.scope else {}
    if isinstance(session, dict) and session.get("login"):
        why = csrf_refusal(request, session)
        if why is not None:
            raise Refused(why)
        accounts = service_of(request.app.state).accounts
        await anyio.to_thread.run_sync(end_session, accounts, session)
    request.clear_session()


# --- commands ------------------------------------------------------------------------------


def command_route(cls: type[Command]) -> Any:
    """`POST /commands/<kebab-name>`: the command as its JSON body, `If-Match` honoured, an
    `Idempotency-Key` too."""

    async def handler(
        request: Request[Any, Any, Any],
        data: Any,
        asking: NamedDependency[Asking],
        if_match: Any = None,
        idempotency_key: Any = None,
    ) -> Response[Done]:
        service = service_of(request.app.state)
        expected: int | None = None

        def admit() -> Principal:  # in the worker thread, with `run`
            nonlocal expected
            principal = asking.principal()
            why = may_command(principal.role, principal.scope, data, principal.login)
            if why is not None:
                raise Refused(why)
            expected = _expected(if_match)
            return principal

        def run(principal: Principal) -> Response[Done]:
            if isinstance(data, AssignCase) and principal.role is AccessRole.AGENT:
                owner = service.office.case(data.case).agent
                why = may_take(principal.role, principal.login, data, owner)
                if why is not None:
                    raise Refused(why)
            try:
                result = service.door.handle(data, principal.actor, expected_version=expected)
            except StaleCase:
                operations.record_conflict(request, "stale")
                raise
            except TooMuchContention:
                operations.record_conflict(request, "contention")
                raise
            except SystemError_ as error:  # the case recorded it: its version moved
                return system_problem(error, _version_now(service, data))
            note(request.scope, case=str(result.case.case_id))
            done = Done(case=result.case, events=_events(result), notice=result.notice)
            return Response(done, headers=_etag(result.case))

        case = getattr(data, "case", None)  # in the log line, a replay's and a refusal's too
        note(request.scope, case=str(case) if isinstance(case, uuid.UUID) else None)
        return await idempotent(request, admit, idempotency_key, run)

    handler.__annotations__ = {
        "request": Request[Any, Any, Any],
        "data": JSONBody[cls],  # type: ignore[valid-type,misc]
        "asking": NamedDependency[Asking],
        "if_match": Annotated[str | None, HeaderParameter(name="If-Match", required=False)],
        "idempotency_key": IdempotencyKey,
        "return": Response[Done],
    }
    handler.__name__ = f"command_{command_name(cls).replace('-', '_')}"
    handler.__doc__ = (cls.__doc__ or cls.__name__).strip()
    return post(
        f"/commands/{command_name(cls)}", status_code=200, summary=cls.__name__,
        tags=["commands"], exception_handlers=refused_first(_gives_no(cls)),
    )(handler)  # fmt: skip


def _gives_no(cls: type[Command]) -> Callable[[Principal], str | None]:
    """Why a principal may give no command of the class `cls` at all (None: they may)."""
    return lambda principal: may_give(principal.role, principal.scope, cls)


def _version_now(service: Service, command: Command) -> int | None:
    """The version of the command's case now (after a system's refusal or failure the case
    recorded), or None when the command names no case or it cannot be read."""
    case = getattr(command, "case", None)
    if not isinstance(case, uuid.UUID):
        return None
    try:
        return service.office.case(case).version
    except Exception:  # the refusal is said without it
        return None


# --- reading -------------------------------------------------------------------------------


def _query_route(path: str, cls: type[Any], answer: Callable[[Any, Service, Principal], Any],
                 returns: Any, *, summary: str, tag: str) -> Any:  # fmt: skip
    """`GET path` with one query parameter per field of the attrs query class `cls`."""
    fields = attrs.fields(cls)
    attrs.resolve_types(cls)
    hints: dict[str, Any] = {f.name: f.type for f in fields}
    for name, parameter in BOUNDED.items():
        if name in hints:
            hints[name] = Annotated[hints[name], parameter]
    parameters = [
        inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY),
        inspect.Parameter("asking", inspect.Parameter.KEYWORD_ONLY),
    ] + [
        inspect.Parameter(
            f.name, inspect.Parameter.KEYWORD_ONLY,
            default=inspect.Parameter.empty if f.default is attrs.NOTHING else f.default,
        )
        for f in fields
    ]  # fmt: skip

    def handler(**given: Any) -> Any:
        request, asking = given.pop("request"), given.pop("asking")
        principal = asking.principal()  # in the handler's thread: one hop
        for name, value in given.items():
            if isinstance(value, date):  # a date-time too
                query_moment(name, value)
        return answer(cls(**given), service_of(request.app.state), principal)

    handler.__signature__ = inspect.Signature(parameters)  # type: ignore[attr-defined]
    handler.__annotations__ = {
        "request": Request[Any, Any, Any], "asking": NamedDependency[Asking],
        **{name: kind if name in BOUNDED else FromQuery[kind]  # type: ignore[valid-type,misc]
           for name, kind in hints.items()},
        "return": returns,
    }  # fmt: skip
    handler.__name__ = f"query_{cls.__name__.lower()}"
    handler.__doc__ = (cls.__doc__ or cls.__name__).strip()
    return get(path, sync_to_thread=True, summary=summary, tags=[tag])(handler)


def _case_list(
    query: CaseQuery, service: Service, principal: NamedDependency[Principal]
) -> list[CaseSummary]:
    require(principal, Reading.CASES)
    found = list(service.office.cases(query))
    if query.search:  # found by the customer's account, phone or name: a read of each
        record_reads(service, principal, (s.case_id for s in found), "GET /cases?search")
    return found


MAX_PAGE = 1_000
BOUNDED = {
    "limit": QueryParameter(ge=1, le=MAX_PAGE, description=f"At most {MAX_PAGE} a page"),
    "offset": QueryParameter(ge=0, le=STORAGE_INT_MAX, description="Skip this many"),
}
"""The query parameters of a query class bounded to what the API and storage take."""


@get("/cases/{reference:str}", sync_to_thread=True, summary="A case", tags=["cases"])
def case(
    request: Request[Any, Any, Any],
    asking: NamedDependency[Asking],
    reference: FromPath[str],
    as_of: FromQuery[datetime | None] = None,
    version: Annotated[
        int | None,
        QueryParameter(
            ge=1,
            le=STORAGE_INT_MAX,
            required=False,
            description="The case as it was at this version (from 1)",
        ),
    ] = None,
) -> Response[CaseState]:
    """A case with its notes, follow-ups, escalations, visits and clocks; as it was at a
    moment (`as_of`) or a version (`version`) for a replay. The `ETag` is its version."""
    principal = asking.principal()  # in the handler's thread: one hop
    if as_of is not None and version is not None:
        raise InvalidValue("version", "give as_of or version, not both")
    replay = as_of is not None or version is not None
    require(principal, Reading.REPLAY if replay else Reading.CASES)
    query_moment("as_of", as_of)
    service = service_of(request.app.state)
    state = service.office.case(reference, as_of=as_of, version=version)
    note(request.scope, case=str(state.case_id))
    asked = "?as_of" if as_of is not None else "?version" if version is not None else ""
    record_reads(service, principal, [state.case_id], f"GET /cases/{{reference}}{asked}")
    return Response(state, headers=_etag(state))


@get("/cases/{reference:str}/history", sync_to_thread=True, summary="A case's events",
     tags=["cases"])  # fmt: skip
def history(
    request: Request[Any, Any, Any], asking: NamedDependency[Asking], reference: FromPath[str]
) -> list[EventOut]:
    """Every event of the case, oldest first, with who recorded it and when."""
    from entrypoints import render

    principal = asking.principal()  # in the handler's thread: one hop
    require(principal, Reading.HISTORY)
    service = service_of(request.app.state)
    events = service.office.history(reference)
    note(request.scope, case=str(events[0].originator_id))
    record_reads(service, principal, [events[0].originator_id], "GET /cases/{reference}/history")
    return [EventOut(**entry) for entry in render.history_entries(events)]


@get("/cases/{reference:str}/slots", sync_to_thread=True, summary="Visit slots WFM offers",
     tags=["cases"])  # fmt: skip
def slots(
    request: Request[Any, Any, Any],
    asking: NamedDependency[Asking],
    reference: FromPath[str],
    visit: FromQuery[VisitKind] = VisitKind.LLS,
    days: Annotated[int, QueryParameter(ge=1, le=60, description="The next 1 to 60 days")] = 5,
) -> list[Slot]:
    """The visit slots WFM offers for a support case in the next `days`, to agree one with
    the customer before `support-resolve` with its `slot_id` (as `backoffice support slots`).
    Asked by those who work cases: a WFM that does not answer is recorded on the case."""
    principal = asking.principal()  # in the handler's thread: one hop
    why = may_ask_slots(principal.role, principal.scope)
    if why is not None:
        raise Refused(why)
    door = service_of(request.app.state).door
    door.systems.require(WFM)
    offered = door.desks.support.slots(
        reference, actor=principal.actor, visit=visit, window_days=days
    )
    return list(offered)


@get("/follow-ups/due", sync_to_thread=True, summary="Follow-ups due", tags=["cases"])
def due(
    request: Request[Any, Any, Any],
    asking: NamedDependency[Asking],
    until: FromQuery[datetime | None] = None,
    agent: FromQuery[str | None] = None,
) -> list[DueFollowUp]:
    """The follow-ups pending by `until` (default: now), oldest first: the call list; of one
    agent's cases with `agent` (`agent=me`: the signed-in user's)."""
    principal = asking.principal()  # in the handler's thread: one hop
    require(principal, Reading.CASES)
    query_moment("until", until)
    whose = principal.login if agent == "me" else agent
    return list(service_of(request.app.state).office.due_follow_ups(until, agent=whose))


def _period(first: date, last: date) -> Period:
    query_moment("first", first)
    query_moment("last", last)
    if last < first:
        raise InvalidValue("last", "the last day comes before the first")
    if (last - first).days > 3_660:
        raise InvalidValue("last", "a period of at most ten years")
    return Period.of_days(first, last)


@get("/indicators", sync_to_thread=True, summary="Indicators", tags=["indicators"])
def indicators(
    request: Request[Any, Any, Any],
    asking: NamedDependency[Asking],
    first: FromQuery[date],
    last: FromQuery[date],
    by: FromQuery[Dimension] = Dimension.ALL,
) -> IndicatorsOut:
    """Every indicator of the period (Bogotá days `first` to `last`), with its goal, in
    total or by agent, team, category or line."""
    from entrypoints.indicator_tables import indicators_rows, practice_rows

    principal = asking.principal()  # in the handler's thread: one hop
    require(principal, Reading.INDICATORS)
    report = service_of(request.app.state).office.indicators(_period(first, last), by)
    return IndicatorsOut(rows=indicators_rows(report), practices=practice_rows(report))


@attrs.frozen(kw_only=True)
class IndicatorsOut:
    """Every indicator per group (`rows`: each value with its goal, traffic light and the
    counts behind it, and the definitions' label), and the practices' compliance per leader
    and practice (`practices`), as the CLI's `indicators --json` and `--practices --json`."""

    rows: list[dict[str, Any]]
    practices: list[dict[str, Any]]


@get("/indicators.csv", sync_to_thread=True, summary="Indicators as CSV", tags=["indicators"],
     media_type="text/csv")  # fmt: skip
def indicators_csv(
    request: Request[Any, Any, Any],
    asking: NamedDependency[Asking],
    first: FromQuery[date],
    last: FromQuery[date],
    by: FromQuery[Dimension] = Dimension.ALL,
) -> str:
    """The same as CSV, one row per group, as the CLI's `indicators --csv` gives it."""
    from entrypoints import render
    from entrypoints.indicator_tables import INDICATOR_COLUMNS, indicators_rows

    principal = asking.principal()  # in the handler's thread: one hop
    require(principal, Reading.INDICATORS)
    report = service_of(request.app.state).office.indicators(_period(first, last), by)
    out = io.StringIO()
    render.write_csv(out, indicators_rows(report), INDICATOR_COLUMNS)  # safe cells, set columns
    return out.getvalue()


@get("/projections", sync_to_thread=True, summary="Projections", tags=["operations"])
def projections(request: Request[Any, Any, Any], asking: NamedDependency[Asking]) -> dict[str, Any]:
    """Each read model's position in the log, and the log's head."""
    principal = asking.principal()  # in the handler's thread: one hop
    require(principal, Reading.PROJECTIONS)
    office = service_of(request.app.state).office
    return {"log": office.store.last_position(), "positions": office.projections()}


# --- intake --------------------------------------------------------------------------------


@post("/intake/crm", status_code=200, summary="Hand a CRM case over", tags=["intake"],
      responses={201: ResponseSpec(HandedOver, description="A case was made (`created`)",
                                   generate_examples=False)},
      exception_handlers=refused_first(lambda p: may_hand_over(p.role, p.scope)))  # fmt: skip
async def intake_crm(
    request: Request[Any, Any, Any],
    asking: NamedDependency[Asking],
    data: JSONBody[CrmRow],
    idempotency_key: IdempotencyKey = None,
) -> Response[HandedOver]:
    """A case from the front line's CRM, idempotent on its CRM case id: handed over again, it
    is the same case (`known`); a row for an account and typification with an open case is a
    repeat contact on it. 201 when it made a case. With an `Idempotency-Key`, a retry gets
    the first answer again."""

    def admit() -> Principal:
        principal = asking.principal()
        why = may_hand_over(principal.role, principal.scope)
        if why is not None:
            raise Refused(why)
        return principal

    return await idempotent(request, admit, idempotency_key, lambda _: _hand_over(request, data))


def _hand_over(request: Request[Any, Any, Any], data: CrmRow) -> Response[HandedOver]:
    from adapters.intake.crm_export import build_crm_item

    item = build_crm_item("request", *(value.strip() for value in attrs.astuple(data)))
    office = service_of(request.app.state).office
    outcome, status, state = hand_over(office, item, "row")
    note(request.scope, case=str(state.case_id))
    return Response(HandedOver(outcome=outcome, case=state), status_code=status,
                    headers=_etag(state))  # fmt: skip


# --- operations ----------------------------------------------------------------------------


@get("/healthz", sync_to_thread=False, summary="The process is up", tags=["operations"])
def healthz() -> dict[str, str]:
    return {"status": "ok"}


@head("/healthz", sync_to_thread=False, include_in_schema=False)
def healthz_head() -> None:
    """`GET /healthz` without its body (a load balancer's probe; not in the OpenAPI
    document, as HEAD goes with GET)."""


# --- the application -----------------------------------------------------------------------


def routes() -> list[Any]:
    handlers: list[Any] = [sign_in, who, sign_out, case, history, slots, due, indicators,
                           indicators_csv, projections, intake_crm, healthz,
                           healthz_head]  # fmt: skip
    handlers.append(
        _query_route(
            "/cases",
            CaseQuery,
            _case_list,
            list[CaseSummary],
            summary="The case list, filtered and searched",
            tag="cases",
        )
    )
    handlers += [command_route(cls) for cls in COMMAND_ROLES]
    handlers += [*events.ROUTES, *uploads.ROUTES, *operations.ROUTES, *admin.ROUTES,
                 *reads.ROUTES]  # fmt: skip
    for handler in handlers:
        documented(handler)
    handlers += web.routes()  # the console's pages (not in the OpenAPI document)
    return handlers


OPEN = frozenset({"/healthz", "/readyz"})
"""Routes that read no sign-in and answer no problem (`/readyz` says why it is not ready in
its own body, its 503 documented on the route)."""
CHECKED_IN_PATH = frozenset({"login", "token_id"})
"""Path parameters read as the accounts read them (a login's, a token id's form): a 422
naming them when they cannot be one. Other path text (a case's reference) is looked up."""
BODY_MAX_BYTES = 10_000_000
"""The largest body a route takes unless it says otherwise (an upload's 50 MB): 413."""


def documented(handler: Any) -> None:
    """Add to a route's OpenAPI responses the problems it may answer (`problem_responses`),
    as its path, methods and parameters tell: 401 and 403 unless it is open (the sign-in's
    403 is its Origin check), 400 and 422 for its input (a login or token id in the path
    too), 413 (naming the route's limit) and 415 for a body, 404 for a path naming something
    or a `case`, 409 and 412 for commands, intake and administration, 503 for storage. Its
    own `responses=` (intake's 201) are kept."""
    [path] = handler.paths
    methods = set(handler.http_methods)
    if path in OPEN:
        return
    parameters = handler.parsed_fn_signature.parameters
    inputs = {name for name in parameters if name not in ("request", "asking", "principal")}
    statuses = {401, 403, 503}
    if path == "/session":
        statuses = {403, 503} if methods == {"DELETE"} else {401, 503}
        if "POST" in methods:
            statuses.add(403)  # a sign-in posted by another site's page
    if inputs:  # (Litestar documents a 400 for any input: in its own shape, replaced here)
        statuses.add(400)
    if any(f"{{{name}" not in path or name in CHECKED_IN_PATH for name in inputs):
        statuses.add(422)
    if "body" in parameters or "data" in parameters:  # a raw body, JSON or an upload
        statuses |= {413, 415}  # its media type checked, its size bounded
    if (
        "{" in path
        or "case" in parameters
        or path.startswith("/commands/")
        or (path == "/admin/tokens" and "POST" in methods)
    ):
        statuses.add(404)
    if (
        path.startswith(("/commands/", "/intake/"))
        or path.endswith("/slots")
        or (path.startswith("/admin/") and "POST" in methods)
    ):
        statuses.add(409)
    if "if_match" in parameters:
        statuses.add(412)
    limit = handler.request_max_body_size
    limit = BODY_MAX_BYTES if limit is Empty else limit
    said = problem_responses(statuses, body_limit=limit)
    handler.responses = {**said, **(handler.responses or {})}


# --- whole numbers in a query ----------------------------------------------------------------

WHOLE_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)")
WRITTEN_IN_DIGITS = "expected a whole number written in digits (2, not 2.0, 02 or 2e0)"
_WHOLE = "whole_number_parameters"
"""The key of a route's `opt` keeping its query parameters of whole numbers."""


async def whole_numbers_in_digits(request: Request[Any, Any, Any]) -> None:
    """Refuse (422) a whole number of the query not written in digits: Litestar reads
    `limit=2.0` or `offset=1e0` as 2 and 1 (while refusing `2.5`); here every route's whole
    numbers are digits only, decided in one place (the application's `before_request`, run
    before the query is read; a route or router with its own hook would replace it)."""
    handler = request.route_handler
    names: tuple[str, ...] | None = handler.opt.get(_WHOLE)
    if names is None:
        names = handler.opt[_WHOLE] = whole_number_parameters(handler)
    if not names:
        return
    query = request.query_params
    faults = [
        {"key": name, "message": WRITTEN_IN_DIGITS, "source": "query"}
        for name in names
        if any(WHOLE_NUMBER.fullmatch(value) is None for value in query.getall(name, []))
    ]
    if faults:
        raise ValidationException(detail="whole numbers of the query", extra=faults)


def whole_number_parameters(handler: Any) -> tuple[str, ...]:
    """The query parameters of a route that are whole numbers, as the client names them."""
    in_path = set(re.findall(r"{(\w+)", " ".join(handler.paths)))
    dependencies = set(handler.resolve_dependencies())
    names = []
    for argument, field in handler.parsed_fn_signature.parameters.items():
        kwarg = field.kwarg_definition
        if isinstance(kwarg, ParameterKwarg):
            if kwarg.param_type is not ParamType.QUERY:
                continue
        elif kwarg is not None or argument in in_path or argument in dependencies:
            continue
        if int in alternatives(field.annotation):
            names.append(getattr(kwarg, "name", None) or argument)
    return tuple(names)


def create_app(
    settings: Settings | None = None,
    *,
    service: Callable[[], Service] | None = None,
    session_secret: bytes | None = None,
) -> Litestar:
    """The application. `service`: builds what the routes use (by default, from `settings`
    with `entrypoints.bootstrap`), opened at start-up and closed at shutdown."""
    from importlib.metadata import version

    from entrypoints import bootstrap
    from entrypoints.settings import load_settings

    config = settings or load_settings()

    def build() -> Service:
        office = bootstrap.bootstrap(config, existing=True)
        # Where the outbox is (readiness, metrics); the memory backend has no worker to send.
        outbox = None if config.backend == "memory" else bootstrap.outbox_position(config)
        return Service(office, bootstrap.dispatcher(office, config),
                       bootstrap.accounts(office, config), outbox)  # fmt: skip

    opener = service or build
    trusted = TrustedHeader.from_settings(config)
    ops = operations.Operations(config, trusted)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        opened = opener()
        if opened.reads is None:  # who reads which case's personal data (docs/privacy.md)
            opened.reads = bootstrap.read_register(config)
        app.state.service = opened
        ops.service = opened
        try:
            yield
        finally:
            ops.service = None
            if opened.reads is not None:
                opened.reads.close()
            opened.accounts.close()
            opened.office.close()
            if opened.outbox is not None:
                opened.outbox.close()

    secret = session_secret or check_session_secret(config)
    cookies = SessionCookieConfig(
        secret=secret, key="backoffice_session", httponly=True, samesite="strict",
        secure=config.secure_cookies, max_age=8 * 3600,
    )  # fmt: skip
    handlers = web.with_console_pages(HANDLERS)
    app = Litestar(
        route_handlers=routes(),
        state=State({"trusted": trusted, "operations": ops}),
        dependencies={
            "principal": Provide(current_principal),
            "asking": Provide(asking_of, sync_to_thread=False),
        },
        middleware=[cookies.middleware],
        exception_handlers={kind: _noting_who(handler) for kind, handler in handlers.items()},
        request_class=ApiRequest,
        lifespan=[lifespan],
        openapi_config=OpenAPIConfig(
            title="Back office premium",
            version=version("premium-backoffice"),
            render_plugins=[JsonRenderPlugin(), YamlRenderPlugin()],
            openapi_router=Router(
                "/schema",
                route_handlers=[],
                include_in_schema=False,
                before_request=_the_document_only,
            ),
        ),
        before_request=whole_numbers_in_digits,
        request_max_body_size=BODY_MAX_BYTES,
        logging_config=None,
    )
    # The request log wraps the whole application, not each route (Litestar runs a route's
    # middleware only once routed): a path with no route (404) or a method a route does not
    # answer (405) is logged and counted too, as `(unrouted)`.
    app.asgi_handler = request_log(app.asgi_handler, ops.observe)
    return app


SCHEMA_PATHS = frozenset({SCHEMA_DOCUMENT, "/schema/openapi.yaml", "/schema/openapi.yml"})
"""What `/schema` serves: the OpenAPI document (JSON, YAML), no explorer (a page loading
another site's scripts on the API's origin): view it with any OpenAPI viewer."""


async def _the_document_only(request: Request[Any, Any, Any]) -> None:
    """404 for every other path under `/schema` (Litestar serves the document at `/schema`
    too, and an HTML page of its own for an unknown path there)."""
    if request.scope.get("path_template") not in SCHEMA_PATHS:
        raise NotFoundException()


def _noting_who(handler: ExceptionHandler) -> ExceptionHandler:
    """An exception handler that first puts in the log line who the refused request's
    sign-in claims (`note_claimed_user`), when its account was not read yet."""

    def handle(request: Request[Any, Any, Any], error: Any) -> Response[Any]:
        note_claimed_user(request)
        return handler(request, error)

    return handle


def check_session_secret(settings: Settings) -> bytes:
    """The session cookies' key: `BACKOFFICE_SESSION_SECRET` (64 hex digits), shared by every
    worker and machine; on SQLite, without it, a key kept in the data folder (owner only)."""
    from entrypoints.settings import SettingsError

    if settings.session_secret:
        try:
            key = bytes.fromhex(settings.session_secret)
        except ValueError:
            key = b""
        if len(key) != 32:
            raise SettingsError("BACKOFFICE_SESSION_SECRET: give 64 hex digits (32 bytes)")
        return key
    if settings.backend == "memory":
        return os.urandom(32)  # the data dies with the process; so do its sessions
    if settings.backend != "sqlite":
        raise SettingsError("BACKOFFICE_SESSION_SECRET is not set: the sessions need a key")
    path = settings.data_dir / "session.key"
    if not path.exists():
        with contextlib.suppress(FileExistsError):  # another process made it first
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
            with os.fdopen(fd, "w") as new_key:
                new_key.write(os.urandom(32).hex())
    return bytes.fromhex(path.read_text().strip())


def openapi_document() -> dict[str, Any]:
    """The OpenAPI 3.1 document of the API (what `/schema/openapi.json` serves), built
    without opening any data: `backoffice openapi` writes it, `docs/openapi.json` keeps it."""
    from entrypoints.settings import Settings

    def unused() -> Service:
        raise AssertionError("the document needs no service")

    app = create_app(Settings(database_url="memory"), service=unused, session_secret=bytes(32))
    document: dict[str, Any] = app.openapi_schema.to_schema()
    return document


def app_from_environment() -> Litestar:
    """What `uvicorn` builds in each worker (`backoffice serve`): settings from the
    environment; the request log as JSON lines on standard error."""
    from entrypoints.worker import JsonLines

    handler = logging.StreamHandler()
    handler.setFormatter(JsonLines())
    for name in ("backoffice.http", "backoffice.http.requests"):
        logger = logging.getLogger(name)
        logger.handlers[:] = [handler]
        logger.setLevel(logging.INFO)
        logger.propagate = False
    _end_streams_on_exit()
    return create_app()


def _end_streams_on_exit() -> None:
    """When uvicorn is told to stop (SIGTERM, Ctrl-C), end the live event streams at once:
    it waits for open connections before it shuts down, and a stream never ends by itself.
    Clients reconnect and resume from their `Last-Event-ID`. uvicorn has installed its own
    handlers when it builds the application (here): each is wrapped, then called."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return  # signals are the main thread's; a test's server in a thread has none
    for sig in (signal.SIGTERM, signal.SIGINT):
        installed = signal.getsignal(sig)
        if not callable(installed) or getattr(installed, "ends_streams", False):
            continue

        def ending(number: int, frame: Any, then: Any = installed) -> None:
            events.stop_streams()
            then(number, frame)

        ending.ends_streams = True  # type: ignore[attr-defined]
        signal.signal(sig, ending)
