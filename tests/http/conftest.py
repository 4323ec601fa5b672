"""An HTTP service over a real office (SQLite, or PostgreSQL), in process, with accounts
of every role: the fast tests of the API. `tests/e2e/test_serve.py` runs a real server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import argon2
import pytest
from litestar import Litestar
from litestar.testing import TestClient

from adapters.accounts import Argon2Hasher
from adapters.clock import FixedClock
from application.access.accounts import Accounts
from application.ports.accounts import AccessRole
from application.service import Backoffice
from entrypoints import bootstrap
from entrypoints.http.app import create_app
from entrypoints.http.common import Service
from entrypoints.settings import load_settings
from tests.conftest import record

PASSWORD = "clave-de-prueba-123"
ROLES = {
    "maria.b": AccessRole.AGENT,
    "carlos.m": AccessRole.AGENT,
    "sofia.t": AccessRole.SUPERVISOR,
    "coord.c": AccessRole.COORDINATOR,
    "gerente.g": AccessRole.MANAGER,
    "audit.a": AccessRole.AUDITOR,
    "crm-front": AccessRole.INTEGRATION,
    "admin.x": AccessRole.ADMIN,
}


class Api:
    """A test client, signed in as one user at a time, sending the CSRF token with changes."""

    def __init__(self, client: TestClient[Any], accounts: Accounts, office: Backoffice) -> None:
        self.client = client
        self.accounts = accounts
        self.office = office
        self.csrf: str | None = None

    def sign_in(self, login: str, password: str = PASSWORD) -> Any:
        self.client.cookies.clear()
        answer = self.client.post("/session", json={"login": login, "password": password})
        self.csrf = answer.json().get("csrf_token") if answer.status_code == 200 else None
        return answer

    def headers(self, extra: dict[str, str] | None = None) -> dict[str, str]:
        headers = {"X-CSRF-Token": self.csrf} if self.csrf else {}
        return {**headers, **(extra or {})}

    def get(self, path: str, **params: Any) -> Any:
        return self.client.get(path, params=params)

    def post(self, path: str, body: dict[str, Any], **headers: str) -> Any:
        return self.client.post(path, json=body, headers=self.headers(headers))

    def command(self, name: str, body: dict[str, Any], **headers: str) -> Any:
        return self.post(f"/commands/{name}", body, **headers)


def served_office(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FixedClock
) -> tuple[Litestar, Accounts, Backoffice]:
    """The application over a real office (SQLite, or PostgreSQL by the fixture's param) with
    two cases and an account of every role: what `api` serves in process, and
    `test_served.py` over TCP. The application's shutdown closes the office and accounts."""
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else "sqlite"
    settings = load_settings(
        environ={}, data_dir=str(tmp_path / "data"), database_url=url, secure_cookies="false"
    )
    office = bootstrap.bootstrap(settings, clock=clock)
    office.ingest([record("CRM-1", account="80012345"), record("CRM-2", account="80099999")])
    accounts = bootstrap.accounts(office, settings, hasher=Argon2Hasher(argon2.profiles.CHEAPEST))
    for login, role in ROLES.items():
        password = None if role is AccessRole.INTEGRATION else PASSWORD
        accounts.add(login, role, login.title(), password)
    service = Service(office, bootstrap.dispatcher(office, settings), accounts)
    app = create_app(settings, service=lambda: service, session_secret=b"k" * 32)
    return app, accounts, office


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def api(request: pytest.FixtureRequest, tmp_path: Path, clock: FixedClock) -> Iterator[Api]:
    app, accounts, office = served_office(request, tmp_path, clock)
    with TestClient(app) as client:  # its shutdown closes the office and the accounts
        yield Api(client, accounts, office)


def problem_of(answer: Any, status: int) -> dict[str, Any]:
    """The problem document (RFC 9457) of an answer that must have `status`."""
    assert answer.status_code == status, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body: dict[str, Any] = answer.json()
    return body


def fields_of(answer: Any, status: int = 422) -> dict[str, str]:
    """A refusal's errors, field by field: {field: reason}."""
    return {e["field"]: e["reason"] for e in problem_of(answer, status)["errors"]}


def a_case(api: Api, key: str = "CRM-1") -> str:
    """The id of the case of source key `key` in the service's office."""
    [row] = [row for row in api.office.cases() if row.source.key == key]
    return str(row.case_id)
