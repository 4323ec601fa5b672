"""Encryption at rest on SQLite and PostgreSQL (issue 15, point 3): with a key, no stored row of
the log or of the cached case states holds a customer's data in clear, everything reads back
and the tamper-evidence chain verifies; keys rotate without rewriting a row; a store opened
without its key, or with another key, fails in one clear line, and writes nothing; without a
key, rows are the plain JSON they always were."""

from __future__ import annotations

import io
import logging
import re
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from eventsourcing.cryptography import AESCipher
from eventsourcing.persistence import MapperDeserialisationError, PersistenceError
from eventsourcing.utils import Environment

from adapters.clock import FixedClock
from adapters.eventstore.cipher import (
    MARKER,
    NO_KEY_TO_WRITE,
    EncryptionKeyError,
    KeylessWriteRefused,
    RotatingCipher,
    key_id,
    new_key,
    read_key,
)
from application.ports.cases import CaseQuery
from application.service import Backoffice
from domain.values import Actor
from entrypoints.bootstrap import bootstrap, tamper_audit
from entrypoints.cli import main
from entrypoints.settings import Settings, SettingsError, load_settings
from tests.conftest import T0, record

AGENT = Actor.agent("maria.b")
NAME = "Zacarías Flórez Quintero"
ACCOUNT = "ACC-ZFQ-778812"
PHONE = "3105550199"
CLEAR = (NAME.encode(), ACCOUNT.encode(), PHONE.encode(), b"Falla internet")
"""What a row must not hold in clear (the name as JSON writes it: orjson keeps UTF-8)."""
KEY_1, KEY_2 = new_key(), new_key()
SAMPLE = Path(__file__).resolve().parents[2] / "examples" / "crm_export_sample.csv"
TABLES = ("events", "snapshots", "personal_keys")


class Place:
    """One store's place (a SQLite folder or a PostgreSQL database), opened with any keys, and
    its rows read by hand as anyone with access to the database files would read them."""

    def __init__(self, url: str, data_dir: Path) -> None:
        self.url, self.data_dir = url, data_dir

    def settings(self, key: str | None = None, old: str | None = None) -> Settings:
        return load_settings(
            environ={},
            data_dir=str(self.data_dir),
            database_url=self.url,
            encryption_key=key,
            encryption_old_keys=old,
        )

    def open(self, key: str | None = None, old: str | None = None) -> Backoffice:
        return bootstrap(self.settings(key, old), clock=FixedClock(T0))

    def rows(self, table: str = "events") -> list[bytes]:
        """Every stored state of the log (`events`) or of the cached states (`snapshots`), in
        order."""
        by_position = "rowid" if self.url == "sqlite" else "notification_id"
        order = by_position if table == "events" else "originator_id, originator_version"
        if self.url == "sqlite":
            conn = sqlite3.connect(self.data_dir / "cases.sqlite")
            try:
                found = conn.execute(
                    f"SELECT state FROM stored_{table} ORDER BY {order}"
                ).fetchall()
            finally:
                conn.close()
        else:
            with psycopg.connect(self.url) as pg:
                found = pg.execute(f"SELECT state FROM cases_{table} ORDER BY {order}").fetchall()
        return [bytes(state) for (state,) in found]

    def count(self, table: str) -> int:
        """The rows of the log (`events`), the cached states (`snapshots`) or the data
        subjects' keys (`personal_keys`)."""
        name = {"events": "stored_events", "snapshots": "stored_snapshots"}.get(table, "")
        if self.url == "sqlite":
            conn = sqlite3.connect(self.data_dir / "cases.sqlite")
            try:
                found = conn.execute(f"SELECT count(*) FROM {name or 'cases_' + table}")
                return int(found.fetchone()[0])
            finally:
                conn.close()
        with psycopg.connect(self.url) as pg:
            row = pg.execute(f"SELECT count(*) FROM cases_{table}").fetchone()
            assert row is not None
            return int(row[0])

    def cli(self, *args: str) -> int:
        return main(["--data-dir", str(self.data_dir), "--database-url", self.url, *args])


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def place(request: pytest.FixtureRequest, tmp_path: Path) -> Place:
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else "sqlite"
    return Place(url, tmp_path / "data")


