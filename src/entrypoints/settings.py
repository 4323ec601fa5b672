"""Settings: one frozen object, read from the environment and an optional TOML file.

Precedence: explicit arguments > environment variables > TOML file > defaults.

- `BACKOFFICE_DATA_DIR`: folder of the SQLite files (default `./backoffice-data`);
- `BACKOFFICE_DATABASE_URL`: `sqlite` (default), `memory`, or
  `postgresql://user:password@host:port/database`;
- `BACKOFFICE_CONFIG`: a TOML file with the keys of `Settings` (default
  `<data dir>/backoffice.toml` when it exists);
- `BACKOFFICE_RR_NOTE_MAX_LENGTH`: RR's note field length; longer notes go to ESTRATEGICOS (240);
- `BACKOFFICE_FOLLOW_UP_ON_TIME_MINUTES`: grace after the due time still on time (0);
- `BACKOFFICE_FOLLOW_UP_MISSED_AFTER_HOURS`: pending this long after due is missed (24);
- `BACKOFFICE_CONTACT_MATRIX`: the contact directory (TOML) for escalation mail;
- `BACKOFFICE_REGULATION`, `BACKOFFICE_MARKINGS`, `BACKOFFICE_INDICATORS`: the regulatory
  clocks, the marking catalogue and the indicators' rules and goals (TOML; defaults
  `<data dir>/regulation.toml`, `markings.toml` and `indicators.toml` when present);
- `BACKOFFICE_RR_URL`, `BACKOFFICE_DIME_URL`, `BACKOFFICE_DIAGNOSTICS_URL`, `BACKOFFICE_WFM_URL`,
  `BACKOFFICE_SYSTEMS_TIMEOUT_SECONDS`, `BACKOFFICE_SYSTEMS_TOKEN`: Claro's systems over
  HTTP (docs/contracts.md);
- `BACKOFFICE_MAILER`: `folder` (default: .eml files in `<data dir>/outbox`) or `smtp`, with
  `BACKOFFICE_SMTP_HOST`, `_PORT`, `_SECURITY` (none, starttls, tls), `_USERNAME`,
  `_PASSWORD`, `_TIMEOUT_SECONDS`, `_CA_FILE`; `BACKOFFICE_MAIL_FROM`, `BACKOFFICE_MAIL_DOMAIN`;
- `BACKOFFICE_INDEX_WORKER`: `on` (default) or `off`: whether an import of more than one batch
  has a second process project the case index beside it (`entrypoints.index_worker`);
- `BACKOFFICE_PERSONAL_DATA_ENCRYPTION` (`on`, default) and
  `BACKOFFICE_PERSONAL_DATA_RETENTION_YEARS` (off by default): personal data sealed per data
  subject, and erased by the worker that many years after the subject's cases closed;
- `BACKOFFICE_TRUSTED_USER_HEADER`, `BACKOFFICE_TRUSTED_PROXIES`: single sign-on by a header
  that a reverse proxy sets, believed only from the proxies' addresses (off by default);
- `BACKOFFICE_FIXED_CLOCK`: a moment (ISO 8601 with its offset) every process of the folder
  takes as now, standing still: the demo's folder only, with `BACKOFFICE_SIMULATED_SYSTEMS`,
  on SQLite (or memory), and with no real system (Claro's URLs, the SMTP mailer) set;
- `BACKOFFICE_METRICS_OPEN_TO`: the addresses that read `/metrics` without signing in
  (default the loopback);
- `BACKOFFICE_READY_MAX_INDICATORS_LAG`, `BACKOFFICE_READY_MAX_OUTBOX_BACKLOG`: how far behind
  the indicators and the outbox may be with `/readyz` still ready;
- `BACKOFFICE_ENCRYPTION_KEY`, `BACKOFFICE_ENCRYPTION_OLD_KEYS`: encryption at rest of the
  cases' events (docs/privacy.md): the key new events are encrypted with, and the keys of
  earlier events (comma-separated), each the base64 of 32 random bytes; off when unset.
"""

from __future__ import annotations

import ipaddress
import os
import re
import tomllib
import uuid
from collections.abc import Mapping
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, unquote, urlsplit

import attrs
import cattrs

if TYPE_CHECKING:
    from application.ports.cases import Clock

