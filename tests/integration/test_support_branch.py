"""Support from intake to closing: diagnosis and the five resolution routes (docs/procedure.md
§5)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest

from adapters.clock import FixedClock
from adapters.mail.directory import ContactDirectory
from adapters.systems.memory import (
    InMemoryAccounts,
    InMemoryDiagnostics,
    InMemoryScheduling,
    InMemoryTickets,
)
from application.branches.support import SupportDesk
from application.case.outside import OutsideSystems
from application.jobs.mail import compose
from application.ports.systems import Diagnosis, MassOutage, Slot, TicketKind
from application.service import Backoffice
from domain.case.events import AccountChecked, ClockStopped, Escalated, VisitScheduled
from domain.errors import RuleViolation
from domain.values import (
    Actor,
    Category,
    ClockKind,
    EscalationTarget,
    Resolution,
    Service,
    Subcategory,
    SupportRoute,
    VisitKind,
)
from entrypoints.bootstrap import bootstrap
from entrypoints.settings import load_settings
from tests.conftest import T0, record
from tests.integration.test_system_contracts import fresh_record

ROOT = Path(__file__).resolve().parents[2]
AGENT = Actor.agent("juan.r")
HEALTHY = Diagnosis(True, None, True, (), "DVB")
MATRIX = ContactDirectory.load(ROOT / "examples" / "contact_matrix.toml")


def office_of(desk: SupportDesk) -> Backoffice:
    """The desk's back office, as the embedding API (the desk sees it through its port)."""
    office = desk.office
    assert isinstance(office, Backoffice)
    return office


@pytest.fixture
def desk(tmp_path: Path, clock: FixedClock) -> Iterator[SupportDesk]:
    settings = load_settings(environ={}, data_dir=str(tmp_path / "data"))
    accounts = InMemoryAccounts(clock=clock)
    accounts.accounts["80123456"] = fresh_record()
    diagnostics = InMemoryDiagnostics()
    diagnostics.diagnoses["80123456"] = HEALTHY
    scheduling = InMemoryScheduling()
    with bootstrap(settings, clock=clock) as office:
        office.ingest([record("K1", account="80123456")])
        systems = OutsideSystems(
            rr=accounts, diagnostics=diagnostics, tickets=InMemoryTickets(clock=clock),
            scheduling=scheduling,
        )  # fmt: skip
        yield SupportDesk(office, systems, MATRIX)


def rr(desk: SupportDesk) -> InMemoryAccounts:
    """The desk's RR: the fixture's in-memory accounts."""
    accounts = desk.systems.rr
    assert isinstance(accounts, InMemoryAccounts)
    return accounts


def diagnostics(desk: SupportDesk) -> InMemoryDiagnostics:
    """The desk's Diagnosticador: the fixture's in-memory one."""
    diagnosticador = desk.systems.diagnostics
    assert isinstance(diagnosticador, InMemoryDiagnostics)
    return diagnosticador


def tickets(desk: SupportDesk) -> InMemoryTickets:
    """The desk's DIME: the fixture's in-memory tickets."""
    dime = desk.systems.tickets
    assert isinstance(dime, InMemoryTickets)
    return dime


def scheduling(desk: SupportDesk) -> InMemoryScheduling:
    """The desk's WFM: the fixture's in-memory scheduling."""
    wfm = desk.systems.scheduling
    assert isinstance(wfm, InMemoryScheduling)
    return wfm


def interpret(desk: SupportDesk, sub: Subcategory) -> None:
    office_of(desk).interpret("K1", category=Category.SOPORTE, subcategory=sub, actor=AGENT)


def finish(desk: SupportDesk) -> None:
    office = office_of(desk)
    office.complete_follow_up("K1", outcome="Cliente informado", actor=AGENT)
    office.typify("K1", marking_code="SOP-01", resolution=Resolution.FIRST_CONTACT, actor=AGENT)
    office.complete_closing_protocol(
        "K1", resolution_explained=True, nothing_else_pending=True, closing_script_read=True,
        survey_invited=True, actor=AGENT,
    )  # fmt: skip
    office.close_case("K1", summary="Soporte gestionado", actor=AGENT)
    assert not office.case("K1").is_open


def last_escalation(desk: SupportDesk) -> Escalated:
    event = [e for e in office_of(desk).history("K1") if isinstance(e, Escalated)][-1]
    assert isinstance(event, Escalated)
    return event


def test_route_1_single_platform_fault_goes_to_the_diagnosticador(desk: SupportDesk) -> None:
    interpret(desk, Subcategory.FALLA_PUNTUAL)
    diagnostics(desk).diagnoses["80123456"] = Diagnosis(False, None, True, ("T3 timeout",), None)
    _, result = desk.diagnose("K1", actor=AGENT)
    [checked] = result.events
    assert isinstance(checked, AccountChecked)
    assert checked.inconsistent
    assert "cable módem enganchado: no" in checked.findings
    resolution = desk.resolve("K1", SupportRoute.PLATFORM_SINGLE, reason="Error de plataforma",
                              actor=AGENT)  # fmt: skip
    assert resolution.reference is not None
    assert resolution.reference.startswith("INC")
    escalation = last_escalation(desk)
    assert (escalation.target, escalation.area) == (
        EscalationTarget.DIAGNOSTICADOR,
        "Soporte Técnico",
    )
    finish(desk)


