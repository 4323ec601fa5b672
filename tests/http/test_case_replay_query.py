"""A case as of a moment or a version over HTTP: one or the other, as the CLI's `case show`."""

from __future__ import annotations

from tests.http.conftest import Api


def test_a_case_asked_as_of_a_moment_and_at_a_version_at_once_is_refused(api: Api) -> None:
    api.sign_in("audit.a")
    [row] = api.get("/cases", search="CRM-1").json()
    both = api.get(f"/cases/{row['case_id']}", as_of="2026-07-15T09:00:00-05:00", version=1)
    assert both.status_code == 422
    assert both.json()["detail"] == "version: give as_of or version, not both"
    assert api.get(f"/cases/{row['case_id']}", version=1).status_code == 200


def test_an_agent_takes_a_free_case_over_http_but_not_a_colleagues(api: Api) -> None:
    api.sign_in("audit.a")
    [row] = api.get("/cases", search="CRM-1").json()
    api.sign_in("carlos.m")
    assert (
        api.command("assign-case", {"case": row["case_id"], "agent": "carlos.m"}).status_code == 200
    )
    api.sign_in("maria.b")
    taken = api.command("assign-case", {"case": row["case_id"], "agent": "maria.b"})
    assert taken.status_code == 403
    assert taken.json()["detail"] == "the case is carlos.m's: reassigning it is a supervisor's"
    api.sign_in("sofia.t")
    moved = api.command("assign-case", {"case": row["case_id"], "agent": "maria.b"})
    assert moved.status_code == 200
