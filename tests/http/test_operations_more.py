"""What operating the API relies on, beyond `test_metrics.py`: storage down is a 503 problem
(and `/readyz` not ready, `backoffice_storage_up` 0, an open event stream ended); the session
cookie is `Secure` unless the settings say otherwise (only the demo does); an open event
stream ends once its user is disabled or off the roster; `/metrics` is open only to requests
straight from its addresses, whatever a forwarding header claims and whoever sent it. On
SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NoReturn

import argon2
import pytest
from eventsourcing.persistence import OperationalError
from litestar.testing import TestClient

from adapters.accounts import Argon2Hasher
from adapters.clock import FixedClock
from entrypoints import bootstrap
from entrypoints.http import events as live
from entrypoints.http import operations
from entrypoints.http.app import create_app
from entrypoints.http.common import Service
from entrypoints.settings import Settings, load_settings
from tests.http.conftest import Api
from tests.http.test_events import TIMEOUT, Following, parse
from tests.http.test_metrics import LOOPBACK, samples
from tests.http.test_sso import PEER, PROXY, USER, build_api

DRIVER_TEXT = "disk I/O error at /srv/backoffice/eventstore.sqlite"
"""What a failing driver says: never shown to a client."""


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue("postgres_url") if request.param == "postgres" else "sqlite"


@pytest.fixture
def served(url: str, tmp_path: Path, clock: FixedClock) -> Iterator[Api]:
    with build_api(url, tmp_path / "data", clock, trusted_user_header=USER,
                   trusted_proxies=PROXY) as api:  # fmt: skip
        yield api


@pytest.fixture(autouse=True)
def quick(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(operations, "READINGS_SECONDS", 0.0)  # read the log on each request
    monkeypatch.setattr(live, "POLL_SECONDS", 0.02)
    monkeypatch.setattr(live, "RECHECK_SECONDS", 0.05)


def case_of(api: Api, key: str) -> str:
    [row] = [row for row in api.office.cases() if row.source.key == key]
    return str(row.case_id)


def storage_down(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    """The log stops answering, as a driver's error (with its own text) says it."""

    def fails(*args: Any, **kwargs: Any) -> NoReturn:
        raise OperationalError(DRIVER_TEXT)

    for method in ("load", "history", "events_of", "last_position", "read_log"):
        monkeypatch.setattr(api.office.store, method, fails)


# --- storage down ----------------------------------------------------------------------------


