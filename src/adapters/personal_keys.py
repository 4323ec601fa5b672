"""Keys of data subjects, and the personal fields of events sealed with them (crypto-shredding).

Each data subject (an account) has a random 256-bit key, kept in a table beside the log
(`cases_personal_keys`: in `cases.sqlite` on SQLite, in the log's database on PostgreSQL),
with the register of erasures (`cases_personal_erasures`). The event mapper seals each
personal field of an event
(`domain.case.events.PERSONAL_FIELDS`) on its own, with AES-GCM, as an envelope in the JSON
payload, so the rest of the payload stays readable:

    {"pd": "<key id>", "c": "<base64 of the 12-byte nonce, then the ciphertext and tag>"}

The associated data is the case id and the field's name: an envelope copied into another case
or field does not open. The free text a write to Claro's systems carries
(`OutsideWriteRequested.params`, the names in `domain.case.events.PERSONAL_PARAMS`) is sealed
the same way, value by value inside its `[name, value]` pair, with `param:<name>` as the
associated data's second part (so a field's envelope does not open as a parameter, or back).
A plain string where an envelope could be is a value written before encryption (or with it
switched off) and is read as it is. An envelope whose key is gone reads as `ERASED`; one whose
key is there but does not open it is an error (the row was changed).

Keys are kept in memory for `KEY_VALIDITY` seconds, then read again: a key deleted by another
process (`privacy forget` in the CLI while the server runs) stops being usable here within that
time. A key found missing is remembered as missing for good (key ids are never reused).

A case's subject is its account, in clear in its first event (`Ingested`): a note or a repeat
contact finds it in what this process last read or wrote of the case, else in the log
(`account_lookup`, one read).

On SQLite every write to the key table erases what it replaces or frees (`PRAGMA
secure_delete`), and `purge_deleted` empties the write-ahead log (`wal_checkpoint(TRUNCATE)`),
so a deleted key leaves the files (`truncate_wal`); on PostgreSQL it runs `VACUUM` on the key
table (docs/privacy.md says what that does and does not guarantee).
"""

from __future__ import annotations

import binascii
import itertools
import os
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from application.ports.personal import Erasure, subject_digest
from domain.case.events import (
    ERASED,
    PERSONAL_FIELDS,
    PERSONAL_PARAMS,
    CaseEvent,
    Ingested,
    OutsideWriteRequested,
)

KEY_VALIDITY = 30.0
"""Seconds a key read from the store is used before it is read again (and so how long another
process may still read a subject's data after `privacy forget`)."""
MAX_CASES_CACHED = 200_000
"""Cases whose subject is remembered (the map is cleared when it grows past this)."""

TABLES = ("cases_personal_keys", "cases_personal_erasures")
"""The key store's tables (`schema_lock.missing_tables` checks for them on PostgreSQL)."""

_CREATE = (
    "CREATE TABLE IF NOT EXISTS cases_personal_keys ("
    " key_id TEXT PRIMARY KEY, account TEXT NOT NULL, secret TEXT NOT NULL,"
    " created_at TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS cases_personal_keys_account"
    " ON cases_personal_keys (account, created_at)",
    "CREATE TABLE IF NOT EXISTS cases_personal_erasures ("
    " subject TEXT NOT NULL, erased_at TEXT NOT NULL, requested_by TEXT NOT NULL,"
    " reason TEXT NOT NULL, operator TEXT NOT NULL, cases INTEGER NOT NULL,"
    " keys INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS cases_personal_erasures_subject"
    " ON cases_personal_erasures (subject, erased_at)",
)

ENVELOPE = "pd"
"""The key of an envelope that names the key id; its sealed bytes are under `c`."""

