"""`backoffice`: the command line, one client of the `Backoffice` embedding API.

Exit codes: 0 done; 1 refused by a rule of the procedure; 2 bad input or usage; 3 no such
case; 4 an ingest kept the good rows but rejected some; 5 settings or storage unavailable.
"""

from __future__ import annotations

import csv
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Annotated

import attrs
import typer
from eventsourcing.persistence import PersistenceError
from rich.console import Console
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TimeRemainingColumn

from adapters.intake.parsing import FOLLOW_UP_BARE_DATE_HOUR, DateError, parse_datetime
from application.ingestion import IngestReport
from application.intake import IntakeReader
from application.ports import CaseQuery
from application.sac import SacDesk
from application.service import Backoffice, CommandResult
from application.systems import SystemRefused, SystemUnavailable
from domain.calendar import BusinessCalendar
from domain.errors import CaseNotFound, DomainError, InvalidValue
from domain.indicators import Dimension, Period
from domain.values import (
    Actor,
    CaseStatus,
    Category,
    EscalationTarget,
    LineOfBusiness,
    Priority,
    Resolution,
    Subcategory,
    VisitKind,
)
from entrypoints import render
from entrypoints.bootstrap import bootstrap, build_outbox, build_sac_desk
from entrypoints.settings import Settings, SettingsError, load_settings

OK, REFUSED, BAD_INPUT, NOT_FOUND, PARTIAL_INGEST, UNAVAILABLE = 0, 1, 2, 3, 4, 5

# Piped output (files, other programs) gets wide tables rather than wrapped cells.
out = Console(width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, soft_wrap=True)

app = typer.Typer(
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Premium back office: intake, cases, follow-ups and their audit history.",
)
case_app = typer.Typer(no_args_is_help=True, help="One case: show, history, agent actions.")
follow_up_app = typer.Typer(no_args_is_help=True, help="Schedule or complete a follow-up.")
sac_app = typer.Typer(no_args_is_help=True, help="SAC: check RR, then accept, escalate or dispute.")
app.add_typer(case_app, name="case")
app.add_typer(sac_app, name="sac")
case_app.add_typer(follow_up_app, name="follow-up")


@attrs.define
class _Context:
    data_dir: str | None
    database_url: str | None
    office: Backoffice | None = None
    settings: Settings | None = None

    def open(self) -> Backoffice:
        if self.office is None:
            self.settings = load_settings(data_dir=self.data_dir, database_url=self.database_url)
            self.office = bootstrap(self.settings)
        return self.office


_session: _Context | None = None


@app.callback()
def _options(
    data_dir: Annotated[
        str | None,
        typer.Option(
            "--data-dir", envvar="BACKOFFICE_DATA_DIR", help="Folder of the SQLite files."
        ),
    ] = None,
    database_url: Annotated[
        str | None,
        typer.Option(
            "--database-url",
            envvar="BACKOFFICE_DATABASE_URL",
            help="sqlite (default), memory, or postgresql://user@host:port/db.",
        ),
    ] = None,
) -> None:
    global _session  # noqa: PLW0603 - one invocation, one session; `main` closes it
    _session = _Context(data_dir, database_url)


def _office() -> Backoffice:
    assert _session is not None, "the CLI callback sets the session up"
    return _session.open()


JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
ActorOption = Annotated[
    str, typer.Option("--as", envvar="BACKOFFICE_AGENT", help="Your agent login (who acts).")
]
CaseArg = Annotated[str, typer.Argument(help="Case id, source key (CRM id) or channel:key.")]


def _when(text: str, *, bare_date_hour: int = 0) -> datetime:
    try:
        return parse_datetime(text.strip(), bare_date_hour)
    except DateError as error:
        raise InvalidValue("time", str(error)) from None


# --- intake ----------------------------------------------------------------------------------


@contextmanager
def _progress(total: int, label: str, enabled: bool) -> Iterator[Progress]:
    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=not enabled,
        transient=True,
    )
    with progress:
        progress.add_task(label, total=total or None)
        yield progress


