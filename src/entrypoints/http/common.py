"""What every route of the HTTP API shares: the service it works with, and who is asking
(sign-in by session cookie with its CSRF token, by bearer token, or by a trusted proxy's
header), checked against the permissions of `application.access.permissions`; the
`Idempotency-Key` of the routes that make things (`idempotent`); and how a JSON body is read
(`ApiRequest`: JSON only, every field known, numbers as numbers)."""

from __future__ import annotations

import contextlib
import difflib
import enum
import hashlib
import hmac
import ipaddress
import json
import logging
import secrets
import typing
import uuid
from collections.abc import Callable, Iterable, MutableMapping
from datetime import UTC, date, datetime, time
from typing import TYPE_CHECKING, Annotated, Any, TypeVar

import anyio.to_thread
import attrs
import msgspec
from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.enums import MediaType
from litestar.exceptions import NotAuthorizedException, SerializationException, ValidationException
from litestar.params import HeaderParameter

from application.access.accounts import (
    IDEMPOTENCY_KEY,
    Accounts,
    Principal,
    RequestInProgress,
    SignInRefused,
)
from application.access.permissions import Reading, may_read
from application.dispatch import Dispatcher
from application.ports.accounts import StoredAnswer
from domain.case.state import CaseState
from domain.errors import InvalidValue
from domain.values import check_moment
from entrypoints.http.problems import (
    MAX_ERRORS,
    BadBody,
    BodyRefused,
    ExceptionHandler,
    Later,
    Refused,
    UnsupportedBody,
    alternatives,
    answer_for,
    attrs_class,
    field_types,
    forbidden,
    problem,
    reason_for,
)
from entrypoints.http.requests_log import note
from entrypoints.http.sessions import password_session, session_epoch

if TYPE_CHECKING:
    from application.intake.records import IntakeItem
    from application.jobs.outbox import PositionTracker
    from application.ports.reads import ReadRegister
    from application.service import Backoffice
    from entrypoints.settings import IpNetwork, Settings

When = TypeVar("When", bound=date | None)

CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
log = logging.getLogger("backoffice.http")


@attrs.define
class Service:
    """What the routes use: the office, its one door for commands, the accounts; where the
    outbox is in the log (None: not reported by `/readyz` and `/metrics`); and the register
    of reads of personal data (None: the application opens one from its settings at start-up,
    `entrypoints.http.app.create_app`)."""

    office: Backoffice
    door: Dispatcher
    accounts: Accounts
    outbox: PositionTracker | None = None
    reads: ReadRegister | None = None


def service_of(state: State) -> Service:
    service: Service = state.service
    return service


# --- single sign-on by a trusted proxy's header --------------------------------------------


@attrs.frozen
class TrustedHeader:
    """The header in which a reverse proxy names the signed-in user, and the proxies'
    addresses: from any other address the header is ignored."""

    header: str
    proxies: tuple[IpNetwork, ...]

    @classmethod
    def from_settings(cls, settings: Settings) -> TrustedHeader | None:
        """None (off) unless both settings are given; one without the other is refused."""
        from entrypoints.settings import SettingsError

        header = (settings.trusted_user_header or "").strip()
        proxies = settings.trusted_networks()
        if not header and not proxies:
            return None
        if not header or not proxies:
            raise SettingsError(
                "BACKOFFICE_TRUSTED_USER_HEADER and BACKOFFICE_TRUSTED_PROXIES go together: "
                "set both for single sign-on, or neither"
            )
        if not all(c.isalnum() or c in "-_" for c in header):
            raise SettingsError(f"BACKOFFICE_TRUSTED_USER_HEADER: {header[:60]!r} is not a header")
        return cls(header, proxies)

    def believes(self, host: str | None) -> bool:
        return within(host, self.proxies)


def within(host: str | None, networks: tuple[IpNetwork, ...]) -> bool:
    """Whether the address `host` (a client's, as the server saw it) is in one of `networks`."""
    try:
        address = ipaddress.ip_address((host or "").split("%")[0])
    except ValueError:  # not an address (a Unix socket, a test client)
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        address = address.ipv4_mapped
    return any(address in network for network in networks)


