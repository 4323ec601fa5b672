"""SAC from intake to closing, through the in-memory RR and DIME (docs/procedure.md §4)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest

from adapters.clock import FixedClock
from adapters.mail.directory import ContactDirectory
from adapters.systems.memory import InMemoryAccounts, InMemoryTickets
from application.branches.sac import SacDesk
from application.case.outside import OutsideSystems
from application.ports.systems import (
    CollectionsStatus,
    PaymentStatus,
    SystemUnavailable,
    TicketKind,
)
from application.service import Backoffice
from domain.case.events import AccountChecked, ClockStarted, Escalated, SystemCallFailed
from domain.errors import RuleViolation
from domain.values import (
    Actor,
    Category,
    ClockKind,
    EscalationTarget,
    LineOfBusiness,
    Resolution,
    Subcategory,
)
from entrypoints.bootstrap import bootstrap
from entrypoints.settings import load_settings
from tests.conftest import record
from tests.integration.test_system_contracts import fresh_record

ROOT = Path(__file__).resolve().parents[2]
AGENT = Actor.agent("maria.b")


def office_of(desk: SacDesk) -> Backoffice:
    """The desk's back office, as the embedding API (the desk sees it through its port)."""
    office = desk.office
    assert isinstance(office, Backoffice)
    return office


@pytest.fixture
def desk(tmp_path: Path, clock: FixedClock) -> Iterator[SacDesk]:
    settings = load_settings(environ={}, data_dir=str(tmp_path / "data"))
    accounts = InMemoryAccounts(cun_markings=frozenset({"PQR-FACT"}), clock=clock)
    accounts.accounts["80123456"] = fresh_record()
    with bootstrap(settings, clock=clock) as office:
        office.ingest([record("K1", account="80123456")])
        matrix = ContactDirectory.load(ROOT / "examples" / "contact_matrix.toml")
        systems = OutsideSystems(rr=accounts, ac=accounts, tickets=InMemoryTickets(clock=clock))
        yield SacDesk(office, systems, matrix)


def rr(desk: SacDesk) -> InMemoryAccounts:
    """The desk's RR (also its AC): the fixture's in-memory accounts."""
    accounts = desk.systems.rr
    assert isinstance(accounts, InMemoryAccounts)
    return accounts


def tickets(desk: SacDesk) -> InMemoryTickets:
    """The desk's DIME: the fixture's in-memory tickets."""
    dime = desk.systems.tickets
    assert isinstance(dime, InMemoryTickets)
    return dime


def interpret(office: Backoffice, sub: Subcategory) -> None:
    office.interpret("K1", category=Category.SAC, subcategory=sub, actor=AGENT)


def close(office: Backoffice, *, first_contact: bool) -> None:
    office.complete_follow_up("K1", outcome="Cliente contactado", actor=AGENT)
    office.complete_closing_protocol(
        "K1", resolution_explained=True, nothing_else_pending=True, closing_script_read=True,
        survey_invited=True, actor=AGENT,
    )  # fmt: skip
    office.close_case("K1", summary="Gestión SAC", first_contact=first_contact, actor=AGENT)


def test_cartera_paid_but_suspended_is_flagged_and_escalated_through_the_matrix(
    desk: SacDesk,
) -> None:
    rr(desk).accounts["80123456"].collections = CollectionsStatus(
        final_notice=True, suspended_for_arrears=True, debt=Decimal(0),
        payment_benefit=None, benefit_met=None,
    )  # fmt: skip
    interpret(office_of(desk), Subcategory.CARTERA)
    check = desk.check("K1", actor=AGENT)
    assert check.inconsistent
    assert "suspensión por mora: sí" in check.findings
    assert "deuda: $0,00" in check.findings
    result = desk.escalate("K1", reason="Pagó el total y sigue suspendido", actor=AGENT)
    escalated, waiting = result.events
    assert isinstance(waiting, ClockStarted)
    assert waiting.due_at == escalated.timestamp + timedelta(hours=24)  # high priority
    assert isinstance(escalated, Escalated)
    assert (escalated.area, escalated.priority.value) == ("Cartera", "high")
    office_of(desk).typify("K1", marking_code="SAC-CAR-ESC", resolution=Resolution.FIRST_CONTACT,
                       actor=AGENT)  # fmt: skip
    close(office_of(desk), first_contact=False)
    checked = [e for e in office_of(desk).history("K1") if isinstance(e, AccountChecked)]
    assert [(c.system, c.aspect, c.inconsistent) for c in checked] == [("RR", "cartera", True)]