AccountLookup = Callable[[uuid.UUID], str | None]
"""The account of a case from the log (its first event)."""
RawPayloads = Callable[[uuid.UUID], Iterable[tuple[type[Any], dict[str, Any]]]]
"""Each stored event of a case as its class and its payload before the personal fields are
opened (what is in the row, after any cipher at rest)."""
Sealer = tuple[str, Callable[..., bytes]]
"""A key id and that key's `encrypt`: what sealing a case's fields needs."""
_NONCE_SPACE = 2**96


class UnknownSubject(ValueError):
    """A personal field to seal on a case whose data subject cannot be found."""


def holds_personal_data(event: Any) -> bool:
    """Whether the event has personal fields, or is a write to Claro's systems whose
    parameters carry free text (`PERSONAL_PARAMS`)."""
    cls = type(event)
    if cls in PERSONAL_FIELDS:
        return True
    return cls is OutsideWriteRequested and any(n in PERSONAL_PARAMS for n, _ in event.params)


def _params_in_clear(payload: Mapping[str, Any]) -> bool:
    """Whether a stored `OutsideWriteRequested` payload holds a free-text parameter in clear."""
    params = payload.get("params")
    if type(params) is not list:
        return False
    return any(
        type(pair) is list and len(pair) == 2 and pair[0] in PERSONAL_PARAMS
        and type(pair[1]) is str
        for pair in params
    )  # fmt: skip