def client_host(request: ASGIConnection[Any, Any, Any, Any]) -> str | None:
    return request.client.host if request.client is not None else None


def _trusted_login(request: Request[Any, Any, Any], *, warn: bool = True) -> str | None:
    """The login the trusted proxy's header names (None: no such header, or not from a
    trusted proxy: then it is ignored, and a warning says so without its value)."""
    trusted: TrustedHeader | None = request.app.state.get("trusted")
    if trusted is None:
        return None
    value = request.headers.get(trusted.header)
    if value is None:
        return None
    host = client_host(request)
    if not trusted.believes(host):
        if warn:
            log.warning(
                "%s sent from %s, not a trusted proxy (BACKOFFICE_TRUSTED_PROXIES): ignored",
                trusted.header, host,
            )  # fmt: skip
        return None
    login = value.strip().lower()
    if not login:
        raise NotAuthorizedException(f"the proxy sent an empty {trusted.header}")
    return login


def note_claimed_user(request: Request[Any, Any, Any]) -> None:
    """Put in the request's log line the login its sign-in claims, when none is there yet
    (a request refused before its account was read: bad input, a stale `If-Match`…): the
    session's (its cookie is ours, encrypted and signed) or the trusted proxy's header's.
    Read without storage; a bearer token's account is not known without it, so a token's
    request refused that early logs no user."""
    noted = request.scope.get("state", {}).get("log", {})
    if noted.get("user") is not None:
        return
    login: str | None = None
    with contextlib.suppress(NotAuthorizedException):  # an empty header: no one claimed
        login = _trusted_login(request, warn=False)
    if login is None and "session" in request.scope:
        session = request.scope.get("session")
        if isinstance(session, dict) and session.get("login") and not session.get("sso"):
            login = str(session["login"])
    if login is not None and not request.headers.get("Authorization", "").lower().startswith(
        "bearer "
    ):
        note(request.scope, user=login)


SIGNED_IN_BY = "signed_in_by"


def signed_in_by(request: Request[Any, Any, Any]) -> str | None:
    """How the request's principal signed in: `token`, `header` (the trusted proxy's),
    `session` (a password's cookie), or None before `current_principal`."""
    state = request.scope.get("state", {})
    how: str | None = state.get(SIGNED_IN_BY)
    return how


def _signed_in(request: Request[Any, Any, Any], how: str, principal: Principal) -> Principal:
    request.scope.setdefault("state", {})[SIGNED_IN_BY] = how
    note(request.scope, user=principal.login)
    return principal


def sso_csrf_token(request: Request[Any, Any, Any], login: str) -> str:
    """The CSRF token of a user signed in by the trusted header: the session cookie's, made
    now (a session for the header's user only) when there is none for `login`."""
    session = request.session if "session" in request.scope else {}
    if isinstance(session, dict) and session.get("sso") == login and session.get("csrf"):
        return str(session["csrf"])
    csrf = secrets.token_urlsafe(24)
    request.set_session({"login": login, "csrf": csrf, "sso": login})
    return csrf


# --- who is asking -------------------------------------------------------------------------


