"""What the application's services use of the back office, as one narrow port.

The desks, intake, the sweep, the outbox and the team's imports read cases and record on them
through this protocol, never through the `Backoffice` facade's own methods: a case by any
reference, the one retry loop (`execute`), the commands as data (`handle`), the case index
and the store for what they scan, the clock and the rules. `Backoffice` implements it; a
test can give any object that does.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Protocol

from application.case.commands import CaseCommand, CommandResult
from application.ports.cases import (
    CaseIndex,
    CaseStore,
    Clock,
    LoggedEvent,
    StartIndexWorker,
)
from domain.case.events import CaseEvent
from domain.case.state import CaseState
from domain.values import Actor

if TYPE_CHECKING:
    from application.case.handling import Policies
    from application.intake.records import IngestReport, IntakeItem


class CaseWork(Protocol):
    @property
    def clock(self) -> Clock: ...

    @property
    def store(self) -> CaseStore: ...

    @property
    def index(self) -> CaseIndex: ...

    @property
    def policies(self) -> Policies: ...

    def catch_up(self, batch_size: int = 2_000) -> int:
        """Bring the case index up to the log (what the index is scanned for must be in it)."""
        ...

    def resolve(self, reference: str) -> uuid.UUID:
        """A case id from a case id, `channel:key`, or a bare source key."""
        ...

    def case(
        self,
        reference: str | uuid.UUID,
        *,
        as_of: datetime | None = None,
        version: int | None = None,
    ) -> CaseState: ...

    def history(self, reference: str | uuid.UUID) -> Sequence[CaseEvent]: ...

    def handle(
        self, command: CaseCommand, actor: Actor, *, expected_version: int | None = None
    ) -> CommandResult:
        """Run a command of `application.case.commands` (`expected_version`: the case's
        version the caller saw; `StaleCase` when it is at another)."""
        ...

    def execute(
        self, case_id: uuid.UUID, decide: Callable[[CaseState], list[CaseEvent]]
    ) -> CommandResult:
        """Load, decide, append, retry: for what a service decides itself."""
        ...

    def decide(
        self, state: CaseState, command: CaseCommand, actor: Actor, at: datetime
    ) -> list[CaseEvent]:
        """The events `command` records on `state`, nothing appended (to append them with
        others, in one `execute`)."""
        ...


class IntakeWork(CaseWork, Protocol):
    """What intake uses besides: projecting what it just appended, the index worker of a
    large import, and the intake itself (a call's case goes through it)."""

    @property
    def index_worker(self) -> StartIndexWorker | None: ...

    def project_fresh(self, logged: Sequence[LoggedEvent]) -> None:
        """Project events just appended, when nothing else was written before them."""
        ...

    def ingest(
        self,
        items: Iterable[IntakeItem],
        *,
        batch_size: int = 10_000,
        report: IngestReport | None = None,
    ) -> IngestReport: ...
