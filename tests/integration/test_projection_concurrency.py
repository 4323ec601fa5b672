"""Several processes catching the case index up at once on PostgreSQL (issue: 0–4 deadlocks a
run; commands and sweeps failed). Given a log of many cases, when six projectors with their
own connections and different batch sizes catch up together, then none fails and the index is
what one catch-up alone gives."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest

from adapters.clock import FixedClock
from application.ports import CaseQuery
from domain import decisions
from domain.events import CaseEvent
from domain.state import fold
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
