"""Bounds on what intake and the commands take: found by a new integrator's trial.

A case received in the future, a follow-up before the case was received, a 9 MB request, a
10,000-character case id, an account `ABC;DROP` and a follow-up due in year 9999 were all
accepted. Each is refused now, naming the field (and, from a file, the row).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from adapters.clock import FixedClock
from adapters.intake.crm_export import CrmExportReader, build_crm_item
from adapters.intake.mail import read_message
from adapters.intake.parsing import CRM_FIELDS, CRM_MAX_LENGTHS, DateError, parse_datetime
from application.case.commands import (
    AnswerPqr,
    ScheduleFollowUp,
    ScheduleVisit,
    check_moments,
)
from application.dispatch import Dispatcher
from application.intake.calls import OpenCaseFromCall
from application.intake.records import IntakeRecord, RejectedRow
from application.service import Backoffice
from domain.case import decisions
from domain.case.decisions import RECEIVED_CLOCK_SKEW
from domain.errors import InvalidValue
from domain.values import (
    ACCOUNT_RULE,
    FIRST_YEAR,
    INTAKE,
    LAST_YEAR,
    Actor,
    Channel,
    LineOfBusiness,
    SourceKey,
    VisitKind,
    check_account,
    check_moment,
)
from entrypoints import bootstrap
from entrypoints.settings import load_settings

NOW = datetime(2026, 7, 15, 19, 0, tzinfo=UTC)
"""14:00 in Bogotá."""
AGENT = Actor.agent("maria.b")
HEADER = "crm_case_id;received_at;account;line;customer_name;typification;request;follow_up_at"


@pytest.fixture
def office(tmp_path: Path) -> Iterator[Backoffice]:
    settings = load_settings(environ={}, data_dir=str(tmp_path / "data"), database_url="memory")
    with bootstrap.bootstrap(settings, clock=FixedClock(NOW)) as office:
        yield office


def row(case_id: str = "CRM-1", **values: str) -> RejectedRow | IntakeRecord:
    """`build_crm_item` on a good row, with `values` changed (by field name)."""
    fields = {
        "received": "15/07/2026 08:00", "account": "80012345", "line": "hogar",
        "customer": "Ana Peña", "typification": "Facturación", "request": "Cobro no reconocido",
        "follow_up": "", "front_agent": "", "recommended_by": "", "cun": "", "filed": "",
        "phone": "",
    }  # fmt: skip
    fields.update(values)
    return build_crm_item("request", case_id, **fields)


def ingest(**changes: object) -> None:
    values: dict[str, object] = {
        "source": SourceKey(Channel.CRM, "CRM-1"),
        "received_at": NOW - timedelta(hours=1),
        "account": "80012345",
        "line": LineOfBusiness.HOGAR,
        "customer_name": "Ana Peña",
        "typification": "Facturación",
        "request": "",
        "follow_up_at": None,
        "front_agent": None,
        "recommended_by": None,
        "actor": INTAKE,
        "at": NOW,
    }
    values.update(changes)
    decisions.ingest(**values)  # type: ignore[arg-type]


def refused_field(error: pytest.ExceptionInfo[InvalidValue]) -> str:
    return error.value.field


# --- 1. a case cannot be received in the future -------------------------------------------


def test_a_case_received_after_now_beyond_the_clock_skew_is_refused() -> None:
    assert timedelta(minutes=5) == RECEIVED_CLOCK_SKEW
    ingest(received_at=NOW + RECEIVED_CLOCK_SKEW)  # another clock a little ahead: kept
    with pytest.raises(InvalidValue) as error:
        ingest(received_at=NOW + RECEIVED_CLOCK_SKEW + timedelta(seconds=1))
    assert refused_field(error) == "received_at"
    assert "future" in error.value.why
    with pytest.raises(InvalidValue) as error:
        ingest(received_at=datetime(2099, 1, 1, 5, tzinfo=UTC))
    assert refused_field(error) == "received_at"


def test_an_import_reports_the_row_and_field_of_a_case_received_in_the_future(
    office: Backoffice, tmp_path: Path
) -> None:
    export = tmp_path / "export.csv"
    export.write_text(
        "\n".join(
            [
                HEADER,
                "CRM-1;15/07/2026 08:00;80012345;hogar;Ana;Facturación;;",
                "CRM-2;01/01/2099;80012346;hogar;Luis;Facturación;;",
                "CRM-3;15/07/2026 17:00;80012347;hogar;Eva;Facturación;;",  # 3 h after now
                "CRM-4;15/07/2026 14:04;80012348;hogar;Juan;Facturación;;",  # within the skew
            ]
        ),
        "utf-8",
    )
    report = office.ingest(CrmExportReader(export).items())
    assert (report.read, report.created, report.rejected_count) == (4, 2, 2)
    assert [(r.location, r.field) for r in report.rejected] == [
        ("export.csv:3", "received_at"),
        ("export.csv:4", "received_at"),
    ]
    assert "Luis" not in str(report.rejected[0])  # no personal data in the report


def test_a_repeat_contact_received_in_the_future_is_refused_too(office: Backoffice) -> None:
    first = row("CRM-1")
    later = row("CRM-2", received="15/07/2026 18:00")
    assert isinstance(first, IntakeRecord)
    assert isinstance(later, IntakeRecord)
    report = office.ingest([first, later])  # same account and typification: a repeat
    assert (report.created, report.repeat_contacts) == (1, 0)
    assert [r.field for r in report.rejected] == ["received_at"]


def test_a_mailed_case_dated_in_the_future_is_taken_as_received_now(office: Backoffice) -> None:
    """Its `Date` is the sender's clock: a fast one must not lose the case (min(Date, now))."""
    message = (
        "Message-ID: <futuro@claro.com.co>\r\nDate: Fri, 01 Jan 2099 08:00:00 -0500\r\n"
        "From: gerencia@claro.com.co\r\nSubject: Caso\r\n\r\n"
        "Cuenta: 80012345\r\nLínea: hogar\r\nCliente: Ana\r\n"
    ).encode()
    item = read_message(message, "futuro.eml")
    assert isinstance(item, IntakeRecord)
    report = office.ingest([item])
    assert (report.created, report.rejected_count) == (1, 0)
    assert office.case(item.source.case_id()).received_at == NOW