def _run_ingest(readers: list[tuple[str, IntakeReader]], as_json: bool) -> None:
    office = _office()
    report = IngestReport()
    for label, reader in readers:
        with _progress(reader.size(), label, enabled=not as_json) as progress:
            task = progress.task_ids[0]

            def advance(done: int, progress: Progress = progress, task: TaskID = task) -> None:
                progress.update(task, completed=done)

            office.ingest(reader.items(on_progress=advance), report=report)
    if as_json:
        render.dump_json(out, render.report_json(report))
    else:
        render.show_report(out, report)
    if not report.ok:
        err.print(f"{report.rejected_count} input rows rejected; the good ones were kept")
        raise typer.Exit(PARTIAL_INGEST)


@app.command()
def ingest(
    files: Annotated[list[Path], typer.Argument(help="CRM exports: .csv or .jsonl.")],
    as_json: JsonOption = False,
) -> None:
    """Ingest CRM exports (CSV with ; or , · JSON Lines). Re-running a file adds nothing."""
    from adapters.intake.crm_export import CrmExportReader

    for path in files:
        if not path.is_file():
            raise InvalidValue(str(path), "no such file")
        if not CrmExportReader.accepts(path):
            raise InvalidValue(str(path), "not a CRM export (.csv, .txt, .jsonl, .ndjson, or .gz)")
    _run_ingest([(p.name, CrmExportReader(p)) for p in files], as_json)


@app.command("ingest-mail")
def ingest_mail(
    path: Annotated[Path, typer.Argument(help="An .eml file, a folder of them, or a Maildir.")],
    as_json: JsonOption = False,
) -> None:
    """Ingest recommended cases from corporate e-mail, keyed by Message-ID."""
    from adapters.intake.mail import MailReader

    if not path.exists():
        raise InvalidValue(str(path), "no such file or folder")
    _run_ingest([(path.name, MailReader(path))], as_json)


# --- queries ---------------------------------------------------------------------------------


@app.command()
def cases(
    status: Annotated[CaseStatus | None, typer.Option(help="open or closed.")] = None,
    agent: Annotated[str | None, typer.Option(help="Owning agent's login.")] = None,
    category: Annotated[Category | None, typer.Option(help="sac, soporte, pqr, ventas.")] = None,
    line: Annotated[LineOfBusiness | None, typer.Option(help="hogar or movil.")] = None,
    due: Annotated[
        bool, typer.Option("--due", help="Only cases with a follow-up due by now.")
    ] = False,
    due_before: Annotated[
        str | None, typer.Option(help="Only cases with a follow-up due by this time.")
    ] = None,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    as_json: JsonOption = False,
) -> None:
    """List cases, filtered; follow-up filters sort by the next due follow-up."""
    office = _office()
    until = _when(due_before) if due_before else (office.clock.now() if due else None)
    query = CaseQuery(
        status=status,
        agent=agent,
        category=category,
        line=line,
        follow_up_due_before=until,
        limit=limit,
        offset=offset,
    )
    rows = office.cases(query)
    if as_json:
        render.dump_json(out, render.summaries_json(rows))
    else:
        render.show_summaries(out, rows, office.count(attrs.evolve(query, limit=1, offset=0)))


@app.command("due")
def due_follow_ups(
    until: Annotated[str | None, typer.Option(help="Due by this time (default: now).")] = None,
    as_json: JsonOption = False,
) -> None:
    """Follow-ups due (pending) by a time, oldest first: the agents' call list."""
    office = _office()
    rows = office.due_follow_ups(_when(until) if until else None)
    if as_json:
        render.dump_json(out, render.due_json(rows))
    else:
        render.show_due(out, rows)


@app.command()
def sweep(
    worker: Annotated[str, typer.Option(help="This sweeper's name, recorded as the actor.")] = (
        "cli"
    ),
    as_json: JsonOption = False,
) -> None:
    """Record overdue follow-ups as missed, warn and breach deadlines: each fact exactly once."""
    report = _office().sweep(worker=worker)
    if as_json:
        render.dump_json(out, {**attrs.asdict(report), "at": report.at.isoformat()})
    else:
        out.print(
            f"sweep at {render.local(report.at)} Bogotá: {report.examined} due items examined; "
            f"follow-ups missed {report.missed}, deadlines warned {report.warned}, breached "
            f"{report.breached}, reposición windows closed {report.windows_closed}"
        )


