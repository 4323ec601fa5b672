"""Who read what over HTTP (issue 15, point 4): reading a case's personal data through the API
is recorded in the register of reads (who, when, which case, through what), once the answer
succeeds; the auditor exports the register (`GET /audit/reads`, `.csv`); nobody else may.
On SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import io
import uuid
from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Any

import pytest

from application.ports.reads import PersonalRead, ReadRegister
from entrypoints.http import events as live
from entrypoints.http.common import Service
from tests.conftest import T0
from tests.http.conftest import Api


def _service(api: Api) -> Service:
    service: Service = api.client.app.state.service
    return service


def _register(api: Api) -> ReadRegister:
    register = _service(api).reads
    assert register is not None, "the application opens the register at start-up"
    return register


def _seen(api: Api) -> list[tuple[str, uuid.UUID, str]]:
    return [(r.reader, r.case_id, r.through) for r in _register(api).reads()]


class Counting:
    """The register, counting the calls to `record` (one a request)."""

    def __init__(self, inner: ReadRegister) -> None:
        self.inner = inner
        self.calls: list[int] = []

    def record(self, reads: Sequence[PersonalRead]) -> None:
        self.calls.append(len(reads))
        self.inner.record(reads)

    def reads(
        self,
        *,
        case_ids: Collection[uuid.UUID] | None = None,
        reader: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        after: int | None = None,
        limit: int | None = None,
    ) -> Sequence[PersonalRead]:
        return self.inner.reads(
            case_ids=case_ids, reader=reader, since=since, until=until, after=after, limit=limit
        )

    def close(self) -> None:
        self.inner.close()


def test_a_case_read_is_recorded_with_who_when_and_the_route(api: Api) -> None:
    case = api.office.case("CRM-1").case_id
    api.sign_in("maria.b")
    assert _seen(api) == []
    assert api.get(f"/cases/{case}").status_code == 200
    [read] = _register(api).reads()
    assert (read.reader, read.case_id, read.through) == ("maria.b", case, "GET /cases/{reference}")
    assert read.at == T0  # the office's clock
    assert api.get("/cases/CRM-1/history").status_code == 200
    assert _seen(api)[1:] == [("maria.b", case, "GET /cases/{reference}/history")]
    api.sign_in("sofia.t")
    assert api.get(f"/cases/{case}", version=1).status_code == 200
    as_of = (T0 + timedelta(minutes=1)).isoformat()
    assert api.get(f"/cases/{case}", as_of=as_of).status_code == 200
    assert _seen(api)[2:] == [
        ("sofia.t", case, "GET /cases/{reference}?version"),
        ("sofia.t", case, "GET /cases/{reference}?as_of"),
    ]


def test_an_answer_that_shows_nothing_records_nothing(api: Api) -> None:
    case = api.office.case("CRM-1").case_id
    api.sign_in("maria.b")
    assert api.get("/cases/CRM-404").status_code == 404
    assert api.get("/cases/CRM-404/history").status_code == 404
    assert api.get(f"/cases/{case}", version=1).status_code == 403  # an agent replays nothing
    api.sign_in("coord.c")
    assert api.get(f"/cases/{case}/history").status_code == 403
    assert api.get("/cases").status_code == 200  # the list shows no personal data
    assert api.get("/follow-ups/due").status_code == 200
    assert _seen(api) == []


def test_a_search_records_one_read_per_case_found_in_one_call(api: Api) -> None:
    counting = Counting(_register(api))
    _service(api).reads = counting
    api.sign_in("coord.c")
    found = api.get("/cases", search="cliente prueba")  # by the name
    assert found.status_code == 200
    listed = {uuid.UUID(row["case_id"]) for row in found.json()}
    assert len(listed) == 2
    assert counting.calls == [2]
    assert {(who, case) for who, case, _ in _seen(api)} == {("coord.c", c) for c in listed}
    assert {through for _, _, through in _seen(api)} == {"GET /cases?search"}
    assert api.get("/cases", search="80099999").status_code == 200  # by the account
    assert counting.calls == [2, 1]
    assert api.get("/cases", search="nadie-con-esto").json() == []
    assert counting.calls == [2, 1]  # nothing found, nothing recorded


def test_a_case_stream_records_the_cases_it_sent(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(live, "POLL_SECONDS", 0.02)
    case = api.office.case("CRM-2").case_id
    api.sign_in("sofia.t")
    answer = api.client.get("/events", params={"case": str(case), "from": 0, "wait": 0})
    assert answer.status_code == 200
    assert "data:" in answer.text
    assert set(_seen(api)) == {("sofia.t", case, "GET /events?case")}
    assert api.client.get("/events", params={"from": 0, "wait": 0}).status_code == 200
    whole = {(who, c) for who, c, through in _seen(api) if through == "GET /events"}
    assert whole == {("sofia.t", api.office.case(key).case_id) for key in ("CRM-1", "CRM-2")}


def _export(api: Api, path: str = "/audit/reads", **params: Any) -> Any:
    answer = api.get(path, **params)
    assert answer.status_code == 200, answer.text
    return answer


def test_the_auditor_exports_who_read_what(api: Api) -> None:
    one, two = (api.office.case(key).case_id for key in ("CRM-1", "CRM-2"))
    api.sign_in("maria.b")
    api.get(f"/cases/{one}")
    api.get(f"/cases/{two}")
    api.sign_in("sofia.t")
    api.get(f"/cases/{one}")
    api.sign_in("audit.a")
    rows = _export(api).json()
    assert [(r["reader"], r["case_id"], r["through"]) for r in rows] == [
        ("maria.b", str(one), "GET /cases/{reference}"),
        ("maria.b", str(two), "GET /cases/{reference}"),
        ("sofia.t", str(one), "GET /cases/{reference}"),
    ]
    assert datetime.fromisoformat(rows[0]["at"]) == T0
    assert [r["case"] for r in rows] == ["crm:CRM-1", "crm:CRM-2", "crm:CRM-1"]  # by its key
    assert [r["id"] for r in rows] == [r.id for r in _register(api).reads()]
    assert [r["reader"] for r in _export(api, case="CRM-1").json()] == ["maria.b", "sofia.t"]
    assert [r["case_id"] for r in _export(api, reader="maria.b", limit=1).json()] == [str(one)]
    assert _export(api, since=(T0 + timedelta(seconds=1)).isoformat()).json() == []
    assert len(_export(api, until=(T0 + timedelta(seconds=1)).isoformat()).json()) == 3
    assert _seen(api)[3:] == []  # reading the register is not a read of a case
    download = _export(api, "/audit/reads.csv", reader="sofia.t")
    assert download.headers["content-type"].startswith("text/csv")
    assert "attachment" in download.headers["content-disposition"]
    table = list(csv.DictReader(io.StringIO(download.text)))
    assert [(r["id"], r["reader"], r["case"], r["case_id"], r["through"]) for r in table] == [
        (str(rows[2]["id"]), "sofia.t", "crm:CRM-1", str(one), "GET /cases/{reference}")
    ]
    naive = api.get("/audit/reads", since="2026-07-15T09:00:00")
    assert (naive.status_code, naive.json()["errors"][0]["field"]) == (422, "since")
    assert api.get("/audit/reads", case="CRM-404").status_code == 404


def test_the_auditor_pages_through_many_reads_of_one_moment(api: Api) -> None:
    """A search records its cases' reads at one moment (here the office's clock stands still,
    as in the demo's folder): `since` plus `limit` gives the same page every time; `after` the
    page's last id gives the next, in the JSON and the CSV alike."""
    for login in ("coord.c", "sofia.t"):
        api.sign_in(login)
        assert len(api.get("/cases", search="cliente prueba").json()) == 2
        assert api.get("/cases/CRM-1").status_code == 200
    api.sign_in("audit.a")
    whole = _export(api).json()
    assert len(whole) == 6
    assert {datetime.fromisoformat(r["at"]) for r in whole} == {T0}
    assert [r["id"] for r in whole] == sorted(r["id"] for r in whole)  # as recorded
    since = T0.isoformat()
    first = _export(api, since=since, limit=4).json()
    assert _export(api, since=since, limit=4).json() == first == whole[:4]  # since alone: stuck
    rest = _export(api, since=since, limit=4, after=first[-1]["id"]).json()
    assert rest == whole[4:]
    assert _export(api, after=whole[-1]["id"]).json() == []
    theirs = _export(api, reader="sofia.t", limit=2).json()
    more = _export(api, reader="sofia.t", limit=2, after=theirs[-1]["id"]).json()
    assert [r["id"] for r in theirs + more] == [r["id"] for r in whole if r["reader"] == "sofia.t"]
    download = _export(api, "/audit/reads.csv", limit=2, after=whole[1]["id"]).text
    table = list(csv.DictReader(io.StringIO(download)))
    assert [int(r["id"]) for r in table] == [r["id"] for r in whole[2:4]]
    for path in ("/audit/reads", "/audit/reads.csv"):
        unknown = api.get(path, after=whole[-1]["id"] + 1)
        assert unknown.status_code == 422, unknown.text
        assert unknown.json()["errors"][0]["field"] == "after"
        assert "no read has id" in unknown.json()["detail"]
        for wrong in ("0", "uno", str(2**63)):
            refused = api.get(path, after=wrong)
            assert refused.status_code == 422, (wrong, refused.text)
            assert refused.json()["errors"][0]["field"] == "after"


