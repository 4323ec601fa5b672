"""Continuous verification of the log's tamper evidence (the worker's `audit` job).

Each run does three bounded pieces of work, so that a run stays short however large the log:

1. the events appended since the last run (from the last position verified), each against the
   stored hash of the event before it in its case, and that each has a hash at all;
2. the next checkpoints of the global log, against the stored hashes of their positions
   (round and round: after the last one, the first again);
3. the next cases, each from its first event (round and round, in key order), which finds an
   event changed after it was first verified.

The positions live in the job (the worker's memory): a restarted worker verifies from the
first position again, a bounded page a run. Findings name cases, versions and positions, never
an event's data.
"""

from __future__ import annotations

from typing import Any

import attrs

from application.ports.cases import AuditReport, ChainAudit, Finding

ROWS_PER_RUN = 20_000
"""Events read a run by each of the new-events check and the round of cases."""
BLOCKS_PER_RUN = 20
"""Checkpoints verified a run."""
SHOWN = 5
"""Findings written in full in one log line (all are counted)."""


@attrs.frozen(kw_only=True)
class AuditRun:
    findings: list[Finding]
    new_events: int
    """Events appended since the last run that were checked."""
    position: int
    """The log position verified through (new events)."""
    checkpoint: int
    """The checkpoint round's position (the last checkpoint's end it verified)."""
    case_events: int
    """Events re-verified from their case's first event in this run's share of the round."""
    rounds: int
    """Rounds of every case completed since the worker started."""

    def fields(self) -> dict[str, Any]:
        """The worker's JSON log fields."""
        return {
            "findings": len(self.findings),
            "first_findings": [f.line() for f in self.findings[:SHOWN]],
            "new_events": self.new_events,
            "position": self.position,
            "checkpoint": self.checkpoint,
            "case_events": self.case_events,
            "rounds": self.rounds,
        }


@attrs.define
class AuditJob:
    audit: ChainAudit
    rows_per_run: int = ROWS_PER_RUN
    blocks_per_run: int = BLOCKS_PER_RUN
    position: int = 0
    checkpoint: int = 0
    case_cursor: tuple[Any, int] | None = None
    rounds: int = 0
    last: AuditRun | None = None
    """The newest run's outcome: what a status or a metric reads."""

    def run(self) -> AuditRun:
        news = self.audit.verify_log(self.position, self.rows_per_run)
        self.position = news.position
        marks, reached = self.audit.verify_checkpoints(self.checkpoint, self.blocks_per_run)
        # No progress: the last checkpoint was reached; the next run starts from the first.
        self.checkpoint = 0 if reached == self.checkpoint else reached
        cases, cursor = self.audit.verify_cases(self.case_cursor, self.rows_per_run)
        if cursor is None:
            self.rounds += 1
        self.case_cursor = cursor
        run = AuditRun(
            findings=_distinct([*news.findings, *marks.findings, *cases.findings]),
            new_events=news.rows,
            position=self.position,
            checkpoint=reached,
            case_events=cases.rows,
            rounds=self.rounds,
        )
        self.last = run
        return run

    def run_whole(self) -> AuditReport:
        """Everything at once (`worker --once`, `backoffice audit verify`)."""
        report = self.audit.verify_all()
        self.position = max(self.position, report.position)
        return report


def _distinct(findings: list[Finding]) -> list[Finding]:
    """One finding per case and problem (the three checks may see the same)."""
    seen: set[tuple[Any, ...]] = set()
    kept: list[Finding] = []
    for finding in findings:
        if finding.case is None:
            key: tuple[Any, ...] = (None, finding.detail, finding.problem)
        else:
            key = (finding.case, finding.problem)
        if key not in seen:
            seen.add(key)
            kept.append(finding)
    return kept
