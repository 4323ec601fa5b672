"""`backoffice projections status|rebuild`: the read models behind the lists and indicators."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TimeRemainingColumn
from rich.table import Table

from entrypoints.cli.shared import (
    JsonOption,
    current_office,
    current_settings,
    err,
    out,
    projections_app,
)


@projections_app.command("status")
def status(as_json: JsonOption = False) -> None:
    """Each projection's position against the newest event of the log."""
    from entrypoints import render
    from entrypoints.bootstrap import outbox_position

    office = current_office()
    head = office.store.last_position()
    positions = office.projections()
    tracker = outbox_position(current_settings())
    try:
        positions["outbox"] = tracker.position()
    finally:
        tracker.close()
    rows: list[dict[str, str | int]] = [
        {"projection": name, "position": position, "log": head, "behind": head - position}
        for name, position in positions.items()
    ]
    if as_json:
        render.dump_json(out, rows)
        return
    table = Table(title=f"Projections (log at {head})", title_justify="left")
    for column in ("projection", "position", "behind"):
        table.add_column(column, justify="left" if column == "projection" else "right")
    for row in rows:
        table.add_row(str(row["projection"]), str(row["position"]), str(row["behind"]))
    out.print(table)


@projections_app.command("rebuild")
def rebuild(
    name: Annotated[str, typer.Argument(help="cases or indicators")],
    as_json: JsonOption = False,
) -> None:
    """Drop a projection and rebuild it from the first event, with progress. (The outbox is
    not rebuilt: that would send every mail again.)"""
    from entrypoints import render

    office = current_office()
    head = office.store.last_position()
    progress = Progress(
        "[progress.description]{task.description}",
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        console=err,
        disable=as_json,
        transient=True,
    )
    with progress:
        task = progress.add_task(f"rebuilding {name}", total=head or None)
        passed = office.rebuild(name, lambda at: progress.update(task, completed=at))
    if as_json:
        render.dump_json(out, {"projection": name, "positions": passed, "position": head})
    else:
        out.print(f"{name}: rebuilt through position {head} ({passed} events of the log)")