DEFAULT_DATA_DIR = "backoffice-data"
SQLITE_RECORDER_TOPIC = "adapters.eventstore.sqlite_recorder:BulkSQLiteApplicationRecorder"
POSTGRES_RECORDER_TOPIC = "adapters.eventstore.postgres_recorder:BulkPostgresApplicationRecorder"
CIPHER_TOPIC = "adapters.eventstore.cipher:RotatingCipher"


FIXED_CLOCK_REFUSED_WITH = ("rr_url", "ac_url", "dime_url", "diagnostics_url", "wfm_url")
"""The settings of Claro's real systems: `fixed_clock` is refused when any is set (and with
the SMTP mailer, and on PostgreSQL)."""


def _absolute(path: str | Path) -> Path:
    return Path(path).absolute()


class SettingsError(Exception):
    """A setting that cannot be used; the message names the setting and the source."""


@attrs.frozen(kw_only=True)
class Settings:
    data_dir: Path = attrs.field(default=Path(DEFAULT_DATA_DIR), converter=_absolute)
    """Made absolute when the settings are made: a host that changes folder afterwards keeps
    its files (the databases, the outbox, the index worker's view of them)."""
    database_url: str = "sqlite"
    rr_note_max_length: int = 240
    follow_up_on_time_minutes: int = 0
    follow_up_missed_after_hours: int = 24
    contact_matrix: Path | None = None
    """The contact directory (TOML); default `<data dir>/contact_matrix.toml` when present."""
    mailer: str = "folder"
    """`folder` (each message an .eml file in `<data dir>/outbox`) or `smtp`."""
    mail_from: str = "backoffice.premium@localhost"
    mail_domain: str = "backoffice.local"
    """The right-hand side of the Message-IDs the outbox makes."""
    smtp_host: str = "127.0.0.1"
    smtp_port: int = 25
    smtp_security: str = "none"
    smtp_username: str | None = None
    smtp_password: str | None = attrs.field(default=None, repr=False)
    smtp_timeout_seconds: float = 30.0
    smtp_ca_file: str | None = None
    regulation: Path | None = None
    """The regulatory clocks (TOML); default `<data dir>/regulation.toml` when present."""
    markings: Path | None = None
    """The marking catalogue (TOML); default `<data dir>/markings.toml` when present."""
    indicators: Path | None = None
    """The indicators' rules and goals (TOML); default `<data dir>/indicators.toml` when
    present."""
    rr_url: str | None = None
    """The RR gateway (hogar accounts, docs/contracts.md); the branch commands need it."""
    ac_url: str | None = None
    """AC (móvil accounts): a gateway of its own."""
    dime_url: str | None = None
    diagnostics_url: str | None = None
    wfm_url: str | None = None
    simulated_systems: bool = False
    """Claro's systems simulated in memory with the demo week's customers (RR, AC,
    Diagnosticador, DIME, WFM): what `backoffice demo` sets in its own folder, so that its week
    can be worked in the console. Never for real data: nothing reaches Claro."""
    fixed_clock: datetime | None = None
    """The moment every process of this folder (`serve`, the worker, each command) takes as
    now, standing still (its offset required): what `backoffice demo` writes in its folder, a
    moment of its Friday, so that the console opens on a working day of the week. Only with
    `simulated_systems`, on SQLite or in memory, and with none of Claro's real systems set
    (`FIXED_CLOCK_REFUSED_WITH`, the SMTP mailer); never for real data: deadlines,
    follow-ups and lock-outs stand still with it. Unset: the system's clock."""
    systems_timeout_seconds: float = 5.0
    systems_token: str | None = attrs.field(default=None, repr=False)
    index_worker: bool = True
    """A large import (more than one batch) projects the case index in a second process,
    beside its own work; off, the import projects every batch itself."""
    personal_data_encryption: bool = True
    """Personal fields of new events sealed with their data subject's key (docs/privacy.md):
    erasable by `privacy forget`. Off, they are written in clear (and cannot be erased)."""
    personal_data_retention_years: int | None = attrs.field(
        default=None, validator=attrs.validators.optional(attrs.validators.ge(1))
    )
    """The worker erases the data subjects whose cases all closed more than this many years
    ago (`application.privacy`); off when unset."""
    postgres_pool_size: int = attrs.field(default=1, validator=attrs.validators.ge(1))
    """PostgreSQL connections each of a process's four stores (the log, the case index, the
    indicators, the outbox's position) keeps open: 4 per process at rest."""
    postgres_max_overflow: int = attrs.field(default=2, validator=attrs.validators.ge(0))
    """More connections a store may open under load, each closed when done."""
    session_secret: str | None = attrs.field(default=None, repr=False)
    """`backoffice serve`: the key of the session cookies (64 hex digits), the same for every
    worker and machine; on SQLite, without it, one is kept in the data folder."""
    secure_cookies: bool = True
    """Session cookies only over HTTPS (`Secure`); off only to try the service on a laptop
    over plain HTTP."""
    trusted_user_header: str | None = None
    """Single sign-on: the request header in which a reverse proxy names the signed-in user
    (`X-Forwarded-User`, say); believed only from `trusted_proxies`. Off when unset."""
    trusted_proxies: str | None = None
    """The reverse proxies' addresses (comma-separated IPs or CIDR networks) from which
    `trusted_user_header` is believed."""
    metrics_open_to: str = "127.0.0.1,::1"
    """Addresses (IPs or CIDR networks, comma-separated; `none`: nobody) from which
    `/metrics` is read without signing in; from elsewhere an admin or a supervisor."""
    ready_max_indicators_lag: int = attrs.field(default=10_000, validator=attrs.validators.ge(0))
    """Events the indicators may be behind the log with `/readyz` still ready."""
    ready_max_outbox_backlog: int = attrs.field(default=1_000, validator=attrs.validators.ge(0))
    """Events calling for mail that the outbox may have left to send with `/readyz` still
    ready."""
    encryption_key: str | None = attrs.field(default=None, repr=False)
    """Encryption at rest (docs/privacy.md): the AES-256 key the cases' events (and their
    cached states) are encrypted with, in base64 (32 random bytes); off when unset."""
    encryption_old_keys: str | None = attrs.field(default=None, repr=False)
    """Keys that events were encrypted with before a rotation (comma-separated, base64):
    still read, never written with."""

    def clock(self) -> Clock:
        """The clock of this folder's processes: the system's, or `fixed_clock` standing still
        (refused without `simulated_systems`, on PostgreSQL, or with a real system set: a
        clock that stands still never meets Claro's systems nor real data)."""
        from adapters.clock import FixedClock, SystemClock

        if self.fixed_clock is None:
            return SystemClock()
        why = self._not_a_demo()
        if why is not None:
            raise SettingsError(
                "fixed_clock: a clock that stands still is for the demo's folder only "
                f"(simulated_systems, no real system): refused {why}"
            )
        return FixedClock(self.fixed_clock)

    def _not_a_demo(self) -> str | None:
        """Why this folder is not the demo's (what `fixed_clock` is refused with), or None."""
        if not self.simulated_systems:
            return "without simulated_systems = true"
        if self.backend == "postgres":
            return "on PostgreSQL (database_url)"
        for name in FIXED_CLOCK_REFUSED_WITH:
            if getattr(self, name):
                return f"with {name} set (a real system)"
        if self.mailer == "smtp":
            return "with mailer = smtp (real mail)"
        return None

    def trusted_networks(self) -> tuple[IpNetwork, ...]:
        """`trusted_proxies` read (`SettingsError` naming a wrong entry)."""
        return networks("trusted_proxies", self.trusted_proxies)

    def metrics_networks(self) -> tuple[IpNetwork, ...]:
        return networks("metrics_open_to", self.metrics_open_to)

    @property
    def backend(self) -> str:
        if self.database_url in ("sqlite", "memory"):
            return self.database_url
        if self.database_url.startswith(("postgresql://", "postgres://")):
            return "postgres"
        raise SettingsError(
            f"database_url: {redacted_text(self.database_url)!r} is not sqlite, memory or a "
            "postgresql:// URL"
        )

    def store_env(self) -> dict[str, str]:
        """eventsourcing's environment for the cases' event store."""
        backend = self.backend
        cipher = self.cipher_env()
        if backend == "memory":
            return {"PERSISTENCE_MODULE": "eventsourcing.popo"}
        if backend == "sqlite":
            return {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": str(self.data_dir / "cases.sqlite"),
                "SQLITE_LOCK_TIMEOUT": "30",
                "APPLICATION_RECORDER_TOPIC": SQLITE_RECORDER_TOPIC,
                **cipher,
                **self.personal_env(),
            }
        return {
            **self._postgres_env(),
            "APPLICATION_RECORDER_TOPIC": POSTGRES_RECORDER_TOPIC,
            **cipher,
            **self.personal_env(),
        }

    def personal_env(self) -> dict[str, str]:
        """Whether the store seals personal fields (`adapters.personal_keys`)."""
        return {"PERSONAL_DATA_ENCRYPTION": "y" if self.personal_data_encryption else "n"}

    def cipher_env(self) -> dict[str, str]:
        """The store's cipher (`adapters.eventstore.cipher`) when a key is set (none: events
        are stored in clear). A key that is not base64 of 32 bytes, or is given twice, is
        refused naming its setting."""
        if not self.encryption_key and not (self.encryption_old_keys or "").strip():
            return {}
        from adapters.eventstore.cipher import key_id, read_key, split_keys

        seen: set[bytes] = set()
        given = [("encryption_key", self.encryption_key)] if self.encryption_key else []
        old = split_keys(self.encryption_old_keys)
        given += [
            ("encryption_old_keys" + (f" (key {n})" if len(old) > 1 else ""), text)
            for n, text in enumerate(old, 1)
        ]
        for setting, text in given:
            try:
                ident = key_id(read_key(text))
            except ValueError as error:
                raise SettingsError(
                    f"{setting}: {error}; a key is 32 random bytes in base64 (docs/privacy.md)"
                ) from None
            if ident in seen:
                raise SettingsError(f"{setting}: the same key is given twice")
            seen.add(ident)
        env = {"CIPHER_TOPIC": CIPHER_TOPIC}
        if self.encryption_key:
            env["CIPHER_KEY"] = self.encryption_key.strip()
        if old:
            env["CIPHER_OLD_KEYS"] = ",".join(old)
        return env

    def index_env(self) -> dict[str, str]:
        """The case index's environment: its own SQLite file, or the same PostgreSQL."""
        return self.view_env("case_index")

    def view_env(self, view: str) -> dict[str, str]:
        """A SQL read model's environment: its own SQLite file, or the same PostgreSQL."""
        backend = self.backend
        if backend == "memory":
            name = f"file:{view}-{uuid.uuid4().hex}?mode=memory&cache=shared"
            return {"PERSISTENCE_MODULE": "eventsourcing.sqlite", "SQLITE_DBNAME": name}
        if backend == "sqlite":
            return {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": str(self.data_dir / f"{view}.sqlite"),
                "SQLITE_LOCK_TIMEOUT": "30",
            }
        return self._postgres_env()

    def tracking_env(self, consumer: str) -> dict[str, str]:
        """Where a log consumer (the outbox) keeps its position."""
        backend = self.backend
        if backend == "memory":
            return {"PERSISTENCE_MODULE": "eventsourcing.popo"}
        if backend == "sqlite":
            return {
                "PERSISTENCE_MODULE": "eventsourcing.sqlite",
                "SQLITE_DBNAME": str(self.data_dir / f"{consumer.lower()}.sqlite"),
                "SQLITE_LOCK_TIMEOUT": "30",
            }
        return self._postgres_env()

    def config_path(self, name: str, given: Path | None) -> Path | None:
        if given is not None:
            return given
        default = self.data_dir / name
        return default if default.exists() else None

    def contact_matrix_path(self) -> Path | None:
        if self.contact_matrix is not None:
            return self.contact_matrix
        default = self.data_dir / "contact_matrix.toml"
        return default if default.exists() else None

    def libpq_env(self) -> dict[str, str]:
        """The PostgreSQL URL's options (`?sslmode=require&sslrootcert=…`) as the libpq
        environment variables that carry them: every connection of the process then uses
        them (eventsourcing's pool takes no such options). An option libpq does not know is
        refused, named."""
        if self.backend != "postgres":
            return {}
        options: dict[str, str] = {}
        try:
            query = urlsplit(self.database_url).query
        except ValueError as error:
            raise SettingsError(f"database_url: {error}") from None
        for name, value in parse_qsl(query, keep_blank_values=True):
            variable = LIBPQ_OPTIONS.get(name)
            if variable is None:
                known = ", ".join(sorted(LIBPQ_OPTIONS))
                raise SettingsError(f"database_url: unknown option {name!r} (known: {known})")
            options[variable] = value
        return options

    def _postgres_env(self) -> dict[str, str]:
        try:
            url = urlsplit(self.database_url)
            port = url.port
        except ValueError as error:  # a port out of range or not a number, a broken [IPv6]
            raise SettingsError(f"database_url: {error}") from None
        if not url.path.strip("/"):
            raise SettingsError("database_url: a PostgreSQL URL needs a database name")
        self.libpq_env()  # an unknown option is refused before anything connects
        return {
            "PERSISTENCE_MODULE": "eventsourcing.postgres",
            "POSTGRES_DBNAME": unquote(url.path.strip("/")),
            "POSTGRES_HOST": url.hostname or "127.0.0.1",
            "POSTGRES_PORT": str(port or 5432),
            "POSTGRES_USER": unquote(url.username or "postgres"),
            "POSTGRES_PASSWORD": unquote(url.password or ""),
            "POSTGRES_CONNECT_TIMEOUT": "5",
            "POSTGRES_POOL_SIZE": str(self.postgres_pool_size),
            "POSTGRES_MAX_OVERFLOW": str(self.postgres_max_overflow),
        }


IpNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def networks(setting: str, text: str | None) -> tuple[IpNetwork, ...]:
    """Comma-separated IPs or CIDR networks (`10.0.0.0/8`, `::1`); empty or `none`: none."""
    if text is None or text.strip().lower() in ("", "none"):
        return ()
    found = []
    for entry in text.split(","):
        try:
            found.append(ipaddress.ip_network(entry.strip(), strict=False))
        except ValueError:
            raise SettingsError(
                f"{setting}: {entry.strip()[:60]!r} is not an IP address or network"
            ) from None
    return tuple(found)


LIBPQ_OPTIONS = {
    "sslmode": "PGSSLMODE",
    "sslrootcert": "PGSSLROOTCERT",
    "sslcert": "PGSSLCERT",
    "sslkey": "PGSSLKEY",
    "sslcrl": "PGSSLCRL",
    "application_name": "PGAPPNAME",
    "options": "PGOPTIONS",
    "target_session_attrs": "PGTARGETSESSIONATTRS",
    "gssencmode": "PGGSSENCMODE",
    "channel_binding": "PGCHANNELBINDING",
}
"""The PostgreSQL URL's query options honoured, and the libpq variable that carries each."""

_ENV = {
    "data_dir": "BACKOFFICE_DATA_DIR",
    "database_url": "BACKOFFICE_DATABASE_URL",
    "rr_note_max_length": "BACKOFFICE_RR_NOTE_MAX_LENGTH",
    "follow_up_on_time_minutes": "BACKOFFICE_FOLLOW_UP_ON_TIME_MINUTES",
    "follow_up_missed_after_hours": "BACKOFFICE_FOLLOW_UP_MISSED_AFTER_HOURS",
    "contact_matrix": "BACKOFFICE_CONTACT_MATRIX",
    "mailer": "BACKOFFICE_MAILER",
    "mail_from": "BACKOFFICE_MAIL_FROM",
    "mail_domain": "BACKOFFICE_MAIL_DOMAIN",
    "smtp_host": "BACKOFFICE_SMTP_HOST",
    "smtp_port": "BACKOFFICE_SMTP_PORT",
    "smtp_security": "BACKOFFICE_SMTP_SECURITY",
    "smtp_username": "BACKOFFICE_SMTP_USERNAME",
    "smtp_password": "BACKOFFICE_SMTP_PASSWORD",
    "smtp_timeout_seconds": "BACKOFFICE_SMTP_TIMEOUT_SECONDS",
    "smtp_ca_file": "BACKOFFICE_SMTP_CA_FILE",
    "regulation": "BACKOFFICE_REGULATION",
    "markings": "BACKOFFICE_MARKINGS",
    "indicators": "BACKOFFICE_INDICATORS",
    "rr_url": "BACKOFFICE_RR_URL",
    "ac_url": "BACKOFFICE_AC_URL",
    "dime_url": "BACKOFFICE_DIME_URL",
    "diagnostics_url": "BACKOFFICE_DIAGNOSTICS_URL",
    "wfm_url": "BACKOFFICE_WFM_URL",
    "simulated_systems": "BACKOFFICE_SIMULATED_SYSTEMS",
    "fixed_clock": "BACKOFFICE_FIXED_CLOCK",
    "systems_timeout_seconds": "BACKOFFICE_SYSTEMS_TIMEOUT_SECONDS",
    "systems_token": "BACKOFFICE_SYSTEMS_TOKEN",
    "index_worker": "BACKOFFICE_INDEX_WORKER",
    "personal_data_encryption": "BACKOFFICE_PERSONAL_DATA_ENCRYPTION",
    "personal_data_retention_years": "BACKOFFICE_PERSONAL_DATA_RETENTION_YEARS",
    "postgres_pool_size": "BACKOFFICE_POSTGRES_POOL_SIZE",
    "postgres_max_overflow": "BACKOFFICE_POSTGRES_MAX_OVERFLOW",
    "session_secret": "BACKOFFICE_SESSION_SECRET",
    "secure_cookies": "BACKOFFICE_SECURE_COOKIES",
    "trusted_user_header": "BACKOFFICE_TRUSTED_USER_HEADER",
    "trusted_proxies": "BACKOFFICE_TRUSTED_PROXIES",
    "metrics_open_to": "BACKOFFICE_METRICS_OPEN_TO",
    "ready_max_indicators_lag": "BACKOFFICE_READY_MAX_INDICATORS_LAG",
    "ready_max_outbox_backlog": "BACKOFFICE_READY_MAX_OUTBOX_BACKLOG",
    "encryption_key": "BACKOFFICE_ENCRYPTION_KEY",
    "encryption_old_keys": "BACKOFFICE_ENCRYPTION_OLD_KEYS",
}