def test_facturacion_accepted_closes_in_first_contact(desk: SacDesk) -> None:
    interpret(office_of(desk), Subcategory.FACTURACION)
    check = desk.check("K1", actor=AGENT)
    assert not check.inconsistent
    assert any(f.startswith("cobro adicional ppv") for f in check.findings)
    desk.customer_accepts("K1", marking="SAC-FAC-EXPL", actor=AGENT)
    close(office_of(desk), first_contact=True)
    case = office_of(desk).case("K1")
    assert case.closed_first_contact
    assert [m.code for m in rr(desk).markings("80123456")] == ["SAC-FAC-EXPL"]
    assert rr(desk).ticklers == []  # hogar: RR, no tickler


def test_a_disputed_bill_becomes_a_pqr_with_its_cun_and_clock(desk: SacDesk) -> None:
    interpret(office_of(desk), Subcategory.FACTURACION)
    desk.check("K1", actor=AGENT)
    result = desk.customer_disputes(
        "K1", marking="PQR-FACT", reason="No reconoce el PPV", adjustment=False, actor=AGENT
    )
    case = result.case
    assert case.resolution is Resolution.CUN
    assert case.cun is not None
    clock, waiting = case.running_clocks
    assert (clock.kind, clock.reference) == (ClockKind.PQR_RESPONSE, case.cun)
    assert waiting.kind is ClockKind.ESCALATION_RESPONSE
    assert case.escalations[-1].area == "PQR"
    assert case.escalations[-1].external_reference == case.cun


def test_a_disputed_payment_becomes_an_adjustment_in_dime_with_72_hours(desk: SacDesk) -> None:
    rr(desk).accounts["80123456"].payments = replace_payments()
    interpret(office_of(desk), Subcategory.RECAUDO)
    check = desk.check("K1", actor=AGENT)
    assert check.inconsistent  # a payment posted, yet the account is not up to date
    result = desk.customer_disputes(
        "K1", marking="SAC-AJU", reason="Pago no aplicado", adjustment=True, actor=AGENT
    )
    clock, waiting = result.case.running_clocks
    assert clock.kind is ClockKind.ADJUSTMENT
    assert waiting.kind is ClockKind.ESCALATION_RESPONSE
    [(kind, account, _, _)] = tickets(desk).tickets.values()
    assert (kind, account) == (TicketKind.ADJUSTMENT, "80123456")
    escalation = result.case.escalations[-1]
    assert (escalation.target, escalation.external_reference) == (
        EscalationTarget.DIME,
        clock.reference,
    )
    # Seed §4: "realizar una solicitud de ajuste … generando la respectiva marcación": the
    # adjustment's marking is registered in RR and on the case.
    assert [m.code for m in rr(desk).markings("80123456")] == ["SAC-AJU"]
    assert (result.case.marking_code, result.case.resolution) == (
        "SAC-AJU",
        Resolution.FIRST_CONTACT,
    )


