"""The API's tests again, through a real server: uvicorn listening on a loopback port, the
requests over TCP with httpx (issue 13's "Done means"). The tests of `test_api.py` and
`test_roles.py` run here unchanged on SQLite and PostgreSQL: sign-in and its cookie,
lock-out, CSRF, the role matrix, tokens and their revocation, `If-Match`, idempotent intake,
problem details, the OpenAPI document; plus resuming the live events over TCP.
`tests/e2e/test_serve.py` runs `backoffice serve` itself as a process."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from adapters.clock import FixedClock
from tests.http.conftest import Api, served_office
from tests.http.test_api import (  # noqa: F401  (collected here, with this module's `api`)
    test_a_change_without_the_sessions_csrf_token_is_refused,
    test_a_command_acts_as_the_signed_in_user_whatever_the_body_says,
    test_an_integration_hands_a_case_over_once_with_its_token,
    test_errors_are_problem_details_with_the_domains_reason,
    test_five_wrong_passwords_lock_the_account_for_15_minutes,
    test_health_and_readiness,
    test_if_match_refuses_a_stale_version_and_records_nothing,
    test_indicators_come_with_their_counts_goals_and_the_practices,
    test_roles_are_refused_what_they_may_not_do_with_the_reason,
    test_sign_in_sets_a_safe_cookie_and_refuses_alike_unknown_logins_and_wrong_passwords,
    test_the_openapi_document_is_31_and_committed_as_served,
)
from tests.http.test_roles import (  # noqa: F401
    test_an_integration_token_only_hands_cases_over,
    test_each_role_gets_exactly_what_the_matrix_says,
    test_without_a_sign_in_everything_but_health_is_401,
)
from tests.serving import serving


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def api(request: pytest.FixtureRequest, tmp_path: Path, clock: FixedClock) -> Iterator[Api]:
    """As `tests/http/conftest.py`'s, but served by uvicorn on a loopback port."""
    app, accounts, office = served_office(request, tmp_path, clock)
    with serving(app) as base, httpx.Client(base_url=base, timeout=20) as client:
        yield Api(client, accounts, office)  # type: ignore[arg-type]


def test_the_live_events_resume_over_tcp_from_the_last_id(api: Api) -> None:
    api.sign_in("audit.a")
    [row] = api.get("/cases", search="CRM-1").json()
    case = row["case_id"]
    api.sign_in("sofia.t")
    head = api.client.get("/events", params={"wait": 0}).text
    start = [line for line in head.splitlines() if line.startswith("id:")][-1].split(":")[1].strip()
    for text in ("primera", "segunda", "tercera"):
        assert api.command("add-note", {"case": case, "text": f"nota {text}"}).status_code == 200
    first = api.client.get("/events", params={"limit": 1}, headers={"Last-Event-ID": start})
    ids = [line.split(":", 1)[1].strip() for line in first.text.splitlines()
           if line.startswith("id:")]  # fmt: skip
    seen = ids[-1]
    rest = api.client.get("/events", params={"wait": 0}, headers={"Last-Event-ID": seen})
    notes = [line for line in rest.text.splitlines() if line.startswith("event:")]
    assert notes == ["event: case.note_added", "event: case.note_added"]
    assert '"nota primera"' not in rest.text  # resumed after it, not from the start
