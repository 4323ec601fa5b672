"""`backoffice demo`: one simulated premium back-office week, end to end, on SQLite.

Monday 30 November to Friday 4 December 2026, Bogotá time. On Monday morning HR's roster
and the week's shift plan are imported; CRM exports arrive on Monday, Tuesday and Thursday,
two recommended e-mails on Tuesday; four agents work SAC, support, PQR and sales cases on a
simulated clock over in-memory RR/AC, Diagnosticador, DIME and WFM; the worker sweeps
follow-ups and deadlines and mails escalations, reminders and recommended-case summaries to
an SMTP server the demo runs in process. On Friday afternoon the survey answers, the quality
monitorings, the practice register and the week's attendance are imported through the same
functions as `backoffice import-…`, and the week closes with every indicator against its
goal, the mail sent and the commands to audit any case.

What the demo reads ships with the package (`entrypoints/demo_data`); what it writes lands
in a fresh folder that is kept.
"""

from __future__ import annotations

import io
import shutil
import socket
from collections import Counter
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from email import message_from_bytes, policy
from importlib import resources
from pathlib import Path
from typing import Any

import attrs
from rich.console import Console
from rich.table import Table

from adapters.clock import FixedClock, SystemClock
from adapters.intake.crm_export import CrmExportReader
from adapters.intake.mail import MailReader
from adapters.intake.surveys import MonitoringExportReader, SurveyExportReader
from adapters.intake.team import PracticeReader, RosterReader, ShiftReader
from adapters.mail.smtp import SmtpMailer, SmtpSettings
from adapters.systems.memory import (
    AccountRecord,
    InMemoryAccounts,
    InMemoryDiagnostics,
    InMemoryScheduling,
    InMemoryTickets,
)
from application.branches.handling import Desks
from application.branches.pqr import PqrDesk, SalesDesk
from application.branches.sac import SacDesk
from application.branches.support import SupportDesk
from application.case.outside import OutsideSystems
from application.indicators.report import IndicatorReport
from application.intake.records import IngestReport
from application.intake.surveys import import_monitorings, import_surveys
from application.ports.accounts import AccessRole
from application.ports.cases import CaseQuery, Clock
from application.ports.systems import (
    AccountServices,
    BillingStatus,
    Charge,
    ChargeKind,
    CollectionsStatus,
    Diagnosis,
    Equipment,
    MassOutage,
    Payment,
    PaymentStatus,
    Slot,
)
from application.service import Backoffice
from application.team.imports import import_practices, import_roster, import_shifts
from domain.calendar import BOGOTA
from domain.case.events import Ingested, MailFailed
from domain.indicators.facts import Dimension, Period
from domain.values import (
    Actor,
    CaseStatus,
    Category,
    Resolution,
    Subcategory,
    SupportRoute,
)
from entrypoints.bootstrap import bootstrap, build_outbox, contact_matrix
from entrypoints.indicator_tables import LEGEND, indicators_rows, traffic_light
from entrypoints.settings import Settings, SettingsError, load_settings
from entrypoints.worker import Worker, configure_logging

MONDAY = datetime(2026, 11, 30, tzinfo=BOGOTA)
MON, TUE, WED, THU, FRI = range(5)
EMAIL_TV = "email:20261128093012.4411@correo.claro.com.co"
EMAIL_ROAMING = "email:CAF3x9-2026-1129-0815@correo.claro.com.co"
AGENTS = ("maria.b", "juan.r", "sofia.t", "ana.p")
SUPERVISOR = "laura.s"
CRM_EXPORT = "crm_export_sample.csv"
MAIL = "mail"
MISSED_AFTER_HOURS = 4
INSTALL_DEMO = "pip install 'premium-backoffice[demo]'"

Action = Callable[[], object]


