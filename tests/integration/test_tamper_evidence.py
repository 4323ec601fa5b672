"""Tamper evidence on SQLite and PostgreSQL: rows edited, removed, swapped or forged by hand in
the database are found by `audit verify` (and the worker's job); an untouched store verifies
clean, across a restart, concurrent appends and an upgrade from a store without hashes."""

from __future__ import annotations

import io
import json
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest

from adapters.clock import FixedClock
from adapters.eventstore import sqlite_recorder
from adapters.eventstore.postgres_recorder import BulkPostgresApplicationRecorder
from adapters.eventstore.sqlite_recorder import BulkSQLiteApplicationRecorder
from adapters.eventstore.store import EventSourcedCaseStore
from application.jobs.audit import AuditJob
from application.ports.cases import AuditReport, ConcurrencyConflict
from application.service import Backoffice
from domain.case.events import NoteAdded
from domain.values import Actor, NoteFolder
from entrypoints.bootstrap import bootstrap, tamper_audit
from entrypoints.cli import main
from entrypoints.settings import Settings, load_settings
from tests.conftest import T0, record

AGENT = Actor.agent("maria.b")
WIDTH = 4
"""Checkpoint width in these tests (1,000 in a real store): a few events fill several."""
LINKS = 2
"""Keys per statement of SQLite's reads of stored links in these tests (500 in a real store):
a few keys take several statements."""


@pytest.fixture(autouse=True)
def narrow_checkpoints(monkeypatch: pytest.MonkeyPatch) -> None:
    for cls in (BulkSQLiteApplicationRecorder, BulkPostgresApplicationRecorder):
        monkeypatch.setattr(cls, "checkpoint_width", WIDTH)
    monkeypatch.setattr(sqlite_recorder, "LINKS_PER_STATEMENT", LINKS)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def settings(request: pytest.FixtureRequest, tmp_path: Path) -> Settings:
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else "sqlite"
    return load_settings(environ={}, data_dir=str(tmp_path / "data"), database_url=url)


class Raw:
    """The database by hand, as someone with write access to it would edit it."""

    def __init__(self, settings: Settings) -> None:
        self.pg = settings.backend == "postgres"
        if self.pg:
            self.conn: Any = psycopg.connect(settings.database_url, autocommit=True)
            self.table, self.position = "cases_events", "notification_id"
        else:
            settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
            self.conn = sqlite3.connect(settings.data_dir / "cases.sqlite", isolation_level=None)
            self.table, self.position = "stored_events", "rowid"

    def run(self, sql: str, *params: Any) -> list[Any]:
        sql = sql.format(t=self.table, p=self.position)
        if self.pg:
            cursor = self.conn.execute(sql.replace("?", "%s"), params)
            return list(cursor.fetchall()) if cursor.description else []
        return list(self.conn.execute(sql, params).fetchall())

    def oid(self, case: uuid.UUID) -> Any:
        return case if self.pg else case.hex

    def close(self) -> None:
        self.conn.close()


@pytest.fixture
def office(settings: Settings) -> Iterator[Backoffice]:
    with bootstrap(settings, clock=FixedClock(T0)) as office:
        yield office


@pytest.fixture
def raw(settings: Settings) -> Iterator[Raw]:
    found = Raw(settings)
    yield found
    found.close()


def fill(office: Backoffice) -> list[uuid.UUID]:
    """Three cases; the first with five notes: 8 events, two checkpoints (width 4)."""
    report = office.ingest([record("T-1"), record("T-2"), record("T-3")])
    assert report.created == 3
    cases = [r.source.case_id() for r in (record("T-1"), record("T-2"), record("T-3"))]
    for n in range(5):
        office.add_note(cases[0], text=f"nota {n}", actor=AGENT)
    return cases


def verify(office: Backoffice, case: uuid.UUID | None = None) -> AuditReport:
    audit = tamper_audit(office)
    assert audit is not None
    return audit.verify_all(case)


def found(report: AuditReport) -> set[tuple[Any, Any, str]]:
    return {(f.case, f.version, f.problem) for f in report.findings}


