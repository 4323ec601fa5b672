"""Who may do what over HTTP (issue 13), as a matrix: role × endpoint, each cell the status
the API answers. Written out here as the specification (not derived from the permissions
module), so a change to the rules shows as a change to this table."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.http.conftest import Api

ROLES = ["maria.b", "sofia.t", "coord.c", "gerente.g", "audit.a", "admin.x"]
#           agent  superv coord  manag  audit  admin
MATRIX: dict[str, tuple[int, ...]] = {
    "list cases":        (200, 200, 200, 200, 200, 403),
    "show a case":       (200, 200, 200, 200, 200, 403),
    "replay a case":     (403, 200, 403, 403, 200, 403),
    "history":           (200, 200, 403, 403, 200, 403),
    "follow-ups due":    (200, 200, 200, 200, 200, 403),
    "indicators":        (403, 200, 200, 200, 200, 403),
    "projections":       (403, 200, 403, 403, 200, 200),
    "who read what":     (403, 403, 403, 403, 200, 403),
    "reads as CSV":      (403, 403, 403, 403, 200, 403),
    "add a note":        (200, 200, 403, 403, 403, 403),
    "take a case":       (200, 200, 403, 403, 403, 403),
    "assign to another": (403, 200, 403, 403, 403, 403),
    "hand a case over":  (403, 201, 403, 403, 403, 403),
    "ask for slots":     (409, 409, 403, 403, 403, 403),  # 409: no WFM configured here
    "sweep a clock":     (404, 404, 404, 404, 404, 404),  # the worker's: no route at all
    "list accounts":     (403, 403, 403, 403, 403, 200),
    "add an account":    (403, 403, 403, 403, 403, 201),
    "disable someone":   (403, 403, 403, 403, 403, 200),
    "reset a password":  (403, 403, 403, 403, 403, 200),
    "list tokens":       (403, 403, 403, 403, 403, 200),
    "issue a token":     (403, 403, 403, 403, 403, 201),
    "revoke a token":    (403, 403, 403, 403, 403, 404),  # an administrator's: none such
}  # fmt: skip


def _requests(case: str, login: str) -> dict[str, Callable[[Api], Any]]:
    row = {"crm_case_id": f"CRM-{login}", "received_at": "15/07/2026 08:00",
           "account": "8001", "line": "hogar", "customer_name": "Ana",
           "typification": f"Facturación {login}"}  # fmt: skip
    return {
        "list cases": lambda a: a.get("/cases"),
        "show a case": lambda a: a.get(f"/cases/{case}"),
        "replay a case": lambda a: a.get(f"/cases/{case}", version=1),
        "history": lambda a: a.get(f"/cases/{case}/history"),
        "follow-ups due": lambda a: a.get("/follow-ups/due"),
        "indicators": lambda a: a.get("/indicators", first="2026-07-01", last="2026-07-31"),
        "projections": lambda a: a.get("/projections"),
        "who read what": lambda a: a.get("/audit/reads", case=case),
        "reads as CSV": lambda a: a.get("/audit/reads.csv", reader="maria.b"),
        "add a note": lambda a: a.command("add-note", {"case": case, "text": f"nota {login}"}),
        "take a case": lambda a: a.command("assign-case", {"case": case, "agent": login}),
        "assign to another": lambda a: a.command(
            "assign-case", {"case": case, "agent": "carlos.m" if login != "carlos.m" else "x"}
        ),
        "hand a case over": lambda a: a.post("/intake/crm", row),
        "ask for slots": lambda a: a.get(f"/cases/{case}/slots"),
        "sweep a clock": lambda a: a.command("sweep-clock", {"case": case, "clock_id": 1}),
        "list accounts": lambda a: a.get("/admin/users"),
        "add an account": lambda a: a.post(
            "/admin/users", {"login": f"nuevo-{login}", "role": "agent", "name": "Nuevo"}
        ),
        "disable someone": lambda a: a.post("/admin/users/coord.c/disable", {}),
        "reset a password": lambda a: a.post("/admin/users/carlos.m/reset", {}),
        "list tokens": lambda a: a.get("/admin/tokens"),
        "issue a token": lambda a: a.post("/admin/tokens", {"login": "crm-front", "scope": "read"}),
        "revoke a token": lambda a: a.post("/admin/tokens/0123456789ab/revoke", {}),
    }


@pytest.mark.parametrize("column", range(len(ROLES)), ids=ROLES)
def test_each_role_gets_exactly_what_the_matrix_says(api: Api, column: int) -> None:
    login = ROLES[column]
    api.sign_in("audit.a")
    case = str(api.get("/cases", search="CRM-2").json()[0]["case_id"])
    assert api.sign_in(login).status_code == 200
    got = {}
    for name, ask in _requests(case, login).items():
        answer = ask(api)
        got[name] = answer.status_code
        if answer.status_code == 403:
            detail = answer.json()["detail"]
            assert detail, f"{name}: a refusal says why"
            assert (
                "may not" in detail
                or "system" in detail
                or "supervisor" in detail
                or ("hands" in detail or "hand cases" in detail)
            ), detail
    want = {name: statuses[column] for name, statuses in MATRIX.items()}
    assert got == want


def test_an_integration_token_only_hands_cases_over(api: Api) -> None:
    _, secret = api.accounts.issue_token("crm-front", "intake")
    api.client.cookies.clear()
    auth = {"Authorization": f"Bearer {secret}"}
    assert api.client.get("/cases", headers=auth).status_code == 403
    case = str(api.office.case("CRM-1").case_id)
    refused = api.client.post("/commands/add-note", json={"case": case, "text": "y"}, headers=auth)
    assert refused.status_code == 403
    assert refused.json()["detail"] == "a token with scope intake gives no command on cases"
    assert api.client.get("/indicators", params={"first": "2026-07-01", "last": "2026-07-02"},
                          headers=auth).status_code == 403  # fmt: skip


def test_without_a_sign_in_everything_but_health_is_401(api: Api) -> None:
    api.client.cookies.clear()
    for path in ("/cases", "/session", "/projections", "/follow-ups/due"):
        answer = api.client.get(path)
        assert answer.status_code == 401, path
        assert answer.headers["content-type"].startswith("application/problem+json")
    assert api.client.get("/healthz").status_code == 200


def test_the_visit_slots_follow_the_permission_matrix(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Who may ask WFM for a case's slots is the matrix's say (`SLOTS_ROLES`), not the
    route's: given to auditors there, an auditor gets past the check (to the missing WFM);
    a token of scope read is refused whatever its role."""
    from application.access import permissions
    from application.ports.accounts import AccessRole

    case = str(api.office.case("CRM-2").case_id)
    api.sign_in("audit.a")
    refused = api.get(f"/cases/{case}/slots")
    assert (refused.status_code, refused.json()["detail"]) == (
        403, "an auditor may not ask for visit slots: whoever works the case does"
    )  # fmt: skip
    monkeypatch.setattr(permissions, "SLOTS_ROLES", permissions.SLOTS_ROLES | {AccessRole.AUDITOR})
    assert api.get(f"/cases/{case}/slots").status_code == 409  # no WFM configured here
    _, secret = api.accounts.issue_token("sofia.t", "read")
    api.client.cookies.clear()
    read = api.client.get(f"/cases/{case}/slots", headers={"Authorization": f"Bearer {secret}"})
    assert (read.status_code, read.json()["detail"]) == (
        403, "a token with scope read may not ask for visit slots"
    )  # fmt: skip
