"""What every route of the HTTP API shares: the service it works with, and who is asking
(sign-in by session cookie with its CSRF token, by bearer token, or by a trusted proxy's
header), checked against the permissions of `application.access.permissions`; the
`Idempotency-Key` of the routes that make things (`idempotent`); and how a JSON body is read
(`ApiRequest`: JSON only, every field known, numbers as numbers)."""

from __future__ import annotations

import contextlib
import dataclasses
import decimal
import difflib
import enum
import functools
import hashlib
import hmac
import ipaddress
import json
import logging
import re
import secrets
import typing
import uuid
from collections.abc import Callable, Iterable, Mapping, MutableMapping
from datetime import UTC, date, datetime, time, timedelta
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
    body_refusal: str | None = None
    """Why the request's body is refused (a body sent to a change that takes none,
    `unwanted_body`), said once the account was read (a sign-in refused is a 401 first)."""

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
        if self.body_refusal is not None:
            raise BodyRefused([{"key": "body", "message": self.body_refusal, "source": "body"}])
        return _signed_in(self.request, self.how, principal)


def asking_of(request: Request[Any, Any, Any]) -> Asking:
    """Who the request says it is (a dependency, on the event loop: no storage is read):
    a bearer token; the trusted proxy's header (when configured, and only from the proxies'
    addresses); or the session's cookie. A change (not GET) signed in by a cookie or by the
    header also needs the session's CSRF token in `X-CSRF-Token` (for the header's user,
    `GET /session` gives it). 401 without any; the account is read by `Asking.principal`,
    which then refuses a body sent to a change that takes none (`unwanted_body`)."""
    asking = _asking(request, request.headers.get(CSRF_HEADER, ""), bearer=True)
    unwanted = unwanted_body(request)
    return asking if unwanted is None else attrs.evolve(asking, body_refusal=unwanted)


NO_BODY = "this route takes no body"
EMPTY_BODY_BYTES = 2
"""A body this short (`{}`) sent to a route that takes none is taken as no body."""


def unwanted_body(request: Request[Any, Any, Any]) -> str | None:
    """Why the request's body is refused: a change (POST…) whose route reads no body (no
    `data`, no raw `body`) sent one: a `Content-Length` above `EMPTY_BODY_BYTES`, or a
    chunked body (its length unknown without reading it). None otherwise. Read from the
    headers alone (no await, no storage): the API's routes refuse a body they would drop, as
    they refuse an unknown field; `{}`, which many clients send with a POST that has nothing
    to say, is taken as none."""
    if request.method in SAFE_METHODS:
        return None
    headers = request.headers
    if "transfer-encoding" not in headers:
        try:
            if int(headers.get("content-length") or 0) <= EMPTY_BODY_BYTES:
                return None
        except ValueError:  # not a length (the server reads none): no body
            return None
    signature = getattr(request.scope.get("route_handler"), "parsed_fn_signature", None)
    if signature is None or "data" in signature.parameters or "body" in signature.parameters:
        return None
    return NO_BODY


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
    compared = _as_compared(request, body)
    digest = _digest(request, compared)
    handler = request.route_handler
    several = len(request.headers.getall(IDEMPOTENCY_KEY, [])) > 1 or ", " in key

    def begin() -> tuple[Principal, Response[Any] | None]:
        principal = admit()
        if several:  # two headers (or joined by a proxy: a key has no spaces)
            raise InvalidValue(IDEMPOTENCY_KEY, "given twice: send one")
        if keys is None:
            raise InvalidValue(IDEMPOTENCY_KEY, "this service keeps no keys")
        try:
            kept = keys.begin(principal.login, key, digest)
        except InvalidValue:
            if compared == body:
                raise
            # kept before JSON bodies were compared as JSON (a digest of the bytes sent): the
            # same bytes are the same request (for the day such a key is kept)
            kept = keys.begin(principal.login, key, _digest(request, body))
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


def _digest(request: Request[Any, Any, Any], body: bytes) -> str:
    """The digest an `Idempotency-Key` is kept with: of the method, the path and `body`."""
    parts = (request.method.encode(), request.url.path.encode(), body)
    return hashlib.sha256(b"\0".join(parts)).hexdigest()