def test_an_untouched_store_verifies_clean_and_again_after_a_restart(
    settings: Settings, office: Backoffice
) -> None:
    cases = fill(office)
    report = verify(office)
    assert report.findings == []
    assert report.rows == 8
    assert report.checkpoint == 8
    office.close()
    with bootstrap(settings, clock=FixedClock(T0)) as again:  # nothing remembered
        again.add_note(cases[1], text="después", actor=AGENT)
        again.add_note(cases[0], text="después", actor=AGENT)
        after = verify(again)
        assert after.findings == []
        assert after.rows == 10
        assert verify(again, cases[0]).findings == []


def test_an_edited_payload_is_found_with_its_case_and_version(office: Backoffice, raw: Raw) -> None:
    cases = fill(office)
    raw.run(
        "UPDATE {t} SET state = ? WHERE originator_id = ? AND originator_version = 3",
        b'{"forged": true}',
        raw.oid(cases[0]),
    )
    report = verify(office)
    assert found(report) == {(cases[0], 3, "changed")}
    assert found(verify(office, cases[0])) == {(cases[0], 3, "changed")}
    assert verify(office, cases[1]).findings == []


def test_a_removed_event_is_found(office: Backoffice, raw: Raw) -> None:
    cases = fill(office)
    raw.run("DELETE FROM {t} WHERE originator_id = ? AND originator_version = 2", raw.oid(cases[0]))
    assert (cases[0], 2, "missing") in found(verify(office))


def test_a_removed_last_event_of_a_case_is_found_by_the_checkpoint(
    office: Backoffice, raw: Raw
) -> None:
    cases = fill(office)
    # T-2's only event (position 2): no later event of the case links to it.
    raw.run("DELETE FROM {t} WHERE originator_id = ?", raw.oid(cases[1]))
    report = verify(office)
    assert [(f.case, f.problem) for f in report.findings] == [(None, "checkpoint")]
    assert "log positions 1–4" in report.findings[0].detail


def test_swapped_payloads_and_swapped_versions_are_found(office: Backoffice, raw: Raw) -> None:
    cases = fill(office)
    oid = raw.oid(cases[0])
    two, three = (
        raw.run("SELECT state FROM {t} WHERE originator_id = ? AND originator_version = ?", oid, v)[
            0
        ][0]
        for v in (2, 3)
    )
    raw.run(
        "UPDATE {t} SET state = ? WHERE originator_id = ? AND originator_version = 2", three, oid
    )
    raw.run("UPDATE {t} SET state = ? WHERE originator_id = ? AND originator_version = 3", two, oid)
    assert found(verify(office)) == {(cases[0], 2, "changed")}
    # Put them back: intact again; then swap two versions (rows keep their hashes).
    raw.run("UPDATE {t} SET state = ? WHERE originator_id = ? AND originator_version = 2", two, oid)
    raw.run(
        "UPDATE {t} SET state = ? WHERE originator_id = ? AND originator_version = 3", three, oid
    )
    assert verify(office).findings == []
    for old, new in ((4, -1), (5, 4), (-1, 5)):
        raw.run(
            "UPDATE {t} SET originator_version = ?"
            " WHERE originator_id = ? AND originator_version = ?",
            new,
            oid,
            old,
        )
    assert found(verify(office)) == {(cases[0], 4, "changed")}


def test_rows_of_two_cases_moved_in_the_log_are_found_by_the_checkpoint(
    office: Backoffice, raw: Raw
) -> None:
    fill(office)
    # Positions 1 and 2 (two cases' first events) exchange places in the global order.
    raw.run("UPDATE {t} SET {p} = 100 WHERE {p} = 1")
    raw.run("UPDATE {t} SET {p} = 1 WHERE {p} = 2")
    raw.run("UPDATE {t} SET {p} = 2 WHERE {p} = 100")
    report = verify(office)
    assert [(f.case, f.problem) for f in report.findings] == [(None, "checkpoint")]