@app.command()
def indicators(
    date_from: Annotated[
        str | None, typer.Option("--from", help="First day (Bogotá); default: this month.")
    ] = None,
    date_to: Annotated[
        str | None, typer.Option("--to", help="Last day, included (Bogotá); default: today.")
    ] = None,
    by: Annotated[Dimension, typer.Option(help="Group by all, agent, category or line.")] = (
        Dimension.ALL
    ),
    window_days: Annotated[int, typer.Option(min=1, help="Reincidencia window.")] = 7,
    as_json: JsonOption = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV on standard output.")] = False,
) -> None:
    """Seguimientos, FCR and reincidencia, Efectividad, from the events alone."""
    office = _office()
    today = BusinessCalendar.local_date(office.clock.now())
    first = _day(date_from) if date_from else today.replace(day=1)
    last = _day(date_to) if date_to else today
    if last < first:
        raise InvalidValue("--to", f"{last} is before --from {first}")
    period = Period(
        BusinessCalendar.start_of(first), BusinessCalendar.start_of(last + timedelta(days=1))
    )
    report = office.indicators(period, by, timedelta(days=window_days))
    rows = render.indicators_rows(report)
    if as_csv:
        writer = csv.DictWriter(sys.stdout, fieldnames=list(rows[0]) if rows else ["group"])
        writer.writeheader()
        writer.writerows(rows)
    elif as_json:
        render.dump_json(out, rows)
    else:
        render.show_indicators(out, report)


def _day(text: str) -> date:
    try:
        return date.fromisoformat(text.strip())
    except ValueError:
        return BusinessCalendar.local_date(_when(text))


@app.command("outbox")
def send_outbox(as_json: JsonOption = False) -> None:
    """Send the mail the history calls for (escalations, reminders, summaries), then stop."""
    office = _office()
    assert _session is not None
    assert _session.settings is not None
    box = build_outbox(office, _session.settings)
    sent = failed = read = 0
    stopped: str | None = None
    try:
        while True:
            report = box.process()
            sent, failed, read = (
                sent + report.sent,
                failed + report.failed,
                read + report.events_read,
            )
            stopped = report.stopped_by
            if stopped or report.events_read == 0:
                break
    finally:
        box.close()
    if as_json:
        render.dump_json(
            out, {"events_read": read, "sent": sent, "failed": failed, "stopped_by": stopped}
        )
    else:
        out.print(
            f"outbox: {read} events read · {sent} sent · {failed} failed (recorded on the case)"
        )
    if stopped:
        err.print(f"mail server unavailable, will retry from here: {stopped}", markup=False)
        raise typer.Exit(UNAVAILABLE)


@app.command("worker")
def run_worker(
    once: Annotated[bool, typer.Option("--once", help="Run each job once, then exit.")] = False,
    name: Annotated[str, typer.Option(help="This worker's name (the sweep's actor).")] = "worker",
    catch_up_seconds: Annotated[float, typer.Option(min=0.05)] = 5.0,
    sweep_seconds: Annotated[float, typer.Option(min=0.05)] = 60.0,
    outbox_seconds: Annotated[float, typer.Option(min=0.05)] = 10.0,
) -> None:
    """Tick the case index catch-up, the follow-up sweep and the outbox (JSON log lines)."""
    from adapters.scheduler import ApschedulerTicker
    from entrypoints.worker import Intervals, Worker, configure_logging, stop_on_signals

    office = _office()
    assert _session is not None
    assert _session.settings is not None
    configure_logging()
    box = build_outbox(office, _session.settings)
    try:
        worker = Worker(office, box, name=name)
        if once:
            if not worker.once():
                raise typer.Exit(UNAVAILABLE)
            return
        stop = threading.Event()
        stop_on_signals(stop)
        worker.run(
            ApschedulerTicker(),
            Intervals(catch_up_seconds, sweep_seconds, outbox_seconds),
            stop,
        )
    finally:
        box.close()


