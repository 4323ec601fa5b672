"""Personal data by reference (crypto-shredding), on SQLite and PostgreSQL: sealed per data
subject, erased by deleting the subject's keys, exported, corrected, retained, and old
stores' plain events still read."""

from __future__ import annotations

import io
import json
import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import attrs
import orjson
import psycopg
import pytest
from rich.console import Console

from adapters.clock import FixedClock
from adapters.eventstore.store import EventSourcedCaseStore
from adapters.systems.memory import InMemoryAccounts
from application.case.outside import OutsideSystems, OutsideWriter
from application.case.typification import Notes
from application.jobs.retention import RetentionJob
from application.ports.cases import CaseQuery
from application.ports.systems import SystemUnavailable
from application.privacy.subjects import Privacy
from application.service import Backoffice
from domain.calendar import BusinessCalendar
from domain.case.events import (
    ERASED,
    Ingested,
    NoteAdded,
    OutsideWriteRequested,
    PersonalDataErased,
)
from domain.case.state import CaseState, WriteStatus, fold
from domain.errors import CaseNotFound, InvalidValue
from domain.indicators.facts import Dimension, Period
from domain.values import Actor, ActorKind, EscalationTarget, NoteFolder, Priority
from entrypoints.bootstrap import bootstrap, privacy, tamper_audit
from entrypoints.cli import main
from entrypoints.indicator_tables import indicators_rows
from entrypoints.render import history_entries
from entrypoints.settings import Settings, SettingsError, load_settings
from tests.conftest import T0, close_case, record
from tests.integration.test_system_contracts import fresh_record

SUBJECT = "ACC-777"
DPO = Actor(ActorKind.SUPERVISOR, "dpo")
AGENT = Actor.agent("maria.b")


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def pd_settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else "sqlite"
    return load_settings(environ={}, data_dir=str(tmp_path / "data"), database_url=url)


@pytest.fixture
def pd_office(pd_settings: Settings, clock: FixedClock) -> Iterator[Backoffice]:
    with bootstrap(pd_settings, clock=clock) as office:
        yield office


def _privacy(office: Backoffice, settings: Settings) -> Privacy:
    return privacy(office, settings, reads=False)


def _work(office: Backoffice, clock: FixedClock) -> None:
    """A realistic handful: the subject's two cases and a repeat contact, other customers'
    cases, notes, an escalation, follow-ups, closings and a reopening."""
    office.ingest(
        [
            record("CRM-1", account=SUBJECT, customer_name="Ana Pérez", phone="3001234567"),
            record(
                "CRM-2", account=SUBJECT, typification="Cobro errado", request="Me cobran doble"
            ),
            record("CRM-3", account="ACC-888", customer_name="Luis Gómez"),
            record("CRM-4", account="ACC-999", customer_name="Eva Díaz"),
        ]
    )
    clock.advance(timedelta(hours=1))
    office.ingest([record("CRM-5", account=SUBJECT, request="Sigue sin servicio")])  # repeat
    for key in ("CRM-1", "CRM-2", "CRM-3", "CRM-4"):
        office.assign(key, agent="maria.b", actor=Actor(ActorKind.SUPERVISOR, "sup"))
    office.add_note("CRM-1", text="La cliente Ana dice que el módem parpadea", actor=AGENT)
    office.escalate(
        "CRM-1",
        target=EscalationTarget.RESPONSIBLE_AREA,
        area="Soporte",
        reason="Ana reporta caída total desde el lunes",
        priority=Priority.HIGH,
        actor=AGENT,
    )
    clock.advance(timedelta(hours=2))
    close_case(office, "CRM-2")
    close_case(office, "CRM-3")
    clock.advance(timedelta(hours=1))
    office.reopen("CRM-3", reason="El cliente llamó de nuevo", actor=AGENT)
    office.add_note("CRM-4", text="Sin novedad", actor=AGENT)
    office.catch_up()


def _week(office: Backoffice) -> dict[str, Any]:
    period = Period(
        BusinessCalendar.start_of(T0.date() - timedelta(days=2)),
        BusinessCalendar.start_of(T0.date() + timedelta(days=3)),
    )
    return {
        d.value: indicators_rows(office.indicators(period, by=d))
        for d in (Dimension.ALL, Dimension.AGENT)
    }


