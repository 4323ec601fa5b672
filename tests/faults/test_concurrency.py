"""Many `backoffice` processes at once on one PostgreSQL database: agents' commands on the same
cases, sweeps and outboxes.

Given four CRM cases at 14:00 UTC on 15 July 2026, each with a follow-up due the next day, two
of them escalated with high priority (a 24-hour clock), when three days later 8 agents' lanes
of 2 commands each (`case note`, `case assign`, `case follow-up schedule`, `case escalate`,
`case interpret`, chosen at random, on cases named by their CRM key, so that each command
catches the case index up first), 4 `backoffice sweep` and 3 `backoffice outbox` all start at
the same moment, then every process ends with exit 0 and no traceback or storage error (a
write that conflicts with another is retried by the command: `Backoffice.execute`), or with
exit 1 and a refusal the log bears out (the case already assigned to that agent, or already
interpreted so); every event a command reported
is in the log once, and the log holds nothing else from the agents; each case's versions run
1, 2, …, n; each missed follow-up and breached clock is recorded once, by one of the sweeps;
each reassignment names the agent it took the case from; after one more outbox run every
message the log calls for was delivered exactly once (one outbox sends at a time); and the
case index is what a rebuild from scratch gives, with each case at its last version.
"""

from __future__ import annotations

import json
import random
import re
import threading
import uuid
from collections import Counter
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.eventstore.mapper import TOPICS
from domain.case.events import (
    Assigned,
    CaseEvent,
    ClockBreached,
    ClockWarned,
    Escalated,
    FollowUpMissed,
    Interpreted,
)
from domain.values import Actor, Channel, EscalationTarget, Priority, SourceKey
from tests.conftest import T0, record
from tests.faults.harness import (
    ROOT,
    Run,
    Started,
    Target,
    case_events,
    cli_env,
    index_and_rebuilt,
    opened,
    run,
    version_problems,
)
from tests.serving import SmtpServer, free_port

KEYS = ("K0", "K1", "K2", "K3")
WRITERS = 8
COMMANDS = 2
SWEEPS = 4
OUTBOXES = 3
SEED = 8815
NOW = T0 + timedelta(days=3)
DOMAIN = "faults.example.co"
AGENT = Actor.agent("maria.b")
REFUSAL = re.compile(r"^error: the case is already (assigned to|interpreted as) \S+$", re.M)
"""The one-line refusals of a rule of the case (exit 1) these commands may meet: the same
agent or category again. Anything else (a conflict not retried, storage) fails the test."""


def command(rng: random.Random, writer: int, step: int) -> list[str]:
    key = rng.choice(KEYS)
    me = ["--as", f"agente.{writer}", "--json"]
    kind = rng.choice(("note", "assign", "follow-up", "escalate", "interpret"))
    if kind == "note":
        return ["case", "note", key, f"Nota {writer}.{step}: cliente contactado", *me]
    if kind == "assign":
        return ["case", "assign", key, f"agente.{writer}", *me]
    if kind == "follow-up":
        due = NOW + timedelta(days=1 + writer, hours=step)
        return ["case", "follow-up", "schedule", key, due.isoformat(), *me]
    if kind == "escalate":
        return ["case", "escalate", key, "contact_matrix_area", "--area", "Facturación",
                "--reason", f"Escalamiento {writer}.{step}", "--priority", "high",
                *me]  # fmt: skip
    return ["case", "interpret", key, "sac", "facturacion", *me]


def everyone_at_once(
    lanes: list[list[list[str]]], env: dict[str, str], logs: Path
) -> tuple[list[Run], list[Run], list[Run]]:
    """The agents' lanes (each a process at a time), the sweeps and the outboxes, started
    together: the agents' runs, the sweeps' and the outboxes'."""
    written: dict[int, list[Run]] = {}
    failures: list[BaseException] = []

    def lane(writer: int) -> None:
        try:
            written[writer] = [run(args, env, logs) for args in lanes[writer]]
        except BaseException as error:  # reported below, not lost in the thread
            failures.append(error)

    threads = [threading.Thread(target=lane, args=(w,)) for w in range(len(lanes))]
    for thread in threads:
        thread.start()
    sweeps = [Started(["sweep", "--worker", f"s{n}", "--json"], env, logs) for n in range(SWEEPS)]
    outboxes = [Started(["outbox", "--json"], env, logs) for _ in range(OUTBOXES)]
    swept, sent = [s.finish() for s in sweeps], [o.finish() for o in outboxes]
    for thread in threads:
        thread.join(timeout=120)
    assert failures == []
    return [r for w in range(len(lanes)) for r in written[w]], swept, sent


