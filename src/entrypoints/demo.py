"""`backoffice demo`: one simulated premium back-office day, end to end, on SQLite.

A CRM export and two recommended e-mails arrive at 07:00 (Bogotá) on Tuesday 1 December
2026; three agents work SAC, support, PQR and sales cases through the day on a simulated
clock; the worker sweeps follow-ups and mails escalations, reminders and a recommended-case
summary to an SMTP server the demo runs in process; the day ends with a summary and the
commands to audit any case. Everything lands in a fresh folder that is kept.
"""

from __future__ import annotations

import io
import socket
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import attrs
from aiosmtpd.controller import Controller
from rich.console import Console
from rich.table import Table

from adapters.clock import FixedClock, SystemClock
from adapters.intake.crm_export import CrmExportReader
from adapters.intake.mail import MailReader
from adapters.mail.smtp import SmtpMailer, SmtpSettings
from adapters.systems.memory import (
    AccountRecord,
    InMemoryAccounts,
    InMemoryDiagnostics,
    InMemoryScheduling,
    InMemoryTickets,
)
from application.outside import OutsideSystems
from application.ports import CaseQuery
from application.pqr import PqrDesk, SalesDesk
from application.sac import SacDesk
from application.service import Backoffice
from application.support import SupportDesk
from application.systems import (
    AccountServices,
    BillingStatus,
    Charge,
    ChargeKind,
    CollectionsStatus,
    Diagnosis,
    Equipment,
    Payment,
    PaymentStatus,
    Slot,
)
from domain.calendar import BOGOTA
from domain.events import Ingested, MailFailed
from domain.facts import Period
from domain.values import (
    Actor,
    CaseStatus,
    Category,
    Resolution,
    Subcategory,
    SupportRoute,
)
from entrypoints.bootstrap import bootstrap, build_outbox, contact_matrix
from entrypoints.settings import Settings, load_settings
from entrypoints.worker import Worker, configure_logging

DAY = datetime(2026, 12, 1, tzinfo=BOGOTA)
EMAIL_TV = "email:20261128093012.4411@correo.claro.com.co"
EMAIL_ROAMING = "email:CAF3x9-2026-1129-0815@correo.claro.com.co"
AGENTS = ("maria.b", "juan.r", "sofia.t")


def at(hour: int, minute: int = 0, days: int = 0) -> datetime:
    return (DAY + timedelta(days=days, hours=hour, minutes=minute)).astimezone(UTC)