def test_forged_rows_are_found(office: Backoffice, raw: Raw) -> None:
    cases = fill(office)
    oid = raw.oid(cases[1])
    _state, chain = raw.run(
        "SELECT state, chain FROM {t} WHERE originator_id = ? AND originator_version = 1", oid
    )[0]
    forged = b'{"text": "nota falsa"}'
    # A forged event at the end of a case, with a hash copied from another row.
    raw.run(
        "INSERT INTO {t} (originator_id, originator_version, topic, state, chain)"
        " VALUES (?, 2, 'case.note_added', ?, ?)",
        oid,
        forged,
        chain,
    )
    # Another without any hash.
    raw.run(
        "INSERT INTO {t} (originator_id, originator_version, topic, state)"
        " VALUES (?, 2, 'case.note_added', ?)",
        raw.oid(cases[2]),
        forged,
    )
    assert found(verify(office)) == {(cases[1], 2, "changed"), (cases[2], 2, "unhashed")}


def test_two_writers_on_one_case_leave_no_broken_link(
    settings: Settings, office: Backoffice
) -> None:
    cases = fill(office)
    other = EventSourcedCaseStore(settings.store_env())  # a second process's store
    try:
        mine, theirs = office.store.load(cases[2]), other.load(cases[2])
        assert mine is not None
        assert theirs is not None
        assert mine.version == theirs.version == 1

        def note(version: int, text: str) -> NoteAdded:
            return NoteAdded(
                originator_id=cases[2],
                originator_version=version,
                timestamp=T0,
                actor=AGENT,
                text=text,
                folder=NoteFolder.RR_NOTES,
            )

        office.store.append([note(2, "gana")])
        with pytest.raises(ConcurrencyConflict):
            other.append([note(2, "pierde")])
        reloaded = other.load(cases[2])  # the loser reads again and appends after the winner
        assert reloaded is not None
        assert reloaded.version == 2
        other.append([note(3, "después")])
        office.add_note(cases[2], text="y otra", actor=AGENT)  # its remembered link is stale
    finally:
        other.close()
    report = verify(office)
    assert report.findings == []
    assert report.rows == 11


def test_stored_links_read_in_batches_are_the_rows_key_by_key(office: Backoffice, raw: Raw) -> None:
    cases = fill(office)
    raw.run("DELETE FROM {t} WHERE originator_id = ? AND originator_version = 2", raw.oid(cases[0]))
    raw.run(
        "UPDATE {t} SET chain = NULL WHERE originator_id = ? AND originator_version = 4",
        raw.oid(cases[0]),
    )
    # Nine keys, five statements of two: rows, a removed row, a row without a hash, a case
    # and a version that never existed, and a key asked twice.
    first, second, third = cases
    keys = [(first, 5), (second, 1), (first, 2), (uuid.uuid4(), 1), (first, 4), (third, 1),
            (first, 1), (first, 7), (second, 1)]  # fmt: skip
    expected: dict[tuple[Any, int], bytes | None] = {}
    for oid, version in keys:
        rows = raw.run(
            "SELECT chain FROM {t} WHERE originator_id = ? AND originator_version = ?",
            raw.oid(oid),
            version,
        )
        if rows:
            expected[(oid, version)] = rows[0][0]
    stored = office.store.app.recorder.chain_stored(keys)  # type: ignore[attr-defined]
    assert stored == expected
    assert list(expected) == [(first, 5), (second, 1), (first, 4), (third, 1), (first, 1)]
    assert stored[(first, 4)] is None
    assert all(isinstance(stored[k], bytes) for k in expected if k != (first, 4))
    if not raw.pg:  # in the keys' order (PostgreSQL's answer comes in the database's)
        assert list(stored) == list(expected)
    # The new rows' check reads the links before its page: positions 5–8 (versions 3–6).
    audit = tamper_audit(office)
    assert audit is not None
    assert found(audit.verify_log(4, 100)) == {
        (first, 2, "missing"),
        (first, 4, "unhashed"),
        (first, 5, "changed"),
    }