# --- 2. a follow-up cannot precede the call -----------------------------------------------


def test_a_follow_up_on_a_day_before_the_case_was_received_is_refused() -> None:
    received = datetime(2026, 7, 15, 13, 0, tzinfo=UTC)  # 08:00 Bogotá
    with pytest.raises(InvalidValue) as error:
        ingest(received_at=received, follow_up_at=datetime(2000, 1, 1, 14, tzinfo=UTC))
    assert refused_field(error) == "follow_up_at"
    with pytest.raises(InvalidValue):  # 23:59 Bogotá the day before
        ingest(received_at=received, follow_up_at=datetime(2026, 7, 15, 4, 59, tzinfo=UTC))


def test_a_past_follow_up_not_before_the_call_is_kept_overdue_from_the_start(
    office: Backoffice,
) -> None:
    """A late hand-over: the day's follow-up is already past when the case arrives."""
    late = row("CRM-1", received="14/07/2026 08:00", follow_up="14/07/2026 10:00")
    # A bare date on the day of the call is 09:00 Bogotá, before a 11:30 call: still that day.
    same_day = row("CRM-2", received="15/07/2026 11:30", account="80099", follow_up="15/07/2026")
    assert isinstance(late, IntakeRecord)
    assert isinstance(same_day, IntakeRecord)
    report = office.ingest([late, same_day])
    assert (report.created, report.rejected_count) == (2, 0)
    case = office.case("CRM-1")
    [pending] = case.pending_follow_ups
    assert pending.due_at == datetime(2026, 7, 14, 15, 0, tzinfo=UTC) < NOW
    assert office.case("CRM-2").pending_follow_ups[0].due_at < same_day.received_at


def test_the_import_names_the_row_of_a_follow_up_before_the_call(
    office: Backoffice, tmp_path: Path
) -> None:
    export = tmp_path / "export.csv"
    export.write_text(
        f"{HEADER}\nCRM-1;15/07/2026 08:00;80012345;hogar;Ana;Facturación;;01/01/2000\n", "utf-8"
    )
    report = office.ingest(CrmExportReader(export).items())
    assert [(r.location, r.field) for r in report.rejected] == [("export.csv:2", "follow_up_at")]
    assert report.created == 0


# --- 3. every text field of a row has a cap -----------------------------------------------


def test_every_field_of_a_crm_row_has_a_cap() -> None:
    assert set(CRM_MAX_LENGTHS) == set(CRM_FIELDS)
    assert CRM_MAX_LENGTHS["request"] == decisions.NOTE_MAX_LENGTH == 20_000
    assert CRM_MAX_LENGTHS["customer_name"] == CRM_MAX_LENGTHS["typification"] == 200
    assert CRM_MAX_LENGTHS["crm_case_id"] == CRM_MAX_LENGTHS["front_agent"] == 64


