"""The marking catalogue (docs/procedure.md §7): which codes exist, for which category, with what
result."""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from domain.case.state import CaseState
from domain.errors import InvalidValue, RuleViolation
from domain.values import Category, Resolution


@attrs.frozen
class Marking:
    code: str
    label: str
    categories: tuple[Category, ...]
    """The categories of case it may be used on (a PQR marking also serves a SAC case whose
    customer does not accept, docs/procedure.md §4)."""
    resolution: Resolution
    tool: str
    """Where the agent looks it up: UCC or Iclick (SAC), T&D or Diagnosticador (support)."""


def check_marking(
    catalogue: Mapping[str, Marking], case: CaseState, code: str, resolution: Resolution | None
) -> None:
    """Refuse a code the catalogue does not have, or one of another category or result
    (`resolution` None: whatever result the catalogue gives it)."""
    marking = catalogue.get(code.strip())
    if marking is None:
        raise InvalidValue("marking", f"{code!r} is not in the marking catalogue")
    if case.category is not None and case.category not in marking.categories:
        allowed = ", ".join(c.value for c in marking.categories)
        raise RuleViolation(
            f"marking {marking.code} is for {allowed} cases, this case is {case.category.value}"
        )
    if resolution is not None and marking.resolution is not resolution:
        raise RuleViolation(
            f"marking {marking.code} means {marking.resolution.value}, not {resolution.value}"
        )
