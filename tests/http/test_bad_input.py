"""What a client gets for a request the API cannot take, found by an integrator's trial: a
problem (RFC 9457) naming the field as the client sent it and why, in words a person reads;
never a 500, never the query string or a value sent (a customer's data); one log line and a
metric for every request, routed or not; 403 before the body's faults for whoever may not
use the route at all; the case's version after a refusal the case recorded; every problem in
the OpenAPI document. On SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from litestar import Request
from litestar.exceptions import ValidationException
from litestar.testing import TestClient

from adapters.systems.memory import InMemoryAccounts
from application.access import permissions
from application.case.outside import OutsideSystems
from application.dispatch import Dispatcher
from application.ports.accounts import AccessRole
from entrypoints.http import operations
from entrypoints.http.app import create_app, openapi_document
from entrypoints.http.common import STORAGE_INT_MAX, Service
from entrypoints.http.problems import MAX_ERRORS, answer_for, problem
from entrypoints.settings import load_settings
from tests.http.conftest import PASSWORD, Api, a_case, fields_of, problem_of

DEEP = "[" * 100_000 + "]" * 100_000
JSON = {"Content-Type": "application/json"}
ROW = {"crm_case_id": "CRM-77", "received_at": "15/07/2026 08:00", "account": "80077777",
       "line": "hogar", "customer_name": "Ximena Secreta", "typification": "Facturación",
       "follow_up_at": "16/07/2026 10:00"}  # fmt: skip


@contextmanager
def request_lines(caplog: pytest.LogCaptureFixture) -> Iterator[list[dict[str, Any]]]:
    """The request log's lines written meanwhile."""
    lines: list[dict[str, Any]] = []
    caplog.clear()
    with caplog.at_level(logging.INFO, logger="backoffice.http"):
        yield lines
    lines += [r.fields for r in caplog.records if r.name == "backoffice.http.requests"]  # type: ignore[attr-defined]


# --- 1. a body nested too deeply -------------------------------------------------------------


def test_a_body_nested_too_deeply_is_a_400_on_one_log_line(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    with request_lines(caplog) as lines:
        unsigned = api.client.post("/session", content=DEEP, headers=JSON)
        api.sign_in("sofia.t")
        answers = [
            unsigned,
            api.client.post("/intake/crm", content=DEEP, headers=api.headers(JSON)),
            api.client.post("/commands/add-note", content=DEEP, headers=api.headers(JSON)),
        ]
        api.client.cookies.clear()
        unsigned_command = api.client.post("/commands/add-note", content=DEEP, headers=JSON)
    for answer in answers:
        body = problem_of(answer, 400)
        assert body["type"] == "urn:backoffice:malformed-body"
        assert body["detail"] == "the body is not valid JSON: nested too deeply"
    # A command needs a sign-in first, whatever its body (sign-in itself reads its body).
    assert problem_of(unsigned_command, 401)["type"] == "urn:backoffice:sign-in"
    assert len(lines) == 5  # the four, and the sign-in
    assert [f["status"] for f in lines] == [400, 200, 400, 400, 401]
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING or r.exc_info]


# --- 2. offset and limit within what storage takes --------------------------------------------


def test_offset_and_limit_are_bounded_to_what_storage_takes(api: Api) -> None:
    api.sign_in("maria.b")
    assert fields_of(api.get("/cases", offset="99999999999999999999")) == {
        "offset": f"at most {STORAGE_INT_MAX}"
    }
    assert fields_of(api.get("/cases", offset=-1)) == {"offset": "at least 0"}
    assert fields_of(api.get("/cases", limit=0)) == {"limit": "at least 1"}
    assert fields_of(api.get("/cases", limit=1001)) == {"limit": "at most 1000"}
    far = api.get("/cases", offset=STORAGE_INT_MAX, limit=1000)  # the largest storage takes
    assert (far.status_code, far.json()) == (200, [])
    assert len(api.get("/cases", offset=1).json()) == 1


# --- 3. unknown fields are refused, not dropped -----------------------------------------------