class _Inbox:
    def __init__(self) -> None:
        self.received: list[tuple[list[str], str, str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        purpose = str(message.get("X-Backoffice-Purpose", ""))
        self.received.append((list(envelope.rcpt_tos), purpose, str(message["Subject"])))
        return "250 OK"


class Day:
    """The day's script, one step at a time, on the simulated clock."""

    def __init__(self, office: Backoffice, clock: FixedClock, worker: Worker) -> None:
        self.office = office
        self.clock = clock
        self.worker = worker
        self.steps: list[str] = []

    def step(
        self, when: datetime, what: str, action: Callable[[], object], *, show: bool = True
    ) -> None:
        self.clock.set(when)
        action()
        if show:
            self.steps.append(f"{when.astimezone(BOGOTA):%a %H:%M}  {what}")

    def work_the_worker(self, when: datetime) -> None:
        self.clock.set(when)
        self.worker.catch_up()
        swept = self.worker.sweep()
        missed = swept.get("missed", 0)
        sent = 0
        while True:
            fields = self.worker.send_outbox()
            sent += int(fields.get("sent") or 0)
            if fields.get("error") or fields.get("stopped_by") or not fields.get("events_read"):
                break
        self.steps.append(
            f"{when.astimezone(BOGOTA):%a %H:%M}  worker: follow-ups marked missed: {missed}; "
            f"deadlines breached: {swept.get('breached', 0)}; mails sent: {sent}"
        )


def demo_accounts(clock: FixedClock) -> tuple[InMemoryAccounts, InMemoryAccounts]:
    """RR (hogar) and AC (móvil) as the demo's customers find them on the day."""
    rr = InMemoryAccounts(system="RR", clock=clock)
    ac = InMemoryAccounts(system="AC", clock=clock)
    no_debt = CollectionsStatus(False, False, Decimal(0), None, None)
    billing = BillingStatus(
        Decimal("219900"),
        ("Descuento premium 20%",),
        (Charge(ChargeKind.PPV, Decimal("15900"), date(2026, 11, 20), "Evento PPV"),),
        date(2026, 11, 25),
    )
    payment = Payment(Decimal("219900"), date(2026, 11, 28), "corresponsal")
    paid = PaymentStatus(True, (date(2026, 12, 5),), (payment,))
    services = AccountServices(("internet", "tv"), (Equipment("cable_modem", "CM-88213"),))
    rr.accounts["80123456"] = AccountRecord(no_debt, billing, paid, services)
    rr.accounts["80777333"] = AccountRecord(no_debt, billing, paid, services)
    rr.accounts["80987654"] = AccountRecord(no_debt, billing, paid, services)
    suspended = CollectionsStatus(True, True, Decimal(0), None, None)
    mobile = AccountServices(("voz", "datos"), ())
    ac.accounts["3104567890"] = AccountRecord(suspended, billing, paid, mobile)
    ac.accounts["3209876543"] = AccountRecord(no_debt, billing, paid, mobile)
    return rr, ac


@attrs.frozen
class Desks:
    sac: SacDesk
    support: SupportDesk
    pqr: PqrDesk
    sales: SalesDesk


def demo_desks(office: Backoffice, clock: FixedClock, settings: Settings) -> Desks:
    """The branches over in-memory RR/AC, Diagnosticador, DIME and WFM, as on the day."""
    rr, ac = demo_accounts(clock)
    diagnostics = InMemoryDiagnostics()
    diagnostics.diagnoses["80987654"] = Diagnosis(False, None, True, ("T3 timeout",), None)
    scheduling = InMemoryScheduling()
    scheduling.free.append(Slot(at(8, days=1), at(12, days=1), "WFM-SLOT-0801"))
    systems = OutsideSystems(
        rr=rr, ac=ac, diagnostics=diagnostics, tickets=InMemoryTickets(clock=clock),
        scheduling=scheduling,
    )  # fmt: skip
    matrix = contact_matrix(settings)
    return Desks(
        SacDesk(office, systems, matrix),
        SupportDesk(office, systems, matrix),
        PqrDesk(office, systems, matrix),
        SalesDesk(office, matrix),
    )


def run_day(  # noqa: PLR0915 - the day reads top to bottom as one script
    office: Backoffice, clock: FixedClock, worker: Worker, examples: Path, desks: Desks
) -> Day:
    desk = desks.sac
    day = Day(office, clock, worker)
    o = office
    me = {name: Actor.agent(name) for name in AGENTS}
    maria, juan, sofia = (me[name] for name in AGENTS)

    def protocol(case: str, who: Actor) -> None:
        o.complete_closing_protocol(
            case,
            resolution_explained=True,
            nothing_else_pending=True,
            closing_script_read=True,
            survey_invited=True,
            actor=who,
        )

    day.step(
        at(7),
        "intake: CRM export",
        lambda: o.ingest(CrmExportReader(examples / "crm_export_sample.csv").items()),
    )
    day.step(
        at(7, 2),
        "intake: recommended e-mails",
        lambda: o.ingest(MailReader(examples / "mail").items()),
    )
    owners = {
        "CRM-260001": maria,
        "CRM-260002": juan,
        "CRM-260003": sofia,
        "CRM-260004": juan,
        "CRM-260006": sofia,
        "CRM-260007": maria,
        "CRM-260008": juan,
        EMAIL_TV: maria,
        EMAIL_ROAMING: sofia,
    }
    supervisor = Actor.agent("supervisor.lopez")

    def assign(case: str, who: Actor) -> Callable[[], object]:
        return lambda: o.assign(case, agent=who.name, actor=supervisor)

    for case, who in owners.items():
        day.step(at(7, 15), f"{case} assigned", assign(case, who), show=False)
    day.steps.append(f"Tue 07:15  {len(owners)} cases assigned to {', '.join(AGENTS)}")
    day.work_the_worker(at(7, 30))

    # SAC facturación: the customer accepts the explanation: solved in the first contact.
    day.step(
        at(9),
        "CRM-260001 follow-up call (on time)",
        lambda: o.complete_follow_up("CRM-260001", outcome="Cliente contactado", actor=maria),
    )
    day.step(
        at(9, 10),
        "CRM-260001 interpreted SAC/facturación",
        lambda: o.interpret(
            "CRM-260001", category=Category.SAC, subcategory=Subcategory.FACTURACION, actor=maria
        ),
    )
    day.step(
        at(9, 14),
        "CRM-260001 note",
        lambda: o.add_note(
            "CRM-260001",
            text="Se explica el cobro PPV del evento alquilado el 20/11; el cliente lo reconoce.",
            actor=maria,
        ),
    )
    day.step(
        at(9, 15),
        "CRM-260001 RR billing checked (PPV charge found)",
        lambda: desk.check("CRM-260001", actor=maria),
    )
    day.step(
        at(9, 16),
        "CRM-260001 customer accepts: marking in RR",
        lambda: desk.customer_accepts("CRM-260001", marking="SAC-FAC-EXPL", actor=maria),
    )
    day.step(at(9, 18), "CRM-260001 closing protocol", lambda: protocol("CRM-260001", maria))
    day.step(
        at(9, 20),
        "CRM-260001 closed in first contact",
        lambda: o.close_case(
            "CRM-260001", summary="Cobro explicado y aceptado", first_contact=True, actor=maria
        ),
    )

    # The recommended TV case's 10:00 follow-up is not done: the sweep will catch it.
    # Support, single fault: a technical visit is booked and the customer followed up.
    day.step(
        at(10, 30),
        "CRM-260002 follow-up call (on time)",
        lambda: o.complete_follow_up("CRM-260002", outcome="Se confirma falla física", actor=juan),
    )
    day.step(
        at(10, 40),
        "CRM-260002 interpreted soporte/falla puntual",
        lambda: o.interpret(
            "CRM-260002",
            category=Category.SOPORTE,
            subcategory=Subcategory.FALLA_PUNTUAL,
            actor=juan,
        ),
    )
    day.step(
        at(10, 45),
        "CRM-260002 diagnosed: modem offline",
        lambda: desks.support.diagnose("CRM-260002", actor=juan),
    )
    day.step(
        at(10, 50),
        "CRM-260002 route 3: LLS order, the slot the customer chose booked in WFM",
        lambda: desks.support.resolve(
            "CRM-260002",
            SupportRoute.PHYSICAL,
            actor=juan,
            reason="Módem sin sincronía; falla física",
            slot_id="WFM-SLOT-0801",
        ),
    )
    day.step(
        at(10, 55),
        "CRM-260002 follow-up after the visit",
        lambda: o.schedule_follow_up("CRM-260002", due_at=at(14, days=1), actor=juan),
    )
    day.work_the_worker(at(11))

    # SAC cartera, called late: paid in full but still suspended: escalated.
    day.step(
        at(13, 30),
        "CRM-260003 follow-up call (late)",
        lambda: o.complete_follow_up(
            "CRM-260003", outcome="Cliente confirma pago total", actor=sofia
        ),
    )
    day.step(
        at(13, 35),
        "CRM-260003 interpreted SAC/cartera",
        lambda: o.interpret(
            "CRM-260003", category=Category.SAC, subcategory=Subcategory.CARTERA, actor=sofia
        ),
    )
    day.step(
        at(13, 37),
        "CRM-260003 AC checked: paid in full, still suspended",
        lambda: desk.check("CRM-260003", actor=sofia),
    )
    day.step(
        at(13, 40),
        "CRM-260003 escalated to Cartera (contact matrix)",
        lambda: desk.escalate(
            "CRM-260003",
            reason="Pago total registrado el 26/11; la línea sigue suspendida por mora",
            actor=sofia,
        ),
    )
    day.step(
        at(13, 42),
        "CRM-260003 follow-up tomorrow",
        lambda: o.schedule_follow_up("CRM-260003", due_at=at(10, days=1), actor=sofia),
    )

    # SAC recaudo: the payment is found and applied: first contact.
    day.step(
        at(14),
        "CRM-260008 follow-up call (on time)",
        lambda: o.complete_follow_up("CRM-260008", outcome="Pago ubicado", actor=juan),
    )
    day.step(
        at(14, 8),
        "CRM-260008 interpreted SAC/recaudo",
        lambda: o.interpret(
            "CRM-260008", category=Category.SAC, subcategory=Subcategory.RECAUDO, actor=juan
        ),
    )
    day.step(
        at(14, 10), "CRM-260008 RR payments checked", lambda: desk.check("CRM-260008", actor=juan)
    )
    day.step(
        at(14, 12),
        "CRM-260008 customer accepts: marking in RR",
        lambda: desk.customer_accepts("CRM-260008", marking="SAC-REC-APL", actor=juan),
    )
    day.step(at(14, 14), "CRM-260008 closing protocol", lambda: protocol("CRM-260008", juan))
    day.step(
        at(14, 15),
        "CRM-260008 closed in first contact",
        lambda: o.close_case(
            "CRM-260008", summary="Pago del corresponsal aplicado", first_contact=True, actor=juan
        ),
    )

    # PQR: a complaint with its CUN, redirected to the responsible area.
    day.step(
        at(15),
        "CRM-260006 interpreted PQR/queja",
        lambda: o.interpret(
            "CRM-260006", category=Category.PQR, subcategory=Subcategory.QUEJA_RECLAMO, actor=sofia
        ),
    )
    day.step(
        at(15, 5),
        "CRM-260006 typified with CUN",
        lambda: o.typify(
            "CRM-260006",
            marking_code="PQR-ROAM",
            resolution=Resolution.CUN,
            cun="4436-26-0004512",
            actor=sofia,
        ),
    )
    day.step(
        at(15, 10),
        "CRM-260006 branch A: redirected to PQR",
        lambda: desks.pqr.redirect(
            "CRM-260006", reason="Queja por roaming no solicitado", actor=sofia
        ),
    )

    # Sales, recommended by management: escalated to the sales area.
    day.step(
        at(15, 30),
        "CRM-260007 interpreted ventas",
        lambda: o.interpret(
            "CRM-260007", category=Category.VENTAS, subcategory=Subcategory.VENTA, actor=maria
        ),
    )
    day.step(
        at(15, 35),
        "CRM-260007 escalated to Ventas, follow-up",
        lambda: desks.sales.escalate(
            "CRM-260007",
            reason="Mejora a 900 megas y canales premium",
            follow_up_at=at(11, days=2),
            actor=maria,
        ),
    )

    # The recommended roaming case is solved in the first call: its summary goes out.
    day.step(
        at(16, 10),
        "roaming e-mail case: call done early",
        lambda: o.complete_follow_up(
            EMAIL_ROAMING, outcome="Se revisa consumo en Quito", actor=sofia
        ),
    )
    day.step(
        at(16, 12),
        "roaming e-mail case interpreted SAC/facturación",
        lambda: o.interpret(
            EMAIL_ROAMING, category=Category.SAC, subcategory=Subcategory.FACTURACION, actor=sofia
        ),
    )
    day.step(
        at(16, 15),
        "roaming e-mail case typified, first contact",
        lambda: o.typify(
            EMAIL_ROAMING,
            marking_code="SAC-FAC-AJU",
            resolution=Resolution.FIRST_CONTACT,
            actor=sofia,
        ),
    )
    day.step(
        at(16, 16), "roaming e-mail case closing protocol", lambda: protocol(EMAIL_ROAMING, sofia)
    )
    day.step(
        at(16, 18),
        "roaming e-mail case closed in first contact",
        lambda: o.close_case(
            EMAIL_ROAMING,
            summary="Roaming no activado: cargo reversado en la factura",
            first_contact=True,
            actor=sofia,
        ),
    )
    day.work_the_worker(at(18))
    # The next afternoon: Cartera has not answered its urgent escalation within 24 hours.
    day.work_the_worker(at(14, days=1))
    return day


def _summary(office: Backoffice, inbox: _Inbox, console: Console, folder: Path) -> None:
    events = [e.event for e in office.store.read_log(0, 100_000)]
    kinds = Counter(type(e).__name__ for e in events)
    day = Period(at(0), at(0, days=1))
    indicators = office.indicators(day)
    follow_ups = indicators.seguimientos.get("total")
    fcr = indicators.fcr.get("total")
    table = Table(
        title=f"The day in numbers (indicators {indicators.definitions})",
        title_justify="left",
        show_header=False,
    )
    table.add_column("measure", style="bold")
    table.add_column("value", justify="right")
    open_cases = office.count(CaseQuery(status=CaseStatus.OPEN))
    rows = [
        ("cases received (CRM + e-mail)", str(kinds[Ingested.__name__])),
        ("repeat contacts folded into open cases", str(kinds["RepeatContactRecorded"])),
        (
            "follow-ups due today: on time / late / missed",
            f"{follow_ups.on_time} / {follow_ups.late} / {follow_ups.missed}"
            if follow_ups
            else "-",
        ),
        (
            "follow-up compliance (on time ÷ due)",
            f"{follow_ups.compliance:.0%}"
            if follow_ups and follow_ups.compliance is not None
            else "-",
        ),
        (
            "cases closed / in first contact (SPC)",
            f"{kinds['Closed'] + kinds['ClosedFirstContact']} / {kinds['ClosedFirstContact']}",
        ),
        (
            "FCR (SPC without repeat ÷ cases handled)",
            f"{fcr.fcr:.0%} ({fcr.first_contact - fcr.repeated} of {fcr.handled})"
            if fcr and fcr.fcr is not None
            else "-",
        ),
        ("cases still open (with their next follow-up)", str(open_cases)),
        ("escalations / technical visits", f"{kinds['Escalated']} / {kinds['VisitScheduled']}"),
        ("mail delivered to the SMTP server", str(len(inbox.received))),
        ("mail that could not be delivered", str(kinds[MailFailed.__name__])),
        ("events in the store", str(len(events))),
    ]
    for name, value in rows:
        table.add_row(name, value)
    console.print(table)
    mail = Table(title="Mail sent", title_justify="left")
    for column in ("to", "purpose", "subject"):
        mail.add_column(column)
    for recipients, purpose, subject in inbox.received:
        mail.add_row(", ".join(recipients), purpose, subject)
    console.print(mail)
    console.print(
        f"Data kept in {folder}. To audit a case as it was at any moment:\n"
        f"  backoffice --data-dir {folder} case history CRM-260003\n"
        f"  backoffice --data-dir {folder} case show CRM-260003 --as-of '2026-12-01 13:00'\n"
        f"  backoffice --data-dir {folder} cases --status open\n"
        f"  backoffice --data-dir {folder} indicators --from 2026-12-01 --to 2026-12-01 --by agent"
    )


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def run_demo(root: Path, examples: Path, console: Console) -> Path:
    for needed in (examples / "crm_export_sample.csv", examples / "mail"):
        if not needed.exists():
            raise FileNotFoundError(f"the demo needs {needed} (run it from the project folder)")
    folder = root / SystemClock().now().strftime("day-%Y%m%d-%H%M%S-%f")
    settings = load_settings(
        environ={},
        data_dir=str(folder),
        contact_matrix=str(examples / "contact_matrix.toml"),
        regulation=str(examples / "regulation.toml"),
        markings=str(examples / "markings.toml"),
        follow_up_missed_after_hours=4,
    )
    clock = FixedClock(at(7))
    inbox = _Inbox()
    port = _free_port()
    controller = Controller(inbox, hostname="127.0.0.1", port=port)
    controller.start()
    log = io.StringIO()
    try:
        with bootstrap(settings, clock=clock) as office:
            outbox = build_outbox(
                office, settings, mailer=SmtpMailer(SmtpSettings(port=port, timeout_seconds=10))
            )
            configure_logging(log)
            try:
                worker = Worker(office, outbox, name="demo-worker")
                day = run_day(office, clock, worker, examples, demo_desks(office, clock, settings))
            finally:
                outbox.close()
            (folder / "worker.log").write_text(log.getvalue(), encoding="utf-8")
            console.print(
                "Simulated day: Tuesday 1 Dec 2026, Bogotá time; in this demo a follow-up "
                "is missed 4 h after it was due."
            )
            for line in day.steps:
                console.print(f"  {line}", highlight=False)
            _summary(office, inbox, console, folder)
    finally:
        controller.stop()
    return folder