def _facts(state: CaseState) -> CaseState:
    """The case without its personal data and without the erasure's own trace."""
    return attrs.evolve(
        state,
        customer_name="",
        request="",
        phone=None,
        last_note=None,
        recent_notes=tuple(attrs.evolve(n, text="") for n in state.recent_notes),
        escalations=tuple(attrs.evolve(e, reason="") for e in state.escalations),
        version=0,
        updated_at=T0,
        personal_data_erased_at=None,
    )


def _stored_state(office: Backoffice, case_id: uuid.UUID) -> list[bytes]:
    store = office.store
    assert isinstance(store, EventSourcedCaseStore)
    return [bytes(row.state) for row in store.app.recorder.select_events(case_id)]


def test_personal_fields_are_stored_sealed_and_read_back(pd_office: Backoffice) -> None:
    pd_office.ingest(
        [record("CRM-1", account=SUBJECT, customer_name="Ana Pérez", phone="3001112233")]
    )
    pd_office.add_note("CRM-1", text="Ana pide llamada", actor=AGENT)
    case = pd_office.case("CRM-1")
    assert (case.customer_name, case.phone) == ("Ana Pérez", "3001112233")
    assert case.last_note == "Ana pide llamada"
    rows = _stored_state(pd_office, case.case_id)
    assert all(b"Ana" not in row for row in rows)
    ingested = orjson.loads(rows[0])
    assert ingested["account"] == SUBJECT  # the subject's id stays readable
    assert set(ingested["customer_name"]) == {"pd", "c"}
    assert ingested["typification"] == "Falla internet"  # the rest of the payload is plain
    assert orjson.loads(rows[1])["text"]["pd"] == ingested["customer_name"]["pd"]  # one key


def test_forget_erases_everywhere_and_changes_no_fact_no_clock_no_indicator(
    pd_office: Backoffice, pd_settings: Settings, clock: FixedClock
) -> None:
    _work(pd_office, clock)
    subject = _privacy(pd_office, pd_settings)
    before_states = {s.case_id: s for s in subject.cases(SUBJECT)}
    others_before = pd_office.case("CRM-3"), pd_office.case("CRM-4")
    indicators_before = _week(pd_office)
    at_ingest = T0 + timedelta(minutes=1)
    assert pd_office.case("CRM-1", as_of=at_ingest).customer_name == "Ana Pérez"

    clock.advance(timedelta(hours=1))
    report = subject.forget(
        SUBJECT, requested_by="titular (radicado 55)", reason="supresión", actor=DPO
    )

    assert (report.cases, report.keys, report.in_clear) == (2, 1, 0)
    assert report.not_purged == ()  # SQLite's logs emptied, PostgreSQL's key table vacuumed
    for case_id, before in before_states.items():
        after = pd_office.case(case_id)
        assert _facts(after) == _facts(before)  # status, clocks, follow-ups, checks: the same
        assert after.clocks == before.clocks
        assert after.version == before.version + 1
        assert (after.customer_name, after.request) == (ERASED, ERASED)
        history = pd_office.history(case_id)
        assert isinstance(history[-1], PersonalDataErased)
        assert history[-1].actor == DPO
        assert history[-1].requested_by == "titular (radicado 55)"
        texts = json.dumps([attrs.asdict(e) for e in history], default=str)
        assert "Ana" not in texts
        assert "módem" not in texts
        assert "doble" not in texts
    # A replay to before the erasure reads the fields as erased too: the key is gone.
    replay = pd_office.case("CRM-1", as_of=at_ingest)
    assert (replay.customer_name, replay.phone, replay.request) == (ERASED, ERASED, ERASED)
    assert pd_office.case("CRM-1").escalations[0].reason == ERASED
    # Other subjects keep theirs.
    assert pd_office.case("CRM-3").customer_name == "Luis Gómez"
    assert (pd_office.case("CRM-3"), pd_office.case("CRM-4")) == others_before
    # Every indicator is the same, and so after a rebuild of the projections from the log.
    assert _week(pd_office) == indicators_before
    pd_office.rebuild("indicators")
    pd_office.rebuild("cases")
    assert _week(pd_office) == indicators_before
    # The export reads erased fields and the erasure register; the key store keeps no key.
    exported = subject.export(SUBJECT)
    assert {c["customer_name"] for c in exported["cases"]} == {ERASED}
    assert "Ana" not in json.dumps(exported, ensure_ascii=False)
    [erasure] = exported["erasures"]
    assert (erasure["operator"], erasure["cases"], erasure["keys"]) == ("supervisor:dpo", 2, 1)
    assert subject.keys.live_keys(SUBJECT) == 0
    # The index no longer finds the subject by name or phone.

    assert not pd_office.cases(CaseQuery(search="Ana Pérez"))
    assert not pd_office.cases(CaseQuery(search="3001234567"))
    assert pd_office.cases(CaseQuery(search="Luis"))


