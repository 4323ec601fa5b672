"""Administration over HTTP: the accounts and bearer tokens, as `backoffice users …` and
`backoffice tokens …` administer them, through the same service (`Accounts`); see `ROUTES`.

Only an administrator may (`may_administer`; a token of scope `read` lists, changes nothing).
A password or a token's secret is in no log line, no error and no answer but the one that
made it up (a generated password, a new token's secret), shown that once with
`Cache-Control: no-store`. The accounts' store keeps no author of a change: each change is
logged (`backoffice.http`) with the administrator, the action and the account or token.
These routes take no `Idempotency-Key`: its kept answer would hold the secret in clear.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any, TypeVar

import anyio.to_thread
import attrs
from litestar import Request, Response, get, post
from litestar.di import NamedDependency
from litestar.enums import RequestEncodingType
from litestar.params import Body, FromPath, JSONBody

from application.access.accounts import Accounts, Principal
from application.access.permissions import may_administer
from application.ports.accounts import Account, TokenRecord
from entrypoints.http.common import Asking, refused_first, service_of
from entrypoints.http.problems import Refused, problem

log = logging.getLogger("backoffice.http")
T = TypeVar("T")
NO_STORE = {"Cache-Control": "no-store"}

# --- what goes over the wire ---------------------------------------------------------------


@attrs.frozen(kw_only=True)
class AccountOut:
    """An account as administered: never its password nor the password's hash."""

    login: str
    role: str
    name: str
    disabled: bool
    locked_until: datetime | None
    """Until when wrong passwords locked it (null: not locked, or the lock-out has ended; a
    reset ends it)."""
    failed_attempts: int
    """Sign-in attempts in a row without a success: while locked, those that locked it and
    those made since; 0 once a lock-out has ended (the next attempt counts from 1)."""
    has_password: bool
    """False for an integration: it signs in with tokens."""
    created_at: datetime
    updated_at: datetime


@attrs.frozen(kw_only=True)
class AccountAndPassword(AccountOut):
    """An account added or given a new password, with the password made up for it (shown
    this once: hand it over, it is kept only as its hash); null when the request gave one,
    or for an integration (which has none)."""

    password: str | None = None


@attrs.frozen(kw_only=True)
class NewAccount:
    """A new account: `password` at least 12 characters; without it, one is made up and
    answered once (an integration has none: it uses tokens)."""

    login: str
    role: str
    name: str
    password: str | None = None


@attrs.frozen(kw_only=True)
class NewPassword:
    """The new password (at least 12 characters); without it (or without a body), one is made
    up and answered once."""

    password: str | None = None


@attrs.frozen(kw_only=True)
class TokenOut:
    """A bearer token: never its secret (only its digest is kept)."""

    token_id: str
    login: str
    scope: str
    created_at: datetime
    revoked_at: datetime | None


@attrs.frozen(kw_only=True)
class IssuedToken(TokenOut):
    """A new token with its secret (`Authorization: Bearer <secret>`), shown this once."""

    secret: str


@attrs.frozen(kw_only=True)
class NewToken:
    """A token acting as the account `login` within `scope`: `intake` (hands cases over
    only), `read` (reads what the account may read) or `all` (what the account may do)."""

    login: str
    scope: str


def _fields(account: Account) -> dict[str, Any]:
    return {
        "login": account.login,
        "role": account.role.value,
        "name": account.name,
        "disabled": account.disabled,
        "locked_until": account.locked_until,
        "failed_attempts": account.failed_attempts,
        "has_password": account.password_hash is not None,
        "created_at": account.created_at,
        "updated_at": account.updated_at,
    }


def _account(account: Account) -> AccountOut:
    return AccountOut(**_fields(account))


def _token_fields(token: TokenRecord) -> dict[str, Any]:
    return {
        "token_id": token.token_id,
        "login": token.login,
        "scope": token.scope,
        "created_at": token.created_at,
        "revoked_at": token.revoked_at,
    }


def _token(token: TokenRecord) -> TokenOut:
    return TokenOut(**_token_fields(token))


