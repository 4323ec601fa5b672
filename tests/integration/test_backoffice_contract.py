"""One contract for the event store and the case index, run on memory, SQLite and PostgreSQL."""

from __future__ import annotations

import threading
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.clock import FixedClock
from adapters.eventstore.postgres_recorder import BulkPostgresApplicationRecorder
from adapters.eventstore.store import EventSourcedCaseStore
from application.intake.ingestion import ingested_from
from application.ports.cases import CaseQuery, ConcurrencyConflict
from application.service import AmbiguousReference, Backoffice
from domain.case import decisions
from domain.case.events import Assigned, Ingested, Interpreted, NoteAdded, RepeatContactRecorded
from domain.case.state import CaseState
from domain.errors import CaseClosed, CaseNotFound
from domain.indicators.facts import Period
from domain.team import roster
from domain.values import (
    Actor,
    CaseStatus,
    Category,
    Channel,
    Resolution,
    SourceKey,
    Subcategory,
)
from entrypoints.bootstrap import bootstrap
from entrypoints.settings import load_settings
from tests.conftest import T0, close_case, record

AGENT = Actor.agent("maria.b")


def test_intake_is_idempotent_on_the_source_key(office: Backoffice) -> None:
    records = [record(f"K{i}") for i in range(5)]
    first = office.ingest(records)
    again = office.ingest(records)
    assert (first.created, first.already_known) == (5, 0)
    assert (again.created, again.already_known) == (0, 5)
    assert office.count() == 5
    assert office.store.last_position() == 5


def test_same_account_and_typification_while_open_is_a_repeat_contact(office: Backoffice) -> None:
    report = office.ingest(
        [
            record("K1", account="777"),
            record("K2", account="777"),
            record("K3", account="777", typification="Otra"),
        ]
    )
    assert (report.created, report.repeat_contacts) == (2, 1)
    case = office.case("K1")
    assert case.repeat_contacts == (SourceKey(Channel.CRM, "K2"),)
    assert office.resolve("K2") == case.case_id  # the repeat key finds its case
    again = office.ingest([record("K2", account="777")])
    assert (again.created, again.repeat_contacts, again.already_known) == (0, 0, 1)


def test_a_case_can_be_read_now_at_a_version_and_as_of_a_moment(
    office: Backoffice, clock: FixedClock
) -> None:
    office.ingest([record("K1")])
    clock.advance(timedelta(hours=1))
    office.assign("K1", agent="maria.b", actor=AGENT)
    clock.advance(timedelta(hours=1))
    office.interpret("K1", category=Category.SAC, subcategory=Subcategory.CARTERA, actor=AGENT)

    assert office.case("K1").version == 3
    assert office.case("K1", version=2).category is None
    assert office.case("K1", version=2).agent == "maria.b"
    as_of = office.case("K1", as_of=T0 + timedelta(minutes=90))
    assert (as_of.version, as_of.agent, as_of.category) == (2, "maria.b", None)
    with pytest.raises(CaseNotFound):
        office.case("K1", as_of=T0 - timedelta(seconds=1))
    history = office.history("K1")
    assert [type(e) for e in history] == [Ingested, Assigned, Interpreted]
    assert [e.actor for e in history][1:] == [AGENT, AGENT]


def test_references_accept_the_case_id_the_key_and_channel_key(office: Backoffice) -> None:
    office.ingest([record("K1")])
    case_id = SourceKey(Channel.CRM, "K1").case_id()
    assert office.resolve("K1") == office.resolve("crm:K1") == office.resolve(str(case_id))
    with pytest.raises(CaseNotFound):
        office.resolve("nope")
    with pytest.raises(CaseNotFound):
        office.resolve("email:K1")


def test_the_global_log_is_read_in_order_from_a_position(office: Backoffice) -> None:
    office.ingest([record(f"K{i}") for i in range(3)])
    office.add_note("K0", text="nota", actor=AGENT)
    log = office.store.read_log(0, 10)
    assert [entry.position for entry in log] == sorted(entry.position for entry in log)
    assert len(log) == 4
    assert isinstance(log[-1].event, NoteAdded)
    tail = office.store.read_log(log[1].position, 10)
    assert [e.position for e in tail] == [e.position for e in log[2:]]
    assert office.store.last_position() == log[-1].position