@pytest.mark.parametrize(
    ("field", "argument", "filler"),
    [
        ("crm_case_id", "case_id", "C"),
        ("received_at", "received", " "),
        ("account", "account", "8"),
        ("line", "line", "h"),
        ("customer_name", "customer", "A"),
        ("typification", "typification", "T"),
        ("request", "request", "x"),
        ("follow_up_at", "follow_up", "1"),
        ("front_agent", "front_agent", "f"),
        ("recommended_by", "recommended_by", "r"),
        ("cun", "cun", "-"),
        ("filed_at", "filed", "2"),
        ("phone", "phone", "3"),
    ],
)
def test_a_value_over_its_cap_rejects_the_row_naming_the_field(
    field: str, argument: str, filler: str
) -> None:
    longest = CRM_MAX_LENGTHS[field]
    fields = {"received": "15/07/2026 08:00", "account": "80012345", "line": "hogar",
              "customer": "Ana", "typification": "Facturación", "request": "",
              "follow_up": "", "front_agent": "", "recommended_by": "", "cun": "123456",
              "filed": "", "phone": ""}  # fmt: skip
    case_id = "CRM-1"
    too_long = "1" + filler * longest  # starts with a digit: only its length is wrong
    if argument == "case_id":
        case_id = too_long
    else:
        fields[argument] = too_long
    rejected = build_crm_item("export.csv:2", case_id, **fields)
    assert isinstance(rejected, RejectedRow)
    assert (rejected.location, rejected.field) == ("export.csv:2", field)
    assert rejected.reason == f"is {longest + 1} characters long; at most {longest}"


def test_a_request_as_long_as_a_note_is_kept_and_a_nine_megabyte_one_is_not() -> None:
    kept = row(request="x" * 20_000, front_agent="f" * 64)
    assert isinstance(kept, IntakeRecord)
    assert len(kept.request) == 20_000
    refused = row(request="x" * 9_000_000)
    assert isinstance(refused, RejectedRow)
    assert refused.field == "request"
    refused = row("C" * 10_000)
    assert isinstance(refused, RejectedRow)
    assert refused.field == "crm_case_id"
    assert "C" * 65 not in refused.reason


def test_a_jsonl_line_is_held_to_the_same_caps(tmp_path: Path) -> None:
    export = tmp_path / "export.jsonl"
    export.write_text(
        '{"caso": "CRM-1", "fecha": "15/07/2026", "cuenta": "80012345", "linea": "hogar", '
        f'"cliente": "{"A" * 201}", "tipificacion": "T"}}\n',
        "utf-8",
    )
    [rejected] = CrmExportReader(export).items()
    assert isinstance(rejected, RejectedRow)
    assert (rejected.location, rejected.field) == ("export.jsonl:1", "customer_name")


# --- 4. one account rule, for CRM rows and e-mails ----------------------------------------


@pytest.mark.parametrize(
    "account", ["ABC;DROP", "80012345;DROP", "por confirmar", "pendiente", "8001 2345",
                "-80012345", "８００１２３４５"],
)  # fmt: skip
def test_an_account_that_is_not_an_account_number_is_refused_by_every_intake(
    account: str,
) -> None:
    with pytest.raises(InvalidValue) as error:
        check_account(account)
    assert (error.value.field, error.value.why) == ("account", ACCOUNT_RULE)
    crm = row(account=account)
    assert isinstance(crm, RejectedRow)
    assert (crm.field, crm.reason) == ("account", ACCOUNT_RULE)
    mail = read_message(_mail(account), "m.eml")
    assert isinstance(mail, RejectedRow)
    assert (mail.field, mail.reason) == ("account", f"'Cuenta:' {ACCOUNT_RULE}")
    assert account not in crm.reason + mail.reason


@pytest.mark.parametrize("account", ["80012345", "3104567890", "ACC-CRM-1", "8001.234-5", "8" * 30])
def test_an_account_number_is_taken_by_every_intake(account: str) -> None:
    assert check_account(f" {account} ") == account
    with pytest.raises(InvalidValue, match="at most 30 characters"):
        check_account(f"{account}{'8' * 30}")
    crm = row(account=account)
    mail = read_message(_mail(account), "m.eml")
    assert isinstance(crm, IntakeRecord)
    assert isinstance(mail, IntakeRecord)
    assert crm.account == mail.account == account