@attrs.frozen(eq=False)
class Asking:
    """Who a request says it is, as far as the event loop can tell without storage: a bearer
    token, the trusted proxy's header, or the session's cookie (with its CSRF token, already
    checked). `principal()` reads the account (and the roster) from storage and checks it
    again: it blocks, so call it in the worker thread where the request does its work (one
    thread hop for the request, not one for the sign-in and another for the work)."""

    request: Request[Any, Any, Any]
    how: str
    """`token`, `header` (the trusted proxy's) or `session` (a password's cookie)."""
    name: str
    """The token's secret, or the login."""
    refusal: str | None = None
    """Why a change by the header's user is refused (its CSRF token), said once the account
    was read (an unknown or disabled account is a 401 first)."""
    epoch: int | None = None
    """A password's session's epoch (`sessions.session_epoch`), compared with the account's
    (None: not a password's session, nothing compared)."""

    def principal(self) -> Principal:
        """The signed-in user, checked against storage now (blocking); 401 for a disabled
        account, a revoked token or someone who left the roster."""
        accounts = service_of(self.request.app.state).accounts
        try:
            if self.how == "token":
                principal = accounts.authenticate_token(self.name)
            else:
                principal = accounts.principal(self.name, self.epoch)
        except SignInRefused as refused:
            raise NotAuthorizedException(str(refused)) from None
        if self.refusal is not None:
            raise Refused(self.refusal)
        return _signed_in(self.request, self.how, principal)


def asking_of(request: Request[Any, Any, Any]) -> Asking:
    """Who the request says it is (a dependency, on the event loop: no storage is read):
    a bearer token; the trusted proxy's header (when configured, and only from the proxies'
    addresses); or the session's cookie. A change (not GET) signed in by a cookie or by the
    header also needs the session's CSRF token in `X-CSRF-Token` (for the header's user,
    `GET /session` gives it). 401 without any; the account is read by `Asking.principal`."""
    return _asking(request, request.headers.get(CSRF_HEADER, ""), bearer=True)


def form_asking(request: Request[Any, Any, Any], csrf: str) -> Asking:
    """`asking_of` for a form a page posted, the session's CSRF token in its field (`csrf`)
    rather than a header: a person's, by the session's cookie or the proxy's header (a bearer
    token posts no forms)."""
    return _asking(request, csrf, bearer=False)


def _asking(request: Request[Any, Any, Any], sent_csrf: str, *, bearer: bool) -> Asking:
    authorization = request.headers.get("Authorization", "")
    if bearer and authorization.lower().startswith("bearer "):
        return Asking(request, "token", authorization[7:].strip())
    session = request.session if "session" in request.scope else {}
    if not isinstance(session, dict):
        session = {}
    by_header = _trusted_login(request)
    if by_header is not None:  # the header's user: read (in the worker thread) first
        if request.method not in SAFE_METHODS and session.get("sso") != by_header:
            return Asking(request, "header", by_header,
                          f"send the CSRF token of GET /session in {CSRF_HEADER}")  # fmt: skip
        return Asking(request, "header", by_header, csrf_refusal(request, session, sent_csrf))
    login = session.get("login")
    if not login:
        raise NotAuthorizedException("sign in (POST /session) or send a bearer token")
    if session.get("sso"):  # the proxy's sign-in ends with the proxy's header
        raise NotAuthorizedException("sign in through the single sign-on")
    refusal = csrf_refusal(request, session, sent_csrf)
    if refusal is not None:
        raise Refused(refusal)
    return Asking(request, "session", str(login), epoch=session_epoch(session))


async def current_principal(request: Request[Any, Any, Any]) -> Principal:
    """The signed-in user (`asking_of`, then `Asking.principal` in a worker thread). Checked
    again on every request: a disabled account, a revoked token or someone who left the
    roster loses access at once."""
    return await anyio.to_thread.run_sync(asking_of(request).principal)


def csrf_refusal(
    request: Request[Any, Any, Any], session: dict[str, Any], sent: str | None = None
) -> str | None:
    """Why a change may not go on: the session's CSRF token was not sent (in `X-CSRF-Token`,
    or `sent` by a form); None for a reading, or with the right token."""
    if request.method in SAFE_METHODS:
        return None
    sent = request.headers.get(CSRF_HEADER, "") if sent is None else sent
    if not sent or not _same(sent, str(session.get("csrf", ""))):
        return f"send the session's CSRF token in {CSRF_HEADER}"
    return None


