"""Who may do what: each command and each kind of reading, by role (and a token's scope).

The matrix is data, so the HTTP API, the console and the tests read the same one:

- an agent works cases: every command of the procedure on a case, a call's case; assigning
  a case only to themselves (taking it);
- a supervisor does what an agent does, assigns to anyone, reads the history and replays
  a case as it was, and reads the team's indicators and the projections' state;
- a coordinator and a manager read cases and the team's indicators;
- an auditor reads everything (cases, history, replay, indicators, projections, and the
  register of who read which case's personal data: theirs alone) and writes nothing;
- an integration only hands cases over (intake);
- an administrator looks after the service (projections' state), administers the accounts
  and bearer tokens (`may_administer`), and works no case.

Imports (`Import`, `may_import`): CRM exports and e-mails hand cases over (an integration, a
supervisor); surveys and quality monitorings, a supervisor; the roster and the shifts, a
supervisor or an administrator; the practice register, a coordinator, a manager or a
supervisor.

The sweep's own commands (a follow-up marked missed, a clock swept) are the system's: no
one gives them over the API. A token's scope narrows its account's role: `intake` hands
cases over only, `read` reads what the role may read, `all` is the role.
"""

from __future__ import annotations

import enum

from application.case.commands import AssignCase, MarkFollowUpMissed, SweepClock
from application.dispatch import COMMANDS, Command
from application.ports.accounts import AccessRole

A, S, C, M, AU, IN, AD = (
    AccessRole.AGENT, AccessRole.SUPERVISOR, AccessRole.COORDINATOR, AccessRole.MANAGER,
    AccessRole.AUDITOR, AccessRole.INTEGRATION, AccessRole.ADMIN,
)  # fmt: skip

WORKERS = frozenset({A, S})
"""Who works cases."""

SYSTEM_COMMANDS: tuple[type[Command], ...] = (MarkFollowUpMissed, SweepClock)
"""The sweep's: recorded by the worker, never asked for over the API."""

COMMAND_ROLES: dict[type[Command], frozenset[AccessRole]] = {
    cls: WORKERS for cls in COMMANDS if cls not in SYSTEM_COMMANDS
}
"""Each command a client may give, and the roles that may give it."""


class Reading(enum.StrEnum):
    """The kinds of reading the API serves."""

    CASES = "cases"
    """The case list, a case with its notes and clocks, the follow-ups due."""
    HISTORY = "history"
    """A case's events, with who did what."""
    REPLAY = "replay"
    """A case as it was at a moment or a version."""
    INDICATORS = "indicators"
    PROJECTIONS = "projections"
    EVENTS = "events"
    """The live stream of the log."""
    READS = "reads"
    """The register of who read which case's personal data (`GET /audit/reads`)."""


READING_ROLES: dict[Reading, frozenset[AccessRole]] = {
    Reading.CASES: frozenset({A, S, C, M, AU}),
    Reading.HISTORY: frozenset({A, S, AU}),
    Reading.REPLAY: frozenset({S, AU}),
    Reading.INDICATORS: frozenset({S, C, M, AU}),
    Reading.PROJECTIONS: frozenset({S, AU, AD}),
    Reading.EVENTS: frozenset({S, AU}),
    Reading.READS: frozenset({AU}),
}

ADMINISTRATION_ROLES = frozenset({AD})
"""Who administers accounts and bearer tokens (list, add, disable, enable, reset, revoke)."""

INTAKE_ROLES = frozenset({IN, S})
"""Who may hand a case over (a CRM row, an e-mail): the front line's systems, a supervisor."""


class Import(enum.StrEnum):
    """The kinds of file the API imports (as the CLI's `ingest`, `ingest-mail`, `import-…`)."""

    CRM = "crm"
    """A CRM export: cases handed over."""
    MAIL = "mail"
    """Recommended cases by e-mail (`.eml`)."""
    SURVEYS = "surveys"
    MONITORINGS = "monitorings"
    ROSTER = "roster"
    SHIFTS = "shifts"
    PRACTICES = "practices"
    """The management-practice register: coordinators and managers record practices."""


IMPORT_ROLES: dict[Import, frozenset[AccessRole]] = {
    Import.CRM: INTAKE_ROLES,
    Import.MAIL: INTAKE_ROLES,
    Import.SURVEYS: frozenset({S}),
    Import.MONITORINGS: frozenset({S}),
    Import.ROSTER: frozenset({S, AD}),
    Import.SHIFTS: frozenset({S, AD}),
    Import.PRACTICES: frozenset({C, M, S}),
}
"""Who may import each kind of file. CRM exports and e-mails hand cases over, as intake."""

