"""The mapper's personal-data envelopes (`adapters.personal_keys`): sealed per field, opened
by either decoding path, erased when the key is gone, plain old payloads still read."""

from __future__ import annotations

import itertools
import sys
import threading
import uuid
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import orjson
import pytest
from eventsourcing.persistence import MapperDeserialisationError, StoredEvent

from adapters import personal_keys
from adapters.eventstore import mapper as mapper_module
from adapters.eventstore.mapper import CONVERTER, FAST_PAYLOADS, CaseEventMapper, OrjsonTranscoder
from adapters.personal_keys import (
    MemoryPersonalKeyStore,
    PersonalKeyStore,
    SqlPersonalKeyStore,
    UnknownSubject,
)
from application.ports.personal import Erasure, subject_digest
from domain.case.events import (
    ERASED,
    PERSONAL_FIELDS,
    PERSONAL_PARAMS,
    CaseEvent,
    Closed,
    Escalated,
    Ingested,
    NoteAdded,
    OutsideWriteRequested,
    RepeatContactRecorded,
)
from domain.values import (
    Actor,
    Channel,
    EscalationTarget,
    LineOfBusiness,
    NoteFolder,
    Priority,
    SourceKey,
)

CASE = uuid.UUID("00000000-0000-5000-8000-000000000001")
OTHER = uuid.UUID("00000000-0000-5000-8000-000000000002")
T0 = datetime(2026, 7, 15, 14, 0, tzinfo=UTC)
ACTOR = Actor.agent("maria.b")


def ingested(case: uuid.UUID = CASE, account: str = "ACC-1") -> Ingested:
    return Ingested(
        originator_id=case, originator_version=1, timestamp=T0, actor=ACTOR,
        source=SourceKey(Channel.CRM, f"CRM-{case.int}"), received_at=T0, account=account,
        line=LineOfBusiness.HOGAR, customer_name="Ana Pérez", typification="Falla",
        request="Sin servicio", follow_up_at=None, front_agent=None, recommended_by=None,
        phone="3001234567",
    )  # fmt: skip


def later(case: uuid.UUID = CASE) -> list[CaseEvent]:
    return [
        RepeatContactRecorded(
            originator_id=case, originator_version=2, timestamp=T0, actor=ACTOR,
            source=SourceKey(Channel.CRM, "CRM-9"), received_at=T0, request="Otra vez",
        ),
        NoteAdded(
            originator_id=case, originator_version=3, timestamp=T0, actor=ACTOR,
            text="Ana dice", folder=NoteFolder.RR_NOTES,
        ),
        Escalated(
            originator_id=case, originator_version=4, timestamp=T0, actor=ACTOR,
            escalation_id=1, target=EscalationTarget.DIME, area="Soporte", reason="Caída",
            priority=Priority.HIGH, external_reference=None,
        ),
        Closed(originator_id=case, originator_version=5, timestamp=T0, actor=ACTOR, summary="Ok"),
    ]  # fmt: skip


def sealing(keys: PersonalKeyStore | None = None) -> CaseEventMapper:
    mapper = CaseEventMapper(transcoder=OrjsonTranscoder())
    mapper.personal = keys or MemoryPersonalKeyStore()
    return mapper


def test_each_personal_field_is_an_envelope_and_the_rest_is_the_plain_payload() -> None:
    mapper = sealing()
    events = [ingested(), *later()]
    stored = mapper.to_stored_events(events)
    for event, row in zip(events, stored, strict=True):
        payload = orjson.loads(row.state)
        plain = CONVERTER.unstructure(event)
        fields = PERSONAL_FIELDS[type(event)]
        assert list(payload) == list(plain)  # same keys, same order
        for name, value in plain.items():
            if name in fields and value is not None:
                assert set(payload[name]) == {"pd", "c"}
                assert value.encode() not in row.state
            else:
                assert payload[name] == value
        assert mapper.to_domain_event(row) == event