def test_an_unknown_field_is_refused_naming_it_not_dropped(api: Api) -> None:
    _, secret = api.accounts.issue_token("crm-front", "intake")
    token = {"Authorization": f"Bearer {secret}"}
    misspelt = {**{k: v for k, v in ROW.items() if k != "follow_up_at"},
                "followup_at": "16/07/2026 10:00"}  # fmt: skip
    refused = api.client.post("/intake/crm", json=misspelt, headers=token)
    assert fields_of(refused) == {"followup_at": "unknown field: did you mean follow_up_at?"}
    assert "Ximena" not in refused.text
    assert not [c for c in api.office.cases() if c.source.key == "CRM-77"]  # nothing made
    assert api.client.post("/intake/crm", json=ROW, headers=token).status_code == 201
    signing = api.client.post("/session", json={"login": "maria.b", "password": PASSWORD,
                                                "remember": True})  # fmt: skip
    assert fields_of(signing) == {"remember": "unknown field"}
    api.sign_in("maria.b")
    case = a_case(api)
    acting = api.command("add-note", {"case": case, "text": "Nota", "actor": "agent:otro"})
    assert fields_of(acting) == {"actor": "unknown field: who acts is the signed-in user"}
    api.sign_in("admin.x")
    account = {"login": "ana.p", "role": "agent", "name": "Ana P.", "rol": "admin"}
    assert fields_of(api.post("/admin/users", account)) == {
        "rol": "unknown field: did you mean role?"
    }
    assert api.accounts.find("ana.p") is None


# --- 4. the field as the client named it, in a sentence -----------------------------------------


def test_a_refusal_names_the_field_as_the_client_sent_it(api: Api) -> None:
    api.sign_in("maria.b")
    case = a_case(api)
    assert fields_of(api.command("add-note", {"case": case})) == {"text": "required"}
    empty = api.client.post("/commands/add-note", content=b"", headers=api.headers(JSON))
    assert fields_of(empty) == {"body": "required: send the fields as a JSON object"}
    listed = api.client.post("/commands/add-note", json=[case], headers=api.headers())
    assert fields_of(listed) == {"body": "expected an object, got a list"}
    assert fields_of(api.command("add-note", {"case": "CRM-1", "text": "Nota"})) == {
        "case": "not a UUID"
    }
    typed = api.command("add-note", {"case": case, "text": ["Ximena Secreta"]})
    assert fields_of(typed) == {"text": "expected text, got a list"}
    assert "Ximena" not in typed.text
    kind = api.command("interpret-case", {"case": case, "category": "Ximena", "subcategory": "x"})
    assert fields_of(kind)["category"] == "not one of: sac, soporte, pqr, ventas"
    assert "Ximena" not in kind.text
    assert fields_of(api.get("/cases", status="cerrado")) == {"status": "not one of: open, closed"}
    api.sign_in("sofia.t")
    assert "from" in fields_of(api.get("/events", **{"from": "-1"}))  # not `start`
    no_part = api.client.post("/imports/crm", files={"archivo": ("a.csv", b"x")},
                              headers=api.headers())  # fmt: skip
    assert fields_of(no_part) == {
        "file": "required: a part of the multipart form with this name, holding the file"
    }
    no_name = api.client.post("/imports/crm", data={"file": "texto"},
                              files={"otro": ("b.csv", b"x")}, headers=api.headers())  # fmt: skip
    assert fields_of(no_name) == {
        "file": "not a file: send a part of the multipart form with its file's name"
    }


# --- 5. a missing query parameter, named; the query string never echoed --------------------------


def test_a_missing_parameter_is_named_and_the_query_string_never_echoed(api: Api) -> None:
    api.sign_in("audit.a")
    answer = api.get("/indicators", first="2026-12-01", cliente="Ximena Secreta")
    body = problem_of(answer, 422)
    assert body["errors"] == [{"field": "last", "reason": "required"}]
    assert body["detail"] == "last: required"
    assert "Ximena" not in answer.text
    assert "first=" not in answer.text
    assert "cliente" not in answer.text


