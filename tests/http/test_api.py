"""The HTTP API in process (issue 13): sign-in, CSRF, commands as the signed-in user,
`If-Match`, problem details, reading, intake, OpenAPI. On SQLite and PostgreSQL."""

from __future__ import annotations

import json
import logging
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from adapters.clock import FixedClock
from entrypoints.http.app import openapi_document
from tests.http.conftest import PASSWORD, Api

ROOT = Path(__file__).resolve().parents[2]


def case_id(api: Api, key: str) -> str:
    api.sign_in("audit.a")
    [row] = api.get("/cases", search=key).json()
    return str(row["case_id"])


def test_sign_in_sets_a_safe_cookie_and_refuses_alike_unknown_logins_and_wrong_passwords(
    api: Api,
) -> None:
    wrong = api.sign_in("maria.b", "otra-clave-equivocada")
    unknown = api.sign_in("nadie.n", "otra-clave-equivocada")
    for refused in (wrong, unknown):
        assert refused.status_code == 401
        assert refused.headers["content-type"].startswith("application/problem+json")
    assert wrong.json()["detail"] == unknown.json()["detail"]  # logins cannot be probed
    signed = api.sign_in("maria.b")
    assert signed.status_code == 200
    assert signed.json()["role"] == "agent"
    cookie = signed.headers["set-cookie"].lower()
    assert "httponly" in cookie
    assert "samesite=strict" in cookie
    assert api.get("/session").json()["login"] == "maria.b"
    api.client.delete("/session", headers=api.headers())
    assert api.get("/session").status_code == 401


def test_five_wrong_passwords_lock_the_account_for_15_minutes(api: Api, clock: FixedClock) -> None:
    unknown = api.sign_in("nadie.n", "no-es-la-clave-1").json()
    for _ in range(5):
        wrong = api.sign_in("carlos.m", "no-es-la-clave-1")
        assert (wrong.status_code, wrong.json()) == (401, unknown)  # the fifth says no more
    locked = api.sign_in("carlos.m")  # the right password, too late
    assert (locked.status_code, locked.json()) == (401, unknown)  # no guess tells now
    clock.advance(timedelta(minutes=14))
    assert api.sign_in("carlos.m").status_code == 401
    clock.advance(timedelta(minutes=1))
    assert api.sign_in("carlos.m").status_code == 200


def test_a_disabled_account_is_told_apart_only_with_its_password(api: Api) -> None:
    unknown = api.sign_in("nadie.n", "no-es-la-clave-1")
    api.accounts.disable("maria.b")
    wrong = api.sign_in("maria.b", "no-es-la-clave-1")
    assert (wrong.status_code, wrong.json()) == (401, unknown.json())
    right = api.sign_in("maria.b")
    assert (right.status_code, right.json()["detail"]) == (401, "the account is disabled")
    integration = api.sign_in("crm-front", "no-es-la-clave-1")  # no password: tokens only
    assert (integration.status_code, integration.json()) == (401, unknown.json())


def test_a_change_without_the_sessions_csrf_token_is_refused(api: Api) -> None:
    case = case_id(api, "CRM-1")
    api.sign_in("maria.b")
    body = {"case": case, "agent": "maria.b"}
    bare = api.client.post("/commands/assign-case", json=body)
    assert bare.status_code == 403
    assert "X-CSRF-Token" in bare.json()["detail"]
    assert api.command("assign-case", body).status_code == 200


def test_a_command_acts_as_the_signed_in_user_whatever_the_body_says(api: Api) -> None:
    case = case_id(api, "CRM-1")
    api.sign_in("maria.b")
    posing = api.command("assign-case", {"case": case, "agent": "maria.b", "actor": "agent:otro"})
    assert posing.status_code == 422  # refused, not dropped: who acts is the signed-in user
    assert posing.json()["errors"][0]["field"] == "actor"
    done = api.command("assign-case", {"case": case, "agent": "maria.b"})
    assert done.status_code == 200
    body = done.json()
    assert body["case"]["agent"] == "maria.b"
    [event] = body["events"]
    assert (event["event"], event["actor"]) == ("case.assigned", "agent:maria.b")
    assert done.headers["etag"] == f'"{body["case"]["version"]}"'
    again = api.command("assign-case", {"case": case, "agent": "maria.b"})
    assert again.status_code == 409
    assert again.json()["detail"] == "the case is already assigned to maria.b"