def test_the_hand_written_paths_seal_and_open_as_the_generic_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    keys = MemoryPersonalKeyStore()
    mapper = sealing(keys)
    events = [ingested(), *later()]
    for event in events[:2]:  # the two hand-written payloads build the generic dict
        assert FAST_PAYLOADS[type(event)](event) == CONVERTER.unstructure(event)
    stored = mapper.to_stored_events(events)

    class NoCattrs:
        def structure(self, *_: Any) -> Any:
            raise AssertionError("the generic path was taken")

    with monkeypatch.context() as patch:  # the bulk events open by hand
        patch.setattr(mapper_module, "CONVERTER", NoCattrs())
        assert [mapper.to_domain_event(row) for row in stored[:4]] == events[:4]
    assert mapper.to_domain_event(stored[4]) == events[4]  # generic: Closed


def test_a_forgotten_subject_reads_erased_and_others_do_not() -> None:
    keys = MemoryPersonalKeyStore()
    mapper = sealing(keys)
    mine = mapper.to_stored_events([ingested(), *later()])
    theirs = mapper.to_stored_events([ingested(OTHER, "ACC-2")])
    erasure = Erasure(
        subject=subject_digest("ACC-1"), erased_at=T0, requested_by="titular", reason="x",
        operator="supervisor:dpo", cases=1, keys=0,
    )  # fmt: skip
    assert keys.forget("ACC-1", erasure) == 1
    first = mapper.to_domain_event(mine[0])
    assert isinstance(first, Ingested)
    assert (first.customer_name, first.request, first.phone) == (ERASED, ERASED, ERASED)
    assert first.account == "ACC-1"
    assert first.typification == "Falla"
    note = mapper.to_domain_event(mine[2])
    assert isinstance(note, NoteAdded)
    assert note.text == ERASED
    other = mapper.to_domain_event(theirs[0])
    assert isinstance(other, Ingested)
    assert other.customer_name == "Ana Pérez"
    assert keys.erasures("ACC-1")[0].keys == 1
    # A new case of the subject gets a new key.
    again = mapper.to_stored_events([ingested(uuid.uuid4(), "ACC-1")])
    assert mapper.to_domain_event(again[0]).customer_name == "Ana Pérez"
    assert keys.live_keys("ACC-1") == 1


def test_an_envelope_moved_to_another_case_or_field_does_not_open() -> None:
    mapper = sealing()
    [row] = mapper.to_stored_events([ingested()])
    payload = orjson.loads(row.state)
    payload["request"] = payload["customer_name"]
    swapped = StoredEvent(CASE, 1, row.topic, orjson.dumps(payload))
    with pytest.raises(MapperDeserialisationError, match="does not open"):
        mapper.to_domain_event(swapped)
    moved = StoredEvent(OTHER, 1, row.topic, row.state)
    with pytest.raises(MapperDeserialisationError, match="does not open"):
        mapper.to_domain_event(moved)
    payload = orjson.loads(row.state)
    payload["phone"] = {"pd": "x"}
    with pytest.raises(MapperDeserialisationError, match="not a personal-data envelope"):
        mapper.to_domain_event(StoredEvent(CASE, 1, row.topic, orjson.dumps(payload)))


def test_a_plain_old_payload_reads_as_it_is_and_encryption_off_writes_plain() -> None:
    plain = CaseEventMapper(transcoder=OrjsonTranscoder())
    [old] = plain.to_stored_events([ingested()])
    assert b"Ana P" in old.state
    assert sealing().to_domain_event(old) == ingested()
    off = sealing(MemoryPersonalKeyStore(encrypting=False))
    [row] = off.to_stored_events([ingested()])
    assert row.state == old.state
    with pytest.raises(MapperDeserialisationError, match="no key store"):
        plain.to_domain_event(sealing().to_stored_events([ingested()])[0])


def test_a_case_without_a_known_subject_is_refused_without_its_data() -> None:
    with pytest.raises(UnknownSubject, match=str(CASE)) as refused:
        sealing().to_stored_events(later())
    assert "Ana" not in str(refused.value)