@pytest.fixture(autouse=True)
def no_key_from_the_shell(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("BACKOFFICE_ENCRYPTION_KEY", raising=False)
    monkeypatch.delenv("BACKOFFICE_ENCRYPTION_OLD_KEYS", raising=False)


def customer_case(office: Backoffice, notes: int = 3) -> uuid.UUID:
    intake = record("Z-1", customer_name=NAME, account=ACCOUNT, phone=PHONE)
    assert office.ingest([intake]).created == 1
    case = intake.source.case_id()
    for n in range(notes):
        office.add_note(case, text=f"llamada {n}", actor=AGENT)
    return case


def long_case(office: Backoffice, notes: int) -> uuid.UUID:
    """A case read through a cached state: the store caches after a few events."""
    store: Any = office.store
    store.fold_ahead = 3
    case = customer_case(office, notes)
    assert office.case(case).customer_name == NAME  # this load folds and caches a state
    return case


def key_of(row: bytes) -> bytes:
    assert row[:2] == MARKER, row[:40]
    return row[2:6]


def assert_intact(office: Backoffice) -> None:
    audit = tamper_audit(office)
    assert audit is not None
    report = audit.verify_all(None)
    assert report.findings == []
    assert report.rows > 0


def test_with_a_key_no_row_holds_the_customer_in_clear_and_all_reads_back(place: Place) -> None:
    with place.open(KEY_1) as office:
        case = long_case(office, notes=6)
        state = office.case(case)
        history = list(office.store.history(case))
        assert_intact(office)
    events, cached = place.rows("events"), place.rows("snapshots")
    assert len(events) == 7
    assert cached, "no case state was cached"
    for row in events + cached:
        assert key_of(row) == key_id(read_key(KEY_1))
        assert not [text for text in CLEAR if text in row]
    with place.open(KEY_1) as office:  # a new process: the cached state is read and decrypted
        store: Any = office.store
        assert store.states.newest(case) is not None
        assert office.case(case) == state
        assert list(office.store.history(case)) == history
        assert state.customer_name == NAME
        assert state.account == ACCOUNT


def test_without_a_key_rows_are_plain_json_as_before(place: Place) -> None:
    with place.open() as office:
        case = long_case(office, notes=6)
        assert_intact(office)
    events, cached = place.rows("events"), place.rows("snapshots")
    assert cached
    for row in events + cached:
        assert row.startswith(b"{")
        orjson.loads(row)
    # Not personal data, so in clear without encryption at rest (the personal fields are
    # sealed one by one whether or not the whole payload is encrypted).
    assert orjson.loads(events[0])["typification"] == "Falla internet"
    with place.open() as office:
        assert office.case(case).customer_name == NAME


def test_a_new_key_encrypts_new_events_and_the_old_key_still_reads_the_old_ones(
    place: Place,
) -> None:
    with place.open(KEY_1) as office:
        case = customer_case(office, notes=2)
    before = place.rows()
    with place.open(KEY_2, old=KEY_1) as office:  # the rotation: KEY_2 newest, KEY_1 kept
        assert office.case(case).customer_name == NAME
        office.add_note(case, text="después de rotar", actor=AGENT)
        assert [e.originator_version for e in office.store.history(case)] == [1, 2, 3, 4]
        assert_intact(office)
    after = place.rows()
    assert after[: len(before)] == before  # nothing rewritten
    assert [key_of(row) for row in after] == [key_id(read_key(KEY_1))] * 3 + [
        key_id(read_key(KEY_2))
    ]
    # Without the old key the old events cannot be read: the error names the key missing.
    with place.open(KEY_2) as office, pytest.raises(MapperDeserialisationError) as raised:
        office.case(case)
    assert f"encrypted with key {key_id(read_key(KEY_1)).hex()}" in str(raised.value)
    assert "encryption_old_keys" in str(raised.value)
    assert NAME not in str(raised.value)


def test_a_clear_store_turns_encryption_on_without_rewriting_and_off_with_its_keys(
    place: Place,
) -> None:
    with place.open() as office:
        case = customer_case(office, notes=1)
    with place.open(KEY_1) as office:
        office.add_note(case, text="cifrada", actor=AGENT)
        assert len(office.store.history(case)) == 3
        assert_intact(office)
    rows = place.rows()
    assert [row[:1] for row in rows] == [b"{", b"{", MARKER[:1]]
    # Off again: new events in clear, the encrypted ones read with the key kept as an old key.
    with place.open(old=KEY_1) as office:
        office.add_note(case, text="en claro", actor=AGENT)
        assert [e.originator_version for e in office.store.history(case)] == [1, 2, 3, 4]
    assert place.rows()[-1].startswith(b"{")


def test_opening_without_the_key_or_with_another_fails_in_one_line(
    place: Place, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with place.open(KEY_1) as office:
        case = customer_case(office)
    capsys.readouterr()
    assert place.cli("case", "show", str(case)) == 5
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert "the store's events are encrypted and no encryption key is set" in lines[0]
    assert "BACKOFFICE_ENCRYPTION_KEY" in lines[0]

    monkeypatch.setenv("BACKOFFICE_ENCRYPTION_KEY", KEY_2)
    assert place.cli("case", "show", str(case)) == 5
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert f"encrypted with key {key_id(read_key(KEY_1)).hex()}" in lines[0]
    assert KEY_1 not in lines[0]
    assert KEY_2 not in lines[0]

    monkeypatch.setenv("BACKOFFICE_ENCRYPTION_KEY", KEY_1)
    assert place.cli("case", "show", str(case)) == 0
    assert NAME in capsys.readouterr().out
    # The chain is over the stored bytes: it verifies with or without the key.
    monkeypatch.delenv("BACKOFFICE_ENCRYPTION_KEY")
    assert place.cli("audit", "verify") == 0


def test_a_process_without_any_key_writes_nothing_to_an_encrypted_store(
    place: Place, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    with place.open() as office:  # a case from before encryption: it reads without a key
        before = customer_case(office, notes=1)
    with place.open(KEY_1) as office:
        office.ingest([record("Z-2")])
    assert [row[:2] == MARKER for row in place.rows()] == [False, False, True]
    counts = {table: place.count(table) for table in TABLES}
    capsys.readouterr()
    agent = ("--as", AGENT.name)
    for command in (("ingest", str(SAMPLE)), ("case", "note", str(before), "sin clave", *agent)):
        assert place.cli(*command) == 5, command
        lines = capsys.readouterr().err.strip().splitlines()
        assert lines == [f"error: storage unavailable: {NO_KEY_TO_WRITE}"], command
    assert {table: place.count(table) for table in TABLES} == counts

    # Encryption turned off on purpose: the key kept as an old key only. New events in clear,
    # the encrypted ones still read.
    monkeypatch.setenv("BACKOFFICE_ENCRYPTION_OLD_KEYS", KEY_1)
    assert place.cli("ingest", str(SAMPLE)) == 0
    assert place.cli("case", "note", str(before), "en claro", *agent) == 0
    assert place.cli("cases") == 0
    capsys.readouterr()
    added = place.rows()[counts["events"] :]
    assert len(added) > 2
    assert all(row.startswith(b"{") for row in added)
    with place.open(old=KEY_1) as office:
        assert office.case(record("Z-2").source.case_id()).account == "ACC-Z-2"
        assert [e.originator_version for e in office.store.history(before)] == [1, 2, 3]
    # The newest row in clear now: a process with no key at all writes in clear as well.
    monkeypatch.delenv("BACKOFFICE_ENCRYPTION_OLD_KEYS")
    assert place.cli("case", "note", str(before), "sin clave, en claro", *agent) == 0
    assert place.rows()[-1].startswith(b"{")


def test_a_process_without_any_key_caches_no_state_in_an_encrypted_store(place: Place) -> None:
    with place.open() as office:
        case = customer_case(office, notes=6)  # in clear, too short to cache a state
    with place.open(KEY_1) as office:
        office.ingest([record("Z-2")])
    keys = place.count("personal_keys")
    with place.open() as office:
        store: Any = office.store
        store.fold_ahead = 3
        assert office.case(case).customer_name == NAME  # read from its events in clear...
        assert place.count("snapshots") == 0  # ...and its opened state not cached in clear
        with pytest.raises(KeylessWriteRefused) as refused:
            office.add_note(case, text="sin clave", actor=AGENT)
        assert isinstance(refused.value, PersistenceError)  # told as storage unavailable
        assert str(refused.value) == NO_KEY_TO_WRITE
        assert NAME not in str(refused.value)
    assert place.count("events") == 8
    assert place.count("personal_keys") == keys
    with place.open(old=KEY_1) as office:  # turned off on purpose: cached, in clear
        store = office.store
        store.fold_ahead = 3
        assert office.case(case).customer_name == NAME
        office.add_note(case, text="en claro", actor=AGENT)
    assert [row[:1] for row in place.rows("snapshots")] == [b"{"]
    assert place.count("events") == 9


@pytest.mark.parametrize(
    ("variable", "value", "problem"),
    [
        ("BACKOFFICE_ENCRYPTION_KEY", "not a key!", "encryption_key: not base64"),
        (
            "BACKOFFICE_ENCRYPTION_KEY",
            AESCipher.create_key(16),
            "encryption_key: 16 bytes once decoded, not 32 (AES-256)",
        ),
        (
            "BACKOFFICE_ENCRYPTION_OLD_KEYS",
            f"{KEY_2}, abc",
            "encryption_old_keys (key 2): not base64",
        ),
        ("BACKOFFICE_ENCRYPTION_OLD_KEYS", KEY_1, "encryption_old_keys: the same key is given"),
    ],
)
def test_a_bad_key_is_refused_naming_its_setting_and_never_quoting_it(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    variable: str,
    value: str,
    problem: str,
) -> None:
    environ = {"BACKOFFICE_ENCRYPTION_KEY": KEY_1, variable: value}
    with pytest.raises(SettingsError, match=re.escape(problem)):
        load_settings(environ=environ, data_dir=str(tmp_path)).store_env()
    for name, text in environ.items():
        monkeypatch.setenv(name, text)
    (tmp_path / "data").mkdir()
    assert main(["--data-dir", str(tmp_path / "data"), "cases"]) == 5
    lines = capsys.readouterr().err.strip().splitlines()
    assert len(lines) == 1
    assert problem in lines[0]
    assert value.rsplit(",", maxsplit=1)[-1].strip() not in lines[0]
    assert KEY_1 not in lines[0]


def test_the_payload_is_aes_gcm_under_the_named_key_and_a_changed_byte_is_refused() -> None:
    cipher = RotatingCipher(Environment(env={"CIPHER_KEY": KEY_1}))
    sealed = cipher.encrypt(b'{"customer_name": "x"}')
    assert sealed[:2] == MARKER
    assert sealed[2:6] == key_id(read_key(KEY_1))
    plain = AESGCM(read_key(KEY_1)).decrypt(sealed[6:18], sealed[18:], None)
    assert plain == b'{"customer_name": "x"}'
    assert cipher.decrypt(sealed) == plain
    assert cipher.encrypt(b"same") != cipher.encrypt(b"same")  # a fresh nonce each time
    changed = sealed[:-1] + bytes([sealed[-1] ^ 1])
    with pytest.raises(EncryptionKeyError, match="damaged or changed"):
        cipher.decrypt(changed)
    # Without keys: clear rows pass, encrypted ones are refused saying why.
    keyless = RotatingCipher(Environment(env={}))
    assert keyless.encrypt(b'{"a": 1}') == b'{"a": 1}'
    assert keyless.decrypt(b'{"a": 1}') == b'{"a": 1}'
    with pytest.raises(EncryptionKeyError, match="no encryption key is set"):
        keyless.decrypt(sealed)


@pytest.fixture
def office_with_key(place: Place) -> Iterator[Backoffice]:
    with place.open(KEY_1) as office:
        yield office


def test_an_import_and_a_rebuild_work_on_an_encrypted_store(
    place: Place, office_with_key: Backoffice, caplog: pytest.LogCaptureFixture
) -> None:
    office = office_with_key
    records = [record(f"I-{n}", customer_name=NAME, account=f"{ACCOUNT}-{n}") for n in range(40)]
    with caplog.at_level(logging.WARNING, logger="entrypoints.index_worker"):
        # Three batches: the index worker, a process of its own, reads the log with the key.
        assert office.ingest(records, batch_size=16).created == 40
    assert not [r for r in caplog.records if r.name == "entrypoints.index_worker"]
    assert office.index.count(CaseQuery()) == 40
    office.index.reset()
    office.catch_up(batch_size=7)
    assert office.index.count(CaseQuery()) == 40
    assert not [row for row in place.rows() if NAME.encode() in row]


def test_keys_new_makes_a_key_and_keys_id_names_it(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["keys", "new"]) == 0
    printed = capsys.readouterr()
    key = printed.out.strip()
    ident = key_id(read_key(key)).hex()  # base64 of 32 bytes, or this raises
    assert printed.err.strip().startswith(f"key id {ident}:")
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{key}\n{KEY_1}, {KEY_2}\n"))
    assert main(["keys", "id"]) == 0
    assert capsys.readouterr().out.split() == [
        ident,
        key_id(read_key(KEY_1)).hex(),
        key_id(read_key(KEY_2)).hex(),
    ]
    monkeypatch.setattr("sys.stdin", io.StringIO(f"{KEY_1}\n{KEY_1[:-4]}\n"))
    assert main(["keys", "id"]) == 2
    error = capsys.readouterr().err.strip()
    assert error == "error: standard input: key 2 is 30 bytes once decoded, not 32 (AES-256)"
