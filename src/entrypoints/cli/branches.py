"""The procedure's branches over Claro's systems: `backoffice sac …`."""

from __future__ import annotations

from typing import Annotated

import typer

from application.sac import SacDesk
from domain.values import (
    Actor,
)
from entrypoints import render
from entrypoints.bootstrap import build_sac_desk
from entrypoints.cli.shared import (
    ActorOption,
    CaseArg,
    JsonOption,
    current_office,
    current_settings,
    out,
    report_done,
    sac_app,
)


def _desk() -> SacDesk:
    office = current_office()
    return build_sac_desk(office, current_settings())


@sac_app.command("check")
def sac_check(
    case: CaseArg,
    actor: ActorOption,
    inconsistent: Annotated[
        bool, typer.Option("--inconsistent", help="Your own verdict: something is wrong.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Read RR for the case's subcategory (cartera, facturación, recaudo) and record it."""
    check = _desk().check(case, actor=Actor.agent(actor), inconsistent=inconsistent)
    if as_json:
        render.dump_json(
            out, {"findings": list(check.findings), "inconsistent": check.inconsistent}
        )
        return
    for finding in check.findings:
        out.print(f"  {finding}", highlight=False)
    out.print("inconsistent: escalate it" if check.inconsistent else "no inconsistency found")


@sac_app.command("escalate")
def sac_escalate(
    case: CaseArg,
    reason: Annotated[str, typer.Option(help="What is inconsistent.")],
    actor: ActorOption,
    as_json: JsonOption = False,
) -> None:
    """Escalate the inconsistency to the contact matrix's area."""
    report_done(_desk().escalate(case, reason=reason, actor=Actor.agent(actor)), as_json)


@sac_app.command("accept")
def sac_accept(
    case: CaseArg,
    marking: Annotated[str, typer.Option(help="The first-contact marking (UCC/Iclick).")],
    actor: ActorOption,
    as_json: JsonOption = False,
) -> None:
    """The customer accepts: the marking goes to RR as solved in first contact."""
    report_done(_desk().customer_accepts(case, marking=marking, actor=Actor.agent(actor)), as_json)


@sac_app.command("dispute")
def sac_dispute(
    case: CaseArg,
    marking: Annotated[str, typer.Option(help="The PQR or adjustment marking.")],
    reason: Annotated[str, typer.Option(help="What the customer disputes.")],
    actor: ActorOption,
    adjustment: Annotated[
        bool, typer.Option("--adjustment", help="An adjustment in DIME instead of a PQR.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """The customer does not accept: a PQR (CUN, 15 business days) or an adjustment (72 h)."""
    result = _desk().customer_disputes(
        case, marking=marking, reason=reason, adjustment=adjustment, actor=Actor.agent(actor)
    )
    report_done(result, as_json)
