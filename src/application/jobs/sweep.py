"""The sweep: turn overdue follow-ups into `FollowUpMissed` facts, each exactly once.

It reads the due-items list of the case index and sends one command per item; the case
decides. A follow-up already settled, a repeated sweep or several sweepers racing on the same
item all end in one event: the others find nothing to record.

It also settles outside writes left pending (`settle_writes`): a command that died or timed
out after asking RR, DIME, WFM or the Diagnosticador for something. Each is sent again under
its own idempotency key, so the system answers what it answered the first time (or applies it
now, if it never arrived), and the answer is recorded on the case.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

import attrs

from application.case.commands import MarkFollowUpMissed, SweepClock
from application.ports.systems import SystemError_, SystemRefused
from domain.case.events import ClockBreached, ClockStopped, ClockWarned
from domain.case.outside import describe
from domain.errors import CaseNotFound, RuleViolation
from domain.values import Actor, ActorKind

if TYPE_CHECKING:
    from application.case.outside import OutsideWriter
    from application.ports.office import CaseWork

SETTLE_WRITES_AFTER = timedelta(minutes=5)
"""A write still pending this long after it was asked for is the sweep's to settle: longer
than a command waits for a system (three attempts of at most the systems' timeout)."""


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
    office: CaseWork, *, worker: str = "sweep", now: datetime | None = None, limit: int = 1_000
) -> SweepReport:
    """Mark overdue follow-ups missed; warn and breach deadlines; close ended windows."""
    now = now or office.clock.now()
    actor = Actor(ActorKind.SWEEP, worker)
    overdue_since = now - office.policies.follow_up.missed_after
    examined = missed = 0
    office.catch_up()
    for item in office.index.due_follow_ups(overdue_since, limit):
        examined += 1
        command = MarkFollowUpMissed(case=item.case_id, follow_up_id=item.follow_up_id, at=now)
        try:
            result = office.handle(command, actor)
        except CaseNotFound:  # the index knew a case the store does not (another database)
            continue
        missed += len(result.events)
    warned = breached = closed = 0
    for clock in office.index.due_clocks(now, limit):
        examined += 1
        try:
            result = office.handle(
                SweepClock(case=clock.case_id, clock_id=clock.clock_id, at=now), actor
            )
        except CaseNotFound:
            continue
        for event in result.events:
            warned += isinstance(event, ClockWarned)
            breached += isinstance(event, ClockBreached)
            closed += isinstance(event, ClockStopped)
    return SweepReport(now, examined, missed, warned, breached, closed)


@attrs.frozen
class SettleReport:
    settled: int
    """Pending writes the systems answered (or refused) this time."""
    still_pending: int
    """Pending writes whose system did not answer or is not configured here."""


PAGE = 500
"""Pending writes read from the case index at a time."""


def settle_writes(
    office: CaseWork,
    writer: OutsideWriter,
    *,
    worker: str = "sweep",
    now: datetime | None = None,
    after: timedelta = SETTLE_WRITES_AFTER,
    limit: int = 1_000,
) -> SettleReport:
    """Send again, under their keys, the outside writes pending for longer than `after`, and
    record what the systems answer. A system still down leaves its write pending (nothing new
    recorded on the case, so a long outage does not fill it with failures).

    A system that fails once (down, or its gateway not configured here) is not tried again in
    this run: its other writes stay pending without waiting for more timeouts, and they do not
    count towards `limit`, so writes to the systems that answer are never starved behind a
    long queue for one that does not."""
    now = now or office.clock.now()
    actor = Actor(ActorKind.SWEEP, worker)
    office.catch_up()
    settled = still = tried = 0
    unavailable: set[str] = set()
    cursor = None
    while tried < limit:
        page = office.index.pending_writes(now - after, PAGE, after=cursor)
        if not page:
            break
        cursor = page[-1]
        for item in page:
            try:
                case = office.case(item.case_id)
            except CaseNotFound:
                continue
            write = next((w for w in case.pending_writes if w.key == item.key), None)
            if write is None:  # answered meanwhile
                continue
            if write.system in unavailable:
                still += 1
                continue
            if tried >= limit:
                break
            tried += 1
            try:
                writer.settle(
                    case, write, actor, f"{describe(write)} (pendiente)", record_failure=False,
                    follows=True,  # the answer and what follows from it: one append
                )  # fmt: skip
            except SystemRefused:
                settled += 1  # recorded as refused: settled too
                continue
            except (SystemError_, RuleViolation):  # down, or its gateway is not configured here
                unavailable.add(write.system)
                still += 1
                continue
            settled += 1
    return SettleReport(settled, still)
