"""`backoffice outbox` killed with SIGKILL while it sends, then run again until done.

What the outbox guarantees (src/application/jobs/outbox.py, docs/operations.md), and what this test
holds it to: for each event that calls for mail it composes the message (Message-ID
`<purpose.case-id.version@domain>` and Date from the event), hands it to the SMTP server, and
only then records its position past that event, in a transaction of its own. So:

- every message is delivered at least once: a kill before the position is recorded leaves the
  event to the next run;
- a kill after the server took a message and before the position moved past its event sends
  that message again, the same message (Message-ID, Date, recipients, text): each event here
  calls for one message and the position moves event by event, so a kill causes at most one
  duplicate: duplicates <= kills;
- a refusal is recorded on the case as `MailFailed` once per message and recipients, however
  often the message is tried again (the case refuses a second record of the same failure);
- a run that finds the sender lock still held (on PostgreSQL the server frees a killed
  holder's advisory lock once it notices the connection is gone) moves on at once: exit 0 with
  `"moved_on": true`, nothing sent, and a later run sends.

Given 60 cases with an escalation each (42 to an area the server accepts, 6 to an area with
one recipient refused and one accepted, 6 to an area whose only recipient is refused, 6 to an
area without recipients), a missed follow-up each (a reminder to the agent or the supervisors)
and the escalation's 24-hour clock breached (a notice), when an outbox is killed three times
at random moments (once the server has taken a random number of further messages, a few
milliseconds later; or early on, at a random time) and then run until a run ends normally,
then every expected Message-ID arrived, nothing else did, duplicates are at most the kills and
are each the same message, each refusal is recorded once, the outbox's position is the log's
head, and one more run sends nothing.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
from collections import Counter
from datetime import timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

from adapters.clock import FixedClock
from application.service import Backoffice
from domain.case.events import ClockBreached, Escalated, FollowUpMissed, MailFailed
from domain.values import Actor, EscalationTarget, Priority
from entrypoints.bootstrap import bootstrap, outbox_position
from entrypoints.settings import load_settings
from tests.conftest import T0, record
from tests.faults.conftest import NewTarget
from tests.faults.harness import (
    Run,
    Target,
    Trigger,
    after,
    case_events,
    cli_env,
    killed_runs,
    run,
)
from tests.serving import Inbox, SmtpServer, free_port

CASES = 60
MESSAGES = CASES + CASES * 8 // 10 + CASES
"""A reminder, an escalation (to the areas with a recipient the server takes) and a notice of
the breached clock per case."""
KILLS = 3
SEEDS = {"sqlite": 4401, "postgres": 4402}
DOMAIN = "faults.example.co"
ARGS = ("outbox", "--json")
NOW = T0 + timedelta(days=3)
AGENT = Actor.agent("maria.b")
MATRIX = """\
supervisors = ["supervision.premium@almacontact.example.co"]
agent_domain = "almacontact.example.co"

