"""`backoffice sweep` killed with SIGKILL, then run again, records what one uninterrupted sweep
records: each missed follow-up, clock warning and breach, and answer to a pending outside write
once.

Given 90 cases at 14:00 UTC on 15 July 2026 (each with a follow-up due a day later, 13 of them
already done; 30 escalated with high priority: a 24-hour clock; 18 with an adjustment
requested: its 72-hour clock warns at 48 hours; 23 with a note to RR left pending), when, 60
hours later, `backoffice sweep` (RR's gateway set, on a stub speaking docs/contracts.md) runs
uninterrupted in one back office and, in another with the same cases, is killed three times
(once the log has grown by a random number of events, a few milliseconds later; or at a random
time) and then run to its end, then the two logs hold the same events, case by case (type,
case id, version, time, actor, data: the clock is fixed); a further sweep records nothing; the
case index is what a rebuild gives.

Pending markings (a write whose answer is followed by more on the case: the typification with
RR's CUN and the PQR's clock, `application.case.outside.what_follows`) are the second test's, which
kills the sweep right after it stored RR's answer. The sweep used to record the answer and what
follows in two appends: a kill between them lost the typification for good (found here, with
15 such markings among the cases above, within the first few runs of random kills; the test
failed). Both now go in one append.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path

import pytest

from adapters.clock import FixedClock
from adapters.systems.memory import InMemoryAccounts
from application.case.outside import OutsideSystems, OutsideWriter
from application.jobs.sweep import settle_writes
from application.ports.cases import AnyEvent, LoggedEvent
from application.service import Backoffice
from domain.case import outside
from domain.case.events import CaseEvent, OutsideWriteAnswered
from domain.case.state import CaseState
from domain.values import Actor, Category, EscalationTarget, NoteFolder, Priority, Subcategory
from tests.conftest import T0, record
from tests.faults.conftest import NewTarget
from tests.faults.harness import (
    LogLength,
    Started,
    Target,
    Trigger,
    after,
    case_events,
    cli_env,
    described,
    differences,
    index_and_rebuilt,
    killed_runs,
    opened,
    run,
    version_problems,
)
from tests.integration.test_system_contracts import fresh_record
from tests.stub_systems import Stub, serve

CASES = 90
KILLS = 3
SEEDS = {"sqlite": 7301, "postgres": 7302}
NOW = T0 + timedelta(hours=60)
AGENT = Actor.agent("sofia.t")
CUN_MARKING = "PQR-FACT"
SWEPT = 148 + 15 * 3  # with the 15 markings: each answer, typification and PQR clock
"""Events one sweep records here (counted below, kind by kind)."""


def pending_note(n: int) -> bool:
    return n % 4 == 1


def pending_marking(n: int) -> bool:
    return n % 6 == 2


def sweep_world(target: Target, cases: range = range(CASES), *, markings: bool = True) -> None:
    """The cases of the module's docstring, as they stand at T0 (without the pending
    markings when `markings` is false)."""
    with opened(target, T0) as office:
        office.ingest([record(f"S{n}") for n in cases])  # follow-ups due T0 + 1 day
        for n in cases:
            key = f"S{n}"
            if n % 7 == 0:
                office.complete_follow_up(key, outcome="llamada hecha", actor=AGENT)
            if n % 3 == 0:
                office.escalate(key, target=EscalationTarget.CONTACT_MATRIX_AREA,
                                area="Facturación", reason="Cobro no reconocido",
                                priority=Priority.HIGH, actor=AGENT)  # fmt: skip
            if n % 5 == 0 or pending_marking(n):
                office.interpret(key, category=Category.SAC, subcategory=Subcategory.FACTURACION,
                                 actor=AGENT)  # fmt: skip
            if n % 5 == 0:
                office.request_adjustment(key, ticket=f"DIME-{n:06d}", actor=AGENT)
            if pending_note(n):
                leave_pending(office, key, "add_note", {"account": f"ACC-{key}",
                              "text": f"Cliente llamó ({n})",
                              "folder": NoteFolder.RR_NOTES.value})  # fmt: skip
            elif pending_marking(n) and markings:
                leave_pending(office, key, "register_marking", {"account": f"ACC-{key}",
                              "code": CUN_MARKING, "notes": f"Tipificación {CUN_MARKING}",
                              "round": "0"})  # fmt: skip


def leave_pending(office: Backoffice, key: str, operation: str, params: dict[str, str]) -> None:
    """A command asked RR for this and died before RR answered: the write is left pending."""
    canonical = outside.as_params(params)

    def decide(state: CaseState) -> list[CaseEvent]:
        return outside.request_write(
            state, system="RR", operation=operation, params=canonical, actor=AGENT, at=T0
        )

    office.execute(office.resolve(key), decide)


def rr(cases: range = range(CASES)) -> InMemoryAccounts:
    """RR as the stub serves it: the cases' accounts; a PQR marking files a CUN."""
    accounts = InMemoryAccounts(cun_markings=frozenset({CUN_MARKING}), clock=FixedClock(NOW))
    for n in cases:
        accounts.accounts[f"ACC-S{n}"] = fresh_record()
    return accounts


