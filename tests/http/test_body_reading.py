"""How a JSON body and its headers are read, from a second new user's trial: who asks is
answered before the body (401 without a valid sign-in, 403 without the CSRF token), on the
error path only; a number is not taken for a date-time (a Unix time) nor for a truth value;
the faults of the wrong JSON kind are listed together, up to ten; an `Idempotency-Key`
retry is compared as JSON (its keys in any order, spaced any way), and one key is sent
once; a field given twice is refused; a route that takes no body refuses one. On SQLite and
PostgreSQL, and over TCP for headers that a test client would join."""

from __future__ import annotations

import enum
import hashlib
import json
from collections.abc import Iterator
from datetime import date, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any, Literal

import attrs
import httpx
import msgspec
import pytest
from litestar.enums import RequestEncodingType

from adapters.clock import FixedClock
from entrypoints.http.common import body_errors, given_twice, json_body_class
from tests.http.conftest import Api, a_case, fields_of, problem_of, served_office
from tests.http.test_each_request import hops
from tests.serving import serving

JSON = {"Content-Type": "application/json"}
CALL = {
    "account": "80055555",
    "line": "hogar",
    "customer_name": "Ana Peña",
    "typification": "Facturación",
    "request": "Cobro no reconocido",
    "received_at": "2026-07-15T08:30:00-05:00",
}
DUE = "expected a date and time (ISO 8601 with its offset), got a number"
TRUTH = "expected true or false, got a number"


def head(api: Api) -> int:
    return api.office.store.last_position()


def json_body_paths(api: Api) -> list[str]:
    """Every path whose POST reads a JSON body and needs a sign-in (all but `/session`),
    a path parameter filled in."""
    paths = []
    for route in api.client.app.routes:
        for handler in getattr(route, "route_handlers", []):
            if "POST" not in handler.http_methods or json_body_class(handler) is None:
                continue
            data = handler.parsed_fn_signature.parameters["data"]
            media = getattr(data.kwarg_definition, "media_type", RequestEncodingType.JSON)
            if media == RequestEncodingType.JSON and route.path != "/session":
                paths.append(route.path.replace("{login:str}", "maria.b"))
    return paths


# --- 1. who asks, before the body -----------------------------------------------------------------


def test_every_json_route_answers_who_asks_before_a_body_it_cannot_take(api: Api) -> None:
    paths = json_body_paths(api)
    assert {"/commands/add-note", "/intake/crm", "/admin/users", "/admin/tokens",
            "/admin/users/maria.b/reset"} <= set(paths)  # fmt: skip
    assert len(paths) > 30  # every command
    bodies: list[dict[str, Any]] = [
        {"json": {"bogus": 1}},
        {"content": b"[[[", "headers": JSON},
        {"content": b"a=b", "headers": {"Content-Type": "application/x-www-form-urlencoded"}},
    ]
    api.client.cookies.clear()
    for path in paths:
        for body in bodies:
            answer = api.client.post(path, **body)
            assert problem_of(answer, 401)["type"] == "urn:backoffice:sign-in", (path, body)
            revoked = {**body, "headers": {**body.get("headers", {}), "Authorization": "Bearer x"}}
            assert api.client.post(path, **revoked).status_code == 401, (path, body)
    api.sign_in("maria.b")
    for path in paths:
        no_csrf = api.client.post(path, json={"bogus": 1})  # the session, without its token
        assert problem_of(no_csrf, 403)["detail"] == (
            "send the session's CSRF token in X-CSRF-Token"
        ), path
    # who may: the body's faults, as before
    assert fields_of(api.post("/commands/add-note", {"bogus": 1}))["bogus"] == "unknown field"
    broken = api.client.post("/commands/add-note", content=b"[[[", headers=api.headers(JSON))
    assert problem_of(broken, 400)["type"] == "urn:backoffice:malformed-body"