@app.command()
def demo(
    folder: Annotated[
        Path, typer.Option(help="Where the day's data folder is made (kept afterwards).")
    ] = Path("backoffice-demo"),
    examples: Annotated[
        Path | None, typer.Option(help="The project's examples folder (CRM export, mail).")
    ] = None,
) -> None:
    """Simulate a premium back-office day end to end, then show what happened."""
    from entrypoints.demo import run_demo

    default = Path(__file__).resolve().parents[2] / "examples"
    try:
        run_demo(folder, examples or (default if default.exists() else Path("examples")), out)
    except FileNotFoundError as error:
        raise InvalidValue("examples", str(error)) from None


def _desk() -> SacDesk:
    office = _office()
    assert _session is not None
    assert _session.settings is not None
    return build_sac_desk(office, _session.settings)


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
    _done(_desk().escalate(case, reason=reason, actor=Actor.agent(actor)), as_json)


@sac_app.command("accept")
def sac_accept(
    case: CaseArg,
    marking: Annotated[str, typer.Option(help="The first-contact marking (UCC/Iclick).")],
    actor: ActorOption,
    as_json: JsonOption = False,
) -> None:
    """The customer accepts: the marking goes to RR as solved in first contact."""
    _done(_desk().customer_accepts(case, marking=marking, actor=Actor.agent(actor)), as_json)


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
    _done(result, as_json)


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
    moment = _when(as_of) if as_of else None
    state = _office().case(case, as_of=moment, version=version)
    if as_json:
        render.dump_json(out, render.case_json(state))
    else:
        render.show_case(out, state, as_of=moment)


@case_app.command("history")
def case_history(case: CaseArg, as_json: JsonOption = False) -> None:
    """Every event of the case with time, actor and data: the auditor's view."""
    events = _office().history(case)
    if as_json:
        render.dump_json(out, render.history_json(events))
    else:
        render.show_history(out, events)


# --- agent actions ---------------------------------------------------------------------------


def _done(result: CommandResult, as_json: bool) -> None:
    if as_json:
        render.dump_json(
            out,
            {"case": render.case_json(result.case), "events": render.history_json(result.events)},
        )
        return
    if not result.events:
        out.print("nothing to record (already done)")
    for event in result.events:
        out.print(
            f"{type(event).__name__} recorded on {result.case.source} "
            f"(version {event.originator_version})"
        )


@case_app.command("assign")
def case_assign(case: CaseArg, agent: str, actor: ActorOption, as_json: JsonOption = False) -> None:
    """Give the case to a back-office agent (or reassign it)."""
    _done(_office().assign(case, agent=agent, actor=Actor.agent(actor)), as_json)


@case_app.command("interpret")
def case_interpret(
    case: CaseArg,
    category: Category,
    subcategory: Subcategory,
    actor: ActorOption,
    as_json: JsonOption = False,
) -> None:
    """Record what the customer needs: category and subcategory (DOMAIN §3)."""
    result = _office().interpret(
        case, category=category, subcategory=subcategory, actor=Actor.agent(actor)
    )
    _done(result, as_json)


@case_app.command("note")
def case_note(case: CaseArg, text: str, actor: ActorOption, as_json: JsonOption = False) -> None:
    """Add a note; one longer than RR's field goes to the ESTRATEGICOS folder."""
    _done(_office().add_note(case, text=text, actor=Actor.agent(actor)), as_json)


@follow_up_app.command("schedule")
def follow_up_schedule(
    case: CaseArg,
    when: Annotated[str, typer.Argument(help="Due time; a bare date means 09:00 Bogotá.")],
    actor: ActorOption,
    as_json: JsonOption = False,
) -> None:
    """Commit to call the customer back at a time in the future."""
    due_at = _when(when, bare_date_hour=FOLLOW_UP_BARE_DATE_HOUR)
    _done(_office().schedule_follow_up(case, due_at=due_at, actor=Actor.agent(actor)), as_json)


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
    result = _office().complete_follow_up(
        case, outcome=outcome, follow_up_id=follow_up_id, actor=Actor.agent(actor)
    )
    _done(result, as_json)