def borne_out(refusal: Run, histories: dict[uuid.UUID, list[CaseEvent]]) -> bool:
    """Whether the log shows the agent or the category that the command was refused for."""
    key = refusal.args[2]
    what = list(refusal.args[3:5] if refusal.args[1] == "interpret" else refusal.args[3:4])
    recorded = [
        [e.agent] if isinstance(e, Assigned) else [e.category.value, e.subcategory.value]
        for e in histories[SourceKey(Channel.CRM, key).case_id()]
        if isinstance(e, Assigned | Interpreted)
    ]
    return what in recorded


def message_ids(histories: dict[uuid.UUID, list[CaseEvent]]) -> set[str]:
    """The Message-IDs the log calls for (docs/operations.md's form)."""
    purposes = {Escalated: "escalation", FollowUpMissed: "missed_follow_up",
                ClockBreached: "deadline_breached", ClockWarned: "deadline_warning"}  # fmt: skip
    return {
        f"<{purpose}.{e.originator_id}.{e.originator_version}@{DOMAIN}>"
        for events in histories.values()
        for e in events
        if (purpose := purposes.get(type(e)))
    }


@pytest.mark.postgres
def test_agents_sweeps_and_outboxes_at_once_on_postgresql(
    postgres_url: str, tmp_path: Path
) -> None:
    target = Target(tmp_path / "data", postgres_url)
    with opened(target, T0) as office:
        office.ingest([record(key) for key in KEYS])  # follow-ups due T0 + 1 day
        for key in KEYS[:2]:
            office.escalate(key, target=EscalationTarget.CONTACT_MATRIX_AREA,
                            area="Facturación", reason="Cobro no reconocido",
                            priority=Priority.HIGH, actor=AGENT)  # fmt: skip
    rng = random.Random(SEED)
    lanes = [[command(rng, w, s) for s in range(COMMANDS)] for w in range(WRITERS)]
    server = SmtpServer(free_port())
    env = cli_env(target, NOW, BACKOFFICE_MAILER="smtp", BACKOFFICE_SMTP_HOST="127.0.0.1",
                  BACKOFFICE_SMTP_PORT=str(server.port), BACKOFFICE_SMTP_SECURITY="none",
                  BACKOFFICE_CONTACT_MATRIX=str(ROOT / "examples" / "contact_matrix.toml"),
                  BACKOFFICE_MAIL_DOMAIN=DOMAIN)  # fmt: skip
    logs = tmp_path / "logs"
    with server:
        commands, swept, sent = everyone_at_once(lanes, env, logs)
        drain = run(["outbox", "--json"], env, logs)
    runs = [*commands, *swept, *sent, drain]
    assert [r.describe() for r in runs if "Traceback" in r.stderr] == []
    refused = [r for r in commands if r.returncode == 1 and REFUSAL.search(r.stderr)]
    assert [r.describe() for r in runs if r.returncode != 0 and r not in refused] == []
    sweeps = [json.loads(r.stdout) for r in swept]
    assert sum(s["missed"] for s in sweeps) == len(KEYS)  # each follow-up missed once
    assert sum(s["breached"] for s in sweeps) == 2  # each escalation's clock breached once
    reported: Counter[tuple[str, int, str]] = Counter()
    for r in commands:
        answer: dict[str, Any] = json.loads(r.stdout) if r not in refused else {"events": []}
        for event in answer["events"]:
            reported[(answer["case"]["case_id"], event["version"], event["event"])] += 1
    assert set(reported.values()) == {1}

    with opened(target, NOW) as office:
        histories = case_events(office)
        caught_up, rebuilt = index_and_rebuilt(office)
    assert version_problems(histories) == []
    assert [r.describe() for r in refused if not borne_out(r, histories)] == []
    by_agents = {
        (str(e.originator_id), e.originator_version, TOPICS[type(e)])
        for events in histories.values()
        for e in events
        if e.timestamp == NOW and e.actor.kind.value == "agent"
    }
    assert by_agents == set(reported)  # what the commands said they did, and nothing else
    for events in histories.values():
        missed = Counter(e.follow_up_id for e in events if isinstance(e, FollowUpMissed))
        breached = Counter(e.clock_id for e in events if isinstance(e, ClockBreached))
        assert set(missed.values()) <= {1}
        assert set(breached.values()) <= {1}
        holders = [None, *(e.agent for e in events if isinstance(e, Assigned))]
        assert [e.previous_agent for e in events if isinstance(e, Assigned)] == holders[:-1]
    ids = Counter(message["Message-ID"].strip() for _, message in server.inbox.messages)
    assert set(ids) == message_ids(histories)
    assert set(ids.values()) == {1}  # each message once
    assert caught_up == rebuilt
    last = {case: events[-1].originator_version for case, events in histories.items()}
    assert {row.case_id: row.version for row in caught_up[0]} == last
