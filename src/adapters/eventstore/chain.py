"""Tamper evidence: each stored event's hash, chained to the previous event of its case, and a
checkpoint over the global log every `CHECKPOINT_EVERY` positions.

What is hashed is what is stored: the row's originator id, version, topic and state bytes (after
transcoding, compression and any cipher). Verifying needs no key and decodes nothing, so an
encrypted store verifies, and erasing a data subject's key (which leaves the stored bytes as
they are) changes nothing here.

    link(v) = SHA-256(0x01 ‖ link(v-1) ‖ len(id) ‖ id ‖ version ‖ len(topic) ‖ topic ‖ state)

with `link(0)` 32 zero bytes. The hash is kept in a column of the events table (`chain`),
written by the project's recorders in the insert itself (`sqlite_recorder`,
`postgres_recorder`). Events written before the column existed have none: their links are
computed when needed (the first chained event of the case links to them), never written.

A checkpoint covers the positions (start + (k-1)·width, start + k·width] of the log:

    checkpoint(k) = SHA-256(0x02 ‖ checkpoint(k-1) ‖ for each row: position ‖ link or zeros)

It is written in the transaction whose insert reaches its last position (the writer holds the
log's write lock then, so no lower position is still to come). The first row of the table is
the chain's start: the log's last position when the chain began, and the width.

`ChainVerifier` re-reads a store through its recorder (`ChainStorage`) and reports findings.
"""

from __future__ import annotations

import hashlib
import threading
import uuid
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, NamedTuple, Protocol

from eventsourcing.persistence import StoredEvent

from application.ports.cases import AuditReport, Finding

ZERO = bytes(32)
CHECKPOINT_EVERY = 1_000
"""Positions per checkpoint (a store keeps the width it started with: its start row says)."""
MAX_HEADS = 20_000
"""Cases whose newest known link a recorder remembers (reads fill it; a miss costs a read)."""
PAGE = 2_000
"""Rows read at a time by the verifier."""

Key = tuple[Any, int]
"""(originator id, version)."""


def id_bytes(originator_id: Any) -> bytes:
    if isinstance(originator_id, uuid.UUID):
        return originator_id.bytes
    text = str(originator_id)
    try:
        return uuid.UUID(text).bytes
    except ValueError:
        return text.encode()


def link(prev: bytes, originator_id: Any, version: int, topic: str, state: bytes) -> bytes:
    """The chain hash of one stored event, given the previous event's. (A row edited by hand
    may hold text or NULL where bytes were stored: they are hashed as what they are.)"""
    oid = id_bytes(originator_id)
    name = str(topic).encode()
    if not isinstance(state, bytes | bytearray | memoryview):
        state = b"" if state is None else str(state).encode()
    digest = hashlib.sha256(b"\x01")
    digest.update(prev)
    digest.update(len(oid).to_bytes(2, "big"))
    digest.update(oid)
    digest.update(version.to_bytes(8, "big", signed=True))
    digest.update(len(name).to_bytes(4, "big"))
    digest.update(name)
    digest.update(state)
    return digest.digest()


def start_hash(end: int, width: int) -> bytes:
    return hashlib.sha256(b"\x00" + end.to_bytes(8, "big") + width.to_bytes(8, "big")).digest()


def checkpoint_hash(prev: bytes, rows: Iterable[tuple[int, bytes | None]]) -> bytes:
    digest = hashlib.sha256(b"\x02")
    digest.update(prev)
    for position, chain in rows:
        digest.update(position.to_bytes(8, "big"))
        digest.update(chain or ZERO)
    return digest.digest()


class ChainRow(NamedTuple):
    position: int
    originator_id: Any
    version: int
    topic: str
    state: bytes
    chain: bytes | None


class Checkpoint(NamedTuple):
    end: int
    width: int
    rows: int
    hash: bytes


# --- writing --------------------------------------------------------------------------------


class Heads:
    """The newest link a recorder has seen for each case (a true fact forever: rows do not
    change), so that an append after a load needs no read to link to it. Bounded."""

    def __init__(self, size: int = MAX_HEADS) -> None:
        self.size = size
        self._heads: dict[Any, tuple[int, bytes]] = {}
        self._lock = threading.Lock()

    def get(self, originator_id: Any, version: int) -> bytes | None:
        """The link of (case, version) if it is the one remembered."""
        found = self._heads.get(originator_id)
        return found[1] if found is not None and found[0] == version else None

    def remember(self, originator_id: Any, version: int, chain: bytes) -> None:
        with self._lock:
            known = self._heads.get(originator_id)
            if known is not None and known[0] >= version:
                return
            self._heads.pop(originator_id, None)
            if len(self._heads) >= self.size:
                del self._heads[next(iter(self._heads))]
            self._heads[originator_id] = (version, chain)

    def forget(self) -> None:
        with self._lock:
            self._heads.clear()