def csrf_token(request: Request[Any, Any, Any], principal: Principal) -> str | None:
    """The CSRF token a signed-in person sends with changes: the session's; for the proxy's
    header's user, made now when there is none (`sso_csrf_token`)."""
    if signed_in_by(request) == "header":
        return sso_csrf_token(request, principal.login)
    session = request.session if "session" in request.scope else {}
    token = session.get("csrf") if isinstance(session, dict) else None
    return str(token) if token else None


def new_session(request: Request[Any, Any, Any], principal: Principal) -> str:
    """A password's session for `principal` (signing in): its cookie set (with the account's
    session epoch, `sessions.password_session`), its CSRF token made."""
    csrf = secrets.token_urlsafe(24)
    request.set_session(password_session(principal.login, csrf, principal.epoch))
    return csrf


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def record_reads(
    service: Service, principal: Principal, case_ids: Iterable[uuid.UUID], through: str
) -> None:
    """Record that `principal` was shown these cases' personal data now, `through` a route or
    a page (`application.ports.reads`): one statement however many cases, each once. Called
    in the worker thread once the answer is known to succeed; a register that cannot record
    fails the request (storage unavailable), so nothing is shown unrecorded."""
    shown = list(dict.fromkeys(case_ids))
    if service.reads is None or not shown:
        return
    from application.ports.reads import PersonalRead

    at = service.office.clock.now()
    if principal.scope is not None:  # a bearer token's read: said apart from a person's
        through = f"{through} (token, scope {principal.scope})"
    service.reads.record(
        [PersonalRead(at=at, reader=principal.login, case_id=case_id, through=through)
         for case_id in shown]
    )  # fmt: skip


def require(principal: Principal, reading: Reading) -> None:
    """Refuse (403, with the reason) a reading the principal's role may not do."""
    why = may_read(principal.role, principal.scope, reading)
    if why is not None:
        raise Refused(why)


# --- dates and date-times of a query -------------------------------------------------------

NAIVE_MOMENT = "give the moment with its offset (…-05:00 or Z)"


def query_moment(name: str, value: When) -> When:
    """A date or date-time that a query takes in its parameter `name`, bounded as the
    commands' are (`domain.values.check_moment`): a date-time with its offset, within the
    years `FIRST_YEAR`–`LAST_YEAR` in UTC; a date, within them as it is. Else a 422 naming
    `name` (a day of year 9999 would overflow the periods and moments computed from it)."""
    if value is None:
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise InvalidValue(name, NAIVE_MOMENT)
        check_moment(name, value)
    else:
        check_moment(name, datetime.combine(value, time(), UTC))
    return value


# --- Idempotency-Key -------------------------------------------------------------------------

IDEMPOTENCY_DESCRIPTION = (
    "Any unique value (a UUID): the request runs once for you with this key; a retry with "
    "the same key gets the first answer again (for 24 hours), a retry with another body a 422"
)
REPLAYED = "Idempotent-Replayed"


