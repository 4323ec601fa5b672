"""Decide first, then write outside, once (docs/procedure.md §13), for every branch command.

Given a case, when a branch command is refused, then no outside system was written to; when
the answer of a write is lost (a crash or a timeout after the system applied it), then the
case shows the write as pending and the next attempt records the first answer under the same
key: one CUN, ticket, order or booking, on the case and in the system. With the shipped
marking catalogue the whole SAC → PQR path runs.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path

import attrs
import pytest

from adapters.clock import FixedClock
from adapters.mail.directory import ContactDirectory
from adapters.systems.memory import (
    InMemoryAccounts,
    InMemoryDiagnostics,
    InMemoryScheduling,
    InMemoryTickets,
)
from application.branches.pqr import PqrDesk
from application.branches.sac import SacDesk
from application.branches.support import SupportDesk
from application.case.outside import OutsideSystems
from application.ports.systems import Diagnosis, Slot, SystemUnavailable
from application.service import Backoffice
from domain.case.events import OutsideWriteRequested
from domain.case.state import WriteStatus
from domain.errors import DomainError
from domain.values import (
    Actor,
    Category,
    ClockKind,
    LineOfBusiness,
    Resolution,
    Subcategory,
    SupportRoute,
)
from entrypoints.bootstrap import bootstrap
from entrypoints.settings import load_settings
from tests.conftest import T0, record
from tests.integration.test_system_contracts import fresh_record

ROOT = Path(__file__).resolve().parents[2]
AGENT = Actor.agent("maria.b")
MATRIX = ContactDirectory.load(ROOT / "examples" / "contact_matrix.toml")


class Crash(BaseException):
    """The process dies: not an error any layer handles."""


@attrs.define
class World:
    office: Backoffice
    rr: InMemoryAccounts
    ac: InMemoryAccounts
    diagnostics: InMemoryDiagnostics
    tickets: InMemoryTickets
    scheduling: InMemoryScheduling
    sac: SacDesk
    support: SupportDesk
    pqr: PqrDesk

    def writes(self) -> int:
        """Writes applied by every system, all told."""
        fakes = (self.rr, self.ac, self.diagnostics, self.tickets, self.scheduling)
        return sum(fake.script.writes for fake in fakes)


@pytest.fixture
def world(tmp_path: Path, clock: FixedClock) -> Iterator[World]:
    settings = load_settings(
        environ={},
        data_dir=str(tmp_path / "data"),
        markings=str(ROOT / "examples" / "markings.toml"),
    )
    rr = InMemoryAccounts(
        system="RR", cun_markings=frozenset({"PQR-FACT", "PQR-ROAM"}), clock=clock
    )
    ac = InMemoryAccounts(
        system="AC", cun_markings=frozenset({"PQR-FACT", "PQR-ROAM"}), clock=clock
    )
    for key in ("K1", "K2"):
        rr.accounts[f"ACC-{key}"] = fresh_record()
    ac.accounts["ACC-M1"] = fresh_record()
    diagnostics = InMemoryDiagnostics()
    diagnostics.diagnoses["ACC-K2"] = Diagnosis(True, None, True, (), None)
    scheduling = InMemoryScheduling()
    scheduling.free[:] = [
        Slot(T0 + timedelta(days=1), T0 + timedelta(days=1, hours=4), "S1"),
        Slot(T0 + timedelta(days=2), T0 + timedelta(days=2, hours=4), "S2"),
    ]
    tickets = InMemoryTickets(clock=clock)
    systems = OutsideSystems(
        rr=rr, ac=ac, diagnostics=diagnostics, tickets=tickets, scheduling=scheduling
    )
    with bootstrap(settings, clock=clock) as office:
        office.ingest([record("K1"), record("K2"), record("M1", line=LineOfBusiness.MOVIL)])
        office.interpret("K1", category=Category.SAC, subcategory=Subcategory.FACTURACION,
                         actor=AGENT)  # fmt: skip
        office.interpret("M1", category=Category.SAC, subcategory=Subcategory.RECAUDO,
                         actor=AGENT)  # fmt: skip
        office.interpret("K2", category=Category.SOPORTE, subcategory=Subcategory.FALLA_PUNTUAL,
                         actor=AGENT)  # fmt: skip
        yield World(
            office, rr, ac, diagnostics, tickets, scheduling,
            SacDesk(office, systems, MATRIX), SupportDesk(office, systems, MATRIX),
            PqrDesk(office, systems, MATRIX),
        )  # fmt: skip


def dispute(w: World, key: str = "K1", marking: str = "PQR-FACT") -> None:
    w.sac.customer_disputes(key, marking=marking, reason="No reconoce el PPV", adjustment=False,
                            actor=AGENT)  # fmt: skip


def as_pqr(w: World) -> None:
    """K1 becomes a PQR the front line filed (CUN given), waiting for its answer."""
    w.office.interpret("K1", category=Category.PQR, subcategory=Subcategory.QUEJA_RECLAMO,
                       actor=AGENT)  # fmt: skip
    w.office.typify("K1", marking_code="PQR-FACT", resolution=Resolution.CUN,
                    cun="4436-26-0000000001", actor=AGENT)  # fmt: skip


def finish(office: Backoffice, key: str, *, first_contact: bool) -> None:
    for _ in office.case(key).pending_follow_ups:
        office.complete_follow_up(key, outcome="llamada hecha", actor=AGENT)
    office.complete_closing_protocol(
        key, resolution_explained=True, nothing_else_pending=True, closing_script_read=True,
        survey_invited=True, actor=AGENT,
    )  # fmt: skip
    office.close_case(key, summary="resuelto", first_contact=first_contact, actor=AGENT)


def closed(w: World) -> None:
    w.office.typify("K1", marking_code="SAC-FAC-EXPL", resolution=Resolution.FIRST_CONTACT,
                    actor=AGENT)  # fmt: skip
    finish(w.office, "K1", first_contact=True)


def answered(w: World) -> None:
    as_pqr(w)
    w.office.answer_pqr("K1", notified_at=T0, actor=AGENT)


def front_line_pqr(w: World) -> None:
    """K1 (a SAC case) carries the PQR the front line filed: its response clock runs."""
    w.office.typify("K1", marking_code="PQR-FACT", resolution=Resolution.CUN,
                    cun="4436-26-0000000001", actor=AGENT)  # fmt: skip


REFUSALS: dict[str, tuple[Callable[[World], object], Callable[[World], object], str]] = {
    # name: (given, when, then the refusal says)
    "sac accept with a marking that generates a CUN": (
        lambda w: None,
        lambda w: w.sac.customer_accepts("K1", marking="PQR-FACT", actor=AGENT),
        "means cun, not first_contact",
    ),
    "a first-contact typification while the front line's PQR waits for its answer": (
        front_line_pqr,
        lambda w: w.sac.customer_accepts("K1", marking="SAC-FAC-EXPL", actor=AGENT),
        "the PQR 4436-26-0000000001 is open on this case",
    ),
    "a dispute that would file a second PQR while the first one's clock runs": (
        front_line_pqr,
        lambda w: dispute(w, marking="PQR-ROAM"),
        "the PQR 4436-26-0000000001 is open on this case",
    ),
    "sac accept with a support marking": (
        lambda w: None,
        lambda w: w.sac.customer_accepts("K1", marking="SOP-01", actor=AGENT),
        "is for soporte cases",
    ),
    "sac accept with a marking not in the catalogue": (
        lambda w: None,
        lambda w: w.sac.customer_accepts("K1", marking="XYZ-1", actor=AGENT),
        "not in the marking catalogue",
    ),
    "sac dispute (PQR) with a first-contact marking": (
        lambda w: None,
        lambda w: dispute(w, marking="SAC-FAC-EXPL"),
        "means first_contact, not cun",
    ),
    "sac dispute on a closed case": (closed, dispute, "the case is closed"),
    "sac dispute (adjustment) while an adjustment is pending": (
        lambda w: w.office.request_adjustment("K1", ticket="DIME-000009", actor=AGENT),
        lambda w: w.sac.customer_disputes(
            "K1", marking="SAC-FAC-AJU", reason="Otra vez", adjustment=True, actor=AGENT
        ),
        "an adjustment is already pending",
    ),
    "sac dispute with no reason": (
        lambda w: None,
        lambda w: w.sac.customer_disputes(
            "K1", marking="PQR-FACT", reason=" ", adjustment=False, actor=AGENT
        ),
        "say what the customer disputes",
    ),
    "sac dispute of a móvil case with no AC gateway": (
        lambda w: None,
        lambda w: SacDesk(w.office, OutsideSystems(rr=w.rr), MATRIX).customer_disputes(
            "M1", marking="PQR-FACT", reason="x", adjustment=False, actor=AGENT
        ),
        "no gateway is configured for AC",
    ),
    "sac dispute with no pqr route in the contact matrix": (
        lambda w: None,
        lambda w: SacDesk(
            w.office, w.sac.systems, ContactDirectory({}, (), None)
        ).customer_disputes("K1", marking="PQR-FACT", reason="x", adjustment=False, actor=AGENT),
        "the contact matrix has no route for pqr",
    ),
    "sac dispute whose reason is too long for its escalation": (
        lambda w: None,
        lambda w: w.sac.customer_disputes(
            "K1", marking="PQR-FACT", reason="x" * 2_100, adjustment=False, actor=AGENT
        ),
        "reason: is 2100 characters long",
    ),
    "sac adjustment whose reason is too long for its escalation": (
        lambda w: None,
        lambda w: w.sac.customer_disputes(
            "K1", marking="SAC-FAC-AJU", reason="x" * 2_100, adjustment=True, actor=AGENT
        ),
        "reason: is 2100 characters long",
    ),
    "support route whose reason leaves no room in its escalation": (
        lambda w: w.scheduling.free.clear(),
        lambda w: w.support.resolve("K2", SupportRoute.PHYSICAL, reason="x" * 1_990, actor=AGENT),
        "reason: is 1990 characters long; at most 1900",
    ),
    "pqr correction whose notes are too long for its escalation": (
        as_pqr,
        lambda w: w.pqr.correct(
            "K1", marking="PQR-ROAM", notes="x" * 2_500, customer_contacted_at=T0, actor=AGENT
        ),
        "reason: is 25",
    ),
    "support route on a case that is not soporte": (
        lambda w: None,
        lambda w: w.support.resolve("K1", SupportRoute.INVENTORY, reason="x", actor=AGENT),
        "interpret the case as soporte first",
    ),
    "support physical route with no WFM gateway": (
        lambda w: None,
        lambda w: SupportDesk(w.office, OutsideSystems(rr=w.rr, tickets=w.tickets), MATRIX).resolve(
            "K2", SupportRoute.PHYSICAL, reason="Sin señal", actor=AGENT
        ),
        "no gateway is configured for WFM",
    ),
    "support route with an empty reason": (
        lambda w: None,
        lambda w: w.support.resolve("K2", SupportRoute.PLATFORM_SINGLE, reason=" ", actor=AGENT),
        "reason: must not be empty",
    ),
    "pqr correction with a SAC-only marking": (
        as_pqr,
        lambda w: w.pqr.correct(
            "K1", marking="SAC-FAC-EXPL", notes="x", customer_contacted_at=T0, actor=AGENT
        ),
        "is for sac cases",
    ),
    "pqr agreement when the PQR was already answered": (
        answered,
        lambda w: w.pqr.agree("K1", agreement="Se reversa el cobro", actor=AGENT),
        "no PQR waiting for an answer",
    ),
}


@pytest.mark.parametrize("name", list(REFUSALS))
def test_a_refused_branch_command_writes_nothing_outside(world: World, name: str) -> None:
    given, when, reason = REFUSALS[name]
    given(world)
    with pytest.raises(DomainError, match=reason):
        when(world)
    assert world.writes() == 0
    for key in ("K1", "K2", "M1"):
        assert not any(isinstance(e, OutsideWriteRequested) for e in world.office.history(key))


def test_the_sac_to_pqr_path_with_the_shipped_catalogue(world: World) -> None:
    world.sac.check("K1", actor=AGENT)
    dispute(world)
    case = world.office.case("K1")
    assert (case.marking_code, case.resolution) == ("PQR-FACT", Resolution.CUN)
    [pqr_clock, waiting] = case.running_clocks
    assert (pqr_clock.kind, pqr_clock.reference) == (ClockKind.PQR_RESPONSE, case.cun)
    assert waiting.kind is ClockKind.ESCALATION_RESPONSE
    assert case.escalations[-1].external_reference == case.cun
    [write] = case.outside_writes
    assert (write.system, write.status, dict(write.result)["cun"]) == (
        "RR", WriteStatus.ANSWERED, case.cun,
    )  # fmt: skip
    world.office.answer_pqr("K1", notified_at=world.office.clock.now(), actor=AGENT)
    world.office.answer_escalation("K1", escalation_id=1, answer="Recibida", actor=AGENT)
    finish(world.office, "K1", first_contact=False)
    assert not world.office.case("K1").is_open


def test_running_a_dispute_again_files_nothing_twice(world: World) -> None:
    dispute(world)
    first = world.office.case("K1")
    dispute(world)
    again = world.office.case("K1")
    assert again.version == first.version  # nothing new recorded
    assert again.cun == first.cun
    assert [m.code for m in world.rr.markings("ACC-K1")] == ["PQR-FACT"]


def test_a_movil_dispute_writes_to_ac_and_leaves_one_tickler(world: World) -> None:
    world.ac.script.fail_after("leave_tickler", Crash())
    with pytest.raises(Crash):
        dispute(world, key="M1")
    dispute(world, key="M1")
    case = world.office.case("M1")
    assert [w.system for w in case.outside_writes] == ["AC", "AC"]
    assert [m.code for m in world.ac.markings("ACC-M1")] == ["PQR-FACT"]
    [(_, due, text)] = world.ac.ticklers
    assert due == case.follow_ups[0].due_at
    assert text.startswith(f"PQR {case.cun} (PQR-FACT)")
    assert world.rr.script.writes == 0


LOST_ANSWERS: dict[str, tuple[str, str, Callable[[World], object]]] = {
    # name: (fake, operation whose answer is lost, the command)
    "PQR marking (RR gives the CUN)": ("rr", "register_marking", dispute),
    "adjustment ticket (DIME)": (
        "tickets", "open_ticket",
        lambda w: w.sac.customer_disputes("K1", marking="SAC-FAC-AJU", reason="Pago doble",
                                          adjustment=True, actor=AGENT),
    ),
    "visit order (RR)": (
        "rr", "create_order",
        lambda w: w.support.resolve("K2", SupportRoute.PHYSICAL, reason="Módem", actor=AGENT,
                                    slot_id="S2"),
    ),
    "visit booking (WFM)": (
        "scheduling", "book",
        lambda w: w.support.resolve("K2", SupportRoute.PHYSICAL, reason="Módem", actor=AGENT,
                                    slot_id="S2"),
    ),
    "single incident (Diagnosticador)": (
        "diagnostics", "open_incident",
        lambda w: w.support.resolve("K2", SupportRoute.PLATFORM_SINGLE, reason="Plataforma",
                                    actor=AGENT),
    ),
    "inventory ticket (DIME)": (
        "tickets", "open_ticket",
        lambda w: w.support.resolve("K2", SupportRoute.INVENTORY, reason="Serial", actor=AGENT),
    ),
    "agreement note (RR)": (
        "rr", "add_note",
        lambda w: w.pqr.agree("K1", agreement="Se reversa el cobro", actor=AGENT),
    ),
}  # fmt: skip


@pytest.mark.parametrize("lost", [Crash(), SystemUnavailable("X", "y", "no answer in 5 s")])
@pytest.mark.parametrize("name", list(LOST_ANSWERS))
def test_a_write_whose_answer_was_lost_is_recorded_once_by_the_next_attempt(
    world: World, name: str, lost: BaseException
) -> None:
    fake_name, operation, command = LOST_ANSWERS[name]
    if name.startswith("agreement"):
        as_pqr(world)
    fake = getattr(world, fake_name)
    fake.script.fail_after(operation, lost)
    with pytest.raises(type(lost)):
        command(world)
    assert fake.script.writes >= 1  # the system did it; the case did not hear back
    case_key = "K2" if name.startswith(("visit", "single", "inventory")) else "K1"
    [pending] = world.office.case(case_key).pending_writes
    assert pending.operation == operation
    writes_before = world.writes()

    command(world)  # the next attempt

    case = world.office.case(case_key)
    assert case.pending_writes == ()
    assert world.writes() == writes_before + _writes_after(name)
    answered = [w for w in case.outside_writes if w.key == pending.key]
    assert [w.status for w in answered] == [WriteStatus.ANSWERED]
    if name.startswith("PQR"):
        assert [m.code for m in world.rr.markings("ACC-K1")] == ["PQR-FACT"]
        assert case.cun == dict(answered[0].result)["cun"]
        assert len([c for c in case.clocks if c.kind is ClockKind.PQR_RESPONSE]) == 1
    if name.startswith("adjustment"):
        assert len(world.tickets.tickets) == 1
        [adjustment] = [c for c in case.clocks if c.kind is ClockKind.ADJUSTMENT]
        assert adjustment.reference in world.tickets.tickets
    if name.startswith("visit"):
        assert len(world.rr.orders) == 1
        assert len(world.scheduling.bookings) == 1
        [visit] = case.visits
        assert visit.booking_reference == world.scheduling.bookings[0][2].booking_reference
    if name.startswith(("single", "inventory")):
        assert len(case.escalations) == 1
    if name.startswith("agreement"):
        assert len(world.rr.notes) == 1
        assert not any(c.kind is ClockKind.PQR_RESPONSE for c in case.running_clocks)


def _writes_after(name: str) -> int:
    """Writes the next attempt still has to make after the one whose answer was lost."""
    return 1 if name.startswith("visit order") else 0  # the booking comes after the order


def test_the_pqr_clock_runs_from_rrs_filing_even_when_the_case_hears_of_it_later(
    world: World, clock: FixedClock
) -> None:
    """Given RR filed the PQR at 14:00 but its answer was lost, when the agent runs the
    dispute again two days later, then the CUN's clock started at RR's filing, 14:00."""
    filed_at = clock.now()
    world.rr.script.fail_after("register_marking", Crash())
    with pytest.raises(Crash):
        dispute(world)
    clock.advance(timedelta(days=2))
    dispute(world)
    case = world.office.case("K1")
    [pqr_clock] = [c for c in case.clocks if c.kind is ClockKind.PQR_RESPONSE]
    assert pqr_clock.started_at == filed_at == case.cun_filed_at
    assert pqr_clock.reference == case.cun


def test_the_sweep_records_what_follows_from_a_pqr_filed_while_nobody_heard(
    world: World, clock: FixedClock
) -> None:
    """Given RR filed the PQR but the case never heard, when the sweep settles the write,
    then the case has the CUN and its clock (from RR's filing); the agent's next run only
    escalates, writing nothing again."""
    from application.case.outside import OutsideWriter
    from application.jobs.sweep import SETTLE_WRITES_AFTER, settle_writes

    filed_at = clock.now()
    world.rr.script.fail_after("register_marking", Crash())
    with pytest.raises(Crash):
        dispute(world)
    clock.advance(SETTLE_WRITES_AFTER + timedelta(minutes=1))
    writer = OutsideWriter(world.office, world.sac.systems)
    assert settle_writes(world.office, writer).settled == 1
    case = world.office.case("K1")
    [pqr_clock] = case.running_clocks
    assert case.cun == dict(case.outside_writes[0].result)["cun"]
    assert (pqr_clock.kind, pqr_clock.started_at) == (ClockKind.PQR_RESPONSE, filed_at)
    assert case.escalations == ()  # the rest of the command is the agent's next run
    dispute(world)
    assert len(world.office.case("K1").escalations) == 1
    assert world.rr.script.writes == 1


def test_without_a_catalogue_rr_decides_and_a_wrong_marking_is_refused_after_recording_it(
    tmp_path: Path, clock: FixedClock
) -> None:
    settings = load_settings(environ={}, data_dir=str(tmp_path / "plain"))
    rr = InMemoryAccounts(system="RR", cun_markings=frozenset({"PQR-FACT"}), clock=clock)
    rr.accounts["ACC-K1"] = fresh_record()
    rr.accounts["ACC-K2"] = fresh_record()
    with bootstrap(settings, clock=clock) as office:
        office.ingest([record("K1"), record("K2")])
        for key in ("K1", "K2"):
            office.interpret(key, category=Category.SAC, subcategory=Subcategory.FACTURACION,
                             actor=AGENT)  # fmt: skip
        desk = SacDesk(office, OutsideSystems(rr=rr), MATRIX)
        with pytest.raises(DomainError, match="RR filed no PQR for marking SAC-X"):
            desk.customer_disputes("K1", marking="SAC-X", reason="No acepta",
                                   adjustment=False, actor=AGENT)  # fmt: skip
        assert office.case("K1").escalations == ()
        with pytest.raises(DomainError, match=r"RR filed a PQR \(CUN .*\) for marking PQR-FACT"):
            desk.customer_accepts("K2", marking="PQR-FACT", actor=AGENT)
        k2 = office.case("K2")
        assert k2.cun is not None  # the PQR RR filed keeps its CUN and clock on the case
        assert [c.kind for c in k2.running_clocks] == [ClockKind.PQR_RESPONSE]


def test_a_second_visit_gets_an_order_of_its_own(world: World) -> None:
    world.support.resolve("K2", SupportRoute.PHYSICAL, reason="Módem", actor=AGENT, slot_id="S1")
    world.support.resolve("K2", SupportRoute.PHYSICAL, reason="Módem", actor=AGENT, slot_id="S2")
    assert [o[3] for o in world.rr.orders] == ["LLS-0000001", "LLS-0000002"]
    assert [b[1] for b in world.scheduling.bookings] == ["LLS-0000001", "LLS-0000002"]
    assert len(world.office.case("K2").visits) == 2


def test_a_pqr_correction_files_no_new_pqr(world: World) -> None:
    as_pqr(world)
    result = world.pqr.correct("K1", marking="PQR-ROAM", notes="Era roaming",
                               customer_contacted_at=T0, actor=AGENT)  # fmt: skip
    [marking_write] = [w for w in result.case.outside_writes if w.operation == "register_marking"]
    assert dict(marking_write.result)["cun"] == "4436-26-0000000001"  # the front line's
    assert result.case.cun == "4436-26-0000000001"
    assert [m.code for m in world.rr.markings("ACC-K1")] == ["PQR-ROAM"]


def test_a_write_stuck_pending_can_be_settled_by_hand_and_then_another_asked_for(
    world: World,
) -> None:
    """RR never answers the PQR marking: another marking is refused while it is pending (it
    may have been filed); a supervisor checks RR and settles it by hand."""
    from application.case.outside import settle_by_hand

    world.rr.script.fail("register_marking", SystemUnavailable("RR", "x", "down"))
    with pytest.raises(SystemUnavailable):
        dispute(world)
    [stuck] = world.office.case("K1").pending_writes
    with pytest.raises(DomainError, match=r"RR register_marking \(code=PQR-FACT\) is still pend"):
        dispute(world, marking="PQR-ROAM")
    supervisor = Actor.agent("sup.lina")
    case = settle_by_hand(world.office, case_id(world), key=stuck.key,
                          answer=None, reason="no aparece en RR", actor=supervisor)  # fmt: skip
    assert case.pending_writes == ()
    dispute(world, marking="PQR-ROAM")
    assert world.office.case("K1").marking_code == "PQR-ROAM"


def case_id(world: World) -> uuid.UUID:
    return world.office.case("K1").case_id


def test_a_system_that_stays_down_does_not_starve_the_writes_to_the_others(
    world: World, clock: FixedClock
) -> None:
    """Given two RR writes pending (the oldest) and then one AC write, when RR is still down
    and the sweep may try two writes per run, then RR is called once, its writes stay pending,
    and the AC write is settled (before: the oldest-first limit spent every run on RR)."""
    from application.case.outside import OutsideWriter
    from application.jobs.sweep import SETTLE_WRITES_AFTER, settle_writes

    world.rr.accounts["ACC-K2"] = fresh_record()
    world.office.interpret("K2", category=Category.SAC, subcategory=Subcategory.FACTURACION,
                           actor=AGENT)  # fmt: skip
    for key in ("K1", "K2"):
        world.rr.script.fail("register_marking", SystemUnavailable("RR", "register_marking", "x"))
        with pytest.raises(SystemUnavailable):
            dispute(world, key)
        clock.advance(timedelta(minutes=1))
    world.ac.script.fail_after("register_marking", Crash())
    with pytest.raises(Crash):
        world.sac.customer_disputes(
            "M1", marking="PQR-FACT", reason="x", adjustment=False, actor=AGENT
        )
    clock.advance(SETTLE_WRITES_AFTER + timedelta(minutes=1))
    down = SystemUnavailable("RR", "register_marking", "sigue caído")
    world.rr.script.fail("register_marking", down, down)
    calls = len(world.rr.script.calls)

    report = settle_writes(world.office, OutsideWriter(world.office, world.sac.systems), limit=2)

    assert (report.settled, report.still_pending) == (1, 2)
    assert len(world.rr.script.calls) == calls + 1
    assert [w.status for w in world.office.case("M1").outside_writes] == [WriteStatus.ANSWERED]
    assert [w.status for k in ("K1", "K2") for w in world.office.case(k).outside_writes] == [
        WriteStatus.PENDING, WriteStatus.PENDING
    ]  # fmt: skip