def test_forget_keeps_the_log_verifiable_and_is_idempotent(
    pd_office: Backoffice, pd_settings: Settings, clock: FixedClock
) -> None:
    _work(pd_office, clock)
    subject = _privacy(pd_office, pd_settings)
    subject.forget(SUBJECT, requested_by="titular", reason="supresión", actor=DPO)
    audit = tamper_audit(pd_office)
    assert audit is not None
    report = audit.verify_all()
    assert report.findings == []
    assert report.rows > 0
    position = pd_office.store.last_position()
    again = subject.forget(SUBJECT, requested_by="titular", reason="otra vez", actor=DPO)
    assert (again.cases, again.keys) == (0, 0)
    assert pd_office.store.last_position() == position  # nothing recorded the second time
    # A later case of the same account gets a new key, and a new erasure erases it.
    pd_office.ingest(
        [record("CRM-20", account=SUBJECT, typification="Otra", customer_name="Ana P")]
    )
    assert pd_office.case("CRM-20").customer_name == "Ana P"
    assert subject.keys.live_keys(SUBJECT) == 1
    third = subject.forget(SUBJECT, requested_by="titular", reason="de nuevo", actor=DPO)
    assert third.keys == 1
    assert third.cases == 1  # the new case: nothing was written on the others since
    assert pd_office.case("CRM-20").customer_name == ERASED


@pytest.mark.parametrize("sealing", [True, False], ids=["sealed", "in-clear"])
def test_forget_again_erases_what_was_written_since_on_that_case_only(
    pd_settings: Settings, clock: FixedClock, sealing: bool
) -> None:
    settings = attrs.evolve(pd_settings, personal_data_encryption=sealing)
    with bootstrap(settings, clock=clock) as office:
        office.ingest(
            [
                record("CRM-1", account=SUBJECT, customer_name="Ana Pérez"),
                record("CRM-2", account=SUBJECT, typification="Cobro errado"),
            ]
        )
        subject = _privacy(office, settings)
        first = subject.forget(SUBJECT, requested_by="REQ-1", reason="supresión", actor=DPO)
        assert (first.cases, first.keys) == (2, 1 if sealing else 0)
        clock.advance(timedelta(minutes=5))
        office.add_note("CRM-1", text="Ana vive en la Calle 5 #10-20", actor=AGENT)
        assert office.case("CRM-1").last_note == "Ana vive en la Calle 5 #10-20"
        position = office.store.last_position()
        again = subject.forget(SUBJECT, requested_by="REQ-2", reason="supresión", actor=DPO)
        assert (again.cases, again.keys) == (1, 1 if sealing else 0)
        assert office.store.last_position() == position + 1  # on CRM-1 alone
        erased = office.case("CRM-1")
        assert erased.last_note == ERASED
        assert [n.text for n in erased.recent_notes] == [ERASED]
        assert office.cases(CaseQuery(search="Ana")) == []
        note = office.history(erased.case_id)[-2]
        # Sealed, the note's key is gone; in clear, the event keeps it and says so.
        assert isinstance(note, NoteAdded)
        assert note.text == (ERASED if sealing else "Ana vive en la Calle 5 #10-20")
        assert again.in_clear == (0 if sealing else 3)
        third = subject.forget(SUBJECT, requested_by="REQ-3", reason="supresión", actor=DPO)
        assert (third.cases, third.keys) == (0, 0)
        assert office.store.last_position() == position + 1  # nothing recorded