def test_a_stale_append_conflicts_and_commands_retry_after_reloading(office: Backoffice) -> None:
    office.ingest([record("K1")])
    case_id = office.resolve("K1")
    stale = office.store.load(case_id)
    assert stale is not None
    office.add_note(case_id, text="primera", actor=AGENT)
    with pytest.raises(ConcurrencyConflict):
        office.store.append(decisions.add_note(stale, text="tarde", actor=AGENT, at=T0))

    original_load = office.store.load
    raced = threading.Event()

    def load_then_race(case_id: uuid.UUID, *, version: int | None = None) -> CaseState | None:
        state = original_load(case_id, version=version)
        if not raced.is_set():
            raced.set()  # someone else writes between our load and our append
            assert state is not None
            office.store.append(decisions.add_note(state, text="otro", actor=AGENT, at=T0))
        return state

    office.store.load = load_then_race  # type: ignore[method-assign]
    result = office.add_note(case_id, text="mía", actor=AGENT)
    office.store.load = original_load  # type: ignore[method-assign]
    assert result.case.version == 4
    assert [e.text for e in office.history(case_id) if isinstance(e, NoteAdded)] == [
        "primera",
        "otro",
        "mía",
    ]


def test_the_case_list_filters_and_tracks_follow_ups_and_closing(
    office: Backoffice, clock: FixedClock
) -> None:
    office.ingest([record("K1"), record("K2", follow_up_at=None), record("K3")])
    office.assign("K1", agent="maria.b", actor=AGENT)
    office.interpret("K1", category=Category.SAC, subcategory=Subcategory.RECAUDO, actor=AGENT)
    assert [c.source.key for c in office.cases(CaseQuery(agent="maria.b"))] == ["K1"]
    assert [c.source.key for c in office.cases(CaseQuery(category=Category.SAC))] == ["K1"]
    due = office.due_follow_ups(T0 + timedelta(days=2))
    assert sorted(d.source.key for d in due) == ["K1", "K3"]
    assert office.due_follow_ups(T0) == []
    mine = office.due_follow_ups(T0 + timedelta(days=2), agent="maria.b")  # her call list
    assert [d.source.key for d in mine] == ["K1"]
    assert office.due_follow_ups(T0 + timedelta(days=2), agent="carlos.m") == []

    clock.set(T0 + timedelta(days=1))
    office.complete_follow_up("K1", outcome="Pago confirmado", actor=AGENT)
    office.typify("K1", marking_code="REC-01", resolution=Resolution.FIRST_CONTACT, actor=AGENT)
    office.complete_closing_protocol(
        "K1",
        resolution_explained=True,
        nothing_else_pending=True,
        closing_script_read=True,
        survey_invited=True,
        actor=AGENT,
    )
    office.close_case("K1", summary="Pago aplicado", first_contact=True, actor=AGENT)
    assert [d.source.key for d in office.due_follow_ups(T0 + timedelta(days=2))] == ["K3"]
    closed = office.cases(CaseQuery(status=CaseStatus.CLOSED))
    assert [c.source.key for c in closed] == ["K1"]
    assert office.count(CaseQuery(status=CaseStatus.OPEN)) == 2
    with pytest.raises(CaseClosed):
        office.add_note("K1", text="x", actor=AGENT)
    # A new contact for a closed case's account and typification opens a new case.
    report = office.ingest([record("K9", account="ACC-K1")])
    assert report.created == 1
    office.reopen("K1", reason="Cliente insatisfecho", actor=AGENT)
    report = office.ingest([record("K10", account="ACC-K1")])
    assert report.repeat_contacts == 1


def test_the_index_rebuilds_from_zero_to_the_same_rows(office: Backoffice) -> None:
    office.ingest([record(f"K{i}", account=str(i % 4)) for i in range(12)])
    office.assign("K0", agent="juan.r", actor=AGENT)
    before = office.cases(CaseQuery(limit=100))
    office.index.reset()
    assert office.index.position() == 0
    assert office.cases(CaseQuery(limit=100)) == before
    with pytest.raises(ConcurrencyConflict, match="already at or past position 1"):
        office.index.project(office.store.read_log(0, 1))  # already applied: refused
    assert office.cases(CaseQuery(limit=100)) == before


def test_repeat_contact_events_name_the_new_source(office: Backoffice) -> None:
    office.ingest([record("K1", account="1"), record("K2", account="1")])
    events = office.history("K1")
    assert isinstance(events[-1], RepeatContactRecorded)
    assert events[-1].source == SourceKey(Channel.CRM, "K2")


