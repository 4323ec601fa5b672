"""`CaseStore` on an eventsourcing `Application`: SQLite, PostgreSQL or plain memory.

The environment (eventsourcing's own variables, built by `entrypoints.settings`) picks the
persistence module. The domain's events are saved as they are: no aggregate class, no wrapper.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from typing import Any

from eventsourcing.application import Application
from eventsourcing.persistence import (
    AggregateRecorder,
    ApplicationRecorder,
    IntegrityError,
    Mapper,
    MapperDeserialisationError,
    StoredEvent,
    Transcoder,
)

from adapters.eventstore.cipher import (
    MARKER,
    NO_KEY,
    NO_KEY_TO_WRITE,
    CipheredRecorder,
    KeylessWriteRefused,
    is_encrypted,
)
from adapters.eventstore.mapper import CLASSES, TOPICS, CaseEventMapper, OrjsonTranscoder
from adapters.eventstore.state_cache import FOLD_AHEAD, CaseStateCache
from adapters.personal_keys import PersonalKeyStore, open_personal_keys
from application.ports.accounts import LogNews
from application.ports.cases import AnyEvent, ChainAudit, ConcurrencyConflict, LoggedEvent
from domain.case.events import CaseEvent, Ingested, PersonalDataErased
from domain.case.state import CaseState, fold
from domain.team.roster import TeamEvent

_NEWEST = 2**63 - 1
_ERASED_TOPIC = TOPICS[PersonalDataErased]
HISTORY_PAGE = 1_000
"""Events read at a time when a history is streamed."""


class CasesApplication(Application[uuid.UUID]):
    """The cases' event store. Its name prefixes its PostgreSQL tables (`cases_events`)."""

    name = "Cases"

    def construct_transcoder(self) -> Transcoder:
        if self.env.get("TRANSCODER_TOPIC"):
            return super().construct_transcoder()
        return OrjsonTranscoder()

    def construct_mapper(self) -> Mapper[uuid.UUID]:
        cipher = self.factory.cipher()  # encryption at rest: set only with keys
        mapper = CaseEventMapper if cipher is not None else KeylessCaseEventMapper
        made = mapper(
            transcoder=self.construct_transcoder(),
            compressor=self.factory.compressor(),
            cipher=cipher,
        )
        # The keys on the log's own connections (`datastore`: SQLite's and PostgreSQL's).
        made.personal = open_personal_keys(dict(self.env), getattr(self.factory, "datastore", None))
        return made


class KeylessCaseEventMapper(CaseEventMapper):
    """The mapper of a store opened without encryption keys: an event encrypted at rest
    (`adapters.eventstore.cipher`) is refused saying that a key is needed, not as JSON that
    does not parse. Nothing of the cipher runs on the way of a row stored in clear."""

    def to_domain_event(self, stored_event: StoredEvent) -> Any:
        try:
            return super().to_domain_event(stored_event)
        except MapperDeserialisationError:
            if not is_encrypted(stored_event.state):
                raise
            raise MapperDeserialisationError(
                f"cannot decode stored event {stored_event.topic!r} of case "
                f"{stored_event.originator_id} version {stored_event.originator_version}: "
                f"{NO_KEY}"
            ) from None


class KeylessWrites:
    """Whether a process with no key at all may write to the store of `recorder`: not when the
    log's newest event is encrypted (the store is being written encrypted, and rows in clear
    would sit among them). Asked once per process, on the first write (two lookups by the
    log's position, its primary key); a store in clear is then written with no more queries
    (`allowed`), an encrypted one refused with no more queries either.

    The newest row decides, not any row: a store whose encryption was turned off on purpose
    (the keys kept as old keys, new events in clear) has a clear newest row, and stays
    writable once its old keys are dropped too. A process that found the store in clear keeps
    writing in clear even if another one starts encrypting later: keys are rolled out to
    every process, and processes restarted, before encrypted writes begin (docs/privacy.md).

    It lives here, not in `cipher`, and tests the marker itself: a process without keys (the
    default) runs no function of the cipher's module (`docs/architecture.md` counts the files
    a command crosses)."""

    def __init__(self, recorder: ApplicationRecorder) -> None:
        self.recorder = recorder
        self.allowed = False
        """The store is known to be written in clear: writes go ahead unchecked."""
        self._refused = False

    def check(self) -> None:
        """Return when writing is allowed; `KeylessWriteRefused` when it is not."""
        if self.allowed:
            return
        if not self._refused:
            head = self.recorder.max_notification_id()
            newest = self.recorder.select_notifications(head, 1) if head else ()
            if not newest or newest[0].state[: len(MARKER)] != MARKER:
                self.allowed = True
                return
            self._refused = True
        raise KeylessWriteRefused(NO_KEY_TO_WRITE)