def at(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment of the demo's week (day 0 is Monday 30 November), Bogotá time, in UTC."""
    return (MONDAY + timedelta(days=day, hours=hour, minutes=minute)).astimezone(UTC)


WEEK = Period(at(MON, 0), at(FRI + 1, 0))


@attrs.frozen
class DemoData:
    """Where the demo reads its inputs: the package's copy of the project's examples (CRM
    export, recommended e-mails, contact matrix, markings, regulation, indicators) and the
    week's own files (two more CRM exports, roster, shifts, attendance, surveys, quality
    monitorings, practice register)."""

    folder: Path
    crm_export: Path
    mail: Path

    def __truediv__(self, name: str) -> Path:
        return self.folder / name


def demo_data(examples: Path | None = None) -> DemoData:
    """The packaged data; the CRM export and the e-mails come from `examples` when that
    folder has them (the project's `examples/`, of which the package keeps a copy)."""
    packaged = resources.files("entrypoints") / "demo_data"
    if not isinstance(packaged, Path) or not (packaged / CRM_EXPORT).is_file():
        raise FileNotFoundError(f"the demo's data are missing from the package ({packaged})")
    source = packaged
    if examples is not None and (examples / CRM_EXPORT).is_file() and (examples / MAIL).is_dir():
        source = examples
    return DemoData(packaged, source / CRM_EXPORT, source / MAIL)


class _Inbox:
    def __init__(self) -> None:
        self.received: list[tuple[list[str], str, str]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = message_from_bytes(envelope.content, policy=policy.default)
        purpose = str(message.get("X-Backoffice-Purpose", ""))
        self.received.append((list(envelope.rcpt_tos), purpose, str(message["Subject"])))
        return "250 OK"


class Week:
    """The week's script, one sitting at a time, on the simulated clock."""

    def __init__(self, office: Backoffice, clock: FixedClock, worker: Worker) -> None:
        self.office = office
        self.clock = clock
        self.worker = worker
        self.steps: list[tuple[str, str]] = []
        """(Bogotá day and time, what happened), in order."""

    def say(self, when: datetime, what: str) -> None:
        self.steps.append((f"{when.astimezone(BOGOTA):%a %H:%M}", what))

    def do(self, when: datetime, what: str, *actions: Action) -> None:
        """One sitting told in one line: its actions a minute apart from `when`."""
        for n, action in enumerate(actions):
            self.clock.set(when + timedelta(minutes=n))
            action()
        self.say(when, what)

    def tell(self, when: datetime, action: Callable[[], str]) -> None:
        """A step whose line says what it did (an import and its counts)."""
        self.clock.set(when)
        self.say(when, action())

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
        self.say(
            when,
            f"worker: follow-ups marked missed: {missed}; "
            f"deadlines breached: {swept.get('breached', 0)}; mails sent: {sent}",
        )


def demo_accounts(clock: Clock) -> tuple[InMemoryAccounts, InMemoryAccounts]:
    """RR (hogar) and AC (móvil) as the demo's customers find them during the week."""
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
    for account in ("80123456", "80777333", "80987654", "80321654", "80555111"):
        rr.accounts[account] = AccountRecord(no_debt, billing, paid, services)
    outlet = BillingStatus(
        Decimal("189900"),
        (),
        (Charge(ChargeKind.EXTRA_OUTLET, Decimal("12900"), date(2026, 11, 3), "Punto de TV"),),
        date(2026, 11, 25),
    )
    rr.accounts["80246810"] = AccountRecord(no_debt, outlet, paid, services)
    arrears = CollectionsStatus(True, True, Decimal("189900"), None, None)
    late = PaymentStatus(False, (date(2026, 11, 15),), ())
    rr.accounts["80135790"] = AccountRecord(arrears, outlet, late, services)
    premium = BillingStatus(
        Decimal("249900"),
        ("Descuento premium 20%",),
        (Charge(ChargeKind.PPV, Decimal("39900"), date(2026, 11, 1), "Canales premium"),),
        date(2026, 11, 25),
    )
    rr.accounts["80864200"] = AccountRecord(no_debt, premium, paid, services)
    suspended = CollectionsStatus(True, True, Decimal(0), None, None)
    mobile = AccountServices(("voz", "datos"), ())
    ac.accounts["3104567890"] = AccountRecord(suspended, billing, paid, mobile)
    ac.accounts["3209876543"] = AccountRecord(no_debt, billing, paid, mobile)
    pse = Payment(Decimal("89900"), date(2026, 11, 27), "PSE")
    posted_late = PaymentStatus(False, (date(2026, 11, 20),), (pse,))
    ac.accounts["3115552233"] = AccountRecord(no_debt, billing, posted_late, mobile)
    return rr, ac


NEXT_WEEK_SLOTS = (
    Slot(at(MON + 7, 8), at(MON + 7, 12), "WFM-SLOT-0802"),
    Slot(at(MON + 7, 14), at(MON + 7, 18), "WFM-SLOT-0803"),
    Slot(at(WED + 7, 8), at(WED + 7, 12), "WFM-SLOT-0804"),
)
"""The visits WFM offers after the week, in the served folder only: Monday 7 December,
morning and afternoon, and Wednesday 9 December's morning (Tuesday 8 is a holiday in
Colombia, the Inmaculada Concepción), all within the 5 days a support case's slots are looked
for from the folder's Friday (`SERVED_AT`), so a visit can be agreed and booked there."""


def simulated_systems(clock: Clock, *, served: bool = True) -> OutsideSystems:
    """RR/AC, Diagnosticador, DIME and WFM in memory, as the week's customers find them: the
    demo's, and `backoffice serve`'s in the demo's folder (`simulated_systems`). The served
    folder's WFM (`served`) also has the next week's slots (`NEXT_WEEK_SLOTS`): its clock
    stands on Friday, after the week's one slot; the week itself is run without them."""
    rr, ac = demo_accounts(clock)
    diagnostics = InMemoryDiagnostics()
    diagnostics.diagnoses["80987654"] = Diagnosis(False, None, True, ("T3 timeout",), None)
    outage = MassOutage("INC7731204", "alta", "Chapinero")
    diagnostics.diagnoses["80321654"] = Diagnosis(True, outage, False, (), "DVB")
    diagnostics.diagnoses["80555111"] = Diagnosis(True, None, True, (), "DVB")
    scheduling = InMemoryScheduling()
    scheduling.free.append(Slot(at(WED, 8), at(WED, 12), "WFM-SLOT-0801"))
    if served:
        scheduling.free.extend(NEXT_WEEK_SLOTS)
    return OutsideSystems(
        rr=rr, ac=ac, diagnostics=diagnostics, tickets=InMemoryTickets(clock=clock),
        scheduling=scheduling,
    )  # fmt: skip


def demo_desks(office: Backoffice, clock: FixedClock, settings: Settings) -> Desks:
    """The branches over the simulated systems, as in the week."""
    systems = simulated_systems(clock, served=False)
    matrix = contact_matrix(settings)
    return Desks(
        SacDesk(office, systems, matrix),
        SupportDesk(office, systems, matrix),
        PqrDesk(office, systems, matrix),
        SalesDesk(office, matrix),
    )


def _imported(report: IngestReport, what: str) -> str:
    """An import's line; the demo's own files must import whole."""
    if not report.ok:
        first = report.rejected[0]
        raise RuntimeError(f"the demo's {what} were rejected: {first.location}: {first.reason}")
    return f"{report.created} {what}"


class Script:
    """The agents' and the supervisor's actions on cases, as steps of a sitting."""

    def __init__(self, office: Backoffice, desks: Desks) -> None:
        self.o = office
        self.desks = desks

    def assign(self, case: str, agent: str) -> Action:
        return lambda: self.o.assign(case, agent=agent, actor=Actor.agent(SUPERVISOR))

    def call(self, case: str, who: str, outcome: str) -> Action:
        """The follow-up call that is due (on time, late or early: the clock says)."""
        return lambda: self.o.complete_follow_up(case, outcome=outcome, actor=Actor.agent(who))

    def interpret(self, case: str, who: str, category: Category, sub: Subcategory) -> Action:
        return lambda: self.o.interpret(
            case, category=category, subcategory=sub, actor=Actor.agent(who)
        )

    def check(self, case: str, who: str) -> Action:
        return lambda: self.desks.sac.check(case, actor=Actor.agent(who))

    def accepts(self, case: str, who: str, marking: str) -> Action:
        """The customer accepts: the marking registered in RR (AC for móvil)."""
        return lambda: self.desks.sac.customer_accepts(
            case, marking=marking, actor=Actor.agent(who)
        )

    def typify(self, case: str, who: str, marking: str) -> Action:
        return lambda: self.o.typify(
            case, marking_code=marking, resolution=Resolution.FIRST_CONTACT, actor=Actor.agent(who)
        )

    def follow_up(self, case: str, who: str, due: datetime) -> Action:
        return lambda: self.o.schedule_follow_up(case, due_at=due, actor=Actor.agent(who))

    def answered(self, case: str, who: str, answer: str, escalation: int = 1) -> Action:
        """The area's answer to the case's escalation, recorded by the agent."""
        return lambda: self.o.answer_escalation(
            case, escalation_id=escalation, answer=answer, actor=Actor.agent(who)
        )

    def protocol(self, case: str, who: str) -> Action:
        return lambda: self.o.complete_closing_protocol(
            case,
            resolution_explained=True,
            nothing_else_pending=True,
            closing_script_read=True,
            survey_invited=True,
            actor=Actor.agent(who),
        )

    def close(self, case: str, who: str, summary: str, *, first_contact: bool = False) -> Action:
        return lambda: self.o.close_case(
            case, summary=summary, first_contact=first_contact, actor=Actor.agent(who)
        )

    def solved_first_contact(
        self, case: str, who: str, sub: Subcategory, marking: str, summary: str
    ) -> tuple[Action, ...]:
        """A SAC case solved in the first contact: checked, accepted, protocol, closed."""
        return (
            self.interpret(case, who, Category.SAC, sub),
            self.check(case, who),
            self.accepts(case, who, marking),
            self.protocol(case, who),
            self.close(case, who, summary, first_contact=True),
        )


def run_week(
    office: Backoffice, clock: FixedClock, worker: Worker, data: DemoData, desks: Desks
) -> Week:
    week = Week(office, clock, worker)
    o, s = office, Script(office, desks)
    sac, support = Category.SAC, Category.SOPORTE

    # --- Monday: the team's week is planned; the weekend's cases are solved ------------------
    week.tell(
        at(MON, 6, 45),
        lambda: (
            "HR: "
            + _imported(import_roster(o, RosterReader(data / "roster.csv").items()), "people")
            + " on the roster, "
            + _imported(import_shifts(o, ShiftReader(data / "shifts.csv").items()), "shifts")
            + " planned for the week"
        ),
    )
    monday = CrmExportReader(data / "crm_export_2026-11-30.csv")
    week.tell(at(MON, 7), lambda: f"intake: CRM export, {o.ingest(monday.items()).created} cases")
    week.do(
        at(MON, 7, 10),
        f"{SUPERVISOR} assigns them to maria.b, ana.p and juan.r",
        s.assign("CRM-259950", "maria.b"),
        s.assign("CRM-259951", "ana.p"),
        s.assign("CRM-259952", "juan.r"),
    )
    week.work_the_worker(at(MON, 7, 30))
    week.do(
        at(MON, 9),
        "CRM-259950 maria.b: call on time; TV outlet charge found in RR, explained and "
        "accepted; closed in first contact",
        s.call("CRM-259950", "maria.b", "Cliente contactado"),
        *s.solved_first_contact(
            "CRM-259950", "maria.b", Subcategory.FACTURACION, "SAC-FAC-EXPL",
            "Cobro del punto adicional de TV explicado y aceptado",
        ),
    )  # fmt: skip
    week.do(
        at(MON, 10),
        "CRM-259951 ana.p: call on time; PSE payment located in AC; closed in first contact",
        s.call("CRM-259951", "ana.p", "Pago PSE ubicado"),
        *s.solved_first_contact(
            "CRM-259951", "ana.p", Subcategory.RECAUDO, "SAC-REC-APL",
            "Pago PSE del 27/11 aplicado",
        ),
    )  # fmt: skip
    week.do(
        at(MON, 11, 25),
        "CRM-259952 juan.r: call (late); October's invoice unpaid, explained; closed in "
        "first contact",
        s.call("CRM-259952", "juan.r", "Se explica la mora de octubre"),
        *s.solved_first_contact(
            "CRM-259952", "juan.r", Subcategory.CARTERA, "SAC-CAR-EXPL",
            "Suspensión por mora explicada; la cliente pagará hoy",
        ),
    )  # fmt: skip
    week.work_the_worker(at(MON, 18))

    # --- Tuesday: the sample export and two recommended e-mails --------------------------------
    tuesday(week, s, data)

    # --- Wednesday: juan.r is out; an outage, the areas' answers --------------------------------
    week.do(
        at(WED, 9),
        "recommended TV case maria.b: sector outage INC7731204 in the Diagnosticador, "
        "escalated to Gestión Soporte; follow-up tomorrow",
        s.interpret(EMAIL_TV, "maria.b", support, Subcategory.FALLA_MASIVA),
        lambda: desks.support.diagnose(EMAIL_TV, actor=Actor.agent("maria.b")),
        lambda: desks.support.resolve(
            EMAIL_TV, SupportRoute.SECTOR, actor=Actor.agent("maria.b"),
            reason="Sin señal de TV por falla masiva en Chapinero",
        ),
        s.follow_up(EMAIL_TV, "maria.b", at(THU, 9)),
    )  # fmt: skip
    week.work_the_worker(at(WED, 11))
    week.do(
        at(WED, 11, 30),
        "CRM-260006 the PQR area answers sofia.t's escalation",
        s.answered("CRM-260006", "sofia.t", "PQR en trámite; se responde dentro del plazo"),
    )
    week.do(
        at(WED, 12, 30),
        "recommended TV case: Gestión Soporte answers (notice closed, signal back)",
        s.answered(EMAIL_TV, "maria.b", "Aviso INC7731204 cerrado; señal restablecida"),
    )
    week.work_the_worker(at(WED, 14))
    week.do(
        at(WED, 14, 5),
        f"{SUPERVISOR} gives juan.r's open cases to maria.b (juan.r is out today)",
        s.assign("CRM-260002", "maria.b"),
        s.assign("CRM-260004", "maria.b"),
    )
    week.do(
        at(WED, 14, 20),
        "CRM-260002 maria.b: call (late); the technician replaced the modem this morning; closed",
        s.call("CRM-260002", "maria.b", "Visita realizada: módem reemplazado, servicio arriba"),
        s.typify("CRM-260002", "maria.b", "SOP-VIS"),
        s.protocol("CRM-260002", "maria.b"),
        s.close("CRM-260002", "maria.b", "Módem reemplazado en visita técnica"),
    )
    week.do(
        at(WED, 16),
        "CRM-260007 maria.b: call on time; Ventas is applying the upgrade",
        s.call("CRM-260007", "maria.b", "Ventas aplica la mejora de plan"),
    )
    week.work_the_worker(at(WED, 18))

    # --- Thursday: a customer calls again; the week's open cases are closed ----------------------
    thursday = CrmExportReader(data / "crm_export_2026-12-03.csv")
    week.tell(at(THU, 7), lambda: f"intake: CRM export, {o.ingest(thursday.items()).created} cases")
    week.do(
        at(THU, 7, 10),
        f"{SUPERVISOR} assigns them to ana.p and juan.r",
        s.assign("CRM-260101", "ana.p"),
        s.assign("CRM-260102", "juan.r"),
    )
    week.work_the_worker(at(THU, 7, 30))
    week.do(
        at(THU, 8, 30),
        "CRM-260004 maria.b: decoder fine, the customer's inner wiring is damaged: "
        "referred to the trusted technician; closed",
        s.interpret("CRM-260004", "maria.b", support, Subcategory.FALLA_PUNTUAL),
        lambda: desks.support.diagnose("CRM-260004", actor=Actor.agent("maria.b")),
        lambda: desks.support.resolve(
            "CRM-260004", SupportRoute.NOT_CLARO, actor=Actor.agent("maria.b"),
            reason="Cableado interno del cliente dañado en dos tomas",
        ),
        s.typify("CRM-260004", "maria.b", "SOP-TEC"),
        s.protocol("CRM-260004", "maria.b"),
        s.close("CRM-260004", "maria.b", "Remitido al técnico de confianza del cliente"),
    )  # fmt: skip
    week.do(
        at(THU, 9),
        "recommended TV case maria.b: call on time, the customer has TV again; closed",
        s.call(EMAIL_TV, "maria.b", "Cliente confirma señal de TV"),
        s.typify(EMAIL_TV, "maria.b", "SOP-MAS"),
        s.protocol(EMAIL_TV, "maria.b"),
        s.close(EMAIL_TV, "maria.b", "Falla masiva resuelta; cliente con servicio"),
    )
    week.do(
        at(THU, 9, 10),
        "CRM-260003 sofia.t: Cartera answers at last; line active, customer accepts; closed",
        s.answered("CRM-260003", "sofia.t", "Pago aplicado; línea reactivada"),
        s.accepts("CRM-260003", "sofia.t", "SAC-CAR-ESC"),
        s.protocol("CRM-260003", "sofia.t"),
        s.close("CRM-260003", "sofia.t", "Pago aplicado por Cartera; línea activa"),
    )
    week.do(
        at(THU, 10),
        "CRM-260101 ana.p: call on time; Monday's customer again, payment still not applied: "
        "escalated to Recaudo, follow-up tomorrow",
        s.call("CRM-260101", "ana.p", "El aviso de mora sigue llegando"),
        s.interpret("CRM-260101", "ana.p", sac, Subcategory.RECAUDO),
        s.check("CRM-260101", "ana.p"),
        lambda: desks.sac.escalate(
            "CRM-260101", actor=Actor.agent("ana.p"),
            reason="Pago PSE del 27/11 registrado; la cuenta sigue en mora",
        ),
        s.follow_up("CRM-260101", "ana.p", at(FRI, 10)),
    )  # fmt: skip
    week.do(
        at(THU, 10, 30),
        "CRM-260007 Ventas answers maria.b's escalation: the upgrade is applied",
        s.answered("CRM-260007", "maria.b", "Mejora a 900 megas aplicada"),
    )
    week.do(
        at(THU, 11),
        "CRM-260007 maria.b: call on time, the customer confirms the upgrade; closed",
        s.call("CRM-260007", "maria.b", "Cliente confirma la mejora"),
        s.typify("CRM-260007", "maria.b", "VEN-01"),
        s.protocol("CRM-260007", "maria.b"),
        s.close("CRM-260007", "maria.b", "Mejora a 900 megas y canales premium aplicada"),
    )
    week.do(
        at(THU, 14),
        "CRM-260102 juan.r: call on time; premium channels charge explained; closed in "
        "first contact",
        s.call("CRM-260102", "juan.r", "Cliente contactado"),
        *s.solved_first_contact(
            "CRM-260102", "juan.r", Subcategory.FACTURACION, "SAC-FAC-EXPL",
            "Cobro de canales premium explicado y aceptado",
        ),
    )  # fmt: skip
    week.do(
        at(THU, 15),
        "CRM-260006 sofia.t: call on time, the customer told where the PQR stands",
        s.call("CRM-260006", "sofia.t", "Se informa el estado de la PQR"),
    )
    week.do(
        at(THU, 16),
        "CRM-260101 Recaudo answers ana.p's escalation",
        s.answered("CRM-260101", "ana.p", "Pago aplicado y mora reversada"),
    )
    week.work_the_worker(at(THU, 18))

    # --- Friday: the last case of the week, then the week's numbers come in --------------------
    week.do(
        at(FRI, 10),
        "CRM-260101 ana.p: call on time; payment applied, customer accepts; closed",
        s.call("CRM-260101", "ana.p", "Cliente confirma que ya no está en mora"),
        s.accepts("CRM-260101", "ana.p", "SAC-REC-APL"),
        s.protocol("CRM-260101", "ana.p"),
        s.close("CRM-260101", "ana.p", "Pago aplicado por Recaudo"),
    )
    surveys = SurveyExportReader(data / "surveys.csv")
    week.tell(
        at(FRI, 15),
        lambda: "survey tool: " + _imported(import_surveys(o, surveys.items()), "answers"),
    )
    quality = MonitoringExportReader(data / "monitorings.csv")
    week.tell(
        at(FRI, 15, 5),
        lambda: "quality: " + _imported(import_monitorings(o, quality.items()), "call monitorings"),
    )
    register = PracticeReader(data / "practices.csv")
    week.tell(
        at(FRI, 15, 40),
        lambda: (
            "leaders' practice register: "
            + _imported(import_practices(o, register.items()), "entries")
        ),
    )
    attendance = ShiftReader(data / "attendance.csv")
    week.tell(
        at(FRI, 15, 45),
        lambda: (
            "HR: the week's attendance, "
            + _imported(import_shifts(o, attendance.items()), "absence")
            + " recorded"
        ),
    )
    # The week's last run of the worker at the moment the folder is served at, not after it:
    # nothing of the week (the worker's run, the demo accounts made next) is stamped later
    # than what the served folder calls now.
    week.work_the_worker(SERVED_AT)
    return week


def tuesday(week: Week, s: Script, data: DemoData) -> None:
    """The sample CRM export and the two recommended e-mails, worked through the day."""
    o, desks = s.o, s.desks
    sac = Category.SAC
    maria, juan, sofia = (Actor.agent(name) for name in AGENTS[:3])

    def crm_export() -> str:
        report = o.ingest(CrmExportReader(data.crm_export).items())
        return (
            f"intake: CRM export, {report.created} cases and {report.repeat_contacts} "
            "repeat contact on an open case"
        )

    week.tell(at(TUE, 7), crm_export)
    mails = MailReader(data.mail)
    week.tell(
        at(TUE, 7, 2),
        lambda: f"intake: recommended e-mails, {o.ingest(mails.items()).created} cases",
    )
    owners = {
        "CRM-260001": "maria.b",
        "CRM-260002": "juan.r",
        "CRM-260003": "sofia.t",
        "CRM-260004": "juan.r",
        "CRM-260006": "sofia.t",
        "CRM-260007": "maria.b",
        "CRM-260008": "juan.r",
        EMAIL_TV: "maria.b",
        EMAIL_ROAMING: "sofia.t",
    }
    week.do(
        at(TUE, 7, 15),
        f"{SUPERVISOR} assigns {len(owners)} cases to maria.b, juan.r, sofia.t",
        *(s.assign(case, agent) for case, agent in owners.items()),
    )
    week.work_the_worker(at(TUE, 7, 30))
    # SAC facturación: the customer accepts the explanation: solved in the first contact.
    week.do(
        at(TUE, 9),
        "CRM-260001 maria.b: call on time; PPV charge found in RR, explained and accepted; "
        "closed in first contact",
        s.call("CRM-260001", "maria.b", "Cliente contactado"),
        s.interpret("CRM-260001", "maria.b", sac, Subcategory.FACTURACION),
        lambda: o.add_note(
            "CRM-260001",
            text="Se explica el cobro PPV del evento alquilado el 20/11; el cliente lo reconoce.",
            actor=maria,
        ),
        s.check("CRM-260001", "maria.b"),
        s.accepts("CRM-260001", "maria.b", "SAC-FAC-EXPL"),
        s.protocol("CRM-260001", "maria.b"),
        s.close("CRM-260001", "maria.b", "Cobro explicado y aceptado", first_contact=True),
    )
    # The recommended TV case's 10:00 follow-up is not done: the sweep will catch it.
    # Support, single fault: a technical visit is booked and the customer followed up.
    week.do(
        at(TUE, 10, 30),
        "CRM-260002 juan.r: call on time; modem offline: LLS order, the slot the customer "
        "chose booked in WFM, follow-up after the visit",
        s.call("CRM-260002", "juan.r", "Se confirma falla física"),
        s.interpret("CRM-260002", "juan.r", Category.SOPORTE, Subcategory.FALLA_PUNTUAL),
        lambda: desks.support.diagnose("CRM-260002", actor=juan),
        lambda: desks.support.resolve(
            "CRM-260002", SupportRoute.PHYSICAL, actor=juan,
            reason="Módem sin sincronía; falla física", slot_id="WFM-SLOT-0801",
        ),
        s.follow_up("CRM-260002", "juan.r", at(WED, 14)),
    )  # fmt: skip
    week.work_the_worker(at(TUE, 11))
    # SAC cartera, called late: paid in full but still suspended: escalated.
    week.do(
        at(TUE, 13, 30),
        "CRM-260003 sofia.t: call (late); AC shows it paid in full, still suspended: "
        "escalated to Cartera, follow-up tomorrow",
        s.call("CRM-260003", "sofia.t", "Cliente confirma pago total"),
        s.interpret("CRM-260003", "sofia.t", sac, Subcategory.CARTERA),
        s.check("CRM-260003", "sofia.t"),
        lambda: desks.sac.escalate(
            "CRM-260003",
            reason="Pago total registrado el 26/11; la línea sigue suspendida por mora",
            actor=sofia,
        ),
        s.follow_up("CRM-260003", "sofia.t", at(WED, 10)),
    )
    # SAC recaudo: the payment is found and applied: first contact.
    week.do(
        at(TUE, 14),
        "CRM-260008 juan.r: call on time; the payment found in RR and applied; closed in "
        "first contact",
        s.call("CRM-260008", "juan.r", "Pago ubicado"),
        *s.solved_first_contact(
            "CRM-260008", "juan.r", Subcategory.RECAUDO, "SAC-REC-APL",
            "Pago del corresponsal aplicado",
        ),
    )  # fmt: skip
    # PQR: a complaint with its CUN, redirected to the responsible area.
    week.do(
        at(TUE, 15),
        "CRM-260006 sofia.t: complaint typified with its CUN, redirected to the PQR area",
        s.interpret("CRM-260006", "sofia.t", Category.PQR, Subcategory.QUEJA_RECLAMO),
        lambda: o.typify(
            "CRM-260006", marking_code="PQR-ROAM", resolution=Resolution.CUN,
            cun="4436-26-0004512", actor=sofia,
        ),
        lambda: desks.pqr.redirect(
            "CRM-260006", reason="Queja por roaming no solicitado", actor=sofia
        ),
    )  # fmt: skip
    # Sales, recommended by management: escalated to the sales area.
    week.do(
        at(TUE, 15, 30),
        "CRM-260007 maria.b: upgrade request escalated to Ventas, follow-up on Thursday",
        s.interpret("CRM-260007", "maria.b", Category.VENTAS, Subcategory.VENTA),
        lambda: desks.sales.escalate(
            "CRM-260007", reason="Mejora a 900 megas y canales premium",
            follow_up_at=at(THU, 11), actor=maria,
        ),
    )  # fmt: skip
    # The recommended roaming case is solved in the first call: its summary goes out.
    week.do(
        at(TUE, 16, 10),
        "recommended roaming case sofia.t: called a day early; the charge reversed; closed "
        "in first contact",
        s.call(EMAIL_ROAMING, "sofia.t", "Se revisa consumo en Quito"),
        s.interpret(EMAIL_ROAMING, "sofia.t", sac, Subcategory.FACTURACION),
        s.typify(EMAIL_ROAMING, "sofia.t", "SAC-FAC-AJU"),
        s.protocol(EMAIL_ROAMING, "sofia.t"),
        s.close(
            EMAIL_ROAMING, "sofia.t", "Roaming no activado: cargo reversado en la factura",
            first_contact=True,
        ),
    )  # fmt: skip
    week.work_the_worker(at(TUE, 18))


def _pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.1%}"


def _count(n: int, thing: str) -> str:
    return f"{n} {thing}" if n == 1 else f"{n} {thing}s"


def _missing_practices(by_owner: IndicatorReport) -> str:
    """The practices a leader held less often than due, e.g. `Confirmación de proceso
    (laura.s) 4 of 5`."""
    short = [
        f"{practice.spanish} ({owner}) {row.held} of {row.due}"
        for (owner, practice), row in by_owner.practices.items()
        if row.held < row.due
    ]
    return "; short: " + ", ".join(short) if short else ""


def closing_table(office: Backoffice, mail_delivered: int) -> tuple[Table, Table]:
    """The week's closing table (what the cases came to, then every indicator against its
    goal with its traffic light) and Efectividad by agent."""
    kinds = Counter(type(e.event).__name__ for e in office.store.read_log(0, 1_000_000))
    report = office.indicators(WEEK)
    goals = report.goals
    [row] = [r for r in indicators_rows(report) if r["group"] == "total"]
    closed = kinds["Closed"] + kinds["ClosedFirstContact"]
    week = Table(
        title=(
            "The week in numbers: Mon 30 Nov – Fri 4 Dec 2026, Bogotá"
            f" (indicators {report.definitions})"
        ),
        title_justify="left",
        caption=LEGEND,
        caption_justify="left",
    )
    for column in ("", "this week", "goal", "light"):
        week.add_column(column, justify="right" if column == "goal" else "left")
    week.add_row(
        "Cases received (CRM exports, recommended e-mails)",
        f"{kinds[Ingested.__name__]}, and"
        f" {_count(kinds['RepeatContactRecorded'], 'repeat contact')} on an open case",
    )
    week.add_row("Cases closed", f"{closed}, {kinds['ClosedFirstContact']} in the first contact")
    week.add_row("Cases still open", str(office.count(CaseQuery(status=CaseStatus.OPEN))))
    week.add_row(
        "Escalations to areas / technical visits",
        f"{kinds['Escalated']} / {kinds['VisitScheduled']}",
    )
    week.add_section()
    for name, value, goal, light in _indicator_rows(report, row, office):
        week.add_row(name, value, goal, traffic_light(light))
    week.add_section()
    week.add_row(
        "Mail delivered / not delivered", f"{mail_delivered} / {kinds[MailFailed.__name__]}"
    )
    agents = Table(title="Efectividad by agent", title_justify="left")
    for column in ("agent", "follow-ups on time", "light", "closed", "agent-days", "per day"):
        agents.add_column(column, justify="left" if column in ("agent", "light") else "right")
    for agent, e in report.efectividad.items():
        light = goals.seguimientos.light(None if e.compliance is None else 100 * e.compliance)
        per_day = "-" if e.closed_per_agent_day is None else f"{e.closed_per_agent_day:.2f}"
        agents.add_row(
            agent, _pct(e.compliance), traffic_light(light.value if light else None),
            str(e.closed), str(e.agent_days), per_day,
        )  # fmt: skip
    return week, agents


def _indicator_rows(
    report: IndicatorReport, row: dict[str, Any], office: Backoffice
) -> list[tuple[str, str, str, str | None]]:
    """(indicator, the week's value and its numbers, goal, light) of each indicator of
    docs/indicators.md, from the report's total row."""
    goals = report.goals
    closings = sum(e.closed for e in report.efectividad.values())
    agent_days = sum(e.agent_days for e in report.efectividad.values())
    nps, quality = report.nps.get("total"), report.quality.get("total")
    answers = (
        f"{nps.nps:+.1f} ({_count(nps.answers, 'answer')}: {_count(nps.promoters, 'promoter')},"
        f" {_count(nps.detractors, 'detractor')})"
        if nps is not None and nps.nps is not None
        else "-"
    )
    mec = (
        f"{quality.mec:.1f}% (monitorings {quality.emitted or 0:.1f},"
        f" customers' rating of the agent {quality.perceived or 0:.1f})"
        if quality is not None and quality.mec is not None
        else "-"
    )
    missing = _missing_practices(office.indicators(WEEK, Dimension.AGENT))
    return [
        (
            "Seguimientos: follow-ups done on time",
            f"{_pct(row['compliance'])} ({row['on_time']} of {row['follow_ups_due']} due;"
            f" {row['late']} late, {row['missed']} missed)",
            f"{goals.seguimientos.describe()}%",
            row["compliance_light"],
        ),
        (
            "FCR: solved in the first contact, not repeated",
            f"{_pct(row['fcr'])} ({row['first_contact'] - row['repeated']} of"
            f" {row['handled']} cases handled)",
            f"{goals.fcr.describe()}%",
            row["fcr_light"],
        ),
        (
            f"Reincidencia: customer back within {report.window.days} days",
            f"{_pct(row['reincidencia'])} ({row['repeated']} of {row['first_contact']}"
            " closed in the first contact)",
            f"{goals.reincidencia.describe()}%",
            row["reincidencia_light"],
        ),
        (
            "Efectividad: cases closed per agent-day",
            f"{closings / agent_days:.2f} ({closings} closings in {agent_days} agent-days;"
            " by agent below)"
            if agent_days
            else "-",
            "no goal",
            None,
        ),
        ("NPS (survey: would recommend us)", answers, goals.nps.describe(), row["nps_light"]),
        (
            "Calidad MEC: monitorings 40%, survey 60%",
            mec,
            f"{goals.calidad_mec.describe()}%",
            row["calidad_mec_light"],
        ),
        (
            "Ausentismo: agent-days absent",
            f"{_pct(row['ausentismo'])} ({row['absent_agent_days']} of"
            f" {row['scheduled_agent_days']} scheduled)",
            f"{goals.ausentismo.describe()}%",
            row["ausentismo_light"],
        ),
        (
            "Rotación: agents who left",
            f"{_pct(row['rotacion'])} ({row['agents_left']} of {row['active_agents']} agents)",
            f"{goals.rotacion.describe()}%",
            row["rotacion_light"],
        ),
        (
            "Management practices held",
            f"{_pct(row['practice_compliance'])} ({row['practices_held']} of"
            f" {row['practices_due']} due{missing})",
            f"{goals.practices.describe()}%",
            row["practice_compliance_light"],
        ),
    ]


def _summary(office: Backoffice, inbox: _Inbox, console: Console, folder: Path) -> None:
    for table in closing_table(office, len(inbox.received)):
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
        f"  backoffice --data-dir {folder} indicators --from 2026-11-30 --to 2026-12-04 --by team"
    )
    logins = ", ".join(f"{login} ({role.value})" for login, role, _ in DEMO_ACCOUNTS)
    open_by = office.count_by_agent(CaseQuery(status=CaseStatus.OPEN))
    still_open = ", ".join(f"{agent} {n}" for agent, n in sorted(open_by.items())) or "none"
    console.print(
        f"To open this week in the web console (docs/console.md), on this machine only:\n"
        f"  backoffice --data-dir {folder} serve\n"
        f"then open {CONSOLE_ADDRESS} and sign in as {logins}, password "
        f"{DEMO_PASSWORD!r} (demo accounts of this folder only); the HTTP API (docs/http.md) "
        f"is served beside it. In this folder the clock stands at "
        f"{SERVED_AT.astimezone(BOGOTA):%a %d %b %Y %H:%M}, Bogotá, inside the week's last "
        f"shifts (fixed_clock in its backoffice.toml); open cases by agent then: {still_open}."
    )