def _as_compared(request: Request[Any, Any, Any], body: bytes) -> bytes:
    """The body as a retry's is compared with the first's: a JSON body as its canonical JSON
    (each object's keys sorted, no spaces: the same JSON however it was spaced, its keys in
    any order, its text escaped or not); any other body (an e-mail) as its bytes."""
    media_type, _ = request.content_type
    if media_type and not _is_json(media_type):
        return body
    if not media_type and json_body_class(request.scope.get("route_handler")) is None:
        return body  # no Content-Type, on a route that reads no JSON: bytes
    try:
        return msgspec.json.encode(msgspec.json.decode(body), order="sorted")
    except (msgspec.DecodeError, RecursionError):  # not JSON after all: its bytes
        return body


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
      misspelt `followup_at` would lose the customer's follow-up), as is a field given
      twice in one object (`given_twice`), a value of a JSON kind the field does not take
      (a number or a truth value sent as text, `"1"`; a number for a date-time, which
      msgspec would take for a Unix time, or for a truth value, taken for 0 or 1), and a
      whole number that storage cannot take (or an id, `…_id`, below 1): up to
      `MAX_ERRORS` of these together (`body_errors`).

    Litestar's own reading (required fields, the values of an enum, a date's or a UUID's
    text, bounds) follows, as before: it stops at its first fault."""

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
            faults, more = body_errors(value, cls, given_twice(body, value))
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


def body_errors(
    value: Any, cls: type, twice: Iterable[str] = ()
) -> tuple[list[dict[str, str]], int]:
    """What a JSON object read into the attrs class `cls` has that the class does not take:
    the fields given `twice` (`given_twice`), unknown fields, values of a JSON kind the
    field does not take (`_takes`), whole numbers out of storage's range (and ids below 1).
    The first `MAX_ERRORS`, each as Litestar's (`key`, `message`, `source`), and how many
    more: a body of a hundred thousand unknown fields costs a pass over its keys, not a
    search for a near name for each (only for a few, short ones)."""
    faults = _Faults()
    for where in twice:
        faults.add(where[:80], "given twice: send it once")
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


TEXT, NUMBER, TRUTH, OBJECT, LIST = "text", "number", "truth", "object", "list"
"""The kinds of a JSON value (null aside): what `_takes` says a field takes."""
_GOT = {TEXT: "text", NUMBER: "a number", TRUTH: "true or false", OBJECT: "an object",
        LIST: "a list"}  # fmt: skip


def _json_kind(item: Any) -> str | None:
    """The JSON kind of a decoded value (None: null, or not JSON's)."""
    if isinstance(item, bool):
        return TRUTH
    if isinstance(item, int | float):
        return NUMBER
    if isinstance(item, str):
        return TEXT
    if isinstance(item, dict):
        return OBJECT
    if isinstance(item, list):
        return LIST
    return None


def _value_errors(item: Any, kind: Any, where: str, faults: _Faults) -> None:
    if item is None:
        return  # null: Litestar says whether the field takes it
    kinds, taken = _field_kinds(kind)
    got = _json_kind(item)
    if taken is not None and got is not None and got not in taken:
        said = " or ".join(dict.fromkeys(_expected(one) for one in kinds))
        hint = " (send it without quotes)" if got == TEXT and taken & {NUMBER, TRUTH} else ""
        faults.add(where, f"expected {said}, got {_GOT[got]}{hint}")
        return
    if got == NUMBER and isinstance(item, int) and int in kinds:
        low = 1 if where.endswith("_id") else 0
        if item < low:
            faults.add(where, f"at least {low}")
        elif item > STORAGE_INT_MAX:
            faults.add(where, f"at most {STORAGE_INT_MAX}")
        return
    for candidate in kinds:
        if isinstance(candidate, type) and attrs.has(candidate) and isinstance(item, dict):
            _object_errors(item, candidate, f"{where}.", faults)
        elif isinstance(item, list) and (inner := _element(candidate)) is not None:
            for number, element in enumerate(item):
                _value_errors(element, inner, f"{where}[{number}]", faults)


def _field_kinds(kind: Any) -> tuple[tuple[Any, ...], frozenset[str] | None]:
    """The alternatives of a field's type `kind`, and the JSON kinds it takes (`_takes`;
    None when one of them is not known here, Any…: msgspec decides): once for each type."""
    try:
        return _field_kinds_once(kind)
    except TypeError:  # a type that cannot be a key (unhashable metadata): worked out again
        return _field_kinds_once.__wrapped__(kind)


@functools.cache
def _field_kinds_once(kind: Any) -> tuple[tuple[Any, ...], frozenset[str] | None]:
    kinds = alternatives(kind)
    each = [_takes(one) for one in kinds]
    if any(takes is None for takes in each):
        return kinds, None
    return kinds, frozenset().union(*(takes for takes in each if takes is not None))


def _element(kind: Any) -> Any:
    """The type of each element of the list type `kind` (`list[T]`, `tuple[T, ...]`…),
    `Any` when unsaid, or None when `kind` is no such list."""
    origin = typing.get_origin(kind)
    if origin in (list, set, frozenset):
        args = typing.get_args(kind)
        return args[0] if args else Any
    if origin is tuple:
        args = typing.get_args(kind)
        return args[0] if len(args) == 2 and args[1] is Ellipsis else None
    return Any if kind in (list, set, frozenset, tuple) else None


def _takes(kind: Any) -> set[str] | None:
    """The JSON kinds a value of `kind` (one alternative, not a union) is read from, as the
    body is read (msgspec, not strict) less its lax readings of numbers: a date-time (a Unix
    time), a truth value (0 or 1), a duration (seconds) each take text only here. None for
    a type not known here (Any, a type variable…): then any kind goes on to msgspec."""
    origin = typing.get_origin(kind)
    if origin is typing.Literal:
        return {k for k in map(_json_kind, typing.get_args(kind)) if k is not None}
    if origin is not None:
        if _element(kind) is not None or origin is tuple:
            return {LIST}
        if isinstance(origin, type) and issubclass(origin, Mapping):
            return {OBJECT}
        return None
    if not isinstance(kind, type):
        return None
    if issubclass(kind, enum.Enum):
        return {k for k in (_json_kind(member.value) for member in kind) if k is not None}
    for types, kinds in _KINDS_TAKEN:
        if issubclass(kind, types):
            return set(kinds)
    if attrs.has(kind) or dataclasses.is_dataclass(kind) or issubclass(kind, msgspec.Struct):
        return {OBJECT}
    return None


_KINDS_TAKEN: tuple[tuple[type | tuple[type, ...], tuple[str, ...]], ...] = (
    (bool, (TRUTH,)),
    ((int, float, decimal.Decimal), (NUMBER,)),
    ((str, date, time, timedelta, uuid.UUID, bytes, bytearray), (TEXT,)),
    ((list, tuple, set, frozenset), (LIST,)),
    (dict, (OBJECT,)),
)
"""The JSON kinds each type is read from (`_takes`), the first match of a type winning
(`bool` is an `int`: it comes first); a `datetime` is a `date`."""


def _expected(kind: Any) -> str:
    """What a field of `kind` (one alternative) takes, in words a person reads."""
    origin = typing.get_origin(kind)
    if origin is typing.Literal:
        return "one of: " + ", ".join(str(value) for value in typing.get_args(kind))
    if isinstance(kind, type) and issubclass(kind, enum.Enum):
        values = ", ".join(str(member.value) for member in kind)
        return f"text (one of: {values})" if _takes(kind) == {TEXT} else f"one of: {values}"
    if isinstance(kind, type) and origin is None:
        for types, said in _SAID:
            if issubclass(kind, types):
                return said
    taken = _takes(kind) or set()
    if taken == {LIST}:
        return "a list"
    if taken == {OBJECT}:
        return "an object"
    return "a value of another kind"


_SAID: tuple[tuple[type | tuple[type, ...], str], ...] = (
    (bool, "true or false"),
    (int, "a whole number"),
    ((float, decimal.Decimal), "a number"),
    (str, "text"),
    (datetime, "a date and time (ISO 8601 with its offset)"),
    (date, "a date (ISO 8601)"),
    (time, "a time (ISO 8601)"),
    (timedelta, "a duration (ISO 8601)"),
    (uuid.UUID, "a UUID"),
    ((bytes, bytearray), "text (base64)"),
)


# --- a field given twice -------------------------------------------------------------------

_KEY_END = re.compile(rb'"[ \t\r\n]*:')
"""Where a key of a JSON object ends (its closing quote, then its colon): found once for each
key of the text, and more often only in a text holding such a sequence itself."""


def given_twice(body: bytes, value: Any) -> list[str]:
    """The fields of the JSON `body` (decoded: `value`) given twice in one object, each as
    the client named it (`text`, `contact.phone`, `items[0].name`); msgspec keeps the last
    of them. Cheap: one count over the body's bytes, and over the decoded objects' keys.
    Every key of the text ends in `"` then `:` (`_KEY_END`), so when the body has as many of
    those as the decoded objects have keys, no key was given twice; else (a duplicate, or
    a text holding `":` itself) the body is read a second time, keeping each object's
    pairs, to name them."""
    if len(_KEY_END.findall(body)) == _keys_of(value):
        return []
    try:
        pairs = json.loads(body, object_pairs_hook=_Pairs.of)
    except (ValueError, RecursionError):  # read by msgspec, not by json: none to name
        return []
    found: list[str] = []
    _twice_in(pairs, "", found)
    return found


def _keys_of(value: Any) -> int:
    """How many keys the objects of the decoded JSON `value` have, all together."""
    count, pending = 0, [value]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            count += len(item)
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return count


class _Pairs(dict[str, Any]):
    """A JSON object read by `json.loads` with the keys it had more than once."""

    twice: list[str]

    @classmethod
    def of(cls, pairs: list[tuple[str, Any]]) -> _Pairs:
        read = cls()
        read.twice = []
        for key, item in pairs:
            if key in read and key not in read.twice:
                read.twice.append(key)
            read[key] = item
        return read


def _twice_in(value: Any, where: str, found: list[str]) -> None:
    if isinstance(value, _Pairs):
        found.extend(f"{where}.{key}" if where else key for key in value.twice)
        for key, item in value.items():
            _twice_in(item, f"{where}.{key}" if where else key, found)
    elif isinstance(value, list):
        for number, item in enumerate(value):
            _twice_in(item, f"{where}[{number}]", found)


def refused_first(
    may: Callable[[Principal], str | None],
) -> MutableMapping[int | type[Exception], ExceptionHandler]:
    """A route's own handlers of a body that cannot be taken (422, 400, 415), answering for
    who asks first: 401 without a sign-in or with one that is not valid (an unknown or
    revoked token, a disabled account), 403 without the session's CSRF token, and 403 when
    whoever asks may not use the route at all (`may` says why: an auditor's command is
    refused for its role, whatever its body); the body's answer only to someone who may.
    The body is read before the route's handler, and the account is read in the handler's
    worker thread (one hop for a request that succeeds), so this is decided here, on the
    error path: a request with no sign-in at all, or a session's without its CSRF token,
    on the event loop (no storage is read); one with credentials, in a thread of its own
    (their account read from storage). When storage cannot be read, the body's answer."""

    def handle(request: Request[Any, Any, Any], error: Exception) -> Response[Any]:
        note_claimed_user(request)
        answer = answer_for(request, error)
        try:
            asking = asking_of(request)
        except (NotAuthorizedException, Refused) as refused:  # no sign-in, no CSRF token
            return answer_for(request, refused)

        def decide() -> Response[Any]:
            try:
                principal = asking.principal()
            except (NotAuthorizedException, Refused) as refused:  # not valid, or no CSRF
                return answer_for(request, refused)
            except Exception:  # storage failing: the body's answer
                return answer
            why = may(principal)
            return answer if why is None else forbidden(why)

        return Later(decide)

    return {ValidationException: handle, BadBody: handle, UnsupportedBody: handle}
