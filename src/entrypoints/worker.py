"""`backoffice worker`: the case index catch-up, the follow-up sweep, the outbox, the
verification of the log's tamper evidence (`application.jobs.audit`) and, when set, the
retention of personal data (`application.jobs.retention`), on a tick.

Each job logs one JSON line per run (its health: what it did, how long it took, no personal
data). SIGINT or SIGTERM stops the ticking and waits for running jobs; `--once` runs each job
once (the outbox until drained) for cron-style use. Every job is safe to run in several
workers at once: the index and the outbox refuse a position already taken, and each sweep
command is decided by its case.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from types import FrameType
from typing import Any

import attrs

from application.case.outside import OutsideWriter
from application.jobs.audit import AuditJob
from application.jobs.outbox import Outbox
from application.jobs.retention import RetentionJob
from application.jobs.sweep import settle_writes
from application.ports.ticks import Ticker
from application.service import Backoffice

log = logging.getLogger("backoffice.worker")


class JsonLines(logging.Formatter):
    """One JSON object a line: time, level, message and the record's `fields`."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "msg": record.getMessage(),
        }
        data.update(getattr(record, "fields", {}))
        return json.dumps(data, ensure_ascii=False, default=str)


def configure_logging(stream: Any = None) -> None:
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonLines())
    log.handlers[:] = [handler]
    log.setLevel(logging.INFO)
    log.propagate = False


@attrs.frozen
class Intervals:
    catch_up_seconds: float = 5.0
    sweep_seconds: float = 60.0
    outbox_seconds: float = 10.0
    audit_seconds: float = 60.0
    retention_seconds: float = 3600.0


class Worker:
    def __init__(
        self,
        office: Backoffice,
        outbox: Outbox,
        *,
        name: str,
        writer: OutsideWriter | None = None,
        audit: AuditJob | bool | None = True,
        retention: RetentionJob | None = None,
    ) -> None:
        self.office = office
        self.outbox = outbox
        self.name = name
        self.writer = writer
        """Settles outside writes left pending (None: no gateway configured here)."""
        self.healthy = True
        if audit is True:
            from entrypoints.bootstrap import tamper_audit

            chain = tamper_audit(office)
            audit = AuditJob(chain) if chain is not None else None
        self.audit: AuditJob | None = audit or None
        """Verifies the log's hashes (None: a store without them, the in-memory one)."""
        self.tampering = False
        """The newest verification found signs of tampering (cleared when one finds none)."""
        self.retention = retention
        """Erases data subjects past the retention period (None: no retention set)."""

    def _run(self, job: str, work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            fields = work()
        except Exception as error:  # a tick fails, the worker goes on; the next tick retries
            self.healthy = False
            fields = {"error": f"{type(error).__name__}: {error}"}
            level = logging.ERROR
        else:
            self.healthy = True
            level = logging.WARNING if fields.get("stopped_by") else logging.INFO
            if fields.get("findings"):  # the audit found signs of tampering
                level = logging.ERROR
        fields = {"worker": self.name, "job": job, **fields}
        fields["ms"] = round((time.perf_counter() - started) * 1000, 1)
        log.log(level, "tick", extra={"fields": fields})
        return fields

    def catch_up(self) -> dict[str, Any]:
        return self._run(
            "catch_up",
            lambda: {
                "applied": self.office.catch_up(),
                "indicators_applied": self.office.catch_up_indicators(),
                "position": self.office.index.position(),
            },
        )

    def sweep(self) -> dict[str, Any]:
        def work() -> dict[str, Any]:
            report = self.office.sweep(worker=self.name)
            fields = {
                "examined": report.examined,
                "missed": report.missed,
                "warned": report.warned,
                "breached": report.breached,
                "windows_closed": report.windows_closed,
            }
            if self.writer is not None:
                writes = settle_writes(self.office, self.writer, worker=self.name)
                fields |= {"writes_settled": writes.settled, "writes_pending": writes.still_pending}
            return fields

        return self._run("sweep", work)

    def send_outbox(self) -> dict[str, Any]:
        def work() -> dict[str, Any]:
            report = self.outbox.process()
            return {
                "events_read": report.events_read,
                "sent": report.sent,
                "failed": report.failed,
                "stopped_by": report.stopped_by,
                "moved_on": report.moved_on,
                "position": report.position,
            }

        return self._run("outbox", work)

    def verify(self, *, whole: bool = False) -> dict[str, Any]:
        """The audit job's run (`whole`: every case and checkpoint at once). Findings are
        logged at error level, one line each in `first_findings` (at most five), counted in
        `findings`; `tampering` says whether the newest run found any."""
        audit = self.audit
        if audit is None:
            return {}

        def work() -> dict[str, Any]:
            if whole:
                report = audit.run_whole()
                fields: dict[str, Any] = {
                    "findings": len(report.findings),
                    "first_findings": [f.line() for f in report.findings[:5]],
                    "events": report.rows,
                    "position": report.position,
                    "checkpoint": report.checkpoint,
                }
            else:
                fields = audit.run().fields()
            self.tampering = bool(fields["findings"])
            return fields

        fields = self._run("audit", work)
        if self.tampering:
            self.healthy = False
        return fields

    def retain(self, *, whole: bool = False) -> dict[str, Any]:
        """The retention job's run (`whole`: every data subject); its fields count subjects,
        never name them."""
        job = self.retention
        if job is None:
            return {}
        return self._run("retention", job.run_whole if whole else job.run)

    def once(self) -> bool:
        """Each job once, the outbox until drained or stopped, the audit over the whole log;
        True when all went well (no tampering found either)."""
        self.catch_up()
        self.sweep()
        while True:
            fields = self.send_outbox()
            if fields.get("error") or fields.get("stopped_by") or not fields.get("events_read"):
                break
        healthy = self.healthy and not fields.get("stopped_by")
        if self.retention is not None:
            healthy = not self.retain(whole=True).get("error") and healthy
        audited = self.verify(whole=True)
        return healthy and not audited.get("error") and not self.tampering

    def run(self, ticker: Ticker, intervals: Intervals, stop: threading.Event) -> None:
        """Tick until `stop` is set (by a signal, or by an embedding host)."""
        ticker.every(intervals.catch_up_seconds, "catch_up", self.catch_up)
        ticker.every(intervals.sweep_seconds, "sweep", self.sweep)
        ticker.every(intervals.outbox_seconds, "outbox", self.send_outbox)
        if self.audit is not None:
            ticker.every(intervals.audit_seconds, "audit", self.verify)
        if self.retention is not None:
            ticker.every(intervals.retention_seconds, "retention", self.retain)
        ticker.start()
        log.info("started", extra={"fields": {"worker": self.name, **attrs.asdict(intervals)}})
        try:
            stop.wait()
        finally:
            ticker.stop()
            log.info("stopped", extra={"fields": {"worker": self.name}})


def stop_on_signals(stop: threading.Event) -> None:
    def handler(signum: int, frame: FrameType | None) -> None:
        log.info("signal", extra={"fields": {"signal": signal.Signals(signum).name}})
        stop.set()

    signal.signal(signal.SIGINT, handler)
    signal.signal(signal.SIGTERM, handler)
