"""A second new user's trial of the HTTP API: the OpenAPI document served without explorers
(no page loading another site's scripts), the 404 that names the document, HEAD on the
probes, a token's `GET /session` without another user's CSRF token, a non-multipart body to
an upload (415), strong `If-Match` tags only, whole numbers of a query in digits only, and
a 413 that names the route's limit. On SQLite and PostgreSQL."""

from __future__ import annotations

import importlib
import re
from typing import Any

import pytest

from tests.http.conftest import Api, problem_of

OUTSIDE = re.compile(
    r"<script[^>]*\ssrc\s*=\s*[\"']?(?:https?:)?//"
    r"|<link[^>]*\shref\s*=\s*[\"']?(?:https?:)?//"
    r"|@import\s+(?:url\()?\s*[\"']?(?:https?:)?//"
    r"|url\(\s*[\"']?(?:https?:)?//",
    re.IGNORECASE,
)
"""A script, a style sheet, a font or an image loaded from another site."""
LOCAL = re.compile(r"<(?:script|link)[^>]*\s(?:src|href)\s*=\s*[\"']([^\"']+)[\"']", re.I)
SCHEMA = "/schema/openapi.json"
FORM = "multipart/form-data; boundary=x"
EXPLORERS = ("/schema", "/schema/", "/schema/swagger", "/schema/elements", "/schema/rapidoc",
             "/schema/redoc", "/schema/oauth2-redirect.html")  # fmt: skip


def a_case(api: Api) -> str:
    api.sign_in("audit.a")
    [row] = api.get("/cases", search="CRM-1").json()
    return str(row["case_id"])


def version_of(api: Api, case: str) -> int:
    return int(api.get(f"/cases/{case}").headers["etag"].strip('"'))


# --- 1. the OpenAPI document, and no explorer ---------------------------------------------------


def test_the_schema_serves_the_document_and_no_explorer(api: Api) -> None:
    for explorer in EXPLORERS:
        gone = problem_of(api.get(explorer), 404)
        assert SCHEMA in gone["detail"], explorer
    served = api.get(SCHEMA)
    assert served.status_code == 200
    document = served.json()
    assert document["openapi"].startswith("3.1")
    as_yaml = api.get("/schema/openapi.yaml")
    assert as_yaml.status_code == 200
    assert importlib.import_module("yaml").safe_load(as_yaml.text) == document


def _plain_get_routes(api: Api) -> list[str]:
    """Every GET route of the application without a path parameter, but event streams."""
    paths = []
    for route in api.client.app.routes:
        handlers = getattr(route, "route_handler_map", {})
        if "GET" not in handlers or "{" in route.path:
            continue
        handler, _ = handlers["GET"]
        if str(handler.media_type) != "text/event-stream":
            paths.append(route.path)
    return paths


def test_no_answer_of_the_application_loads_another_sites_script_or_font(api: Api) -> None:
    paths = _plain_get_routes(api)
    assert {"/healthz", "/cases", "/console", SCHEMA} <= set(paths)
    seen: dict[str, str] = {}

    def read(path: str) -> None:
        answer = api.client.get(path)
        seen[path] = answer.text
        assert OUTSIDE.search(answer.text) is None, path
        for local in LOCAL.findall(answer.text):  # the console's own scripts and styles
            if local not in seen:
                loaded = api.client.get(local)
                assert loaded.status_code == 200, local
                read(local)

    read("/console/sign-in")  # signed out
    for login in ("sofia.t", "admin.x"):
        api.sign_in(login)
        for path in [*paths, "/schema", "/schema/swagger", "/nowhere", "/console/nowhere"]:
            read(path)
    assert any(path.split("?")[0].endswith(".js") for path in seen), "the console's scripts"


# --- 3. a 404 names the document, HEAD on the probes ------------------------------------------


def test_an_unknown_path_points_at_the_document_and_lists_no_routes(api: Api) -> None:
    body = problem_of(api.get("/nowhere/at-all"), 404)
    assert body["detail"] == f"no route answers this path: see {SCHEMA}"