CONSOLE_ADDRESS = "http://127.0.0.1:8000/console/"
"""Where `backoffice serve` (its default host and port) shows the console."""


DEMO_PASSWORD = "semana-demo-2026"
"""The demo accounts' password: this folder's simulated week only, served on the loopback."""

DEMO_ACCOUNTS = (
    ("maria.b", AccessRole.AGENT, "María B."),
    ("juan.r", AccessRole.AGENT, "Juan R."),
    ("sofia.t", AccessRole.AGENT, "Sofía T."),
    ("ana.p", AccessRole.AGENT, "Ana P."),
    ("laura.s", AccessRole.SUPERVISOR, "Laura S."),
    ("carlos.m", AccessRole.COORDINATOR, "Carlos M."),
    ("auditor.demo", AccessRole.AUDITOR, "Auditoría (demo)"),
)
"""An account for each person on the week's roster (`demo_data/roster.csv`: the console names
people by their account's name), and an auditor."""

SERVED_AT = at(FRI, 15, 50)
"""The moment the demo's folder is served at (`fixed_clock` in its `backoffice.toml`): Friday,
after the week's last record (the attendance, 15:45) and inside the agents' shifts (until
16:00), so the console opens on a working day of the week, its open case and its team on
shift, whatever the day it is run. The worker's last run of the week is at this moment and
the demo accounts are created at it: nothing in the folder is later than its now."""