_converter = cattrs.Converter(forbid_extra_keys=True)
_converter.register_structure_hook(Path, lambda v, _: Path(v))
_SWITCH = {"1": True, "true": True, "yes": True, "on": True} | {
    "0": False,
    "false": False,
    "no": False,
    "off": False,
}


def _switch(value: Any, _: type) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in _SWITCH:
        return _SWITCH[value.strip().lower()]
    raise ValueError(f"{value!r} is not one of: {', '.join(_SWITCH)}")


_converter.register_structure_hook(bool, _switch)


def _moment(value: Any, _: type) -> datetime:
    """A moment with its offset: a TOML date-time, or ISO 8601 text (an environment
    variable)."""
    moment = datetime.fromisoformat(value.strip()) if isinstance(value, str) else value
    if not isinstance(moment, datetime):
        raise ValueError(f"{value!r} is not a date and time")
    if moment.tzinfo is None or moment.utcoffset() is None:
        raise ValueError(f"{value!r} has no UTC offset (say 2026-12-04T15:50:00-05:00)")
    return moment


_converter.register_structure_hook(datetime, _moment)


def redacted_text(text: str) -> str:
    """A message with any URL's password hidden (`user:***@host`)."""
    return re.sub(r"(\w+://[^:/@\s]+):[^@\s]*@", r"\1:***@", text)


def load_settings(environ: Mapping[str, str] | None = None, **overrides: Any) -> Settings:
    """Read settings; `overrides` (None values ignored) win over everything else."""
    environ = os.environ if environ is None else environ
    values: dict[str, Any] = {}
    data_dir = overrides.get("data_dir") or environ.get(_ENV["data_dir"]) or DEFAULT_DATA_DIR
    config = environ.get("BACKOFFICE_CONFIG")
    config_path = Path(config) if config else Path(data_dir) / "backoffice.toml"
    if config or config_path.exists():
        try:
            values.update(tomllib.loads(config_path.read_text(encoding="utf-8")))
        except (OSError, tomllib.TOMLDecodeError) as error:
            raise SettingsError(f"{config_path}: {error}") from error
    for field, variable in _ENV.items():
        if variable in environ and environ[variable] != "":
            values[field] = environ[variable]
    values.update({k: v for k, v in overrides.items() if v is not None})
    try:
        return _converter.structure(values, Settings)
    except cattrs.BaseValidationError as error:
        problems = "; ".join(cattrs.transform_error(error))
        raise SettingsError(
            f"invalid settings ({config_path} or environment): {problems}"
        ) from error
