"""The procedure's branches over Claro's systems: `sac`, `support`, `pqr`, `sales`.

Each subcommand builds its command (`application.branches.commands`), with the case reference
resolved here, and gives it to the dispatcher (`application.dispatch`), which runs it on its
branch's desk: the same door the HTTP API uses.
"""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING, Annotated

import typer

from domain.values import Actor, Service, SupportRoute, VisitKind  # in the commands' signatures
from entrypoints.cli.shared import (
    ActorOption,
    CaseArg,
    JsonOption,
    current_dispatcher,
    current_office,
    current_settings,
    dispatch,
    out,
    parse_when,
    pqr_app,
    report_done,
    sac_app,
    sales_app,
    support_app,
)

if TYPE_CHECKING:
    from application.case.commands import CommandResult

# The gateways each branch needs configured before anything is read or written (otherwise a
# settings error, exit code 5), as `entrypoints.bootstrap.outside_systems` names them.
SAC = ("RR",)
SUPPORT = ("Diagnosticador", "RR")
PQR = ("RR",)


def _needs(*systems: str) -> None:
    """Refuse early, as a settings error naming the variable, when a gateway the subcommand
    needs is not configured (the demo's folder simulates them all: nothing to configure);
    then build the dispatcher (and read the contact matrix)."""
    from entrypoints.bootstrap import outside_systems

    settings = current_settings()
    if not settings.simulated_systems:
        outside_systems(settings, *systems)
    current_dispatcher()


def _case(reference: str) -> uuid.UUID:
    return current_office().resolve(reference)


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
    from application.branches.commands import SacCheck
    from domain.case.events import AccountChecked
    from entrypoints import render

    _needs(*SAC)
    who = Actor.agent(actor)
    result = dispatch(SacCheck(case=_case(case), inconsistent=inconsistent), who)
    # What the check found is what it recorded.
    check = next(e for e in result.events if isinstance(e, AccountChecked))
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
    from application.branches.commands import SacEscalate

    _needs(*SAC)
    who = Actor.agent(actor)
    report_done(dispatch(SacEscalate(case=_case(case), reason=reason), who), as_json)


@sac_app.command("accept")
def sac_accept(
    case: CaseArg,
    marking: Annotated[str, typer.Option(help="The first-contact marking (UCC/Iclick).")],
    actor: ActorOption,
    as_json: JsonOption = False,
) -> None:
    """The customer accepts: the marking goes to RR as solved in first contact."""
    from application.branches.commands import SacAccept

    _needs(*SAC)
    who = Actor.agent(actor)
    report_done(dispatch(SacAccept(case=_case(case), marking=marking), who), as_json)


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
    from application.branches.commands import SacDispute

    _needs(*SAC)
    who = Actor.agent(actor)
    command = SacDispute(case=_case(case), marking=marking, reason=reason, adjustment=adjustment)
    report_done(dispatch(command, who), as_json)