_IMPORTED = {
    Import.CRM: "CRM exports",
    Import.MAIL: "e-mails",
    Import.SURVEYS: "surveys",
    Import.MONITORINGS: "quality monitorings",
    Import.ROSTER: "the roster",
    Import.SHIFTS: "shifts",
    Import.PRACTICES: "practices",
}


def may_command(role: AccessRole, scope: str | None, command: Command, login: str) -> str | None:
    """Why `role` (with a token's `scope`) may not give `command`; None when it may."""
    why = may_give(role, scope, type(command))
    if why is not None:
        return why
    if isinstance(command, AssignCase) and role is A and command.agent.strip() != login:
        return "an agent may take a case (assign it to themselves); reassigning is a supervisor's"
    return None


def may_take(role: AccessRole, login: str, command: Command, owner: str | None) -> str | None:
    """Why `role` may not give `command` on a case `owner` works (None when it may): an agent
    takes a case no one works, or their own; taking a colleague's is reassigning it, a
    supervisor's. (`may_command` has said the rest, without the case.)"""
    if isinstance(command, AssignCase) and role is A and owner not in (None, login):
        return f"the case is {owner}'s: reassigning it is a supervisor's"
    return None


def may_give(role: AccessRole, scope: str | None, kind: type[Command]) -> str | None:
    """Why `role` (with a token's `scope`) may give no command of the class `kind` at all
    (what a page asks before it offers the command's form); None when it may give some."""
    allowed = COMMAND_ROLES.get(kind)
    if allowed is None:
        return f"{kind.__name__} is recorded by the system, not asked for"
    if scope in ("intake", "read"):
        return f"a token with scope {scope} gives no command on cases"
    if role not in allowed:
        return f"{_a(role)} may not {_verb(kind)}"
    return None


def may_read(role: AccessRole, scope: str | None, reading: Reading) -> str | None:
    """Why `role` (with a token's `scope`) may not read `reading`; None when it may."""
    if scope == "intake":
        return "a token with scope intake only hands cases over"
    if role not in READING_ROLES[reading]:
        return f"{_a(role)} may not read {reading.value}"
    return None


def may_hand_over(role: AccessRole, scope: str | None) -> str | None:
    """Why `role` may not hand a case over (intake); None when it may."""
    if scope == "read":
        return "a token with scope read hands nothing over"
    if role not in INTAKE_ROLES:
        return f"{_a(role)} does not hand cases over (the front line's systems do)"
    return None


SLOTS_ROLES = WORKERS
"""Who asks WFM for the visit slots of a support case (to agree one with the customer):
whoever works cases."""


def may_ask_slots(role: AccessRole, scope: str | None) -> str | None:
    """Why `role` (with a token's `scope`) may not ask WFM for a case's visit slots; None
    when it may. Asking records on the case when WFM does not answer, so a token of scope
    read (or intake) may not."""
    if scope in ("intake", "read"):
        return f"a token with scope {scope} may not ask for visit slots"
    if role not in SLOTS_ROLES:
        return f"{_a(role)} may not ask for visit slots: whoever works the case does"
    return None


def may_import(role: AccessRole, scope: str | None, kind: Import) -> str | None:
    """Why `role` (with a token's `scope`) may not import `kind`; None when it may. A token
    with scope `intake` imports what hands cases over (CRM exports, e-mails), nothing else;
    one with scope `read` imports nothing."""
    what = _IMPORTED[kind]
    handing_over = IMPORT_ROLES[kind] is INTAKE_ROLES
    if scope == "read" or (scope == "intake" and not handing_over):
        return f"a token with scope {scope} may not import {what}"
    if role not in IMPORT_ROLES[kind]:
        return f"{_a(role)} may not import {what}"
    return None


def may_administer(role: AccessRole, scope: str | None, *, change: bool) -> str | None:
    """Why `role` (with a token's `scope`) may not administer accounts and tokens (`change`:
    add, disable, enable, reset, issue or revoke; else list them); None when it may."""
    if scope == "intake":
        return "a token with scope intake only hands cases over"
    if scope == "read" and change:
        return "a token with scope read may not change accounts or tokens"
    if role not in ADMINISTRATION_ROLES:
        return f"{_a(role)} may not administer accounts and tokens"
    return None


def _verb(cls: type[object]) -> str:
    """`AssignCase` → "assign case", as a refusal says it."""
    name = cls.__name__
    words = "".join(f" {ch.lower()}" if ch.isupper() else ch for ch in name).strip()
    return words


def _a(role: AccessRole) -> str:
    """ "an auditor", "a supervisor": the role as a refusal says it."""
    return f"{'an' if role.value[0] in 'aeiou' else 'a'} {role.value}"
