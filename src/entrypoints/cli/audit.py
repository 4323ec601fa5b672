"""`backoffice audit verify [CASE]`: re-read the log and check its tamper evidence;
`backoffice audit reads`: who read which case's personal data (the register of reads).

Exit codes: 0 intact (`reads`: done); 6 signs of tampering found (one line each on stdout);
2 bad input (`reads`: a date, --json with --csv, an --after that no read has); 3 no such
case; 5 storage unavailable, or a store that keeps no hashes (the in-memory one).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Annotated

import typer

from application.ports.reads import MAX_READ_ID
from domain.errors import CaseNotFound, InvalidValue
from entrypoints.cli.shared import (
    HELP,
    JsonOption,
    app,
    current_office,
    current_settings,
    out,
)

TAMPERED = 6
"""Exit code: the verification found signs of tampering."""

audit_app = typer.Typer(
    no_args_is_help=True,
    context_settings=HELP,
    help="Tamper evidence (verify that nobody changed, removed or reordered stored events) "
    "and the register of who read which case's personal data.",
)
app.add_typer(audit_app, name="audit")


@audit_app.command("verify")
def verify(
    case: Annotated[
        str | None,
        typer.Argument(help="Only this case (id, source key or channel:key); default: all."),
    ] = None,
    as_json: JsonOption = False,
) -> None:
    """Re-read every stored event (or one case's) and its hash, and the log's checkpoints;
    one line per case whose first changed, removed or reordered event is found."""
    from entrypoints import render
    from entrypoints.bootstrap import tamper_audit
    from entrypoints.settings import SettingsError

    office = current_office()
    audit = tamper_audit(office)
    if audit is None:
        raise SettingsError("this store keeps no hashes to verify (the in-memory store)")
    # An id is used as it is (`resolve` reads nothing for one): no event is decoded to find it.
    case_id = office.resolve(case) if case is not None else None
    report = audit.verify_all(case_id)
    if case is not None and report.rows == 0:
        raise CaseNotFound(case)
    if as_json:
        render.dump_json(
            out,
            {
                "intact": not report.findings,
                "events": report.rows,
                "position": report.position,
                "checkpoint": report.checkpoint,
                "findings": [
                    {
                        "case": None if f.case is None else str(f.case),
                        "version": f.version,
                        "position": f.position,
                        "problem": f.problem,
                        "detail": f.detail,
                    }
                    for f in report.findings
                ],
            },
        )
    else:
        for finding in report.findings:
            out.print(finding.line(), highlight=False)
        if report.findings:
            out.print(f"tampering found: {len(report.findings)} finding(s)", highlight=False)
        elif case_id is not None:
            out.print(f"intact: {report.rows} events of case {case_id} verified", highlight=False)
        else:
            out.print(
                f"intact: {report.rows} events verified, log through position "
                f"{report.position}, last checkpoint at position {report.checkpoint}",
                highlight=False,
            )
    if report.findings:
        raise typer.Exit(TAMPERED)


def _moment(option: str, text: str, *, end_of_day: bool) -> datetime:
    """`--since`/`--until`: a date-time (Bogotá without a zone) or a bare date, which means
    the start of that day in Bogotá, or with `end_of_day` its end (the next day's start)."""
    from adapters.intake.parsing import DateError, parse_datetime

    text = text.strip()
    try:
        moment = parse_datetime(text, 0)
    except DateError as error:
        raise InvalidValue(option, str(error)) from None
    bare_date = len(text) <= 10  # as the parser reads it: 2026-07-15, 15/07/2026
    return moment + timedelta(days=1) if end_of_day and bare_date else moment


@audit_app.command("reads")
def reads(
    case: Annotated[
        str | None, typer.Option("--case", help="Only this case's reads (id or source key).")
    ] = None,
    reader: Annotated[
        str | None, typer.Option("--reader", help="Only the reads of this login.")
    ] = None,
    since: Annotated[
        str | None,
        typer.Option("--since", help="From this moment (a bare date: that day's start, Bogotá)."),
    ] = None,
    until: Annotated[
        str | None,
        typer.Option("--until", help="Before this moment (a bare date: through that day, Bogotá)."),
    ] = None,
    after: Annotated[
        int | None,
        typer.Option(
            "--after",
            min=1,
            max=MAX_READ_ID,
            help="Only the reads after the one with this id (the last of the page before).",
        ),
    ] = None,
    limit: Annotated[
        int | None, typer.Option("--limit", min=1, help="At most this many, oldest first.")
    ] = None,
    as_json: JsonOption = False,
    as_csv: Annotated[
        bool, typer.Option("--csv", help="CSV (spreadsheet-safe cells) instead of a table.")
    ] = False,
) -> None:
    """Who read which case's personal data, when, and through what (an HTTP route, a console
    page), oldest first (by moment, then id): the register kept apart from the cases' events
    (privacy.md). A page at a time: --limit N, then --after the page's last id."""
    from rich.table import Table

    from application.ports.reads import EXPORT_COLUMNS, UnknownRead
    from domain.calendar import BOGOTA
    from entrypoints import render
    from entrypoints.bootstrap import read_register

    if as_json and as_csv:
        raise InvalidValue("--csv", "give --json or --csv, not both")
    first = None if since is None else _moment("--since", since, end_of_day=False)
    last = None if until is None else _moment("--until", until, end_of_day=True)
    if first is not None and last is not None and last <= first:
        raise InvalidValue("--until", "comes before --since")
    office = current_office()
    # An id is used as it is (`resolve` reads nothing for one): an erased case has its reads.
    case_ids = [office.resolve(case)] if case is not None else None
    register = read_register(current_settings())
    try:
        who = None if reader is None else reader.strip().lower() or None
        found = register.reads(case_ids=case_ids, reader=who, since=first, until=last,
                               after=after, limit=limit)  # fmt: skip
    except UnknownRead as unknown:
        raise InvalidValue("--after", str(unknown)) from None
    finally:
        register.close()
    sources = {c: str(s) for c, s in office.index.sources_of([r.case_id for r in found]).items()}
    if as_json:
        render.dump_json(out, [r.as_row(sources.get(r.case_id, "")) for r in found])
    elif as_csv:
        rows = [r.as_row(sources.get(r.case_id, "")) for r in found]
        render.write_csv(out.file, rows, EXPORT_COLUMNS)
    else:
        table = Table(title=f"Reads of personal data ({len(found)})", title_justify="left")
        for column in ("id", "when (Bogotá)", "reader", "case", "through"):
            table.add_column(column, justify="right" if column == "id" else "left")
        for r in found:
            when = r.at.astimezone(BOGOTA).strftime("%Y-%m-%d %H:%M:%S")
            table.add_row(str(r.id), when, r.reader, sources.get(r.case_id, str(r.case_id)),
                          r.through)  # fmt: skip
        out.print(table, highlight=False)