# --- the work, in a worker thread ------------------------------------------------------------


class _Missing(Exception):
    """No such account or token: a 404 (`kind`, the reason)."""

    def __init__(self, kind: str, title: str, reason: str) -> None:
        super().__init__(reason)
        self.kind, self.title, self.reason = kind, title, reason


def _existing(accounts: Accounts, login: str) -> Account:
    account = accounts.find(login)
    if account is None:
        raise _Missing("account-not-found", "No such account", f"no account {login}")
    return account


async def _administer(
    request: Request[Any, Any, Any],
    asking: Asking,
    work: Callable[[Principal, Accounts], T],
    *,
    change: bool,
    status: int = 200,
) -> Response[Any]:
    """`work` as the signed-in administrator (read and checked in the worker thread, one
    hop), its answer not to be stored by caches; 404 for an unknown account or token."""

    def run() -> T:
        principal = asking.principal()
        why = may_administer(principal.role, principal.scope, change=change)
        if why is not None:
            raise Refused(why)
        return work(principal, service_of(request.app.state).accounts)

    try:
        answer = await anyio.to_thread.run_sync(run)
    except _Missing as missing:
        return problem(404, missing.kind, missing.title, missing.reason)
    return Response(answer, status_code=status, headers=NO_STORE)


def _changes(principal: Principal) -> str | None:
    """Why `principal` may not change accounts or tokens (a body refused for them: 403)."""
    return may_administer(principal.role, principal.scope, change=True)


def _logged(principal: Principal, action: str, **about: str) -> None:
    """An administrator's change, in the log: who, what, on which account or token; never a
    password nor a secret."""
    fields = {"admin": principal.login, "action": action, **about}
    log.info("administration: %s", action, extra={"fields": fields})


# --- accounts --------------------------------------------------------------------------------


@get("/admin/users", summary="The accounts", tags=["administration"])
async def list_users(
    request: Request[Any, Any, Any], asking: NamedDependency[Asking]
) -> Response[list[AccountOut]]:
    """Every account by login: role, name, and whether it is disabled or locked (never a
    password). As `backoffice users list`."""

    def work(_: Principal, accounts: Accounts) -> list[AccountOut]:
        return [_account(account) for account in accounts.list()]

    return await _administer(request, asking, work, change=False)


@post("/admin/users", status_code=201, summary="Add an account", tags=["administration"],
      exception_handlers=refused_first(_changes))  # fmt: skip
async def add_user(
    request: Request[Any, Any, Any], asking: NamedDependency[Asking], data: JSONBody[NewAccount]
) -> Response[AccountAndPassword]:
    """A new account with a role: a person's with the password given, or one made up and
    answered this once; an integration's without (it uses tokens). 409 when the login has an
    account already. As `backoffice users add`."""

    def work(principal: Principal, accounts: Accounts) -> AccountAndPassword:
        made_up: str | None = None
        if data.password is None:
            account, made_up = accounts.add_generated(data.login, data.role, data.name)
        else:
            account = accounts.add(data.login, data.role, data.name, data.password)
        _logged(principal, "user.add", account=account.login, role=account.role.value)
        return AccountAndPassword(**_fields(account), password=made_up)

    return await _administer(request, asking, work, change=True, status=201)


@post("/admin/users/{login:str}/disable", status_code=200, summary="Disable an account",
      tags=["administration"])  # fmt: skip
async def disable_user(
    request: Request[Any, Any, Any], asking: NamedDependency[Asking], login: FromPath[str]
) -> Response[AccountOut]:
    """The account can no longer sign in nor use its tokens; its sessions end, for good
    (enabling it again brings none back). 409 for your own account, or the last enabled
    administrator's: the service keeps a way in. As `backoffice users disable`."""

    def work(principal: Principal, accounts: Accounts) -> AccountOut:
        _existing(accounts, login)
        account = accounts.disable_guarded(login, by=principal.login)
        _logged(principal, "user.disable", account=account.login)
        return _account(account)

    return await _administer(request, asking, work, change=True)


@post("/admin/users/{login:str}/enable", status_code=200, summary="Enable an account",
      tags=["administration"])  # fmt: skip
