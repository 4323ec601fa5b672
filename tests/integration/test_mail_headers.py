"""Issue: one bad header value used to stop all mail, for good. Values that end in a header
are refused at intake and in commands; a message that still cannot be built is recorded as
failed and the outbox goes on; mail goes only to plain addresses."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import attrs
import pytest

from adapters.clock import FixedClock
from adapters.intake.crm_export import CrmExportReader
from adapters.mail.files import FolderMailer
from adapters.mail.message import to_email
from application.intake.records import IntakeRecord
from application.jobs.mail import PermanentMailError
from application.service import Backoffice
from domain.case import decisions
from domain.case.events import MailFailed
from domain.errors import InvalidValue
from domain.values import INTAKE, Actor, EscalationTarget, Priority
from tests.conftest import close_case, record
from tests.integration.test_outbox_smtp import AGENT, outbox

HEADER = "caso;fecha_ingreso;cuenta;linea;cliente;tipificacion;recomendado_por"


def test_intake_refuses_line_breaks_and_address_lists_naming_the_field(tmp_path: Path) -> None:
    csv_file = tmp_path / "export.csv"
    csv_file.write_text(
        f"{HEADER}\r\n"
        '"CRM-1\r\nBcc: x@y.co";01/12/2026 08:00;801;hogar;Ana;Factura;\r\n'
        "CRM-2;01/12/2026 08:00;802;hogar;Ana;Factura;a@claro.co, b@claro.co\r\n"
        "CRM-3;01/12/2026 08:00;803;hogar;Ana;Factura;vp.clientes@claro.co\r\n",
        encoding="utf-8",
    )
    jsonl = tmp_path / "export.jsonl"
    row = {"caso": "CRM-4", "fecha_ingreso": "2026-12-01 08:00", "cuenta": "804",
           "linea": "hogar", "cliente": "Ana", "tipificacion": "Factura",
           "recomendado_por": "vp@claro.co\nBcc: x@y.co"}  # fmt: skip
    jsonl.write_text(json.dumps(row) + "\n", encoding="utf-8")
    items = [*CrmExportReader(csv_file).items(), *CrmExportReader(jsonl).items()]
    records = [i for i in items if isinstance(i, IntakeRecord)]
    assert [r.source.key for r in records] == ["CRM-1\r\nBcc: x@y.co", "CRM-2", "CRM-3", "CRM-4"]
    refused = []
    for item in records:
        try:
            decisions.ingest(
                source=item.source, received_at=item.received_at, account=item.account,
                line=item.line, customer_name=item.customer_name,
                typification=item.typification, request=item.request,
                follow_up_at=item.follow_up_at, front_agent=item.front_agent,
                recommended_by=item.recommended_by, actor=INTAKE, at=item.received_at,
            )  # fmt: skip
        except InvalidValue as error:
            refused.append((item.source.key[:5], error.field, "@" in str(error)))
    # Each refusal names its field and does not repeat the value (no "@" in the message).
    assert refused == [("CRM-1", "source key", False), ("CRM-2", "recommended_by", False),
                       ("CRM-4", "recommended_by", False)]  # fmt: skip


def test_the_import_rejects_such_rows_and_keeps_the_others(office: Backoffice) -> None:
    bad = record("K1\nX")
    report = office.ingest([bad, record("K2")])
    assert (report.created, report.rejected_count) == (1, 1)
    [rejected] = report.rejected
    assert rejected.field == "source key"


def test_an_agent_login_must_be_one_line() -> None:
    with pytest.raises(InvalidValue, match="agent: must be one line"):
        Actor.agent("ana\r\nBcc: x@y.co")


def test_a_message_that_cannot_be_built_is_a_permanent_failure(clock: FixedClock) -> None:
    from application.jobs.mail import OutgoingMail

    mail = OutgoingMail(
        message_id="<a.b@test.local>\r\nBcc: x@y.co", purpose="escalation",
        recipients=("a@claro.co",), subject="s", body="b\n",
        case_id=record("K1").source.case_id(), event_version=2,
        date=clock.now(), problem=None,
    )  # fmt: skip
    with pytest.raises(PermanentMailError, match="cannot be built"):
        to_email(mail, sender="bo@claro.co")


def test_a_stored_value_no_mail_can_carry_is_recorded_and_later_mail_still_goes(
    office: Backoffice, tmp_path: Path, clock: FixedClock
) -> None:
    """Given a case stored before these checks, recommended by a header-injecting value, and
    a later escalation of another case, when the outbox runs, then the summary is recorded
    as failed on its case and the escalation is sent."""
    poisoned = decisions.ingest(
        source=record("OLD").source, received_at=clock.now(), account="801", line=record(
            "OLD").line, customer_name="Ana", typification="Factura", request="",
        follow_up_at=None, front_agent=None, recommended_by="vp@claro.co", actor=INTAKE,
        at=clock.now(),
    )  # fmt: skip
    office.store.append([attrs.evolve(poisoned, recommended_by="vp@claro.co\r\nBcc: x@y.co")])
    close_case(office, "OLD")
    office.ingest([record("K2")])
    clock.advance(timedelta(minutes=1))
    office.escalate("K2", target=EscalationTarget.CONTACT_MATRIX_AREA, area="Facturación",
                    reason="Cobro", priority=Priority.HIGH, actor=AGENT)  # fmt: skip
    folder = tmp_path / "sent"
    report = outbox(office, tmp_path, FolderMailer(folder)).process()
    assert (report.sent, report.failed, report.stopped_by) == (1, 1, None)
    [failure] = [e for e in office.history("OLD") if isinstance(e, MailFailed)]
    assert failure.purpose == "recommended_summary"
    [sent] = list(folder.iterdir())
    assert "K2" in sent.read_text(encoding="utf-8")


def test_a_login_is_not_an_address() -> None:
    from adapters.mail.directory import ContactDirectory

    directory = ContactDirectory({}, ("sup@claro.co",), "almacontact.co")
    assert directory.agent_address("maria.b") == "maria.b@almacontact.co"
    assert directory.agent_address("x@evil.co") is None
    assert directory.agent_address("ana\r\nBcc: x@y.co") is None


def test_the_data_files_and_the_outbox_folder_are_the_owners_only(
    tmp_path: Path, clock: FixedClock
) -> None:
    """Issue: SQLite files and the outbox folder were created 0644 and 0755."""
    from entrypoints.bootstrap import bootstrap, build_outbox
    from entrypoints.settings import load_settings

    data = tmp_path / "fresh"
    matrix = Path(__file__).resolve().parents[2] / "examples" / "contact_matrix.toml"
    settings = load_settings(environ={}, data_dir=str(data), contact_matrix=str(matrix))
    with bootstrap(settings, clock=clock) as office:
        office.ingest([record("K1")])
        office.escalate("K1", target=EscalationTarget.CONTACT_MATRIX_AREA, area="Facturación",
                        reason="Cobro", priority=Priority.HIGH, actor=AGENT)  # fmt: skip
        box = build_outbox(office, settings)
        try:
            assert box.process().sent == 1
        finally:
            box.close()
    assert len(list((data / "outbox").iterdir())) == 1
    assert data.stat().st_mode & 0o777 == 0o700
    files = sorted(p for p in data.rglob("*") if p.is_file())
    assert {p.name for p in files} >= {"cases.sqlite", "case_index.sqlite", "indicators.sqlite",
                                       "outbox.sqlite"}  # fmt: skip
    assert {p.name: p.stat().st_mode & 0o077 for p in files} == {p.name: 0 for p in files}
    for folder in (p for p in data.rglob("*") if p.is_dir()):
        assert folder.stat().st_mode & 0o077 == 0, folder.name
