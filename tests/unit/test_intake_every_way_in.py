"""The intake's rules of a new case hold for every way in, in the domain (`decisions.ingest`):
a case opened from a call skipped the account rule, and only a CRM row's request was bounded.
An e-mail is never lost for what its sender wrote: a request over the cap is cut, saying so,
and a `Date` ahead of our clock is taken as now."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from adapters.clock import FixedClock
from adapters.intake.mail import CUT_MARK, read_message
from application.case.commands import CommandResult
from application.intake import calls
from application.intake.records import IntakeRecord
from application.service import Backoffice
from domain.case import decisions
from domain.case.decisions import REQUEST_MAX_LENGTH
from domain.case.events import Ingested, RepeatContactRecorded
from domain.errors import InvalidValue
from domain.values import (
    ACCOUNT_MAX_LENGTH,
    ACCOUNT_RULE,
    INTAKE,
    Actor,
    Channel,
    LineOfBusiness,
    SourceKey,
)
from entrypoints import bootstrap
from entrypoints.settings import load_settings

NOW = datetime(2026, 7, 15, 19, 0, tzinfo=UTC)
"""14:00 in Bogotá."""
AGENT = Actor.agent("maria.b")


@pytest.fixture
def office(tmp_path: Path) -> Iterator[Backoffice]:
    settings = load_settings(environ={}, data_dir=str(tmp_path / "data"), database_url="memory")
    with bootstrap.bootstrap(settings, clock=FixedClock(NOW)) as office:
        yield office


def call(office: Backoffice, *, account: str = "80012345", request: str = "Cobro") -> CommandResult:
    return calls.open_from_call(
        office, account=account, line=LineOfBusiness.HOGAR, customer_name="Ana Peña",
        typification="Facturación", request=request, received_at=NOW - timedelta(minutes=3),
        follow_up_at=None, recommended_by=None, actor=AGENT,
    )  # fmt: skip


def ingest(**changes: object) -> Ingested:
    values: dict[str, object] = {
        "source": SourceKey(Channel.CRM, "CRM-1"), "received_at": NOW - timedelta(hours=1),
        "account": "80012345", "line": LineOfBusiness.HOGAR, "customer_name": "Ana Peña",
        "typification": "Facturación", "request": "", "follow_up_at": None,
        "front_agent": None, "recommended_by": None, "actor": INTAKE, "at": NOW,
    }  # fmt: skip
    values.update(changes)
    return decisions.ingest(**values)  # type: ignore[arg-type]


def mail(body: str, *, date: str = "Wed, 15 Jul 2026 08:00:00 -0500", key: str = "m1") -> bytes:
    return (
        f"Message-ID: <{key}@claro.com.co>\r\nDate: {date}\r\n"
        "From: gerencia@claro.com.co\r\nSubject: Caso\r\nContent-Type: text/plain; charset=utf-8"
        f"\r\n\r\nCuenta: 80012345\r\nLínea: hogar\r\nCliente: Ana\r\n{body}"
    ).encode()


# --- the account rule and the request's cap, in the domain ---------------------------------


@pytest.mark.parametrize("account", ["OLD", "ACC-X", "por confirmar", "8" * 31, "8001\x1b2"])
def test_the_domain_refuses_what_is_not_an_account_number(account: str) -> None:
    assert ACCOUNT_MAX_LENGTH == 30  # one cap: the domain's was 40
    with pytest.raises(InvalidValue) as error:
        ingest(account=account)
    assert (error.value.field, error.value.why) == ("account", ACCOUNT_RULE)
    assert ingest(account=" 8" + "0" * 29 + " ").account == "8" + "0" * 29  # 30: kept


def test_the_domain_holds_every_request_to_a_notes_length() -> None:
    assert ingest(request=" " + "x" * REQUEST_MAX_LENGTH + "\n").request == "x" * 20_000
    assert ingest(request="a\r\n" * 6_667).request.count("\n") == 6_666  # counted as kept
    with pytest.raises(InvalidValue) as error:
        ingest(request="x" * (REQUEST_MAX_LENGTH + 1))
    assert (error.value.field, error.value.why) == (
        "request",
        "is 20001 characters long; at most 20000",
    )


@pytest.mark.parametrize("account", ["OLD", "ACC-X", "8" * 31])
def test_a_call_with_an_account_that_is_not_one_opens_no_case(
    office: Backoffice, account: str
) -> None:
    with pytest.raises(InvalidValue) as error:
        call(office, account=account)
    assert (error.value.field, error.value.why) == ("account", ACCOUNT_RULE)
    assert office.store.last_position() == 0


def test_a_calls_request_is_held_to_the_cap_as_a_crm_rows(office: Backoffice) -> None:
    with pytest.raises(InvalidValue) as error:
        call(office, request="x" * (REQUEST_MAX_LENGTH + 1))
    assert error.value.field == "request"
    assert office.store.last_position() == 0
    opened = call(office, request="x" * REQUEST_MAX_LENGTH)
    assert len(opened.case.request) == REQUEST_MAX_LENGTH
    with pytest.raises(InvalidValue) as error:  # a new request raised during the call too
        calls.raise_new_request(
            office, opened.case.case_id, typification="Traslado",
            request="y" * (REQUEST_MAX_LENGTH + 1), follow_up_at=None, actor=AGENT,
        )  # fmt: skip
    assert error.value.field == "request"


# --- an e-mail is never lost for its length nor its sender's clock --------------------------


def test_a_mail_longer_than_the_cap_is_cut_saying_so_and_its_case_opened(
    office: Backoffice,
) -> None:
    thread = "".join(f"> línea {n} del hilo citado\n" for n in range(3_000))
    item = read_message(mail(thread), "largo.eml")
    assert isinstance(item, IntakeRecord)
    whole = f"Caso\n\nCuenta: 80012345\nLínea: hogar\nCliente: Ana\n{thread}".strip()
    assert len(whole) > REQUEST_MAX_LENGTH
    assert len(item.request) <= REQUEST_MAX_LENGTH
    found = re.fullmatch(r"(.*)\n\n\[…\] \(texto recortado: (\d+) caracteres más\)", item.request,
                         re.S)  # fmt: skip
    assert found is not None
    kept, cut = found.group(1), int(found.group(2))
    assert whole.startswith(kept)
    assert len(kept) + cut == len(whole)  # the count is what was left out
    assert len(item.request) > REQUEST_MAX_LENGTH - 60  # all but the mark's room is kept
    assert CUT_MARK.format(cut=cut) in item.request
    report = office.ingest([item])
    assert (report.created, report.rejected_count) == (1, 0)
    case = office.case(SourceKey(Channel.EMAIL, "m1@claro.com.co").case_id())
    assert case.request == item.request
    short = read_message(mail("Una línea."), "corto.eml")
    assert isinstance(short, IntakeRecord)
    assert "recortado" not in short.request  # within the cap: as written


def test_a_mail_dated_ahead_of_our_clock_is_received_now_and_a_crm_row_is_not(
    office: Backoffice,
) -> None:
    ahead = read_message(mail("", date="Wed, 15 Jul 2026 15:00:00 -0500"), "adelantado.eml")
    assert isinstance(ahead, IntakeRecord)
    assert ahead.received_at == NOW + timedelta(hours=1)  # as its Date says
    behind = read_message(
        mail("Tipificación: Traslado", date="Wed, 15 Jul 2026 13:58:00 -0500", key="m2"),
        "a-tiempo.eml",
    )
    assert isinstance(behind, IntakeRecord)
    report = office.ingest([ahead, behind])
    assert (report.created, report.rejected_count) == (2, 0)
    assert office.case(ahead.source.case_id()).received_at == NOW  # min(Date, now)
    assert office.case(behind.source.case_id()).received_at == behind.received_at
    with pytest.raises(InvalidValue, match="future"):  # a CRM row's is still refused
        ingest(received_at=NOW + timedelta(hours=1))


def test_a_repeat_mail_dated_ahead_is_recorded_as_received_now(office: Backoffice) -> None:
    first = read_message(mail(""), "primero.eml")
    again = read_message(mail("", date="Fri, 01 Jan 2100 08:00:00 -0500", key="m3"), "otra.eml")
    assert isinstance(first, IntakeRecord)
    assert isinstance(again, IntakeRecord)
    report = office.ingest([first, again])  # same account and typification: a repeat
    assert (report.created, report.repeat_contacts, report.rejected_count) == (1, 1, 0)
    [repeat] = [e for e in office.history(first.source.case_id())
                if isinstance(e, RepeatContactRecorded)]  # fmt: skip
    assert repeat.received_at == NOW