SERVED_FILES = ("contact_matrix.toml", "regulation.toml", "markings.toml", "indicators.toml")
"""The week's configuration, copied into its folder, where `serve` finds it by default."""


def _demo_accounts(office: Backoffice, settings: Settings, folder: Path, data: DemoData) -> None:
    """What serving the week needs: accounts to sign in with; the week's contact matrix,
    regulation, markings and indicators beside its data; and, in `backoffice.toml` (the
    demo's settings, not production ones), plain-HTTP cookies for the loopback, Claro's
    systems simulated as in the week and its clock standing at `SERVED_AT`."""
    from entrypoints.bootstrap import accounts as open_accounts

    # Nothing of the week is later than SERVED_AT, and run_demo sets the clock to it before
    # this: tests/integration/test_demo_served_folder.py checks both.
    for name in SERVED_FILES:
        shutil.copyfile(data / name, folder / name)
    (folder / "backoffice.toml").write_text(
        "# The demo's folder, served on the loopback over plain HTTP, with Claro's systems\n"
        "# simulated in memory as in the week (nothing reaches Claro), and its clock standing\n"
        "# at a moment of the week's Friday: every page, command and the worker take it as now.\n"
        "secure_cookies = false\nsimulated_systems = true\n"
        f"fixed_clock = {SERVED_AT.astimezone(BOGOTA).isoformat()}\n",
        encoding="utf-8",
    )
    demo = open_accounts(office, settings)
    try:
        for login, role, name in DEMO_ACCOUNTS:
            demo.add(login, role, name, DEMO_PASSWORD)
    finally:
        demo.close()