def test_rerunning_a_file_after_its_case_closed_adds_only_the_new_contact(
    office: Backoffice,
) -> None:
    office.ingest([record("K1", account="5"), record("K2", account="5")])
    close_case(office, "K1")
    report = office.ingest(
        [record("K1", account="5"), record("K2", account="5"), record("K3", account="5")]
    )
    # K1 exists; K2 is already on K1's history; K3 is new and K1 is closed: a case of its own.
    assert (report.created, report.repeat_contacts, report.already_known) == (1, 0, 2)
    assert office.case("K3").is_open
    assert office.count() == 2


def test_appends_report_the_positions_the_log_gives_them(office: Backoffice) -> None:
    office.ingest([record("K1")])
    first = office.store.load(office.resolve("K1"))
    assert first is not None
    batch = [
        *decisions.add_note(first, text="uno", actor=AGENT, at=T0),
        decisions.ingest(
            source=SourceKey(Channel.PHONE, "rec-1"),
            received_at=T0,
            account="9",
            line=first.line,
            customer_name="X",
            typification="T",
            request="",
            follow_up_at=None,
            front_agent=None,
            recommended_by="vp",
            actor=AGENT,
            at=T0,
        ),
    ]
    logged = office.store.append(batch)
    assert [entry.event for entry in logged] == batch
    from_log = office.store.read_log(logged[0].position - 1, 10)
    assert [(e.position, e.event) for e in from_log] == [(e.position, e.event) for e in logged]


def test_the_case_list_row_follows_the_case(office: Backoffice, clock: FixedClock) -> None:
    office.ingest([record("K1", account="3"), record("K2", account="3")])
    clock.advance(timedelta(minutes=30))
    office.assign("K1", agent="sofia.t", actor=AGENT)
    office.interpret(
        "K1", category=Category.PQR, subcategory=Subcategory.QUEJA_RECLAMO, actor=AGENT
    )
    [row] = office.cases(CaseQuery(agent="sofia.t"))
    case = office.case("K1")
    assert (row.version, row.updated_at) == (case.version, case.updated_at) == (4, clock.now())
    assert (row.category, row.subcategory) == (Category.PQR, "queja_reclamo")
    assert row.next_follow_up_at == case.follow_ups[0].due_at


def test_with_a_catalogue_only_its_markings_are_accepted(tmp_path: Path, clock: FixedClock) -> None:
    from domain.errors import InvalidValue, RuleViolation
    from entrypoints.bootstrap import bootstrap
    from entrypoints.settings import load_settings

    root = Path(__file__).resolve().parents[2]
    settings = load_settings(
        environ={}, data_dir=str(tmp_path / "d"), markings=str(root / "examples" / "markings.toml")
    )
    with bootstrap(settings, clock=clock) as office:
        office.ingest([record("K1")])
        office.interpret("K1", category=Category.SAC, subcategory=Subcategory.FACTURACION,
                         actor=AGENT)  # fmt: skip
        with pytest.raises(InvalidValue, match="'SAC-XYZ' is not in the marking catalogue"):
            office.typify("K1", marking_code="SAC-XYZ", resolution=Resolution.FIRST_CONTACT,
                          actor=AGENT)  # fmt: skip
        with pytest.raises(RuleViolation, match="SOP-01 is for soporte cases"):
            office.typify("K1", marking_code="SOP-01", resolution=Resolution.FIRST_CONTACT,
                          actor=AGENT)  # fmt: skip
        with pytest.raises(RuleViolation, match="means first_contact, not cun"):
            office.typify("K1", marking_code="SAC-FAC-EXPL", resolution=Resolution.CUN,
                          cun="123456", actor=AGENT)  # fmt: skip
        office.typify("K1", marking_code="SAC-FAC-EXPL", resolution=Resolution.FIRST_CONTACT,
                      actor=AGENT)  # fmt: skip
        assert office.case("K1").marking_code == "SAC-FAC-EXPL"


def test_a_source_key_finds_its_case_its_repeat_contacts_and_names_every_channel_it_is_in(
    office: Backoffice,
) -> None:
    office.ingest(
        [
            record("X1", account="555"),
            record("X2", account="555"),  # a repeat contact on X1's case
            record("X3", source=SourceKey(Channel.EMAIL, "X1"), account="556"),
        ]
    )
    crm = SourceKey(Channel.CRM, "X1").case_id()
    mail = SourceKey(Channel.EMAIL, "X1").case_id()
    assert office.index.find_by_source_key("X1") == sorted([crm, mail])
    assert office.index.find_by_source_key("X2") == [crm]
    assert office.index.find_by_source_key("X9") == []
    assert office.resolve("X2") == crm
    assert office.resolve("email:X1") == mail
    with pytest.raises(AmbiguousReference, match="X1"):
        office.resolve("X1")


