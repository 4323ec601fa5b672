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
