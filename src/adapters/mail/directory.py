"""The contact directory from a TOML file: areas' recipients, agents' addresses, supervisors.

    supervisors = ["supervision.premium@example.co"]
    agent_domain = "example.co"          # an agent's address is <login>@<agent_domain>

    [areas]
    "Facturación" = ["escalamientos.facturacion@example.co"]

    [routes]                             # category/subcategory (or category) -> area
    "sac/facturacion" = { area = "Facturación", priority = "high" }

Area names match ignoring case, accents and punctuation. The file is checked when loaded;
an error names the file, the key and the problem.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from adapters.intake.parsing import fold
from application.ports.escalation import Route
from domain.values import Priority

_PLAIN_LOGIN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,79}")


class DirectoryError(Exception):
    pass


def _address(value: Any, where: str) -> str:
    if not isinstance(value, str):
        raise DirectoryError(f"{where}: expected an e-mail address, got {type(value).__name__}")
    local, at, domain = value.strip().partition("@")
    if not at or not local or "." not in domain or any(c.isspace() for c in value.strip()):
        raise DirectoryError(f"{where}: {value!r} is not an e-mail address")
    return value.strip()


def _addresses(value: Any, where: str) -> tuple[str, ...]:
    if not isinstance(value, list) or not value:
        raise DirectoryError(f"{where}: expected a non-empty list of e-mail addresses")
    return tuple(_address(v, f"{where}[{i}]") for i, v in enumerate(value))


class ContactDirectory:
    """Implements `application.jobs.mail.Directory`."""

    def __init__(
        self,
        areas: Mapping[str, tuple[str, ...]],
        supervisors: tuple[str, ...],
        agent_domain: str | None,
        routes: Mapping[str, Route] | None = None,
    ) -> None:
        self._areas = {fold(name): recipients for name, recipients in areas.items()}
        self._supervisors = supervisors
        self._agent_domain = agent_domain
        self._routes = {key.strip().lower(): route for key, route in (routes or {}).items()}

    @classmethod
    def load(cls, path: Path) -> ContactDirectory:
        try:
            data = tomllib.loads(path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
            raise DirectoryError(f"{path}: {error}") from error
        unknown = set(data) - {"areas", "supervisors", "agent_domain", "routes"}
        if unknown:
            raise DirectoryError(f"{path}: unknown keys {sorted(unknown)}")
        areas = data.get("areas", {})
        if not isinstance(areas, dict):
            raise DirectoryError(f"{path}: areas: expected a table of area = [addresses]")
        domain = data.get("agent_domain")
        if domain is not None and (not isinstance(domain, str) or "." not in domain):
            raise DirectoryError(f"{path}: agent_domain: expected a domain such as example.co")
        supervisors = data.get("supervisors")
        area_table = {name: _addresses(v, f"{path}: areas.{name}") for name, v in areas.items()}
        known = {fold(name) for name in area_table}
        routes: dict[str, Route] = {}
        for key, value in (data.get("routes") or {}).items():
            where = f"{path}: routes.{key}"
            if not isinstance(value, dict) or not isinstance(value.get("area"), str):
                raise DirectoryError(f'{where}: expected {{ area = "…", priority = "…" }}')
            if fold(value["area"]) not in known:
                raise DirectoryError(f"{where}: area {value['area']!r} is not in [areas]")
            try:
                priority = Priority(value.get("priority", "normal"))
            except ValueError:
                choices = ", ".join(p.value for p in Priority)
                raise DirectoryError(f"{where}: priority must be one of {choices}") from None
            routes[key] = Route(value["area"], priority)
        return cls(
            area_table,
            _addresses(supervisors, f"{path}: supervisors") if supervisors is not None else (),
            domain,
            routes,
        )

    def route(self, key: str) -> Route | None:
        key = key.strip().lower()
        return self._routes.get(key) or self._routes.get(key.partition("/")[0])

    def area_recipients(self, area: str) -> tuple[str, ...]:
        return self._areas.get(fold(area), ())

    def agent_address(self, login: str) -> str | None:
        """`<login>@<agent_domain>` for a plain login (letters, digits, `.`, `_`, `-`): a
        login is not an address, and one that is not plain has none here."""
        if not self._agent_domain or not _PLAIN_LOGIN.fullmatch(login):
            return None
        return f"{login}@{self._agent_domain}"

    def supervisors(self) -> tuple[str, ...]:
        return self._supervisors