SQL_BACKENDS = ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.mark.parametrize("database", SQL_BACKENDS)
def test_an_index_that_also_keeps_own_keys_in_case_keys_still_finds_each_case_once(
    database: str, request: pytest.FixtureRequest, tmp_path: Path, clock: FixedClock
) -> None:
    # Indexes projected by earlier versions kept a row for each case's own key as well (the
    # SQL views only: the in-memory index was never written by them).
    url = request.getfixturevalue("postgres_url") if database == "postgres" else database
    settings = load_settings(environ={}, data_dir=str(tmp_path / "data"), database_url=url)
    with bootstrap(settings, clock=clock) as office:
        _own_keys_kept(office)


def _own_keys_kept(office: Backoffice) -> None:
    office.ingest([record("Y1")])
    case = SourceKey(Channel.CRM, "Y1").case_id()
    index: Any = office.index
    with index._transaction(commit=True) as c:
        c.execute(index._sql("INSERT INTO case_keys (source_key, case_id) VALUES (?, ?)"),
                  ("Y1", str(case)))  # fmt: skip
    assert office.index.find_by_source_key("Y1") == [case]
    assert office.resolve("Y1") == case


def test_a_large_batch_is_appended_whole_in_order_or_not_at_all(office: Backoffice) -> None:
    events = [ingested_from(record(f"B{i}", account=f"A{i}"), T0) for i in range(500)]
    logged = office.store.append(events[:300])
    assert [e.position for e in logged] == list(range(1, 301))
    # One event already stored makes the whole batch conflict: none of it is written.
    with pytest.raises(ConcurrencyConflict):
        office.store.append([*events[300:], events[0]])
    assert office.store.last_position() == 300
    from_log = office.store.read_log(0, 1_000)
    assert [(e.position, e.event) for e in from_log] == [(e.position, e.event) for e in logged]


@pytest.mark.postgres
def test_postgresql_appends_through_the_binary_array_recorder(
    postgres_url: str, tmp_path: Path
) -> None:
    settings = load_settings(environ={}, data_dir=str(tmp_path), database_url=postgres_url)
    with bootstrap(settings) as office:
        assert isinstance(office.store, EventSourcedCaseStore)
        assert isinstance(office.store.app.recorder, BulkPostgresApplicationRecorder)


def test_a_record_the_domain_refuses_is_rejected_naming_its_field_and_the_rest_kept(
    office: Backoffice,
) -> None:
    report = office.ingest([record("R1"), record("R2", account="9" * 31), record("R3")])
    assert (report.created, report.rejected_count) == (2, 1)
    [rejected] = report.rejected
    assert (rejected.location, rejected.field) == ("test:R2", "account")
    assert "at most 30 characters" in rejected.reason
    assert "9" * 31 not in str(rejected)  # the account itself is not echoed


def test_the_case_index_never_reads_the_teams_events_and_still_moves_past_them(
    office: Backoffice,
) -> None:
    office.ingest([record("T1")])
    joined = roster.enrol(
        None, agent="maria.b", team="Premium Hogar", role=roster.Role.AGENT,
        since=T0.date(), actor=AGENT, at=T0,
    )  # fmt: skip
    office.store.append(joined)
    office.ingest([record("T2", account="ACC-OTHER-2")])
    read: list[Any] = []
    read_log = office.store.read_log

    def reading(*args: Any, **kwargs: Any) -> Any:
        events = read_log(*args, **kwargs)
        read.extend(e.event for e in events)
        return events

    office.store.read_log = reading  # type: ignore[method-assign]
    office.index.reset()
    office.catch_up()
    assert office.index.position() == office.store.last_position()
    assert read
    assert not any(isinstance(e, roster.TeamEvent) for e in read)
    assert office.count() == 2