class PersonalKeyStore:
    """Seals and opens personal fields; the keys' storage is a subclass's (SQL, memory).

    Implements `application.ports.personal.PersonalKeys` too.
    """

    def __init__(self, *, encrypting: bool = True) -> None:
        self.encrypting = encrypting
        """Seal personal fields of new events (off: written in clear; always read either way)."""
        self.account_lookup: AccountLookup | None = None
        self.raw_payloads: RawPayloads | None = None
        self._lock = threading.Lock()
        # Nonces: a random 96-bit start, then one more each time (thread-safe): unique within
        # the process; two processes that each seal fewer than 2⁴⁵ fields overlap with a
        # chance below 2⁻⁵⁰ (a fresh random nonce per field costs a system call each).
        self._nonces = itertools.count(int.from_bytes(os.urandom(12), "big"))
        # The caches below are shared by the process's threads. They are never emptied in
        # place: expiry and `forget` put new dicts in their stead (under the lock), so a thread
        # that took a dict keeps a consistent one, and nothing read from a cache is looked up
        # again after another step (what `prepare` built is what `seal` uses). A key read
        # from the store is kept only if no expiry or `forget` came in between (`_generation`).
        self._opened: dict[str, AESGCM] = {}
        self._gone: set[str] = set()
        self._writers: dict[str, tuple[str, AESGCM]] = {}
        self._sealers: dict[uuid.UUID, Sealer] = {}
        """Case → its subject's key id and that key's `encrypt` (what `seal` needs, at hand)."""
        self._accounts: dict[uuid.UUID, str] = {}
        self._generation = 0
        """One more at each expiry and `forget`: what was read before is not kept after."""
        self.monotonic: Callable[[], float] = time.monotonic
        """What the keys' validity is measured with (a test moves it)."""
        self._since = self.monotonic()

    # --- storage (subclasses) -------------------------------------------------------------

    def _fetch(self, key_ids: Sequence[str]) -> dict[str, bytes]:
        raise NotImplementedError

    def _writing_keys(self, accounts: Sequence[str]) -> dict[str, tuple[str, bytes]]:
        """Each account's newest key, made when it has none."""
        raise NotImplementedError

    def _delete_keys(self, account: str, erasure: Erasure) -> int:
        raise NotImplementedError

    # --- the port (`application.ports.personal.PersonalKeys`) -----------------------------

    def in_clear(self, case_ids: Iterable[uuid.UUID]) -> int:
        """How many events of these cases hold personal data stored in clear (written before
        personal-data encryption, or with it off)."""
        read = self.raw_payloads
        if read is None:
            return 0
        found = 0
        for case in case_ids:
            for cls, payload in read(case):
                if cls is OutsideWriteRequested:
                    found += _params_in_clear(payload)
                    continue
                fields = PERSONAL_FIELDS.get(cls, ())
                found += any(type(payload.get(f)) is str for f in fields)
        return found

    def live_keys(self, account: str) -> int:
        raise NotImplementedError

    def erasures(self, account: str) -> Sequence[Erasure]:
        raise NotImplementedError

    def accounts_with_keys(self, *, after: str | None, limit: int) -> Sequence[str]:
        raise NotImplementedError

    def forget(self, account: str, erasure: Erasure) -> int:
        deleted = self._delete_keys(account, erasure)
        with self._lock:  # nothing of it is used here again (other processes: KEY_VALIDITY)
            self._writers = {a: w for a, w in self._writers.items() if a != account}
            self._sealers = {}
            self._opened = {}
            self._generation += 1
            self._since = self.monotonic()
        return deleted

    def purge_deleted(self) -> bool:
        """Make what was deleted from the key table leave the database's files (SQLite: the
        write-ahead log emptied; PostgreSQL: `VACUUM`). False when that could not be done
        now (a reader kept the log busy): the next purge, or SQLite's own checkpoints, do it
        later. Nothing to do in memory."""
        return True

    # --- sealing (the mapper) -------------------------------------------------------------

    def prepare(self, events: Iterable[Any]) -> dict[uuid.UUID, Sealer]:
        """Make sure the subject and key of every case among `events` with personal fields
        are known here: one read and one write of the store for a whole batch (an import)
        instead of one per event. Returns what seals each of those cases (empty when
        sealing is off), whatever another thread expires meanwhile."""
        if not self.encrypting:
            return {}
        self._expire()
        with self._lock:
            if len(self._accounts) > MAX_CASES_CACHED:
                self._accounts = {}
                self._sealers = {}
            accounts = self._accounts
        wanted: set[str] = set()
        cases: list[tuple[uuid.UUID, str]] = []
        for event in events:
            if not holds_personal_data(event):
                continue
            case = event.originator_id
            account = accounts.get(case)
            if account is None:
                if type(event) is Ingested:
                    account = event.account
                else:  # a case this process has not seen: its first event says whose it is
                    account = self.account_lookup(case) if self.account_lookup else None
                    if account is None:
                        raise UnknownSubject(f"no data subject known for case {case}")
                accounts[case] = account
            wanted.add(account)
            cases.append((case, account))
        if not cases:
            return {}
        with self._lock:
            generation = self._generation
            writers = self._writers
            found = {a: writers[a] for a in wanted if a in writers}
        missing = sorted(wanted - found.keys())
        if missing:
            made = {
                a: (k, AESGCM(secret)) for a, (k, secret) in self._writing_keys(missing).items()
            }
            found.update(made)
            with self._lock:
                if self._generation == generation:  # else expired meanwhile: this batch only
                    self._writers.update(made)
                    self._opened.update(made.values())
        built = {case: (found[a][0], found[a][1].encrypt) for case, a in cases}
        with self._lock:
            if self._generation == generation:
                self._sealers.update(built)
        return built

    def _sealer(self, event: CaseEvent) -> Sealer:
        """The key id and `encrypt` of the event's case, read again when the validity is over."""
        case = event.originator_id
        sealer = self._sealers.get(case)
        if sealer is None or self.monotonic() - self._since > KEY_VALIDITY:
            sealer = self.prepare([event])[case]
        return sealer

    def seal(self, state: dict[str, Any], event: CaseEvent, fields: tuple[str, ...]) -> None:
        """Replace each personal field of `state` (the event's payload) by its envelope."""
        key_id, encrypt = self._sealer(event)
        prefix = event.originator_id.bytes
        nonces = self._nonces
        for field in fields:
            value = state[field]
            if value is None:
                continue
            nonce = (next(nonces) % _NONCE_SPACE).to_bytes(12, "big")
            sealed = nonce + encrypt(nonce, value.encode(), prefix + _AAD[field])
            state[field] = {ENVELOPE: key_id, "c": _b64(sealed, newline=False).decode()}

    def open(self, state: dict[str, Any], case: uuid.UUID, fields: tuple[str, ...]) -> None:
        """Replace each envelope among the personal fields of `state` by its text (`ERASED`
        when its key is gone); plain values are left as they are."""
        account = state.get("account")
        if type(account) is str:  # the case's first event: whose the case is, for its notes
            self._accounts[case] = account
        for field in fields:
            value = state.get(field)
            if type(value) is dict:
                state[field] = self._unseal(value, case.bytes + _AAD[field], f"field {field!r}")

    def seal_params(self, state: dict[str, Any], event: OutsideWriteRequested) -> None:
        """Replace the value of each free-text parameter (`PERSONAL_PARAMS`) in `state["params"]`
        (the event's payload) by its envelope; every pair keeps its place and its name."""
        if not any(name in PERSONAL_PARAMS for name, _ in event.params):
            return
        case = event.originator_id
        key_id, encrypt = self._sealer(event)
        nonces = self._nonces
        sealed_params: list[list[Any]] = []
        for name, value in event.params:
            if name in PERSONAL_PARAMS:
                nonce = (next(nonces) % _NONCE_SPACE).to_bytes(12, "big")
                aad = case.bytes + _param_aad(name)
                sealed = nonce + encrypt(nonce, value.encode(), aad)
                sealed_params.append(
                    [name, {ENVELOPE: key_id, "c": _b64(sealed, newline=False).decode()}]
                )
            else:
                sealed_params.append([name, value])
        state["params"] = sealed_params

    def open_params(self, state: dict[str, Any], case: uuid.UUID) -> None:
        """Replace each envelope among the values of `state["params"]` by its text (`ERASED`
        when its key is gone); plain values are left as they are."""
        params = state.get("params")
        if type(params) is not list:
            return
        for pair in params:
            if type(pair) is list and len(pair) == 2 and type(pair[1]) is dict:
                name = pair[0]
                if type(name) is not str:
                    raise ValueError("a parameter's name is not a text")
                what = f"parameter {name!r}"
                pair[1] = self._unseal(pair[1], case.bytes + _param_aad(name), what)

    def _unseal(self, value: dict[str, Any], aad: bytes, what: str) -> str:
        """An envelope's text, or `ERASED` when its key is gone."""
        key_id = value.get(ENVELOPE)
        sealed = value.get("c")
        if type(key_id) is not str or type(sealed) is not str or value.keys() != _KEYS:
            raise ValueError(f"{what} is not a personal-data envelope")
        cipher = self._cipher(key_id)
        if cipher is None:
            return ERASED
        try:
            raw = binascii.a2b_base64(sealed, strict_mode=True)
        except binascii.Error:
            raise ValueError(f"{what} is not a personal-data envelope") from None
        try:
            plain = cipher.decrypt(raw[:12], raw[12:], aad)
        except InvalidTag:
            raise ValueError(f"{what} does not open with its key") from None
        return plain.decode("utf-8")

    def prefetch(self, rows: Iterable[bytes]) -> None:
        """Read at once the keys named by the envelopes in these stored payloads that are not
        at hand (a page of the log being caught up: thousands of subjects, one query instead
        of one per subject). Payloads encrypted at rest name none: their keys come one by one."""
        self._expire()
        named = {m.decode() for m in _KEY_ID.findall(b"\n".join(rows))}
        opened, gone, generation = self._opened, self._gone, self._generation
        wanted = sorted(k for k in named if k not in opened and k not in gone)
        if not wanted:
            return
        found: dict[str, bytes] = {}
        for start in range(0, len(wanted), 500):
            found.update(self._fetch(wanted[start : start + 500]))
        with self._lock:
            if self._generation == generation:  # else read before an expiry: read again
                self._opened.update((key_id, AESGCM(secret)) for key_id, secret in found.items())
            self._gone.update(k for k in wanted if k not in found)

    def _cipher(self, key_id: str) -> AESGCM | None:
        """The key `key_id` at hand, read from the store when it is not (None: it is gone)."""
        if self.monotonic() - self._since > KEY_VALIDITY:
            self._expire()
        cipher = self._opened.get(key_id)
        if cipher is not None:
            return cipher
        if key_id in self._gone:
            return None
        generation = self._generation
        secret = self._fetch([key_id]).get(key_id)
        with self._lock:
            if secret is None:  # key ids are never reused: gone for good
                self._gone.add(key_id)
                return None
            cipher = AESGCM(secret)
            if self._generation == generation:
                self._opened[key_id] = cipher
        return cipher

    def _expire(self) -> None:
        if self.monotonic() - self._since <= KEY_VALIDITY:
            return
        with self._lock:
            now = self.monotonic()
            if now - self._since <= KEY_VALIDITY:
                return  # another thread expired them meanwhile
            self._opened = {}
            self._writers = {}
            self._sealers = {}
            self._generation += 1
            self._since = now


