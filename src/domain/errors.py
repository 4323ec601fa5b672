"""Domain errors: each says what was refused and why, without personal data."""

from __future__ import annotations

import re


class DomainError(Exception):
    """Base of every rule the case refuses to break."""


class InvalidValue(DomainError):
    def __init__(self, field: str, why: str) -> None:
        super().__init__(f"{field}: {why}")
        self.field = field
        self.why = why


class CaseClosed(DomainError):
    def __init__(self, action: str) -> None:
        super().__init__(f"the case is closed: {action} is not allowed (only a reopen is)")
        self.action = action


class RuleViolation(DomainError):
    """A command that the procedure does not allow in the case's current state."""


_CASE_REFERENCE = re.compile(
    r"[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}"  # an id
    r"|(?:crm|email|phone):[!-~]+"  # channel:key (the channels of `values.Channel`), ASCII
    r"|[A-Z][A-Z0-9]*-[A-Z0-9-]+",  # a source key as the CRM writes them: CRM-260001, T-1
    re.ASCII,
)
UNNAMED_REFERENCE = "no case found for that reference (search by account, phone or name instead)"
"""What `CaseNotFound` says of a reference that is not shaped like a case's."""
NO_CASE_OF_ACCOUNT = "no case of that account"
"""What `CaseNotFound` says of a data subject's account without cases (`privacy`)."""


class CaseNotFound(DomainError):
    """No case for a reference. A case id, `channel:key` or source key is said back; anything
    else (an account, a phone, a name typed where a case was asked for) is not: an error
    never repeats a customer's data."""

    def __init__(self, reference: str, *, as_of: str | None = None, account: bool = False) -> None:
        text = reference.strip()
        if account:  # a data subject's account (`privacy`): never said
            super().__init__(NO_CASE_OF_ACCOUNT)
        elif len(text) <= 80 and _CASE_REFERENCE.fullmatch(text):
            when = f" as of {as_of}" if as_of is not None else ""
            super().__init__(f"no case found for {text!r}{when}")
        else:
            super().__init__(UNNAMED_REFERENCE)
        self.reference = reference


class CaseAlreadyExists(DomainError):
    def __init__(self, reference: str) -> None:
        super().__init__(f"a case already exists for {reference!r}")
        self.reference = reference
