"""The procedure's branches over Claro's systems: `sac`, `support`, `pqr`, `sales`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from domain.values import Actor, Service, SupportRoute, VisitKind  # in the commands' signatures
from entrypoints.cli.shared import (
    ActorOption,
    CaseArg,
    JsonOption,
    current_office,
    current_settings,
    out,
    parse_when,
    pqr_app,
    report_done,
    sac_app,
    sales_app,
    support_app,
)

if TYPE_CHECKING:
    from application.branches.sac import SacDesk


def _desk() -> SacDesk:
    from entrypoints.bootstrap import build_sac_desk

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
    from entrypoints import render

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
    from entrypoints.bootstrap import build_support_desk

    desk = build_support_desk(current_office(), current_settings())
    _, result = desk.diagnose(
        case, actor=Actor.agent(actor), service=service, serials=tuple(serial or ()),
        equipment_ok=equipment_ok,
    )  # fmt: skip
    report_done(result, as_json)


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
    from entrypoints.bootstrap import build_support_desk

    desk = build_support_desk(current_office(), current_settings())
    resolution = desk.resolve(
        case, route, reason=reason, actor=Actor.agent(actor), visit=visit, slot_id=slot
    )
    if not as_json and resolution.reference:
        out.print(f"{route.value}: {resolution.reference}", highlight=False)
    report_done(resolution.result, as_json)


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
    from entrypoints.bootstrap import build_support_desk

    desk = build_support_desk(current_office(), current_settings(), needed=("WFM",))
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
    from entrypoints.bootstrap import build_support_desk

    desk = build_support_desk(current_office(), current_settings(), needed=())
    result = desk.visit_booked_by_crm(
        case, escalation_id=escalation, kind=kind, slot_start=parse_when(start),
        slot_end=parse_when(end), booking_reference=booking, actor=Actor.agent(actor),
    )  # fmt: skip
    report_done(result, as_json)


@pqr_app.command("redirect")
def pqr_redirect(
    case: CaseArg,
    reason: Annotated[str, typer.Option(help="Why it goes to the responsible area.")],
    actor: ActorOption,
    as_json: JsonOption = False,
) -> None:
    """Branch A: correctly escalated; redirect to the responsible area with an e-mail."""
    from entrypoints.bootstrap import build_pqr_desk

    desk = build_pqr_desk(current_office(), current_settings())
    report_done(desk.redirect(case, reason=reason, actor=Actor.agent(actor)), as_json)


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
    from entrypoints.bootstrap import build_pqr_desk

    office = current_office()
    desk = build_pqr_desk(office, current_settings())
    when = parse_when(contacted_at) if contacted_at else office.clock.now()
    result = desk.correct(
        case, marking=marking, notes=notes, customer_contacted_at=when, actor=Actor.agent(actor),
        area=area,
    )  # fmt: skip
    report_done(result, as_json)


@pqr_app.command("agree")
def pqr_agree(
    case: CaseArg,
    agreement: Annotated[str, typer.Option(help="What was agreed with the customer.")],
    actor: ActorOption,
    as_json: JsonOption = False,
) -> None:
    """Branch C: record the agreement; it is notified as the PQR's answer."""
    from entrypoints.bootstrap import build_pqr_desk

    desk = build_pqr_desk(current_office(), current_settings())
    report_done(desk.agree(case, agreement=agreement, actor=Actor.agent(actor)), as_json)


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
    from application.branches.pqr import SalesDesk
    from entrypoints.bootstrap import contact_matrix

    office = current_office()
    desk = SalesDesk(office, contact_matrix(current_settings()))
    due = parse_when(follow_up, bare_date_hour=FOLLOW_UP_BARE_DATE_HOUR)
    report_done(
        desk.escalate(case, reason=reason, follow_up_at=due, actor=Actor.agent(actor)), as_json
    )