_KEYS = frozenset({ENVELOPE, "c"})
_KEY_ID = re.compile(rb'"pd":"([0-9a-f]{16})"')
"""An envelope's key id in a stored payload (orjson writes no spaces)."""
_b64 = binascii.b2a_base64
_AAD = {f: f.encode() for fields in PERSONAL_FIELDS.values() for f in fields}
"""Each personal field's name as the associated data's second part."""


def _param_aad(name: str) -> bytes:
    """A parameter's name as the associated data's second part: apart from the fields'."""
    return b"param:" + name.encode()


def _now() -> str:
    return datetime.now(UTC).isoformat()


def new_key() -> tuple[str, bytes]:
    """A key id (16 hex digits) and a 256-bit key, from one read of the system's randomness."""
    raw = os.urandom(40)
    return raw[:8].hex(), raw[8:]


class MemoryPersonalKeyStore(PersonalKeyStore):
    """The key store in plain dicts: the in-memory event store's, and tests'."""

    def __init__(self, *, encrypting: bool = True) -> None:
        super().__init__(encrypting=encrypting)
        self.keys: dict[str, tuple[str, bytes, str]] = {}
        """key id → (account, secret, created at)."""
        self.register: list[Erasure] = []

    def _fetch(self, key_ids: Sequence[str]) -> dict[str, bytes]:
        return {k: self.keys[k][1] for k in key_ids if k in self.keys}

    def _writing_keys(self, accounts: Sequence[str]) -> dict[str, tuple[str, bytes]]:
        found: dict[str, tuple[str, bytes]] = {}
        for account in accounts:
            newest = self._newest(account)
            if newest is None:
                key_id, secret = new_key()
                self.keys[key_id] = (account, secret, _now())
                newest = (key_id, secret)
            found[account] = newest
        return found

    def _newest(self, account: str) -> tuple[str, bytes] | None:
        mine = [(at, k, s) for k, (a, s, at) in self.keys.items() if a == account]
        return (max(mine)[1], max(mine)[2]) if mine else None

    def _delete_keys(self, account: str, erasure: Erasure) -> int:
        gone = [k for k, (a, _, _) in self.keys.items() if a == account]
        for key_id in gone:
            del self.keys[key_id]
        self.register.append(_with_keys(erasure, len(gone)))
        return len(gone)

    def live_keys(self, account: str) -> int:
        return sum(1 for a, _, _ in self.keys.values() if a == account)

    def erasures(self, account: str) -> Sequence[Erasure]:
        digest = subject_digest(account)
        return [e for e in self.register if e.subject == digest]

    def accounts_with_keys(self, *, after: str | None, limit: int) -> Sequence[str]:
        accounts = sorted({a for a, _, _ in self.keys.values() if after is None or a > after})
        return accounts[:limit]


