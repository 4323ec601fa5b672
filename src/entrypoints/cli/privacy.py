"""`backoffice privacy forget|export|correct ACCOUNT`: a data subject's rights (Ley 1581).

Exit codes: 0 done (also when nothing was left to erase); 2 bad input (an empty reason, a
phone that is not one, no correction given, an output file that cannot be written); 3 no case
of that account; 5 settings or storage unavailable (the in-memory store keeps no keys).
The account is never printed back: give `-` to read it from the standard input, so it stays
out of the shell's history and the process list.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from domain.errors import InvalidValue, RuleViolation
from domain.values import Actor, ActorKind, single_line
from entrypoints.cli.shared import (
    HELP,
    ActorOption,
    JsonOption,
    app,
    current_office,
    current_settings,
    out,
)

if TYPE_CHECKING:
    from application.privacy.subjects import Privacy

privacy_app = typer.Typer(
    no_args_is_help=True,
    context_settings=HELP,
    help="A data subject's personal data (Ley 1581): erase, export, correct.",
)
app.add_typer(privacy_app, name="privacy")

AccountArg = Annotated[
    str, typer.Argument(help="The data subject's account; `-` reads it from standard input.")
]


def _account(text: str) -> str:
    if text.strip() == "-":
        text = sys.stdin.readline()
    return text.strip()


OPERATOR_ROLES = frozenset({"supervisor", "coordinator", "manager", "admin"})
"""Who may erase or correct a data subject's data (the roles `--as` must have)."""


def _operator(login: str) -> Actor:
    """The operator `--as` names, checked: once the service has accounts
    (`backoffice users`), an enabled account of a supervisor, coordinator, manager or
    administrator (on the roster today when it is a roster's role); a store without any
    account (the command line alone) takes the login as given, as its other commands do."""
    from application.access.accounts import SignInRefused
    from entrypoints.cli.access import _accounts

    login = login.strip()
    if not login:
        raise InvalidValue("--as", "who runs this is required (your login)")
    login = single_line("--as", login)
    with _accounts() as accounts:
        if accounts.list():
            try:
                principal = accounts.principal(login)
            except SignInRefused as refused:
                raise RuleViolation(f"--as {login}: {refused}") from None
            if principal.role.value not in OPERATOR_ROLES:
                raise RuleViolation(
                    f"--as {login}: the {principal.role.value} role may not erase or correct "
                    "a data subject's data (a supervisor, coordinator, manager or "
                    "administrator may)"
                )
    return Actor(ActorKind.SUPERVISOR, login)


def _privacy(*, reads: bool = False) -> Privacy:
    from entrypoints.bootstrap import privacy

    return privacy(current_office(), current_settings(), reads=reads)


@privacy_app.command("forget")
def forget(
    account: AccountArg,
    requested_by: Annotated[
        str, typer.Option("--requested-by", help="Who asked (not the customer's data).")
    ],
    reason: Annotated[str, typer.Option("--reason", help="Why: the request's reference.")],
    actor: ActorOption,
    as_json: JsonOption = False,
) -> None:
    """Erase the subject's personal data on every case of theirs: recorded on each case, then
    their keys deleted. Cases, clocks and indicators stay as they were."""
    from adapters.personal_keys import KEY_VALIDITY

    for option, given in (("--requested-by", requested_by), ("--reason", reason)):
        if not given.strip():  # said by the option's name, not the application's field
            raise InvalidValue(option, "must not be empty")
    who = _operator(actor)
    report = _privacy().forget(
        _account(account), requested_by=requested_by, reason=reason, actor=who
    )
    if as_json:
        fields = {"cases": report.cases, "keys": report.keys, "in_clear": report.in_clear,
                  "not_purged": list(report.not_purged)}  # fmt: skip
        out.file.write(json.dumps(fields) + "\n")
        return
    if report.cases or report.keys:
        out.print(
            f"personal data erased: recorded on {report.cases} case(s), "
            f"{report.keys} key(s) deleted; a server or worker running now may still show "
            f"it for up to {KEY_VALIDITY:.0f} s (the keys it read last)",
            highlight=False,
        )
    else:
        out.print("nothing left to erase: erased before, nothing recorded since", highlight=False)
    if report.in_clear:
        out.print(
            f"warning: {report.in_clear} event(s) of these cases hold personal data written "
            "in clear (before personal-data encryption); it stays there (docs/privacy.md)",
            highlight=False,
        )
    _not_purged(report.not_purged)


def _not_purged(stores: tuple[str, ...]) -> None:
    if stores:
        out.print(
            f"warning: {', '.join(stores)} kept busy by a reader: what was deleted or "
            "replaced may stay in its files until its next checkpoint (`privacy forget` "
            "run again purges them)",
            highlight=False,
        )


@privacy_app.command("export")
def export(
    account: AccountArg,
    to: Annotated[
        Path | None, typer.Option("--out", help="Write the JSON to this file (new, owner only).")
    ] = None,
) -> None:
    """The subject's data as JSON: each case's personal data, the events that recorded it,
    who read their cases, and the erasures."""
    privacy = _privacy(reads=True)
    try:
        document = privacy.export(_account(account))
    finally:
        if privacy.reads is not None:
            privacy.reads.close()
    text = json.dumps(document, ensure_ascii=False, indent=2) + "\n"
    if to is None:
        out.file.write(text)
        return
    try:  # a new file, for its owner only: it holds personal data
        descriptor = os.open(to, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o600)
    except OSError as error:
        raise InvalidValue("--out", f"{to} cannot be created ({error.strerror})") from None
    with os.fdopen(descriptor, "w", encoding="utf-8") as file:
        file.write(text)
    out.print(f"exported {len(document['cases'])} case(s) to {to}", highlight=False)


@privacy_app.command("correct")
def correct(
    account: AccountArg,
    actor: ActorOption,
    name: Annotated[str | None, typer.Option("--name", help="The corrected name.")] = None,
    phone: Annotated[str | None, typer.Option("--phone", help="The corrected phone.")] = None,
) -> None:
    """Record a rectification of the subject's name and/or phone on every case of theirs."""
    who = _operator(actor)
    report = _privacy().correct(_account(account), customer_name=name, phone=phone, actor=who)
    out.print(f"correction recorded on {report.cases} case(s)", highlight=False)
    _not_purged(report.not_purged)