class KeylessRecorder(AggregateRecorder):
    """The cached case states' recorder of a process with no key: reads as they are, writes
    only when `writes` allows (a cached state holds the case's personal data opened: in clear
    in an encrypted store, it would be the one place they show). A refused write is a
    `PersistenceError`: the cache skips it and the case is folded from its events."""

    def __init__(self, recorder: AggregateRecorder, writes: KeylessWrites) -> None:
        self.recorder = recorder
        self.writes = writes

    def insert_events(
        self, stored_events: Sequence[StoredEvent], **kwargs: Any
    ) -> Sequence[int] | None:
        self.writes.check()
        return self.recorder.insert_events(stored_events, **kwargs)

    def select_events(
        self,
        originator_id: uuid.UUID | str,
        *,
        gt: int | None = None,
        lte: int | None = None,
        desc: bool = False,
        limit: int | None = None,
    ) -> Sequence[StoredEvent]:
        return self.recorder.select_events(originator_id, gt=gt, lte=lte, desc=desc, limit=limit)


class EventSourcedCaseStore:
    """Implements `application.ports.cases.CaseStore`."""

    def __init__(self, env: Mapping[str, str]) -> None:
        self.app = CasesApplication(env=dict(env))
        snapshots = self.app.factory.aggregate_recorder(purpose="snapshots")
        cipher = self.app.mapper.cipher
        self.keyless: KeylessWrites | None = None
        """Set when no key at all is configured: no write to a store encrypted at rest."""
        if cipher is not None:  # the cached states hold what the events hold: same cipher
            snapshots = CipheredRecorder(snapshots, cipher)
        else:
            self.keyless = KeylessWrites(self.app.recorder)
            snapshots = KeylessRecorder(snapshots, self.keyless)
        self.states = CaseStateCache(snapshots)
        mapper = self.app.mapper
        assert isinstance(mapper, CaseEventMapper)
        assert mapper.personal is not None
        self.mapper = mapper
        self.personal: PersonalKeyStore = mapper.personal
        """The data subjects' keys (`adapters.personal_keys`)."""
        self.personal.account_lookup = self._account_of
        self.personal.raw_payloads = self._raw_payloads
        self.fold_ahead = FOLD_AHEAD
        self._news: NewsStatement | None = None
        self._news_known = False

    def close(self) -> None:
        self.app.close()
        close = getattr(self.personal, "close", None)
        if close is not None:
            close()

    def _account_of(self, case_id: uuid.UUID) -> str | None:
        """The account a case was opened for, in clear in its first event (nothing opened)."""
        rows = self.app.recorder.select_events(case_id, lte=1)
        if not rows or rows[0].topic != TOPICS[Ingested]:
            return None
        account = self._payload(rows[0]).get("account")
        return account if isinstance(account, str) else None

    def _raw_payloads(self, case_id: uuid.UUID) -> Iterator[tuple[type[Any], dict[str, Any]]]:
        """Each event of the case as stored (after any cipher at rest), nothing opened."""
        for row in self.app.recorder.select_events(case_id):
            yield CLASSES[row.topic], self._payload(row)

    def _payload(self, row: Any) -> dict[str, Any]:
        mapper = self.mapper
        data = row.state
        if mapper.cipher:
            data = mapper.cipher.decrypt(data)
        if mapper.compressor:
            data = mapper.compressor.decompress(data)
        payload: dict[str, Any] = mapper.transcoder.decode(data)
        return payload

    def load(self, case_id: uuid.UUID, *, version: int | None = None) -> CaseState | None:
        # A short case (most of them) is folded from its events: one query. A longer one from
        # the newest cached state at or below `version`, folding only the events after it
        # (see `state_cache`).
        if version is not None and version > _NEWEST:
            version = None  # past any case's last version: the case now (SQLite's integers end)
        # The rows are decoded only when they are the whole case: a long case's first rows
        # would be decoded for nothing (its cached state is read instead).
        rows = self.app.recorder.select_events(case_id, lte=version, limit=self.fold_ahead)
        decode = self.app.mapper.to_domain_event
        if len(rows) < self.fold_ahead:
            whole: list[Any] = [decode(row) for row in rows]
            return fold(None, whole)
        cached = self.states.newest(case_id, at_most=version)
        head: list[Any] = [] if cached is not None else [decode(row) for row in rows]
        start = cached if cached is not None else fold(None, head)
        assert start is not None
        events: list[Any] = list(self.app.events.get(case_id, gt=start.version, lte=version))
        state = fold(start, events)
        if (
            cached is not None
            and state is not None
            and cached.personal_data_erased_at != state.personal_data_erased_at
        ):
            # A state cached before the subject's erasure (a load that ended after `forget`
            # dropped the case's states): it holds the erased data. Dropped at the first load
            # that sees the erasure after it, before a replay can read it.
            self.states.drop([case_id])
            folded = self.fold_ahead  # the state now is kept instead
        else:
            folded = len(events) + (len(head) if cached is None else 0)
        if state is not None and version is None and folded >= self.fold_ahead:
            self.states.keep(state)
            # Folded from events read before an erasure that `forget` recorded meanwhile (and
            # after it dropped the case's states): this state holds the erased data. `forget`
            # records the erasure before it drops, so it is in the log by now; a replay must
            # not find the state, so it goes at once.
            later = self.app.recorder.select_events(case_id, gt=state.version)
            if any(row.topic == _ERASED_TOPIC for row in later):
                self.states.drop([case_id])
        return state

    def history(self, case_id: uuid.UUID) -> Sequence[CaseEvent]:
        events: list[Any] = list(self.app.events.get(case_id))
        return events

    def events_of(self, case_id: uuid.UUID, *, after: int = 0) -> Iterator[CaseEvent]:
        while True:
            page: list[Any] = list(self.app.events.get(case_id, gt=after, limit=HISTORY_PAGE))
            yield from page
            if len(page) < HISTORY_PAGE:
                return
            after = page[-1].originator_version

    def stream(self, stream_id: uuid.UUID) -> Sequence[TeamEvent]:
        events: list[Any] = list(self.app.events.get(stream_id))
        return events

    def append(self, events: Sequence[AnyEvent]) -> Sequence[LoggedEvent]:
        if not events:
            return []
        keyless = self.keyless
        if keyless is not None and not keyless.allowed:  # once per process (cipher.py)
            keyless.check()  # before the mapper: it may make data subjects' keys
        # The mapper and recorder directly: Application.save() would only add protocol checks
        # and a notify() hook that nothing here uses, and EventStore.put() a Recording and a
        # Notification per event that nothing here reads.
        stored = self.mapper.to_stored_events(events)
        try:
            positions = self.app.recorder.insert_events(stored)
        except IntegrityError as error:
            raise ConcurrencyConflict(str(error)) from error
        return [LoggedEvent(p, e) for p, e in zip(positions or (), events, strict=True)]

    def read_log(
        self,
        after: int,
        limit: int,
        *,
        through: int | None = None,
        kinds: Collection[type[AnyEvent]] | None = None,
    ) -> Sequence[LoggedEvent]:
        # Unwanted kinds are left out by the database: never read, never decoded.
        topics = sorted(TOPICS[kind] for kind in kinds) if kinds is not None else ()
        if kinds is not None and not topics:
            return []
        notifications = self.app.recorder.select_notifications(
            start=after, limit=limit, stop=through, topics=topics, inclusive_of_start=False
        )
        self.personal.prefetch(n.state for n in notifications)  # their keys: one query
        to_event = self.app.mapper.to_domain_event
        return [LoggedEvent(n.id, to_event(n)) for n in notifications]  # type: ignore[arg-type]

    def last_position(self) -> int:
        return self.app.recorder.max_notification_id() or 0

    def audit(self) -> ChainAudit | None:
        """The tamper evidence of this store (`adapters.eventstore.chain`); None when its
        recorder keeps no chain (eventsourcing's own recorders, the in-memory `popo`)."""
        from adapters.eventstore.chain import ChainStorage, ChainVerifier

        recorder: Any = self.app.recorder
        if not hasattr(recorder, "chain_checkpoints"):
            return None
        storage: ChainStorage = recorder
        return ChainVerifier(storage)

    def log_news(self, after: int, kinds: Collection[type[AnyEvent]]) -> LogNews:
        """`application.ports.accounts.LogNewsReader`: the head and the first event of `kinds`
        after `after`, in one statement (one snapshot) sent without a transaction around it:
        one round trip on PostgreSQL, no `BEGIN`/`ROLLBACK` on SQLite. Asked on every
        request (the roster's placements): both parts are index lookups, and the part after
        `after` is short because the caller asks after the head it was last told."""
        topics = sorted(TOPICS[kind] for kind in kinds)
        if not self._news_known:
            self._news, self._news_known = _news_statement(self.app.recorder), True
        if self._news is None:  # another recorder: two reads
            head = self.last_position()
            found = self.read_log(after, 1, through=head, kinds=kinds) if head > after else ()
            return LogNews(after=after, head=head, first=found[0].position if found else None)
        head, first = self._news(after, topics)
        return LogNews(after=after, head=head, first=first)


