"""`backoffice users …` and `backoffice tokens …`: the HTTP API's accounts and bearer tokens
(rules in `application.access.accounts`).

A password is read from standard input (`--password-stdin`, its first line) or asked twice,
hidden, at a terminal; it is never printed nor put in an error. A token's secret is printed
once, when issued: only its digest is kept.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from application.ports.accounts import TOKEN_SCOPES, AccessRole
from domain.errors import InvalidValue
from entrypoints.cli.shared import (
    JsonOption,
    current_office,
    current_settings,
    err,
    out,
    tokens_app,
    users_app,
)

if TYPE_CHECKING:
    from application.access.accounts import Accounts
    from application.ports.accounts import Account, TokenRecord

LoginArg = Annotated[str, typer.Argument(help="The account's login (lower case, e.g. maria.b).")]
PasswordStdinOption = Annotated[
    bool,
    typer.Option(
        "--password-stdin",
        help="Read the password from standard input (its first line) instead of asking.",
    ),
]
_ROLES = ", ".join(role.value for role in AccessRole)
_SCOPES = "; ".join(f"{scope}: {what}" for scope, what in TOKEN_SCOPES.items())


@contextmanager
def _accounts(*, create: bool = False) -> Iterator[Accounts]:
    """The accounts beside this invocation's office, closed afterwards."""
    from entrypoints.bootstrap import accounts

    office = current_office(create=create)
    door = accounts(office, current_settings())
    try:
        yield door
    finally:
        door.close()


def _password(from_stdin: bool) -> str:
    if from_stdin:
        return sys.stdin.readline().removesuffix("\n").removesuffix("\r")
    if not sys.stdin.isatty():
        raise InvalidValue(
            "password", "no terminal to ask for it: give it on standard input (--password-stdin)"
        )
    password: str = typer.prompt("Password", hide_input=True, confirmation_prompt=True, err=True)
    return password


def _account_json(account: Account) -> dict[str, Any]:
    """An account as printed: never its password's hash."""
    return {
        "login": account.login,
        "role": account.role.value,
        "name": account.name,
        "has_password": account.password_hash is not None,
        "disabled": account.disabled,
        "failed_attempts": account.failed_attempts,
        "locked_until": account.locked_until,
        "created_at": account.created_at,
        "updated_at": account.updated_at,
    }


def _token_json(token: TokenRecord) -> dict[str, Any]:
    """A token as printed: never its digest."""
    return {
        "token_id": token.token_id,
        "login": token.login,
        "scope": token.scope,
        "created_at": token.created_at,
        "revoked_at": token.revoked_at,
    }


def _done(account: Account, what: str, as_json: bool) -> None:
    from entrypoints import render

    if as_json:
        render.dump_json(out, _account_json(account))
    else:
        out.print(f"account {account.login} ({account.role.value}) {what}")


# --- users ---------------------------------------------------------------------------------


@users_app.command("add")
def add_user(
    login: LoginArg,
    role: Annotated[str, typer.Option("--role", help=f"One of: {_ROLES}.")],
    name: Annotated[str, typer.Option("--name", help="The person's or the system's name.")],
    password_stdin: PasswordStdinOption = False,
    as_json: JsonOption = False,
) -> None:
    """A new account: a person's with a password, an integration's without (tokens).

    The password (12 characters or more) is asked twice at a terminal, or read from standard
    input with --password-stdin."""
    from application.access.accounts import access_role, check_login

    check_login(login)
    access_role(role)
    with _accounts(create=True) as accounts:
        login, given, name = accounts.check_new(login, role, name)  # before asking
        password = None
        if given is not AccessRole.INTEGRATION or password_stdin:
            password = _password(password_stdin)
        _done(accounts.add(login, given, name, password), "added", as_json)


@users_app.command("disable")
def disable_user(login: LoginArg, as_json: JsonOption = False) -> None:
    """The account can no longer sign in nor use its tokens; its sessions end, for good.

    The last enabled administrator's account is not disabled: add or enable another first."""
    with _accounts() as accounts:  # never the last enabled administrator's
        _done(accounts.disable_guarded(login), "disabled", as_json)


@users_app.command("enable")
def enable_user(login: LoginArg, as_json: JsonOption = False) -> None:
    """A disabled account may sign in and use its tokens again."""
    with _accounts() as accounts:
        _done(accounts.enable(login), "enabled", as_json)


@users_app.command("reset")
def reset_user(
    login: LoginArg, password_stdin: PasswordStdinOption = False, as_json: JsonOption = False
) -> None:
    """A new password (asked twice, or --password-stdin); also ends a lock-out and every
    session of the account."""
    from application.access.accounts import check_login

    check_login(login)
    with _accounts() as accounts:
        if accounts.account(login).role is AccessRole.INTEGRATION:  # before asking
            raise InvalidValue("password", "an integration has none: it uses tokens")
        password = _password(password_stdin)
        _done(accounts.reset(login, password), "has a new password", as_json)


@users_app.command("list")
def list_users(as_json: JsonOption = False) -> None:
    """Every account: role, name, and whether it is disabled or locked (never a password)."""
    from entrypoints import render

    with _accounts() as accounts:
        rows = accounts.list()
    if as_json:
        render.dump_json(out, [_account_json(account) for account in rows])
        return
    table = Table(title=f"Accounts ({len(rows)})", title_justify="left")
    for column in ("login", "role", "name", "state", "created"):
        table.add_column(column)
    for account in rows:
        state = "disabled" if account.disabled else "enabled"
        if account.locked_until is not None:
            state += f", locked until {render.local(account.locked_until)}"
        table.add_row(
            account.login,
            account.role.value,
            account.name,
            state,
            render.local(account.created_at),
        )
    out.print(table)


# --- tokens --------------------------------------------------------------------------------


@tokens_app.command("add")
def add_token(
    login: LoginArg,
    scope: Annotated[str, typer.Option("--scope", help=f"{_SCOPES}.")],
    as_json: JsonOption = False,
) -> None:
    """A bearer token acting as LOGIN within a scope. Its secret is printed this once."""
    from entrypoints import render

    with _accounts(create=True) as accounts:
        record, secret = accounts.issue_token(login, scope)
    if as_json:
        render.dump_json(out, {**_token_json(record), "secret": secret})
    else:
        out.print(secret, soft_wrap=True)
    err.print(
        f"token {record.token_id} for {record.login} (scope {record.scope}): copy the secret "
        "now, it is shown only this once (only its digest is kept)",
        markup=False,
        highlight=False,
    )


@tokens_app.command("revoke")
def revoke_token(
    token_id: Annotated[str, typer.Argument(help="The token's id (see `tokens list`).")],
    as_json: JsonOption = False,
) -> None:
    """The token stops working at once."""
    from entrypoints import render

    with _accounts() as accounts:
        accounts.revoke_token(token_id)
    if as_json:
        render.dump_json(out, {"token_id": token_id, "revoked": True})
    else:
        out.print(f"token {token_id} revoked")


@tokens_app.command("list")
def list_tokens(as_json: JsonOption = False) -> None:
    """Every token: its id, account, scope, and when issued and revoked (never a secret)."""
    from entrypoints import render

    with _accounts() as accounts:
        rows = accounts.tokens()
    if as_json:
        render.dump_json(out, [_token_json(token) for token in rows])
        return
    table = Table(title=f"Tokens ({len(rows)})", title_justify="left")
    for column in ("token", "login", "scope", "issued", "revoked"):
        table.add_column(column)
    for token in rows:
        table.add_row(
            token.token_id,
            token.login,
            token.scope,
            render.local(token.created_at),
            render.local(token.revoked_at),
        )
    out.print(table)
