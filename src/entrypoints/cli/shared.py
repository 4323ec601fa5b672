"""What every `backoffice` command shares: the apps, the session, options and output."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import attrs
import typer
from rich.console import Console

from domain.errors import InvalidValue
from domain.values import LineOfBusiness

if TYPE_CHECKING:  # imported where used: `--help` and the commands that need none stay fast
    from application.case.commands import CommandResult
    from application.dispatch import Command, Dispatcher
    from application.service import Backoffice
    from domain.values import Actor
    from entrypoints.settings import Settings

OK, REFUSED, BAD_INPUT, NOT_FOUND, PARTIAL_INGEST, UNAVAILABLE = 0, 1, 2, 3, 4, 5

# Piped output (files, other programs) gets wide tables rather than wrapped cells.


# No markup: customers' text such as `Cobro [/] raro` or `[ppv]` is printed as it is.
out = Console(width=None if sys.stdout.isatty() else 160, markup=False)


err = Console(stderr=True, soft_wrap=True, markup=False)


HELP = {"help_option_names": ["-h", "--help"]}

app = typer.Typer(
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    context_settings=HELP,
    help="Premium back office: intake, cases, follow-ups and their audit history.",
)


case_app = typer.Typer(no_args_is_help=True, help="One case: show, history, agent actions.")


follow_up_app = typer.Typer(no_args_is_help=True, help="Schedule or complete a follow-up.")


sac_app = typer.Typer(no_args_is_help=True, help="SAC: check RR, then accept, escalate or dispute.")


app.add_typer(case_app, name="case")


app.add_typer(sac_app, name="sac")
support_app = typer.Typer(no_args_is_help=True, help="Support: diagnose, then one of 5 routes.")
pqr_app = typer.Typer(no_args_is_help=True, help="PQR branches A, B, C (the CUN comes first).")
sales_app = typer.Typer(no_args_is_help=True, help="Sales: escalate to the sales area.")
app.add_typer(support_app, name="support")
app.add_typer(pqr_app, name="pqr")
app.add_typer(sales_app, name="sales")


case_app.add_typer(follow_up_app, name="follow-up")
projections_app = typer.Typer(
    no_args_is_help=True, help="The read models: how far each is, and rebuilding one."
)
app.add_typer(projections_app, name="projections")
users_app = typer.Typer(
    no_args_is_help=True, help="Accounts of the people and systems that use the HTTP API."
)
tokens_app = typer.Typer(no_args_is_help=True, help="Bearer tokens: issue, revoke, list.")
app.add_typer(users_app, name="users")
app.add_typer(tokens_app, name="tokens")


@attrs.define
class _Context:
    data_dir: str | None
    database_url: str | None
    office: Backoffice | None = None
    settings: Settings | None = None
    dispatcher: Dispatcher | None = None

    def open(self, *, create: bool) -> Backoffice:
        from entrypoints.bootstrap import bootstrap
        from entrypoints.settings import SettingsError, load_settings

        if self.office is None:
            if self.data_dir is not None and not self.data_dir.strip():
                raise SettingsError("--data-dir is empty: give the data folder")
            settings = load_settings(data_dir=self.data_dir, database_url=self.database_url)
            if settings.backend == "sqlite" and settings.data_dir.exists():
                if not settings.data_dir.is_dir():
                    raise SettingsError(f"{settings.data_dir} is a file, not a data folder")
            elif settings.backend == "sqlite" and not create:
                # A mistyped folder must not look like an empty office.
                raise SettingsError(
                    f"no data folder {settings.data_dir} (--data-dir or BACKOFFICE_DATA_DIR); "
                    "`backoffice ingest FILE`, an import or `backoffice worker` creates one"
                )
            self.settings = settings
            # A mistyped (existing) PostgreSQL database must not look like an empty office.
            self.office = bootstrap(settings, existing=not create)
        return self.office

    def door(self, *, create: bool) -> Dispatcher:
        from entrypoints.bootstrap import dispatcher

        office = self.open(create=create)
        if self.dispatcher is None:
            assert self.settings is not None
            self.dispatcher = dispatcher(office, self.settings)
        return self.dispatcher


_session: _Context | None = None


def _version(asked: bool) -> None:
    if asked:
        from importlib.metadata import PackageNotFoundError, version

        try:
            out.print(f"backoffice {version('premium-backoffice')}")
        except PackageNotFoundError:  # running from a source tree that was never installed
            out.print("backoffice (not installed: no version)")
        raise typer.Exit


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
    version: Annotated[
        bool,
        typer.Option(
            "--version", callback=_version, is_eager=True, help="Print the version and stop."
        ),
    ] = False,
) -> None:
    global _session  # noqa: PLW0603 - one invocation, one session; `main` closes it
    _session = _Context(data_dir, database_url)


def current_office(*, create: bool = False) -> Backoffice:
    """The office of this invocation. Only commands that record new data (`create`: intake,
    the team's imports, a case opened from a call, the worker) may start a new data folder."""
    assert _session is not None, "the CLI callback sets the session up"
    return _session.open(create=create)


def current_settings() -> Settings:
    current_office()
    assert _session is not None
    assert _session.settings is not None
    return _session.settings


def current_dispatcher(*, create: bool = False) -> Dispatcher:
    """The one door for this invocation's commands (`application.dispatch`), over its office,
    the configured gateways and contact matrix: built once, like the office. The HTTP API
    gives its commands to the same door; the CLI only builds them and prints the result."""
    assert _session is not None, "the CLI callback sets the session up"
    return _session.door(create=create)


def dispatch(command: Command, actor: Actor, *, create: bool = False) -> CommandResult:
    """Give `command` to the dispatcher as `actor` (`create`: see `current_office`)."""
    return current_dispatcher(create=create).handle(command, actor)


def close_session() -> None:
    """End the invocation: close what it opened (`main` calls this after every command)."""
    global _session  # noqa: PLW0603
    if _session is not None and _session.office is not None:
        _session.office.close()
    _session = None


JsonOption = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]


