"""Intake, the case list, the sweep, the worker, the outbox, indicators and the demo."""

from __future__ import annotations

import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import attrs
import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TaskID, TimeRemainingColumn

from domain.errors import InvalidValue
from domain.indicators.facts import Dimension  # in the commands' signatures
from domain.values import (
    CaseStatus,
    Category,
)
from entrypoints.cli.shared import (
    BAD_INPUT,
    PARTIAL_INGEST,
    UNAVAILABLE,
    JsonOption,
    app,
    close_session,
    current_office,
    current_settings,
    err,
    existing_file,
    out,
    parse_line_option,
    parse_when,
)

if TYPE_CHECKING:
    from application.intake.records import IngestReport, IntakeReader


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
    from application.intake.records import IngestReport
    from entrypoints import render

    office = current_office(create=True)
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
    _end_of_import(report)


@app.command()
def ingest(
    files: Annotated[list[Path], typer.Argument(help="CRM exports: .csv or .jsonl.")],
    as_json: JsonOption = False,
) -> None:
    """Ingest CRM exports (CSV with ; or , · JSON Lines). Re-running a file adds nothing."""
    from adapters.intake.crm_export import CrmExportReader

    for path in files:
        existing_file(path)
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
    status: Annotated[
        CaseStatus | None, typer.Option(help="open or closed.", case_sensitive=False)
    ] = None,
    agent: Annotated[str | None, typer.Option(help="Owning agent's login.")] = None,
    category: Annotated[
        Category | None, typer.Option(help="sac, soporte, pqr, ventas.", case_sensitive=False)
    ] = None,
    line: Annotated[str | None, typer.Option(help="hogar or móvil.")] = None,
    due: Annotated[
        bool, typer.Option("--due", help="Only cases with a follow-up due by now.")
    ] = False,
    due_before: Annotated[
        str | None, typer.Option(help="Only cases with a follow-up due by this time.")
    ] = None,
    search: Annotated[
        str | None,
        typer.Option(
            "--search",
            "-s",
            help="A case or repeat-contact key, an account, a CUN, the customer's phone (as "
            "written anywhere: 300 123 4567, +57…), or part of the customer's name (3+ "
            "letters, any case or accents).",
        ),
    ] = None,
    unassigned: Annotated[bool, typer.Option(help="Only cases no agent owns.")] = False,
    missed: Annotated[bool, typer.Option(help="Only cases with a missed follow-up.")] = False,
    waiting: Annotated[
        bool, typer.Option(help="Only cases with an escalation awaiting its area's answer.")
    ] = False,
    warned: Annotated[
        bool, typer.Option(help="Only cases with a clock past its warning, not yet breached.")
    ] = False,
    breached: Annotated[bool, typer.Option(help="Only cases with a clock past due.")] = False,
    limit: Annotated[int, typer.Option(min=1, max=10_000)] = 50,
    offset: Annotated[int, typer.Option(min=0)] = 0,
    as_json: JsonOption = False,
    as_csv: Annotated[
        bool, typer.Option("--csv", help="CSV (spreadsheet-safe cells) instead of a table.")
    ] = False,
) -> None:
    """List cases, filtered and searched; follow-up filters sort by the next due follow-up."""
    from application.ports.cases import CaseQuery
    from entrypoints import render

    if as_json and as_csv:
        raise InvalidValue("--csv", "give --json or --csv, not both")
    office = current_office()
    until = (
        parse_when(due_before, "--due-before")
        if due_before
        else (office.clock.now() if due else None)
    )
    query = CaseQuery(
        status=status,
        agent=agent,
        category=category,
        line=parse_line_option(line) if line else None,
        follow_up_due_before=until,
        unassigned=unassigned,
        missed=missed,
        waiting=waiting,
        warned=warned,
        breached=breached,
        search=search,
        limit=limit,
        offset=offset,
    )
    rows = office.cases(query)
    if as_json:
        render.dump_json(out, render.summaries_json(rows))
    elif as_csv:
        render.write_csv(out.file, render.summaries_rows(rows), render.SUMMARY_COLUMNS)
    else:
        render.show_summaries(out, rows, office.count(attrs.evolve(query, limit=1, offset=0)))