def _steps(steps: list[tuple[str, str]]) -> Table:
    """The week's steps, a blank line between days; a long step wraps under its text."""
    lines = Table.grid(padding=(0, 2), pad_edge=True)
    lines.add_column(no_wrap=True)
    lines.add_column()
    day = ""
    for when, what in steps:
        if day and when[:3] != day:
            lines.add_row("", "")
        day = when[:3]
        lines.add_row(when, what)
    return lines


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def run_demo(root: Path, examples: Path | None, console: Console) -> Path:
    """Simulate the week in a new folder under `root`, tell it on `console`, return the
    folder. `examples`: a folder with the CRM export and the e-mails to read instead of the
    package's copy (the project's `examples/`)."""
    try:
        from aiosmtpd.controller import Controller
    except ImportError:
        raise SettingsError(
            f"the demo's SMTP server needs aiosmtpd, which is not installed: {INSTALL_DEMO}"
        ) from None
    data = demo_data(examples)
    folder = root / SystemClock().now().strftime("week-%Y%m%d-%H%M%S-%f")
    settings = load_settings(
        environ={},
        data_dir=str(folder),
        contact_matrix=str(data / "contact_matrix.toml"),
        regulation=str(data / "regulation.toml"),
        markings=str(data / "markings.toml"),
        indicators=str(data / "indicators.toml"),
        follow_up_missed_after_hours=MISSED_AFTER_HOURS,
    )
    clock = FixedClock(at(MON, 6, 45))
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
                week = run_week(office, clock, worker, data, demo_desks(office, clock, settings))
            finally:
                outbox.close()
            (folder / "worker.log").write_text(log.getvalue(), encoding="utf-8")
            clock.set(SERVED_AT)  # the accounts are the served folder's: made at its now
            _demo_accounts(office, settings, folder, data)
            console.print(
                "Simulated week: Monday 30 Nov to Friday 4 Dec 2026, Bogotá time; in this demo "
                f"a follow-up is missed {MISSED_AFTER_HOURS} h after it was due."
            )
            console.print(_steps(week.steps), highlight=False)
            _summary(office, inbox, console, folder)
    finally:
        controller.stop()
    return folder
