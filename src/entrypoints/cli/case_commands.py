"""`backoffice case …`: show, history and the agent's actions on one case."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer

from domain.errors import InvalidValue, RuleViolation
from domain.values import (
    Actor,
    Category,
    Channel,
    EscalationTarget,
    Priority,
    Resolution,
    Subcategory,
    VisitKind,
)
from entrypoints.cli.shared import (
    ActorOption,
    CaseArg,
    JsonOption,
    case_app,
    current_office,
    current_settings,
    err,
    follow_up_app,
    out,
    parse_line_option,
    parse_when,
    report_done,
)

if TYPE_CHECKING:
    from application.case.outside import OutsideWriter
    from domain.case.state import CaseState


@case_app.command("show")
def case_show(
    case: CaseArg,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Show the case as it was at this time.")
    ] = None,
    version: Annotated[int | None, typer.Option(min=1, help="Show it at this version.")] = None,
    as_json: JsonOption = False,
) -> None:
    """A case now, as of a moment, or at a version."""
    from entrypoints import render

    moment = parse_when(as_of) if as_of else None
    state = current_office().case(case, as_of=moment, version=version)
    if as_json:
        render.dump_json(out, render.case_json(state))
    else:
        render.show_case(out, state, as_of=moment)


@case_app.command("history")
def case_history(
    case: CaseArg,
    full: Annotated[
        bool, typer.Option("--full", help="Every value whole (long texts are cut otherwise).")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Every event of the case with time, actor and data: the auditor's view."""
    from entrypoints import render

    office = current_office()
    case_id = office.resolve(case)
    events = office.history_stream(case_id)  # a page at a time: any length
    if as_json:
        render.dump_json(out, render.history_entries(events))
    else:
        render.show_history(out, events, count=office.case(case_id).version, full=full)


# --- agent actions ---------------------------------------------------------------------------


@case_app.command("assign")
def case_assign(case: CaseArg, agent: str, actor: ActorOption, as_json: JsonOption = False) -> None:
    """Give the case to a back-office agent (or reassign it)."""
    report_done(current_office().assign(case, agent=agent, actor=Actor.agent(actor)), as_json)


@case_app.command("interpret")
def case_interpret(
    case: CaseArg,
    category: Category,
    subcategory: Subcategory,
    actor: ActorOption,
    as_json: JsonOption = False,
) -> None:
    """Record what the customer needs: category and subcategory (DOMAIN §3)."""
    result = current_office().interpret(
        case, category=category, subcategory=subcategory, actor=Actor.agent(actor)
    )
    report_done(result, as_json)


def _account_records(reference: str) -> tuple[CaseState, OutsideWriter | None, str]:
    """The case, and the writer to its account's system (RR, AC for móvil) when that gateway
    is configured; otherwise None and what to tell the agent once the case has it."""
    from application.case.outside import OutsideWriter
    from entrypoints.bootstrap import outside_systems

    office, settings = current_office(), current_settings()
    case = office.case(reference)
    systems = outside_systems(settings)
    system = systems.account_system(case.line)
    try:
        systems.require(system)
    except RuleViolation as missing:
        return case, None, f"recorded on the case only: {missing}"
    return case, OutsideWriter(office, systems), ""


def _say(notice: str) -> None:
    if notice:
        err.print(notice, markup=False, highlight=False)


def _follow_up(text: str | None) -> datetime | None:
    """A call-back time given on the command line (a bare date means 09:00 Bogotá)."""
    from adapters.intake.parsing import FOLLOW_UP_BARE_DATE_HOUR

    return parse_when(text, bare_date_hour=FOLLOW_UP_BARE_DATE_HOUR) if text else None