@case_app.command("typify")
def case_typify(
    case: CaseArg,
    marking: Annotated[str, typer.Argument(help="The marking code (UCC, Iclick, T&D).")],
    actor: ActorOption,
    cun: Annotated[
        str | None, typer.Option(help="The CUN, when the marking generates one.")
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Register the marking: first-contact resolution, or (with --cun) a CUN."""
    resolution = Resolution.CUN if cun else Resolution.FIRST_CONTACT
    result = _office().typify(
        case, marking_code=marking, resolution=resolution, cun=cun, actor=Actor.agent(actor)
    )
    _done(result, as_json)


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
    result = _office().escalate(
        case,
        target=target,
        area=area,
        reason=reason,
        priority=priority,
        external_reference=reference,
        actor=Actor.agent(actor),
    )
    _done(result, as_json)


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
    result = _office().schedule_visit(
        case,
        kind=kind,
        slot_start=_when(start),
        slot_end=_when(end),
        booking_reference=booking,
        actor=Actor.agent(actor),
    )
    _done(result, as_json)


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
    office = _office()
    when = _when(notified_at) if notified_at else office.clock.now()
    _done(office.answer_pqr(case, notified_at=when, actor=Actor.agent(actor)), as_json)


@case_app.command("adjustment")
def case_adjustment(
    case: CaseArg,
    ticket: Annotated[str, typer.Option(help="The DIME ticket of the adjustment.")],
    actor: ActorOption,
    as_json: JsonOption = False,
) -> None:
    """An adjustment request typified in DIME: the 72-hour solution clock starts."""
    _done(_office().request_adjustment(case, ticket=ticket, actor=Actor.agent(actor)), as_json)


@case_app.command("adjustment-done")
def case_adjustment_done(
    case: CaseArg,
    outcome: Annotated[str, typer.Option(help="What was adjusted.")],
    actor: ActorOption,
    as_json: JsonOption = False,
) -> None:
    """The adjustment was applied: its clock stops."""
    _done(_office().complete_adjustment(case, outcome=outcome, actor=Actor.agent(actor)), as_json)


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
    result = _office().complete_closing_protocol(
        case,
        resolution_explained=explained,
        nothing_else_pending=nothing_else,
        closing_script_read=script,
        survey_invited=survey,
        actor=Actor.agent(actor),
    )
    _done(result, as_json)


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
    result = _office().close_case(
        case, summary=summary, first_contact=first_contact, actor=Actor.agent(actor)
    )
    _done(result, as_json)


@case_app.command("reopen")
def case_reopen(
    case: CaseArg,
    reason: Annotated[str, typer.Option(help="Why it is reopened.")],
    actor: ActorOption,
    as_json: JsonOption = False,
) -> None:
    """Reopen a closed case."""
    _done(_office().reopen(case, reason=reason, actor=Actor.agent(actor)), as_json)


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns (and, as a script, exits with) a meaningful code."""
    global _session  # noqa: PLW0603
    try:
        app(args=argv, prog_name="backoffice")
        code = OK
    except SystemExit as stop:  # Typer ends every run this way, usage errors with 2
        code = stop.code if isinstance(stop.code, int) else (OK if stop.code is None else 1)
    except CaseNotFound as error:
        code = _fail(str(error), NOT_FOUND)
    except InvalidValue as error:
        code = _fail(str(error), BAD_INPUT)
    except DomainError as error:
        code = _fail(str(error), REFUSED)
    except SettingsError as error:
        code = _fail(str(error), UNAVAILABLE)
    except SystemUnavailable as error:
        code = _fail(f"{error}; recorded on the case as pending", UNAVAILABLE)
    except SystemRefused as error:
        code = _fail(str(error), REFUSED)
    except (PersistenceError, OSError) as error:
        code = _fail(f"storage unavailable: {error}", UNAVAILABLE)
    finally:
        if _session is not None and _session.office is not None:
            _session.office.close()
        _session = None
    return code


def _fail(message: str, code: int) -> int:
    err.print(f"error: {message}", markup=False, highlight=False)
    return code


def run() -> None:
    sys.exit(main())