NewsStatement = Callable[[int, list[str]], tuple[int, int | None]]


def _news_statement(recorder: Any) -> NewsStatement | None:
    """The one-statement read of `EventSourcedCaseStore.log_news` on this recorder's
    database (None: neither SQLite's nor PostgreSQL's)."""
    from eventsourcing.persistence import OperationalError, PersistenceError
    from eventsourcing.postgres import PostgresApplicationRecorder
    from eventsourcing.sqlite import SQLiteApplicationRecorder

    if isinstance(recorder, PostgresApplicationRecorder):
        datastore: Any = recorder.datastore
        from psycopg.sql import SQL, Identifier

        statement = SQL(
            "SELECT (SELECT max(notification_id) FROM {t}) AS head,"
            " (SELECT notification_id FROM {t} WHERE notification_id > %s"
            " AND topic = ANY(%s) ORDER BY notification_id LIMIT 1) AS first"
        ).format(t=Identifier(datastore.schema, recorder.events_table_name))

        def on_postgres(after: int, topics: list[str]) -> tuple[int, int | None]:
            with datastore.get_connection() as connection, connection.cursor() as cursor:
                cursor.execute(statement, (after, topics), prepare=True)
                row = cursor.fetchone()
            return int(row["head"] or 0), row["first"]

        return on_postgres
    if isinstance(recorder, SQLiteApplicationRecorder):
        import sqlite3

        datastore = recorder.datastore
        table = recorder.events_table_name
        statements: dict[int, str] = {}

        def on_sqlite(after: int, topics: list[str]) -> tuple[int, int | None]:
            statement = statements.get(len(topics))
            if statement is None:
                marks = ",".join("?" * len(topics)) or "NULL"
                statement = statements[len(topics)] = (
                    f"SELECT (SELECT max(rowid) FROM {table}) AS head,"
                    f" (SELECT rowid FROM {table} WHERE rowid > ? AND topic IN ({marks})"
                    " ORDER BY rowid LIMIT 1) AS first"
                )
            try:  # autocommit: one statement sees one snapshot by itself
                with datastore.get_connection(commit=False) as conn, conn.cursor() as c:
                    c.execute(statement, (after, *topics))
                    row = c.fetchone()
            except sqlite3.OperationalError as error:  # as the library's transactions say it
                raise OperationalError(str(error)) from error
            except sqlite3.Error as error:
                raise PersistenceError(str(error)) from error
            return int(row["head"] or 0), row["first"]

        return on_sqlite
    return None
