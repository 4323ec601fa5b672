"""Shared fixtures: a fixed clock, builders of intake records, and the backends.

PostgreSQL tests need a server: in CI (`CI=true`) a missing server fails them; elsewhere
they are skipped with the reason. Each PostgreSQL test gets a database of its own.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import NoReturn

import psycopg
import pytest

from adapters.clock import FixedClock
from application.intake.records import IntakeRecord
from application.ports.accounts import AccessRole, Account
from application.service import Backoffice
from domain.values import (
    Actor,
    Category,
    Channel,
    LineOfBusiness,
    Resolution,
    SourceKey,
    Subcategory,
)
from entrypoints.bootstrap import bootstrap
from entrypoints.settings import load_settings

T0 = datetime(2026, 7, 15, 14, 0, tzinfo=UTC)
PG_HOST = os.environ.get("BACKOFFICE_TEST_PG_HOST", "127.0.0.1")
PG_PORT = int(os.environ.get("BACKOFFICE_TEST_PG_PORT", "5432"))
PG_USER = os.environ.get("BACKOFFICE_TEST_PG_USER", "postgres")


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(T0)


def stored_account(login: str = "maria.b", **changes: object) -> Account:
    """An agent's account as a store keeps it (a made-up Argon2 hash), with `changes`."""
    values: dict[str, object] = {
        "login": login,
        "role": AccessRole.AGENT,
        "name": "María Báez",
        "password_hash": "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaA",
        "created_at": T0,
        "updated_at": T0,
    }
    values.update(changes)
    return Account(**values)  # type: ignore[arg-type]


def record(key: str, **changes: object) -> IntakeRecord:
    values: dict[str, object] = {
        "source": SourceKey(Channel.CRM, key),
        "received_at": T0 - timedelta(hours=1),
        "account": f"ACC-{key}",
        "line": LineOfBusiness.HOGAR,
        "customer_name": "Cliente Prueba",
        "typification": "Falla internet",
        "request": "No tiene servicio",
        "follow_up_at": T0 + timedelta(days=1),
        "front_agent": "front01",
        "recommended_by": None,
        "location": f"test:{key}",
    }
    values.update(changes)
    return IntakeRecord(**values)  # type: ignore[arg-type]


def close_case(office: Backoffice, reference: str | uuid.UUID) -> None:
    """Close a case the way an agent does: follow-ups done, interpreted, typified (first
    contact), the closing protocol, then the closing."""
    agent = Actor.agent("maria.b")
    for _ in office.case(reference).pending_follow_ups:
        office.complete_follow_up(reference, outcome="llamada hecha", actor=agent)
    office.interpret(reference, category=Category.SAC, subcategory=Subcategory.CARTERA, actor=agent)
    office.typify(reference, marking_code="M-1", resolution=Resolution.FIRST_CONTACT, actor=agent)
    office.complete_closing_protocol(
        reference,
        resolution_explained=True,
        nothing_else_pending=True,
        closing_script_read=True,
        survey_invited=True,
        actor=agent,
    )
    office.close_case(reference, summary="resuelto", actor=agent)


def _admin() -> psycopg.Connection[tuple[object, ...]]:
    return psycopg.connect(
        host=PG_HOST,
        port=PG_PORT,
        user=PG_USER,
        dbname="postgres",
        autocommit=True,
        connect_timeout=3,
    )


def postgres_available() -> str | None:
    """None when a server answers; otherwise why not."""
    try:
        with _admin():
            return None
    except psycopg.Error as error:
        return f"no PostgreSQL server at {PG_HOST}:{PG_PORT} ({error})".strip()


def in_ci() -> bool:
    """Whether this run is CI's (`CI` set to 1, true or yes, as runners set it)."""
    return os.environ.get("CI", "").lower() in ("1", "true", "yes")


def required_in_ci(why: str, what: str) -> NoReturn:
    """Skip a test whose service is missing, with the reason; in CI fail it instead: there
    `what` is required, and a skip would pass the run without checking it."""
    if in_ci():
        pytest.fail(f"{what} is required in CI: {why}")
    pytest.skip(why)


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh, empty database for one test; dropped afterwards."""
    why = postgres_available()
    if why is not None:
        required_in_ci(why, "PostgreSQL")
    name = f"backoffice_test_{uuid.uuid4().hex[:12]}"
    with _admin() as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"postgresql://{PG_USER}@{PG_HOST}:{PG_PORT}/{name}"
    finally:
        with _admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


BACKENDS = ["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]


@pytest.fixture(params=BACKENDS)
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "postgres":
        url: str = request.getfixturevalue("postgres_url")
        return url
    return str(request.param)


@pytest.fixture
def office(backend_url: str, tmp_path: Path, clock: FixedClock) -> Iterator[Backoffice]:
    settings = load_settings(environ={}, data_dir=str(tmp_path / "data"), database_url=backend_url)
    with bootstrap(settings, clock=clock) as office:
        yield office
