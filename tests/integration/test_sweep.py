"""The sweep with a fixed clock, and several sweepers racing on one database."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest

from adapters.clock import FixedClock
from application.service import Backoffice
from domain.events import FollowUpMissed
from domain.state import FollowUpStatus
from domain.values import Actor, ActorKind
from entrypoints.bootstrap import bootstrap
from entrypoints.settings import load_settings
from tests.conftest import T0, record


def test_a_follow_up_is_missed_once_the_rules_say_so(office: Backoffice, clock: FixedClock) -> None:
    office.ingest([record("K1"), record("K2", follow_up_at=T0 + timedelta(days=3))])
    due = T0 + timedelta(days=1)  # K1's follow-up
    clock.set(due + timedelta(hours=23, minutes=59))
    assert office.sweep(worker="w1").missed == 0
    clock.set(due + timedelta(hours=24))
    report = office.sweep(worker="w1")
    assert (report.examined, report.missed) == (1, 1)
    assert office.sweep(worker="w2").missed == 0  # a repeated sweep records nothing
    last = office.history("K1")[-1]
    assert isinstance(last, FollowUpMissed)
    assert last.actor == Actor(ActorKind.SWEEP, "w1")
    assert office.case("K1").follow_ups[0].status is FollowUpStatus.MISSED
    assert office.case("K2").follow_ups[0].status is FollowUpStatus.PENDING
    assert [d.source.key for d in office.due_follow_ups(T0 + timedelta(days=10))] == ["K2"]


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_four_racing_sweepers_record_each_missed_follow_up_exactly_once(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = request.getfixturevalue("postgres_url") if backend == "postgres" else "sqlite"
    settings = load_settings(environ={}, data_dir=str(tmp_path / "data"), database_url=url)
    clock = FixedClock(T0)
    with bootstrap(settings, clock=clock) as office:
        office.ingest([record(f"K{i}") for i in range(40)])
    late = FixedClock(T0 + timedelta(days=3))
    offices = [bootstrap(settings, clock=late) for _ in range(4)]
    start = threading.Barrier(len(offices))
    missed: list[int] = []
    errors: list[BaseException] = []

    def run(office: Backoffice, name: str) -> None:
        try:
            start.wait()
            missed.append(office.sweep(worker=name).missed)
        except BaseException as error:  # reported below, not lost in the thread
            errors.append(error)

    threads = [threading.Thread(target=run, args=(o, f"w{i}")) for i, o in enumerate(offices)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    try:
        assert errors == []
        assert sum(missed) == 40
        log = offices[0].store.read_log(0, 1_000)
        events = [e.event for e in log if isinstance(e.event, FollowUpMissed)]
        assert len(events) == 40
        assert len({e.originator_id for e in events}) == 40
    finally:
        for office in offices:
            office.close()
