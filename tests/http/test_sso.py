"""Single sign-on by a trusted reverse proxy's header (issue 13): off by default; from the
configured proxies only (from any other address the header is ignored, and a warning says so
without its value); the account must exist and pass the same checks as a session; a change
needs the CSRF token that `GET /session` gives; the proxy's sign-in does not outlive its
header. On SQLite and PostgreSQL. `build_api` also serves `test_metrics.py`."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import argon2
import pytest
from litestar.enums import ScopeType
from litestar.testing import TestClient
from litestar.types import ASGIApp, Receive, Scope, Send

from adapters.accounts import Argon2Hasher
from adapters.clock import FixedClock
from application.ports.accounts import AccessRole
from entrypoints import bootstrap
from entrypoints.http.app import create_app
from entrypoints.http.common import Service
from entrypoints.settings import Settings, SettingsError, load_settings
from tests.conftest import record
from tests.http.conftest import PASSWORD, ROLES, Api

PEER = "X-Test-Peer"
"""The tests' way to say which address a request comes from (the test client's is fixed)."""
PROXY = "10.0.0.5"
USER = "X-Forwarded-User"


def from_peer(app: ASGIApp) -> ASGIApp:
    """The application, seeing each request as coming from the address in `X-Test-Peer`
    (default: the test client's `testclient`, not an address)."""

    async def wrapped(scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == ScopeType.HTTP:
            headers = dict(scope["headers"])
            peer = headers.get(PEER.lower().encode())
            if peer is not None:
                scope["client"] = (peer.decode(), 50_000)
                scope["headers"] = [
                    (k, v) for k, v in scope["headers"] if k != PEER.lower().encode()
                ]
        await app(scope, receive, send)

    return wrapped


@contextmanager
def build_api(
    url: str, data_dir: Path, clock: FixedClock, *, outbox: bool = False, **settings: str
) -> Iterator[Api]:
    """Like `tests/http/conftest.py`'s `api`, with more settings; `outbox`: the service
    reports where the outbox is (as `backoffice serve` does)."""
    config = load_settings(
        environ={}, data_dir=str(data_dir), database_url=url, secure_cookies="false", **settings
    )
    office = bootstrap.bootstrap(config, clock=clock)
    office.ingest([record("CRM-1", account="80012345"), record("CRM-2", account="80099999")])
    accounts = bootstrap.accounts(office, config, hasher=Argon2Hasher(argon2.profiles.CHEAPEST))
    for login, role in ROLES.items():
        password = None if role is AccessRole.INTEGRATION else PASSWORD
        accounts.add(login, role, login.title(), password)
    tracker = bootstrap.outbox_position(config) if outbox else None
    service = Service(office, bootstrap.dispatcher(office, config), accounts, tracker)
    app = create_app(config, service=lambda: service, session_secret=b"k" * 32)
    with TestClient(from_peer(app)) as client:
        yield Api(client, accounts, office)


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def sso(request: pytest.FixtureRequest, tmp_path: Path, clock: FixedClock) -> Iterator[Api]:
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else "sqlite"
    with build_api(
        url, tmp_path / "data", clock, trusted_user_header=USER,
        trusted_proxies=f"127.0.0.1, {PROXY}/32, fd00::/8",
    ) as api:  # fmt: skip
        yield api


def via_proxy(login: str, **headers: str) -> dict[str, str]:
    return {PEER: PROXY, USER: login, **headers}


def first_case(api: Api) -> str:
    answer = api.client.get("/cases", params={"search": "CRM-1"}, headers=via_proxy("audit.a"))
    [row] = answer.json()
    return str(row["case_id"])


def test_the_proxys_header_signs_in_its_user_with_the_accounts_role(sso: Api) -> None:
    me = sso.client.get("/session", headers=via_proxy("Maria.B"))  # logins are lower case
    assert me.status_code == 200, me.text
    assert (me.json()["login"], me.json()["role"]) == ("maria.b", "agent")
    assert me.json()["csrf_token"]
    cases = sso.client.get("/cases", headers=via_proxy("maria.b"))
    assert cases.status_code == 200
    assert sso.client.get("/cases", headers=via_proxy("crm-front")).status_code == 403


def test_a_change_by_the_header_needs_the_csrf_token_of_get_session(sso: Api) -> None:
    case = first_case(sso)
    sso.client.cookies.clear()
    body = {"case": case, "text": "Llamó el cliente"}
    bare = sso.client.post("/commands/add-note", json=body, headers=via_proxy("maria.b"))
    assert bare.status_code == 403
    assert "X-CSRF-Token" in bare.json()["detail"]
    token = sso.client.get("/session", headers=via_proxy("maria.b")).json()["csrf_token"]
    again = sso.client.get("/session", headers=via_proxy("maria.b")).json()["csrf_token"]
    assert again == token  # one token for the session
    wrong = via_proxy("maria.b", **{"X-CSRF-Token": "not-the-token"})
    assert sso.client.post("/commands/add-note", json=body, headers=wrong).status_code == 403
    done = sso.client.post(
        "/commands/add-note", json=body, headers=via_proxy("maria.b", **{"X-CSRF-Token": token})
    )
    assert done.status_code == 200, done.text
    [event] = done.json()["events"]
    assert event["actor"] == "agent:maria.b"
    # maria.b's session and token do not make a change of another user's header
    other = via_proxy("carlos.m", **{"X-CSRF-Token": token})
    assert sso.client.post("/commands/add-note", json=body, headers=other).status_code == 403


def test_the_header_from_another_address_is_ignored_and_said_without_its_value(
    sso: Api, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="backoffice.http"):
        for peer in ("10.0.0.6", "192.168.1.5", "testclient"):
            answer = sso.client.get("/session", headers={PEER: peer, USER: "sofia.t"})
            assert answer.status_code == 401
    warnings = [r.getMessage() for r in caplog.records if r.name == "backoffice.http"]
    assert len(warnings) == 3
    assert all(USER in text and "sofia.t" not in text for text in warnings)
    # IPv6 networks and the loopback are trusted as configured
    for peer in ("fd00::1", "127.0.0.1"):
        answer = sso.client.get("/session", headers={PEER: peer, USER: "sofia.t"})
        assert answer.json()["login"] == "sofia.t"


def test_the_header_needs_an_account_that_passes_the_same_checks(sso: Api) -> None:
    unknown = sso.client.get("/session", headers=via_proxy("nadie.n"))
    assert unknown.status_code == 401
    sso.accounts.disable("carlos.m")
    disabled = sso.client.get("/session", headers=via_proxy("carlos.m"))
    assert (disabled.status_code, disabled.json()["detail"]) == (401, "the account is disabled")
    assert sso.client.get("/session", headers=via_proxy("  ")).status_code == 401


def test_the_proxys_sign_in_ends_with_its_header(sso: Api) -> None:
    token = sso.client.get("/session", headers=via_proxy("sofia.t")).json()["csrf_token"]
    # the session cookie made for the header's user is no sign-in by itself
    alone = sso.client.get("/session", headers={PEER: PROXY})
    assert alone.status_code == 401
    assert "single sign-on" in alone.json()["detail"]
    refused = sso.client.post(
        "/commands/add-note", json={"case": first_case(sso), "text": "x"},
        headers={PEER: PROXY, "X-CSRF-Token": token},
    )  # fmt: skip
    assert refused.status_code == 401
    # a bearer token still wins over the header (an integration behind the same proxy)
    _, secret = sso.accounts.issue_token("crm-front", "intake")
    who = sso.client.get("/session", headers=via_proxy("sofia.t", Authorization=f"Bearer {secret}"))
    assert who.json()["login"] == "crm-front"


def test_a_password_session_works_beside_the_single_sign_on(sso: Api) -> None:
    signed = sso.client.post(
        "/session", json={"login": "maria.b", "password": PASSWORD}, headers={PEER: "10.9.9.9"}
    )
    assert signed.status_code == 200
    me = sso.client.get("/session", headers={PEER: "10.9.9.9"})
    assert me.json()["csrf_token"] == signed.json()["csrf_token"]


def test_single_sign_on_is_off_by_default(api: Api) -> None:
    answer = api.client.get("/session", headers={USER: "maria.b"})
    assert answer.status_code == 401


@pytest.mark.parametrize(
    ("header", "proxies", "message"),
    [
        (USER, None, "go together"),
        (None, "10.0.0.1", "go together"),
        (USER, "10.0.0.1, intranet", "'intranet' is not an IP address or network"),
        ("X Forwarded User", "10.0.0.1", "is not a header"),
    ],
)
def test_the_settings_of_single_sign_on_are_checked(
    header: str | None, proxies: str | None, message: str
) -> None:
    settings = Settings(database_url="memory", trusted_user_header=header, trusted_proxies=proxies)
    with pytest.raises(SettingsError, match=message):
        create_app(settings, service=_unused, session_secret=bytes(32))


def test_the_settings_are_read_from_the_environment() -> None:
    settings = load_settings(
        environ={
            "BACKOFFICE_TRUSTED_USER_HEADER": USER,
            "BACKOFFICE_TRUSTED_PROXIES": "10.0.0.0/8,::1",
            "BACKOFFICE_METRICS_OPEN_TO": "none",
            "BACKOFFICE_READY_MAX_OUTBOX_BACKLOG": "5",
            "BACKOFFICE_READY_MAX_INDICATORS_LAG": "7",
        }
    )
    assert settings.trusted_user_header == USER
    assert [str(n) for n in settings.trusted_networks()] == ["10.0.0.0/8", "::1/128"]
    assert settings.metrics_networks() == ()
    assert (settings.ready_max_outbox_backlog, settings.ready_max_indicators_lag) == (5, 7)
    defaults = load_settings(environ={})
    assert defaults.trusted_networks() == ()
    assert [str(n) for n in defaults.metrics_networks()] == ["127.0.0.1/32", "::1/128"]


def _unused() -> Any:
    raise AssertionError("no service is needed")
