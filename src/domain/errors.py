"""Domain errors: each says what was refused and why, without personal data."""

from __future__ import annotations


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


class CaseNotFound(DomainError):
    def __init__(self, reference: str) -> None:
        shown = reference if len(reference) <= 80 else f"{reference[:77]}..."
        super().__init__(f"no case found for {shown!r}")
        self.reference = reference


class CaseAlreadyExists(DomainError):
    def __init__(self, reference: str) -> None:
        super().__init__(f"a case already exists for {reference!r}")
        self.reference = reference
