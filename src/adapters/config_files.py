"""Configuration as data: the regulatory clocks and the marking catalogue, from TOML files.

Every file is checked when loaded; an error names the file, the key and the problem, and
nothing half-read is used. Shipped examples: `examples/regulation.toml`,
`examples/markings.toml`.
"""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

from application.markings import Marking
from domain.deadlines import RegulatoryClocks
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
            raise ConfigError(f"{where}: expected label, category, resolution and tool")
        try:
            catalogue[code] = Marking(
                code=code,
                label=_text(entry, "label", where),
                category=Category(_text(entry, "category", where)),
                resolution=Resolution(_text(entry, "resolution", where)),
                tool=_text(entry, "tool", where),
            )
        except ValueError as error:
            raise ConfigError(f"{where}: {error}") from error
    return catalogue


def _text(entry: dict[str, Any], key: str, where: str) -> str:
    value = entry.get(key)
    if not isinstance(value, str) or not value.strip():
        raise ConfigError(f"{where}: {key}: required text")
    return value.strip()
