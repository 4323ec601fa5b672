"""The sweep with a fixed clock, and several sweepers racing on one database."""

from __future__ import annotations

import threading
from datetime import timedelta
from pathlib import Path

import pytest

from adapters.clock import FixedClock
from application.service import Backoffice
from domain.case.events import FollowUpMissed
from domain.case.state import FollowUpStatus
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


def test_a_case_walks_through_a_missed_follow_up_a_warned_and_a_breached_deadline(
    tmp_path: Path,
) -> None:
    from adapters.mail.directory import ContactDirectory
    from adapters.tracking import TrackedPosition
    from application.jobs.mail import Delivery, OutgoingMail
    from application.jobs.outbox import Outbox
    from domain.values import Category, Resolution, Subcategory

    class Recorder:
        def __init__(self) -> None:
            self.sent: list[OutgoingMail] = []

        def send(self, mail: OutgoingMail, *, sender: str) -> Delivery:
            self.sent.append(mail)
            return Delivery()

    settings = load_settings(environ={}, data_dir=str(tmp_path / "data"))
    clock = FixedClock(T0)
    mailer = Recorder()
    directory = ContactDirectory({}, ("supervision@almacontact.example.co",), "example.co")
    agent = Actor.agent("sofia.t")
    with bootstrap(settings, clock=clock) as office:
        outbox = Outbox(
            office, mailer, directory, TrackedPosition(settings.tracking_env("Outbox"), "Outbox"),
            sender="backoffice@example.co", domain="test.local",
        )  # fmt: skip

        def sweep_and_mail(at: timedelta) -> None:
            clock.set(T0 + at)
            for _ in range(2):  # twice: the second pass must find nothing new
                office.sweep(worker="w1")
                outbox.process()

        office.ingest([record("K1")])  # follow-up due T0 + 1 day
        office.assign("K1", agent="sofia.t", actor=agent)
        office.interpret("K1", category=Category.PQR, subcategory=Subcategory.QUEJA_RECLAMO,
                         actor=agent)  # fmt: skip
        office.typify("K1", marking_code="PQR-1", resolution=Resolution.CUN,
                      cun="4436-26-0000077", actor=agent)  # fmt: skip
        pqr = office.case("K1").clocks[0]
        sweep_and_mail(timedelta(days=2))  # the follow-up is missed
        clock.set(pqr.warn_at)  # type: ignore[arg-type]
        for _ in range(2):
            office.sweep(worker="w2")
            outbox.process()
        clock.set(pqr.due_at + timedelta(minutes=1))
        for _ in range(2):
            office.sweep(worker="w3")
            outbox.process()
        outbox.close()
        kinds = [type(e).__name__ for e in office.history("K1")]
    assert kinds.count("FollowUpMissed") == 1
    assert kinds.count("ClockWarned") == 1
    assert kinds.count("ClockBreached") == 1
    assert [m.purpose for m in mailer.sent] == [
        "missed_follow_up", "deadline_warning", "deadline_breached",
    ]  # fmt: skip
    assert mailer.sent[1].recipients == ("sofia.t@example.co",)
    assert mailer.sent[2].recipients == ("sofia.t@example.co", "supervision@almacontact.example.co")
    assert "silencio administrativo positivo" in mailer.sent[2].body
