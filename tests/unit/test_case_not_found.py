"""A case not found is said without repeating a customer's data typed where a case was asked."""

from __future__ import annotations

import uuid

import pytest

from domain.errors import UNNAMED_REFERENCE, CaseNotFound


@pytest.mark.parametrize(
    "reference",
    ["CRM-260001", "T-1", "crm:CRM-260001", "email:<a1@mail.example>", str(uuid.uuid4())],
)
def test_a_case_reference_is_said_back(reference: str) -> None:
    assert str(CaseNotFound(reference)) == f"no case found for {reference!r}"


@pytest.mark.parametrize(
    "reference",
    [
        "3115552233",
        "+57 311 555 2233",
        "Ana María Peña",
        "Lucía",
        "80123456",
        # found by a review: shaped like keys once, said back then
        "Ana2",
        "ana.perez85",
        "Ana_Maria_1985",
        "tel:3001234567",
        "whatsapp:+573001234567",
        "cliente:AnaPérez",
        "CRM-Peña1",
    ],
)
def test_an_account_a_phone_or_a_name_is_not(reference: str) -> None:
    error = CaseNotFound(reference)
    assert str(error) == UNNAMED_REFERENCE
    assert reference not in str(error)
    assert error.reference == reference  # kept for the code that asked, not shown


def test_as_of_a_moment() -> None:
    message = str(CaseNotFound("CRM-1", as_of="2026-12-01T10:00:00+00:00"))
    assert message == "no case found for 'CRM-1' as of 2026-12-01T10:00:00+00:00"
    assert str(CaseNotFound("3115552233", as_of="2026-12-01T10:00:00+00:00")) == UNNAMED_REFERENCE