def test_storage_down_is_a_503_problem_and_not_ready(
    served: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    case = case_of(served, "CRM-1")
    served.sign_in("sofia.t")
    assert served.get(f"/cases/{case}").status_code == 200
    assert served.get("/readyz").status_code == 200
    storage_down(served, monkeypatch)
    for answer in (
        served.get(f"/cases/{case}"),
        served.get(f"/cases/{case}/history"),
        served.command("add-note", {"case": case, "text": "Nota"}),
    ):
        assert answer.status_code == 503, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        body = answer.json()
        assert (body["type"], body["status"]) == ("urn:backoffice:storage-unavailable", 503)
        assert "disk" not in answer.text  # not the driver's text
    ready = served.get("/readyz")
    assert (ready.status_code, ready.json()) == (
        503, {"status": "unavailable", "reason": "OperationalError"}
    )  # fmt: skip
    metrics = served.client.get("/metrics", headers=LOOPBACK)
    assert metrics.status_code == 200
    found = samples(metrics.text)
    assert found["backoffice_storage_up", ()] == 0
    assert not any(name == "backoffice_log_head" for name, _ in found)
    assert "disk" not in metrics.text


def test_storage_up_is_1_while_the_log_answers(served: Api) -> None:
    found = samples(served.client.get("/metrics", headers=LOOPBACK).text)
    assert found["backoffice_storage_up", ()] == 1


def test_an_open_stream_ends_when_storage_goes_down(
    served: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    served.sign_in("sofia.t")
    follow = Following(lambda: served.get("/events", wait=TIMEOUT))
    started = time.monotonic()
    storage_down(served, monkeypatch)
    answer = follow.result()
    assert time.monotonic() - started < TIMEOUT / 2
    assert answer.status_code == 200
    assert parse(answer.text)[-1] == {"comment": "storage unavailable"}
    assert "disk" not in answer.text


# --- the session cookie ----------------------------------------------------------------------


def session_cookie(settings: Settings, clock: FixedClock, login: str, password: str, *,
                   add: bool) -> str:  # fmt: skip
    """The `Set-Cookie` of a sign-in to an application built with `settings` (`add`: add
    the account first)."""
    office = bootstrap.bootstrap(settings, clock=clock)
    accounts = bootstrap.accounts(office, settings, hasher=Argon2Hasher(argon2.profiles.CHEAPEST))
    if add:
        accounts.add(login, "agent", "María", password)
    service = Service(office, bootstrap.dispatcher(office, settings), accounts)
    app = create_app(settings, service=lambda: service, session_secret=b"k" * 32)
    with TestClient(app) as client:
        signed = client.post("/session", json={"login": login, "password": password})
        assert signed.status_code == 200, signed.text
        cookie: str = signed.headers["set-cookie"]
        return cookie


def cookie_attributes(cookie: str) -> set[str]:
    return {part.strip().split("=")[0].lower() for part in cookie.split(";")[1:]}


def test_the_session_cookie_is_secure_by_default(tmp_path: Path, clock: FixedClock) -> None:
    settings = load_settings(environ={}, data_dir=str(tmp_path / "data"), database_url="sqlite")
    assert settings.secure_cookies  # the default: served behind HTTPS
    cookie = session_cookie(settings, clock, "maria.b", "clave-de-prueba-123", add=True)
    assert cookie.startswith("backoffice_session=")
    assert {"secure", "httponly", "samesite"} <= cookie_attributes(cookie)


def test_only_the_demos_folder_sends_the_cookie_over_plain_http(
    tmp_path: Path, clock: FixedClock
) -> None:
    from entrypoints.demo import DEMO_PASSWORD, _demo_accounts, demo_data

    folder = tmp_path / "demo"
    first = load_settings(environ={}, data_dir=str(folder), database_url="sqlite")
    _demo_accounts(bootstrap.bootstrap(first, clock=clock), first, folder, demo_data())
    settings = load_settings(environ={}, data_dir=str(folder))  # as `serve` reads the folder
    assert not settings.secure_cookies
    assert settings.simulated_systems  # and its week's systems, simulated
    assert (folder / "markings.toml").is_file()  # read by default from the data folder
    cookie = session_cookie(settings, clock, "maria.b", DEMO_PASSWORD, add=False)
    assert "secure" not in cookie_attributes(cookie)
    assert "httponly" in cookie_attributes(cookie)


# --- an open stream checks its user again --------------------------------------------------------


def test_an_open_stream_ends_once_its_account_is_disabled(served: Api) -> None:
    served.sign_in("sofia.t")
    follow = Following(lambda: served.get("/events", wait=TIMEOUT))
    started = time.monotonic()
    served.accounts.disable("sofia.t")
    answer = follow.result()
    assert time.monotonic() - started < TIMEOUT / 2
    assert parse(answer.text)[-1] == {"comment": "ended: the account is disabled"}


def test_an_open_stream_ends_once_its_user_has_left_the_roster(served: Api, tmp_path: Path) -> None:
    from adapters.intake.team import RosterReader
    from application.team.imports import import_roster

    served.sign_in("sofia.t")
    follow = Following(lambda: served.get("/events", wait=TIMEOUT))
    started = time.monotonic()
    roster = tmp_path / "roster.csv"
    roster.write_text(
        "asesor;equipo;cargo;fecha_ingreso;fecha_retiro;motivo_retiro\n"
        "sofia.t;Premium Hogar;Supervisor;01/02/2025;14/07/2026;Renuncia voluntaria\n",
        encoding="utf-8",
    )
    import_roster(served.office, RosterReader(roster).items())
    answer = follow.result()
    assert time.monotonic() - started < TIMEOUT / 2
    assert parse(answer.text)[-1] == {
        "comment": "ended: not on the team's roster today (left on 2026-07-14)"
    }


def test_a_stream_of_someone_still_allowed_goes_on(served: Api) -> None:
    """The checks end no stream that may go on: it ends when its `wait` is over."""
    served.sign_in("sofia.t")
    answer = served.get("/events", wait=0.4)
    assert answer.status_code == 200
    assert not any(m.get("comment", "").startswith("ended") for m in parse(answer.text))


# --- /metrics and forwarding headers ------------------------------------------------------------


@pytest.mark.parametrize(
    "header",
    [
        ("Forwarded", "for=127.0.0.1"),
        ("Forwarded", 'for="[::1]";proto=https'),
        ("X-Real-IP", "127.0.0.1"),
        ("X-Forwarded-For", "127.0.0.1"),
        ("x-real-ip", "::1"),
    ],
)
def test_metrics_trust_no_forwarding_header(served: Api, header: tuple[str, str]) -> None:
    """`/metrics` opens without a sign-in only to a request straight from one of its
    addresses: a forwarding header claiming the loopback opens nothing (from elsewhere, nor
    from the single sign-on's trusted proxy), and one sent from the loopback closes it (a
    proxy on the same host forwarded it)."""
    name, value = header
    assert served.client.get("/metrics", headers=LOOPBACK).status_code == 200
    for peer in ("127.0.0.1", "::1", "203.0.113.9", PROXY):
        answer = served.client.get("/metrics", headers={PEER: peer, name: value})
        assert answer.status_code == 401, (peer, answer.text)
    served.sign_in("sofia.t")  # signed in, a supervisor reads them through any proxy
    answer = served.client.get("/metrics", headers={PEER: "203.0.113.9", name: value})
    assert answer.status_code == 200


def test_metrics_open_to_a_proxys_address_still_refuse_what_it_forwards(
    url: str, tmp_path: Path, clock: FixedClock
) -> None:
    with build_api(url, tmp_path / "data", clock, metrics_open_to=PROXY) as api:
        assert api.client.get("/metrics", headers={PEER: PROXY}).status_code == 200
        assert api.client.get("/metrics", headers=LOOPBACK).status_code == 401  # not listed
        for name in ("Forwarded", "X-Forwarded-For", "X-Real-IP"):
            forwarded = {PEER: PROXY, name: "198.51.100.7"}
            assert api.client.get("/metrics", headers=forwarded).status_code == 401, name