def chain_links(
    events: Sequence[StoredEvent],
    heads: Heads,
    stored: Callable[[list[Key]], dict[Key, bytes | None]],
    prefix: Callable[[Any, int], bytes],
) -> list[bytes]:
    """The link of each event of a batch, in order.

    `stored(keys)` gives the stored link of each (case, version) found (None: a row written
    before the chain); `prefix(case, version)` the link computed over the case's rows below
    `version`. Each is called only for what neither the batch nor `heads` knows.
    """
    batch: dict[Any, tuple[int, bytes]] = {}
    missing = [
        (e.originator_id, e.originator_version - 1)
        for e in _first_of_each_case(events)
        if e.originator_version > 1 and heads.get(e.originator_id, e.originator_version - 1) is None
    ]
    found = stored(missing) if missing else {}
    links: list[bytes] = []
    for e in events:
        oid, version = e.originator_id, e.originator_version
        known = batch.get(oid)
        if known is not None and known[0] == version - 1:
            prev = known[1]
        elif version <= 1:
            prev = ZERO
        else:
            prev_link = heads.get(oid, version - 1)
            if prev_link is None:
                key = (oid, version - 1)
                if key in found:
                    prev_link = found[key]
                    if prev_link is None:  # written before the chain: its link computed
                        prev_link = prefix(oid, version)
                else:  # no such row: the verifier reports the gap
                    prev_link = ZERO
            prev = prev_link
        chain = link(prev, oid, version, e.topic, e.state)
        batch[oid] = (version, chain)
        links.append(chain)
    return links


def _first_of_each_case(events: Sequence[StoredEvent]) -> Iterator[StoredEvent]:
    seen: set[Any] = set()
    for e in events:
        if e.originator_id not in seen:
            seen.add(e.originator_id)
            yield e


def remember_batch(heads: Heads, events: Sequence[StoredEvent], links: Sequence[bytes]) -> None:
    if not links:  # the chain is off (the benchmark's comparison)
        return
    for e, chain in zip(events, links, strict=True):
        heads.remember(e.originator_id, e.originator_version, chain)


def remember_rows(heads: Heads, rows: Sequence[tuple[Any, int, bytes | None]]) -> None:
    """Remember the newest link among (case, version, link) rows just read."""
    newest = max(rows, key=lambda r: r[1], default=None)
    if newest is not None and newest[2] is not None:
        heads.remember(newest[0], newest[1], newest[2])


class Sealing(Protocol):
    """What writing checkpoints needs, inside the inserting transaction."""

    def last_checkpoint(self) -> Checkpoint | None: ...

    def block(self, after: int, through: int) -> list[tuple[int, bytes | None]]: ...

    def add_checkpoint(self, checkpoint: Checkpoint) -> None: ...


def seal(db: Sealing, newest: int) -> int | None:
    """Write every checkpoint whose last position is at or below `newest`; returns the
    position at which the next one is due (None: the store has no chain start)."""
    last = db.last_checkpoint()
    if last is None:
        return None
    while last.end + last.width <= newest:
        end = last.end + last.width
        rows = db.block(last.end, end)
        last = Checkpoint(end, last.width, len(rows), checkpoint_hash(last.hash, rows))
        db.add_checkpoint(last)
    return last.end + last.width


# --- verifying ------------------------------------------------------------------------------


class ChainStorage(Protocol):
    """The reads verification needs, implemented by the project's recorders."""

    def chain_rows_by_case(self, after: Key | None, limit: int) -> list[ChainRow]:
        """Rows in (case, version) order, after `after`."""
        ...

    def chain_rows_of(self, originator_id: Any, below: int | None = None) -> list[ChainRow]: ...

    def chain_rows_after(self, position: int, limit: int) -> list[ChainRow]:
        """Rows in position order, after `position`."""
        ...

    def chain_stored(self, keys: list[Key]) -> dict[Key, bytes | None]: ...

    def chain_block(self, after: int, through: int) -> list[tuple[int, bytes | None]]: ...

    def chain_checkpoints(self) -> list[Checkpoint]: ...

    def chain_last_position(self) -> int: ...


def _case(originator_id: Any) -> uuid.UUID | str:
    if isinstance(originator_id, uuid.UUID):
        return originator_id
    try:
        return uuid.UUID(str(originator_id))
    except ValueError:
        return str(originator_id)


