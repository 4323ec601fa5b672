"""What every route of the HTTP API shares: the service it works with, and who is asking
(sign-in by session cookie with its CSRF token, or by bearer token), checked against the
permissions of `application.access.permissions`."""

from __future__ import annotations

import hmac
from typing import TYPE_CHECKING, Any

import attrs
from litestar import Request
from litestar.datastructures import State
from litestar.exceptions import NotAuthorizedException

from application.access.accounts import Accounts, Principal, SignInRefused
from application.access.permissions import Reading, may_read
from application.dispatch import Dispatcher
from entrypoints.http.problems import Refused
from entrypoints.http.requests_log import note

if TYPE_CHECKING:
    from application.service import Backoffice

CSRF_HEADER = "X-CSRF-Token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


@attrs.define
class Service:
    """What the routes use: the office, its one door for commands, the accounts."""

    office: Backoffice
    door: Dispatcher
    accounts: Accounts


def service_of(state: State) -> Service:
    service: Service = state.service
    return service


async def current_principal(request: Request[Any, Any, Any]) -> Principal:
    """The signed-in user: a bearer token, or the session's cookie (and, for a change, the
    session's CSRF token in `X-CSRF-Token`). Checked again on every request: a disabled
    account, a revoked token or someone who left the roster loses access at once."""
    service = service_of(request.app.state)
    authorization = request.headers.get("Authorization", "")
    try:
        if authorization.lower().startswith("bearer "):
            principal = service.accounts.authenticate_token(authorization[7:].strip())
            note(request.scope, user=principal.login)
            return principal
        session = request.session if "session" in request.scope else {}
        login = session.get("login") if isinstance(session, dict) else None
        if not login:
            raise NotAuthorizedException("sign in (POST /session) or send a bearer token")
        if request.method not in SAFE_METHODS:
            sent = request.headers.get(CSRF_HEADER, "")
            if not sent or not _same(sent, str(session.get("csrf", ""))):
                raise Refused(f"send the session's CSRF token in {CSRF_HEADER}")
        principal = service.accounts.principal(str(login))
        note(request.scope, user=principal.login)
        return principal
    except SignInRefused as refused:
        raise NotAuthorizedException(str(refused)) from None


def _same(a: str, b: str) -> bool:
    return hmac.compare_digest(a.encode(), b.encode())


def require(principal: Principal, reading: Reading) -> None:
    """Refuse (403, with the reason) a reading the principal's role may not do."""
    why = may_read(principal.role, principal.scope, reading)
    if why is not None:
        raise Refused(why)