def test_if_match_refuses_a_stale_version_and_records_nothing(api: Api) -> None:
    case = case_id(api, "CRM-1")
    api.sign_in("maria.b")
    seen = api.get(f"/cases/{case}")
    version = seen.headers["etag"]
    note = {"case": case, "text": "Cliente pide copia de la factura"}
    assert api.command("add-note", note, **{"If-Match": version}).status_code == 200
    stale = api.command("add-note", note, **{"If-Match": version})
    assert stale.status_code == 412
    assert stale.json()["current_version"] == int(version.strip('"')) + 1
    assigned = api.command("assign-case", {"case": case, "agent": "maria.b"},
                           **{"If-Match": version})  # fmt: skip
    assert assigned.status_code == 412
    assert api.get(f"/cases/{case}").json()["notes"] == 1


def test_errors_are_problem_details_with_the_domains_reason(api: Api) -> None:
    case = case_id(api, "CRM-1")
    api.sign_in("maria.b")
    unknown = api.get("/cases/CRM-9999")
    assert unknown.status_code == 404
    assert unknown.headers["content-type"].startswith("application/problem+json")
    rule = api.command("close-case", {"case": case, "summary": "listo", "first_contact": True})
    assert rule.status_code == 409
    assert rule.json()["type"] == "urn:backoffice:rule-of-the-procedure"
    missing = api.command("add-note", {"case": case})
    assert missing.status_code == 422
    assert "text" in missing.json()["detail"]
    empty = api.command("add-note", {"case": case, "text": "   "})
    assert empty.status_code == 422
    assert empty.json()["errors"] == [{"field": "text", "reason": "must not be empty"}]
    bad_filter = api.get("/cases", status="bogus")
    assert bad_filter.status_code in (400, 422)
    assert bad_filter.headers["content-type"].startswith("application/problem+json")


def test_roles_are_refused_what_they_may_not_do_with_the_reason(api: Api) -> None:
    case = case_id(api, "CRM-1")
    api.sign_in("audit.a")
    refused = api.command("add-note", {"case": case, "text": "no"})
    assert refused.status_code == 403
    assert refused.json()["detail"] == "an auditor may not add note"
    assert api.get(f"/cases/{case}/history").status_code == 200
    api.sign_in("maria.b")
    other = api.command("assign-case", {"case": case, "agent": "carlos.m"})
    assert other.status_code == 403
    assert "supervisor" in other.json()["detail"]
    assert api.get(f"/cases/{case}", version=1).status_code == 403  # replay: not an agent's
    api.sign_in("sofia.t")
    assert api.command("assign-case", {"case": case, "agent": "carlos.m"}).status_code == 200
    assert api.get(f"/cases/{case}", version=1).json()["version"] == 1


def test_an_integration_hands_a_case_over_once_with_its_token(api: Api) -> None:
    _, secret = api.accounts.issue_token("crm-front", "intake")
    api.client.cookies.clear()
    auth = {"Authorization": f"Bearer {secret}"}
    row = {"crm_case_id": "CRM-77", "received_at": "15/07/2026 08:00", "account": "80077777",
           "line": "hogar", "customer_name": "Ana Peña", "typification": "Facturación",
           "phone": "300 123 4567"}  # fmt: skip
    first = api.client.post("/intake/crm", json=row, headers=auth)
    assert first.status_code == 201
    assert first.json()["outcome"] == "created"
    again = api.client.post("/intake/crm", json=row, headers=auth)
    assert (again.status_code, again.json()["outcome"]) == (200, "known")
    assert again.json()["case"]["case_id"] == first.json()["case"]["case_id"]
    assert api.client.get("/cases", headers=auth).status_code == 403  # intake only
    bad = api.client.post("/intake/crm", json={**row, "crm_case_id": "CRM-78", "line": "fax"},
                          headers=auth)  # fmt: skip
    assert bad.status_code == 422
    assert bad.json()["errors"][0]["field"] == "line"
    [token] = api.accounts.tokens()
    api.accounts.revoke_token(token.token_id)
    assert api.client.post("/intake/crm", json=row, headers=auth).status_code == 401


