"""`backoffice case …`: show, history and the agent's actions on one case."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import typer

from domain.errors import InvalidValue
from domain.values import (
    Actor,
    Category,
    Channel,
    EscalationTarget,
    Priority,
    Subcategory,
    VisitKind,
)
from entrypoints.cli.shared import (
    ActorOption,
    CaseArg,
    JsonOption,
    case_app,
    current_office,
    dispatch,
    follow_up_app,
    out,
    parse_line_option,
    parse_when,
    report_done,
)


@case_app.command("show")
def case_show(
    case: CaseArg,
    as_of: Annotated[
        str | None, typer.Option("--as-of", help="Show the case as it was at this time.")
    ] = None,
    version: Annotated[int | None, typer.Option(min=1, help="Show it at this version.")] = None,
    as_json: JsonOption = False,
) -> None:
    """A case now, as of a moment, or at a version (one or the other, not both)."""
    from entrypoints import render

    if as_of is not None and version is not None:
        raise InvalidValue("case show", "give --as-of or --version, not both")
    moment = parse_when(as_of, "--as-of") if as_of else None
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
# Each builds its command (`application.case.commands`, `application.branches.commands`,
# `application.intake.calls`), with the case reference resolved here, and gives it to the
# dispatcher: the one door the HTTP API uses too.


@case_app.command("assign")
def case_assign(case: CaseArg, agent: str, actor: ActorOption, as_json: JsonOption = False) -> None:
    """Give the case to a back-office agent (or reassign it)."""
    from application.case.commands import AssignCase

    office, who = current_office(), Actor.agent(actor)
    report_done(dispatch(AssignCase(case=office.resolve(case), agent=agent), who), as_json)


@case_app.command("interpret")
def case_interpret(
    case: CaseArg,
    category: Category,
    subcategory: Subcategory,
    actor: ActorOption,
    as_json: JsonOption = False,
) -> None:
    """Record what the customer needs: category and subcategory (docs/procedure.md §3)."""
    from application.case.commands import InterpretCase

    office, who = current_office(), Actor.agent(actor)
    command = InterpretCase(case=office.resolve(case), category=category, subcategory=subcategory)
    report_done(dispatch(command, who), as_json)


def _follow_up(text: str | None, option: str = "--follow-up") -> datetime | None:
    """A call-back time given on the command line (a bare date means 09:00 Bogotá)."""
    from adapters.intake.parsing import FOLLOW_UP_BARE_DATE_HOUR

    return parse_when(text, option, bare_date_hour=FOLLOW_UP_BARE_DATE_HOUR) if text else None


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
    phone: Annotated[str | None, typer.Option(help="The customer's phone to call back on.")] = None,
    as_json: JsonOption = False,
) -> None:
    """Open a case from a call to the corporate phone (or find the open one it repeats)."""
    from application.intake.calls import OpenCaseFromCall

    if channel is not Channel.PHONE:
        raise InvalidValue("channel", f"{channel.value} cases come from their imports, not here")
    office = current_office(create=True)  # a call can be the first case of a new folder
    command = OpenCaseFromCall(
        account=account, line=parse_line_option(line), customer_name=customer,
        typification=typification, request=request,
        received_at=parse_when(received, "--received") if received else office.clock.now(),
        follow_up_at=_follow_up(follow_up), recommended_by=recommended_by, phone=phone,
    )  # fmt: skip
    report_done(dispatch(command, Actor.agent(actor), create=True), as_json)


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
    from application.intake.calls import RaiseNewRequest

    office = current_office()
    follow_up_at, who = _follow_up(follow_up), Actor.agent(actor)
    command = RaiseNewRequest(
        case=office.resolve(case), typification=typification, request=request,
        follow_up_at=follow_up_at,
    )  # fmt: skip
    report_done(dispatch(command, who), as_json)


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
    from application.branches.commands import SettleWrite

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
    command = SettleWrite(
        case=office.case(case).case_id, key=key, answer=fields, reason=not_applied or ""
    )
    report_done(dispatch(command, Actor.agent(actor)), as_json)


@case_app.command("note")
def case_note(case: CaseArg, text: str, actor: ActorOption, as_json: JsonOption = False) -> None:
    """Add a note: in RR (AC for móvil) when its gateway is set, then on the case; one longer
    than RR's field goes to the ESTRATEGICOS folder."""
    from application.case.commands import AddNote

    command = AddNote(case=current_office().case(case).case_id, text=text)
    report_done(dispatch(command, Actor.agent(actor)), as_json)


