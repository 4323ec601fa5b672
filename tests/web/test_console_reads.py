"""Who read what in the console (issue 15, point 4): the pages that show a case's personal data
(the case page, its replay and history download, the agent's day, a search) record a read per
case shown, as the signed-in person; a page that shows none, or fails, records nothing."""

from __future__ import annotations

import uuid

from entrypoints.http.common import Service
from tests.conftest import T0
from tests.web.conftest import Console


def _seen(console: Console) -> list[tuple[str, uuid.UUID, str]]:
    service: Service = console.client.app.state.service
    assert service.reads is not None
    return [(r.reader, r.case_id, r.through) for r in service.reads.reads()]


def test_the_case_page_records_a_read(console: Console) -> None:
    console.sign_in("maria.b")
    case = console.case_id("CRM-1")
    assert console.get(f"/console/cases/{case}").status_code == 200
    assert "Cliente 1" in console.page
    assert _seen(console) == [("maria.b", uuid.UUID(case), "console:case")]
    service: Service = console.client.app.state.service
    assert service.reads is not None
    assert [r.at for r in service.reads.reads()] == [T0]
    console.step(case, "assign-case", {"agent": "maria.b"})  # then the page again
    assert [through for _, _, through in _seen(console)] == ["console:case", "console:case"]


def test_the_replay_and_the_history_download_record_their_case(console: Console) -> None:
    console.sign_in("audit.a")
    case = console.case_id("CRM-2")
    assert console.get(f"/console/cases/{case}/replay", version="1").status_code == 200
    assert console.get(f"/console/cases/{case}/history.csv").status_code == 200
    assert _seen(console) == [
        ("audit.a", uuid.UUID(case), "console:replay"),
        ("audit.a", uuid.UUID(case), "console:history.csv"),
    ]


def test_the_day_and_a_search_record_each_case_they_show(console: Console) -> None:
    console.sign_in("maria.b")
    one, two = console.case_id("CRM-1"), console.case_id("CRM-2")
    for case in (one, two):
        console.get(f"/console/cases/{case}")
        console.step(case, "assign-case", {"agent": "maria.b"})
    before = len(_seen(console))
    assert console.get("/console/day").status_code == 200
    day = _seen(console)[before:]
    assert sorted(day) == sorted(("maria.b", uuid.UUID(c), "console:day") for c in (one, two))
    assert console.get("/console/cases", q="cliente").status_code == 200  # by the name
    found = _seen(console)[before + 2 :]
    assert {c for _, c, _ in found} == {uuid.UUID(console.case_id(f"CRM-{n}")) for n in (1, 2, 3)}
    assert {through for _, _, through in found} == {"console:cases?search"}


def test_pages_that_show_no_personal_data_or_fail_record_nothing(console: Console) -> None:
    console.sign_in("sofia.t")
    assert console.get("/console/cases").status_code == 200  # the queue: keys, no names
    assert console.get("/console/cases", filter="unassigned").status_code == 200
    assert console.get("/console/board").status_code == 200
    assert console.get("/console/cases/CRM-404").status_code == 404
    console.sign_in("coord.c")
    case = console.case_id("CRM-1")
    assert console.get(f"/console/cases/{case}/replay").status_code == 403
    assert _seen(console) == []
