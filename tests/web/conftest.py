"""The console over a real office (SQLite, or PostgreSQL) with Claro's systems answered by
the local contract stub, in process: the fast tests of its pages and forms. `tests/browser`
drives the same application in Chromium over a real server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
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
from tests.http.conftest import PASSWORD, ROLES
from tests.integration.test_system_contracts import fresh_record
from tests.stub_systems import Stub, serve

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
ACCOUNTS = ("80012345", "80099999", "80077777")
"""The accounts of the cases the office starts with (CRM-1, CRM-2, CRM-3), known to RR."""
NAMES = {"maria.b": "María Bernal", "carlos.m": "Carlos Mejía", "sofia.t": "Sofía Torres",
         "audit.a": "Auditoría Interna"}  # fmt: skip
"""The people's names on their accounts (the others: the login, capitalised), which the
console shows instead of logins."""


@contextmanager
def claro_systems() -> Iterator[tuple[Stub, str]]:
    """Claro's systems (RR, AC, DIME, Diagnosticador, WFM) as the contract's stub on a loopback
    port, with the cases' accounts in RR: the stub and its address."""
    systems = Stub()
    for account in ACCOUNTS:
        systems.accounts.accounts[account] = fresh_record()
    with serve(systems) as url:
        yield systems, url


@pytest.fixture
def stub() -> Iterator[tuple[Stub, str]]:
    with claro_systems() as systems:
        yield systems


def console_app(
    tmp_path: Path, clock: FixedClock, database_url: str, systems_url: str
) -> tuple[Litestar, Accounts, Backoffice]:
    """The application over a real office with the examples' contact matrix, markings and
    regulation, the systems at `systems_url`, three cases and an account of every role."""
    settings = load_settings(
        environ={}, data_dir=str(tmp_path / "data"), database_url=database_url,
        secure_cookies="false", contact_matrix=str(EXAMPLES / "contact_matrix.toml"),
        markings=str(EXAMPLES / "markings.toml"), regulation=str(EXAMPLES / "regulation.toml"),
        rr_url=systems_url, ac_url=systems_url, dime_url=systems_url,
        diagnostics_url=systems_url, wfm_url=systems_url, systems_timeout_seconds="2",
    )  # fmt: skip
    office = bootstrap.bootstrap(settings, clock=clock)
    office.ingest([record(f"CRM-{n}", account=account, customer_name=f"Cliente {n}")
                   for n, account in enumerate(ACCOUNTS, 1)])  # fmt: skip
    accounts = bootstrap.accounts(office, settings, hasher=Argon2Hasher(argon2.profiles.CHEAPEST))
    for login, role in ROLES.items():
        password = None if role is AccessRole.INTEGRATION else PASSWORD
        accounts.add(login, role, NAMES.get(login, login.title()), password)
    service = Service(office, bootstrap.dispatcher(office, settings), accounts)
    app = create_app(settings, service=lambda: service, session_secret=b"k" * 32)
    return app, accounts, office


class Console:
    """A browser without scripts: signs in through the form, follows redirects, and posts
    forms with the CSRF token and the case version the last page carried."""

    def __init__(self, client: TestClient[Any], accounts: Accounts, office: Backoffice) -> None:
        self.client = client
        self.accounts = accounts
        self.office = office
        self.page = ""

    def sign_in(self, login: str, password: str = PASSWORD) -> Any:
        self.client.cookies.clear()
        self.get("/console/sign-in")
        return self.post("/console/sign-in", {"login": login, "password": password, "next": ""})

    def get(self, path: str, **params: Any) -> Any:
        answer = self.client.get(path, params=params, follow_redirects=True)
        self.page = answer.text
        return answer

    @property
    def csrf(self) -> str:
        found = re.search(r'name="csrf" value="([^"]*)"', self.page)
        return found.group(1) if found else ""

    def post(self, path: str, form: dict[str, str], *, csrf: str | None = None) -> Any:
        data = {"csrf": self.csrf if csrf is None else csrf, **form}
        answer = self.client.post(path, data=data, follow_redirects=True)
        self.page = answer.text
        return answer

    def step(self, case: str, command: str, form: dict[str, str]) -> Any:
        """Send a step of the case page, as the page showed it (its version)."""
        version = re.search(r'name="version" value="(\d+)"', self.page)
        assert version is not None, "the page shows no step"
        return self.post(f"/console/cases/{case}/do/{command}",
                         {"version": version.group(1), **form})  # fmt: skip

    def case_id(self, key: str) -> str:
        return str(self.office.resolve(key))


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def console(
    request: pytest.FixtureRequest, tmp_path: Path, clock: FixedClock, stub: tuple[Stub, str]
) -> Iterator[Console]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else "sqlite"
    app, accounts, office = console_app(tmp_path, clock, url, stub[1])
    with TestClient(app) as client:
        yield Console(client, accounts, office)