def test_another_process_stops_reading_a_forgotten_key_within_the_validity(
    tmp_path: Path,
) -> None:
    env = {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": str(tmp_path / "k.db")}
    writer, reader = SqlPersonalKeyStore(env), SqlPersonalKeyStore(env)
    now = [reader.monotonic()]
    reader.monotonic = lambda: now[0]
    try:
        rows = sealing(writer).to_stored_events([ingested()])
        reading = sealing(reader)
        assert reading.to_domain_event(rows[0]).customer_name == "Ana Pérez"
        erasure = Erasure(
            subject=subject_digest("ACC-1"), erased_at=T0, requested_by="t", reason="r",
            operator="supervisor:dpo", cases=1, keys=0,
        )  # fmt: skip
        assert writer.forget("ACC-1", erasure) == 1
        assert reading.to_domain_event(rows[0]).customer_name == "Ana Pérez"  # cached
        now[0] += personal_keys.KEY_VALIDITY + 1
        assert reading.to_domain_event(rows[0]).customer_name == ERASED
        assert [e.operator for e in reader.erasures("ACC-1")] == ["supervisor:dpo"]
        assert reader.accounts_with_keys(after=None, limit=10) == []
    finally:
        writer.close()
        reader.close()


def test_a_page_of_the_log_reads_its_subjects_keys_in_one_query() -> None:
    writer = MemoryPersonalKeyStore()
    cases = [uuid.UUID(int=n) for n in range(1, 5)]
    rows = sealing(writer).to_stored_events([ingested(c, f"ACC-{c.int}") for c in cases])
    erasure = Erasure(
        subject=subject_digest("ACC-4"), erased_at=T0, requested_by="t", reason="r",
        operator="supervisor:dpo", cases=1, keys=0,
    )  # fmt: skip
    writer.forget("ACC-4", erasure)
    asked: list[list[str]] = []

    class Counting(MemoryPersonalKeyStore):
        def _fetch(self, key_ids: Sequence[str]) -> dict[str, bytes]:
            asked.append(list(key_ids))
            return super()._fetch(key_ids)

    reader = Counting()
    reader.keys = writer.keys  # another process over the same table
    reader.prefetch(row.state for row in rows)
    assert len(asked) == 1
    assert len(asked[0]) == 4
    names = [sealing(reader).to_domain_event(row).customer_name for row in rows]
    assert names == ["Ana Pérez"] * 3 + [ERASED]
    assert len(asked) == 1  # nothing fetched one by one, the forgotten key included


def write(
    case: uuid.UUID = CASE, version: int = 2, text: str = "Ana pide visita el martes"
) -> OutsideWriteRequested:
    """A note sent to RR: its text is free text from the customer."""
    return OutsideWriteRequested(
        originator_id=case, originator_version=version, timestamp=T0, actor=ACTOR, system="RR",
        operation="add_note", key="k-1",
        params=(("account", "ACC-1"), ("folder", "rr_notes"), ("text", text)),
    )  # fmt: skip


def erasure_of(account: str) -> Erasure:
    return Erasure(
        subject=subject_digest(account), erased_at=T0, requested_by="t", reason="r",
        operator="supervisor:dpo", cases=1, keys=0,
    )  # fmt: skip


def test_the_free_text_of_a_write_to_claro_is_sealed_in_its_pair_and_erased_with_the_key() -> None:
    assert {"text", "notes", "description"} <= PERSONAL_PARAMS
    assert not {"account", "code", "kind", "scope", "order", "slot_id"} & PERSONAL_PARAMS
    keys = MemoryPersonalKeyStore()
    mapper = sealing(keys)
    first, sent = mapper.to_stored_events([ingested(), write()])
    assert b"Ana pide" not in sent.state
    params = orjson.loads(sent.state)["params"]
    assert [name for name, _ in params] == ["account", "folder", "text"]  # the pairs kept
    assert params[:2] == [["account", "ACC-1"], ["folder", "rr_notes"]]
    assert set(params[2][1]) == {"pd", "c"}
    assert params[2][1]["pd"] == orjson.loads(first.state)["customer_name"]["pd"]  # one key
    assert mapper.to_domain_event(sent) == write()
    assert keys.forget("ACC-1", erasure_of("ACC-1")) == 1
    erased = mapper.to_domain_event(sent)
    assert isinstance(erased, OutsideWriteRequested)
    assert erased.params == (("account", "ACC-1"), ("folder", "rr_notes"), ("text", ERASED))
    assert (erased.system, erased.operation, erased.key) == ("RR", "add_note", "k-1")


def test_a_params_envelope_opens_only_as_that_parameter_of_that_case() -> None:
    mapper = sealing()
    _, note, sent = mapper.to_stored_events(
        [ingested(), note_added(), write(version=3, text="Ana dice")]
    )
    moved = StoredEvent(OTHER, 3, sent.topic, sent.state)
    with pytest.raises(MapperDeserialisationError, match="parameter 'text' does not open"):
        mapper.to_domain_event(moved)
    payload = orjson.loads(sent.state)
    payload["params"][2][1] = orjson.loads(note.state)["text"]  # a note's text, same words
    with pytest.raises(MapperDeserialisationError, match="does not open"):
        mapper.to_domain_event(StoredEvent(CASE, 3, sent.topic, orjson.dumps(payload)))
    payload["params"][2][1] = {"pd": "x"}
    with pytest.raises(MapperDeserialisationError, match="not a personal-data envelope"):
        mapper.to_domain_event(StoredEvent(CASE, 3, sent.topic, orjson.dumps(payload)))
    plain = CaseEventMapper(transcoder=OrjsonTranscoder())
    with pytest.raises(MapperDeserialisationError, match="no key store"):
        plain.to_domain_event(sent)


def note_added() -> NoteAdded:
    return NoteAdded(
        originator_id=CASE, originator_version=2, timestamp=T0, actor=ACTOR, text="Ana dice",
        folder=NoteFolder.RR_NOTES,
    )  # fmt: skip


def test_a_write_without_free_text_needs_no_key_and_is_stored_plain() -> None:
    booking = OutsideWriteRequested(
        originator_id=OTHER, originator_version=5, timestamp=T0, actor=ACTOR, system="WFM",
        operation="book", key="k-2", params=(("account", "ACC-2"), ("slot_id", "S1")),
    )  # fmt: skip
    keys = MemoryPersonalKeyStore()
    [row] = sealing(keys).to_stored_events([booking])  # no subject known: none needed
    [plain] = CaseEventMapper(transcoder=OrjsonTranscoder()).to_stored_events([booking])
    assert row.state == plain.state
    assert keys.keys == {}
    with pytest.raises(UnknownSubject):  # with free text, the subject is needed
        sealing().to_stored_events([write(OTHER)])


def test_in_clear_counts_writes_whose_free_text_was_stored_plain() -> None:
    off = sealing(MemoryPersonalKeyStore(encrypting=False))
    on = sealing()
    rows = [*off.to_stored_events([write()]), *on.to_stored_events([ingested(), write()])]
    keys = MemoryPersonalKeyStore()
    keys.raw_payloads = lambda case: [
        (OutsideWriteRequested if "params" in p else Ingested, p)
        for p in (orjson.loads(row.state) for row in rows)
    ]
    assert keys.in_clear([CASE]) == 1  # the plain write; the sealed ones are not counted


# --- the keys' validity ending while another thread of the process seals or opens ---------------


class Expiring(MemoryPersonalKeyStore):
    """A key store on a clock the test moves; `expire_elsewhere` does what another thread's
    catch-up page does when the validity is over (it expires the keys first)."""

    def __init__(self) -> None:
        super().__init__()
        self.now = [self.monotonic()]
        self.monotonic = lambda: self.now[0]
        self.midway = False
        """Expire the keys in the middle of the next step the subclass interrupts."""

    def expire_elsewhere(self) -> None:
        self.now[0] += personal_keys.KEY_VALIDITY + 1
        self.prefetch([])


def test_keys_expired_while_the_missing_ones_are_written_still_seal_the_batch() -> None:
    class Store(Expiring):
        def _writing_keys(self, accounts: Sequence[str]) -> dict[str, tuple[str, bytes]]:
            made = super()._writing_keys(accounts)
            if self.midway:
                self.expire_elsewhere()
            return made

    keys = Store()
    mapper = sealing(keys)
    mapper.to_stored_events([ingested()])  # ACC-1's key is at hand
    keys.midway = True
    batch = [note_added(), ingested(OTHER, "ACC-2")]  # ACC-2's key is written: expired then
    rows = mapper.to_stored_events(batch)
    assert [mapper.to_domain_event(row) for row in rows] == batch


def test_keys_expired_between_preparing_and_sealing_an_event_still_seal_it() -> None:
    class Store(Expiring):
        def prepare(self, events: Iterable[Any]) -> dict[uuid.UUID, Any]:
            built = super().prepare(events)
            if self.midway:
                self.expire_elsewhere()
            return built

    keys = Store()
    mapper = sealing(keys)
    keys.midway = True
    events = [ingested(), note_added(), write(version=3)]
    rows = mapper.to_stored_events(events)  # each event's seal prepares again, then expires
    assert [mapper.to_domain_event(row) for row in rows] == events


class ReleaseHook:
    """A lock that, once armed, runs `then` right after its next release: what another thread
    does the moment this one leaves the lock."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.then: Any = None

    def __enter__(self) -> ReleaseHook:
        self._lock.acquire()
        return self

    def __exit__(self, *_: object) -> None:
        self._lock.release()
        then, self.then = self.then, None
        if then is not None:
            then()


def test_keys_expired_right_after_one_is_read_do_not_make_it_gone() -> None:
    writer = MemoryPersonalKeyStore()
    [row] = sealing(writer).to_stored_events([ingested()])
    reader = Expiring()
    reader.keys = writer.keys  # another process over the same table
    hook = ReleaseHook()
    reader._lock = hook  # type: ignore[assignment]  # the same protocol, and a hook
    reading = sealing(reader)
    hook.then = reader.expire_elsewhere  # once the key read is kept, the validity ends
    assert reading.to_domain_event(row).customer_name == "Ana Pérez"
    assert reading.to_domain_event(row).customer_name == "Ana Pérez"  # not remembered as gone


def test_threads_sealing_and_reading_across_many_expiries_never_fail() -> None:
    """What the server's handlers do: a thread appends notes while another catches up, and the
    keys expire every few calls of the clock (as 30 s would, many times over)."""
    keys = MemoryPersonalKeyStore()
    ticks = itertools.count()
    keys.monotonic = lambda: next(ticks) * personal_keys.KEY_VALIDITY / 7
    mapper = sealing(keys)
    mapper.to_stored_events([ingested()])
    failures: list[str] = []
    stop = threading.Event()

    def writing() -> None:
        n = 0
        while not stop.is_set() and len(failures) < 3:
            try:
                row = mapper.to_stored_events([note_added(), ingested(uuid.UUID(int=n), "ACC-2")])
                assert mapper.to_domain_event(row[0]) == note_added()
            except Exception as error:  # any of them is the failure
                failures.append(repr(error))
                if len(failures) == 3:
                    stop.set()
            n += 1

    def reading() -> None:
        while not stop.is_set():
            keys.prefetch([])

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # threads switch as often as the interpreter lets them
    threads = [threading.Thread(target=writing), threading.Thread(target=reading)]
    try:
        for thread in threads:
            thread.start()
        stop.wait(1.5)
    finally:
        stop.set()
        for thread in threads:
            thread.join()
        sys.setswitchinterval(interval)
    assert failures == []
