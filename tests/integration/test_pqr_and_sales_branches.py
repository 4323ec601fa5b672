"""PQR branches A, B and C, and sales, from intake to closing (docs/procedure.md §3, §6)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.clock import FixedClock
from adapters.mail.directory import ContactDirectory
from adapters.systems.memory import InMemoryAccounts
from application.branches.pqr import PqrDesk, SalesDesk
from application.case.outside import OutsideSystems
from application.service import Backoffice
from domain.case.events import ClockStarted, ClockStopped, Escalated, NoteAdded, Typified
from domain.errors import DomainError, RuleViolation
from domain.values import Actor, Category, ClockKind, Resolution, Subcategory
from entrypoints.bootstrap import bootstrap
from entrypoints.settings import load_settings
from tests.conftest import record
from tests.integration.test_system_contracts import fresh_record

ROOT = Path(__file__).resolve().parents[2]
AGENT = Actor.agent("sofia.t")
MATRIX = ContactDirectory.load(ROOT / "examples" / "contact_matrix.toml")
CUN = "4436-26-0009001"


@pytest.fixture
def office(tmp_path: Path, clock: FixedClock) -> Iterator[Backoffice]:
    with bootstrap(load_settings(environ={}, data_dir=str(tmp_path / "d")), clock=clock) as office:
        office.ingest([record("K1", account="80123456")])
        yield office


@pytest.fixture
def desk(office: Backoffice, clock: FixedClock) -> PqrDesk:
    accounts = InMemoryAccounts(clock=clock)
    accounts.accounts["80123456"] = fresh_record()
    return PqrDesk(office, OutsideSystems(rr=accounts), MATRIX)


def rr(desk: PqrDesk) -> InMemoryAccounts:
    """The desk's RR: the fixture's in-memory accounts."""
    accounts = desk.systems.rr
    assert isinstance(accounts, InMemoryAccounts)
    return accounts


def filed(office: Backoffice) -> None:
    office.interpret("K1", category=Category.PQR, subcategory=Subcategory.QUEJA_RECLAMO,
                     actor=AGENT)  # fmt: skip
    office.typify("K1", marking_code="PQR-1", resolution=Resolution.CUN, cun=CUN, actor=AGENT)


def ready(office: Backoffice) -> None:
    office.complete_follow_up("K1", outcome="Cliente informado", actor=AGENT)
    office.complete_closing_protocol(
        "K1", resolution_explained=True, nothing_else_pending=True, closing_script_read=True,
        survey_invited=True, actor=AGENT,
    )  # fmt: skip


def close(office: Backoffice) -> None:
    ready(office)
    office.close_case("K1", summary="PQR gestionada", actor=AGENT)


def test_a_pqr_needs_its_cun_before_any_branch(office: Backoffice, desk: PqrDesk) -> None:
    office.interpret("K1", category=Category.PQR, subcategory=Subcategory.PETICION, actor=AGENT)
    with pytest.raises(RuleViolation, match="needs its CUN"):
        desk.redirect("K1", reason="x", actor=AGENT)


def test_branch_a_redirects_to_the_responsible_area(office: Backoffice, desk: PqrDesk) -> None:
    filed(office)
    result = desk.redirect("K1", reason="Notas completas, área correcta", actor=AGENT)
    escalation, waiting = result.events
    assert isinstance(waiting, ClockStarted)
    assert waiting.kind is ClockKind.ESCALATION_RESPONSE
    assert isinstance(escalation, Escalated)
    assert (escalation.area, escalation.external_reference) == ("PQR", CUN)
    ready(office)
    with pytest.raises(RuleViolation, match="pqr_response still running"):
        office.close_case("K1", summary="x", actor=AGENT)
    office.answer_pqr("K1", notified_at=office.clock.now(), actor=AGENT)
    office.close_case("K1", summary="PQR respondida", actor=AGENT)


def test_branch_b_corrects_marking_and_notes_after_contacting_the_customer(
    office: Backoffice, desk: PqrDesk, clock: FixedClock
) -> None:
    filed(office)
    with pytest.raises(RuleViolation, match="contact with the customer"):
        desk.correct("K1", marking="PQR-FACT-2", notes="x", actor=AGENT,
                     customer_contacted_at=clock.now() - timedelta(days=30))  # fmt: skip
    desk.correct("K1", marking="PQR-FACT-2", notes="Era cobro de roaming, no de PPV",
                 customer_contacted_at=clock.now(), actor=AGENT)  # fmt: skip
    history = office.history("K1")
    typified = [e for e in history if isinstance(e, Typified)]
    assert [(t.marking_code, t.cun) for t in typified] == [("PQR-1", CUN), ("PQR-FACT-2", CUN)]
    assert any(isinstance(e, NoteAdded) and "roaming" in e.text for e in history)
    assert isinstance(history[-2], Escalated)
    started = [
        e for e in history if isinstance(e, ClockStarted) and e.kind is ClockKind.PQR_RESPONSE
    ]
    assert len(started) == 1  # the same CUN keeps its one clock
    assert rr(desk).markings("80123456")[-1].code == "PQR-FACT-2"


def test_branch_c_records_the_agreement_as_the_answer(office: Backoffice, desk: PqrDesk) -> None:
    filed(office)
    result = desk.agree("K1", agreement="Se reversa el cargo y se bonifica un mes", actor=AGENT)
    stopped, window = result.events
    assert isinstance(stopped, ClockStopped)
    assert isinstance(window, ClockStarted)
    assert window.kind is ClockKind.REPOSICION
    assert any("Acuerdo con el cliente" in e.text for e in office.history("K1")
               if isinstance(e, NoteAdded))  # fmt: skip
    close(office)


def test_sales_interpret_escalate_follow_up_close(office: Backoffice, clock: FixedClock) -> None:
    office.interpret("K1", category=Category.VENTAS, subcategory=Subcategory.VENTA, actor=AGENT)
    desk = SalesDesk(office, MATRIX)
    result = desk.escalate("K1", reason="Mejora de plan a 900 megas",
                           follow_up_at=clock.now() + timedelta(days=2), actor=AGENT)  # fmt: skip
    assert [f.follow_up_id for f in result.case.pending_follow_ups] == [1, 2]
    assert result.case.escalations[-1].area == "Ventas"
    office.complete_follow_up("K1", follow_up_id=1, outcome="Cliente interesado", actor=AGENT)
    clock.advance(timedelta(days=2))
    office.complete_follow_up("K1", outcome="Plan activado", actor=AGENT)
    office.typify("K1", marking_code="VEN-01", resolution=Resolution.FIRST_CONTACT, actor=AGENT)
    office.complete_closing_protocol(
        "K1", resolution_explained=True, nothing_else_pending=True, closing_script_read=True,
        survey_invited=True, actor=AGENT,
    )  # fmt: skip
    office.close_case("K1", summary="Venta escalada y confirmada", actor=AGENT)
    assert not office.case("K1").is_open


def test_a_sales_follow_up_the_case_refuses_records_no_escalation_either(
    office: Backoffice, clock: FixedClock
) -> None:
    """The follow-up is decided with the escalation: refused (already pending at that moment,
    or in the past), nothing is recorded, so no mail goes to the sales area."""
    office.interpret("K1", category=Category.VENTAS, subcategory=Subcategory.VENTA, actor=AGENT)
    pending = office.case("K1").pending_follow_ups[0].due_at
    version = office.case("K1").version
    desk = SalesDesk(office, MATRIX)
    for when in (pending, clock.now() - timedelta(hours=1)):
        with pytest.raises(DomainError):
            desk.escalate("K1", reason="Mejora de plan", follow_up_at=when, actor=AGENT)
    assert office.case("K1").version == version
    assert office.case("K1").escalations == ()


def test_a_pqr_filed_by_the_front_line_counts_its_15_business_days_from_the_filing(
    office: Backoffice, clock: FixedClock
) -> None:
    """docs/procedure.md §6: the clock runs from the radicación, not from when the back office
    typified
    it: given a CRM row filed on Tuesday 14 July 2026, typified on Friday the 17th, the
    answer is due 15 business days after the 14th (Colombian holidays: 20 July; the count
    starts on the 15th): Wednesday 5 August, end of day in Bogotá."""
    filed = datetime(2026, 7, 14, 15, tzinfo=UTC)  # 10:00 in Bogotá
    office.ingest([record("P1", cun="4436-26-0000000007", filed_at=filed)])
    clock.set(datetime(2026, 7, 17, 15, tzinfo=UTC))
    office.interpret("P1", category=Category.PQR, subcategory=Subcategory.QUEJA_RECLAMO,
                     actor=AGENT)  # fmt: skip
    result = office.typify("P1", marking_code="PQR-FACT", resolution=Resolution.CUN,
                           cun="4436-26-0000000007", actor=AGENT)  # fmt: skip
    [pqr_clock] = result.case.running_clocks
    assert pqr_clock.started_at == filed
    # The last instant of 5 August in Bogotá:
    assert pqr_clock.due_at == datetime(2026, 8, 6, 5, tzinfo=UTC) - timedelta(microseconds=1)


def test_branch_b_moves_the_pqr_to_the_right_area(
    office: Backoffice, desk: PqrDesk, clock: FixedClock
) -> None:
    filed(office)
    result = desk.correct("K1", marking="PQR-FACT-2", notes="Es de roaming, no de PPV",
                          customer_contacted_at=clock.now(), actor=AGENT,
                          area="Roaming internacional")  # fmt: skip
    escalation = result.case.escalations[-1]
    assert (escalation.area, escalation.external_reference) == ("Roaming internacional", CUN)


def test_a_typification_with_another_cun_is_refused_while_the_pqr_clock_runs(
    tmp_path: Path, clock: FixedClock
) -> None:
    """Found trying the CLI: typifying again with a different CUN left two PQR clocks running
    (the first one would breach and alarm). Refused, with what to do; once the PQR is
    answered, the case may be typified again."""
    settings = load_settings(environ={}, data_dir=str(tmp_path / "data"))
    with bootstrap(settings, clock=clock) as office:
        office.ingest([record("P1")])
        office.interpret("P1", category=Category.PQR, subcategory=Subcategory.QUEJA_RECLAMO,
                         actor=AGENT)  # fmt: skip
        office.typify("P1", marking_code="PQR-FACT", resolution=Resolution.CUN,
                      cun="4405-26-0001234", actor=AGENT)  # fmt: skip
        for cun, resolution in (("4405260001234", Resolution.CUN),
                                (None, Resolution.FIRST_CONTACT)):  # fmt: skip
            with pytest.raises(RuleViolation, match="the PQR 4405-26-0001234 is open"):
                office.typify("P1", marking_code="PQR-FACT", resolution=resolution, cun=cun,
                              actor=AGENT)  # fmt: skip
        clocks = [c for c in office.case("P1").running_clocks if c.kind is ClockKind.PQR_RESPONSE]
        assert [c.reference for c in clocks] == ["4405-26-0001234"]
        office.answer_pqr("P1", notified_at=clock.now(), actor=AGENT)
        office.typify("P1", marking_code="PQR-FACT", resolution=Resolution.CUN,
                      cun="4405260001234", actor=AGENT)  # fmt: skip
        assert office.case("P1").cun == "4405260001234"
