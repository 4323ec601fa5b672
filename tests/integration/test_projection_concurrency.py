"""Several processes catching the case index up at once on PostgreSQL (issue: 0–4 deadlocks a
run; commands and sweeps failed). Given a log of many cases, when six projectors with their
own connections and different batch sizes catch up together, then none fails and the index is
what one catch-up alone gives."""

from __future__ import annotations

import contextlib
import threading
from datetime import timedelta
from pathlib import Path

import pytest

from adapters.clock import FixedClock
from application.ports.cases import CaseQuery
from domain.case import decisions
from domain.case.events import CaseEvent
from domain.case.state import fold
from domain.values import Actor, Category, Subcategory
from entrypoints.bootstrap import bootstrap
from entrypoints.settings import load_settings
from tests.conftest import T0, record

CASES = 300


@pytest.mark.postgres
def test_projectors_catching_up_together_neither_deadlock_nor_disagree(
    postgres_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    settings = load_settings(environ={}, data_dir=str(tmp_path), database_url=postgres_url)
    agent = Actor.agent("ana.p")
    with bootstrap(settings, clock=clock) as office:
        office.ingest([record(f"K{n}") for n in range(CASES)])
        events: list[CaseEvent] = []
        for n in range(CASES):
            state = office.case(f"K{n}")
            for step in range(8):
                at = T0 + timedelta(minutes=step)
                new = (
                    decisions.assign(state, agent=f"a{step}", actor=agent, at=at)
                    if step % 2
                    else decisions.interpret(
                        state, category=Category.SAC,
                        subcategory=(Subcategory.CARTERA, Subcategory.RECAUDO)[step // 2 % 2],
                        actor=agent, at=at,
                    )
                )  # fmt: skip
                state = fold(state, new) or state
                events.extend(new)
        office.store.append(events)
        office.index.reset()
        failures: list[BaseException] = []
        start = threading.Barrier(6)

        def project(batch: int) -> None:
            try:
                with bootstrap(settings, clock=clock) as mine:
                    start.wait()
                    mine._catch_up(mine.index, batch)
            except BaseException as error:
                failures.append(error)

        threads = [
            threading.Thread(target=project, args=(b,)) for b in (97, 250, 401, 64, 733, 128)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=120)
        assert failures == []
        assert office.index.position() == office.store.last_position()
        together = office.cases(CaseQuery(limit=CASES))
        office.rebuild("cases")
        assert office.cases(CaseQuery(limit=CASES)) == together


@pytest.mark.postgres
def test_two_projectors_locking_the_same_rows_in_crossed_orders_do_not_deadlock(
    postgres_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    """The deadlock, made to happen: a projector that read the position before another
    committed projects an overlapping range; the first takes case X's row then Y's, the second
    Y's then X's. They are held at the crossing point (a barrier between their rows). Before
    the per-view lock, PostgreSQL found a deadlock and one of them failed with it; now the
    second waits for the first, then finds the position moved on (a retryable conflict)."""
    from adapters.case_index import open_case_index
    from application.ports.cases import ConcurrencyConflict, LoggedEvent

    settings = load_settings(environ={}, data_dir=str(tmp_path), database_url=postgres_url)
    agent = Actor.agent("ana.p")
    with bootstrap(settings, clock=clock) as office:
        office.ingest([record("X", account="ACC-X-1"), record("Y", account="ACC-Y-1")])
        for key, login in (("X", "a.uno"), ("Y", "b.dos"), ("X", "c.tres")):
            office.assign(key, agent=login, actor=agent)
        log = list(office.store.read_log(0, 100))
    assert [type(e.event).__name__ for e in log][-3:] == ["Assigned"] * 3
    first, second = (open_case_index(settings.index_env()) for _ in range(2))
    try:
        first.reset()  # the office kept it up: start again, with both cases' rows only
        first.project(log[:-3])
        crossing = threading.Barrier(2, timeout=1.5)
        outcomes: dict[str, str] = {}

        def held(index: object, name: str, batch: list[LoggedEvent]) -> None:
            apply = index._apply  # type: ignore[attr-defined]
            seen: list[object] = []

            def one_row_then_wait(c: object, event: CaseEvent, cid: str) -> None:
                apply(c, event, cid)
                seen.append(event)
                if len(seen) == 1:
                    # Both hold their first row now; or the other is held before its first
                    # row (the view's lock) and waits its turn: the barrier gives up.
                    with contextlib.suppress(threading.BrokenBarrierError):
                        crossing.wait()

            index._apply = one_row_then_wait  # type: ignore[attr-defined]
            try:
                index.project(batch)  # type: ignore[attr-defined]
                outcomes[name] = "projected"
            except ConcurrencyConflict:
                outcomes[name] = "conflict"
            except Exception as error:  # a deadlock or anything else: the test shows it
                outcomes[name] = f"{type(error).__name__}: {error}"

        runs = [
            threading.Thread(target=held, args=(first, "first", log[-3:-1])),  # X, then Y
            threading.Thread(target=held, args=(second, "second", log[-2:])),  # Y, then X
        ]
        for run in runs:
            run.start()
        for run in runs:
            run.join(timeout=30)
        assert sorted(outcomes.values()) in (["conflict", "projected"], ["projected"] * 2), outcomes
    finally:
        first.close()
        second.close()