async def idempotent(
    request: Request[Any, Any, Any],
    admit: Callable[[], Principal],
    key: str | None,
    run: Callable[[Principal], Response[Any]],
) -> Response[Any]:
    """`run` as the principal `admit` gives (both in a worker thread, in one hop: `admit`
    reads the account and checks what it may do), once per principal and `Idempotency-Key`.

    Without a key, `run` runs. With one, the key is kept as in progress first (with a digest
    of the method, path and body); a retry with the same key and body gets the first answer
    again (its status, body and `ETag`, marked `Idempotent-Replayed: true`) and runs
    nothing; the same key with another body is a 422; a retry while the first is still
    running is a 409. Only a success (2xx) is kept: when `run` fails, the key is forgotten
    and a retry runs again (the domain's own rules make most commands idempotent by
    themselves). What is kept of a success is its receipt (`_receipt`: the case's id and
    version, the versions of the events it lists), not its body: the customer's data stays
    in the log alone, and a retry's answer is rebuilt from the log (`_rebuilt`)."""
    if key is None:
        return await anyio.to_thread.run_sync(lambda: run(admit()))
    service = service_of(request.app.state)
    keys = service.accounts.idempotency
    body = await request.body()
    digest = hashlib.sha256(
        b"\0".join((request.method.encode(), request.url.path.encode(), body))
    ).hexdigest()
    handler = request.route_handler

    def begin() -> tuple[Principal, Response[Any] | None]:
        principal = admit()
        if keys is None:
            raise InvalidValue(IDEMPOTENCY_KEY, "this service keeps no keys")
        kept = keys.begin(principal.login, key, digest)
        return principal, None if kept is None else _rebuilt(kept, service, handler)

    try:
        principal, replay = await anyio.to_thread.run_sync(begin)
    except RequestInProgress as busy:
        conflict = problem(409, "request-in-progress", "Request in progress", str(busy))
        conflict.headers["Retry-After"] = "1"
        return conflict
    if replay is not None:
        _note_case(request, replay)
        return replay
    assert keys is not None

    def attempt() -> Response[Any]:
        """`run`, then its receipt kept (a success) or the key forgotten (not a success)."""
        response = run(principal)
        status = response.status_code or handler.status_code or 200
        if not 200 <= status < 300:
            keys.abandon(principal.login, key)
            return response
        keys.finish(principal.login, key, _receipt(response, status))
        return response

    try:
        return await anyio.to_thread.run_sync(attempt)
    except BaseException:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(keys.abandon, principal.login, key)
        raise


def _note_case(request: Request[Any, Any, Any], answer: Response[Any]) -> None:
    """Put the case an answer shows in the request's log line (a replay's)."""
    content = answer.content
    if attrs.has(type(content)):
        for field in attrs.fields(type(content)):
            value = getattr(content, field.name)
            if isinstance(value, CaseState):
                note(request.scope, case=str(value.case_id))
                return


RECEIPT = "receipt"
"""The key marking a kept answer as a receipt (its format's number); an answer kept before
receipts (a whole body, for at most a day after the upgrade) lacks it and is given as kept."""
RECEIPT_FORMAT = 1


def _receipt(response: Response[Any], status: int) -> StoredAnswer:
    """What is kept to answer a retry of a successful `response`, none of it the customer's:
    its status and headers (the `ETag`), and its content (an attrs instance: a command's
    `Done`, an intake's answer) as references to the log: the case (its id and the version
    the answer showed), each list of events by the versions of the case it shows, and the
    other fields, short words the API says (an outcome, a notice), as they are."""
    content = response.content
    if not attrs.has(type(content)):
        raise TypeError(f"an idempotent route answers an attrs instance, not {type(content)}")
    case: tuple[str, CaseState] | None = None
    events: dict[str, list[int]] = {}
    fields: dict[str, str | int | bool | None] = {}
    for field in attrs.fields(type(content)):
        value = getattr(content, field.name)
        if isinstance(value, CaseState) and case is None:
            case = field.name, value
        elif isinstance(value, list) and all(_is_event(item) for item in value):
            events[field.name] = [item.version for item in value]
        elif value is None or isinstance(value, str | int | bool):
            fields[field.name] = value
        else:
            raise TypeError(f"{field.name}: an idempotent answer keeps no {type(value)}")
    if case is None:
        raise TypeError(f"an idempotent answer shows a case: {type(content).__name__} does not")
    kept = {
        RECEIPT: RECEIPT_FORMAT, "answer": type(content).__name__,
        "case": {"field": case[0], "id": str(case[1].case_id), "version": case[1].version},
        "events": events, "fields": fields,
    }  # fmt: skip
    media = response.media_type or MediaType.JSON
    media = media.value if isinstance(media, MediaType) else str(media)
    headers = {k: v for k, v in response.headers.items() if k.lower() != "content-type"}
    return StoredAnswer(
        status=status,
        body=json.dumps(kept, separators=(",", ":")),
        headers={**headers, "Content-Type": media},
    )


def _is_event(item: object) -> bool:
    """An event as an answer lists it (`EventOut`: a case's version, its name, its data)."""
    return attrs.has(type(item)) and isinstance(getattr(item, "version", None), int)