CHANGED = "changed"
MISSING = "missing"
UNHASHED = "unhashed"
CHECKPOINT = "checkpoint"


def _changed(row: ChainRow, legacy_before: bool) -> Finding:
    detail = (
        "its stored hash does not match: this event, or one before it written without a hash, "
        "was changed, moved or replaced"
        if legacy_before
        else "its stored hash does not match: this event was changed, moved or replaced"
    )
    return Finding(case=_case(row.originator_id), version=row.version, problem=CHANGED,
                   detail=detail, position=row.position)  # fmt: skip


class ChainVerifier:
    """Implements `application.ports.cases.ChainAudit` over a recorder's `ChainStorage`."""

    def __init__(self, storage: ChainStorage) -> None:
        self.storage = storage

    def start(self) -> int | None:
        checkpoints = self.storage.chain_checkpoints()
        return checkpoints[0].end if checkpoints else None

    # -- one case, or every case in key order --

    def verify_case(self, case_id: uuid.UUID) -> AuditReport:
        start = self.start()
        rows = self.storage.chain_rows_of(case_id)
        findings = list(_CaseWalk(start if start is not None else 0).walk(rows))
        if start is None:
            findings.insert(0, _no_start())
        return AuditReport(findings=findings, rows=len(rows), position=0)

    def verify_cases(
        self, after: Key | None = None, max_rows: int | None = None
    ) -> tuple[AuditReport, Key | None]:
        """Every case's chain from its first event, in key order from after `after`; stops
        after about `max_rows` rows at a case's end. Returns the report and where to go on
        (None: the last case was reached)."""
        start = self.start()
        walk = _CaseWalk(start if start is not None else 0)
        findings: list[Finding] = [] if start is not None else [_no_start()]
        rows = 0
        cursor = after
        while True:
            page = self.storage.chain_rows_by_case(cursor, PAGE)
            for row in page:
                if max_rows is not None and rows >= max_rows and row.originator_id != walk.current:
                    return AuditReport(findings=findings, rows=rows, position=0), cursor
                findings.extend(walk.step(row))
                rows += 1
                cursor = (row.originator_id, row.version)
            if len(page) < PAGE:
                return AuditReport(findings=findings, rows=rows, position=0), None

    # -- new rows, incrementally --

    def verify_log(self, after: int, limit: int) -> AuditReport:
        """Each row after position `after` (at most `limit`) against its predecessor's stored
        link; the report's position is the last row checked. A predecessor in the page read
        is taken from it (a (case, version) is one row); only the others are asked of the
        store: those before the page, or missing."""
        start = self.start()
        rows = self.storage.chain_rows_after(after, limit)
        findings: list[Finding] = [] if start is not None or not rows else [_no_start()]
        first = start if start is not None else 0
        stored: dict[Key, bytes | None] = {(r.originator_id, r.version): r.chain for r in rows}
        wanted = [
            key
            for r in rows
            if r.version > 1
            and r.chain is not None
            and (key := (r.originator_id, r.version - 1)) not in stored
        ]
        if wanted:
            stored.update(self.storage.chain_stored(list(dict.fromkeys(wanted))))
        for row in rows:
            if row.chain is None:
                if row.position > first:
                    findings.append(_unhashed(row))
                continue
            key = (row.originator_id, row.version - 1)
            legacy = False
            if row.version <= 1:
                prev = ZERO
            elif key in stored:
                stored_prev = stored[key]
                legacy = stored_prev is None
                prev = (
                    prefix_link(self.storage.chain_rows_of(row.originator_id, row.version))
                    if stored_prev is None
                    else stored_prev
                )
            else:
                findings.append(_missing(row.originator_id, row.version - 1, row.position))
                continue
            if link(prev, row.originator_id, row.version, row.topic, row.state) != row.chain:
                findings.append(_changed(row, legacy))
        position = rows[-1].position if rows else after
        return AuditReport(findings=findings, rows=len(rows), position=position)

    # -- checkpoints --

    def verify_checkpoints(
        self, after: int = 0, max_blocks: int | None = None
    ) -> tuple[AuditReport, int]:
        """Checkpoints ending after position `after` (at most `max_blocks`), each against the
        stored links of its positions; also that none is missing before the log's end.
        Returns the report and the end of the last checkpoint checked."""
        checkpoints = self.storage.chain_checkpoints()
        if not checkpoints:
            return AuditReport(findings=[_no_start()], rows=0, position=after), after
        start = checkpoints[0]
        findings: list[Finding] = []
        if start.hash != start_hash(start.end, start.width) or start.width < 1:
            findings.append(_log_finding(start.end, start.end, "the chain's start was altered"))
            return AuditReport(findings=findings, rows=0, position=after), after
        previous = start
        checked = rows = 0
        reached = max(after, start.end)
        for checkpoint in checkpoints[1:]:
            expected_end = previous.end + start.width
            if checkpoint.end != expected_end:
                findings.append(
                    _log_finding(previous.end, expected_end, "its checkpoint is missing or moved")
                )
                break
            if checkpoint.end > after:
                if max_blocks is not None and checked >= max_blocks:
                    break
                block = self.storage.chain_block(previous.end, checkpoint.end)
                rows += len(block)
                checked += 1
                computed = checkpoint_hash(previous.hash, block)
                if computed != checkpoint.hash:
                    what = (
                        f"rows removed or added ({checkpoint.rows} when sealed, {len(block)} now)"
                        if len(block) != checkpoint.rows
                        else "rows reordered, or their hashes or the checkpoint changed"
                    )
                    findings.append(_log_finding(previous.end, checkpoint.end, what))
                reached = checkpoint.end
            previous = checkpoint
        else:
            overdue = previous.end + start.width
            if self.storage.chain_last_position() >= overdue:
                findings.append(
                    _log_finding(previous.end, overdue, "its checkpoint is missing (removed?)")
                )
        return AuditReport(findings=findings, rows=rows, position=reached), reached

    def verify_all(self, case_id: uuid.UUID | None = None) -> AuditReport:
        """Everything (or one case): what `backoffice audit verify` runs."""
        if case_id is not None:
            return self.verify_case(case_id)
        cases, _ = self.verify_cases()
        checkpoints, _ = self.verify_checkpoints()
        seen = {(f.case, f.problem) for f in cases.findings}
        extra = [f for f in checkpoints.findings if (f.case, f.problem) not in seen]
        return AuditReport(
            findings=[*cases.findings, *extra],
            rows=cases.rows,
            position=self.storage.chain_last_position(),
            checkpoint=checkpoints.position,
        )