@follow_up_app.command("schedule")
def follow_up_schedule(
    case: CaseArg,
    when: Annotated[str, typer.Argument(help="Due time; a bare date means 09:00 Bogotá.")],
    actor: ActorOption,
    as_json: JsonOption = False,
) -> None:
    """Commit to call the customer back at a time in the future."""
    from adapters.intake.parsing import FOLLOW_UP_BARE_DATE_HOUR
    from application.case.commands import ScheduleFollowUp

    due_at = parse_when(when, "WHEN", bare_date_hour=FOLLOW_UP_BARE_DATE_HOUR)
    office, who = current_office(), Actor.agent(actor)
    report_done(dispatch(ScheduleFollowUp(case=office.resolve(case), due_at=due_at), who), as_json)


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
    from application.case.commands import CompleteFollowUp

    office, who = current_office(), Actor.agent(actor)
    command = CompleteFollowUp(
        case=office.resolve(case), outcome=outcome, follow_up_id=follow_up_id
    )
    report_done(dispatch(command, who), as_json)


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
    from application.branches.commands import RegisterMarking

    if filed_at is not None and cun is None:
        raise InvalidValue("filed_at", "a filing time needs its --cun")
    filed = parse_when(filed_at, "--filed-at") if filed_at else None
    command = RegisterMarking(
        case=current_office().case(case).case_id, marking=marking, cun=cun, filed_at=filed
    )
    report_done(dispatch(command, Actor.agent(actor)), as_json)


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
    from application.case.commands import Escalate

    office, who = current_office(), Actor.agent(actor)
    command = Escalate(
        case=office.resolve(case), target=target, area=area, reason=reason, priority=priority,
        external_reference=reference,
    )  # fmt: skip
    report_done(dispatch(command, who), as_json)


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
    from application.case.commands import ScheduleVisit

    office = current_office()
    slot_start, slot_end = parse_when(start, "--start"), parse_when(end, "--end")
    who = Actor.agent(actor)
    command = ScheduleVisit(
        case=office.resolve(case), kind=kind, slot_start=slot_start, slot_end=slot_end,
        booking_reference=booking,
    )  # fmt: skip
    report_done(dispatch(command, who), as_json)


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
    from application.case.commands import AnswerPqr

    office = current_office()
    when = parse_when(notified_at, "--notified-at") if notified_at else office.clock.now()
    who = Actor.agent(actor)
    report_done(dispatch(AnswerPqr(case=office.resolve(case), notified_at=when), who), as_json)


@case_app.command("adjustment")
def case_adjustment(
    case: CaseArg,
    ticket: Annotated[str, typer.Option(help="The DIME ticket of the adjustment.")],
    actor: ActorOption,
    as_json: JsonOption = False,
) -> None:
    """An adjustment request typified in DIME: the 72-hour solution clock starts."""
    from application.case.commands import RequestAdjustment

    office, who = current_office(), Actor.agent(actor)
    report_done(dispatch(RequestAdjustment(case=office.resolve(case), ticket=ticket), who), as_json)


@case_app.command("adjustment-done")
def case_adjustment_done(
    case: CaseArg,
    outcome: Annotated[str, typer.Option(help="What was adjusted.")],
    actor: ActorOption,
    as_json: JsonOption = False,
) -> None:
    """The adjustment was applied: its clock stops."""
    from application.case.commands import CompleteAdjustment

    office, who = current_office(), Actor.agent(actor)
    command = CompleteAdjustment(case=office.resolve(case), outcome=outcome)
    report_done(dispatch(command, who), as_json)


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
    from application.case.commands import CompleteClosingProtocol

    office, who = current_office(), Actor.agent(actor)
    command = CompleteClosingProtocol(
        case=office.resolve(case), resolution_explained=explained,
        nothing_else_pending=nothing_else, closing_script_read=script, survey_invited=survey,
    )  # fmt: skip
    report_done(dispatch(command, who), as_json)


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
    from application.case.commands import CloseCase

    office, who = current_office(), Actor.agent(actor)
    command = CloseCase(case=office.resolve(case), summary=summary, first_contact=first_contact)
    report_done(dispatch(command, who), as_json)


@case_app.command("reopen")
def case_reopen(
    case: CaseArg,
    reason: Annotated[str, typer.Option(help="Why it is reopened.")],
    actor: ActorOption,
    as_json: JsonOption = False,
) -> None:
    """Reopen a closed case."""
    from application.case.commands import ReopenCase

    office, who = current_office(), Actor.agent(actor)
    report_done(dispatch(ReopenCase(case=office.resolve(case), reason=reason), who), as_json)


@case_app.command("escalation-answered")
def case_escalation_answered(
    case: CaseArg,
    escalation_id: Annotated[int, typer.Argument(help="The escalation's number on the case.")],
    answer: Annotated[str, typer.Option(help="What the area answered.")],
    actor: ActorOption,
    as_json: JsonOption = False,
) -> None:
    """The area answered an escalation: its response clock stops."""
    from application.case.commands import AnswerEscalation

    office, who = current_office(), Actor.agent(actor)
    command = AnswerEscalation(
        case=office.resolve(case), escalation_id=escalation_id, answer=answer
    )
    report_done(dispatch(command, who), as_json)