def test_a_sign_in_no_longer_valid_is_a_401_whatever_the_body(api: Api) -> None:
    api.sign_in("carlos.m")
    headers = api.headers(JSON)
    record, secret = api.accounts.issue_token("sofia.t", "all")
    api.accounts.revoke_token(record.token_id)
    api.accounts.disable("carlos.m")
    for body in (b'{"bogus": 1}', b"[[["):
        disabled = api.client.post("/commands/add-note", content=body, headers=headers)
        assert problem_of(disabled, 401)["type"] == "urn:backoffice:sign-in"
        token = {**JSON, "Authorization": f"Bearer {secret}"}
        assert api.client.post("/intake/crm", content=body, headers=token).status_code == 401


def test_who_asks_costs_no_thread_without_credentials_and_one_hop_with_them(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    api.client.cookies.clear()
    with hops(monkeypatch) as made:
        assert api.client.post("/commands/add-note", json={"bogus": 1}).status_code == 401
    assert made == []  # no sign-in: said on the event loop, no storage read
    token = {"Authorization": "Bearer not-a-token"}
    with hops(monkeypatch) as made:
        assert (
            api.client.post("/commands/add-note", json={"bogus": 1}, headers=token).status_code
            == 401
        )
    assert len(made) == 1  # the token read from storage, in one thread, on the error path
    case = a_case(api)
    api.sign_in("maria.b")
    with hops(monkeypatch) as made:  # a command that succeeds: one hop, as before
        assert (
            api.command("add-note", {"case": case, "text": "Cliente informado"}).status_code == 200
        )
    assert len(made) == 1


# --- 2. a number is not a date-time nor a truth value ---------------------------------------------


def test_a_number_for_a_date_time_or_a_truth_value_is_refused_not_converted(api: Api) -> None:
    case = a_case(api)
    api.sign_in("maria.b")
    before, follow_ups = head(api), api.get(f"/cases/{case}").json()["follow_ups"]
    for moment in (1796652000, 1e300, 1.5):
        answer = api.command("schedule-follow-up", {"case": case, "due_at": moment})
        assert fields_of(answer) == {"due_at": DUE}
        assert "out of range" not in answer.text
    closing = api.command("close-case", {"case": case, "summary": "Resuelto", "first_contact": 1})
    assert fields_of(closing) == {"first_contact": TRUTH}
    assert head(api) == before  # no follow-up in 2026, no case closed
    assert api.get(f"/cases/{case}").json()["follow_ups"] == follow_ups
    follow_up = api.command("complete-follow-up", {"case": case, "outcome": "ok",
                                                   "follow_up_id": True})  # fmt: skip
    assert fields_of(follow_up) == {"follow_up_id": "expected a whole number, got true or false"}
    note = api.command("add-note", {"case": case, "text": False})
    assert fields_of(note) == {"text": "expected text, got true or false"}
    kind = api.command("interpret-case", {"case": case, "category": 2, "subcategory": "x"})
    assert fields_of(kind) == {"category": "expected text (one of: sac, soporte, pqr, ventas), "
                                           "got a number"}  # fmt: skip
    assert fields_of(api.command("add-note", {"case": 7, "text": "x"})) == {
        "case": "expected a UUID, got a number"
    }
    good = api.command("schedule-follow-up", {"case": case, "due_at": "2026-07-20T10:00:00-05:00"})
    assert good.status_code == 200, good.text  # text still is a date-time


def test_values_of_the_wrong_kind_in_lists_are_named_by_their_place(api: Api) -> None:
    case = a_case(api)
    api.sign_in("maria.b")
    diagnosis = {"case": case, "serials": ["CM-1", 2, True], "equipment_ok": 0}
    assert fields_of(api.command("support-diagnose", diagnosis)) == {
        "serials[1]": "expected text, got a number",
        "serials[2]": "expected text, got true or false",
        "equipment_ok": TRUTH,
    }


class Kind(enum.Enum):
    A = "a"


class Level(enum.Enum):
    LOW = 1


@attrs.frozen
class Inner:
    at: datetime
    on: date | None = None


@attrs.frozen
class Outer:
    inner: Inner
    items: list[Inner]
    many: tuple[datetime, ...] = ()
    amount: Decimal | None = None
    level: Level | None = None
    kind: Kind | None = None
    mode: Literal["x", "y"] | None = None
    either: int | str | None = None
    free: Any = None
    flag: bool = False


def test_body_errors_refuses_each_kind_msgspec_would_convert_or_refuse_later() -> None:
    moment = "2026-07-20T10:00:00-05:00"
    good = {"inner": {"at": moment}, "items": [{"at": moment, "on": "2026-07-20"}],
            "many": [moment], "amount": 1.5, "level": 1, "kind": "a", "mode": "x",
            "either": 3, "free": 12, "flag": True}  # fmt: skip
    assert body_errors(good, Outer) == ([], 0)
    bad = {"inner": {"at": 1, "on": 20260720}, "items": [{"at": moment}, {"at": True}],
           "many": [moment, 2.5], "amount": "1.5", "level": "1", "kind": 1, "mode": 3,
           "either": [], "flag": 1}  # fmt: skip
    faults, more = body_errors(bad, Outer)
    assert {f["key"]: f["message"] for f in faults} == {
        "inner.at": DUE,
        "inner.on": "expected a date (ISO 8601), got a number",
        "items[1].at": "expected a date and time (ISO 8601 with its offset), got true or false",
        "many[1]": DUE,
        "amount": "expected a number, got text (send it without quotes)",
        "level": "expected one of: 1, got text (send it without quotes)",
        "kind": "expected text (one of: a), got a number",
        "mode": "expected one of: x, y, got a number",
        "either": "expected a whole number or text, got a list",
        "flag": TRUTH,
    }
    assert more == 0
    assert all(f["source"] == "body" for f in faults)


# --- 3. the faults listed together ----------------------------------------------------------------


def test_faults_of_kind_are_listed_together_and_msgspecs_own_one_at_a_time(api: Api) -> None:
    case = a_case(api)
    api.sign_in("maria.b")
    several = api.command("close-case", {"case": 5, "summary": 1, "first_contact": "yes",
                                         "resumen": "x"})  # fmt: skip
    assert fields_of(several) == {
        "resumen": "unknown field",
        "case": "expected a UUID, got a number",
        "summary": "expected text, got a number",
        "first_contact": "expected true or false, got text (send it without quotes)",
    }
    eleven = {"case": case, "serials": list(range(12))}
    flood = problem_of(api.command("support-diagnose", eleven), 422)
    assert len(flood["errors"]) == 10
    assert flood["detail"].endswith("; and 2 more")
    # the library's own checks (an enum's values, a UUID's text, required fields): the first
    kinds = api.command("interpret-case", {"case": "CRM-1", "category": "x", "subcategory": "y"})
    assert len(problem_of(kinds, 422)["errors"]) == 1


# --- 4. Idempotency-Key: the same JSON, one key ---------------------------------------------------


def test_a_retry_of_the_same_json_spaced_or_ordered_otherwise_is_a_replay(api: Api) -> None:
    case = a_case(api)
    api.sign_in("maria.b")
    headers = api.headers({**JSON, "Idempotency-Key": "same-json"})
    sent = b'{"case":"%s","text":"Llamada con Pe\xc3\xb1a"}' % case.encode()
    first = api.client.post("/commands/add-note", content=sent, headers=headers)
    assert first.status_code == 200, first.text
    after = head(api)
    for again in (
        b'{ "text" : "Llamada con Pe\\u00f1a",\n  "case" : "%s" }' % case.encode(),
        json.dumps({"text": "Llamada con Peña", "case": case}, indent=2).encode(),
    ):
        retry = api.client.post("/commands/add-note", content=again, headers=headers)
        assert (retry.status_code, retry.headers.get("idempotent-replayed")) == (200, "true")
        assert retry.content == first.content
    other = b'{"case":"%s","text":"Llamada con Pena"}' % case.encode()
    refused = api.client.post("/commands/add-note", content=other, headers=headers)
    assert fields_of(refused)["Idempotency-Key"].startswith("reused for another request")
    assert head(api) == after


def test_a_key_kept_with_the_bytes_digest_still_answers_the_same_bytes(api: Api) -> None:
    """A key kept before JSON was compared as JSON (the digest of the bytes sent)."""
    api.sign_in("maria.b")
    body = json.dumps(CALL).encode()  # spaced: not its canonical form
    digest = hashlib.sha256(b"\0".join((b"POST", b"/commands/open-case-from-call", body)))
    keys = api.accounts.idempotency
    assert keys is not None
    assert keys.begin("maria.b", "kept-before", digest.hexdigest()) is None  # running
    headers = api.headers({**JSON, "Idempotency-Key": "kept-before"})
    same = api.client.post("/commands/open-case-from-call", content=body, headers=headers)
    assert same.status_code == 409  # the same request, still running: not "reused"
    other = json.dumps({**CALL, "account": "80066666"}).encode()
    refused = api.client.post("/commands/open-case-from-call", content=other, headers=headers)
    assert fields_of(refused)["Idempotency-Key"].startswith("reused for another request")


def test_an_e_mail_is_compared_byte_for_byte(api: Api) -> None:
    from tests.http.test_uploads import bearer, message

    headers = {**bearer(api, "crm-front", "intake"), "Content-Type": "message/rfc822",
               "Idempotency-Key": "mail-bytes"}  # fmt: skip
    raw = message("reco-bytes@correo.claro.com.co")
    assert api.client.post("/intake/mail", content=raw, headers=headers).status_code == 201
    spaced = api.client.post("/intake/mail", content=raw + b"\r\n", headers=headers)
    assert fields_of(spaced)["Idempotency-Key"].startswith("reused for another request")


def test_two_idempotency_keys_are_refused_naming_the_header(api: Api) -> None:
    case = a_case(api)
    api.sign_in("maria.b")
    before = head(api)
    joined = [
        ("Idempotency-Key", "k-1"),
        ("Idempotency-Key", "k-2"),
        ("X-CSRF-Token", api.csrf or ""),
    ]  # the test client joins them: "k-1, k-2"
    answer = api.client.post("/commands/add-note", json={"case": case, "text": "x"},
                             headers=joined)  # fmt: skip
    assert fields_of(answer) == {"Idempotency-Key": "given twice: send one"}
    assert head(api) == before
    api.client.cookies.clear()
    unsigned = api.client.post("/commands/add-note", json={"case": case, "text": "x"},
                               headers=joined[:2])  # fmt: skip
    assert unsigned.status_code == 401  # who asks, first


@pytest.fixture(params=["sqlite"])
def served(request: pytest.FixtureRequest, tmp_path: Path, clock: FixedClock) -> Iterator[Api]:
    """The service over TCP (uvicorn), where two headers of one name arrive as two."""
    app, accounts, office = served_office(request, tmp_path, clock)
    with serving(app) as base, httpx.Client(base_url=base, timeout=20) as client:
        yield Api(client, accounts, office)  # type: ignore[arg-type]


def test_two_idempotency_headers_over_tcp_are_refused(served: Api) -> None:
    case = a_case(served)
    served.sign_in("maria.b")
    before = head(served)
    two = httpx.Headers([("Idempotency-Key", "k-1"), ("Idempotency-Key", "k-2"),
                         ("X-CSRF-Token", served.csrf or "")])  # fmt: skip
    answer = served.client.post("/commands/add-note", json={"case": case, "text": "x"},
                                headers=two)  # fmt: skip
    assert fields_of(answer) == {"Idempotency-Key": "given twice: send one"}
    assert head(served) == before


# --- 5. a field given twice -----------------------------------------------------------------------


def test_a_field_given_twice_is_refused_naming_it(api: Api) -> None:
    case = a_case(api)
    api.sign_in("maria.b")
    before = head(api)
    twice = b'{"case":"%s","text":"x","text":"y"}' % case.encode()
    answer = api.client.post("/commands/add-note", content=twice, headers=api.headers(JSON))
    assert fields_of(answer) == {"text": "given twice: send it once"}
    assert head(api) == before
    quoted = b'{"case":"%s","text":"dijo \\":\\" y \\":"}' % case.encode()  # `":` in a text
    assert api.client.post("/commands/add-note", content=quoted,
                           headers=api.headers(JSON)).status_code == 200  # fmt: skip


def test_given_twice_names_nested_fields_and_reads_again_only_when_counts_differ(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    body = b'{"a":{"b":1,"b":2},"l":[{"c":1},{"c":1,"d":[{"e":0,"e":0}],"c":2}],"z":1,"z":2}'
    assert given_twice(body, json.loads(body)) == ["z", "a.b", "l[1].c", "l[1].d[0].e"]
    spaced = b'{ "a" : 1 ,\n "b"\t:\n2 }'
    assert given_twice(spaced, json.loads(spaced)) == []
    texts = b'{"a":"\\":","b":": \\" :"}'
    assert given_twice(texts, json.loads(texts)) == []  # read again: none twice

    def second_look(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("read a second time")

    monkeypatch.setattr(json, "loads", second_look)  # what `common` reads with
    plain = b'{"case":"x","items":[{"at":"08:00:00"}],"nested":{"k":{"v":[1,2]}}}'
    assert given_twice(plain, msgspec.json.decode(plain)) == []  # counted: not read again


# --- 6. a route that takes no body ----------------------------------------------------------------


def test_a_route_that_takes_no_body_refuses_one(api: Api) -> None:
    api.sign_in("admin.x")
    api.accounts.disable("carlos.m")
    sent: list[tuple[bytes, dict[str, str]]] = [
        (b'{"x": 1}', JSON), (b"[1]", JSON), (b"xyz", {"Content-Type": "text/plain"}),
        (b"xyz", {}),
    ]  # fmt: skip
    for body, media in sent:
        answer = api.client.post("/admin/users/carlos.m/enable", content=body,
                                 headers=api.headers(media))  # fmt: skip
        assert fields_of(answer) == {"body": "this route takes no body"}
    assert api.accounts.find("carlos.m").disabled  # type: ignore[union-attr]
    chunked = api.client.post("/admin/users/carlos.m/enable", content=iter([b"{}"]),
                              headers=api.headers())  # fmt: skip
    assert fields_of(chunked) == {"body": "this route takes no body"}
    record, _ = api.accounts.issue_token("sofia.t", "read")
    revoke = api.client.post(f"/admin/tokens/{record.token_id}/revoke", json={"why": "x"},
                             headers=api.headers())  # fmt: skip
    assert fields_of(revoke) == {"body": "this route takes no body"}
    assert api.accounts.find_token(record.token_id).revoked_at is None  # type: ignore[union-attr]
    nothing_said = api.client.post(f"/admin/tokens/{record.token_id}/revoke", content=b"{}",
                                   headers=api.headers(JSON))  # fmt: skip
    assert nothing_said.status_code == 200, nothing_said.text  # `{}` is taken as no body
    empty = api.client.post("/admin/users/carlos.m/enable", content=b"", headers=api.headers())
    assert empty.status_code == 200, empty.text
    assert (
        api.client.post("/admin/users/carlos.m/disable", headers=api.headers()).status_code == 200
    )
    api.client.cookies.clear()
    unsigned = api.client.post("/admin/users/carlos.m/enable", json={"x": 1})
    assert unsigned.status_code == 401  # who asks, first
