"""Fixtures of the fault-injection tests: each test on SQLite and on PostgreSQL, with as many
separate back offices (data folder and database) as it needs."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from tests.conftest import PG_HOST, PG_PORT, PG_USER, postgres_available, required_in_ci
from tests.faults.harness import Target

NewTarget = Callable[[str], Target]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def backend(request: pytest.FixtureRequest) -> str:
    name: str = request.param
    return name


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(
        host=PG_HOST, port=PG_PORT, user=PG_USER, dbname="postgres", autocommit=True,
        connect_timeout=3,
    )  # fmt: skip


@pytest.fixture
def new_target(backend: str, tmp_path: Path) -> Iterator[NewTarget]:
    """Makes a back office of its own (`name`: its data folder): on PostgreSQL a fresh
    database each, dropped afterwards (skipped without a server, failed in CI)."""
    created: list[str] = []
    if backend == "postgres":
        why = postgres_available()
        if why is not None:
            required_in_ci(why, "PostgreSQL")

    def make(name: str) -> Target:
        data_dir = tmp_path / name
        if backend == "sqlite":
            return Target(data_dir, "sqlite")
        database = f"backoffice_faults_{uuid.uuid4().hex[:12]}"
        with _admin() as conn:
            conn.execute(f'CREATE DATABASE "{database}"')
        created.append(database)
        return Target(data_dir, f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{database}")

    yield make
    if created:
        with _admin() as conn:
            for database in created:
                conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