def _with_keys(erasure: Erasure, keys: int) -> Erasure:
    import attrs

    return attrs.evolve(erasure, keys=keys)


class SqlPersonalKeyStore(PersonalKeyStore):
    """The key store on SQLite or PostgreSQL (eventsourcing's datastores, from the event
    store's environment). Given the event store's `datastore`, it uses its connections (a
    process keeps no second pool for the keys) and leaves closing them to the store."""

    def __init__(
        self, env: Mapping[str, str], *, encrypting: bool = True, datastore: Any = None
    ) -> None:
        from eventsourcing.persistence import InfrastructureFactory
        from eventsourcing.utils import Environment, strtobool

        super().__init__(encrypting=encrypting)
        module = env.get("PERSISTENCE_MODULE", "")
        self.postgres = module.endswith("postgres")
        self._owned = datastore is None
        if datastore is None:
            factory = InfrastructureFactory.construct(Environment("PersonalKeys", dict(env)))
            datastore = getattr(factory, "datastore")  # noqa: B009 - not typed
        self.datastore: Any = datastore
        if strtobool(env.get("CREATE_TABLE") or "y"):
            with self._write() as c:
                for statement in _CREATE:
                    c.execute(statement)

    def close(self) -> None:
        if self._owned:
            self.datastore.close()

    def _sql(self, statement: str) -> str:
        return statement.replace("?", "%s") if self.postgres else statement

    @contextmanager
    def _write(self) -> Iterator[Any]:
        """A write transaction of the key tables; on SQLite one that zeroes what it frees or
        replaces (`secure_delete`, as the connection had it after): no copy of a deleted key
        stays in the file's free space. The event store's connection is lent, so the setting
        is given back."""
        if self.postgres:
            with self.datastore.transaction(commit=True) as c:
                yield c
            return
        from adapters.eventstore.sqlite_recorder import secure_delete, write_transaction

        with write_transaction(self.datastore, 0, immediate=True) as c, secure_delete(c):
            yield c

    def purge_deleted(self) -> bool:
        if not self.postgres:
            return truncate_wal(self.datastore)
        import psycopg

        try:  # VACUUM cannot run in a transaction: the pool's connections are autocommit
            with self.datastore.get_connection() as connection:
                connection.execute("VACUUM cases_personal_keys")
        except psycopg.Error:
            return False
        return True

    def _rows(self, statement: str, params: Sequence[Any]) -> list[Any]:
        with self.datastore.transaction(commit=False) as c:
            c.execute(self._sql(statement), tuple(params))
            return list(c.fetchall())

    @staticmethod
    def _marks(values: Sequence[Any]) -> str:
        return ", ".join("?" * len(values))

    def _fetch(self, key_ids: Sequence[str]) -> dict[str, bytes]:
        marks = self._marks(key_ids)
        rows = self._rows(
            f"SELECT key_id, secret FROM cases_personal_keys WHERE key_id IN ({marks})", key_ids
        )
        return {row["key_id"]: bytes.fromhex(row["secret"]) for row in rows}

    def _writing_keys(self, accounts: Sequence[str]) -> dict[str, tuple[str, bytes]]:
        found: dict[str, tuple[str, bytes]] = {}
        with self._write() as c:
            for start in range(0, len(accounts), 500):
                page = accounts[start : start + 500]
                c.execute(
                    self._sql(
                        "SELECT account, key_id, secret FROM cases_personal_keys"
                        f" WHERE account IN ({self._marks(page)}) ORDER BY created_at, key_id"
                    ),
                    tuple(page),
                )
                for row in c.fetchall():  # the newest last: it wins
                    found[row["account"]] = (row["key_id"], bytes.fromhex(row["secret"]))
            made = [(a, *new_key()) for a in accounts if a not in found]
            if made:
                now = _now()
                c.executemany(
                    self._sql(
                        "INSERT INTO cases_personal_keys (key_id, account, secret, created_at)"
                        " VALUES (?, ?, ?, ?)"
                    ),
                    [(k, a, secret.hex(), now) for a, k, secret in made],
                )
                found.update({a: (k, secret) for a, k, secret in made})
        return found

    def _delete_keys(self, account: str, erasure: Erasure) -> int:
        with self._write() as c:
            c.execute(
                self._sql("SELECT count(*) AS n FROM cases_personal_keys WHERE account = ?"),
                (account,),
            )
            deleted = int(c.fetchone()["n"])  # eventsourcing's SQLite cursor has no rowcount
            c.execute(self._sql("DELETE FROM cases_personal_keys WHERE account = ?"), (account,))
            c.execute(
                self._sql(
                    "INSERT INTO cases_personal_erasures (subject, erased_at, requested_by,"
                    " reason, operator, cases, keys) VALUES (?, ?, ?, ?, ?, ?, ?)"
                ),
                (
                    erasure.subject,
                    erasure.erased_at.astimezone(UTC).isoformat(),
                    erasure.requested_by,
                    erasure.reason,
                    erasure.operator,
                    erasure.cases,
                    deleted,
                ),
            )
        return deleted

    def live_keys(self, account: str) -> int:
        rows = self._rows(
            "SELECT count(*) AS n FROM cases_personal_keys WHERE account = ?", (account,)
        )
        return int(rows[0]["n"])

    def erasures(self, account: str) -> Sequence[Erasure]:
        rows = self._rows(
            "SELECT subject, erased_at, requested_by, reason, operator, cases, keys"
            " FROM cases_personal_erasures WHERE subject = ? ORDER BY erased_at",
            (subject_digest(account),),
        )
        return [
            Erasure(
                subject=row["subject"],
                erased_at=datetime.fromisoformat(row["erased_at"]),
                requested_by=row["requested_by"],
                reason=row["reason"],
                operator=row["operator"],
                cases=int(row["cases"]),
                keys=int(row["keys"]),
            )
            for row in rows
        ]

    def accounts_with_keys(self, *, after: str | None, limit: int) -> Sequence[str]:
        rows = self._rows(
            "SELECT DISTINCT account FROM cases_personal_keys WHERE account > ?"
            f" ORDER BY account LIMIT {int(limit)}",
            (after or "",),
        )
        return [row["account"] for row in rows]


