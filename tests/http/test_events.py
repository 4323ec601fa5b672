"""The live events (issue 13, item 6): `GET /events` as Server-Sent Events, the whole log or
one case's, resumable with `Last-Event-ID`, for whoever may read it. On SQLite and PostgreSQL.

The test client gives a response once it is over, so every stream here ends by itself: after
`limit` events or `wait` seconds, and each thread is joined with a timeout.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import anyio
import pytest

from entrypoints.http import events as live
from entrypoints.http.common import STORAGE_INT_MAX, Service
from tests.http.conftest import Api

TIMEOUT = 20.0
"""The most any one stream of these tests may take."""


@pytest.fixture(autouse=True)
def quick_polls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "POLL_SECONDS", 0.02)


def parse(text: str) -> list[dict[str, str]]:
    """The messages of an event stream: each a dict of its fields (`comment` for a comment)."""
    messages = []
    for block in text.replace("\r\n", "\n").split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.split("\n"):
            if not line:
                continue
            name, _, value = line.partition(":")
            value = value.removeprefix(" ")
            key = name or "comment"
            fields[key] = f"{fields[key]}\n{value}" if key in fields else value
        if fields:
            messages.append(fields)
    return messages


def received(answer: Any) -> list[dict[str, Any]]:
    """The events of a finished stream: id, event and data (as JSON)."""
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/event-stream")
    return [
        {"id": int(m["id"]), "event": m["event"], "data": json.loads(m["data"])}
        for m in parse(answer.text)
        if "data" in m
    ]


def service(api: Api) -> Service:
    found: Service = api.client.app.state.service
    return found


def case_id(api: Api, key: str) -> str:
    return str(service(api).office.resolve(key))


def head(api: Api) -> int:
    return service(api).office.store.last_position()


def work_on(api: Api, case: str) -> None:
    """Three commands as the signed-in supervisor: three events."""
    for name, body in [
        ("assign-case", {"case": case, "agent": "maria.b"}),
        ("add-note", {"case": case, "text": "Cliente pide copia de la factura"}),
        ("add-note", {"case": case, "text": "Se envía la copia por correo"}),
    ]:
        answer = api.command(name, body)
        assert answer.status_code == 200, answer.text


def history(api: Api, case: str) -> list[dict[str, Any]]:
    answer = api.get(f"/cases/{case}/history")
    assert answer.status_code == 200
    entries: list[dict[str, Any]] = answer.json()
    return entries


def as_history(event: dict[str, Any]) -> dict[str, Any]:
    return {k: event["data"][k] for k in ("version", "timestamp", "actor", "event", "data")}


class Following:
    """A stream read in a thread of its own, while the test does something else."""

    def __init__(self, open_stream: Callable[[], Any]) -> None:
        self.answer: Any = None
        before = live.open_streams()
        self.thread = threading.Thread(target=self._run, args=(open_stream,), daemon=True)
        self.thread.start()
        deadline = time.monotonic() + TIMEOUT
        while live.open_streams() <= before:  # the stream has its start: act now
            assert self.thread.is_alive(), "the stream ended before it started"
            assert time.monotonic() < deadline, "the stream did not start"
            time.sleep(0.01)

    def _run(self, open_stream: Callable[[], Any]) -> None:
        self.answer = open_stream()

    def result(self) -> Any:
        self.thread.join(TIMEOUT)
        assert not self.thread.is_alive(), "the stream did not end"
        return self.answer


def test_a_supervisors_stream_receives_a_commands_events_as_they_happen_in_order(
    api: Api,
) -> None:
    case = case_id(api, "CRM-1")
    api.sign_in("sofia.t")
    before = head(api)
    follow = Following(lambda: api.get("/events", limit=3, wait=TIMEOUT))
    work_on(api, case)
    got = received(follow.result())
    assert [e["id"] for e in got] == sorted({e["id"] for e in got})  # increasing, no repeat
    assert [e["id"] for e in got] == [e["data"]["position"] for e in got]
    assert got[0]["id"] > before  # only what happened after it started
    assert [e["event"] for e in got] == ["case.assigned", "case.note_added", "case.note_added"]
    assert all(e["event"] == e["data"]["event"] for e in got)
    assert {e["data"]["case"] for e in got} == {case}
    assert [as_history(e) for e in got] == history(api, case)[-3:]  # as the history shows them
    assert got[0]["data"]["actor"] == "agent:sofia.t"


def test_resuming_with_last_event_id_gives_exactly_the_events_after_it(api: Api) -> None:
    one, two = case_id(api, "CRM-1"), case_id(api, "CRM-2")
    api.sign_in("sofia.t")
    before = head(api)
    work_on(api, one)
    work_on(api, two)
    everything = received(api.get("/events", **{"from": before}, wait=0))
    assert len(everything) == 6
    assert [e["id"] for e in everything] == sorted({e["id"] for e in everything})
    assert everything[0]["id"] > before
    seen = everything[2]["id"]
    resumed = api.client.get("/events", params={"wait": 0}, headers={"Last-Event-ID": str(seen)})
    assert received(resumed) == everything[3:]
    # An `EventSource` reconnects to the same URL: the header wins over the URL's `from`.
    again = api.client.get(
        "/events", params={"from": before, "limit": 2}, headers={"Last-Event-ID": str(seen)}
    )
    assert received(again) == everything[3:5]
    assert received(api.get("/events", **{"from": everything[-1]["id"]}, wait=0)) == []


def test_without_a_position_the_stream_starts_at_the_head(api: Api) -> None:
    api.sign_in("sofia.t")
    work_on(api, case_id(api, "CRM-1"))
    answer = api.get("/events", wait=0)
    assert received(answer) == []
    [opening] = parse(answer.text)
    assert int(opening["id"]) == head(api)  # where a reconnecting client resumes from


def test_a_poll_gets_every_event_there_is_now_however_recently_another_looked(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(live, "POLL_SECONDS", 30.0)
    api.sign_in("sofia.t")
    before = head(api)
    assert received(api.get("/events", wait=0)) == []  # the head, shared for 30 s
    work_on(api, case_id(api, "CRM-1"))
    assert len(received(api.get("/events", **{"from": before}, wait=0))) == 3


def test_a_cases_stream_has_its_events_only(api: Api) -> None:
    one, two = case_id(api, "CRM-1"), case_id(api, "CRM-2")
    api.sign_in("sofia.t")
    work_on(api, one)
    work_on(api, two)
    whole = received(api.get("/events", case=two, **{"from": 0}, wait=0))
    assert {e["data"]["case"] for e in whole} == {two}
    assert [as_history(e) for e in whole] == history(api, two)  # from its first event
    by_key = received(api.get("/events", case="CRM-2", **{"from": 0}, limit=3))
    assert by_key == whole[:3]
    assert api.get("/events", case="CRM-404", wait=0).status_code == 404


def hold_practices(api: Api, *keys: str) -> None:
    """A daily dialogue held for each register key: one team event each, in the log."""
    from domain.team.practices import Practice, PracticeHeld, practice_stream
    from domain.values import Actor

    held = datetime(2026, 12, 1, 14, 0, tzinfo=UTC)
    service(api).office.store.append(
        [
            PracticeHeld(
                originator_id=practice_stream(key), originator_version=1, timestamp=held,
                actor=Actor.parse("agent:sofia.t"), practice=Practice.DAILY_DIALOGUE,
                owner="sofia.t", held_at=held, minutes=15, register_key=key,
            )
            for key in keys
        ]
    )  # fmt: skip


def test_team_events_go_to_the_whole_stream_only(api: Api) -> None:
    from domain.team.practices import practice_stream

    case = case_id(api, "CRM-1")
    before = head(api)
    hold_practices(api, "R-1")
    api.sign_in("audit.a")
    [team] = received(api.get("/events", **{"from": before}, wait=0))
    assert team["event"] == "team.practice_held"
    assert team["data"]["case"] is None
    assert team["data"]["stream"] == str(practice_stream("R-1"))
    assert team["data"]["data"]["practice"] == "daily_dialogue"
    assert received(api.get("/events", case=case, **{"from": before}, wait=0)) == []


def test_an_agent_may_follow_a_case_but_not_the_whole_log(api: Api) -> None:
    case = case_id(api, "CRM-1")
    api.sign_in("maria.b")
    refused = api.get("/events", wait=0)
    assert refused.status_code == 403
    assert refused.headers["content-type"].startswith("application/problem+json")
    assert refused.json()["detail"].endswith("agent may not read events")
    assert api.command("assign-case", {"case": case, "agent": "maria.b"}).status_code == 200
    [assigned] = received(api.get("/events", case=case, **{"from": head(api) - 1}, wait=0))
    assert (assigned["event"], assigned["data"]["actor"]) == ("case.assigned", "agent:maria.b")
    api.sign_in("coord.c")
    assert api.get("/events", case=case, wait=0).status_code == 403  # no history for them
    api.sign_in("audit.a")
    assert api.get("/events", wait=0).status_code == 200


def test_without_a_sign_in_the_stream_is_refused(api: Api) -> None:
    api.client.cookies.clear()
    answer = api.get("/events", wait=0)
    assert answer.status_code == 401
    assert answer.headers["content-type"].startswith("application/problem+json")
    intake = api.accounts.issue_token("crm-front", "intake")[1]
    token = api.client.get("/events", params={"wait": 0},
                           headers={"Authorization": f"Bearer {intake}"})  # fmt: skip
    assert token.status_code == 403


def reads_through(api: Api, through: str) -> list[tuple[str, str]]:
    """The register of reads, as (reader, case id), of what was read `through` a route."""
    register = service(api).reads
    assert register is not None
    return [(r.reader, str(r.case_id)) for r in register.reads() if r.through == through]


def test_a_limited_stream_records_reads_of_the_cases_it_sent_only(api: Api) -> None:
    one, two = case_id(api, "CRM-1"), case_id(api, "CRM-2")
    api.sign_in("sofia.t")
    before = head(api)
    hold_practices(api, "R-1", "R-2")
    work_on(api, one)
    work_on(api, two)
    team = received(api.get("/events", **{"from": before}, limit=2, wait=0))
    assert [e["event"] for e in team] == ["team.practice_held"] * 2
    assert reads_through(api, "GET /events") == []  # the cases after them were not sent
    three = received(api.get("/events", **{"from": before}, limit=3, wait=0))
    assert [e["data"]["case"] for e in three] == [None, None, one]
    assert reads_through(api, "GET /events") == [("sofia.t", one)]  # once, and not `two`
    resumed = received(api.get("/events", **{"from": three[-1]["id"]}, limit=3, wait=0))
    assert {e["data"]["case"] for e in resumed} == {one, two}
    assert reads_through(api, "GET /events")[1:] == [("sofia.t", one), ("sofia.t", two)]
    # A case's stream cuts the batch after leaving the others' events out.
    [first] = received(api.get("/events", case=two, **{"from": before}, limit=1, wait=0))
    assert (first["data"]["case"], first["event"]) == (two, "case.assigned")
    assert reads_through(api, "GET /events?case") == [("sofia.t", two)]


def test_a_limited_stream_resumes_after_the_last_event_it_sent(api: Api) -> None:
    api.sign_in("sofia.t")
    before = head(api)
    work_on(api, case_id(api, "CRM-1"))
    work_on(api, case_id(api, "CRM-2"))
    everything = received(api.get("/events", **{"from": before}, wait=0))
    pages: list[dict[str, Any]] = []
    while len(pages) < len(everything):
        after = pages[-1]["id"] if pages else before
        page = received(api.get("/events", **{"from": after}, limit=4, wait=0))
        assert page, "a page before the head is never empty"
        pages += page
    assert pages == everything


def test_a_position_storage_cannot_hold_is_refused_naming_where_it_came_from(
    api: Api,
) -> None:
    api.sign_in("sofia.t")
    huge = "99999999999999999999999"
    for sent in [{"params": {"from": huge}}, {"headers": {"Last-Event-ID": huge}}]:
        field = "from" if "params" in sent else "Last-Event-ID"
        answer = api.client.get("/events", params={"wait": 0, **sent.get("params", {})},
                                headers=sent.get("headers"))  # fmt: skip
        assert answer.status_code == 422, answer.text
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert answer.json()["errors"] == [
            {"field": field, "reason": f"a log position is at most {STORAGE_INT_MAX}"}
        ]
    thousand_digits = api.get("/events", **{"from": "9" * 1000}, wait=0)
    assert thousand_digits.status_code == 422
    assert thousand_digits.json()["errors"][0]["field"] == "from"
    padded = api.get("/events", **{"from": "0" * 30 + str(head(api))}, wait=0)
    assert padded.status_code == 200  # leading zeros are the same position


def test_a_position_past_the_log_is_refused_with_where_the_log_ends(api: Api) -> None:
    case = case_id(api, "CRM-1")
    api.sign_in("sofia.t")
    work_on(api, case)
    end = head(api)
    for past in (end + 1, STORAGE_INT_MAX):
        by_url = api.get("/events", **{"from": past}, wait=0)
        assert by_url.status_code == 422, by_url.text
        assert by_url.json()["errors"] == [
            {"field": "from", "reason": f"the log ends at {end}: resume from {end} or before"}
        ]
        by_header = api.client.get(
            "/events", params={"from": 0, "wait": 0}, headers={"Last-Event-ID": str(past)}
        )
        assert by_header.status_code == 422
        assert by_header.json()["errors"][0]["field"] == "Last-Event-ID"
        assert f"the log ends at {end}" in by_header.json()["detail"]
        of_a_case = api.get("/events", case=case, **{"from": past}, wait=0)
        assert of_a_case.status_code == 422
    at_the_end = api.get("/events", **{"from": end}, wait=0)
    assert received(at_the_end) == []  # the head itself: nothing yet, and no refusal
    assert int(parse(at_the_end.text)[0]["id"]) == end
    assert reads_through(api, "GET /events") == []


def test_bad_positions_are_refused(api: Api) -> None:
    api.sign_in("sofia.t")
    for text in ("doce", "²", "-1", "1.5", "0x10"):
        header = {b"Last-Event-ID": text.encode()}  # as sent, UTF-8
        bad = api.client.get("/events", params={"wait": 0}, headers=header)
        assert bad.status_code == 422, (text, bad.text)
        assert bad.json()["errors"][0]["field"] == "Last-Event-ID"
        by_url = api.get("/events", **{"from": text}, wait=0)
        assert by_url.status_code == 422, (text, by_url.text)
        assert by_url.json()["errors"][0]["field"] == "from"  # as the client named it
    assert api.get("/events", **{"from": ""}, wait=0).status_code == 422
    assert api.get("/events", limit=0, wait=0).status_code in (400, 422)


def test_an_idle_stream_sends_keep_alives(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "KEEP_ALIVE_SECONDS", 0.05)
    api.sign_in("sofia.t")
    messages = parse(api.get("/events", wait=0.3).text)
    alive = [m for m in messages if m.get("comment") == "keep-alive"]
    assert alive
    assert all("data" not in m and int(m["id"]) == head(api) for m in alive)


def test_a_revoked_token_ends_its_stream(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "RECHECK_SECONDS", 0.05)
    record, secret = api.accounts.issue_token("sofia.t", "read")
    bearer = {"Authorization": f"Bearer {secret}"}
    follow = Following(lambda: api.client.get("/events", params={"wait": TIMEOUT}, headers=bearer))
    started = time.monotonic()
    api.accounts.revoke_token(record.token_id)
    answer = follow.result()
    assert time.monotonic() - started < TIMEOUT / 2
    assert parse(answer.text)[-1] == {"comment": "ended: the token was revoked"}


def test_streams_end_when_the_server_stops(api: Api) -> None:
    api.sign_in("sofia.t")
    follow = Following(lambda: api.get("/events", wait=TIMEOUT))
    started = time.monotonic()
    try:
        live.stop_streams()
        assert follow.result().status_code == 200
    finally:
        live.allow_streams()
    assert time.monotonic() - started < TIMEOUT / 2


def test_a_stream_ends_when_the_client_leaves(api: Api) -> None:
    """Straight through ASGI: the client goes away after the first message."""
    _, secret = api.accounts.issue_token("sofia.t", "read")
    scope: dict[str, Any] = {
        "type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
        "scheme": "http", "path": "/events", "raw_path": b"/events", "root_path": "",
        "query_string": f"wait={TIMEOUT}".encode(),
        "headers": [(b"host", b"testserver"), (b"authorization", f"Bearer {secret}".encode())],
        "client": ("testclient", 50000), "server": ("testserver", 80), "state": {},
    }  # fmt: skip
    chunks: list[bytes] = []

    async def follow_then_leave() -> float:
        first = anyio.Event()
        asked: list[bool] = []

        async def receive() -> dict[str, Any]:
            if not asked:
                asked.append(True)
                return {"type": "http.request", "body": b"", "more_body": False}
            await first.wait()
            return {"type": "http.disconnect"}

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                first.set()

        started = time.monotonic()
        with anyio.fail_after(TIMEOUT / 2):
            await api.client.app(scope, receive, send)
        return time.monotonic() - started

    with api.client.portal() as portal:
        took = portal.call(follow_then_leave)
    assert took < TIMEOUT / 2
    assert b"events after position" in b"".join(chunks)


def test_the_stream_is_in_the_openapi_document() -> None:
    from entrypoints.http.app import openapi_document

    operation = openapi_document()["paths"]["/events"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert {"case", "from", "limit", "wait", "Last-Event-ID"} <= names
    [start] = [p for p in operation["parameters"] if p["name"] == "from"]
    position = start["schema"]["oneOf"][0]
    assert position == {"type": "integer", "minimum": 0, "maximum": STORAGE_INT_MAX}
