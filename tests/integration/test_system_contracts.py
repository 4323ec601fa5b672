"""One contract per port, run on the in-memory fake and on the HTTP client against a stub."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest

from adapters.systems.http import (
    HttpAccounts,
    HttpDiagnostics,
    HttpScheduling,
    HttpSettings,
    HttpTickets,
    JsonClient,
)
from adapters.systems.memory import AccountRecord
from application.ports.systems import (
    AccountServices,
    BillingStatus,
    Charge,
    ChargeKind,
    CollectionsStatus,
    Diagnosis,
    Equipment,
    IncidentScope,
    MassOutage,
    Payment,
    PaymentStatus,
    Slot,
    SystemRefused,
    SystemUnavailable,
    TicketKind,
)
from domain.values import NoteFolder, Resolution, VisitKind
from tests.stub_systems import Stub, serve

T0 = datetime(2026, 12, 1, 13, 0, tzinfo=UTC)
RECORD = AccountRecord(
    collections=CollectionsStatus(True, True, Decimal("189900.50"), "Pago en 3 cuotas", False),
    billing=BillingStatus(
        Decimal("219900"), ("Descuento premium 20%",),
        (Charge(ChargeKind.PPV, Decimal("15900"), date(2026, 11, 20), "Evento PPV"),),
        date(2026, 11, 25),
    ),
    payments=PaymentStatus(False, (date(2026, 12, 5),),
                           (Payment(Decimal("189900.50"), date(2026, 11, 26), "corresponsal"),)),
    services=AccountServices(("internet", "tv"), (Equipment("cable_modem", "CM-88213"),)),
)  # fmt: skip


def fresh_record() -> AccountRecord:
    return AccountRecord(
        RECORD.collections, RECORD.billing, RECORD.payments, RECORD.services, markings=[]
    )


DIAGNOSIS = Diagnosis(False, MassOutage("INC4471100", "alta", "Chapinero"), False, ("T3",), "DVB")


class Systems:
    def __init__(self, stub: Stub, adapters: dict[str, Any], kind: str) -> None:
        self.stub = stub
        self.kind = kind
        self.accounts = adapters["accounts"]
        self.diagnostics = adapters["diagnostics"]
        self.tickets = adapters["tickets"]
        self.scheduling = adapters["scheduling"]


@pytest.fixture(params=["memory", "http"])
def systems(request: pytest.FixtureRequest) -> Iterator[Systems]:
    stub = Stub()
    stub.accounts.accounts["80123456"] = fresh_record()
    stub.diagnostics.diagnoses["80123456"] = DIAGNOSIS
    stub.scheduling.free[:] = [
        Slot(T0 + timedelta(days=1), T0 + timedelta(days=1, hours=4), "S1"),
        Slot(T0 + timedelta(days=2), T0 + timedelta(days=2, hours=4), "S2"),
    ]
    if request.param == "memory":
        fakes = {"accounts": stub.accounts, "diagnostics": stub.diagnostics,
                 "tickets": stub.tickets, "scheduling": stub.scheduling}  # fmt: skip
        yield Systems(stub, fakes, "memory")
        return
    with serve(stub) as url:
        settings = HttpSettings(base_url=url, timeout_seconds=1.0, attempts=3, backoff_seconds=0)
        clients = {
            name: JsonClient(name, settings, sleep=lambda _: None)
            for name in ("RR", "Diagnosticador", "DIME", "WFM")
        }
        yield Systems(stub, {
            "accounts": HttpAccounts(clients["RR"]),
            "diagnostics": HttpDiagnostics(clients["Diagnosticador"]),
            "tickets": HttpTickets(clients["DIME"]),
            "scheduling": HttpScheduling(clients["WFM"]),
        }, "http")  # fmt: skip


def test_account_reads_return_what_rr_holds(systems: Systems) -> None:
    a = systems.accounts
    assert a.collections("80123456") == RECORD.collections
    assert a.billing("80123456") == RECORD.billing
    assert a.payments("80123456") == RECORD.payments
    assert a.services("80123456") == RECORD.services
    with pytest.raises(SystemRefused, match="unknown account"):
        a.billing("00000000")


def test_account_writes_are_applied_once(systems: Systems) -> None:
    a = systems.accounts
    assert a.register_marking("80123456", "SAC-FAC-EXPL", "explicado", key="k1").resolution is (
        Resolution.FIRST_CONTACT
    )  # fmt: skip
    receipt = a.register_marking("80123456", "PQR-FACT", "queja", key="k2")
    assert receipt.resolution is Resolution.CUN
    assert receipt.cun is not None
    assert [m.code for m in a.markings("80123456")] == ["SAC-FAC-EXPL", "PQR-FACT"]
    a.add_note("80123456", "nota larga", NoteFolder.ESTRATEGICOS, key="k3")
    order = a.create_order("80123456", VisitKind.OT, "Cambio de módem", key="k4")
    assert order.startswith("OT-")
    a.leave_tickler("80123456", T0 + timedelta(days=1), "Llamar", key="k5")
    fake = systems.stub.accounts
    assert fake.notes == [("80123456", "nota larga", NoteFolder.ESTRATEGICOS)]
    assert [o[3] for o in fake.orders] == [order]
    assert len(fake.ticklers) == 1


WRITES: dict[str, tuple[Any, Any]] = {
    # operation: (the write, what counts the writes the system applied)
    "register_marking": (
        lambda s, k: s.accounts.register_marking("80123456", "PQR-FACT", "queja", key=k),
        lambda stub: len(stub.accounts.accounts["80123456"].markings),
    ),
    "add_note": (
        lambda s, k: s.accounts.add_note("80123456", "nota", NoteFolder.RR_NOTES, key=k),
        lambda stub: len(stub.accounts.notes),
    ),
    "create_order": (
        lambda s, k: s.accounts.create_order("80123456", VisitKind.LLS, "Sin señal", key=k),
        lambda stub: len(stub.accounts.orders),
    ),
    "leave_tickler": (
        lambda s, k: s.accounts.leave_tickler("80123456", T0, "Llamar", key=k),
        lambda stub: len(stub.accounts.ticklers),
    ),
    "open_incident": (
        lambda s, k: s.diagnostics.open_incident("80123456", IncidentScope.SINGLE, "x", key=k),
        lambda stub: len(stub.diagnostics.incidents),
    ),
    "open_ticket": (
        lambda s, k: s.tickets.open_ticket(TicketKind.ADJUSTMENT, "80123456", "x", key=k),
        lambda stub: len(stub.tickets.tickets),
    ),
    "book": (
        lambda s, k: s.scheduling.book("80123456", "LLS-1", s.stub.scheduling.free[0], key=k),
        lambda stub: len(stub.scheduling.bookings),
    ),
}


@pytest.mark.parametrize("operation", list(WRITES))
def test_every_write_is_applied_once_per_idempotency_key(systems: Systems, operation: str) -> None:
    write, applied = WRITES[operation]
    first = write(systems, "key-1")
    assert applied(systems.stub) == 1
    assert write(systems, "key-1") == first  # the same key: the first answer, nothing written
    assert applied(systems.stub) == 1
    if operation != "book":  # the slot is taken now: another key gets "no slot"
        write(systems, "key-2")
        assert applied(systems.stub) == 2


def test_the_gateway_refuses_a_write_without_an_idempotency_key() -> None:
    stub = Stub()
    stub.accounts.accounts["80123456"] = fresh_record()
    with serve(stub) as url:
        client = JsonClient("RR", HttpSettings(base_url=url), sleep=lambda _: None)
        with pytest.raises(ValueError, match="a write needs an idempotency key"):
            client.call("POST", "/accounts/80123456/notes", "add_note", {"text": "x"})
        status, _ = stub.handle("POST", "/accounts/80123456/notes", {"text": "x"}, None)
        assert status == 400
        assert stub.accounts.notes == []


def test_diagnostics_and_incidents(systems: Systems) -> None:
    d = systems.diagnostics
    assert d.diagnose("80123456") == DIAGNOSIS
    incident = d.open_incident("80123456", IncidentScope.SECTOR, "Sin señal en el sector", key="k1")
    assert incident.startswith("INC")
    with pytest.raises(SystemRefused):
        d.diagnose("11111111")


def test_dime_tickets(systems: Systems) -> None:
    t = systems.tickets
    ticket = t.open_ticket(TicketKind.ADJUSTMENT, "80123456", "Reversar PPV", key="k1")
    assert t.status(ticket).status == "open"
    with pytest.raises(SystemRefused):
        t.status("DIME-999999")
    with pytest.raises(SystemRefused):
        t.open_ticket(TicketKind.ADJUSTMENT, "80123456", "  ", key="k2")


def test_wfm_slots_and_bookings_including_no_slot(systems: Systems) -> None:
    w = systems.scheduling
    found = w.slots("80123456", VisitKind.LLS, T0, T0 + timedelta(days=3))
    assert [s.slot_id for s in found] == ["S1", "S2"]
    booking = w.book("80123456", "LLS-1", found[0], key="k1")
    assert booking is not None
    assert booking.slot == found[0]
    assert w.book("80123456", "LLS-2", found[0], key="k2") is None  # taken: "no slot"
    assert [s.slot_id for s in w.slots("80123456", VisitKind.LLS, T0, T0 + timedelta(days=3))] == [
        "S2"
    ]


PORT_CALLS: dict[str, tuple[str, Any]] = {
    "accounts": ("billing", lambda s: s.accounts.billing("80123456")),
    "diagnostics": ("diagnose", lambda s: s.diagnostics.diagnose("80123456")),
    "tickets": ("open_ticket",
                lambda s: s.tickets.open_ticket(TicketKind.PQR, "80123456", "queja",
                                                key=f"k{time.monotonic_ns()}")),
    "scheduling": ("slots",
                   lambda s: s.scheduling.slots("80123456", VisitKind.LLS, T0,
                                                T0 + timedelta(days=3))),
}  # fmt: skip


@pytest.mark.parametrize("port", list(PORT_CALLS))
@pytest.mark.parametrize("failure", ["5xx", "timeout"])
def test_every_port_reports_a_failing_system_as_unavailable_then_recovers(
    systems: Systems, port: str, failure: str
) -> None:
    operation, call = PORT_CALLS[port]
    if systems.kind == "memory":
        fake = getattr(systems.stub, port)
        fake.script.fail(operation, SystemUnavailable(port, operation, failure))
    elif failure == "5xx":
        systems.stub.faults.extend([("5xx", 503)] * 3)
    else:
        systems.stub.faults.extend([("slow", 1.5)] * 3)  # the client waits 1 s
    with pytest.raises(SystemUnavailable):
        call(systems)
    assert call(systems) is not None  # the next call goes through


def test_http_retries_a_5xx_and_a_timeout_then_succeeds() -> None:
    stub = Stub()
    stub.accounts.accounts["80123456"] = fresh_record()
    with serve(stub) as url:
        settings = HttpSettings(base_url=url, timeout_seconds=0.3, attempts=3, backoff_seconds=0)
        accounts = HttpAccounts(JsonClient("RR", settings, sleep=lambda _: None))
        stub.faults.extend([("5xx", 502), ("slow", 1.0)])
        started = time.monotonic()
        assert accounts.collections("80123456") == RECORD.collections
        assert time.monotonic() - started < 2.5
        assert len(stub.requests) == 3
        stub.faults.extend([("slow", 1.0)] * 3)
        with pytest.raises(SystemUnavailable, match=r"no answer within 0.3 s after 3 attempts"):
            accounts.collections("80123456")


def test_a_retried_write_is_applied_once() -> None:
    stub = Stub()
    stub.accounts.accounts["80123456"] = fresh_record()
    with serve(stub) as url:
        settings = HttpSettings(base_url=url, timeout_seconds=0.3, attempts=3, backoff_seconds=0)
        tickets = HttpTickets(JsonClient("DIME", settings, sleep=lambda _: None))
        stub.faults.append(("slow", 0.6))  # applied, but the answer comes too late
        ticket = tickets.open_ticket(
            TicketKind.INVENTORY_ERROR, "80123456", "Serial no coincide", key="k1"
        )
        assert len(stub.tickets.tickets) == 1
        assert ticket in stub.tickets.tickets