def truncate_wal(datastore: Any, *, wait_ms: int = 2_000) -> bool:
    """Copy an SQLite database's write-ahead log into the database and empty it
    (`wal_checkpoint(TRUNCATE)`), so pages that held deleted rows leave the `-wal` file. It
    waits at most `wait_ms` for readers and writers of other connections; False when one
    kept it from finishing (nothing is lost: the log is emptied by a later checkpoint)."""
    with datastore.get_connection(commit=True) as connection:
        c = connection.cursor()
        c.execute("PRAGMA busy_timeout")
        before = int(c.fetchone()[0])
        c.execute(f"PRAGMA busy_timeout = {int(wait_ms)}")
        try:
            c.execute("PRAGMA wal_checkpoint(TRUNCATE)")
            busy = int(c.fetchone()[0])
        finally:
            c.execute(f"PRAGMA busy_timeout = {before}")
    return busy == 0


def open_personal_keys(env: Mapping[str, str], datastore: Any = None) -> PersonalKeyStore:
    """The key store beside the event store of `env` (eventsourcing's settings), on the event
    store's `datastore` when given; personal fields are sealed unless
    `PERSONAL_DATA_ENCRYPTION` says off."""
    from eventsourcing.utils import strtobool

    encrypting = bool(strtobool(env.get("PERSONAL_DATA_ENCRYPTION") or "y"))
    module = env.get("PERSISTENCE_MODULE", "")
    if module.endswith(("sqlite", "postgres")):
        return SqlPersonalKeyStore(env, encrypting=encrypting, datastore=datastore)
    return MemoryPersonalKeyStore(encrypting=encrypting)
