"""`Idempotency-Key` (issue 13): a retried request never runs twice. A receipt of the first
answer (status, `ETag`, the case's id and version, its events' versions: no customer data)
is kept with the key, the login and a digest of the request; a retry gets the first answer
again, rebuilt from the log, and records nothing; the same key with another body is a 422;
each user's keys are their own; a key whose request is still running makes a retry a 409;
keys are forgotten after 24 hours; a failure keeps nothing. Over HTTP and on the stores
themselves (memory, SQLite, PostgreSQL), with requests made at once."""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from adapters.accounts import MemoryAccountStore, SqlAccountStore
from adapters.clock import FixedClock
from application.ports.accounts import IdempotencyRecord, IdempotencyStore, StoredAnswer
from entrypoints.settings import load_settings
from tests.conftest import T0
from tests.http.conftest import Api

CALL = {
    "account": "80055555",
    "line": "hogar",
    "customer_name": "Ana Peña",
    "typification": "Facturación",
    "request": "Cobro no reconocido",
    "received_at": "2026-07-15T08:30:00-05:00",
}
ROW = {"crm_case_id": "CRM-77", "received_at": "15/07/2026 08:00", "account": "80077777",
       "line": "hogar", "customer_name": "Ana Peña", "typification": "Facturación"}  # fmt: skip


def head(api: Api) -> int:
    return api.office.store.last_position()


def case_of(api: Api, key: str) -> str:
    [row] = [row for row in api.office.cases() if row.source.key == key]
    return str(row.case_id)


def test_a_retried_call_gets_the_first_answer_again_and_records_nothing(api: Api) -> None:
    api.sign_in("maria.b")
    key = {"Idempotency-Key": "7f1c2a9e-call-1"}
    first = api.command("open-case-from-call", CALL, **key)
    assert first.status_code == 200, first.text
    assert "idempotent-replayed" not in first.headers
    after = head(api)
    retry = api.command("open-case-from-call", CALL, **key)
    assert retry.status_code == 200
    assert retry.content == first.content  # the same body, byte for byte
    assert retry.headers["etag"] == first.headers["etag"]
    assert retry.headers["idempotent-replayed"] == "true"
    assert head(api) == after  # nothing ran
    # a client that stamps its retry anew: refused with the key, nothing recorded …
    restamped = {**CALL, "received_at": "2026-07-15T08:31:00-05:00"}
    assert api.command("open-case-from-call", restamped, **key).status_code == 422
    assert head(api) == after
    # … where without a key it would be taken for a second call about the same request
    plain = api.command("open-case-from-call", restamped)
    assert plain.status_code == 200
    assert head(api) > after


def test_the_same_key_with_another_request_is_refused(api: Api) -> None:
    api.sign_in("maria.b")
    key = {"Idempotency-Key": "reused-key"}
    assert api.command("open-case-from-call", CALL, **key).status_code == 200
    before = head(api)
    other = api.command("open-case-from-call", {**CALL, "account": "80066666"}, **key)
    assert other.status_code == 422
    assert other.json()["errors"][0]["field"] == "Idempotency-Key"
    assert "reused for another request" in other.json()["detail"]
    elsewhere = api.command("add-note", {"case": "x", "text": "y"}, **key)  # another route
    assert elsewhere.status_code == 422
    assert head(api) == before


def test_each_user_has_keys_of_their_own(api: Api) -> None:
    key = {"Idempotency-Key": "shared-by-chance"}
    api.sign_in("maria.b")
    mine = api.command("open-case-from-call", CALL, **key)
    api.sign_in("carlos.m")
    theirs = api.command("open-case-from-call", {**CALL, "account": "80066666"}, **key)
    assert theirs.status_code == 200
    assert "idempotent-replayed" not in theirs.headers
    assert theirs.json()["case"]["case_id"] != mine.json()["case"]["case_id"]


