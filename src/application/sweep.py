"""The sweep: turn overdue follow-ups into `FollowUpMissed` facts, each exactly once.

It reads the due-items list of the case index and sends one command per item; the case
decides. A follow-up already settled, a repeated sweep or several sweepers racing on the same
item all end in one event: the others find nothing to record.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

import attrs

from domain.errors import CaseNotFound
from domain.events import ClockBreached, ClockStopped, ClockWarned
from domain.values import Actor, ActorKind

if TYPE_CHECKING:
    from application.service import Backoffice


@attrs.frozen
class SweepReport:
    """`examined` due items; the facts this sweep recorded (each exactly once overall)."""

    at: datetime
    examined: int
    missed: int
    warned: int = 0
    breached: int = 0
    windows_closed: int = 0


def sweep_follow_ups(
    office: Backoffice, *, worker: str = "sweep", now: datetime | None = None, limit: int = 1_000
) -> SweepReport:
    """Mark overdue follow-ups missed; warn and breach deadlines; close ended windows."""
    now = now or office.clock.now()
    actor = Actor(ActorKind.SWEEP, worker)
    overdue_since = now - office.policies.follow_up.missed_after
    examined = missed = 0
    for item in office.due_follow_ups(overdue_since, limit=limit):
        examined += 1
        try:
            result = office.mark_follow_up_missed(
                item.case_id, follow_up_id=item.follow_up_id, actor=actor, at=now
            )
        except CaseNotFound:  # the index knew a case the store does not (another database)
            continue
        missed += len(result.events)
    warned = breached = closed = 0
    for clock in office.index.due_clocks(now, limit):
        examined += 1
        try:
            result = office.sweep_clock(clock.case_id, clock_id=clock.clock_id, actor=actor, at=now)
        except CaseNotFound:
            continue
        for event in result.events:
            warned += isinstance(event, ClockWarned)
            breached += isinstance(event, ClockBreached)
            closed += isinstance(event, ClockStopped)
    return SweepReport(now, examined, missed, warned, breached, closed)
