"""The SQL views on PostgreSQL: the case index and the indicators.

Kept apart from `adapters.sql_view` so that the driver (psycopg) and eventsourcing's
PostgreSQL module are imported only by a process whose settings name PostgreSQL
(`sql_view.open_view` imports this module then).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from eventsourcing.postgres import PostgresTrackingRecorder
from psycopg.sql import SQL

from adapters.case_index import _CaseIndex
from adapters.indicator_view import _IndicatorView
from adapters.sql_view import UPSTREAM, SqlView


class PostgresView(SqlView, PostgresTrackingRecorder):
    placeholder = "%s"

    @contextmanager
    def _write_transaction(self, rows: int) -> Iterator[Any]:
        """One projector writes this view at a time: processes that catch it up together
        take turns (a transaction-scoped advisory lock) instead of locking its rows in
        different orders and deadlocking; the next one then finds the position moved on."""
        with self._transaction(commit=True) as c:
            c.execute("SELECT pg_advisory_xact_lock(%s)", (self._writers_key(),))
            yield c

    def _writers_key(self) -> int:
        digest = hashlib.sha256(f"backoffice view {self.tracking_table_name}".encode()).digest()
        return int.from_bytes(digest[:8], "big", signed=True)

    def reset(self) -> None:
        with self._write_transaction(0) as c:
            for statement in self.tables:
                if statement.startswith("CREATE TABLE"):
                    c.execute(f"DELETE FROM {statement.split()[5]}")
            c.execute(self._sql(self._delete_tracking_sql()), (UPSTREAM,))

    def create_table(self) -> None:
        """Run the DDL only when something is missing or of another shape: it locks what
        running workers write. An index added by a later release is missing too: it is built
        once on the rows there are (`CREATE INDEX IF NOT EXISTS`), nothing is projected again."""
        names = [self.tracking_table_name, "view_schemas"]
        # `CREATE TABLE IF NOT EXISTS name …` and `CREATE INDEX IF NOT EXISTS name ON …`.
        names += [statement.split()[5] for statement in self.tables]
        with self.datastore.transaction(commit=False) as c:
            if all(self._table_exists(c, name) for name in names):
                c.execute(
                    "SELECT version FROM view_schemas WHERE view_name = %s", (self.view_name,)
                )
                row = c.fetchone()
                if row is not None and row["version"] == self.schema_version:
                    return
        super().create_table()

    def _table_exists(self, c: Any, name: str) -> bool:
        c.execute("SELECT to_regclass(%s) AS found", (name,))
        return c.fetchone()["found"] is not None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.sql_create_statements.extend(SQL(statement).format() for statement in self.tables)

    def _in(self, column: str, values: Sequence[str]) -> tuple[str, list[Any]]:
        return f"{column} = ANY(?)", [list(values)]

    def _delete_tracking_sql(self) -> str:
        return f"DELETE FROM {self.tracking_table_name} WHERE application_name = ?"


class PostgresCaseIndex(_CaseIndex, PostgresView):
    pass


class PostgresIndicatorView(_IndicatorView, PostgresView):
    pass