class _CaseWalk:
    """Walks rows in (case, version) order and reports each case's first problem."""

    def __init__(self, start: int) -> None:
        self.start = start
        self.current: Any = None
        self.version = 0
        self.prev = ZERO
        self.broken = False
        self.legacy = False

    def walk(self, rows: Iterable[ChainRow]) -> Iterator[Finding]:
        for row in rows:
            yield from self.step(row)

    def step(self, row: ChainRow) -> list[Finding]:
        if row.originator_id != self.current:
            self.current, self.version, self.prev = row.originator_id, 0, ZERO
            self.broken = self.legacy = False
        if self.broken:
            return []
        found = self._check(row)
        if found is not None:
            self.broken = True
            return [found]
        return []

    def _check(self, row: ChainRow) -> Finding | None:
        expected = self.version + 1
        if row.version != expected:
            return _missing(row.originator_id, expected, row.position)
        self.version = row.version
        computed = link(self.prev, row.originator_id, row.version, row.topic, row.state)
        self.prev = computed
        if row.chain is None:
            if row.position > self.start:
                return _unhashed(row)
            self.legacy = True
            return None
        if computed != row.chain:
            return _changed(row, self.legacy)
        self.legacy = False
        return None


def _missing(originator_id: Any, version: int, position: int) -> Finding:
    return Finding(
        case=_case(originator_id),
        version=version,
        problem=MISSING,
        detail="this version is missing: an event was removed (or versions were changed)",
        position=position,
    )


def _unhashed(row: ChainRow) -> Finding:
    return Finding(
        case=_case(row.originator_id),
        version=row.version,
        problem=UNHASHED,
        detail="no hash, though written after the chain started: inserted by hand, or by a "
        "process without the chain",
        position=row.position,
    )


def _log_finding(after: int, through: int, what: str) -> Finding:
    return Finding(
        case=None,
        version=None,
        problem=CHECKPOINT,
        detail=f"log positions {after + 1}–{through}: {what}",
        position=through,
    )


def _no_start() -> Finding:
    return Finding(
        case=None,
        version=None,
        problem=CHECKPOINT,
        detail="no record of where the chain starts: the checkpoints were removed",
        position=None,
    )


def prefix_link(rows: Iterable[ChainRow]) -> bytes:
    """The link computed over rows (a case's, from its first, in version order)."""
    prev = ZERO
    for row in rows:
        prev = link(prev, row.originator_id, row.version, row.topic, row.state)
    return prev