def test_the_sweep_settles_an_outside_write_left_pending_under_its_own_key(
    office: Backoffice, clock: FixedClock
) -> None:
    """Given a PQR marking RR applied but whose answer never reached the case, when the sweep
    runs past the settling delay, then the case records RR's first answer, once; RR holds one
    marking; the agent's next attempt applies it without writing again."""
    from adapters.systems.memory import InMemoryAccounts
    from application.case.outside import Operation, OutsideSystems, OutsideWriter
    from application.case.typification import Typification
    from application.jobs.sweep import SETTLE_WRITES_AFTER, settle_writes
    from application.ports.systems import SystemUnavailable
    from domain.case.state import WriteStatus
    from tests.integration.test_system_contracts import fresh_record

    rr = InMemoryAccounts(cun_markings=frozenset({"PQR-FACT"}), clock=clock)
    rr.accounts["ACC-K1"] = fresh_record()
    writer = OutsideWriter(office, OutsideSystems(rr=rr))
    office.ingest([record("K1")])
    office.interpret("K1", category=Category.SAC, subcategory=Subcategory.FACTURACION, actor=AGENT)
    typification = Typification(office, writer)
    rr.script.fail_after(Operation.REGISTER_MARKING, SystemUnavailable("RR", "x", "timeout"))
    with pytest.raises(SystemUnavailable):
        typification.register(office.case("K1"), marking="PQR-FACT", notes="queja", actor=AGENT)
    [pending] = office.case("K1").pending_writes
    assert settle_writes(office, writer).settled == 0  # too early: the command may be running

    rr.script.fail(Operation.REGISTER_MARKING, SystemUnavailable("RR", "x", "down"))
    clock.advance(SETTLE_WRITES_AFTER + timedelta(seconds=1))
    version = office.case("K1").version
    report = settle_writes(office, writer)
    assert (report.settled, report.still_pending) == (0, 1)
    assert office.case("K1").version == version  # a system still down adds nothing

    report = settle_writes(office, writer)
    assert (report.settled, report.still_pending) == (1, 0)
    [write] = office.case("K1").outside_writes
    assert (write.key, write.status) == (pending.key, WriteStatus.ANSWERED)
    assert settle_writes(office, writer).settled == 0  # nothing left
    assert rr.script.writes == 1

    result = typification.register(office.case("K1"), marking="PQR-FACT", notes="queja",
                                   actor=AGENT)  # fmt: skip
    assert result.case.cun == dict(write.result)["cun"]
    assert rr.script.writes == 1


def test_a_re_exported_case_with_a_corrected_typification_stays_its_own_case(
    office: Backoffice,
) -> None:
    """Issue: the same CRM key with a corrected typification became a repeat contact on
    another case (its key then named two cases, the contact counted twice, a re-run added
    events). Given K1 and K2 of one account, when K1 comes again typified as K2, then it is
    known (said, not re-applied), its key names one case, and a re-run adds nothing."""
    office.ingest([record("K1", account="900", typification="Factura"),
                   record("K2", account="900", typification="Factura corregida")])  # fmt: skip
    last = office.store.last_position()
    again = record("K1", account="900", typification="Factura corregida")
    report = office.ingest([again])
    assert (report.created, report.repeat_contacts, report.already_known) == (0, 0, 1)
    [differs] = report.differing
    assert differs.field == "typification"
    assert office.store.last_position() == last  # nothing recorded
    assert office.case("K1").typification == "Factura"  # `case show K1`: one case
    assert office.case("K2").repeat_contacts == ()
    assert office.ingest([again]).already_known == 1
    assert office.store.last_position() == last


@pytest.mark.postgres
def test_a_process_keeps_a_few_postgresql_connections(
    postgres_url: str, clock: FixedClock, tmp_path: Path
) -> None:
    """Issue: 18–24 connections per process (eager pools of 5) filled a default server with
    four or five processes. Now four pools of one connection (the log, the case index, the
    indicators, the outbox's position), each growing by at most two under load."""
    import psycopg

    from entrypoints.bootstrap import build_outbox

    def connections() -> int:
        with psycopg.connect(postgres_url.rsplit("/", 1)[0] + "/postgres") as admin:
            row = admin.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = %s",
                (postgres_url.rsplit("/", 1)[1],),
            ).fetchone()
            assert row is not None
            return int(row[0])

    settings = load_settings(environ={}, data_dir=str(tmp_path), database_url=postgres_url)
    with bootstrap(settings, clock=clock) as office:
        office.ingest([record("K1")])
        office.indicators(Period(T0 - timedelta(days=1), T0 + timedelta(days=1)))
        box = build_outbox(office, settings)
        try:
            box.process()
            assert connections() <= 8  # was 18–24
        finally:
            box.close()
    bigger = load_settings(environ={"BACKOFFICE_POSTGRES_POOL_SIZE": "3"}, data_dir=str(tmp_path),
                           database_url=postgres_url)  # fmt: skip
    assert bigger.store_env()["POSTGRES_POOL_SIZE"] == "3"
