"""Configuration as data: the regulatory clocks, the marking catalogue and the indicators'
rules and goals, from TOML files.

Every file is checked when loaded; an error names the file, the key and the problem, and
nothing half-read is used. Shipped examples: `examples/regulation.toml`,
`examples/markings.toml`, `examples/indicators.toml`.
"""

from __future__ import annotations

import tomllib
from datetime import timedelta
from pathlib import Path
from typing import Any

import attrs

from application.case.markings import Marking
from application.indicators.report import IndicatorRules
from domain.case.deadlines import RegulatoryClocks
from domain.indicators.definitions import (
    NpsScale,
    QualityWeights,
)
from domain.indicators.goals import Goal, Goals
from domain.values import Category, Priority, Resolution

WEEKDAYS = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")


class ConfigError(Exception):
    pass


def _read(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise ConfigError(f"{path}: {error}") from error


def _positive_int(data: dict[str, Any], key: str, where: str) -> int:
    value = data.get(key)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise ConfigError(f"{where}: {key}: expected a whole number of at least 1, got {value!r}")
    return value


def load_regulation(path: Path) -> tuple[RegulatoryClocks, frozenset[int]]:
    """The clocks and the weekend (weekday numbers) from a regulation file."""
    data = _read(path)
    where = str(path)
    known = {
        "source",
        "pqr_response_business_days",
        "pqr_warning_business_day",
        "reposicion_business_days",
        "adjustment_hours",
        "adjustment_warning_hours",
        "weekend",
        "escalation_response_hours",
    }
    unknown = sorted(set(data) - known)
    if unknown:
        raise ConfigError(f"{where}: unknown keys {unknown}")
    source = data.get("source")
    if not isinstance(source, str) or not source.strip():
        raise ConfigError(f"{where}: source: say where the numbers come from")
    numbers = {
        key: _positive_int(data, key, where)
        for key in (
            "pqr_response_business_days",
            "pqr_warning_business_day",
            "reposicion_business_days",
            "adjustment_hours",
            "adjustment_warning_hours",
        )
    }
    weekend_names = data.get("weekend", ["saturday", "sunday"])
    if not isinstance(weekend_names, list) or any(n not in WEEKDAYS for n in weekend_names):
        raise ConfigError(f"{where}: weekend: expected a list of {', '.join(WEEKDAYS)}")
    hours = data.get("escalation_response_hours", {})
    if not isinstance(hours, dict) or set(hours) != {p.value for p in Priority}:
        names = ", ".join(p.value for p in Priority)
        raise ConfigError(f"{where}: escalation_response_hours: give hours for each of {names}")
    escalation = tuple(
        (Priority(name), _positive_int(hours, name, f"{where}: escalation_response_hours"))
        for name in (p.value for p in Priority)
    )
    try:
        clocks = RegulatoryClocks(
            **numbers, escalation_response_hours=escalation, source=source.strip()
        )
    except ValueError as error:
        raise ConfigError(f"{where}: {error}") from error
    return clocks, frozenset(WEEKDAYS.index(n) for n in weekend_names)


def load_markings(path: Path) -> dict[str, Marking]:
    data = _read(path)
    table = data.get("markings")
    if set(data) != {"markings"} or not isinstance(table, dict) or not table:
        raise ConfigError(f'{path}: expected one table [markings."CODE"] per marking')
    catalogue: dict[str, Marking] = {}
    for code, entry in table.items():
        where = f"{path}: markings.{code}"
        if not isinstance(entry, dict):
            raise ConfigError(
                f"{where}: expected label, category (or categories), resolution and tool"
            )
        try:
            catalogue[code] = Marking(
                code=code,
                label=_text(entry, "label", where),
                categories=_categories(entry, where),
                resolution=Resolution(_text(entry, "resolution", where)),
                tool=_text(entry, "tool", where),
            )
        except ValueError as error:
            raise ConfigError(f"{where}: {error}") from error
    return catalogue


def _categories(entry: dict[str, Any], where: str) -> tuple[Category, ...]:
    """`category = "sac"`, or `categories = ["sac", "pqr"]` for a marking of several."""
    if ("category" in entry) == ("categories" in entry):
        raise ConfigError(f"{where}: give either category or categories")
    if "category" in entry:
        return (Category(_text(entry, "category", where)),)
    listed = entry["categories"]
    if not isinstance(listed, list) or not listed or not all(isinstance(c, str) for c in listed):
        raise ConfigError(f"{where}: categories: a list of category names")
    return tuple(dict.fromkeys(Category(c.strip()) for c in listed))


def _text(entry: dict[str, Any], key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: {key}: required text")
    return value.strip()


GOAL_NAMES = tuple(attrs.fields_dict(Goals))


def load_indicator_rules(path: Path) -> IndicatorRules:
    """The indicators' configuration: `[reincidencia] window_days`, `[nps] maximum,
    promoters_from, detractors_to`, `[calidad_mec] emitted, perceived` and one `[goals.NAME]`
    table per indicator (`target`, `margin`, `higher_is_better`). Missing keys keep their
    defaults."""
    data = _read(path)
    where = str(path)
    unknown = sorted(set(data) - {"reincidencia", "nps", "calidad_mec", "goals"})
    if unknown:
        raise ConfigError(f"{where}: unknown sections {unknown}")
    rules = IndicatorRules()
    try:
        window = _section(data, "reincidencia", where, {"window_days"})
        if "window_days" in window:
            days = _positive_int(window, "window_days", f"{where}: reincidencia")
            if days > 366:
                raise ConfigError(f"{where}: reincidencia: window_days: at most 366, got {days}")
            rules = attrs.evolve(rules, window=timedelta(days=days))
        scale = _section(data, "nps", where, {"maximum", "promoters_from", "detractors_to"})
        for key, value in scale.items():
            if not isinstance(value, int) or isinstance(value, bool):
                raise ConfigError(f"{where}: nps: {key}: expected a whole number, got {value!r}")
        rules = attrs.evolve(rules, scale=NpsScale(**{**attrs.asdict(rules.scale), **scale}))
        weights = _section(data, "calidad_mec", where, {"emitted", "perceived"})
        rules = attrs.evolve(
            rules,
            weights=QualityWeights(
                **{**attrs.asdict(rules.weights), **_numbers(weights, f"{where}: calidad_mec")}
            ),
        )
        goals = _section(data, "goals", where, set(GOAL_NAMES))
        changed = {}
        for name in goals:
            entry = _section(
                goals, name, f"{where}: goals", {"target", "margin", "higher_is_better"}
            )
            default = getattr(rules.goals, name)
            higher = entry.get("higher_is_better", default.higher_is_better)
            if not isinstance(higher, bool):
                raise ConfigError(
                    f"{where}: goals.{name}: higher_is_better: expected true or false"
                )
            numbers = _numbers(
                {k: v for k, v in entry.items() if k != "higher_is_better"},
                f"{where}: goals.{name}",
            )
            try:
                changed[name] = Goal(
                    numbers.get("target", default.target),
                    higher,
                    numbers.get("margin", default.margin),
                )
            except ValueError as error:
                raise ConfigError(f"{where}: goals.{name}: {error}") from error
        rules = attrs.evolve(rules, goals=attrs.evolve(rules.goals, **changed))
    except ValueError as error:
        raise ConfigError(f"{where}: {error}") from error
    return rules


def _section(data: dict[str, Any], name: str, where: str, keys: set[str]) -> dict[str, Any]:
    section = data.get(name, {})
    if not isinstance(section, dict):
        raise ConfigError(f"{where}: {name}: expected a table")
    unknown = sorted(set(section) - keys)
    if unknown:
        raise ConfigError(f"{where}: {name}: unknown keys {unknown} (known: {sorted(keys)})")
    return section


def _numbers(entry: dict[str, Any], where: str) -> dict[str, float]:
    for key, value in entry.items():
        if not isinstance(value, int | float) or isinstance(value, bool):
            raise ConfigError(f"{where}: {key}: expected a number, got {value!r}")
    return {key: float(value) for key, value in entry.items()}
