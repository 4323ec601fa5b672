"""Goals and traffic lights for the indicators.

docs/procedure.md states one goal (Calidad MEC 90 %) and the practices' own targets (§12, met when
compliance is 100 %). The others are [decision]s of this project, every one configuration:
follow-up compliance 90 %, FCR 80 %, reincidencia at most 10 %, NPS 50, Ausentismo at most
5 %, Rotación at most 3 % in the period. Green meets the goal; amber misses it by no more
than the margin (5 points); red misses it by more.
"""

from __future__ import annotations

import enum

import attrs


class Light(enum.StrEnum):
    GREEN = "green"
    AMBER = "amber"
    RED = "red"


@attrs.frozen
class Goal:
    """A target in the indicator's own unit (percent, or NPS points)."""

    target: float
    higher_is_better: bool = True
    margin: float = 5.0

    def __attrs_post_init__(self) -> None:
        if self.margin < 0:
            raise ValueError("a goal's margin must not be negative")

    def light(self, value: float | None) -> Light | None:
        if value is None:
            return None
        gap = self.target - value if self.higher_is_better else value - self.target
        if gap <= 1e-9:
            return Light.GREEN
        return Light.AMBER if gap <= self.margin + 1e-9 else Light.RED

    def describe(self) -> str:
        return f"{'≥' if self.higher_is_better else '≤'} {self.target:g}"


@attrs.frozen(kw_only=True)
class Goals:
    seguimientos: Goal = Goal(90.0)
    fcr: Goal = Goal(80.0)
    reincidencia: Goal = Goal(10.0, higher_is_better=False)
    nps: Goal = Goal(50.0, margin=10.0)
    calidad_mec: Goal = Goal(90.0)
    ausentismo: Goal = Goal(5.0, higher_is_better=False, margin=2.0)
    rotacion: Goal = Goal(3.0, higher_is_better=False, margin=2.0)
    practices: Goal = Goal(100.0, margin=10.0)


DEFAULT_GOALS = Goals()