@case_app.command("open")
def case_open(
    account: Annotated[str, typer.Option(help="The customer's account.")],
    line: Annotated[str, typer.Option(help="hogar or móvil.")],
    customer: Annotated[str, typer.Option(help="The customer's name.")],
    typification: Annotated[str, typer.Option(help="What the call is about.")],
    request: Annotated[str, typer.Option(help="What the customer asks for.")],
    actor: ActorOption,
    channel: Annotated[
        Channel, typer.Option(help="Only phone: CRM and e-mail cases come from their imports.")
    ] = Channel.PHONE,
    received: Annotated[
        str | None, typer.Option(help="When the call came in (default: now).")
    ] = None,
    follow_up: Annotated[
        str | None, typer.Option(help="When the customer wants the call back.")
    ] = None,
    recommended_by: Annotated[
        str | None, typer.Option(help="Who recommended it (an internal client).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Open a case from a call to the corporate phone (or find the open one it repeats)."""
    from application.intake.calls import open_from_call

    if channel is not Channel.PHONE:
        raise InvalidValue("channel", f"{channel.value} cases come from their imports, not here")
    office = current_office(create=True)  # a call can be the first case of a new folder
    result = open_from_call(
        office, account=account, line=parse_line_option(line), customer_name=customer,
        typification=typification, request=request,
        received_at=parse_when(received) if received else office.clock.now(),
        follow_up_at=_follow_up(follow_up),
        recommended_by=recommended_by, actor=Actor.agent(actor),
    )  # fmt: skip
    report_done(result, as_json)


@case_app.command("new-request")
def case_new_request(
    case: CaseArg,
    typification: Annotated[str, typer.Option(help="What the new request is about.")],
    request: Annotated[str, typer.Option(help="What the customer asks for.")],
    actor: ActorOption,
    follow_up: Annotated[
        str | None, typer.Option(help="When the customer wants the call back.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """A new request the customer raised during this case's call: a case of its own, linked."""
    from application.intake.calls import raise_new_request

    new, _ = raise_new_request(
        current_office(), case, typification=typification, request=request,
        follow_up_at=_follow_up(follow_up),
        actor=Actor.agent(actor),
    )  # fmt: skip
    report_done(new, as_json)


@case_app.command("write-settled")
def case_write_settled(
    case: CaseArg,
    key: Annotated[str, typer.Argument(help="The pending write's key (case show --json).")],
    actor: ActorOption,
    answer: Annotated[
        list[str] | None,
        typer.Option(help="What the system shows it answered, as name=value (repeat)."),
    ] = None,
    not_applied: Annotated[
        str | None, typer.Option(help="Checked in the system: it was not applied; why.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Settle by hand a write left pending, after checking in the system itself."""
    from application.case.commands import CommandResult
    from application.case.outside import settle_by_hand

    if (answer is None) == (not_applied is None):
        raise InvalidValue("write-settled", "give either --answer name=value or --not-applied")
    fields: dict[str, str] | None = None
    if answer is not None:
        fields = {}
        for pair in answer:
            name, sep, value = pair.partition("=")
            if not sep or not name.strip():
                raise InvalidValue("answer", f"{pair!r} is not name=value")
            fields[name.strip()] = value.strip()
    office = current_office()
    state = office.case(case)
    before = state.version
    after = settle_by_hand(office, state.case_id, key=key.strip(), answer=fields,
                           reason=not_applied or "", actor=Actor.agent(actor))  # fmt: skip
    report_done(
        CommandResult(after, tuple(office.store.events_of(state.case_id, after=before))), as_json
    )


@case_app.command("note")
def case_note(case: CaseArg, text: str, actor: ActorOption, as_json: JsonOption = False) -> None:
    """Add a note: in RR (AC for móvil) when its gateway is set, then on the case; one longer
    than RR's field goes to the ESTRATEGICOS folder."""
    from application.case.typification import Notes

    state, writer, notice = _account_records(case)
    who = Actor.agent(actor)
    if writer is None:
        report_done(current_office().add_note(state.case_id, text=text, actor=who), as_json)
        _say(notice)
        return
    report_done(Notes(current_office(), writer).add(state, text=text, actor=who), as_json)


@follow_up_app.command("schedule")
def follow_up_schedule(
    case: CaseArg,
    when: Annotated[str, typer.Argument(help="Due time; a bare date means 09:00 Bogotá.")],
    actor: ActorOption,
    as_json: JsonOption = False,
) -> None:
    """Commit to call the customer back at a time in the future."""
    from adapters.intake.parsing import FOLLOW_UP_BARE_DATE_HOUR

    due_at = parse_when(when, bare_date_hour=FOLLOW_UP_BARE_DATE_HOUR)
    report_done(
        current_office().schedule_follow_up(case, due_at=due_at, actor=Actor.agent(actor)), as_json
    )


@follow_up_app.command("complete")
def follow_up_complete(
    case: CaseArg,
    outcome: Annotated[str, typer.Option(help="What came of the call.")],
    actor: ActorOption,
    follow_up_id: Annotated[
        int | None, typer.Option("--id", help="Which follow-up (default: the next due).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Record the follow-up call as done (on time or late, by the rules)."""
    result = current_office().complete_follow_up(
        case, outcome=outcome, follow_up_id=follow_up_id, actor=Actor.agent(actor)
    )
    report_done(result, as_json)


@case_app.command("typify")
def case_typify(
    case: CaseArg,
    marking: Annotated[str, typer.Argument(help="The marking code (UCC, Iclick, T&D).")],
    actor: ActorOption,
    cun: Annotated[
        str | None, typer.Option(help="The CUN of a PQR the front line already filed.")
    ] = None,
    filed_at: Annotated[
        str | None,
        typer.Option(help="When that PQR was filed (default: as the case came in, or now)."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Register the marking (F22) in RR, AC for móvil (with its tickler), then on the case:
    solved in first contact, or it generates a CUN (RR gives it; --cun: the PQR the front line
    already filed)."""
    from application.case.typification import Typification

    if filed_at is not None and cun is None:
        raise InvalidValue("filed_at", "a filing time needs its --cun")
    filed = parse_when(filed_at) if filed_at else None
    state, writer, notice = _account_records(case)
    who = Actor.agent(actor)
    if writer is None:
        resolution = Resolution.CUN if cun else Resolution.FIRST_CONTACT
        result = current_office().typify(
            state.case_id, marking_code=marking, resolution=resolution, cun=cun,
            filed_at=filed, actor=who,
        )  # fmt: skip
        report_done(result, as_json)
        _say(notice)
        return
    typification = Typification(current_office(), writer)
    typification.check(state, marking, Resolution.CUN if cun else None, cun=cun, filed_at=filed)
    report_done(typification.register(state, marking=marking, notes=f"Tipificación {marking}",
                                      actor=who, cun=cun, filed_at=filed), as_json)  # fmt: skip


@case_app.command("escalate")
def case_escalate(
    case: CaseArg,
    target: EscalationTarget,
    area: Annotated[str, typer.Option(help="The area it goes to.")],
    reason: Annotated[str, typer.Option(help="Why.")],
    actor: ActorOption,
    priority: Priority = Priority.NORMAL,
    reference: Annotated[str | None, typer.Option(help="External ticket reference.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Record an escalation already made (target, area, reason, priority, reference)."""
    result = current_office().escalate(
        case,
        target=target,
        area=area,
        reason=reason,
        priority=priority,
        external_reference=reference,
        actor=Actor.agent(actor),
    )
    report_done(result, as_json)


@case_app.command("visit")
def case_visit(
    case: CaseArg,
    kind: VisitKind,
    start: Annotated[str, typer.Option(help="Slot start.")],
    end: Annotated[str, typer.Option(help="Slot end.")],
    booking: Annotated[str, typer.Option(help="WFM booking reference.")],
    actor: ActorOption,
    as_json: JsonOption = False,
) -> None:
    """Record a technical visit booked in WFM (LLS or OT)."""
    result = current_office().schedule_visit(
        case,
        kind=kind,
        slot_start=parse_when(start),
        slot_end=parse_when(end),
        booking_reference=booking,
        actor=Actor.agent(actor),
    )
    report_done(result, as_json)


@case_app.command("pqr-answer")
def case_pqr_answer(
    case: CaseArg,
    actor: ActorOption,
    notified_at: Annotated[
        str | None, typer.Option(help="When the answer was notified (default: now).")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """The PQR's answer was notified: its clock stops, the reposición window opens."""
    office = current_office()
    when = parse_when(notified_at) if notified_at else office.clock.now()
    report_done(office.answer_pqr(case, notified_at=when, actor=Actor.agent(actor)), as_json)


@case_app.command("adjustment")
def case_adjustment(
    case: CaseArg,
    ticket: Annotated[str, typer.Option(help="The DIME ticket of the adjustment.")],
    actor: ActorOption,
    as_json: JsonOption = False,
) -> None:
    """An adjustment request typified in DIME: the 72-hour solution clock starts."""
    report_done(
        current_office().request_adjustment(case, ticket=ticket, actor=Actor.agent(actor)), as_json
    )


@case_app.command("adjustment-done")
def case_adjustment_done(
    case: CaseArg,
    outcome: Annotated[str, typer.Option(help="What was adjusted.")],
    actor: ActorOption,
    as_json: JsonOption = False,
) -> None:
    """The adjustment was applied: its clock stops."""
    report_done(
        current_office().complete_adjustment(case, outcome=outcome, actor=Actor.agent(actor)),
        as_json,
    )


@case_app.command("protocol")
def case_protocol(
    case: CaseArg,
    actor: ActorOption,
    explained: Annotated[bool, typer.Option(help="Resolution/follow-up explained.")] = False,
    nothing_else: Annotated[bool, typer.Option(help="Nothing else pending, confirmed.")] = False,
    script: Annotated[bool, typer.Option(help="Closing script read.")] = False,
    survey: Annotated[bool, typer.Option(help="Invited to the survey.")] = False,
    as_json: JsonOption = False,
) -> None:
    """Record the closing protocol; all four checks are required."""
    result = current_office().complete_closing_protocol(
        case,
        resolution_explained=explained,
        nothing_else_pending=nothing_else,
        closing_script_read=script,
        survey_invited=survey,
        actor=Actor.agent(actor),
    )
    report_done(result, as_json)


@case_app.command("close")
def case_close(
    case: CaseArg,
    summary: Annotated[str, typer.Option(help="What was done.")],
    actor: ActorOption,
    first_contact: Annotated[
        bool, typer.Option("--first-contact", help="Solved in the first contact.")
    ] = False,
    as_json: JsonOption = False,
) -> None:
    """Close the case (after typification and the closing protocol)."""
    result = current_office().close_case(
        case, summary=summary, first_contact=first_contact, actor=Actor.agent(actor)
    )
    report_done(result, as_json)


@case_app.command("reopen")
def case_reopen(
    case: CaseArg,
    reason: Annotated[str, typer.Option(help="Why it is reopened.")],
    actor: ActorOption,
    as_json: JsonOption = False,
) -> None:
    """Reopen a closed case."""
    report_done(current_office().reopen(case, reason=reason, actor=Actor.agent(actor)), as_json)


@case_app.command("escalation-answered")
def case_escalation_answered(
    case: CaseArg,
    escalation_id: Annotated[int, typer.Argument(help="The escalation's number on the case.")],
    answer: Annotated[str, typer.Option(help="What the area answered.")],
    actor: ActorOption,
    as_json: JsonOption = False,
) -> None:
    """The area answered an escalation: its response clock stops."""
    result = current_office().answer_escalation(
        case, escalation_id=escalation_id, answer=answer, actor=Actor.agent(actor)
    )
    report_done(result, as_json)