def test_no_one_but_the_auditor_reads_the_register(api: Api) -> None:
    for login in ("maria.b", "sofia.t", "admin.x"):
        api.sign_in(login)
        refused = api.get("/audit/reads")
        assert refused.status_code == 403, login
        assert "may not read reads" in refused.json()["detail"]
        assert api.get("/audit/reads.csv").status_code == 403
    api.client.cookies.clear()
    assert api.client.get("/audit/reads").status_code == 401


class Broken(Counting):
    """A register whose storage is down."""

    def record(self, reads: Sequence[PersonalRead]) -> None:
        from eventsourcing.persistence import OperationalError

        raise OperationalError("the register's database is down")


def test_a_read_that_cannot_be_recorded_is_not_shown(api: Api) -> None:
    _service(api).reads = Broken(_register(api))
    api.sign_in("maria.b")
    answer = api.get("/cases/CRM-1")
    assert answer.status_code == 503
    assert "Cliente" not in answer.text


def test_a_read_through_a_bearer_token_is_said_apart_from_a_persons(api: Api) -> None:
    case = api.office.case("CRM-1").case_id
    _, secret = api.accounts.issue_token("audit.a", "read")
    api.client.cookies.clear()
    answer = api.client.get(f"/cases/{case}", headers={"Authorization": f"Bearer {secret}"})
    assert answer.status_code == 200
    assert _seen(api) == [("audit.a", case, "GET /cases/{reference} (token, scope read)")]