def test_the_openapi_document_is_31_and_committed_as_served(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    served = api.get("/schema/openapi.json").json()
    assert served["openapi"].startswith("3.1")
    assert "/commands/register-marking" in served["paths"]
    assert served == openapi_document()
    committed = json.loads((ROOT / "docs" / "openapi.json").read_text("utf-8"))
    assert committed == served, (
        "docs/openapi.json is stale: `backoffice openapi > docs/openapi.json`"
    )
    _the_document_lists_what_the_server_answers(api, served, monkeypatch)


def _the_document_lists_what_the_server_answers(
    api: Api, document: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Statuses the server gives, each provoked, and found among its route's responses: the
    sign-in's Origin check, a bad login or token id in a path, a body over a route's limit
    (every route with a body), `/readyz` not ready."""
    paths = document["paths"]

    def documented(answer: Any, method: str, template: str) -> None:
        responses = paths[template][method]["responses"]
        assert str(answer.status_code) in responses, (method, template, answer.status_code)

    cross_site = api.client.post("/session", json={"login": "maria.b", "password": PASSWORD},
                                 headers={"Origin": "https://evil.example"})  # fmt: skip
    assert cross_site.status_code == 403
    documented(cross_site, "post", "/session")
    api.sign_in("admin.x")
    for template in ("/admin/users/{login}/disable", "/admin/users/{login}/enable",
                     "/admin/users/{login}/reset", "/admin/tokens/{token_id}/revoke"):  # fmt: skip
        bad = template.replace("{login}", "NO LOGIN").replace("{token_id}", "no-id")
        refused = api.client.post(bad, headers=api.headers())
        assert refused.status_code == 422, refused.text
        documented(refused, "post", template)
    with_body = [
        (path, method)
        for path, methods in paths.items()
        for method, operation in methods.items()
        if "requestBody" in operation
    ]
    assert len(with_body) > 40
    filled = {"{login}": "maria.b", "{token_id}": "0123456789ab"}
    # Over a real socket (tests/http/test_served.py) the client will not declare a length it
    # does not send: the in-process run of this test checks every route's 413.
    in_process = isinstance(api.client, TestClient)
    for template, method in with_body if in_process else []:
        described = paths[template][method]["responses"]["413"]["description"]
        megabytes = re.search(r"larger than (\d+) MB", described)
        assert megabytes is not None, (template, described)
        limit = int(megabytes.group(1)) * 1_000_000
        path = re.sub(r"{\w+}", lambda m: filled[m.group(0)], template)
        media = "application/json"
        if template.startswith("/imports/"):
            media = "multipart/form-data; boundary=x"
        elif template == "/intake/mail":
            media = "message/rfc822"
        sent = {"Content-Length": str(limit + 1), "Content-Type": media}
        over = api.client.request(method, path, content=b"{}", headers=api.headers(sent))
        assert over.status_code == 413, (template, over.text)
        assert over.json()["detail"] == f"the body is larger than {limit // 1_000_000} MB"
        documented(over, method, template)

    if not in_process:
        return  # storage is made to fail below through the in-process client's app

    def down() -> None:
        raise OSError("storage down")

    assert isinstance(api.client, TestClient)
    monkeypatch.setattr(api.client.app.state.operations, "readings", down)
    not_ready = api.get("/readyz")
    assert not_ready.status_code == 503
    documented(not_ready, "get", "/readyz")


def test_health_and_readiness(api: Api) -> None:
    assert api.get("/healthz").json() == {"status": "ok"}
    ready = api.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["status"] == "ok"


def test_each_request_is_one_log_line_without_customer_data(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    case = case_id(api, "CRM-1")
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="backoffice.http.requests"):
        api.sign_in("maria.b")
        api.get("/cases", search="80012345")  # an account: personal data
        api.get("/cases/CRM-1")
        api.command("add-note", {"case": case, "text": "El cliente Ana Peña llamó"})
    lines = [r.fields for r in caplog.records if r.name == "backoffice.http.requests"]  # type: ignore[attr-defined]
    assert [(f["method"], f["route"], f["status"]) for f in lines] == [
        ("POST", "/session", 200),
        ("GET", "/cases", 200),
        ("GET", "/cases/{reference}", 200),
        ("POST", "/commands/add-note", 200),
    ]
    assert {f["user"] for f in lines} == {"maria.b"}
    assert [f["case"] for f in lines] == [None, None, case, case]
    text = " ".join(str(f) for f in lines)
    assert "80012345" not in text
    assert "CRM-1" not in text
    assert "Ana" not in text


def test_indicators_come_with_their_counts_goals_and_the_practices(api: Api) -> None:
    from adapters.intake.team import PracticeReader, RosterReader
    from application.team.imports import import_practices, import_roster

    import_roster(api.office, RosterReader(ROOT / "examples" / "roster.csv").items())
    import_practices(api.office, PracticeReader(ROOT / "examples" / "practices.csv").items())
    api.sign_in("sofia.t")  # an agent on that roster: the roster's role wins
    refused = api.get("/indicators", first="2026-11-01", last="2026-12-31")
    assert refused.status_code == 403
    api.sign_in("audit.a")
    answer = api.get("/indicators", first="2026-11-01", last="2026-12-31", by="all")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    [total] = body["rows"]
    assert total["definitions"].startswith("v3+")
    assert {"follow_ups_due", "practices_due", "practice_compliance"} <= set(total)
    assert body["practices"], "the practice register's rows, per leader and practice"
    csv_text = api.get("/indicators.csv", first="2026-11-01", last="2026-12-31").text
    assert csv_text.splitlines()[0].startswith("group,")


def test_the_visit_slots_wfm_offers_for_a_support_case(
    api: Api, tmp_path: Path, clock: FixedClock
) -> None:
    from datetime import timedelta

    from adapters.systems.memory import InMemoryScheduling
    from application.case.outside import OutsideSystems
    from application.dispatch import Dispatcher
    from application.ports.systems import Slot
    from domain.values import Actor, Category, Subcategory
    from entrypoints.http.app import create_app
    from entrypoints.http.common import Service
    from entrypoints.settings import load_settings
    from tests.integration.test_outside_writes import MATRIX

    case = case_id(api, "CRM-2")
    api.sign_in("maria.b")
    unconfigured = api.get(f"/cases/{case}/slots")
    assert unconfigured.status_code == 409, unconfigured.text  # no WFM gateway configured here
    wfm = InMemoryScheduling()
    now = api.office.clock.now()
    wfm.free[:] = [Slot(now + timedelta(days=1), now + timedelta(days=1, hours=4), "S1")]
    agent = Actor.agent("maria.b")
    api.office.interpret("CRM-2", category=Category.SOPORTE,
                         subcategory=Subcategory.FALLA_PUNTUAL, actor=agent)  # fmt: skip
    door = Dispatcher(api.office, OutsideSystems(scheduling=wfm), lambda: MATRIX)
    service = Service(api.office, door, api.accounts)
    settings = load_settings(environ={}, data_dir=str(tmp_path / "data"), secure_cookies="false")
    app = create_app(settings, service=lambda: service, session_secret=b"k" * 32)
    with TestClient(app) as client:
        signed = client.post("/session", json={"login": "maria.b", "password": PASSWORD})
        assert signed.status_code == 200
        offered = client.get(f"/cases/{case}/slots", params={"days": 3})
        assert offered.status_code == 200, offered.text
        assert [s["slot_id"] for s in offered.json()] == ["S1"]
        too_far = client.get(f"/cases/{case}/slots", params={"days": 90})
        assert too_far.status_code == 422
        assert [e["field"] for e in too_far.json()["errors"]] == ["days"]  # as the client named it
        client.post("/session", json={"login": "audit.a", "password": PASSWORD})
        assert client.get(f"/cases/{case}/slots").status_code == 403


def test_signing_out_needs_the_csrf_token(api: Api) -> None:
    api.sign_in("maria.b")
    assert api.client.delete("/session").status_code == 403  # a page of another site
    assert api.get("/session").json()["login"] == "maria.b"  # still signed in
    assert api.client.delete("/session", headers=api.headers()).status_code == 204
    assert api.get("/session").status_code == 401


def test_the_indicators_csv_is_spreadsheet_safe(api: Api, clock: FixedClock) -> None:
    case = case_id(api, "CRM-1")
    clock.advance(timedelta(days=3))  # its follow-up is due: it counts for its owner
    api.sign_in("sofia.t")
    assigned = api.command("assign-case", {"case": case, "agent": "=cmd|' /C calc'!A0"})
    assert assigned.status_code == 200, assigned.text
    api.sign_in("audit.a")
    text = api.get("/indicators.csv", first="2026-07-01", last="2026-07-31", by="agent").text
    groups = [line.split(",")[0] for line in text.splitlines()[1:]]
    assert any(g.startswith("'=cmd") for g in groups), text
    assert not any(g.startswith(("=", "+", "-", "@")) for g in groups)
