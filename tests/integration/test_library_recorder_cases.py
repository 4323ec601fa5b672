"""eventsourcing's own recorder test cases, run against the project's subclassed recorders.

`BulkSQLiteApplicationRecorder` and `BulkPostgresApplicationRecorder` replace how a batch is
inserted; the library's `ApplicationRecorderTestCase` says what any application recorder must
do (insert and select, conflicts, notification ids, concurrent writers without conflicts),
so it runs here unchanged on both. Its two timing-only cases (`test_performance`,
`test_concurrent_throughput`: they print figures and assert nothing about them) are left out:
speed is measured by the project's benchmark.
"""

from __future__ import annotations

import tempfile
import uuid
from pathlib import Path

import pytest
from eventsourcing.persistence import ApplicationRecorder
from eventsourcing.sqlite import SQLiteDatastore
from eventsourcing.tests.persistence import ApplicationRecorderTestCase

from adapters.eventstore.sqlite_recorder import BulkSQLiteApplicationRecorder
from tests.conftest import (
    PG_HOST,
    PG_PORT,
    PG_USER,
    _admin,
    postgres_available,
    required_in_ci,
)


class TestBulkSQLiteApplicationRecorder(ApplicationRecorderTestCase[BulkSQLiteApplicationRecorder]):
    test_performance = None  # type: ignore[assignment]  # timing only: the benchmark's
    test_concurrent_throughput = None  # type: ignore[assignment]

    def setUp(self) -> None:
        self.folder = tempfile.TemporaryDirectory()
        self.path = Path(self.folder.name) / "events.sqlite"

    def tearDown(self) -> None:
        self.folder.cleanup()

    def create_recorder(self) -> BulkSQLiteApplicationRecorder:
        recorder = BulkSQLiteApplicationRecorder(SQLiteDatastore(db_name=str(self.path)))
        recorder.create_table()
        return recorder


@pytest.mark.postgres
class TestBulkPostgresApplicationRecorder(ApplicationRecorderTestCase[ApplicationRecorder]):
    test_performance = None  # type: ignore[assignment]
    test_concurrent_throughput = None  # type: ignore[assignment]

    def setUp(self) -> None:
        why = postgres_available()
        if why is not None:
            required_in_ci(why, "PostgreSQL")
        self.dbname = f"backoffice_lib_{uuid.uuid4().hex[:12]}"
        with _admin() as conn:
            conn.execute(f'CREATE DATABASE "{self.dbname}"')
        self.datastores: list[object] = []

    def tearDown(self) -> None:
        for datastore in self.datastores:
            datastore.close()  # type: ignore[attr-defined]
        with _admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.dbname}" WITH (FORCE)')

    def create_recorder(self) -> ApplicationRecorder:
        from eventsourcing.postgres import PostgresDatastore

        from adapters.eventstore.postgres_recorder import BulkPostgresApplicationRecorder

        datastore = PostgresDatastore(
            self.dbname, PG_HOST, PG_PORT, PG_USER, "", pool_size=4, max_overflow=8
        )
        self.datastores.append(datastore)
        recorder = BulkPostgresApplicationRecorder(datastore)
        recorder.create_table()
        return recorder