@app.command("due")
def due_follow_ups(
    until: Annotated[str | None, typer.Option(help="Due by this time (default: now).")] = None,
    agent: Annotated[
        str | None,
        typer.Option(
            help="Only this agent's cases (an agent's own call list).", show_default=False
        ),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Follow-ups due (pending) by a time, oldest first: the agents' call list."""
    from entrypoints import render

    office = current_office()
    rows = office.due_follow_ups(
        parse_when(until, "--until") if until else None, agent=agent or None
    )
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
    """Record overdue follow-ups as missed, warn and breach deadlines: each fact exactly once;
    with Claro's gateways set, settle the outside writes left pending (same keys)."""
    from application.jobs.sweep import settle_writes
    from entrypoints import render
    from entrypoints.bootstrap import outside_writer

    office = current_office()
    report = office.sweep(worker=worker)
    writer = outside_writer(office, current_settings())
    writes = settle_writes(office, writer, worker=worker) if writer is not None else None
    if as_json:
        settled = {} if writes is None else {"writes": attrs.asdict(writes)}
        render.dump_json(out, {**attrs.asdict(report), "at": report.at.isoformat(), **settled})
    else:
        out.print(
            f"sweep at {render.local(report.at)} Bogotá: {report.examined} due items examined; "
            f"follow-ups missed {report.missed}, deadlines warned {report.warned}, breached "
            f"{report.breached}, reposición windows closed {report.windows_closed}"
            + (
                ""
                if writes is None
                else f"; outside writes settled {writes.settled}, still pending "
                f"{writes.still_pending}"
            )
        )


@app.command()
def indicators(
    date_from: Annotated[
        str | None, typer.Option("--from", help="First day (Bogotá); default: this month.")
    ] = None,
    date_to: Annotated[
        str | None, typer.Option("--to", help="Last day, included (Bogotá); default: today.")
    ] = None,
    month: Annotated[
        str | None, typer.Option(help="A calendar month instead of --from/--to: 2026-11.")
    ] = None,
    week: Annotated[
        str | None, typer.Option(help="An ISO week (Monday to Sunday) instead: 2026-W48.")
    ] = None,
    by: Annotated[
        Dimension, typer.Option(help="Group by all, agent, team, category or line.")
    ] = Dimension.ALL,
    window_days: Annotated[
        int | None,
        typer.Option(
            min=1, max=366, help="Reincidencia window in days; default: indicators.toml's (7)."
        ),
    ] = None,
    practices: Annotated[
        bool, typer.Option("--practices", help="One row per group and management practice.")
    ] = False,
    as_json: JsonOption = False,
    as_csv: Annotated[bool, typer.Option("--csv", help="CSV on standard output.")] = False,
    chart: Annotated[
        Path | None, typer.Option(help="Also write an HTML page charting each day.")
    ] = None,
) -> None:
    """Every indicator from the events, with its goal and traffic light: Seguimientos, FCR and
    reincidencia, Efectividad, NPS, Calidad MEC, Ausentismo, Rotación, practice compliance."""
    from domain.calendar import BusinessCalendar
    from domain.indicators.facts import Dimension, Period
    from entrypoints import indicator_tables, render

    office = current_office()
    window = timedelta(days=window_days) if window_days is not None else None
    today = BusinessCalendar.local_date(office.clock.now())
    chosen = [name for name, value in (("--from/--to", date_from or date_to), ("--month", month),
                                        ("--week", week)) if value]  # fmt: skip
    if len(chosen) > 1:
        raise InvalidValue(chosen[1], f"give one of {', '.join(chosen)}, not both")
    if month:
        first, last = _month(month)
    elif week:
        first, last = _week(week)
    else:
        first = _day(date_from, "--from") if date_from else today.replace(day=1)
        last = _day(date_to, "--to") if date_to else today
    if last < first:
        raise InvalidValue("--to", f"{last} is before --from {first}")
    period = Period.of_days(first, last)
    report = office.indicators(period, by, window)
    if chart is not None:
        from entrypoints.chart import indicators_page

        days = [first + timedelta(days=n) for n in range((last - first).days + 1)]
        daily = [
            office.indicators(
                Period(
                    BusinessCalendar.start_of(day),
                    BusinessCalendar.start_of(day + timedelta(days=1)),
                ),
                Dimension.ALL,
                window,
            )
            for day in days
        ]
        chart.write_text(indicators_page(days, daily), encoding="utf-8")
        err.print(f"chart written to {chart}")
    if as_csv or as_json:
        rows = (
            indicator_tables.practice_rows(report)
            if practices
            else indicator_tables.indicators_rows(report)
        )
        if as_csv:  # the same columns whatever the rows, none included
            columns = (
                indicator_tables.PRACTICE_COLUMNS
                if practices
                else indicator_tables.INDICATOR_COLUMNS
            )
            render.write_csv(sys.stdout, rows, columns)
        else:
            render.dump_json(out, rows)
    elif practices:
        indicator_tables.show_practices(out, report)
    else:
        indicator_tables.show_indicators(out, report)


def _month(text: str) -> tuple[date, date]:
    try:
        first = date.fromisoformat(f"{text.strip()}-01")
    except ValueError:
        raise InvalidValue("--month", f"{text!r} is not a month (YYYY-MM)") from None
    _within_years("--month", text, first)
    following = (first + timedelta(days=32)).replace(day=1)
    return first, following - timedelta(days=1)


def _week(text: str) -> tuple[date, date]:
    try:
        year, number = text.strip().upper().split("-W")
        monday = date.fromisocalendar(int(year), int(number), 1)
    except ValueError:
        raise InvalidValue("--week", f"{text!r} is not an ISO week (YYYY-Www)") from None
    _within_years("--week", text, monday)
    return monday, monday + timedelta(days=6)


def _day(text: str, option: str) -> date:
    from domain.calendar import BusinessCalendar

    try:
        day = date.fromisoformat(text.strip())
    except ValueError:
        return BusinessCalendar.local_date(parse_when(text, option))  # its range checked there
    _within_years("date", text.strip(), day)
    return day


def _within_years(option: str, text: str, day: date) -> None:
    """The years every date the back office reads must fall in (`parsing.FIRST_YEAR`…)."""
    from adapters.intake.parsing import FIRST_YEAR, LAST_YEAR

    if not FIRST_YEAR <= day.year <= LAST_YEAR:
        raise InvalidValue(option, f"{text!r} is out of range (years {FIRST_YEAR}–{LAST_YEAR})")


@app.command("outbox")
def send_outbox(as_json: JsonOption = False) -> None:
    """Send the mail the history calls for (escalations, reminders, summaries), then stop."""
    from entrypoints import render
    from entrypoints.bootstrap import build_outbox

    office = current_office()
    box = build_outbox(office, current_settings())
    sent = failed = read = 0
    stopped: str | None = None
    moved_on = False
    try:
        while True:
            report = box.process()
            sent, failed, read = (
                sent + report.sent,
                failed + report.failed,
                read + report.events_read,
            )
            stopped, moved_on = report.stopped_by, report.moved_on
            if stopped or report.events_read == 0:
                break
    finally:
        box.close()
    if as_json:
        render.dump_json(
            out,
            {"events_read": read, "sent": sent, "failed": failed, "stopped_by": stopped,
             "moved_on": moved_on},
        )  # fmt: skip
    else:
        out.print(
            f"outbox: {read} events read · {sent} sent · {failed} failed (recorded on the case)"
            + ("; another outbox is sending the rest" if moved_on else "")
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
    """Tick the case index catch-up, the sweep (follow-ups, clocks, outside writes left
    pending) and the outbox (JSON log lines)."""
    from adapters.scheduler import ApschedulerTicker
    from entrypoints.bootstrap import build_outbox, outside_writer, retention_job
    from entrypoints.worker import Intervals, Worker, configure_logging, stop_on_signals

    office = current_office(create=True)  # a new deployment may start its worker first
    configure_logging()
    settings = current_settings()
    box = build_outbox(office, settings)
    try:
        worker = Worker(
            office,
            box,
            name=name,
            writer=outside_writer(office, settings),
            retention=retention_job(office, settings),
        )
        if once:
            if not worker.once():
                from entrypoints.cli.audit import TAMPERED

                # Tampering found: the exit code of `audit verify`; a job failed: 5.
                raise typer.Exit(TAMPERED if worker.tampering else UNAVAILABLE)
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


@app.command("serve")
def serve(
    host: Annotated[str, typer.Option(help="The address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=0, max=65535, help="The port.")] = 8000,
    workers: Annotated[
        int, typer.Option(min=1, max=64, help="Processes (PostgreSQL only: SQLite takes one).")
    ] = 1,
    http: Annotated[
        str,
        typer.Option(
            help="uvicorn's HTTP/1.1 parser: httptools (C, the default) or h11 (pure Python, "
            "slower; for comparison).",
        ),
    ] = "httptools",
) -> None:
    """Serve the back office over HTTP (the API: docs/http.md) until stopped (Ctrl-C or
    SIGTERM ends it gracefully)."""
    import os

    import uvicorn

    if http not in ("httptools", "h11"):
        raise InvalidValue("--http", "httptools or h11")
    current_office()  # the data must exist: the same checks and messages as every command
    settings = current_settings()
    if workers > 1 and settings.backend != "postgres":
        raise InvalidValue("workers", "several workers need PostgreSQL (SQLite takes one)")
    from entrypoints.http.app import check_session_secret, create_app

    check_session_secret(settings)  # said now, not in each worker
    create_app(settings, session_secret=bytes(32))  # every setting of the service checked
    # The workers read the settings from the environment, as this process was given them.
    os.environ["BACKOFFICE_DATA_DIR"] = str(settings.data_dir)
    os.environ["BACKOFFICE_DATABASE_URL"] = settings.database_url
    close_session()  # each worker opens its own office
    shown = f"[{host}]" if ":" in host else host
    typer.echo(
        f"Serving {settings.data_dir} on http://{shown}:{port}: the console at /console/, the "
        f"API at / (docs/http.md; OpenAPI at /schema/openapi.json). Ctrl-C stops.",
        err=True,
    )
    uvicorn.run(
        "entrypoints.http.app:app_from_environment", factory=True, host=host, port=port,
        workers=workers, timeout_graceful_shutdown=10, access_log=False,
        log_level="warning",
        # A client (an agent's browser, a proxy) keeps its connection between requests, often
        # longer than uvicorn's 5 s: closed by the server at the moment the client reuses it,
        # a request is lost to the race. Kept longer than a proxy's usual idle time (60 s).
        timeout_keep_alive=75,
        # Named, not "auto": a missing httptools (a dependency) fails at start instead of
        # falling back silently to h11, which parses each request in Python.
        http=http,
        # The client's address is the connection's: a proxy is trusted by its own address
        # (BACKOFFICE_TRUSTED_PROXIES), never by a header it forwards.
        proxy_headers=False,
    )  # fmt: skip


@app.command("openapi")
def openapi() -> None:
    """Print the HTTP API's OpenAPI 3.1 document (docs/openapi.json keeps it)."""
    import json

    from entrypoints.http.app import openapi_document

    out.file.write(json.dumps(openapi_document(), indent=1, sort_keys=True, ensure_ascii=False))
    out.file.write("\n")


@app.command()
def demo(
    folder: Annotated[
        Path, typer.Option(help="Where the week's data folder is made (kept afterwards).")
    ] = Path("backoffice-demo"),
    examples: Annotated[
        Path | None,
        typer.Option(help="A folder with a CRM export and e-mails to read instead of the demo's."),
    ] = None,
) -> None:
    """Simulate a premium back-office week end to end, then show what happened."""
    from entrypoints.demo import run_demo

    if examples is not None and not examples.is_dir():
        raise InvalidValue("--examples", f"{examples} is not a folder")
    try:
        run_demo(folder, examples, out)
    except FileNotFoundError as error:
        raise InvalidValue("examples", str(error)) from None


@app.command("import-surveys")
def import_surveys_command(
    path: Annotated[Path, typer.Argument(help="The survey tool's export (CSV).")],
    as_json: JsonOption = False,
) -> None:
    """Record survey answers on their cases (NPS, perceived quality); re-runs add nothing."""
    from adapters.intake.surveys import SurveyExportReader
    from application.intake.surveys import import_surveys

    existing_file(path)
    show_recorded(import_surveys(current_office(), SurveyExportReader(path).items()), as_json)


def show_recorded(report: IngestReport, as_json: bool) -> None:
    """An import's counts and first rejections; exits 4 when rows were rejected."""
    from entrypoints import render

    if as_json:
        render.dump_json(out, render.report_json(report))
    else:
        out.print(
            f"read {report.read} · recorded {report.created} · already recorded "
            f"{report.already_known} · rejected {report.rejected_count}"
        )
        for row in report.rejected[:50]:
            out.print(f"  rejected {row}", markup=False, highlight=False)
    _end_of_import(report)


def _end_of_import(report: IngestReport) -> None:
    """Exit 4 when some rows were rejected and others read; exit 2 when nothing could be
    read at all (an empty file, no header, another delimiter, not text): bad input."""
    if report.ok:
        return
    if report.read == 0:
        err.print("nothing could be read from the input: see the rejections above")
        raise typer.Exit(BAD_INPUT)
    rows = "row" if report.rejected_count == 1 else "rows"
    err.print(f"{report.rejected_count} {rows} rejected; the good ones were kept")
    raise typer.Exit(PARTIAL_INGEST)


@app.command("import-quality")
def import_quality_command(
    path: Annotated[Path, typer.Argument(help="The quality tool's export (CSV).")],
    as_json: JsonOption = False,
) -> None:
    """Record quality monitorings (agent, score 0–100) on their cases, for Calidad MEC."""
    from adapters.intake.surveys import MonitoringExportReader
    from application.intake.surveys import import_monitorings

    existing_file(path)
    show_recorded(
        import_monitorings(current_office(), MonitoringExportReader(path).items()), as_json
    )
