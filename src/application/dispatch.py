"""The one door for every command an agent, a supervisor or a front-line system gives.

`Dispatcher.handle(command, actor)` takes any command class (`application.case.commands`,
`application.branches.commands`, `application.intake.calls`) and runs it where it belongs:

- a branch command on its desk (`Desks.handle`), which checks every rule before it writes
  to Claro's systems;
- the agent's typification (`RegisterMarking`) and notes (`AddNote`) through the account's
  system, RR (AC for móvil), when its gateway is configured; otherwise on the case only,
  saying so in the result's `notice`;
- a write left pending, settled by hand (`SettleWrite`);
- a call's commands through intake (`application.intake.calls`);
- every other case command through the one handler (`CaseWork.handle`).

The CLI and the HTTP API give their commands here, so neither is a second implementation of
a use case. The actor is whoever the client authenticated, never a value of the command.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from typing import TYPE_CHECKING

import attrs

from application.branches.commands import (
    BRANCH_COMMANDS,
    BranchCommand,
    RegisterMarking,
    SettleWrite,
)
from application.branches.handling import Desks
from application.branches.pqr import PqrDesk, SalesDesk
from application.branches.sac import SacDesk
from application.branches.support import SupportDesk
from application.case.commands import (
    CASE_COMMANDS,
    AddNote,
    CaseCommand,
    CommandResult,
    StaleCase,
    TypifyCase,
    check_moments,
)
from application.case.outside import OutsideSystems, OutsideWriter, settle_by_hand
from application.case.typification import Notes, Typification
from application.intake import calls
from domain.case.state import CaseState
from domain.errors import InvalidValue, RuleViolation
from domain.values import Actor, Resolution

if TYPE_CHECKING:
    from application.ports.escalation import ContactMatrix
    from application.ports.office import IntakeWork

Command = (
    CaseCommand | BranchCommand | RegisterMarking | SettleWrite | calls.OpenCaseFromCall
    | calls.RaiseNewRequest
)  # fmt: skip
"""Every command a client can give."""

COMMANDS: tuple[type[Command], ...] = Command.__args__


def command_name(command: type) -> str:
    """A command's name where clients name it (`InterpretCase`: `interpret-case`): the HTTP
    API's `POST /commands/<name>`, the console's forms."""
    return re.sub(r"(?<!^)(?=[A-Z])", "-", command.__name__).lower()


class Dispatcher:
    """Runs any `Command` of one back office (built by `entrypoints.bootstrap.dispatcher`)."""

    def __init__(
        self,
        office: IntakeWork,
        systems: OutsideSystems,
        matrix: Callable[[], ContactMatrix],
    ) -> None:
        """`matrix`: gives the contact matrix, read when a branch command first needs it (a
        command on the case alone does not depend on its file)."""
        self.office = office
        self.systems = systems
        self.writer = OutsideWriter(office, systems)
        self._matrix = matrix

    @functools.cached_property
    def desks(self) -> Desks:
        office, systems, matrix = self.office, self.systems, self._matrix()
        return Desks(
            sac=SacDesk(office, systems, matrix),
            support=SupportDesk(office, systems, matrix),
            pqr=PqrDesk(office, systems, matrix),
            sales=SalesDesk(office, matrix),
        )

    def handle(
        self, command: Command, actor: Actor, *, expected_version: int | None = None
    ) -> CommandResult:
        """Run `command` as `actor`: the case after it and the events it recorded.

        `expected_version`: the version of the case the caller saw (an HTTP `If-Match`); when
        the case is at another, `StaleCase` and nothing is recorded. A command on the case
        alone checks it as it appends (exact); one that writes to Claro's systems first, or
        opens a case, checks it before it starts."""
        check_moments(command)  # every date-time, whichever door the command takes next
        if expected_version is not None:
            if isinstance(command, CASE_COMMANDS) and not isinstance(command, AddNote):
                return self.office.handle(command, actor, expected_version=expected_version)
            case_id = getattr(command, "case", None)
            if case_id is not None:
                seen = self.office.case(case_id)
                if seen.version != expected_version:
                    raise StaleCase(case_id, expected_version, seen.version)
                if isinstance(command, RegisterMarking | AddNote):
                    return self._in_account(command, actor, seen)
        if isinstance(command, BRANCH_COMMANDS):
            return self.desks.handle(command, actor)
        if isinstance(command, calls.OpenCaseFromCall | calls.RaiseNewRequest):
            return calls.handle(self.office, command, actor)
        if isinstance(command, SettleWrite):
            return self._settle(command, actor)
        if isinstance(command, RegisterMarking | AddNote):
            return self._in_account(command, actor)
        if isinstance(command, CASE_COMMANDS):
            return self.office.handle(command, actor)
        raise TypeError(f"not a command: {type(command).__name__}")

    def _in_account(
        self, command: RegisterMarking | AddNote, actor: Actor, case: CaseState | None = None
    ) -> CommandResult:
        office = self.office
        case = case if case is not None else office.case(command.case)
        system = self.systems.account_system(case.line)
        try:
            self.systems.require(system)
        except RuleViolation as missing:
            notice = f"recorded on the case only: {missing}"
            if isinstance(command, AddNote):
                return attrs.evolve(office.handle(command, actor), notice=notice)
            typified = TypifyCase(
                case=command.case, marking_code=command.marking,
                resolution=Resolution.CUN if command.cun else Resolution.FIRST_CONTACT,
                cun=command.cun, filed_at=command.filed_at,
            )  # fmt: skip
            return attrs.evolve(office.handle(typified, actor), notice=notice)
        if isinstance(command, AddNote):
            return Notes(office, self.writer).add(case, text=command.text, actor=actor)
        typification = Typification(office, self.writer)
        expect = Resolution.CUN if command.cun else None
        typification.check(
            case, command.marking, expect, cun=command.cun, filed_at=command.filed_at
        )
        return typification.register(
            case, marking=command.marking, notes=f"Tipificación {command.marking}",
            actor=actor, cun=command.cun, filed_at=command.filed_at,
        )  # fmt: skip

    def _settle(self, command: SettleWrite, actor: Actor) -> CommandResult:
        if command.answer is None and not command.reason.strip():
            raise InvalidValue("reason", "say why the write was not applied (or give its answer)")
        before = self.office.case(command.case).version
        after = settle_by_hand(
            self.office, command.case, key=command.key.strip(), answer=command.answer,
            reason=command.reason, actor=actor,
        )  # fmt: skip
        return CommandResult(after, tuple(self.office.store.events_of(command.case, after=before)))