def _rebuilt(answer: StoredAnswer, service: Service, handler: Any) -> Response[Any]:
    """The answer of a retry (marked replayed): rebuilt from its receipt, as the first one
    was made (its class being the route's, `Response[<class>]`), with the case as of the
    version the first showed and its events, read from the log (in the worker thread)."""
    try:
        kept = json.loads(answer.body)
    except ValueError:
        kept = None
    if not isinstance(kept, dict) or kept.get(RECEIPT) != RECEIPT_FORMAT:
        return _replay(answer)  # kept whole, before receipts: given as it was
    [cls] = typing.get_args(handler.parsed_fn_signature.return_type.annotation)
    if cls.__name__ != kept["answer"]:
        raise TypeError(f"a receipt of {kept['answer']} on a route answering {cls.__name__}")
    office = service.office
    case_id = uuid.UUID(kept["case"]["id"])
    case = office.case(case_id, version=int(kept["case"]["version"]))
    types = typing.get_type_hints(cls)
    values: dict[str, Any] = {kept["case"]["field"]: case, **kept["fields"]}
    for name, versions in kept["events"].items():
        [item] = typing.get_args(types[name])
        values[name] = [item(**entry) for entry in _entries(office, case_id, versions)]
    headers = {k: v for k, v in answer.headers.items() if k.lower() != "content-type"}
    headers[REPLAYED] = "true"
    media = answer.headers.get("Content-Type", MediaType.JSON.value)
    return Response(cls(**values), status_code=answer.status, headers=headers, media_type=media)


def _entries(office: Backoffice, case_id: uuid.UUID, versions: list[int]) -> list[dict[str, Any]]:
    """The events of the case with those versions, as its history shows them, in order."""
    from entrypoints import render

    if not versions:
        return []
    wanted = set(versions)
    found = []
    for event in office.store.events_of(case_id, after=min(versions) - 1):
        if event.originator_version in wanted:
            found.append(event)
        if event.originator_version >= max(versions):
            break
    if len(found) != len(wanted):
        raise RuntimeError("the log lacks events a kept answer listed")
    return list(render.history_entries(found))


def _replay(answer: StoredAnswer) -> Response[Any]:
    """An answer kept whole (before receipts), given again as it was."""
    headers = {k: v for k, v in answer.headers.items() if k.lower() != "content-type"}
    headers[REPLAYED] = "true"
    media = answer.headers.get("Content-Type", MediaType.JSON.value)
    return Response(
        answer.body.encode("utf-8"), status_code=answer.status, headers=headers, media_type=media
    )


IdempotencyKey = Annotated[
    str | None,
    HeaderParameter(name="Idempotency-Key", required=False, description=IDEMPOTENCY_DESCRIPTION),
]
"""The `Idempotency-Key` header of the routes that make cases or record commands."""


def hand_over(office: Backoffice, item: IntakeItem, field: str) -> tuple[str, int, CaseState]:
    """One case handed over by the front line (a CRM row, an e-mail), ingested as its import
    would: the outcome (`created`, `repeat_contact` on the open case it repeats, or `known`:
    handed over before), the HTTP status (201 when it made a case) and the case holding it.
    A record that cannot be a case is an `InvalidValue` naming the field (`field` when the
    reader names none)."""
    from application.intake.records import RejectedRow

    if isinstance(item, RejectedRow):
        raise InvalidValue(item.field or field, item.reason)
    report = office.ingest([item])
    if report.rejected:
        [rejected] = report.rejected
        raise InvalidValue(rejected.field or field, rejected.reason)
    if report.created:
        outcome, status = "created", 201
    elif report.repeat_contacts:
        outcome, status = "repeat_contact", 200
    else:
        outcome, status = "known", 200
    own = item.source.case_id()
    holders = office.index.find_by_source_key(item.source.key)
    return outcome, status, office.case(own if own in holders or not holders else holders[0])


# --- JSON bodies -------------------------------------------------------------------------------