def test_rr_down_records_what_is_pending_and_keeps_everything_else(desk: SacDesk) -> None:
    interpret(office_of(desk), Subcategory.CARTERA)
    rr(desk).script.fail("collections", SystemUnavailable("RR", "collections", "timeout"))
    before = office_of(desk).case("K1").version
    with pytest.raises(SystemUnavailable):
        desk.check("K1", actor=AGENT)
    case = office_of(desk).case("K1")
    assert case.version == before + 1
    assert case.pending_calls == ("revisar cartera en RR",)
    last = office_of(desk).history("K1")[-1]
    assert isinstance(last, SystemCallFailed)
    assert last.actor == AGENT
    desk.check("K1", actor=AGENT)  # RR is back: the check clears what was pending
    assert office_of(desk).case("K1").pending_calls == ()


def replace_payments() -> PaymentStatus:
    """RR shows a posted payment, yet the account is not up to date."""
    return PaymentStatus(False, (date(2026, 12, 5),), fresh_record().payments.posted_payments)


def test_a_movil_typification_leaves_a_tickler_in_ac(desk: SacDesk) -> None:
    office_of(desk).ingest(
        [
            record(
                "M1",
                account="80123456",
                line=LineOfBusiness.MOVIL,
                typification="Facturación móvil",
            )
        ]
    )
    office_of(desk).interpret(
        "M1", category=Category.SAC, subcategory=Subcategory.FACTURACION, actor=AGENT
    )
    desk.customer_accepts("M1", marking="SAC-FAC-EXPL", actor=AGENT)
    [(account, due, text)] = rr(desk).ticklers
    assert (account, due) == ("80123456", office_of(desk).case("M1").follow_ups[0].due_at)
    assert text.startswith("Marcación SAC-FAC-EXPL")


def test_an_inconsistency_escalated_for_priority_still_closes_in_first_contact(
    desk: SacDesk,
) -> None:
    """Seed: "Si el cliente acepta la información se genera un cierre en primer contacto" —
    given a checked inconsistency escalated to give it priority, when the customer accepts,
    then the case closes in first contact and the area's clock stops."""
    rr(desk).accounts["80123456"].collections = CollectionsStatus(
        final_notice=True, suspended_for_arrears=True, debt=Decimal(0),
        payment_benefit=None, benefit_met=None,
    )  # fmt: skip
    interpret(office_of(desk), Subcategory.CARTERA)
    assert desk.check("K1", actor=AGENT).inconsistent
    desk.escalate("K1", reason="Pagó el total y sigue suspendido", actor=AGENT)
    desk.customer_accepts("K1", marking="SAC-CAR-ESC", actor=AGENT)
    close(office_of(desk), first_contact=True)
    case = office_of(desk).case("K1")
    assert case.closed_first_contact
    assert case.running_clocks == ()


def test_an_escalation_without_a_checked_inconsistency_rules_out_first_contact(
    desk: SacDesk,
) -> None:
    interpret(office_of(desk), Subcategory.FACTURACION)
    assert not desk.check("K1", actor=AGENT).inconsistent
    desk.escalate("K1", reason="El cliente pide revisión", actor=AGENT)
    desk.customer_accepts("K1", marking="SAC-FAC-EXPL", actor=AGENT)
    with pytest.raises(RuleViolation, match="not a first-contact resolution: it was escalated"):
        close(office_of(desk), first_contact=True)
    close_normally = office_of(desk).close_case("K1", summary="Gestión SAC", actor=AGENT)
    assert not close_normally.case.closed_first_contact


def test_an_adjustment_after_an_inconsistency_is_not_a_first_contact_resolution(
    desk: SacDesk,
) -> None:
    rr(desk).accounts["80123456"].payments = replace_payments()
    interpret(office_of(desk), Subcategory.RECAUDO)
    assert desk.check("K1", actor=AGENT).inconsistent
    desk.customer_disputes("K1", marking="SAC-AJU", reason="Pago no aplicado", adjustment=True,
                           actor=AGENT)  # fmt: skip
    office_of(desk).complete_adjustment("K1", outcome="Ajuste aplicado", actor=AGENT)
    with pytest.raises(RuleViolation, match="it was escalated; an adjustment was requested"):
        close(office_of(desk), first_contact=True)
