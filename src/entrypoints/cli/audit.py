"""`backoffice audit verify [CASE]`: re-read the log and check its tamper evidence.

Exit codes: 0 intact; 6 signs of tampering found (one line each on stdout); 3 no such case;
5 storage unavailable, or a store that keeps no hashes (the in-memory one).
"""

from __future__ import annotations

import uuid
from typing import Annotated

import typer

from domain.errors import CaseNotFound
from entrypoints.cli.shared import (
    HELP,
    JsonOption,
    app,
    current_office,
    out,
)

TAMPERED = 6
"""Exit code: the verification found signs of tampering."""

audit_app = typer.Typer(
    no_args_is_help=True,
    context_settings=HELP,
    help="Tamper evidence: verify that nobody changed, removed or reordered stored events.",
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
    case_id: uuid.UUID | None = None
    if case is not None:
        try:  # an id is used as it is: the case's events are not decoded to find it
            case_id = uuid.UUID(case.strip())
        except ValueError:
            case_id = office.resolve(case)
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