STORAGE_INT_MAX = 2**63 - 1
"""The largest whole number storage takes (a signed 64-bit integer, SQLite's and
PostgreSQL's `bigint`): the most an offset, a case's version or a log position may be."""
HINTS = {"actor": "who acts is the signed-in user"}
"""What an unknown field's refusal adds for a field clients are known to send."""


class ApiRequest(Request[Any, Any, Any]):
    """A request whose JSON body (`data` read into an attrs class: a command, a CRM row, a
    sign-in, an account…) is read strictly, in one place for every route:

    - a body of another media type than JSON is a 415 (no `Content-Type`: read as JSON);
    - a body that cannot be read (not JSON, nested too deeply, a number too large) is a 400,
      naming the field when it is known;
    - a field the class does not have is a 422 naming it (never dropped silently: a
      misspelt `followup_at` would lose the customer's follow-up), as is a number or a
      truth value sent as text (`"1"`), and a whole number that storage cannot take (or an
      id, `…_id`, below 1).

    Litestar's own reading (types, required fields) follows, as before."""

    async def json(self) -> Any:
        media_type, _ = self.content_type
        body = await self.body()
        if body and media_type and not _is_json(media_type):
            raise UnsupportedBody(f"send the body as JSON (Content-Type: application/json), "
                                  f"not {media_type[:60]}")  # fmt: skip
        try:
            value = await super().json()
        except RecursionError:
            raise BadBody("the body is not valid JSON: nested too deeply") from None
        except SerializationException as error:
            raise _unreadable(body, self.scope.get("route_handler"), str(error)) from None
        cls = json_body_class(self.scope.get("route_handler"))
        if cls is not None:
            faults, more = body_errors(value, cls)
            if faults:
                raise BodyRefused(faults, more)
        return value


def _is_json(media_type: str) -> bool:
    media_type = media_type.lower()
    return media_type == "application/json" or media_type.endswith("+json")


def _unreadable(body: bytes, handler: Any, message: str) -> BadBody:
    """The 400 for a body msgspec could not read, naming the field when the body's class
    tells it (read again as that class, on this error path only, for the place)."""
    message = message.removeprefix("JSON is malformed: ")
    what, _, where = message.partition(" - at `")
    if not where:
        return BadBody(f"the body is not valid JSON: {what}")
    cls = json_body_class(handler)
    field: str | None = None
    if cls is not None:
        try:
            msgspec.json.decode(body, type=cls, strict=False)
        except (msgspec.DecodeError, RecursionError) as typed:
            typed_what, _, typed_where = str(typed).partition(" - at `")
            if typed_what == what and typed_where.startswith("$."):
                field = typed_where.rstrip("`").removeprefix("$.")
    reason = reason_for(what)
    if field is None:
        return BadBody(f"the body cannot be read: {reason}")
    return BadBody(f"{field}: {reason}", field=field, reason=reason)


def json_body_class(handler: Any) -> type | None:
    """The attrs class a route reads its JSON body (`data`) into, if it does."""
    signature = getattr(handler, "parsed_fn_signature", None)
    data = signature.parameters.get("data") if signature is not None else None
    return None if data is None else attrs_class(data.annotation)


NEAR_NAME_AT_MOST = 64
"""The longest unknown field that a refusal looks for a near name of (`did you mean…?`)."""


@attrs.define
class _Faults:
    """What `body_errors` found: the first `MAX_ERRORS` faults, and how many more."""

    listed: list[dict[str, str]] = attrs.Factory(list)
    more: int = 0

    def room(self) -> int:
        return MAX_ERRORS - len(self.listed)

    def add(self, key: str, message: str) -> None:
        if self.room() > 0:
            self.listed.append({"key": key, "message": message, "source": "body"})
        else:
            self.more += 1


