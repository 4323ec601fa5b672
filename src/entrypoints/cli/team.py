"""The HR roster, the shifts and the practice register: `backoffice import-roster`,
`import-shifts` and `import-practices` (formats in `adapters.intake.team`)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from entrypoints.cli.operations import show_recorded
from entrypoints.cli.shared import JsonOption, app, current_office, existing_file


@app.command("import-roster")
def import_roster_command(
    path: Annotated[Path, typer.Argument(help="The HR roster (CSV).")],
    as_json: JsonOption = False,
) -> None:
    """Agents joining (team, role, since), moving and leaving; re-runs add nothing."""
    from adapters.intake.team import RosterReader
    from application.team.imports import import_roster

    reader = RosterReader(existing_file(path))
    show_recorded(import_roster(current_office(create=True), reader.items()), as_json)


@app.command("import-shifts")
def import_shifts_command(
    path: Annotated[Path, typer.Argument(help="The scheduled shifts and absences (CSV).")],
    as_json: JsonOption = False,
) -> None:
    """Scheduled shifts and absences (novedades), for Ausentismo; re-runs add nothing."""
    from adapters.intake.team import ShiftReader
    from application.team.imports import import_shifts

    reader = ShiftReader(existing_file(path))
    show_recorded(import_shifts(current_office(create=True), reader.items()), as_json)


@app.command("import-practices")
def import_practices_command(
    path: Annotated[Path, typer.Argument(help="The management-practice register (CSV).")],
    as_json: JsonOption = False,
) -> None:
    """Management practices held (docs/procedure.md §12), once per register entry."""
    from adapters.intake.team import PracticeReader
    from application.team.imports import import_practices

    reader = PracticeReader(existing_file(path))
    show_recorded(import_practices(current_office(create=True), reader.items()), as_json)