def test_correct_records_a_rectification_that_the_fold_and_index_apply(
    pd_office: Backoffice, pd_settings: Settings, clock: FixedClock
) -> None:
    _work(pd_office, clock)
    subject = _privacy(pd_office, pd_settings)
    with pytest.raises(InvalidValue):
        subject.correct(SUBJECT, actor=DPO)
    with pytest.raises(InvalidValue, match="phone"):
        subject.correct(SUBJECT, phone="no es un número", actor=DPO)
    report = subject.correct(
        SUBJECT, customer_name="Ana María Pérez", phone="3019998877", actor=DPO
    )
    assert report.cases == 2
    case = pd_office.case("CRM-1")
    assert (case.customer_name, case.phone) == ("Ana María Pérez", "3019998877")
    rows = _stored_state(pd_office, case.case_id)
    assert b"Mar\xc3\xada" not in rows[-1]
    assert b"3019998877" not in rows[-1]
    from application.ports.cases import CaseQuery

    assert {s.case_id for s in pd_office.cases(CaseQuery(search="Ana María"))} == {
        s.case_id for s in subject.cases(SUBJECT)
    }
    pd_office.rebuild("cases")  # the same after a rebuild
    assert len(pd_office.cases(CaseQuery(search="3019998877"))) == 2
    exported = subject.export(SUBJECT)
    assert exported["cases"][0]["recorded"][-1]["event"] == "PersonalDataCorrected"
    with pytest.raises(CaseNotFound, match="no case of that account") as missing:
        subject.correct("ACC-NOBODY", customer_name="X", actor=DPO)
    assert "ACC-NOBODY" not in str(missing.value)  # the account is never said back


def test_retention_erases_subjects_whose_cases_closed_long_ago_once(
    pd_office: Backoffice, pd_settings: Settings, clock: FixedClock
) -> None:
    _work(pd_office, clock)
    close_case(pd_office, "CRM-1")  # every case of the subject closed now
    subject = _privacy(pd_office, pd_settings)
    job = RetentionJob(subject, years=2, subjects_per_run=2)
    clock.advance(timedelta(days=365))
    assert job.run_whole()["erased"] == 0  # a year later: kept
    clock.advance(timedelta(days=2 * 365))
    fields = job.run_whole()
    assert fields["erased"] == 1  # the subject; ACC-888 has a reopened case, ACC-999 open
    assert pd_office.case("CRM-1").customer_name == ERASED
    assert pd_office.case("CRM-3").customer_name == "Luis Gómez"
    position = pd_office.store.last_position()
    assert job.run_whole()["erased"] == 0
    assert pd_office.store.last_position() == position


def test_an_event_written_before_encryption_still_reads(
    pd_settings: Settings, clock: FixedClock
) -> None:
    plain = attrs.evolve(pd_settings, personal_data_encryption=False)
    with bootstrap(plain, clock=clock) as office:
        office.ingest([record("CRM-1", account=SUBJECT, customer_name="Ana Vieja")])
        case_id = office.case("CRM-1").case_id
        assert b"Ana Vieja" in _stored_state(office, case_id)[0]
    with bootstrap(pd_settings, clock=clock) as office:  # the upgrade: nothing rewritten
        assert office.case("CRM-1").customer_name == "Ana Vieja"
        office.add_note("CRM-1", text="Nota nueva de Ana", actor=AGENT)
        rows = _stored_state(office, case_id)
        assert b"Ana Vieja" in rows[0]
        assert b"Nota nueva" not in rows[1]
        subject = _privacy(office, pd_settings)
        report = subject.forget(SUBJECT, requested_by="titular", reason="supresión", actor=DPO)
        assert (report.cases, report.keys, report.in_clear) == (1, 1, 1)
        history = office.history(case_id)
        assert isinstance(history[0], Ingested)
        assert history[0].customer_name == "Ana Vieja"  # in clear in the old event: reported
        assert office.case(case_id).customer_name == ERASED  # the case itself reads erased
        assert history[1].text == ERASED  # type: ignore[attr-defined]


