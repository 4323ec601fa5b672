"""Several outboxes at once send each message once (issue: 143 of 180 sent twice or more).

Given 60 escalations in the log, when three `backoffice outbox` processes start at the same
moment against one real SMTP server, then every Message-ID arrives exactly once: one outbox
sends at a time, the others move on. On SQLite and on PostgreSQL.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from adapters.clock import FixedClock
from domain.values import EscalationTarget, Priority
from entrypoints.bootstrap import bootstrap
from entrypoints.settings import load_settings
from tests.conftest import record
from tests.integration.test_outbox_smtp import AGENT
from tests.serving import Inbox, SmtpServer, free_port

ROOT = Path(__file__).resolve().parents[2]
ESCALATIONS = 60


class SlowInbox(Inbox):
    """Takes a little while over each message, so that the outboxes' runs overlap."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(0.01)
        return await super().handle_DATA(server, session, envelope)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_url")
        return url
    return "sqlite"


def test_three_outboxes_at_once_send_each_message_once(
    database: str, tmp_path: Path, clock: FixedClock
) -> None:
    data = tmp_path / "data"
    settings = load_settings(environ={}, data_dir=str(data), database_url=database)
    with bootstrap(settings, clock=clock) as office:
        office.ingest([record(f"K{n}") for n in range(ESCALATIONS)])
        for n in range(ESCALATIONS):
            office.escalate(f"K{n}", target=EscalationTarget.CONTACT_MATRIX_AREA,
                            area="Facturación", reason="Cobro no reconocido",
                            priority=Priority.HIGH, actor=AGENT)  # fmt: skip
    server = SmtpServer(free_port())
    server.inbox = SlowInbox()
    server.controller.handler = server.inbox
    env = {
        **os.environ,
        "BACKOFFICE_DATA_DIR": str(data),
        "BACKOFFICE_DATABASE_URL": database,
        "BACKOFFICE_MAILER": "smtp",
        "BACKOFFICE_SMTP_HOST": "127.0.0.1",
        "BACKOFFICE_SMTP_PORT": str(server.port),
        "BACKOFFICE_SMTP_SECURITY": "none",
        "BACKOFFICE_CONTACT_MATRIX": str(ROOT / "examples" / "contact_matrix.toml"),
    }
    script = str(Path(sys.executable).parent / "backoffice")
    with server:
        runs = [
            subprocess.Popen(
                [script, "outbox", "--json"],
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(3)
        ]
        outputs = [run.communicate(timeout=180) for run in runs]
    assert [run.returncode for run in runs] == [0, 0, 0], [err for _, err in outputs]
    reports = [json.loads(out) for out, _ in outputs]
    ids = [message["Message-ID"] for _, message in server.inbox.messages]
    assert len(ids) == ESCALATIONS
    assert len(set(ids)) == ESCALATIONS  # each once
    assert sum(report["sent"] for report in reports) == ESCALATIONS