def body_errors(value: Any, cls: type) -> tuple[list[dict[str, str]], int]:
    """What a JSON object read into the attrs class `cls` has that the class does not take:
    unknown fields, numbers or truth values as text, whole numbers out of storage's range
    (and ids below 1). The first `MAX_ERRORS`, each as Litestar's (`key`, `message`,
    `source`), and how many more: a body of a hundred thousand unknown fields costs a pass
    over its keys, not a search for a near name for each (only for a few, short ones)."""
    faults = _Faults()
    _object_errors(value, cls, "", faults)
    return faults.listed, faults.more


def _object_errors(value: Any, cls: type, path: str, faults: _Faults) -> None:
    if not isinstance(value, dict):
        return  # not an object: Litestar says what it expected
    fields = field_types(cls)
    unknown = [key for key in value if key not in fields]  # the keys less the fields, in order
    room = faults.room()
    near = len(unknown) <= MAX_ERRORS  # a near name for a few misspellings, not for a flood
    for key in unknown[:room]:
        faults.add(f"{path}{key}"[:80], _unknown(str(key), fields, near=near))
    faults.more += max(0, len(unknown) - room)
    if len(unknown) < len(value):
        for key, item in value.items():
            if key in fields:
                _value_errors(item, fields[key], f"{path}{key}", faults)


def _unknown(key: str, fields: dict[str, Any], *, near: bool) -> str:
    if key in HINTS:
        return f"unknown field: {HINTS[key]}"
    if not near or len(key) > NEAR_NAME_AT_MOST:
        return "unknown field"
    close = difflib.get_close_matches(key, list(fields), n=1, cutoff=0.7)
    return f"unknown field: did you mean {close[0]}?" if close else "unknown field"


def _value_errors(item: Any, kind: Any, where: str, faults: _Faults) -> None:
    kinds = alternatives(kind)
    if item is None or str in kinds:
        return
    if isinstance(item, str):
        for scalar, said in ((bool, "true or false"), (int, "a whole number"), (float, "a number")):
            if scalar in kinds and not any(_takes_text(k) for k in kinds):
                faults.add(where, f"expected {said}, got text (send it without quotes)")
                return
        return
    if isinstance(item, int) and not isinstance(item, bool) and int in kinds:
        low = 1 if where.endswith("_id") else 0
        if item < low:
            faults.add(where, f"at least {low}")
        elif item > STORAGE_INT_MAX:
            faults.add(where, f"at most {STORAGE_INT_MAX}")
        return
    for candidate in kinds:
        if isinstance(candidate, type) and attrs.has(candidate) and isinstance(item, dict):
            _object_errors(item, candidate, f"{where}.", faults)
        elif typing.get_origin(candidate) is list and isinstance(item, list):
            [inner] = typing.get_args(candidate) or (Any,)
            for number, element in enumerate(item):
                _value_errors(element, inner, f"{where}[{number}]", faults)


def _takes_text(kind: Any) -> bool:
    """Whether JSON text is a value of `kind` (text, an enum, a date, a UUID…)."""
    if not isinstance(kind, type):
        return False
    return issubclass(kind, enum.Enum) or not issubclass(kind, bool | int | float)


def refused_first(
    may: Callable[[Principal], str | None],
) -> MutableMapping[int | type[Exception], ExceptionHandler]:
    """A route's own handlers of a body that cannot be taken (422, 400, 415), answering 403
    instead when whoever asks may not use the route at all (`may` says why): an auditor's
    command is refused for its role, whatever its body. The body is read before the route's
    handler, and the account is read in the handler's worker thread (one hop for a request
    that succeeds), so this is decided here, on the error path, in a thread of its own; a
    request whose sign-in cannot be read keeps the body's answer."""

    def handle(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
        note_claimed_user(request)
        answer = answer_for(request, error)

        def decide() -> Response[Any]:
            try:
                principal = asking_of(request).principal()
            except Exception:  # no sign-in to read, or storage failing: the body's answer
                return answer
            why = may(principal)
            return answer if why is None else forbidden(why)

        return Later(decide)

    return {ValidationException: handle, BadBody: handle, UnsupportedBody: handle}