def test_the_cli_forgets_exports_and_corrects_without_echoing_the_account(
    pd_settings: Settings, clock: FixedClock, tmp_path: Path, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    with bootstrap(pd_settings, clock=clock) as office:
        _work(office, clock)
    base = ["--data-dir", str(pd_settings.data_dir), "--database-url", pd_settings.database_url]
    out = tmp_path / "export.json"
    assert main([*base, "privacy", "export", SUBJECT, "--out", str(out)]) == 0
    assert json.loads(out.read_text())["cases"][0]["customer_name"] == "Ana Pérez"
    assert out.stat().st_mode & 0o077 == 0
    assert main([*base, "privacy", "export", SUBJECT, "--out", str(out)]) == 2  # exists
    assert main([*base, "privacy", "correct", SUBJECT, "--as", "dpo"]) == 2
    assert main([*base, "privacy", "correct", SUBJECT, "--as", "dpo", "--name", "Ana M"]) == 0
    monkeypatch.setattr("sys.stdin", io.StringIO(SUBJECT + "\n"))
    code = main([*base, "privacy", "forget", "-", "--requested-by", "titular", "--reason", "x",
                 "--as", "dpo"])  # fmt: skip
    assert code == 0
    assert main([*base, "privacy", "forget", "ACC-NOBODY", "--requested-by", "t", "--reason", "r",
                 "--as", "dpo"]) == 3  # fmt: skip
    assert main([*base, "privacy", "forget", SUBJECT, "--requested-by", " ", "--reason", "r",
                 "--as", "dpo"]) == 2  # fmt: skip
    assert main([*base, "audit", "verify"]) == 0
    captured = capsys.readouterr()
    assert SUBJECT not in captured.out + captured.err
    assert "ACC-NOBODY" not in captured.out + captured.err
    assert "error: no case of that account\n" in captured.err
    assert "error: --requested-by: must not be empty\n" in captured.err  # the option's name
    assert "recorded on 2 case(s), 1 key(s) deleted" in captured.out
    assert main([*base, "privacy", "export", SUBJECT]) == 0
    exported = json.loads(capsys.readouterr().out)
    assert {c["customer_name"] for c in exported["cases"]} == {ERASED}
    assert "reads" in exported
    assert main([*base, "privacy", "forget", SUBJECT, "--requested-by", "titular", "--reason",
                 "x", "--as", "dpo", "--json"]) == 0  # fmt: skip
    assert json.loads(capsys.readouterr().out) == {
        "cases": 0, "keys": 0, "in_clear": 0, "not_purged": []
    }  # fmt: skip


def test_the_demo_week_keeps_every_indicator_after_erasing_every_customer(tmp_path: Path) -> None:
    from entrypoints.demo import run_demo

    folder = run_demo(tmp_path, None, Console(file=io.StringIO(), width=160))
    settings = load_settings(environ={}, data_dir=str(folder))
    week_end = datetime(2026, 12, 4, 23, tzinfo=UTC)
    week = Period(
        BusinessCalendar.start_of(date(2026, 11, 30)),
        BusinessCalendar.start_of(date(2026, 12, 5)),
    )
    with bootstrap(settings, clock=FixedClock(week_end)) as office:
        dimensions = (Dimension.ALL, Dimension.AGENT)
        before = {d: indicators_rows(office.indicators(week, by=d)) for d in dimensions}
        subject = _privacy(office, settings)
        with sqlite3.connect(folder / "case_index.sqlite") as db:
            accounts = sorted({row[0] for row in db.execute("SELECT account FROM case_index")})
        assert len(accounts) > 5
        for account in accounts:
            subject.forget(account, requested_by="prueba", reason="todas", actor=DPO)
        assert {s.customer_name for s in map(office.case, _case_ids(folder))} == {ERASED}
        assert {d: indicators_rows(office.indicators(week, by=d)) for d in dimensions} == before
        office.rebuild("indicators")
        assert {d: indicators_rows(office.indicators(week, by=d)) for d in dimensions} == before
        audit = tamper_audit(office)
        assert audit is not None
        assert audit.verify_all().findings == []


def _case_ids(folder: Path) -> list[uuid.UUID]:
    with sqlite3.connect(folder / "case_index.sqlite") as db:
        return [uuid.UUID(row[0]) for row in db.execute("SELECT case_id FROM case_index")]


@pytest.mark.postgres
def test_postgres_keeps_the_keys_in_tables_of_its_own(
    postgres_url: str, tmp_path: Path, clock: FixedClock
) -> None:
    settings = load_settings(environ={}, data_dir=str(tmp_path), database_url=postgres_url)
    with bootstrap(settings, clock=clock) as office:
        office.ingest([record("CRM-1", account=SUBJECT)])
    with psycopg.connect(postgres_url) as db:
        [(keys,)] = db.execute("SELECT count(*) FROM cases_personal_keys").fetchall()
        [(erasures,)] = db.execute("SELECT count(*) FROM cases_personal_erasures").fetchall()
    assert (keys, erasures) == (1, 0)


def test_the_worker_runs_retention_when_set_and_logs_no_account(
    pd_settings: Settings, clock: FixedClock, caplog: pytest.LogCaptureFixture
) -> None:
    from entrypoints.bootstrap import retention_job
    from entrypoints.worker import Worker

    assert load_settings(environ={}).personal_data_retention_years is None
    years = load_settings(environ={"BACKOFFICE_PERSONAL_DATA_RETENTION_YEARS": "3"})
    assert years.personal_data_retention_years == 3
    with pytest.raises(SettingsError):  # (the line does not name it: as for every validator)
        load_settings(environ={"BACKOFFICE_PERSONAL_DATA_RETENTION_YEARS": "0"})
    settings = attrs.evolve(pd_settings, personal_data_retention_years=1)
    with bootstrap(settings, clock=clock) as office:
        _work(office, clock)
        close_case(office, "CRM-1")
        assert retention_job(office, pd_settings) is None  # not set: no job
        job = retention_job(office, settings)
        assert job is not None
        worker = Worker(office, outbox=None, name="w1", audit=None, retention=job)  # type: ignore[arg-type]
        clock.advance(timedelta(days=400))
        with caplog.at_level("INFO", logger="backoffice.worker"):
            fields = worker.retain(whole=True)
        assert (fields["job"], fields["erased"]) == ("retention", 1)
        assert office.case("CRM-2").customer_name == ERASED
        assert SUBJECT not in caplog.text


def test_text_sent_to_claros_systems_is_sealed_exported_and_erased(
    pd_office: Backoffice, pd_settings: Settings, clock: FixedClock
) -> None:
    """A note's text travels to RR in the write's parameters: sealed in the log, listed by
    the export, read as erased after `forget`; a write left pending sends the marker."""
    pd_office.ingest([record("CRM-1", account=SUBJECT, customer_name="Ana Pérez")])
    rr = InMemoryAccounts(system="RR", clock=clock)
    rr.accounts[SUBJECT] = fresh_record()
    writer = OutsideWriter(pd_office, OutsideSystems(rr=rr))
    notes = Notes(pd_office, writer)
    notes.add(pd_office.case("CRM-1"), text="Ana pide visita el martes", actor=AGENT)
    rr.script.fail("add_note", SystemUnavailable("RR", "add_note", "sin respuesta"))
    clock.advance(timedelta(minutes=5))
    with pytest.raises(SystemUnavailable):
        notes.add(pd_office.case("CRM-1"), text="Ana no estaba en casa", actor=AGENT)
    case = pd_office.case("CRM-1")
    [pending] = case.pending_writes
    assert dict(pending.params)["text"] == "Ana no estaba en casa"
    rows = _stored_state(pd_office, case.case_id)
    assert not [row for row in rows if b"Ana pide" in row or b"no estaba" in row]
    subject = _privacy(pd_office, pd_settings)
    sent = [r for r in subject.export(SUBJECT)["cases"][0]["recorded"] if "to" in r]
    assert [(r["to"], r["fields"]) for r in sent] == [
        ("RR add_note", {"text": "Ana pide visita el martes"}),
        ("RR add_note", {"text": "Ana no estaba en casa"}),
    ]

    report = subject.forget(SUBJECT, requested_by="titular", reason="supresión", actor=DPO)

    assert (report.cases, report.keys, report.in_clear) == (1, 1, 0)
    history = pd_office.history("CRM-1")
    writes = [e for e in history if isinstance(e, OutsideWriteRequested)]
    assert [dict(e.params)["text"] for e in writes] == [ERASED, ERASED]
    assert {dict(e.params)["account"] for e in writes} == {SUBJECT}  # the rest as it was
    shown = json.dumps(list(history_entries(history)), ensure_ascii=False)
    assert "Ana" not in shown
    assert ERASED in shown
    exported = json.dumps(subject.export(SUBJECT), ensure_ascii=False)
    assert "Ana" not in exported
    case = pd_office.case("CRM-1")
    assert {dict(w.params)["text"] for w in case.outside_writes} == {ERASED}
    # The write left pending is sent again under its key: RR gets the marker, not the words.
    [pending] = case.pending_writes
    writer.settle_pending(case, AGENT)
    assert rr.notes[-1] == (SUBJECT, ERASED, NoteFolder.RR_NOTES)
    assert [w.status for w in pd_office.case("CRM-1").outside_writes] == [WriteStatus.ANSWERED] * 2


def test_an_erased_case_folds_its_writes_text_as_erased_before_the_key_is_deleted(
    pd_office: Backoffice,
) -> None:
    """With personal data written in clear (before encryption), the fold still reads a
    write's free text as erased from the erasure on."""
    pd_office.ingest([record("CRM-1", account=SUBJECT)])
    case = pd_office.case("CRM-1")
    sent = OutsideWriteRequested(
        originator_id=case.case_id, originator_version=case.version + 1, timestamp=T0,
        actor=AGENT, system="RR", operation="register_marking", key="k",
        params=(("account", SUBJECT), ("code", "PQR-FACT"), ("notes", "Ana reclama")),
    )  # fmt: skip
    erased = PersonalDataErased(
        originator_id=case.case_id, originator_version=case.version + 2, timestamp=T0,
        actor=DPO, requested_by="titular", reason="supresión",
    )  # fmt: skip
    after = fold(case, [sent, erased])
    assert after is not None
    [write] = after.outside_writes
    assert write.params == (("account", SUBJECT), ("code", "PQR-FACT"), ("notes", ERASED))


class _Sqlite3:
    """The `sqlite3` module as eventsourcing's SQLite datastore sees it, with `connect`
    replaced (the rest is the module's)."""

    def __init__(self, connect: Any) -> None:
        self.connect = connect

    def __getattr__(self, name: str) -> Any:
        return getattr(sqlite3, name)


def _raw(folder: Path, name: str) -> bytes:
    """A SQLite database's bytes as on disk: the main file and its write-ahead log."""
    return b"".join(p.read_bytes() for p in (folder / name, folder / f"{name}-wal") if p.exists())


def test_forget_leaves_no_deleted_key_or_old_name_in_the_sqlite_files(
    tmp_path: Path, clock: FixedClock, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Crypto-shredding on disk: after `correct` and `forget`, neither the deleted key nor the
    customer's old name or phone is in the files' bytes (free pages, the WAL), even with an
    SQLite whose connections do not zero deleted content by default."""
    import eventsourcing.sqlite

    connect = sqlite3.connect

    def without_secure_delete(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        connection: sqlite3.Connection = connect(*args, **kwargs)
        connection.execute("PRAGMA secure_delete = 0")
        return connection

    monkeypatch.setattr(eventsourcing.sqlite, "sqlite3", _Sqlite3(without_secure_delete))
    settings = load_settings(environ={}, data_dir=str(tmp_path / "data"))
    folder = settings.data_dir
    with bootstrap(settings, clock=clock) as office:
        _work(office, clock)
        with closing(sqlite3.connect(folder / "cases.sqlite")) as db:
            [(secret,)] = db.execute(
                "SELECT secret FROM cases_personal_keys WHERE account = ?", (SUBJECT,)
            ).fetchall()
        subject = _privacy(office, settings)
        assert b"ana_perez" in _raw(folder, "case_index.sqlite")  # folded, for search
        corrected = subject.correct(SUBJECT, customer_name="Ana Paula Ruiz", actor=DPO)
        assert corrected.not_purged == ()
        index = _raw(folder, "case_index.sqlite")
        assert b"ana_perez" not in index
        assert b"ana_paula_ruiz" in index
        report = subject.forget(SUBJECT, requested_by="titular", reason="supresión", actor=DPO)
        assert report.not_purged == ()
        assert (folder / "cases.sqlite-wal").stat().st_size == 0
        cases, index = _raw(folder, "cases.sqlite"), _raw(folder, "case_index.sqlite")
        assert secret.encode() not in cases
        assert bytes.fromhex(secret) not in cases
        for old in (b"ana_paula_ruiz", b"3001234567", "Ana Pérez".encode()):
            assert old not in index
            assert old not in cases
        assert b"luis_gomez" in index  # another customer's stays


def test_a_reader_holding_the_log_leaves_it_unpurged_and_says_so(
    tmp_path: Path, clock: FixedClock
) -> None:
    settings = load_settings(environ={}, data_dir=str(tmp_path / "data"))
    with bootstrap(settings, clock=clock) as office:
        _work(office, clock)
        subject = _privacy(office, settings)
        with closing(sqlite3.connect(settings.data_dir / "case_index.sqlite")) as db:
            db.execute("BEGIN")
            db.execute("SELECT count(*) FROM case_index").fetchall()  # a snapshot held
            report = subject.forget(SUBJECT, requested_by="titular", reason="r", actor=DPO)
            assert report.not_purged == ("case_index.sqlite",)
            db.execute("COMMIT")
        assert subject.purge() == ()