def test_intake_with_a_key_answers_a_retry_as_the_first_time(api: Api) -> None:
    _, secret = api.accounts.issue_token("crm-front", "intake")
    api.client.cookies.clear()
    headers = {"Authorization": f"Bearer {secret}", "Idempotency-Key": "crm-77-try"}
    first = api.client.post("/intake/crm", json=ROW, headers=headers)
    assert (first.status_code, first.json()["outcome"]) == (201, "created")
    after = head(api)
    retry = api.client.post("/intake/crm", json=ROW, headers=headers)
    assert (retry.status_code, retry.json()) == (201, first.json())  # not "known": replayed
    assert head(api) == after
    other = api.client.post("/intake/crm", json={**ROW, "crm_case_id": "CRM-78"}, headers=headers)
    assert other.status_code == 422
    bad_key = {**headers, "Idempotency-Key": "a key with spaces"}
    assert api.client.post("/intake/crm", json=ROW, headers=bad_key).status_code == 422


def test_a_failed_request_keeps_nothing_and_a_retry_runs_again(api: Api) -> None:
    case = case_of(api, "CRM-1")
    api.sign_in("maria.b")
    key = {"Idempotency-Key": "close-early"}
    body = {"case": case, "summary": "listo", "first_contact": True}
    refused = api.command("close-case", body, **key)
    assert refused.status_code == 409
    again = api.command("close-case", body, **key)
    assert again.status_code == 409
    assert "idempotent-replayed" not in again.headers  # it ran again
    note = {"case": case, "text": "Cliente informado"}
    assert api.command("add-note", note, **key).status_code == 200  # the key was free


def test_a_retry_while_the_first_request_runs_is_a_conflict(api: Api) -> None:
    api.sign_in("maria.b")
    body = json.dumps(CALL).encode()
    digest = hashlib.sha256(b"\0".join((b"POST", b"/commands/open-case-from-call", body)))
    keys = api.accounts.idempotency
    assert keys is not None
    assert keys.begin("maria.b", "in-flight", digest.hexdigest()) is None  # "running"
    headers = api.headers({"Idempotency-Key": "in-flight", "Content-Type": "application/json"})
    busy = api.client.post("/commands/open-case-from-call", content=body, headers=headers)
    assert busy.status_code == 409
    assert busy.json()["detail"] == "a request with this Idempotency-Key is in progress"
    assert busy.headers["retry-after"] == "1"


def test_a_key_is_forgotten_after_24_hours(api: Api, clock: FixedClock) -> None:
    api.sign_in("maria.b")
    key = {"Idempotency-Key": "day-old"}
    assert api.command("open-case-from-call", CALL, **key).status_code == 200
    clock.advance(timedelta(hours=23, minutes=59))
    other = {**CALL, "account": "80066666"}
    assert api.command("open-case-from-call", other, **key).status_code == 422
    clock.advance(timedelta(minutes=2))
    fresh = api.command("open-case-from-call", other, **key)
    assert fresh.status_code == 200
    assert "idempotent-replayed" not in fresh.headers


