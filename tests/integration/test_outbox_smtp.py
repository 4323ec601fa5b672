"""The outbox against a real SMTP server (aiosmtpd, in process, on 127.0.0.1)."""
# The login tests run AUTH without TLS on loopback; aiosmtpd warns about that.

from __future__ import annotations

import ssl
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import trustme
from aiosmtpd.smtp import AuthResult, LoginPassword

from adapters.clock import FixedClock
from adapters.mail.directory import ContactDirectory
from adapters.mail.smtp import SmtpMailer, SmtpSettings
from adapters.tracking import TrackedPosition
from application.jobs.mail import Delivery, OutgoingMail
from application.jobs.outbox import Outbox
from application.service import Backoffice
from domain.case.events import MailFailed
from domain.values import Actor, EscalationTarget, Priority
from entrypoints.bootstrap import bootstrap
from entrypoints.settings import load_settings
from tests.conftest import T0, close_case, record
from tests.serving import SmtpServer, free_port

AGENT = Actor.agent("maria.b")
DIRECTORY = ContactDirectory(
    {
        "Facturación": ("escalamientos.facturacion@claro.example.co",),
        "Cartera": ("cartera@claro.example.co", "rechazo@claro.example.co"),
        "Sin buzón": ("rechazo@claro.example.co",),
    },
    ("supervision@almacontact.example.co",),
    "almacontact.example.co",
)


def _authenticator(
    server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any
) -> AuthResult:
    ok = isinstance(auth_data, LoginPassword) and (auth_data.login, auth_data.password) == (
        b"backoffice",
        b"s3creta",
    )
    # handled=False on failure, or the client waits for ever (aiosmtpd's own rule)
    return AuthResult(success=ok, handled=ok)


@pytest.fixture
def server() -> Iterator[SmtpServer]:
    with SmtpServer(free_port(), authenticator=_authenticator) as running:
        yield running


@pytest.fixture
def office(tmp_path: Path, clock: FixedClock) -> Iterator[Backoffice]:
    settings = load_settings(environ={}, data_dir=str(tmp_path / "data"))
    with bootstrap(settings, clock=clock) as office:
        yield office


def outbox(office: Backoffice, tmp_path: Path, mailer: Any, **kwargs: Any) -> Outbox:
    (tmp_path / "data").mkdir(parents=True, exist_ok=True)
    tracker = TrackedPosition(
        load_settings(environ={}, data_dir=str(tmp_path / "data")).tracking_env("Outbox"),
        "Outbox",
    )
    return Outbox(
        office,
        mailer,
        DIRECTORY,
        tracker,
        sender="backoffice.premium@almacontact.example.co",
        domain="test.local",
        sleep=lambda _: None,
        **kwargs,
    )


def smtp(port: int, **changes: Any) -> SmtpMailer:
    values: dict[str, Any] = {"port": port, "timeout_seconds": 5.0}
    values.update(changes)
    return SmtpMailer(SmtpSettings(**values))


def escalate(office: Backoffice, key: str = "K1", area: str = "Facturación") -> None:
    office.ingest([record(key, account=f"80123{key}", customer_name="Ana Pérez")])
    office.escalate(
        key,
        target=EscalationTarget.CONTACT_MATRIX_AREA,
        area=area,
        reason="Cobro PPV no reconocido",
        priority=Priority.HIGH,
        actor=AGENT,
    )


def test_an_escalation_is_delivered_once_in_spanish_without_the_customers_name(
    office: Backoffice, server: SmtpServer, tmp_path: Path
) -> None:
    escalate(office)
    box = outbox(office, tmp_path, smtp(server.port))
    report = box.process()
    assert (report.sent, report.failed, report.stopped_by) == (1, 0, None)
    [(rcpt, message)] = server.inbox.messages
    case_id = office.resolve("K1")
    assert rcpt == ["escalamientos.facturacion@claro.example.co"]
    assert message["Message-ID"] == f"<escalation.{case_id}.2@test.local>"
    assert message["Subject"] == "[BackOffice Premium] Escalamiento Facturación: caso K1"
    body = message.get_content()
    assert "Prioridad: alta" in body
    assert "Cuenta: 80123K1" in body
    assert "Ana" not in body
    assert box.process().sent == 0  # its position moved past the event
    assert len(server.inbox.messages) == 1
    box.close()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_starttls_with_login(office: Backoffice, tmp_path: Path) -> None:
    ca = trustme.CA()
    server_context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(server_context)
    ca_file = tmp_path / "ca.pem"
    ca.cert_pem.write_to_path(str(ca_file))
    escalate(office)
    with SmtpServer(
        free_port(),
        tls_context=server_context,
        require_starttls=True,
        authenticator=_authenticator,
        auth_required=True,
    ) as tls_server:
        mailer = smtp(
            tls_server.port,
            security="starttls",
            username="backoffice",
            password="s3creta",
            ca_file=str(ca_file),
        )
        box = outbox(office, tmp_path, mailer)
        assert box.process().sent == 1
        assert len(tls_server.inbox.messages) == 1
        box.close()


@pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS")
def test_a_refused_login_is_retried_later_and_records_nothing_on_the_case(
    office: Backoffice, tmp_path: Path
) -> None:
    escalate(office)
    with SmtpServer(free_port(), authenticator=_authenticator, auth_required=True) as auth_server:
        wrong = smtp(auth_server.port, username="backoffice", password="mala")
        box = outbox(office, tmp_path, wrong)
        report = box.process()
        assert report.sent == 0
        assert report.stopped_by is not None
        assert "login refused" in report.stopped_by
        assert box.tracker.position() == 1  # past the intake, not past the escalation
        assert not any(isinstance(e, MailFailed) for e in office.history("K1"))
        box.close()
        right = smtp(auth_server.port, username="backoffice", password="s3creta")
        box = outbox(office, tmp_path, right)
        assert box.process().sent == 1
        assert len(auth_server.inbox.messages) == 1
        box.close()


def test_server_down_then_up_delivers_once_it_is_back(office: Backoffice, tmp_path: Path) -> None:
    escalate(office)
    port = free_port()  # nothing listens there yet
    box = outbox(office, tmp_path, smtp(port, timeout_seconds=2.0), attempts=2)
    report = box.process()
    assert report.sent == 0
    assert report.stopped_by is not None
    assert "unavailable" in report.stopped_by
    with SmtpServer(port) as back:
        assert box.process().sent == 1
        [(_, message)] = back.inbox.messages
        assert message["Message-ID"].startswith("<escalation.")
    box.close()


def test_a_crash_between_send_and_record_resends_the_same_message(
    office: Backoffice, server: SmtpServer, tmp_path: Path
) -> None:
    escalate(office)
    box = outbox(office, tmp_path, smtp(server.port))

    def crash(position: int) -> None:
        raise SystemExit("killed after sending, before recording")

    box.tracker.advance = crash  # type: ignore[method-assign]
    with pytest.raises(SystemExit):
        box.process()
    box.close()
    restarted = outbox(office, tmp_path, smtp(server.port))
    assert restarted.process().sent == 1
    first, second = (message for _, message in server.inbox.messages)
    assert first["Message-ID"] == second["Message-ID"]
    assert first["Date"] == second["Date"]
    assert first.get_content() == second.get_content()
    assert restarted.process().sent == 0
    restarted.close()


def test_permanent_refusals_are_recorded_on_the_case_and_the_outbox_moves_on(
    office: Backoffice, server: SmtpServer, tmp_path: Path
) -> None:
    escalate(office, "K1", area="Sin buzón")  # its only recipient is refused: permanent
    escalate(office, "K2", area="Cartera")  # one recipient of two refused
    escalate(office, "K3", area="Área desconocida")  # nobody to send it to
    box = outbox(office, tmp_path, smtp(server.port))
    report = box.process()
    assert (report.sent, report.failed, report.stopped_by) == (0, 3, None)
    failures = {
        key: [e for e in office.history(key) if isinstance(e, MailFailed)]
        for key in ("K1", "K2", "K3")
    }
    assert failures["K1"][0].recipients == ("rechazo@claro.example.co",)
    assert "every recipient refused" in failures["K1"][0].reason
    assert failures["K2"][0].recipients == ("rechazo@claro.example.co",)
    assert "550" in failures["K2"][0].reason
    assert failures["K3"][0].reason == "no recipients for area 'Área desconocida'"
    assert [rcpt for rcpt, _ in server.inbox.messages] == [["cartera@claro.example.co"]]
    assert box.process().failed == 0  # recorded once, not again
    box.close()


def test_reminders_and_recommended_summaries(
    office: Backoffice, server: SmtpServer, tmp_path: Path, clock: FixedClock
) -> None:
    office.ingest(
        [record("K1"), record("K2", follow_up_at=None, recommended_by="gerencia@claro.example.co")]
    )
    office.assign("K1", agent="maria.b", actor=AGENT)
    clock.set(T0 + timedelta(days=3))
    assert office.sweep().missed == 1

    close_case(office, "K2")
    box = outbox(office, tmp_path, smtp(server.port))
    assert box.process().sent == 2
    (to_agent, reminder), (to_recommender, summary) = server.inbox.messages
    assert to_agent == ["maria.b@almacontact.example.co"]
    assert reminder["Subject"] == "[BackOffice Premium] Seguimiento incumplido: caso K1"
    assert to_recommender == ["gerencia@claro.example.co"]
    assert "que usted nos recomendó quedó cerrado" in summary.get_content()
    box.close()


class _Recording:
    def __init__(self) -> None:
        self.sent: list[OutgoingMail] = []

    def send(self, mail: OutgoingMail, *, sender: str) -> Delivery:
        self.sent.append(mail)
        return Delivery()


def test_composing_is_deterministic(office: Backoffice, tmp_path: Path) -> None:
    escalate(office)
    first, second = _Recording(), _Recording()
    outbox(office, tmp_path / "a", first).process()
    outbox(office, tmp_path / "b", second).process()
    assert first.sent == second.sent
    assert len(first.sent) == 1
