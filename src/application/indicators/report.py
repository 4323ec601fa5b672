"""The supervisor's indicators, computed from the indicators' projection.

The numbers come from `domain.indicators.definitions` (pure functions over facts); the
projection only keeps the facts, with its own position in the log. Each report carries its
definitions' label: the version and a fingerprint of the parameters that change a number.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime, timedelta
from typing import Protocol

import attrs

from application.ports.cases import AnyEvent, LoggedEvent
from domain.calendar import BusinessCalendar
from domain.case.decisions import DEFAULT_FOLLOW_UP_RULES, FollowUpRules
from domain.indicators.definitions import (
    DEFAULT_NPS_SCALE,
    DEFAULT_QUALITY_WEIGHTS,
    Effectiveness,
    FirstContactResolution,
    FollowUpCompliance,
    NetPromoter,
    NpsScale,
    Quality,
    QualityWeights,
    absenteeism,
    attrition,
    calidad_mec,
    definition_label,
    efectividad,
    first_contact_resolution,
    nps,
    practices,
    seguimientos,
)
from domain.indicators.facts import (
    Dimension,
    Facts,
    Period,
)
from domain.indicators.goals import DEFAULT_GOALS, Goals
from domain.indicators.workforce import Absenteeism, Attrition, PracticeCompliance
from domain.team.practices import Practice


class IndicatorView(Protocol):
    """The indicators' facts, projected from the log (see `CaseIndex` for the contract)."""

    def position(self) -> int: ...

    @property
    def kinds(self) -> Collection[type[AnyEvent]] | None: ...

    def project(
        self, events: Sequence[LoggedEvent], through: int | None = None, after: int | None = None
    ) -> None: ...

    def facts(self, start: datetime, end: datetime, window: timedelta) -> Facts: ...

    def has_roster(self) -> bool:
        """Whether a roster was ever imported (anyone ever placed on a team)."""
        ...

    def reset(self) -> None: ...

    def close(self) -> None: ...


@attrs.frozen(kw_only=True)
class IndicatorRules:
    """The indicators' configuration: reincidencia window, NPS scale, quality weights, goals."""

    window: timedelta = timedelta(days=7)
    scale: NpsScale = DEFAULT_NPS_SCALE
    weights: QualityWeights = DEFAULT_QUALITY_WEIGHTS
    goals: Goals = DEFAULT_GOALS


DEFAULT_INDICATOR_RULES = IndicatorRules()


@attrs.frozen
class IndicatorReport:
    period: Period
    by: Dimension
    window: timedelta
    definitions: str
    seguimientos: dict[str, FollowUpCompliance]
    fcr: dict[str, FirstContactResolution]
    efectividad: dict[str, Effectiveness]
    nps: dict[str, NetPromoter]
    quality: dict[str, Quality]
    ausentismo: dict[str, Absenteeism]
    rotacion: dict[str, Attrition]
    practices: dict[tuple[str, Practice], PracticeCompliance]
    goals: Goals = DEFAULT_GOALS


def label(rules: IndicatorRules, follow_up: FollowUpRules) -> str:
    """The definitions' version with the fingerprint of every parameter that changes a
    number: two reports with different settings never carry the same label."""
    return definition_label(
        follow_up_grace=follow_up.on_time_window,
        follow_up_missed_after=follow_up.missed_after,
        reincidencia_window=rules.window,
        nps_scale=(rules.scale.maximum, rules.scale.promoters_from, rules.scale.detractors_to),
        mec_weights=(rules.weights.emitted, rules.weights.perceived),
    )


def report(
    facts: Facts,
    period: Period,
    by: Dimension,
    rules: IndicatorRules = DEFAULT_INDICATOR_RULES,
    follow_up: FollowUpRules = DEFAULT_FOLLOW_UP_RULES,
    now: datetime | None = None,
) -> IndicatorReport:
    """Every indicator for `period`; `now`: the report's moment, for a period not over yet
    (practices still running are not due yet)."""
    running = now is not None and now < period.end
    today = BusinessCalendar.local_date(now) if now is not None and running else None
    return IndicatorReport(
        period=period,
        by=by,
        window=rules.window,
        definitions=label(rules, follow_up),
        seguimientos=seguimientos(facts, period, by, now if running else None),
        fcr=first_contact_resolution(facts, period, by, rules.window),
        efectividad=efectividad(facts, period),
        nps=nps(facts, period, by, rules.scale),
        quality=calidad_mec(facts, period, by, rules.weights),
        ausentismo=absenteeism(facts, period, by),
        rotacion=attrition(facts, period, by),
        practices=practices(facts, period, by, today),
        goals=rules.goals,
    )
