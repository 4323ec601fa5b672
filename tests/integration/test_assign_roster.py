"""Only a back-office agent on the roster owns cases, once a roster is in use (issue 12).

Found by trying it: an unknown login reassigned a case, and a case was assigned to an agent
two days after he left. Before any roster is imported, any login may own cases (a back office
starting out, the tests).
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from adapters.clock import FixedClock
from adapters.intake.team import RosterReader
from application.service import Backoffice
from application.team.imports import import_roster
from domain.errors import InvalidValue, RuleViolation
from domain.values import Actor
from tests.conftest import record

SUPERVISOR = Actor.agent("laura.s")
ROSTER = (
    "asesor;equipo;cargo;fecha_ingreso;fecha_retiro;motivo_retiro\n"
    "laura.s;Premium Hogar;Supervisor;01/02/2025;;\n"
    "maria.b;Premium Hogar;Asesor;03/03/2025;;\n"
    "juan.r;Premium Hogar;Asesor;10/06/2025;13/07/2026;Renuncia voluntaria\n"
    "nuevo.a;Premium Hogar;Asesor;20/07/2026;;\n"
)


def test_without_a_roster_any_login_may_own_cases(office: Backoffice) -> None:
    office.ingest([record("K1")])
    office.assign("K1", agent="cualquiera", actor=SUPERVISOR)
    assert office.case("K1").agent == "cualquiera"


def test_with_a_roster_only_an_agent_on_it_that_day_owns_cases(
    office: Backoffice, tmp_path: Path, clock: FixedClock
) -> None:
    path = tmp_path / "roster.csv"
    path.write_text(ROSTER, encoding="utf-8")
    report = import_roster(office, RosterReader(path).items())
    assert report.created == 4
    office.ingest([record("K1")])

    refusals = {
        "desconocido": "desconocido is not on the roster",
        "juan.r": "juan.r is not on the roster on 2026-07-15 (left on 2026-07-13)",
        "laura.s": "laura.s is a supervisor on the roster, not a back-office agent",
        "nuevo.a": "nuevo.a is not on the roster on 2026-07-15",
    }
    for login, message in refusals.items():
        with pytest.raises(RuleViolation) as refused:
            office.assign("K1", agent=login, actor=SUPERVISOR)
        assert str(refused.value) == f"cannot assign the case: {message}"
    assert office.case("K1").agent is None  # nothing recorded
    with pytest.raises(InvalidValue, match="agent: must not be empty"):
        office.assign("K1", agent="  ", actor=SUPERVISOR)

    office.assign("K1", agent=" maria.b ", actor=SUPERVISOR)
    assert office.case("K1").agent == "maria.b"
    clock.advance(timedelta(days=5))  # 20 July: nuevo.a has joined
    office.assign("K1", agent="nuevo.a", actor=SUPERVISOR)
    assert office.case("K1").agent == "nuevo.a"
