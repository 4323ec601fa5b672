"""Calling Claro's systems on behalf of a case, without ever losing the case's own facts."""

from __future__ import annotations

from collections.abc import Callable
from typing import TypeVar

from application.service import Backoffice
from application.systems import SystemError_
from domain import records
from domain.events import CaseEvent
from domain.state import CaseState
from domain.values import Actor

T = TypeVar("T")


def call_for_case(
    office: Backoffice,
    case: CaseState,
    actor: Actor,
    operation: str,
    pending: str,
    call: Callable[[], T],
) -> T:
    """Run `call`; if the system fails, record on the case what failed and what is pending
    (`SystemCallFailed`), then let the error go on to the caller."""
    try:
        return call()
    except SystemError_ as error:
        now = office.clock.now()
        system, reason = error.system, str(error)

        def decide(state: CaseState) -> list[CaseEvent]:
            return records.record_system_failure(
                state,
                system=system,
                operation=operation,
                reason=reason,
                pending=pending,
                actor=actor,
                at=now,
            )

        office.execute(case.case_id, decide)
        raise