ActorOption = Annotated[
    str, typer.Option("--as", envvar="BACKOFFICE_AGENT", help="Your agent login (who acts).")
]


CaseArg = Annotated[str, typer.Argument(help="Case id, source key (CRM id) or channel:key.")]


def parse_line_option(text: str) -> LineOfBusiness:
    """`--line`: hogar or móvil, as the CRM writes them (case and accents do not matter;
    fijo, hfc, mobile and celular are read too)."""
    from adapters.intake.parsing import ACCEPTED_LINES, parse_line

    found = parse_line(text.strip())
    if found is None:
        raise InvalidValue("--line", f"{text!r} is not a line of business ({ACCEPTED_LINES})")
    return found


def parse_when(text: str, option: str, *, bare_date_hour: int = 0) -> datetime:
    """A time given on the command line (ISO 8601 or DD/MM/YYYY HH:MM, Bogotá without a
    zone); a bad one is refused naming its `option` (`--as-of`, or an argument's name)."""
    from adapters.intake.parsing import DateError, parse_datetime

    try:
        return parse_datetime(text.strip(), bare_date_hour)
    except DateError as error:
        raise InvalidValue(option, str(error)) from None


# --- intake ----------------------------------------------------------------------------------


def report_done(result: CommandResult, as_json: bool) -> None:
    """What the command recorded (on stdout), then its notice, if any (on stderr: e.g.
    recorded on the case only, no gateway configured)."""
    from entrypoints import render

    if as_json:
        render.dump_json(
            out,
            {"case": render.case_json(result.case), "events": render.history_json(result.events)},
        )
    else:
        if not result.events:
            out.print("nothing to record (already done)")
        for event in result.events:
            sentence = render.event_sentence(event, result.case)
            out.print(
                f"{sentence[:1].upper()}{sentence[1:]} (case {result.case.source}, "
                f"version {event.originator_version})",
                highlight=False,
            )
    if result.notice:
        err.print(result.notice, markup=False, highlight=False)


def existing_file(path: Path) -> Path:
    """The path, when it is a file; otherwise a bad-input error naming it."""
    if not path.is_file():
        raise InvalidValue(str(path), "no such file")
    return path