# --- 6. malformed JSON, another media type, a number too large ------------------------------------


def test_a_body_that_is_not_json_is_a_clear_400_or_a_415(api: Api) -> None:
    api.sign_in("maria.b")
    case = a_case(api)
    broken = problem_of(
        api.client.post("/commands/add-note", content=b"{case", headers=api.headers(JSON)), 400
    )
    assert broken["type"] == "urn:backoffice:malformed-body"
    assert broken["title"] != broken["detail"]
    assert broken["detail"].startswith("the body is not valid JSON: ")
    form = api.client.post("/commands/add-note", data={"case": case, "text": "Nota"},
                           headers=api.headers())  # fmt: skip
    assert problem_of(form, 415)["detail"].startswith("send the body as JSON")
    raw = b'{"case": "%s", "outcome": "ok", "follow_up_id": 1e400}' % case.encode()
    huge = api.client.post("/commands/complete-follow-up", content=raw, headers=api.headers(JSON))
    assert fields_of(huge, 400) == {"follow_up_id": "a number out of range"}
    assert api.get(f"/cases/{case}").json()["notes"] == 0  # nothing was recorded


# --- 7. the role before the body ------------------------------------------------------------------


def test_a_role_that_gives_no_command_is_refused_before_its_body_is_read(api: Api) -> None:
    api.sign_in("audit.a")
    refused = api.command("add-note", {"case": "x"})
    assert problem_of(refused, 403)["detail"] == "an auditor may not add note"
    unreadable = api.client.post("/commands/add-note", content=b"{", headers=api.headers(JSON))
    assert problem_of(unreadable, 403)["detail"] == "an auditor may not add note"
    _, secret = api.accounts.issue_token("sofia.t", "intake")
    api.client.cookies.clear()
    token = {"Authorization": f"Bearer {secret}"}
    scoped = api.client.post("/commands/add-note", json={"case": "x"}, headers=token)
    intake_only = "a token with scope intake gives no command on cases"
    assert problem_of(scoped, 403)["detail"] == intake_only
    unsigned = api.client.post("/commands/add-note", content=b"{", headers=JSON)
    assert problem_of(unsigned, 401)["type"] == "urn:backoffice:sign-in"  # sign in first
    api.sign_in("maria.b")  # who may give commands: the body's faults
    assert fields_of(api.command("add-note", {"case": "x"})) == {"case": "not a UUID"}
    api.sign_in("audit.a")
    row = api.post("/intake/crm", {**ROW, "followup_at": "16/07/2026 10:00"})
    assert problem_of(row, 403)["detail"] == (
        "an auditor does not hand cases over (the front line's systems do)"
    )
    account = api.post("/admin/users", {"login": "x"})
    assert problem_of(account, 403)["detail"] == "an auditor may not administer accounts and tokens"


# --- 8. a version and ids as input ----------------------------------------------------------------


def test_a_version_and_the_ids_of_a_body_are_checked_as_input(api: Api) -> None:
    api.sign_in("sofia.t")
    case = a_case(api)
    for version in ("0", "-1"):
        assert fields_of(api.get(f"/cases/{case}", version=version)) == {"version": "at least 1"}
    assert api.get(f"/cases/{case}", version=1).status_code == 200
    done = {"case": case, "outcome": "Cliente contactado"}
    assert fields_of(api.command("complete-follow-up", {**done, "follow_up_id": -1})) == {
        "follow_up_id": "at least 1"
    }
    assert fields_of(api.command("complete-follow-up", {**done, "follow_up_id": 2**70})) == {
        "follow_up_id": f"at most {STORAGE_INT_MAX}"
    }
    as_text = "expected a whole number, got text (send it without quotes)"
    assert fields_of(api.command("complete-follow-up", {**done, "follow_up_id": "1"})) == {
        "follow_up_id": as_text
    }
    answer = {"case": case, "escalation_id": "1", "answer": "Resuelto"}
    assert fields_of(api.command("answer-escalation", answer)) == {"escalation_id": as_text}
    close = {"case": case, "summary": "Listo", "first_contact": "true"}
    assert fields_of(api.command("close-case", close)) == {
        "first_contact": "expected true or false, got text (send it without quotes)"
    }
    assert api.command("complete-follow-up", {**done, "follow_up_id": 1}).status_code == 200