@pytest.fixture
def rr_url() -> Iterator[str]:
    """One RR for both back offices: a write's key is the same in both (it is derived from
    the case and the request), so RR answers each the same."""
    stub = Stub()
    stub.accounts = rr()
    with serve(stub) as url:
        yield url


def test_a_sweep_killed_at_random_moments_ends_as_one_uninterrupted_sweep(
    backend: str, new_target: NewTarget, tmp_path: Path, rr_url: str
) -> None:
    rng = random.Random(SEEDS[backend])
    reference, killed = new_target("reference"), new_target("killed")
    sweep_world(reference)
    logs = tmp_path / "logs"
    args = ["sweep", "--worker", "sweeper", "--json"]
    uninterrupted = Started(args, cli_env(reference, NOW, BACKOFFICE_RR_URL=rr_url), logs)
    sweep_world(killed)
    env = cli_env(killed, NOW, BACKOFFICE_RR_URL=rr_url)
    length = LogLength(killed)
    start = length()

    def trigger(n: int, seconds: float) -> Trigger:
        now_at = length()
        left = start + SWEPT - now_at
        if n % 2 or left <= 0:
            return after(rng.uniform(0.3, 0.8) * seconds)
        # once the sweep has recorded some more, a few milliseconds later
        return length.reaches(now_at + rng.randint(1, max(1, left // 2)), rng.uniform(0, 0.01))

    try:
        runs = killed_runs(args, env, logs, kills=KILLS, trigger=trigger, measure=length,
                           typical=uninterrupted.seconds)  # fmt: skip
    finally:
        length.close()
        whole = uninterrupted.finish()
    assert whole.returncode == 0, whole.describe()
    with opened(reference, NOW) as office:
        expected = case_events(office)
    kinds = Counter(type(e).__name__ for events in expected.values() for e in events
                    if e.timestamp == NOW)  # fmt: skip
    assert kinds == {
        "FollowUpMissed": CASES - 13, "ClockBreached": 30, "ClockWarned": 18,
        "OutsideWriteAnswered": 23 + 15,  # notes and markings; a marking's answer brings its
        "Typified": 15, "ClockStarted": 15,  # typification with the CUN, and the PQR's clock
    }, kinds  # fmt: skip
    assert sum(kinds.values()) == SWEPT
    said = described(runs, f"events in the log after it ({start} before, {start + SWEPT} after):")
    assert sum(r.killed for r, _ in runs) == KILLS, said
    assert all(r.killed or r.returncode == 0 for r, _ in runs), said
    # at least one kill came between the sweep's first write and its last
    assert any(r.killed and start < n < start + SWEPT for r, n in runs), said
    done = run(args, env, logs)
    assert done.returncode == 0, done.describe()

    with opened(killed, NOW) as office:
        actual = case_events(office)
        position = office.store.last_position()
    assert version_problems(actual) == []
    assert differences(expected, actual) == []

    again = run(args, env, logs)
    assert again.returncode == 0, again.describe()
    with opened(killed, NOW) as office:
        assert office.store.last_position() == position  # nothing more to record
        caught_up, rebuilt = index_and_rebuilt(office)
    assert caught_up == rebuilt


class Killed(BaseException):
    """The process dies here: nothing any layer catches."""


def test_a_sweep_killed_between_an_answer_and_what_follows_from_it(
    backend: str, new_target: NewTarget
) -> None:
    cases = range(2, 3)  # one case, with a PQR marking pending in RR
    reference, killed = new_target("reference"), new_target("killed")
    sweep_world(reference, cases)
    sweep_world(killed, cases)
    systems = OutsideSystems(rr=rr(cases))
    with opened(reference, NOW) as office:
        settle_writes(office, OutsideWriter(office, systems), worker="sweeper")
        expected = case_events(office)
    assert any(type(e).__name__ == "Typified" for e in next(iter(expected.values())))

    with opened(killed, NOW) as office:
        store_append = office.store.append

        def dies_after_the_answer(events: Sequence[AnyEvent]) -> Sequence[LoggedEvent]:
            logged = store_append(events)
            if any(isinstance(e, OutsideWriteAnswered) for e in events):
                raise Killed  # the process dies once RR's answer is stored
            return logged

        office.store.append = dies_after_the_answer  # type: ignore[method-assign]
        with pytest.raises(Killed):
            settle_writes(office, OutsideWriter(office, systems), worker="sweeper")
    with opened(killed, NOW) as office:  # the sweep runs again
        settle_writes(office, OutsideWriter(office, systems), worker="sweeper")
        actual = case_events(office)
    assert differences(expected, actual) == []
