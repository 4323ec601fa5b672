"""Cases an agent opens from a call (docs/procedure.md §2, §8), through the intake's rules."""

from __future__ import annotations

from datetime import timedelta

import pytest

from adapters.clock import FixedClock
from application.intake.calls import open_from_call, raise_new_request
from application.service import Backoffice
from domain.case.events import Ingested, NewRequestRaised, RepeatContactRecorded
from domain.errors import CaseClosed, InvalidValue
from domain.values import Actor, Channel, LineOfBusiness
from tests.conftest import close_case, record

AGENT = Actor.agent("maria.b")


def call(office: Backoffice, clock: FixedClock, typification: str = "Facturación") -> object:
    return open_from_call(
        office, account="80123456", line=LineOfBusiness.HOGAR, customer_name="Ana Peña",
        typification=typification, request="Cobro no reconocido", received_at=clock.now(),
        follow_up_at=clock.now() + timedelta(days=1), recommended_by="vp.clientes",
        actor=AGENT,
    )  # fmt: skip


def test_a_call_to_the_corporate_phone_opens_a_case_once(
    office: Backoffice, clock: FixedClock
) -> None:
    """Seed §1: "celular corporativo" — keyed by who called and when (§2)."""
    result = call(office, clock)
    case = result.case  # type: ignore[attr-defined]
    assert case.source.channel is Channel.PHONE
    assert case.source.key.startswith("vp.clientes@")
    [ingested] = result.events  # type: ignore[attr-defined]
    assert isinstance(ingested, Ingested)
    assert ingested.actor == AGENT  # the agent opened it, not the intake
    again = call(office, clock)
    assert again.case.case_id == case.case_id  # type: ignore[attr-defined]
    assert again.events == ()  # type: ignore[attr-defined]


def test_a_call_about_an_open_case_of_the_same_typification_is_a_repeat_contact(
    office: Backoffice, clock: FixedClock
) -> None:
    office.ingest([record("K1", account="80123456", typification="Facturación")])
    result = call(office, clock)
    assert result.case.source.key == "K1"  # type: ignore[attr-defined]
    [repeat] = result.events  # type: ignore[attr-defined]
    assert isinstance(repeat, RepeatContactRecorded)


def test_a_new_request_during_the_call_opens_a_linked_case(
    office: Backoffice, clock: FixedClock
) -> None:
    """Seed §8: "confirmará que no existan más solicitudes … y de ser necesario las
    gestionará en la misma llamada"."""
    office.ingest([record("K1", account="80123456", typification="Facturación")])
    new, first = raise_new_request(office, "K1", typification="Soporte - falla TV",
                                   request="Decodificador sin señal", follow_up_at=None,
                                   actor=AGENT)  # fmt: skip
    assert new.case.linked_to == first.case.case_id
    assert (new.case.account, new.case.typification) == ("80123456", "Soporte - falla TV")
    assert first.case.new_requests == (new.case.case_id,)
    [linked] = first.events
    assert isinstance(linked, NewRequestRaised)
    again, first_again = raise_new_request(office, "K1", typification="Soporte - falla TV",
                                           request="Decodificador sin señal",
                                           follow_up_at=None, actor=AGENT)  # fmt: skip
    assert again.case.case_id == new.case.case_id
    assert (again.events, first_again.events) == ((), ())
    with pytest.raises(InvalidValue, match="the same typification is this case's own request"):
        raise_new_request(office, "K1", typification="Facturación", request="x",
                          follow_up_at=None, actor=AGENT)  # fmt: skip
    close_case(office, "K1")
    with pytest.raises(CaseClosed):
        raise_new_request(office, "K1", typification="Ventas", request="x", follow_up_at=None,
                          actor=AGENT)  # fmt: skip


def test_two_customers_calls_taken_in_the_same_second_stay_two_cases(
    office: Backoffice, clock: FixedClock
) -> None:
    first = call(office, clock)
    other = open_from_call(
        office, account="80999999", line=LineOfBusiness.HOGAR, customer_name="Beto Ruiz",
        typification="Facturación", request="Otro cobro", received_at=clock.now(),
        follow_up_at=None, recommended_by="vp.clientes", actor=AGENT,
    )  # fmt: skip
    assert other.case.case_id != first.case.case_id  # type: ignore[attr-defined]
    assert other.case.account == "80999999"