def test_route_2_sector_fault_links_the_mass_outage_notice_and_sees_repeat_calls(
    desk: SupportDesk,
) -> None:
    outage = Diagnosis(False, MassOutage("INC4471100", "alta", "Chapinero"), False, (), None)
    diagnostics(desk).diagnoses["80123456"] = outage
    interpret(desk, Subcategory.FALLA_MASIVA)
    rr(desk).register_marking("80123456", "SOP-MAS", "Llamó por INC4471100", key="k1")
    _, result = desk.diagnose("K1", actor=AGENT)
    [checked] = result.events
    assert isinstance(checked, AccountChecked)
    assert "el cliente ya se comunicó por el aviso INC4471100" in checked.findings
    resolution = desk.resolve("K1", SupportRoute.SECTOR, reason="Falla de sector", actor=AGENT)
    assert resolution.reference == "INC4471100"
    escalation = last_escalation(desk)
    assert (escalation.area, escalation.priority.value) == ("Gestión Soporte", "urgent")
    assert diagnostics(desk).incidents == []  # linked, not reopened
    finish(desk)


def test_route_3_physical_fault_books_a_visit_in_wfm(desk: SupportDesk, clock: FixedClock) -> None:
    slot = Slot(T0 + timedelta(days=1), T0 + timedelta(days=1, hours=4), "S1")
    scheduling(desk).free.append(slot)
    interpret(desk, Subcategory.FALLA_PUNTUAL)
    resolution = desk.resolve("K1", SupportRoute.PHYSICAL, reason="Cable dañado",
                              actor=AGENT, visit=VisitKind.OT, slot_id="S1")  # fmt: skip
    [visit] = resolution.result.events
    assert isinstance(visit, VisitScheduled)
    assert (visit.kind, visit.slot_start, visit.booking_reference) == (
        VisitKind.OT, slot.start, resolution.reference,
    )  # fmt: skip
    assert [o[1] for o in rr(desk).orders] == [VisitKind.OT]
    finish(desk)


def test_route_3_without_a_slot_goes_to_dime_and_the_operations_crm(desk: SupportDesk) -> None:
    interpret(desk, Subcategory.VISITA_TECNICA)
    resolution = desk.resolve("K1", SupportRoute.PHYSICAL, reason="Sin señal", actor=AGENT)
    [(kind, _, description, _)] = tickets(desk).tickets.values()
    assert kind is TicketKind.VISIT_WITHOUT_SLOT
    assert "sin cupo en WFM" in description
    escalation = last_escalation(desk)
    assert (escalation.target, escalation.area, escalation.external_reference) == (
        EscalationTarget.OPERATION_CRM, "CRM Operación", resolution.reference,
    )  # fmt: skip
    assert office_of(desk).case("K1").visits == ()
    finish(desk)


def test_route_4_inventory_error_goes_to_dime(desk: SupportDesk) -> None:
    interpret(desk, Subcategory.INVENTARIO)
    _, result = desk.diagnose("K1", actor=AGENT)
    [checked] = result.events
    assert isinstance(checked, AccountChecked)
    assert "equipo cable_modem: CM-88213" in checked.findings
    resolution = desk.resolve("K1", SupportRoute.INVENTORY, reason="Serial no coincide",
                              actor=AGENT)  # fmt: skip
    escalation = last_escalation(desk)
    assert (escalation.target, escalation.area) == (EscalationTarget.DIME, "Inventarios")
    assert escalation.external_reference == resolution.reference
    finish(desk)


def test_route_5_not_claros_fault_goes_to_the_trusted_technician_without_mail(
    desk: SupportDesk,
) -> None:
    interpret(desk, Subcategory.FALLA_PUNTUAL)
    desk.resolve("K1", SupportRoute.NOT_CLARO, reason="Red interna del cliente", actor=AGENT)
    escalation = last_escalation(desk)
    assert escalation.target is EscalationTarget.TRUSTED_TECHNICIAN
    case = office_of(desk).case("K1", version=escalation.originator_version)
    assert compose(escalation, case, MATRIX, domain="test.local") == []
    finish(desk)