def test_new_events_a_page_at_a_time_find_the_same_and_ask_only_for_links_before_the_page(
    office: Backoffice, raw: Raw, monkeypatch: pytest.MonkeyPatch
) -> None:
    first, second, third = fill(office)
    for n, case in enumerate((second, first, second, first)):  # 9–12: versions 2, 7, 3, 8
        office.add_note(case, text=f"más {n}", actor=AGENT)
    oid = raw.oid(first)
    # A changed payload (position 5), a removed row (7), a row without a hash (9), and a
    # broken link: a row's hash replaced by another row's (10), which the next version of
    # its case (12) no longer links to.
    raw.run(
        "UPDATE {t} SET state = ? WHERE originator_id = ? AND originator_version = 3", b"{}", oid
    )
    raw.run("DELETE FROM {t} WHERE originator_id = ? AND originator_version = 5", oid)
    raw.run(
        "UPDATE {t} SET chain = NULL WHERE originator_id = ? AND originator_version = 2",
        raw.oid(second),
    )
    raw.run(
        "UPDATE {t} SET chain = (SELECT chain FROM {t} WHERE originator_id = ?"
        " AND originator_version = 1) WHERE originator_id = ? AND originator_version = 7",
        raw.oid(third),
        oid,
    )
    recorder: Any = office.store.app.recorder  # type: ignore[attr-defined]
    asked: list[list[tuple[Any, int]]] = []

    def chain_stored(keys: list[tuple[Any, int]]) -> dict[tuple[Any, int], bytes | None]:
        asked.append(list(keys))
        answer: dict[tuple[Any, int], bytes | None] = type(recorder).chain_stored(recorder, keys)
        return answer

    monkeypatch.setattr(recorder, "chain_stored", chain_stored)
    audit = tamper_audit(office)
    assert audit is not None

    def in_pages(limit: int) -> list[tuple[Any, Any, str, Any]]:
        """The whole log `limit` rows a run, as the worker's job reads it."""
        asked.clear()
        findings: list[tuple[Any, Any, str, Any]] = []
        position = 0
        while (report := audit.verify_log(position, limit)).rows:
            findings += [(f.case, f.version, f.problem, f.position) for f in report.findings]
            position = report.position
        assert position == 12
        return findings

    expected = [
        (first, 3, "changed", 5),
        (first, 5, "missing", 8),
        (second, 2, "unhashed", 9),
        (first, 7, "changed", 10),
        (first, 8, "changed", 12),
    ]
    for limit in range(1, 13):  # every page boundary, inside the cases' versions or not
        assert in_pages(limit) == expected, limit
    # One page: only the removed row is asked for (every other predecessor is in the page).
    in_pages(12)
    assert asked == [[(first, 5)]]
    # Pages of four (positions 1–4, 5–9, 10–12): the versions before each page's first of its
    # case, and the removed one; the first page asks nothing.
    in_pages(4)
    assert asked == [[(first, 2), (first, 5)], [(first, 6), (second, 2)]]
    # A row a page: each hashed row's predecessor (the unhashed row at 9 is not linked).
    in_pages(1)
    assert asked == [[(first, v)] for v in (1, 2, 3, 5, 6)] + [[(second, 2)], [(first, 7)]]


def test_a_batch_appended_to_many_cases_links_to_the_stored_links(office: Backoffice) -> None:
    cases = fill(office)
    office.store.app.recorder.heads.forget()  # type: ignore[attr-defined]  # as a new process
    versions = {cases[0]: 7, cases[1]: 2, cases[2]: 2}
    office.store.append(  # three cases' links read from the store, in two statements
        [
            NoteAdded(
                originator_id=case,
                originator_version=version,
                timestamp=T0,
                actor=AGENT,
                text="en lote",
                folder=NoteFolder.RR_NOTES,
            )
            for case, version in versions.items()
        ]
    )
    report = verify(office)
    assert report.findings == []
    assert report.rows == 11


