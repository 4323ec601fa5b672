"""What every SQL read model here shares: one transaction for rows and tracked position.

A view is an eventsourcing `TrackingRecorder` (SQLite or PostgreSQL) with tables of its own.
`project` writes the rows an event batch changes and the batch's last log position in one
transaction: a batch is never applied twice (the position only moves forward) and a restart
resumes where it stopped. SQL is written once, with `?` placeholders; times are fixed-width
UTC text, so text order is time order on both backends.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, Protocol

from eventsourcing.persistence import InfrastructureFactory, IntegrityError, Tracking
from eventsourcing.sqlite import SQLiteTrackingRecorder
from eventsourcing.utils import Environment

from adapters.eventstore.sqlite_recorder import write_transaction
from application.ports.cases import AnyEvent, ConcurrencyConflict, LoggedEvent

UPSTREAM = "Cases"
"""The application whose log the views follow (their tracking name)."""

_TIME_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"

log = logging.getLogger(__name__)


@functools.lru_cache(maxsize=65_536)
def ts(value: datetime) -> str:
    return value.astimezone(UTC).strftime(_TIME_FORMAT)


def dt(value: str | None) -> datetime | None:
    if value is None:
        return None
    return datetime.strptime(value, _TIME_FORMAT).replace(tzinfo=UTC)


def dt_required(value: str) -> datetime:
    """A NOT NULL time column."""
    parsed = dt(value)
    assert parsed is not None
    return parsed


class Cursor(Protocol):
    def execute(self, sql: Any, params: Any = ...) -> Any: ...
    def executemany(self, sql: Any, params: Any) -> Any: ...
    def fetchall(self) -> Any: ...
    def fetchone(self) -> Any: ...


class SqlView:
    """Mixed in before a backend's TrackingRecorder; subclasses give `tables`, `_project`."""

    placeholder = "?"
    tables: tuple[str, ...] = ()
    view_name = "view"
    """Names the view in `view_schemas` (on PostgreSQL the views share one database)."""

    if TYPE_CHECKING:  # supplied by the backend's TrackingRecorder
        datastore: Any

        def _insert_tracking(self, c: Any, tracking: Tracking) -> None: ...
        def _max_tracking_id(self, application_name: str, c: Any) -> int | None: ...
        def max_tracking_id(self, application_name: str) -> int | None: ...

    @contextmanager
    def _transaction(self, *, commit: bool) -> Iterator[Any]:
        with self.datastore.transaction(commit=commit) as c:
            yield c

    @contextmanager
    def _write_transaction(self, rows: int) -> Iterator[Any]:
        """The transaction that projects `rows` events (SQLite tunes it for large batches)."""
        with self._transaction(commit=True) as c:
            yield c

    def close(self) -> None:
        self.datastore.close()

    def _sql(self, statement: str) -> str:
        return statement if self.placeholder == "?" else statement.replace("?", "%s")

    def _in(self, column: str, values: Sequence[str]) -> tuple[str, list[Any]]:
        return f"{column} IN ({', '.join('?' * len(values))})", list(values)

    def position(self) -> int:
        return self.max_tracking_id(UPSTREAM) or 0

    schema_version = 1
    """The shape of this view's tables; a view written by another shape is rebuilt."""

    def create_table(self) -> None:
        if self._shape_is_current():  # the usual start: read only, nothing written
            super().create_table()  # type: ignore[misc]  # the backend's TrackingRecorder's
            return
        rebuilt = self._drop_other_shape()
        super().create_table()  # type: ignore[misc]
        self._record_shape(rebuilt=rebuilt)

    def _shape_is_current(self) -> bool:
        with self._transaction(commit=False) as c:
            if not self._table_exists(c, "view_schemas"):
                return False
            c.execute(
                self._sql("SELECT version FROM view_schemas WHERE view_name = ?"),
                (self.view_name,),
            )
            row = c.fetchone()
        return row is not None and int(row["version"]) == self.schema_version

    def _drop_other_shape(self) -> bool:
        """When the tables were written by another shape of this view (an older release),
        drop them: `create_table` then makes them anew and the view is projected again from
        the first event. True when it did so. Runs before the tables are created, at
        start-up, under the schema lock (`adapters.schema_lock`)."""
        with self._write_transaction(0) as c:
            c.execute(
                "CREATE TABLE IF NOT EXISTS view_schemas"
                " (view_name TEXT PRIMARY KEY, version INTEGER NOT NULL)"
            )
            c.execute(
                self._sql("SELECT version FROM view_schemas WHERE view_name = ?"),
                (self.view_name,),
            )
            row = c.fetchone()
            found = None if row is None else int(row["version"])
            names = [t.split()[5] for t in self.tables if t.startswith("CREATE TABLE")]
            existing = [name for name in names if self._table_exists(c, name)]
            if found == self.schema_version or not existing:
                return False
            if found is None and self.schema_version == 1:
                return False  # written before shapes were recorded, in this shape
            for name in existing:
                c.execute(f"DROP TABLE {name}")
        return True

    def _record_shape(self, *, rebuilt: bool) -> None:
        with self._write_transaction(0) as c:
            if rebuilt:  # project everything again, from the first event
                c.execute(self._sql(self._delete_tracking_sql()), (UPSTREAM,))
            c.execute(self._sql("DELETE FROM view_schemas WHERE view_name = ?"), (self.view_name,))
            c.execute(
                self._sql("INSERT INTO view_schemas (view_name, version) VALUES (?, ?)"),
                (self.view_name, self.schema_version),
            )
        if rebuilt:
            log.warning("%s: written by an older release; rebuilding it from the log",
                        self.view_name)  # fmt: skip

    def _table_exists(self, c: Any, name: str) -> bool:
        c.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,))
        return c.fetchone() is not None

    kinds: Collection[type[AnyEvent]] | None = None

    def project(
        self, events: Sequence[LoggedEvent], through: int | None = None, after: int | None = None
    ) -> None:
        last = events[-1].position if events else 0
        if through is not None and through < last:
            raise ValueError(f"through {through} is before the last event ({last})")
        position = last if through is None else through
        if not position:
            return
        try:
            with self._write_transaction(len(events)) as c:
                current = self._max_tracking_id(UPSTREAM, c) or 0
                first = events[0].position if events else position
                if first <= current:
                    raise IntegrityError(f"position {first} already projected")
                if after is not None and current != after:
                    # Read from `after`, but the view has moved (a rebuild reset it, or
                    # another projector went on): what lies between would be skipped.
                    raise IntegrityError(f"the view is at {current}, not at {after}")
                if events:
                    self._project(c, events)
                self._insert_tracking(c, Tracking(UPSTREAM, position))
        except IntegrityError as error:
            raise ConcurrencyConflict(
                f"{type(self).__name__} is already at or past position {position}"
            ) from error

    def _project(self, c: Cursor, events: Sequence[LoggedEvent]) -> None:
        raise NotImplementedError

    def reset(self) -> None:
        with self._transaction(commit=True) as c:
            for statement in self.tables:
                if statement.startswith("CREATE TABLE"):
                    name = statement.split()[5]
                    c.execute(f"DELETE FROM {name}")
            c.execute(self._sql(self._delete_tracking_sql()), (UPSTREAM,))

    def _delete_tracking_sql(self) -> str:
        return "DELETE FROM tracking WHERE application_name = ?"


class SQLiteView(SqlView, SQLiteTrackingRecorder):
    @contextmanager
    def _write_transaction(self, rows: int) -> Iterator[Any]:
        with write_transaction(self.datastore, rows, immediate=True) as c:
            yield c

    def construct_create_table_statements(self) -> list[str]:
        return [*super().construct_create_table_statements(), *self.tables]


def open_view(
    env: Mapping[str, str], name: str, sqlite: type[SQLiteView], postgres: str
) -> SqlView:
    """Build a view for the environment (`PERSISTENCE_MODULE` and its settings). `postgres`
    names its PostgreSQL class in `adapters.postgres_views`, imported (with the driver) only
    when the environment is PostgreSQL: a command on SQLite never loads it."""
    factory = InfrastructureFactory.construct(Environment(name, dict(env)))
    module = env.get("PERSISTENCE_MODULE", "")
    cls: type[SqlView] = sqlite
    if module.endswith("postgres"):
        from adapters import postgres_views

        cls = getattr(postgres_views, postgres)
    view = factory.tracking_recorder(cls)  # type: ignore[arg-type]
    assert isinstance(view, SqlView)
    return view