def test_requests_made_at_once_with_one_key_run_once(api: Api) -> None:
    case = case_of(api, "CRM-2")
    api.sign_in("maria.b")
    before = head(api)
    headers = api.headers({"Idempotency-Key": "at-once"})
    body = {"case": case, "text": "Una sola nota"}
    answers: list[Any] = []

    def send() -> None:
        answers.append(api.client.post("/commands/add-note", json=body, headers=headers))

    threads = [threading.Thread(target=send) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    statuses = sorted(a.status_code for a in answers)
    assert set(statuses) <= {200, 409}
    assert 200 in statuses
    assert head(api) == before + 1  # one note, however many were sent
    assert all(a.json()["events"][0]["version"] for a in answers if a.status_code == 200)


def kept_answer(api: Api, login: str, key: str) -> StoredAnswer:
    """What the store keeps for `login` and `key` (asked as a request with another digest)."""
    record = IdempotencyRecord(login=login, key=key, digest="another", created_at=T0)
    keys = api.accounts.idempotency
    assert keys is not None
    kept = keys.store.claim_key(
        record, expired_before=T0 - timedelta(days=9_999), abandoned_before=T0
    )
    assert kept is not None
    assert kept.answer is not None
    answer: StoredAnswer = kept.answer
    return answer


def test_the_store_keeps_a_receipt_not_the_customers_data(api: Api) -> None:
    api.sign_in("maria.b")
    first = api.command("open-case-from-call", CALL, **{"Idempotency-Key": "receipt-1"})
    assert first.status_code == 200, first.text
    case = first.json()["case"]
    kept = kept_answer(api, "maria.b", "receipt-1")
    stored = f"{kept.body} {json.dumps(kept.headers)}"
    for personal in ("Ana Peña", "Ana Pe\\u00f1a", "80055555", "Cobro no reconocido"):
        assert personal not in stored, personal
    receipt = json.loads(kept.body)
    assert receipt["case"] == {"field": "case", "id": case["case_id"], "version": case["version"]}
    assert receipt["events"] == {"events": [e["version"] for e in first.json()["events"]]}
    assert kept.status == 200
    assert kept.headers["ETag"] == first.headers["etag"]


def test_a_retry_after_later_changes_gets_the_case_as_the_first_answer_showed_it(
    api: Api,
) -> None:
    api.sign_in("maria.b")
    case = case_of(api, "CRM-1")
    key = {"Idempotency-Key": "note-then-more"}
    first = api.command("add-note", {"case": case, "text": "Primera nota"}, **key)
    assert first.status_code == 200, first.text
    for text in ("Segunda", "Tercera"):
        assert api.command("add-note", {"case": case, "text": text}).status_code == 200
    retry = api.command("add-note", {"case": case, "text": "Primera nota"}, **key)
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.content == first.content  # the case as of the first answer's version
    assert retry.json()["case"]["version"] < api.get(f"/cases/{case}").json()["version"]


def test_an_e_mail_with_a_key_is_answered_again_from_its_receipt(api: Api) -> None:
    from tests.http.test_uploads import bearer, message

    headers = {**bearer(api, "crm-front", "intake"), "Content-Type": "message/rfc822",
               "Idempotency-Key": "mail-1"}  # fmt: skip
    raw = message("reco-idem@correo.claro.com.co")
    first = api.client.post("/intake/mail", content=raw, headers=headers)
    assert (first.status_code, first.json()["outcome"]) == (201, "created")
    after = head(api)
    retry = api.client.post("/intake/mail", content=raw, headers=headers)
    assert (retry.status_code, retry.content) == (201, first.content)  # not "known"
    assert retry.headers["idempotent-replayed"] == "true"
    assert retry.headers["etag"] == first.headers["etag"]
    assert head(api) == after
    kept = kept_answer(api, "crm-front", "mail-1")
    assert "Martha" not in kept.body
    assert "80321654" not in kept.body
    assert json.loads(kept.body)["fields"] == {"outcome": "created"}


def test_an_answer_kept_whole_before_receipts_is_still_given_to_a_retry(api: Api) -> None:
    """A key answered before the upgrade kept the whole body: for the rest of its day, a
    retry gets it as it was."""
    api.sign_in("maria.b")
    body = json.dumps(CALL).encode()
    digest = hashlib.sha256(b"\0".join((b"POST", b"/commands/open-case-from-call", body)))
    keys = api.accounts.idempotency
    assert keys is not None
    assert keys.begin("maria.b", "before-upgrade", digest.hexdigest()) is None
    whole = '{"case":{"case_id":"x","version":3},"events":[],"notice":""}'
    old = StoredAnswer(status=200, body=whole,
                       headers={"ETag": '"3"', "Content-Type": "application/json"})  # fmt: skip
    keys.finish("maria.b", "before-upgrade", old)
    before = head(api)
    headers = api.headers({"Idempotency-Key": "before-upgrade", "Content-Type": "application/json"})
    retry = api.client.post("/commands/open-case-from-call", content=body, headers=headers)
    assert (retry.status_code, retry.text, retry.headers["etag"]) == (200, whole, '"3"')
    assert retry.headers["idempotent-replayed"] == "true"
    assert head(api) == before


# --- the stores ------------------------------------------------------------------------------


@pytest.fixture(params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def keys(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[IdempotencyStore]:
    if request.param == "memory":
        yield MemoryAccountStore()
        return
    url = request.getfixturevalue("postgres_url") if request.param == "postgres" else "sqlite"
    settings = load_settings(environ={}, data_dir=str(tmp_path / "data"), database_url=url)
    store = SqlAccountStore(settings.view_env("accounts"))
    try:
        yield store
    finally:
        store.close()


def claim(
    store: IdempotencyStore,
    login: str = "maria.b",
    key: str = "k1",
    digest: str = "d1",
    *,
    created_at: datetime = T0,
    expired_before: datetime = T0 - timedelta(hours=24),
    abandoned_before: datetime = T0 - timedelta(minutes=10),
) -> IdempotencyRecord | None:
    return store.claim_key(
        IdempotencyRecord(login=login, key=key, digest=digest, created_at=created_at),
        expired_before=expired_before,
        abandoned_before=abandoned_before,
    )


ANSWER = StoredAnswer(status=201, body='{"a": "é"}', headers={"ETag": '"3"'})


def test_a_store_keeps_a_key_in_progress_then_its_answer(keys: IdempotencyStore) -> None:
    assert claim(keys) is None
    running = claim(keys, digest="d2")
    assert running is not None
    assert (running.digest, running.answer, running.created_at) == ("d1", None, T0)
    keys.answer_key("maria.b", "k1", ANSWER)
    done = claim(keys)
    assert done is not None
    assert done.answer == ANSWER
    assert claim(keys, login="carlos.m") is None  # another login's key
    keys.release_key("maria.b", "k1")  # answered: kept
    assert claim(keys) is not None
    keys.release_key("carlos.m", "k1")  # in progress: forgotten
    assert claim(keys, login="carlos.m") is None


def test_a_store_forgets_expired_and_abandoned_keys(keys: IdempotencyStore) -> None:
    assert claim(keys, key="old") is None
    keys.answer_key("maria.b", "old", ANSWER)
    assert claim(keys, key="stuck") is None
    later = T0 + timedelta(minutes=11)
    abandoned = later - timedelta(minutes=10)
    # its process died: taken over
    assert claim(keys, key="stuck", created_at=later, abandoned_before=abandoned) is None
    # answered: kept for the day
    assert claim(keys, key="old", created_at=later, abandoned_before=abandoned) is not None
    day = T0 + timedelta(hours=24, seconds=1)
    assert claim(keys, key="old", created_at=day, expired_before=day - timedelta(hours=24)) is None
    assert claim(keys, key="gone") is None
    assert keys.purge_keys(T0 + timedelta(minutes=1)) == 1  # "gone"; the others are newer
    assert claim(keys, key="gone", created_at=later) is None


def test_claims_made_at_once_keep_one(keys: IdempotencyStore) -> None:
    results: list[IdempotencyRecord | None] = []
    lock = threading.Lock()
    start = threading.Barrier(8)

    def attempt(n: int) -> None:
        start.wait()
        found = claim(keys, key="race", digest=f"d{n}")
        with lock:
            results.append(found)

    threads = [threading.Thread(target=attempt, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    winners = [r for r in results if r is None]
    assert len(winners) == 1
    losers = [r for r in results if r is not None]
    assert len({r.digest for r in losers}) == 1  # every other one saw the winner's