[areas]
"Facturación" = ["escalamientos.facturacion@claro.example.co"]
"Cartera" = ["gestion.cartera@claro.example.co", "rechazo@cartera.claro.example.co"]
"Sin buzón" = ["rechazo@claro.example.co"]
"""


def area(n: int) -> str:
    return {3: "Cartera", 7: "Sin buzón", 9: "Área desconocida"}.get(n % 10, "Facturación")


class SlowInbox(Inbox):
    """Takes a few milliseconds over each message, as a real relay does."""

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        await asyncio.sleep(0.004)
        return await super().handle_DATA(server, session, envelope)


def escalations_and_reminders(target: Target) -> None:
    settings = load_settings(
        environ={}, data_dir=str(target.data_dir), database_url=target.database
    )
    clock = FixedClock(T0)
    with bootstrap(settings, clock=clock) as office:
        office.ingest([record(f"M{n}") for n in range(CASES)])  # follow-ups due T0 + 1 day
        for n in range(CASES):
            if n % 2:
                office.assign(f"M{n}", agent=f"agente.{n % 4}", actor=AGENT)
            office.escalate(f"M{n}", target=EscalationTarget.CONTACT_MATRIX_AREA, area=area(n),
                            reason="Cobro no reconocido", priority=Priority.HIGH,
                            actor=AGENT)  # fmt: skip
        clock.set(NOW)
        assert office.sweep(worker="setup").missed == CASES


def expected_mail(office: Backoffice) -> tuple[set[str], set[tuple[str, tuple[str, ...]]]]:
    """The Message-IDs the server must receive (docs/operations.md's form), and the failures
    the cases must record once each (Message-ID, refused recipients)."""
    delivered: set[str] = set()
    failures: set[tuple[str, tuple[str, ...]]] = set()
    for events in case_events(office).values():
        for event in events:
            case, version = event.originator_id, event.originator_version
            if isinstance(event, FollowUpMissed):
                delivered.add(f"<missed_follow_up.{case}.{version}@{DOMAIN}>")
            elif isinstance(event, ClockBreached):  # the escalations' 24-hour clocks
                delivered.add(f"<deadline_breached.{case}.{version}@{DOMAIN}>")
            elif isinstance(event, Escalated):
                mid = f"<escalation.{case}.{version}@{DOMAIN}>"
                if event.area == "Facturación":
                    delivered.add(mid)
                elif event.area == "Cartera":
                    delivered.add(mid)
                    failures.add((mid, ("rechazo@cartera.claro.example.co",)))
                elif event.area == "Sin buzón":
                    failures.add((mid, ("rechazo@claro.example.co",)))
                else:
                    failures.add((mid, ()))
    return delivered, failures


def kill_while_sending(
    env: dict[str, str], logs: Path, rng: random.Random, received: list[Any]
) -> list[Run]:
    """Outboxes killed at random moments until KILLS were; then run until one that did not
    move on ends (a killed sender's lock may linger a moment on PostgreSQL)."""

    def trigger(n: int, seconds: float) -> Trigger:
        if n == 1:  # early on: starting, or sending the first messages
            return after(rng.uniform(0.05, 0.6))
        count = len(received) + rng.randint(1, max(1, (MESSAGES - len(received)) // 2))
        then = rng.uniform(0.0, 0.02)
        seen: list[float] = []

        def taken(elapsed: float) -> bool:  # the server took `count` messages, `then` s ago
            if not seen and len(received) >= count:
                seen.append(elapsed + then)
            return bool(seen) and elapsed >= seen[0]

        return taken

    runs = [r for r, _ in killed_runs(ARGS, env, logs, kills=KILLS, trigger=trigger,
                                      measure=lambda: len(received),
                                      typical=lambda: math.inf)]  # fmt: skip
    assert sum(r.killed for r in runs) == KILLS, [r.describe() for r in runs]
    assert all(r.killed or r.returncode == 0 for r in runs), [r.describe() for r in runs]
    for _ in range(20):
        runs.append(run(ARGS, env, logs))
        assert runs[-1].returncode == 0, runs[-1].describe()
        if not json.loads(runs[-1].stdout)["moved_on"]:
            return runs
    raise AssertionError("every outbox run moved on: the sender lock stayed taken")


def test_an_outbox_killed_while_sending_delivers_everything_at_least_once(
    backend: str, new_target: NewTarget, tmp_path: Path
) -> None:
    target = new_target("data")
    escalations_and_reminders(target)
    matrix = tmp_path / "contact_matrix.toml"
    matrix.write_text(MATRIX, encoding="utf-8")
    server = SmtpServer(free_port())
    server.inbox = SlowInbox()
    server.controller.handler = server.inbox
    env = cli_env(target, NOW, BACKOFFICE_MAILER="smtp", BACKOFFICE_SMTP_HOST="127.0.0.1",
                  BACKOFFICE_SMTP_PORT=str(server.port), BACKOFFICE_SMTP_SECURITY="none",
                  BACKOFFICE_SMTP_TIMEOUT_SECONDS="5", BACKOFFICE_CONTACT_MATRIX=str(matrix),
                  BACKOFFICE_MAIL_DOMAIN=DOMAIN)  # fmt: skip
    logs = tmp_path / "logs"
    received = server.inbox.messages
    with server:
        runs = kill_while_sending(env, logs, random.Random(SEEDS[backend]), received)
        last = run(ARGS, env, logs)
    assert last.returncode == 0, last.describe()
    assert json.loads(last.stdout) == {
        "events_read": 0, "sent": 0, "failed": 0, "stopped_by": None, "moved_on": False
    }  # fmt: skip
    assert not any("Traceback" in r.stderr for r in [*runs, last])
    kills = sum(r.killed for r in runs)

    settings = load_settings(
        environ={}, data_dir=str(target.data_dir), database_url=target.database
    )
    with bootstrap(settings, clock=FixedClock(NOW)) as office:
        delivered, failures = expected_mail(office)
        recorded = Counter(
            (e.message_id, e.recipients)
            for events in case_events(office).values()
            for e in events
            if isinstance(e, MailFailed)
        )
        head = office.store.last_position()
    position = outbox_position(settings)
    try:
        assert position.position() == head
    finally:
        position.close()
    assert set(recorded) == failures
    assert set(recorded.values()) == {1}  # each refusal recorded once
    # (a Message-ID folded onto a line of its own reads back with the fold's space)
    ids = Counter(message["Message-ID"].strip() for _, message in received)
    assert set(ids) == delivered  # each expected message at least once, nothing else
    kinds = Counter(m.split(".")[0] for m in delivered)
    assert kinds == {"<missed_follow_up": CASES, "<escalation": CASES * 8 // 10,
                     "<deadline_breached": CASES}  # fmt: skip
    assert len(delivered) == MESSAGES
    assert sum(ids.values()) - len(ids) <= kills, ids.most_common(kills + 1)  # duplicates
    first: dict[str, tuple[list[str], EmailMessage]] = {}
    for rcpt, message in received:  # a message sent again is the same message
        again = (rcpt, message["Date"], message["Subject"], message.get_content())
        rcpt0, message0 = first.setdefault(message["Message-ID"].strip(), (rcpt, message))
        assert again == (rcpt0, message0["Date"], message0["Subject"], message0.get_content())
