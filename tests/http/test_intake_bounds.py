"""The integrator's trial over HTTP: each value it found accepted is a 422 naming the field.

(The fixture's clock stands at 2026-07-15 14:00 UTC, 09:00 in Bogotá.)
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.http.conftest import Api

ROW = {"crm_case_id": "CRM-90", "received_at": "15/07/2026 08:00", "account": "80090909",
       "line": "hogar", "customer_name": "Ana Peña", "typification": "Facturación"}  # fmt: skip


def hand_over(api: Api, **changes: str) -> Any:
    _, secret = api.accounts.issue_token("crm-front", "intake")
    api.client.cookies.clear()
    return api.client.post(
        "/intake/crm", json={**ROW, **changes}, headers={"Authorization": f"Bearer {secret}"}
    )


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"received_at": "01/01/2099"}, "received_at"),
        ({"received_at": "15/07/2026 12:00"}, "received_at"),  # three hours after now
        ({"follow_up_at": "01/01/2000"}, "follow_up_at"),
        ({"request": "x" * 9_000_000}, "request"),
        ({"crm_case_id": "C" * 10_000}, "crm_case_id"),
        ({"account": "ABC;DROP"}, "account"),
    ],
)
def test_a_value_the_trial_found_accepted_is_a_422_naming_its_field(
    api: Api, changes: dict[str, str], field: str
) -> None:
    answer = hand_over(api, **changes)
    assert answer.status_code == 422
    assert [error["field"] for error in answer.json()["errors"]] == [field]
    assert api.office.index.find_by_source_key("CRM-90") == []


def test_a_late_hand_over_with_its_follow_up_already_past_is_taken(api: Api) -> None:
    answer = hand_over(api, received_at="14/07/2026 08:00", follow_up_at="14/07/2026 10:00")
    assert answer.status_code == 201
    [follow_up] = answer.json()["case"]["follow_ups"]
    assert follow_up["due_at"].startswith("2026-07-14T15:00")


def test_a_follow_up_due_in_year_9999_is_a_422_naming_due_at(api: Api) -> None:
    case = str(api.office.resolve("CRM-1"))
    api.sign_in("maria.b")
    far = api.command("schedule-follow-up", {"case": case, "due_at": "9999-12-31T23:59:59+14:00"})
    assert far.status_code == 422
    assert [error["field"] for error in far.json()["errors"]] == ["due_at"]
    near = api.command("schedule-follow-up", {"case": case, "due_at": "2199-12-31T10:00:00-05:00"})
    assert near.status_code == 200