# --- 9. every request logged and counted, routed or not -------------------------------------------


def test_a_request_no_route_answers_is_logged_and_counted_without_its_path(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    with request_lines(caplog) as lines:
        assert problem_of(api.client.get("/casos/80012345"), 404)["type"] == (
            "urn:backoffice:http-404"
        )
        not_allowed = api.client.delete("/cases")
        assert problem_of(not_allowed, 405)["type"] == "urn:backoffice:http-405"
        assert "GET" in not_allowed.headers["allow"]
        api.client.request("BREW", "/cafe/80012345")
    assert [(f["method"], f["route"], f["status"]) for f in lines] == [
        ("GET", "(unrouted)", 404),
        ("DELETE", "(unrouted)", 405),
        ("(other)", "(unrouted)", 404),
    ]
    api.sign_in("sofia.t")
    metrics = api.client.get("/metrics").text
    assert 'method="GET",route="(unrouted)",status="404"' in metrics
    assert 'method="DELETE",route="(unrouted)",status="405"' in metrics
    assert 'method="(other)",route="(unrouted)"' in metrics
    for raw in ("80012345", "casos", "BREW"):  # never the path, never an unusual method
        assert raw not in metrics


# --- 10. who and which case, in every line --------------------------------------------------------


def test_the_log_says_who_and_which_case_of_a_replay_and_of_a_refusal(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    case = a_case(api)
    api.sign_in("maria.b")
    note = {"case": case, "text": "Cliente informado"}
    key = {"Idempotency-Key": "nota-1"}
    assert api.command("add-note", note, **key).status_code == 200
    body = json.dumps({"case": case, "text": "Otra nota"}).encode()
    digest = hashlib.sha256(b"\0".join((b"POST", b"/commands/add-note", body))).hexdigest()
    assert api.accounts.idempotency is not None
    assert api.accounts.idempotency.begin("maria.b", "nota-2", digest) is None  # running
    with request_lines(caplog) as lines:
        replayed = api.command("add-note", note, **key)
        running = api.headers({**JSON, "Idempotency-Key": "nota-2"})
        busy = api.client.post("/commands/add-note", content=body, headers=running)
        bad_query = api.get("/cases", limit=0)
    assert replayed.headers["idempotent-replayed"] == "true"
    assert (busy.status_code, bad_query.status_code) == (409, 422)
    assert [(f["status"], f["user"], f["case"]) for f in lines] == [
        (200, "maria.b", case),
        (409, "maria.b", case),
        (422, "maria.b", None),
    ]


# --- 11. a refusal the case recorded carries its version -----------------------------------------


def test_a_systems_refusal_recorded_on_the_case_carries_its_new_version(
    api: Api, tmp_path: Path
) -> None:
    from tests.integration.test_outside_writes import MATRIX

    case = a_case(api)
    door = Dispatcher(api.office, OutsideSystems(rr=InMemoryAccounts()), lambda: MATRIX)
    settings = load_settings(environ={}, data_dir=str(tmp_path / "data"), secure_cookies="false")
    app = create_app(settings, service=lambda: Service(api.office, door, api.accounts),
                     session_secret=b"k" * 32)  # fmt: skip
    with TestClient(app) as client:
        signed = client.post("/session", json={"login": "maria.b", "password": PASSWORD})
        csrf = {"X-CSRF-Token": signed.json()["csrf_token"]}
        before = int(client.get(f"/cases/{case}").headers["etag"].strip('"'))
        refused = client.post("/commands/add-note", json={"case": case, "text": "Nota"},
                              headers=csrf)  # fmt: skip
        body = problem_of(refused, 409)
        assert body["type"] == "urn:backoffice:system-refused"
        now = int(client.get(f"/cases/{case}").headers["etag"].strip('"'))
        assert now > before  # the case recorded the write asked for and its refusal
        assert refused.headers["etag"] == f'"{now}"'
        assert body["current_version"] == now
        again = client.post("/commands/add-note", json={"case": case, "text": "Nota"},
                            headers={**csrf, "If-Match": refused.headers["etag"]})  # fmt: skip
        assert problem_of(again, 409)["current_version"] > now  # the client could go on


def test_a_stale_if_match_carries_the_version_as_an_etag_too(api: Api) -> None:
    case = a_case(api)
    api.sign_in("maria.b")
    first = api.command("add-note", {"case": case, "text": "Nota"}, **{"If-Match": '"1"'})
    assert first.status_code == 200
    stale = api.command("add-note", {"case": case, "text": "Nota"}, **{"If-Match": '"1"'})
    body = problem_of(stale, 412)
    assert stale.headers["etag"] == f'"{body["current_version"]}"'


# --- 12. refusals in good English -----------------------------------------------------------------


def test_refusals_built_from_a_role_name_take_its_article(api: Api) -> None:
    api.sign_in("maria.b")
    refused = api.client.get("/metrics")
    assert problem_of(refused, 403)["detail"] == (
        "the metrics are for an admin or a supervisor, not an agent"
    )
    sentences = []
    for role in AccessRole:
        sentences += [
            operations.metrics_refusal(role, None),
            permissions.may_read(role, None, permissions.Reading.READS),
            permissions.may_hand_over(role, None),
            permissions.may_ask_slots(role, None),
            permissions.may_import(role, None, permissions.Import.SURVEYS),
            permissions.may_administer(role, None, change=True),
        ]
    said = [s for s in sentences if s is not None]
    assert len(said) > 20
    assert not [s for s in said if re.search(r"\ba [aeiou]", s)], said


# --- 13. every problem in the OpenAPI document ----------------------------------------------------


def test_the_openapi_document_lists_each_routes_problems(api: Api) -> None:
    document = openapi_document()
    paths = document["paths"]

    def answers(path: str, method: str) -> dict[str, Any]:
        found: dict[str, Any] = paths[path][method]["responses"]
        return found

    command = answers("/commands/add-note", "post")
    assert {"400", "401", "403", "404", "409", "412", "415", "422", "503"} <= set(command)
    problem = command["409"]["content"]["application/problem+json"]["schema"]
    assert problem == {"$ref": "#/components/schemas/Problem"}
    assert set(document["components"]["schemas"]["Problem"]["required"]) == {
        "type", "title", "status", "detail",
    }  # fmt: skip
    for path in ("/intake/crm", "/intake/mail"):
        made = answers(path, "post")["201"]["content"]["application/json"]["schema"]
        assert made["$ref"].startswith("#/components/schemas/")
    assert "404" in answers("/cases/{reference}", "get")
    assert "412" not in answers("/cases", "get")
    assert "422" in answers("/cases", "get")
    assert set(answers("/healthz", "get")) == {"200"}
    for path, methods in paths.items():
        for method, operation in methods.items():
            for status, response in operation["responses"].items():
                if status.startswith(("4", "5")) and path != "/readyz":
                    assert set(response["content"]) == {"application/problem+json"}, (
                        path, method, status,
                    )  # fmt: skip


# --- 14. a flood of unknown fields: the first ten, and how many more ---------------------------


def test_a_body_of_a_hundred_thousand_unknown_fields_lists_ten_and_counts_the_rest(
    api: Api,
) -> None:
    flood = json.dumps({f"campo_{n}": n for n in range(100_000)}).encode()
    unsigned = api.client.post("/session", content=flood, headers=JSON)  # before any sign-in
    api.sign_in("maria.b")
    signed = api.client.post("/commands/add-note", content=flood, headers=api.headers(JSON))
    for answer in (unsigned, signed):
        body = problem_of(answer, 422)
        assert body["errors"] == [
            {"field": f"campo_{n}", "reason": "unknown field"} for n in range(MAX_ERRORS)
        ]
        assert body["detail"].endswith("campo_9: unknown field; and 99990 more")
        assert len(answer.content) < 2_000  # not a line for each of them
    case = a_case(api)
    eleven = {"case": case, "text": "Nota", "txt": "x", **{f"otro_{n}": 1 for n in range(10)}}
    many = problem_of(api.command("add-note", eleven), 422)
    assert len(many["errors"]) == MAX_ERRORS
    assert many["errors"][0] == {"field": "txt", "reason": "unknown field"}  # no near name
    assert many["detail"].endswith("; and 1 more")
    long = "text" + "o" * 61  # 65 characters: no near name looked for
    assert fields_of(api.command("add-note", {"case": case, "text": "Nota", long: "x"})) == {
        long: "unknown field"
    }
    assert fields_of(api.command("add-note", {"case": case, "text": "Nota", "txt": "x"})) == {
        "txt": "unknown field: did you mean text?"
    }
    assert api.get(f"/cases/{case}").json()["notes"] == 0  # nothing was recorded


def test_any_problem_lists_at_most_ten_errors_and_says_how_many_more() -> None:
    scope: dict[str, Any] = {"type": "http", "method": "GET", "path": "/cases", "headers": [],
                             "query_string": b"", "app": None}  # fmt: skip
    faults = [{"key": f"p{n}", "message": "Expected `int`, got `str`", "source": "query"}
              for n in range(50)]  # fmt: skip
    answer = answer_for(Request(scope), ValidationException(detail="x", extra=faults))  # type: ignore[arg-type]
    assert answer.status_code == 422
    assert len(answer.content["errors"]) == MAX_ERRORS
    assert answer.content["errors"][0] == {
        "field": "p0",
        "reason": "expected a whole number, got text",
    }
    assert answer.content["detail"].endswith("p9: expected a whole number, got text; and 40 more")
    listed = [{"field": f"f{n}", "reason": "x"} for n in range(30)]
    assert len(problem(422, "k", "t", "d", errors=listed).content["errors"]) == MAX_ERRORS


# --- 15. every date a query takes, within the years the commands take --------------------------


def test_every_date_a_query_takes_is_within_the_years_the_commands_take(api: Api) -> None:
    api.sign_in("audit.a")  # who may read every route that takes one
    case = a_case(api)
    found = []
    for path, methods in openapi_document()["paths"].items():
        for parameter in methods.get("get", {}).get("parameters", []):
            schema = parameter["schema"]
            kinds = {schema.get("format")} | {s.get("format") for s in schema.get("oneOf", [])}
            if parameter["in"] == "query" and kinds & {"date", "date-time"}:
                found.append((path.replace("{reference}", case), parameter["name"], kinds))
    assert len(found) == 11, found  # as_of, until, follow_up_due_before; the audit's and the
    # indicators' (each twice, JSON and CSV): since, until; first, last
    days = {"first": "2026-12-01", "last": "2026-12-02"}  # what a route also requires
    out_of_range = {"field": "", "reason": "is out of range (years 1900–2199)"}
    for path, name, kinds in found:
        if "date" in kinds:
            late, early, last_day, naive = "9999-12-31", "0001-01-01", "2199-12-31", None
        else:
            late, early = "9999-12-31T23:00:00-05:00", "0001-01-01T00:00:00+05:00"
            last_day, naive = "2199-12-31T18:59:59-05:00", "2026-12-01T08:00:00"
        for value in (late, early, "2199-12-31T19:00:00-05:00" if naive else "2200-01-01"):
            refused = api.get(path, **{**days, name: value})
            assert problem_of(refused, 422)["errors"] == [{**out_of_range, "field": name}], (
                path, name, value,
            )  # fmt: skip
        latest = {"first": "2199-12-31", "last": "2199-12-31", name: last_day}
        assert api.get(path, **latest).status_code == 200, (path, name)
        if naive is not None:
            assert fields_of(api.get(path, **{name: naive})) == {
                name: "give the moment with its offset (…-05:00 or Z)"
            }