def test_a_csv_row_with_a_bad_account_is_reported_with_its_row(tmp_path: Path) -> None:
    export = tmp_path / "export.csv"
    export.write_text(f'{HEADER}\nCRM-1;15/07/2026;"ABC;DROP";hogar;Ana;T;;\n', "utf-8")
    [rejected] = CrmExportReader(export).items()
    assert isinstance(rejected, RejectedRow)
    assert (rejected.location, rejected.field) == ("export.csv:2", "account")


def _mail(account: str) -> bytes:
    return (
        "Message-ID: <m1@claro.com.co>\r\nDate: Wed, 15 Jul 2026 08:00:00 -0500\r\n"
        "From: gerencia@claro.com.co\r\nSubject: Caso\r\nContent-Type: text/plain; charset=utf-8"
        f"\r\n\r\nCuenta: {account}\r\nLínea: hogar\r\nCliente: Ana\r\n"
    ).encode()


# --- 5. the same years for every date a command takes --------------------------------------


def test_the_intake_and_the_commands_share_the_years() -> None:
    assert (FIRST_YEAR, LAST_YEAR) == (1900, 2199)
    with pytest.raises(DateError, match="out of range"):
        parse_datetime("31/12/2200")
    check_moment("due_at", datetime(2199, 12, 31, 23, tzinfo=UTC))
    for moment in (
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=14))),
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=-14))),  # overflows
        datetime(1, 1, 1, tzinfo=timezone(timedelta(hours=5))),
        datetime(1899, 12, 31, 23, tzinfo=UTC),
        datetime(2199, 12, 31, 23, tzinfo=timezone(timedelta(hours=-5))),  # 2200 in UTC
    ):
        with pytest.raises(InvalidValue) as error:
            check_moment("due_at", moment)
        assert error.value.field == "due_at"
        assert error.value.why == "is out of range (years 1900–2199)"


def test_every_date_time_of_a_command_is_checked_naming_its_field() -> None:
    case = uuid.uuid4()
    far = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=14)))
    fine = datetime(2026, 7, 20, 15, tzinfo=UTC)
    check_moments(ScheduleFollowUp(case=case, due_at=fine))
    visit = ScheduleVisit(
        case=case, kind=VisitKind.OT, slot_start=fine, slot_end=far, booking_reference="OT-1"
    )
    call = OpenCaseFromCall(
        account="80012345", line=LineOfBusiness.HOGAR, customer_name="Ana", typification="T",
        request="", received_at=fine, follow_up_at=far,
    )  # fmt: skip
    for command, field in (
        (ScheduleFollowUp(case=case, due_at=far), "due_at"),
        (AnswerPqr(case=case, notified_at=datetime(1800, 1, 1, tzinfo=UTC)), "notified_at"),
        (visit, "slot_end"),
        (call, "follow_up_at"),
        (AnswerPqr(case=case, notified_at=datetime(2026, 7, 20, 10)), "notified_at"),  # naive
    ):
        with pytest.raises(InvalidValue) as error:
            check_moments(command)
        assert error.value.field == field


def test_a_follow_up_due_in_year_9999_is_refused_at_both_doors(
    office: Backoffice, tmp_path: Path
) -> None:
    record = row("CRM-1")
    assert isinstance(record, IntakeRecord)
    office.ingest([record])
    case = office.case("CRM-1").case_id
    far = datetime(9999, 12, 31, 23, 59, 59, tzinfo=timezone(timedelta(hours=14)))
    settings = load_settings(environ={}, data_dir=str(tmp_path / "data"), database_url="memory")
    door: Dispatcher = bootstrap.dispatcher(office, settings)
    for handle in (door.handle, office.handle):  # the clients' door, the embedding API's
        with pytest.raises(InvalidValue) as error:
            handle(ScheduleFollowUp(case=case, due_at=far), AGENT)
        assert error.value.field == "due_at"
    assert office.case(case).pending_follow_ups == ()
    done = door.handle(ScheduleFollowUp(case=case, due_at=datetime(2199, 1, 1, tzinfo=UTC)), AGENT)
    assert done.case.pending_follow_ups[0].due_at.year == 2199


def test_the_account_rule_says_its_length() -> None:
    from domain.values import ACCOUNT_MAX_LENGTH

    assert f"at most {ACCOUNT_MAX_LENGTH} characters" in ACCOUNT_RULE
