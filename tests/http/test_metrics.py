"""Metrics in the Prometheus text format and readiness (issue 13): requests and their
duration by route template and status, command conflicts, each projection's lag, the
outbox's backlog; `/metrics` open from the loopback (not through a proxy), else for an admin
or a supervisor; `/readyz` says why it is not ready. On SQLite and PostgreSQL."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from adapters.clock import FixedClock
from entrypoints.http import operations
from tests.conftest import close_case
from tests.http.conftest import PASSWORD, Api
from tests.http.test_sso import PEER, PROXY, USER, build_api

LOOPBACK = {PEER: "127.0.0.1"}


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def url(request: pytest.FixtureRequest) -> str:
    return request.getfixturevalue("postgres_url") if request.param == "postgres" else "sqlite"


@pytest.fixture
def served(url: str, tmp_path: Path, clock: FixedClock) -> Iterator[Api]:
    with build_api(url, tmp_path / "data", clock, outbox=True, trusted_user_header=USER,
                   trusted_proxies=PROXY) as api:  # fmt: skip
        yield api


@pytest.fixture(autouse=True)
def fresh_readings(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(operations, "READINGS_SECONDS", 0.0)  # read the log on each request


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    found = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            found[sample.name, tuple(sorted(sample.labels.items()))] = sample.value
    return found


def case_of(api: Api, key: str) -> str:
    [row] = [row for row in api.office.cases() if row.source.key == key]
    return str(row.case_id)


def sign_in(api: Api, login: str, **headers: str) -> None:
    api.client.cookies.clear()
    answer = api.client.post("/session", json={"login": login, "password": PASSWORD},
                             headers=headers)  # fmt: skip
    assert answer.status_code == 200
    api.csrf = answer.json()["csrf_token"]


def test_the_metrics_count_requests_by_route_and_status_and_the_conflicts(served: Api) -> None:
    case = case_of(served, "CRM-1")
    sign_in(served, "maria.b")
    etag = served.get(f"/cases/{case}").headers["etag"]
    served.get("/cases/CRM-404")
    note = {"case": case, "text": "Nota"}
    assert served.command("add-note", note, **{"If-Match": etag}).status_code == 200
    assert served.command("add-note", note, **{"If-Match": etag}).status_code == 412
    answer = served.client.get("/metrics", headers=LOOPBACK)
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain; version=0.0.4")
    found = samples(answer.text)
    count = "backoffice_http_request_duration_seconds_count"
    route = (("method", "GET"), ("route", "/cases/{reference}"))
    assert found[count, (*route, ("status", "200"))] == 1
    assert found[count, (*route, ("status", "404"))] == 1
    post = (("method", "POST"), ("route", "/commands/add-note"))
    assert found[count, (*post, ("status", "200"))] == 1
    assert found[count, (*post, ("status", "412"))] == 1
    assert found["backoffice_command_conflicts_total", (("kind", "stale"),)] == 1
    assert found["backoffice_command_conflicts_total", (("kind", "contention"),)] == 0
    assert found["backoffice_storage_up", ()] == 1
    head = served.office.store.last_position()
    assert found["backoffice_log_head", ()] == head
    lag = "backoffice_projection_lag_events"
    assert {labels[0][1] for name, labels in found if name == lag} == {
        "cases", "indicators", "outbox",
    }  # fmt: skip
    assert found[lag, (("projection", "outbox"),)] == head  # no worker has sent anything
    assert found["backoffice_outbox_backlog_events", ()] == 0  # nothing called for mail


def test_the_outbox_backlog_counts_the_events_that_call_for_mail(served: Api) -> None:
    close_case(served.office, case_of(served, "CRM-1"))
    found = samples(served.client.get("/metrics", headers=LOOPBACK).text)
    assert found["backoffice_outbox_backlog_events", ()] == 1  # the closing's mail


def test_who_may_read_the_metrics(served: Api) -> None:
    assert served.client.get("/metrics", headers=LOOPBACK).status_code == 200
    # through a proxy, even on the loopback, a sign-in is needed
    forwarded = {**LOOPBACK, "X-Forwarded-For": "203.0.113.9"}
    assert served.client.get("/metrics", headers=forwarded).status_code == 401
    assert served.client.get("/metrics", headers={PEER: PROXY}).status_code == 401
    assert served.client.get("/metrics").status_code == 401
    sign_in(served, "maria.b")
    refused = served.client.get("/metrics")
    assert refused.status_code == 403
    assert "admin or a supervisor" in refused.json()["detail"]
    sign_in(served, "sofia.t")
    assert served.client.get("/metrics").status_code == 200
    served.client.cookies.clear()
    _, secret = served.accounts.issue_token("admin.x", "read")
    bearer = {"Authorization": f"Bearer {secret}"}
    assert served.client.get("/metrics", headers=bearer).status_code == 200
    assert served.client.get("/metrics", headers=via(USER, "sofia.t")).status_code == 200


def via(header: str, login: str) -> dict[str, str]:
    return {PEER: PROXY, header: login}


def test_metrics_closed_to_every_address_need_a_sign_in(
    url: str, tmp_path: Path, clock: FixedClock
) -> None:
    with build_api(url, tmp_path / "data", clock, metrics_open_to="none") as api:
        assert api.client.get("/metrics", headers=LOOPBACK).status_code == 401


def test_readiness_says_how_far_behind_each_consumer_is(served: Api) -> None:
    ready = served.get("/readyz")
    assert ready.status_code == 200
    body = ready.json()
    assert body["indicators_lag"] >= 0  # the fixture's intake, not yet projected: a few at most
    assert body == {
        "status": "ok", "index_lag": 0, "indicators_lag": body["indicators_lag"],
        "outbox_backlog": 0,
    }  # fmt: skip
    served.office.catch_up_indicators()
    later = served.get("/readyz").json()  # readings are cached for 5 s: wait them out
    if later["indicators_lag"] != 0:
        time.sleep(5.1)
        later = served.get("/readyz").json()
    assert later["indicators_lag"] == 0


def test_readiness_fails_with_the_reasons_over_the_thresholds(
    url: str, tmp_path: Path, clock: FixedClock
) -> None:
    with build_api(url, tmp_path / "data", clock, outbox=True, ready_max_outbox_backlog="0",
                   ready_max_indicators_lag="0") as api:  # fmt: skip
        api.office.catch_up_indicators()
        assert api.get("/readyz").status_code == 200
        close_case(api.office, case_of(api, "CRM-1"))
        behind = api.get("/readyz")
        assert behind.status_code == 503
        body = behind.json()
        assert body["status"] == "behind"
        assert body["outbox_backlog"] == 1
        assert body["indicators_lag"] > 0
        assert len(body["reasons"]) == 2
        assert any("outbox has 1 events with mail to send" in r for r in body["reasons"])
        assert any(r.startswith("the indicators are") for r in body["reasons"])
