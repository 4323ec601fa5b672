"""The worker: one pass, a ticking run that stops cleanly, signals, several processes."""

from __future__ import annotations

import io
import json
import os
import signal
import subprocess
import sys
import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest

from adapters.clock import FixedClock
from adapters.mail.directory import ContactDirectory
from adapters.mail.files import FolderMailer
from adapters.scheduler import ApschedulerTicker
from adapters.tracking import TrackedPosition
from application.jobs.outbox import Outbox
from application.service import Backoffice
from domain.case.events import FollowUpMissed
from domain.values import Actor, EscalationTarget, Priority
from entrypoints.bootstrap import bootstrap
from entrypoints.settings import load_settings
from entrypoints.worker import Intervals, Worker, configure_logging
from tests.conftest import T0, record

DIRECTORY = ContactDirectory(
    {"Facturación": ("facturacion@claro.example.co",)},
    ("supervision@almacontact.example.co",),
    "almacontact.example.co",
)


def make_worker(office: Backoffice, data: Path, outbox_dir: Path) -> Worker:
    settings = load_settings(environ={}, data_dir=str(data))
    outbox = Outbox(
        office,
        FolderMailer(outbox_dir),
        DIRECTORY,
        TrackedPosition(settings.tracking_env("Outbox"), "Outbox"),
        sender="backoffice@almacontact.example.co",
        domain="test.local",
    )
    return Worker(office, outbox, name="w1")


@pytest.fixture
def logs() -> io.StringIO:
    stream = io.StringIO()
    configure_logging(stream)
    return stream


def lines(stream: io.StringIO) -> list[dict[str, object]]:
    return [json.loads(line) for line in stream.getvalue().splitlines()]


def test_one_pass_sweeps_and_mails_and_logs_a_health_line_per_job(
    tmp_path: Path, logs: io.StringIO
) -> None:
    clock = FixedClock(T0)
    data = tmp_path / "data"
    with bootstrap(load_settings(environ={}, data_dir=str(data)), clock=clock) as office:
        office.ingest([record("K1"), record("K2", account="2")])
        office.escalate(
            "K2",
            target=EscalationTarget.CONTACT_MATRIX_AREA,
            area="facturacion",
            reason="Cobro doble",
            priority=Priority.NORMAL,
            actor=Actor.agent("maria.b"),
        )
        clock.set(T0 + timedelta(days=3))
        worker = make_worker(office, data, tmp_path / "outbox")
        assert worker.once()
        worker.outbox.close()
        assert sum(isinstance(e, FollowUpMissed) for e in office.history("K1")) == 1
    mails = sorted(p.name.split(".")[0] for p in (tmp_path / "outbox").glob("*.eml"))
    # Three days on, the escalation's 48-hour answer (normal priority) is overdue too.
    assert mails == ["deadline_breached", "escalation", "missed_follow_up", "missed_follow_up"]
    jobs = [(line["job"], line["level"]) for line in lines(logs)]
    assert jobs[:3] == [("catch_up", "info"), ("sweep", "info"), ("outbox", "info")]
    assert all("Cliente" not in json.dumps(line) for line in lines(logs))


def test_a_ticking_worker_stops_cleanly_when_told(tmp_path: Path, logs: io.StringIO) -> None:
    data = tmp_path / "data"
    clock = FixedClock(T0 + timedelta(days=3))
    with bootstrap(load_settings(environ={}, data_dir=str(data)), clock=clock) as office:
        office.ingest([record("K1")])
        worker = make_worker(office, data, tmp_path / "outbox")
        stop = threading.Event()
        thread = threading.Thread(
            target=worker.run, args=(ApschedulerTicker(), Intervals(0.05, 0.05, 0.05), stop)
        )
        thread.start()
        deadline = time.monotonic() + 20
        while not list((tmp_path / "outbox").glob("*.eml")) and time.monotonic() < deadline:
            time.sleep(0.05)
        stop.set()
        thread.join(timeout=20)
        worker.outbox.close()
        assert not thread.is_alive()
    assert len(list((tmp_path / "outbox").glob("*.eml"))) == 1
    messages = [line["msg"] for line in lines(logs)]
    assert messages[0] == "started"
    assert messages[-1] == "stopped"


def _backoffice(*args: str) -> list[str]:
    return [str(Path(sys.executable).parent / "backoffice"), *args]


def test_sigterm_stops_the_worker_process_gracefully(tmp_path: Path) -> None:
    data = tmp_path / "data"
    command = _backoffice("--data-dir", str(data), "worker", "--catch-up-seconds", "0.1")
    process = subprocess.Popen(
        command, stderr=subprocess.PIPE, stdout=subprocess.DEVNULL, text=True
    )
    assert process.stderr is not None
    seen: list[dict[str, object]] = []
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        seen.append(json.loads(line))
        if seen[-1].get("job") == "catch_up":
            break
    process.send_signal(signal.SIGTERM)
    _, rest = process.communicate(timeout=30)
    assert process.returncode == 0
    assert any(entry.get("job") == "catch_up" for entry in seen)
    final = [json.loads(line) for line in (rest or "").splitlines()]
    assert final[-1]["msg"] == "stopped"
    assert any(entry.get("signal") == "SIGTERM" for entry in final)


@pytest.mark.postgres
def test_four_worker_processes_on_postgresql_record_each_fact_once(
    postgres_url: str, tmp_path: Path
) -> None:
    settings = load_settings(environ={}, data_dir=str(tmp_path / "data"), database_url=postgres_url)
    with bootstrap(settings, clock=FixedClock(T0)) as office:
        office.ingest([record(f"K{i}") for i in range(30)])  # follow-ups due in July 2026
    env = {**os.environ, "BACKOFFICE_DATABASE_URL": postgres_url}
    processes = [
        subprocess.Popen(
            _backoffice("--data-dir", str(tmp_path / f"w{i}"), "worker", "--once", f"--name=w{i}"),
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(4)
    ]  # fmt: skip
    for process in processes:
        _, err = process.communicate(timeout=120)
        assert process.returncode == 0, err
    with bootstrap(settings) as office:
        log = office.store.read_log(0, 10_000)
    missed = [e.event for e in log if isinstance(e.event, FollowUpMissed)]
    assert len(missed) == 30
    assert len({e.originator_id for e in missed}) == 30