def test_an_old_store_is_accepted_as_the_chain_start_and_linked_to(
    settings: Settings, raw: Raw
) -> None:
    with bootstrap(settings, clock=FixedClock(T0)) as office:
        office.store.app.recorder.chain = False  # type: ignore[attr-defined]
        cases = fill(office)
    # As an older release left it: no hash column, no checkpoints.
    raw.run("DROP TABLE " + ("cases_chain_checkpoints" if raw.pg else "stored_chain_checkpoints"))
    raw.run("ALTER TABLE {t} DROP COLUMN chain")
    before = raw.run("SELECT {p}, originator_id, originator_version, state FROM {t} ORDER BY {p}")
    with bootstrap(settings, clock=FixedClock(T0)) as office:
        assert verify(office).findings == []  # accepted as the chain's start (position 8)
        office.add_note(cases[0], text="primera con hash", actor=AGENT)  # links to version 6
        assert verify(office).findings == []
    after = raw.run("SELECT {p}, originator_id, originator_version, state FROM {t} ORDER BY {p}")
    assert after[:8] == before  # history not rewritten
    with bootstrap(settings, clock=FixedClock(T0)) as office:
        oid = raw.oid(cases[0])
        # An old event of a case that has a chained event since: found.
        raw.run(
            "UPDATE {t} SET state = ? WHERE originator_id = ? AND originator_version = 2",
            b"{}",
            oid,
        )
        report = verify(office)
        assert found(report) == {(cases[0], 7, "changed")}
        assert "written without a hash" in report.findings[0].detail
        # An old event of a case never appended to since: not verifiable (documented).
        raw.run(
            "UPDATE {t} SET state = ? WHERE originator_id = ? AND originator_version = 1",
            b"{}",
            raw.oid(cases[1]),
        )
        assert found(verify(office)) == {(cases[0], 7, "changed")}


def test_audit_verify_on_the_command_line(
    settings: Settings, office: Backoffice, raw: Raw, capsys: pytest.CaptureFixture[str]
) -> None:
    cases = fill(office)
    office.close()
    args = ["--data-dir", str(settings.data_dir), "--database-url", settings.database_url]
    assert main([*args, "audit", "verify"]) == 0
    assert "intact: 8 events verified" in capsys.readouterr().out
    assert main([*args, "audit", "verify", "crm:T-1"]) == 0
    raw.run(
        "UPDATE {t} SET state = ? WHERE originator_id = ? AND originator_version = 4",
        b"{}",
        raw.oid(cases[0]),
    )
    capsys.readouterr()
    assert main([*args, "audit", "verify"]) == 6
    lines = capsys.readouterr().out.splitlines()
    assert lines == [
        f"case {cases[0]} version 4: its stored hash does not match: this event was changed, "
        "moved or replaced",
        "tampering found: 1 finding(s)",
    ]
    assert main([*args, "audit", "verify", "--json", str(cases[0])]) == 6
    data = json.loads(capsys.readouterr().out)
    assert data["intact"] is False
    assert data["findings"][0]["case"] == str(cases[0])
    assert data["findings"][0]["version"] == 4
    assert main([*args, "audit", "verify", str(cases[1])]) == 0
    assert main([*args, "audit", "verify", str(uuid.uuid4())]) == 3
    # The worker run by cron says tampering with the same exit code.
    capsys.readouterr()
    assert main([*args, "worker", "--once"]) == 6
    assert str(cases[0]) in capsys.readouterr().err


def test_the_worker_job_verifies_new_events_and_the_rounds(office: Backoffice, raw: Raw) -> None:
    from entrypoints.worker import configure_logging

    cases = fill(office)
    audit = tamper_audit(office)
    assert audit is not None
    job = AuditJob(audit, rows_per_run=5, blocks_per_run=1)
    first = job.run()
    assert first.findings == []
    assert first.new_events == 5
    assert first.position == 5
    second = job.run()
    assert second.findings == []
    assert second.position == 8
    raw.run(
        "UPDATE {t} SET state = ? WHERE originator_id = ? AND originator_version = 5",
        b"{}",
        raw.oid(cases[0]),
    )
    office.add_note(cases[1], text="nueva", actor=AGENT)
    # The changed event was verified already: the round of cases finds it within a round.
    seen: set[tuple[Any, Any, str]] = set()
    for _ in range(3):
        seen |= found(job.run())  # type: ignore[arg-type]
    assert (cases[0], 5, "changed") in seen
    assert job.position == 9

    stream = io.StringIO()
    configure_logging(stream)
    from entrypoints.worker import Worker

    worker = Worker(office, outbox=None, name="w1")  # type: ignore[arg-type]
    fields = worker.verify(whole=True)
    assert fields["findings"] == 1
    assert worker.tampering
    assert not worker.healthy
    line = json.loads(stream.getvalue().splitlines()[-1])
    assert line["level"] == "error"
    assert line["job"] == "audit"
    assert line["first_findings"] == [
        f"case {cases[0]} version 5: its stored hash does not match: this event was changed, "
        "moved or replaced"
    ]