async def enable_user(
    request: Request[Any, Any, Any], asking: NamedDependency[Asking], login: FromPath[str]
) -> Response[AccountOut]:
    """A disabled account may sign in and use its tokens again. As `backoffice users
    enable`."""

    def work(principal: Principal, accounts: Accounts) -> AccountOut:
        _existing(accounts, login)
        account = accounts.enable(login)
        _logged(principal, "user.enable", account=account.login)
        return _account(account)

    return await _administer(request, asking, work, change=True)


@post("/admin/users/{login:str}/reset", status_code=200, summary="A new password",
      tags=["administration"], exception_handlers=refused_first(_changes))  # fmt: skip
async def reset_user(
    request: Request[Any, Any, Any],
    asking: NamedDependency[Asking],
    login: FromPath[str],
    data: Annotated[NewPassword | None, Body(media_type=RequestEncodingType.JSON)] = None,
) -> Response[AccountAndPassword]:
    """A new password, the one given or one made up and answered this once; it also ends a
    lock-out and every session of the account. An integration has none (422). As
    `backoffice users reset`."""

    def work(principal: Principal, accounts: Accounts) -> AccountAndPassword:
        _existing(accounts, login)
        made_up: str | None = None
        if data is None or data.password is None:
            account, made_up = accounts.reset_generated(login)
        else:
            account = accounts.reset(login, data.password)
        _logged(principal, "user.reset", account=account.login)
        return AccountAndPassword(**_fields(account), password=made_up)

    return await _administer(request, asking, work, change=True)


# --- tokens ----------------------------------------------------------------------------------


@get("/admin/tokens", summary="The bearer tokens", tags=["administration"])
async def list_tokens(
    request: Request[Any, Any, Any], asking: NamedDependency[Asking]
) -> Response[list[TokenOut]]:
    """Every token, oldest first: its id, account, scope, and when issued and revoked (never
    a secret). As `backoffice tokens list`."""

    def work(_: Principal, accounts: Accounts) -> list[TokenOut]:
        return [_token(token) for token in accounts.tokens()]

    return await _administer(request, asking, work, change=False)


@post("/admin/tokens", status_code=201, summary="Issue a bearer token", tags=["administration"],
      exception_handlers=refused_first(_changes))  # fmt: skip
async def add_token(
    request: Request[Any, Any, Any], asking: NamedDependency[Asking], data: JSONBody[NewToken]
) -> Response[IssuedToken]:
    """A token acting as an account within a scope; its secret is answered this once (only
    its digest is kept). 409 for a disabled account. As `backoffice tokens add`."""

    def work(principal: Principal, accounts: Accounts) -> IssuedToken:
        _existing(accounts, data.login)
        record, secret = accounts.issue_token(data.login, data.scope)
        _logged(principal, "token.add", token=record.token_id, account=record.login,
                scope=record.scope)  # fmt: skip
        return IssuedToken(**_token_fields(record), secret=secret)

    return await _administer(request, asking, work, change=True, status=201)


@post("/admin/tokens/{token_id:str}/revoke", status_code=200, summary="Revoke a bearer token",
      tags=["administration"])  # fmt: skip
async def revoke_token(
    request: Request[Any, Any, Any], asking: NamedDependency[Asking], token_id: FromPath[str]
) -> Response[TokenOut]:
    """The token stops working at once (revoked already: nothing changes). As `backoffice
    tokens revoke`."""

    def work(principal: Principal, accounts: Accounts) -> TokenOut:
        if accounts.find_token(token_id) is None:
            raise _Missing("token-not-found", "No such token", f"no token {token_id}")
        accounts.revoke_token(token_id)
        record = accounts.find_token(token_id)
        assert record is not None
        _logged(principal, "token.revoke", token=record.token_id, account=record.login)
        return _token(record)

    return await _administer(request, asking, work, change=True)


ROUTES: list[Any] = [
    list_users, add_user, disable_user, enable_user, reset_user,
    list_tokens, add_token, revoke_token,
]  # fmt: skip