def test_route_3_books_the_slot_the_customer_agreed_to_not_the_earliest(
    desk: SupportDesk,
) -> None:
    """Seed §5: "consultar la agenda disponible en común acuerdo con el cliente"."""
    early = Slot(T0 + timedelta(days=1), T0 + timedelta(days=1, hours=4), "S1")
    later = Slot(T0 + timedelta(days=2), T0 + timedelta(days=2, hours=4), "S2")
    scheduling(desk).free.extend([early, later])
    interpret(desk, Subcategory.VISITA_TECNICA)
    assert desk.slots("K1", actor=AGENT) == (early, later)
    with pytest.raises(RuleViolation, match=r"WFM offers 2 slot\(s\): agree one .*\(S1 .*, S2 "):
        desk.resolve("K1", SupportRoute.PHYSICAL, reason="Cable dañado", actor=AGENT)
    with pytest.raises(RuleViolation, match="WFM does not offer slot S9"):
        desk.resolve("K1", SupportRoute.PHYSICAL, reason="Cable dañado", actor=AGENT,
                     slot_id="S9")  # fmt: skip
    assert rr(desk).orders == []  # refused before RR
    resolution = desk.resolve("K1", SupportRoute.PHYSICAL, reason="Cable dañado", actor=AGENT,
                              slot_id="S2")  # fmt: skip
    [visit] = office_of(desk).case("K1").visits
    assert (visit.slot_start, visit.booking_reference) == (later.start, resolution.reference)
    assert scheduling(desk).free == [early]


def test_the_visit_the_operations_crm_books_later_answers_the_no_slot_escalation(
    desk: SupportDesk,
) -> None:
    interpret(desk, Subcategory.VISITA_TECNICA)
    desk.resolve("K1", SupportRoute.PHYSICAL, reason="Sin señal", actor=AGENT)
    escalation = last_escalation(desk)
    with pytest.raises(RuleViolation, match="is not a visit without slot"):
        desk.visit_booked_by_crm(
            "K1", escalation_id=99, kind=VisitKind.LLS, slot_start=T0 + timedelta(days=3),
            slot_end=T0 + timedelta(days=3, hours=4), booking_reference="CRM-77", actor=AGENT,
        )  # fmt: skip
    result = desk.visit_booked_by_crm(
        "K1", escalation_id=escalation.escalation_id, kind=VisitKind.LLS,
        slot_start=T0 + timedelta(days=3), slot_end=T0 + timedelta(days=3, hours=4),
        booking_reference="CRM-77", actor=AGENT,
    )  # fmt: skip
    [visit] = result.case.visits
    assert visit.booking_reference == "CRM-77"
    [stopped] = result.events
    assert isinstance(stopped, ClockStopped)
    assert "CRM-77" in stopped.reason
    assert not [c for c in result.case.running_clocks if c.kind is ClockKind.ESCALATION_RESPONSE]


def test_a_single_fault_records_its_checks_as_structured_facts(desk: SupportDesk) -> None:
    """Seed §5, fallas puntuales: the failing service (T&D), whether RR has it associated
    (F10), mass faults or maintenance, the modem, the neighbours' signal, the TV technology."""
    diagnostics(desk).diagnoses["80123456"] = Diagnosis(
        True, None, True, (), "NAGRA", maintenance="Chapinero 02:00–04:00"
    )
    interpret(desk, Subcategory.FALLA_PUNTUAL)
    _, result = desk.diagnose("K1", actor=AGENT, service=Service.TV)
    [checked] = result.events
    assert isinstance(checked, AccountChecked)
    facts = dict(checked.facts)
    assert facts["servicio"] == "tv"
    assert facts["servicios_asociados_rr"] == "sí"  # RR: internet and tv
    assert facts["tecnologia_tv"] == "NAGRA"
    assert facts["mantenimiento"] == "Chapinero 02:00–04:00"
    assert (facts["falla_masiva"], facts["cable_modem_enganchado"]) == ("no", "sí")
    assert not checked.inconsistent
    _, result = desk.diagnose("K1", actor=AGENT, service=Service.VOZ)
    [checked] = result.events
    assert isinstance(checked, AccountChecked)
    assert dict(checked.facts)["servicios_asociados_rr"] == "no"  # voz is not on the account
    assert checked.inconsistent


def test_inventory_compares_the_serials_the_customer_reads_with_rr(desk: SupportDesk) -> None:
    """Seed §5, inventario: serials against RR (F10); the equipment's condition as the
    customer says."""
    interpret(desk, Subcategory.INVENTARIO)
    _, result = desk.diagnose("K1", actor=AGENT, serials=("cm-88213",), equipment_ok=True)
    [matching] = result.events
    assert isinstance(matching, AccountChecked)
    assert ("seriales_coinciden", "sí") in matching.facts
    assert not matching.inconsistent
    _, result = desk.diagnose("K1", actor=AGENT, serials=("CM-99999",), equipment_ok=False)
    [mismatch] = result.events
    assert isinstance(mismatch, AccountChecked)
    assert ("serial_no_registrado_en_rr", "CM-99999") in mismatch.facts
    assert ("serial_no_instalado", "CM-88213") in mismatch.facts
    assert ("equipos_buen_estado", "no") in mismatch.facts
    assert mismatch.inconsistent