def test_the_probes_answer_head_as_get_without_a_body(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    for probe in ("/healthz", "/readyz"):
        answer = api.client.head(probe)
        assert (answer.status_code, answer.content) == (200, b""), probe
    operations = api.client.app.state.operations

    def down() -> None:
        raise OSError("storage down")

    monkeypatch.setattr(operations, "readings", down)
    assert api.client.head("/readyz").status_code == 503
    assert api.get("/readyz").json() == {"status": "unavailable", "reason": "OSError"}
    assert api.client.head("/healthz").status_code == 200


# --- 4. a token's GET /session mixes no one else's session ------------------------------------


def test_a_tokens_session_answer_carries_no_csrf_token_of_a_cookie(api: Api) -> None:
    _, secret = api.accounts.issue_token("maria.b", "read")
    api.sign_in("sofia.t")  # another user's cookie, sent along with the token
    cookie_only = api.get("/session").json()
    assert (cookie_only["login"], cookie_only["csrf_token"]) == ("sofia.t", api.csrf)
    both = api.client.get("/session", headers={"Authorization": f"Bearer {secret}"}).json()
    assert both["login"] == "maria.b"
    assert both["csrf_token"] is None
    api.client.cookies.clear()
    alone = api.client.get("/session", headers={"Authorization": f"Bearer {secret}"}).json()
    assert (alone["login"], alone["csrf_token"]) == ("maria.b", None)


# --- 5. an upload takes a multipart form only ---------------------------------------------------


def test_a_body_that_is_not_a_multipart_form_is_a_415_naming_the_type(api: Api) -> None:
    api.sign_in("sofia.t")
    headers = api.headers()
    sent = {
        "application/json": api.client.post("/imports/crm", json={"file": "x"}, headers=headers),
        "application/x-www-form-urlencoded": api.client.post(
            "/imports/crm", data={"file": "x"}, headers=headers
        ),
        "text/csv": api.client.post(
            "/imports/crm", content=b"a;b\n", headers={**headers, "Content-Type": "text/csv"}
        ),
        "a body without Content-Type": api.client.post(
            "/imports/crm", content=b"a;b\n", headers=headers
        ),
    }
    for media_type, answer in sent.items():
        body = problem_of(answer, 415)
        assert body["type"] == "urn:backoffice:unsupported-media-type"
        assert "as multipart/form-data" in body["detail"]
        assert body["detail"].endswith(f"not {media_type}")
    mail = problem_of(api.client.post("/imports/mail", json={}, headers=headers), 415)
    assert "field files" in mail["detail"]
    broken = api.client.post(
        "/imports/crm", content=b"--x\r\nno parts", headers={**headers, "Content-Type": FORM}
    )
    assert problem_of(broken, 400)["type"] == "urn:backoffice:malformed-body"
    api.sign_in("maria.b")  # an agent imports nothing: the role first, as for JSON
    refused = api.client.post("/imports/crm", json={"file": "x"}, headers=api.headers())
    assert problem_of(refused, 403)["detail"] == "an agent may not import CRM exports"
    api.client.cookies.clear()
    assert api.client.post("/imports/crm", json={"file": "x"}).status_code == 401


# --- 6. If-Match: strong tags, versions the case has --------------------------------------------


def test_if_match_refuses_a_weak_tag_and_a_version_out_of_range(api: Api) -> None:
    case = a_case(api)
    api.sign_in("maria.b")
    before = version_of(api, case)
    note = {"case": case, "text": "Nota"}
    weak = problem_of(api.command("add-note", note, **{"If-Match": f'W/"{before}"'}), 422)
    assert weak["errors"] == [{"field": "If-Match", "reason": weak["detail"][10:]}]
    assert "weak" in weak["detail"]
    for huge in ("9223372036854775808", "9" * 5_000, "0"):
        body = problem_of(api.command("add-note", note, **{"If-Match": f'"{huge}"'}), 422)
        assert body["errors"][0]["field"] == "If-Match"
        assert huge not in body["detail"].replace("9223372036854775807", "")
    unbalanced = api.command("add-note", note, **{"If-Match": f'"{before}'})
    assert problem_of(unbalanced, 422)["errors"][0]["field"] == "If-Match"
    assert version_of(api, case) == before  # nothing recorded
    assert api.command("add-note", note, **{"If-Match": f'"{before}"'}).status_code == 200


def test_an_if_match_ahead_of_the_case_says_so(api: Api) -> None:
    case = a_case(api)
    api.sign_in("maria.b")
    now = version_of(api, case)
    ahead = api.command("add-note", {"case": case, "text": "Nota"}, **{"If-Match": f'"{now + 5}"'})
    body = problem_of(ahead, 412)
    assert body["detail"].startswith(f"the case is at version {now}, not {now + 5}")
    assert "changed since" not in body["detail"]
    assert body["current_version"] == now
    assert api.command("add-note", {"case": case, "text": "Nota"}).status_code == 200
    behind = api.command("add-note", {"case": case, "text": "Nota"}, **{"If-Match": f'"{now}"'})
    assert problem_of(behind, 412)["detail"].startswith(f"the case changed since version {now}")


# --- 7. whole numbers of a query: digits only ---------------------------------------------------


def test_whole_numbers_of_a_query_are_digits_only(api: Api) -> None:
    case = a_case(api)
    api.sign_in("sofia.t")
    for field, value in (("limit", "2.0"), ("offset", "1e0"), ("limit", "2.5"),
                         ("limit", "02"), ("offset", ""), ("limit", "0x2")):  # fmt: skip
        body = problem_of(api.get("/cases", **{field: value}), 422)
        assert body["errors"] == [{"field": field, "reason": body["errors"][0]["reason"]}]
        assert body["errors"][0]["reason"].startswith("expected a whole number"), value
    both = problem_of(api.client.get("/cases?limit=2.0&offset=1e0"), 422)
    assert [e["field"] for e in both["errors"]] == ["limit", "offset"]
    assert problem_of(api.get(f"/cases/{case}", version="1.0"), 422)["errors"][0]["field"] == (
        "version"
    )
    slots = problem_of(api.get(f"/cases/{case}/slots", days="3.0"), 422)
    assert slots["errors"][0]["field"] == "days"
    events = problem_of(api.get("/events", limit="1.0", wait="0"), 422)
    assert events["errors"][0]["field"] == "limit"
    assert len(api.get("/cases", limit="1", offset="0").json()) == 1
    assert api.get("/cases", limit="-1").json()["errors"][0]["reason"] == "at least 1"
    assert api.get(f"/cases/{case}", version="1").json()["version"] == 1


# --- 2. a 413 names the route's limit -----------------------------------------------------------


def test_a_body_over_the_routes_limit_is_a_413_naming_it(api: Api) -> None:
    api.sign_in("sofia.t")

    def sent(path: str, length: int, media_type: str) -> Any:
        headers = api.headers({"Content-Length": str(length), "Content-Type": media_type})
        return api.client.post(path, content=b"--x--", headers=headers)

    json_route = sent("/commands/add-note", 10_000_001, "application/json")
    assert problem_of(json_route, 413)["detail"] == "the body is larger than 10 MB"
    assert problem_of(sent("/imports/crm", 50_000_001, FORM), 413)["detail"] == (
        "the body is larger than 50 MB"
    )
    assert sent("/imports/crm", 50_000_000, FORM).status_code != 413
