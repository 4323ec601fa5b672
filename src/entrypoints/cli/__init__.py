"""`backoffice`: the command line, one client of the `Backoffice` embedding API.

Exit codes: 0 done; 1 refused by a rule of the procedure; 2 bad input or usage; 3 no such
case; 4 an ingest kept the good rows but rejected some; 5 settings, storage or an outside
system unavailable; 6 `audit verify` found signs of tampering.

The commands live in `operations` (intake, lists, sweep, worker, outbox, indicators, demo),
`case_commands` (`backoffice case …`), `branches` (`backoffice sac …`), `team` (the roster,
shifts and practice register), `projections` (status and rebuild), `access` (the HTTP
API's accounts and tokens), `audit` (`audit verify`, the log's tamper evidence), `privacy`
(a data subject's erasure, export and correction) and `keys` (encryption at rest's keys).
"""

from __future__ import annotations

import sys

from domain.errors import CaseNotFound, DomainError, InvalidValue
from entrypoints.cli import (
    access,
    audit,
    branches,
    case_commands,
    keys,
    operations,
    privacy,
    projections,
    shared,
    team,
)
from entrypoints.cli.shared import (
    BAD_INPUT,
    NOT_FOUND,
    OK,
    REFUSED,
    UNAVAILABLE,
    app,
    err,
)

__all__ = [
    "access",
    "app",
    "audit",
    "branches",
    "case_commands",
    "keys",
    "main",
    "operations",
    "privacy",
    "projections",
    "run",
    "team",
]


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns (and, as a script, exits with) a meaningful code."""
    from typer._click.exceptions import ClickException, NoArgsIsHelpError
    from typer.exceptions import Abort

    try:
        # Not standalone: a usage error comes back here, to be said in one line.
        returned = app(args=argv, prog_name="backoffice", standalone_mode=False)
        code = returned if isinstance(returned, int) else OK
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (OK if stop.code is None else 1)
    except Abort:  # Ctrl-C or end of input at a prompt
        code = _fail("interrupted", 1)
    except NoArgsIsHelpError as usage:  # `backoffice case`: the group's help
        usage.show()
        code = usage.exit_code
    except ClickException as usage:  # a bad option, a missing argument, an unknown command
        context = getattr(usage, "ctx", None)
        where = context.command_path if context is not None else "backoffice"
        code = _fail(f"{' '.join(usage.format_message().split())} ({where} -h)", usage.exit_code)
    except CaseNotFound as error:
        code = _fail(str(error), NOT_FOUND)
    except InvalidValue as error:
        code = _fail(str(error), BAD_INPUT)
    except DomainError as error:
        code = _fail(str(error), REFUSED)
    except Exception as error:
        code = _failure(error)
    finally:
        shared.close_session()
    return code


def _failure(error: Exception) -> int:
    """The exit code of an error of the settings, a system or the storage (the modules that
    define them are imported here, when one happens: not for every command)."""
    from eventsourcing.persistence import PersistenceError

    from application.ports.systems import SystemRefused, SystemUnavailable
    from entrypoints.settings import SettingsError

    if isinstance(error, SettingsError):
        return _fail(str(error), UNAVAILABLE)
    if isinstance(error, SystemUnavailable):
        return _fail(f"{error}; recorded on the case as pending", UNAVAILABLE)
    if isinstance(error, SystemRefused):
        return _fail(str(error), REFUSED)
    # The database driver's own errors (a full or unreachable server, a pool that timed out)
    # are told by their module, so that no command imports the driver to say so.
    storage = isinstance(error, PersistenceError | OSError) or type(error).__module__.startswith(
        ("psycopg", "eventsourcing")
    )
    if not storage:
        raise error
    return _fail(f"storage unavailable: {_first_line(error)}", UNAVAILABLE)


def _first_line(error: BaseException) -> str:
    from entrypoints.settings import redacted_text

    text = str(error).strip().splitlines()
    return redacted_text(text[0] if text else type(error).__name__)


def _fail(message: str, code: int) -> int:
    err.print(f"error: {message}", markup=False, highlight=False)
    return code


def run() -> None:
    sys.exit(main())
