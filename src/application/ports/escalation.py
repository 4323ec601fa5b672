"""The contact matrix: which area, with which priority, takes each kind of case (§9)."""

from __future__ import annotations

from typing import Protocol

import attrs

from domain.values import Priority


@attrs.frozen
class Route:
    area: str
    priority: Priority


class ContactMatrix(Protocol):
    def route(self, key: str) -> Route | None:
        """The route for `category/subcategory` (e.g. `sac/cartera`), or for a category."""
        ...