@support_app.command("diagnose")
def support_diagnose(
    case: CaseArg,
    actor: ActorOption,
    service: Annotated[
        Service | None, typer.Option(help="Falla puntual: the service that fails (T&D).")
    ] = None,
    serial: Annotated[
        list[str] | None,
        typer.Option(help="Inventario: a serial the customer reads out (repeat for each)."),
    ] = None,
    equipment_ok: Annotated[
        bool | None,
        typer.Option(
            "--equipment-ok/--equipment-damaged",
            help="Inventario: the equipment's condition, in the customer's words.",
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Read the Diagnosticador (and RR's services and equipment, F10) and record the findings:
    which service fails and whether RR has it, mass faults and maintenance, the modem, the
    neighbours' signal, the TV technology; for inventory, the serials against RR."""
    from application.branches.commands import SupportDiagnose

    _needs(*SUPPORT)
    who = Actor.agent(actor)
    command = SupportDiagnose(
        case=_case(case), service=service, serials=tuple(serial or ()),
        equipment_ok=equipment_ok,
    )  # fmt: skip
    report_done(dispatch(command, who), as_json)


@support_app.command("resolve")
def support_resolve(
    case: CaseArg,
    route: SupportRoute,
    reason: Annotated[str, typer.Option(help="What was found.")],
    actor: ActorOption,
    visit: Annotated[VisitKind, typer.Option(help="For the physical route: lls or ot.")] = (
        VisitKind.LLS
    ),
    slot: Annotated[
        str | None,
        typer.Option(help="For the physical route: the WFM slot the customer agreed to."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """One of the five routes: platform_single, sector, physical, inventory, not_claro."""
    from application.branches.commands import SupportResolve

    _needs(*SUPPORT)
    who = Actor.agent(actor)
    command = SupportResolve(
        case=_case(case), route=route, reason=reason, visit=visit, slot_id=slot
    )
    result = dispatch(command, who)
    reference = _route_reference(result, reason)
    if not as_json and reference:
        out.print(f"{route.value}: {reference}", highlight=False)
    report_done(result, as_json)


def _route_reference(result: CommandResult, reason: str) -> str | None:
    """The incident, booking or ticket that carries a support route: in the visit or the
    escalation the route recorded, or, when a re-run recorded nothing, in the escalation it
    repeats (its reason ends with the route's)."""
    from domain.case.events import Escalated, VisitScheduled

    for event in result.events:
        if isinstance(event, VisitScheduled):
            return event.booking_reference
        if isinstance(event, Escalated):
            return event.external_reference
    if not result.events:
        for escalation in reversed(result.case.escalations):
            if escalation.reason.endswith(reason.strip()):
                return escalation.external_reference
    return None


@support_app.command("slots")
def support_slots(
    case: CaseArg,
    actor: ActorOption,
    visit: Annotated[VisitKind, typer.Option(help="lls or ot.")] = VisitKind.LLS,
    days: Annotated[int, typer.Option(help="How many days ahead to look (1–60).")] = 5,
    as_json: JsonOption = False,
) -> None:
    """The visit slots WFM offers, to agree one with the customer (then resolve --slot)."""
    from entrypoints import render

    _needs("WFM")
    # A question to WFM, not a command on the case: asked of the dispatcher's support desk.
    desk = current_dispatcher().desks.support
    offered = desk.slots(case, actor=Actor.agent(actor), visit=visit, window_days=days)
    if as_json:
        render.dump_json(
            out,
            [{"slot_id": s.slot_id, "start": s.start.isoformat(), "end": s.end.isoformat()}
             for s in offered],
        )  # fmt: skip
        return
    if not offered:
        out.print("WFM has no slot: resolve physical without --slot escalates to the CRM")
    for s in offered:
        out.print(f"  {s.slot_id}  {render.local(s.start)} – {render.local(s.end)} Bogotá",
                  highlight=False, markup=False)  # fmt: skip


@support_app.command("crm-visit")
def support_crm_visit(
    case: CaseArg,
    escalation: Annotated[int, typer.Argument(help="The no-slot escalation it answers.")],
    kind: Annotated[VisitKind, typer.Option(help="lls or ot.")],
    start: Annotated[str, typer.Option(help="Slot start.")],
    end: Annotated[str, typer.Option(help="Slot end.")],
    booking: Annotated[str, typer.Option(help="The booking reference the CRM gave.")],
    actor: ActorOption,
    as_json: JsonOption = False,
) -> None:
    """The visit the operation's CRM booked after a no-slot escalation: recorded, and the
    escalation answered."""
    from application.branches.commands import SupportVisitBookedByCrm

    _needs()  # nothing outside: the CRM booked it
    slot_start, slot_end = parse_when(start, "--start"), parse_when(end, "--end")
    who = Actor.agent(actor)
    command = SupportVisitBookedByCrm(
        case=_case(case), escalation_id=escalation, kind=kind, slot_start=slot_start,
        slot_end=slot_end, booking_reference=booking,
    )  # fmt: skip
    report_done(dispatch(command, who), as_json)


@pqr_app.command("redirect")
def pqr_redirect(
    case: CaseArg,
    reason: Annotated[str, typer.Option(help="Why it goes to the responsible area.")],
    actor: ActorOption,
    as_json: JsonOption = False,
) -> None:
    """Branch A: correctly escalated; redirect to the responsible area with an e-mail."""
    from application.branches.commands import PqrRedirect

    _needs(*PQR)
    who = Actor.agent(actor)
    report_done(dispatch(PqrRedirect(case=_case(case), reason=reason), who), as_json)


@pqr_app.command("correct")
def pqr_correct(
    case: CaseArg,
    marking: Annotated[str, typer.Option(help="The correct marking.")],
    notes: Annotated[str, typer.Option(help="The complete notes.")],
    actor: ActorOption,
    contacted_at: Annotated[
        str | None, typer.Option(help="When you talked to the customer (default: now).")
    ] = None,
    area: Annotated[
        str | None, typer.Option(help="The right responsible area, if it went to a wrong one.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Branch B: after talking to the customer, correct the marking, notes and area."""
    from application.branches.commands import PqrCorrect

    _needs(*PQR)
    when = (
        parse_when(contacted_at, "--contacted-at") if contacted_at else current_office().clock.now()
    )
    who = Actor.agent(actor)
    command = PqrCorrect(
        case=_case(case), marking=marking, notes=notes, customer_contacted_at=when,
        area=area,
    )  # fmt: skip
    report_done(dispatch(command, who), as_json)


@pqr_app.command("agree")
def pqr_agree(
    case: CaseArg,
    agreement: Annotated[str, typer.Option(help="What was agreed with the customer.")],
    actor: ActorOption,
    as_json: JsonOption = False,
) -> None:
    """Branch C: record the agreement; it is notified as the PQR's answer."""
    from application.branches.commands import PqrAgree

    _needs(*PQR)
    who = Actor.agent(actor)
    report_done(dispatch(PqrAgree(case=_case(case), agreement=agreement), who), as_json)


@sales_app.command("escalate")
def sales_escalate(
    case: CaseArg,
    reason: Annotated[str, typer.Option(help="What the customer wants.")],
    follow_up: Annotated[str, typer.Option(help="When to call back (bare date: 09:00).")],
    actor: ActorOption,
    as_json: JsonOption = False,
) -> None:
    """To the sales area (contact matrix), with a follow-up with the customer."""
    from adapters.intake.parsing import FOLLOW_UP_BARE_DATE_HOUR
    from application.branches.commands import SalesEscalate

    _needs()  # nothing outside: the contact matrix's sales area
    due = parse_when(follow_up, "--follow-up", bare_date_hour=FOLLOW_UP_BARE_DATE_HOUR)
    who = Actor.agent(actor)
    command = SalesEscalate(case=_case(case), reason=reason, follow_up_at=due)
    report_done(dispatch(command, who), as_json)
