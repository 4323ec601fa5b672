"""Value types of the premium back office: channels, lines, categories, actors."""

from __future__ import annotations

import enum
import functools
import re
import uuid
from datetime import UTC, datetime

import attrs

from domain.errors import InvalidValue

CASE_NAMESPACE = uuid.UUID("6f1d3c52-8a3e-4f0b-9a55-2d6c1b7e4a10")


class Channel(enum.StrEnum):
    """Where a case came in (docs/procedure.md §2)."""

    CRM = "crm"
    EMAIL = "email"
    PHONE = "phone"


class LineOfBusiness(enum.StrEnum):
    HOGAR = "hogar"
    MOVIL = "movil"


class Category(enum.StrEnum):
    SAC = "sac"
    SOPORTE = "soporte"
    PQR = "pqr"
    VENTAS = "ventas"


class Subcategory(enum.StrEnum):
    CARTERA = "cartera"
    FACTURACION = "facturacion"
    RECAUDO = "recaudo"
    FALLA_PUNTUAL = "falla_puntual"
    FALLA_MASIVA = "falla_masiva"
    INVENTARIO = "inventario"
    VISITA_TECNICA = "visita_tecnica"
    PETICION = "peticion"
    QUEJA_RECLAMO = "queja_reclamo"
    RECURSO = "recurso"
    VENTA = "venta"


SUBCATEGORIES: dict[Category, tuple[Subcategory, ...]] = {
    Category.SAC: (Subcategory.CARTERA, Subcategory.FACTURACION, Subcategory.RECAUDO),
    Category.SOPORTE: (
        Subcategory.FALLA_PUNTUAL,
        Subcategory.FALLA_MASIVA,
        Subcategory.INVENTARIO,
        Subcategory.VISITA_TECNICA,
    ),
    Category.PQR: (Subcategory.PETICION, Subcategory.QUEJA_RECLAMO, Subcategory.RECURSO),
    Category.VENTAS: (Subcategory.VENTA,),
}


class ActorKind(enum.StrEnum):
    AGENT = "agent"
    INTAKE = "intake"
    SWEEP = "sweep"
    SUPERVISOR = "supervisor"
    OUTBOX = "outbox"


@attrs.frozen
class Actor:
    """Who caused an event: an agent (by login), the intake, or the sweep."""

    kind: ActorKind
    name: str

    def __str__(self) -> str:
        return f"{self.kind.value}:{self.name}"

    @classmethod
    def agent(cls, login: str) -> Actor:
        login = login.strip()
        if not login:
            raise InvalidValue("agent", "an agent login is required")
        return cls(ActorKind.AGENT, single_line("agent", login))

    @classmethod
    def parse(cls, text: str) -> Actor:
        """Read `kind:name` (or a bare agent login)."""
        kind, sep, name = text.partition(":")
        if not sep:
            return cls.agent(text)
        try:
            return cls(ActorKind(kind), name)
        except ValueError:
            raise InvalidValue("actor", f"unknown actor kind {kind!r}") from None


INTAKE = Actor(ActorKind.INTAKE, "intake")


@attrs.frozen
class SourceKey:
    """A case's key in the system it came from (CRM case id, e-mail Message-ID, …)."""

    channel: Channel
    key: str

    def __str__(self) -> str:
        return f"{self.channel.value}:{self.key}"

    def case_id(self) -> uuid.UUID:
        """Intake is idempotent: the same source key always gives the same case id."""
        return _case_id(self.channel.value, self.key)


@functools.lru_cache(maxsize=4096)  # a repeat contact asks again for the same key
def _case_id(channel: str, key: str) -> uuid.UUID:
    return uuid.uuid5(CASE_NAMESPACE, f"{channel}:{key}")


class EscalationTarget(enum.StrEnum):
    """Where an escalation goes (docs/procedure.md §9)."""

    CONTACT_MATRIX_AREA = "contact_matrix_area"
    RESPONSIBLE_AREA = "responsible_area"
    DIME = "dime"
    DIAGNOSTICADOR = "diagnosticador"
    TECHNICAL_VISIT = "technical_visit"
    TRUSTED_TECHNICIAN = "trusted_technician"
    OPERATION_CRM = "operation_crm"
    RECOMMENDER = "recommender"


class Priority(enum.StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class VisitKind(enum.StrEnum):
    """LLS: service call (F23); OT: work order (F15+F6)."""

    LLS = "lls"
    OT = "ot"


class Resolution(enum.StrEnum):
    """What the marking says: solved in first contact, or it generates a CUN (§7)."""

    FIRST_CONTACT = "first_contact"
    CUN = "cun"


class NoteFolder(enum.StrEnum):
    RR_NOTES = "rr_notes"
    ESTRATEGICOS = "estrategicos"


class ClockKind(enum.StrEnum):
    """The deadlines a case can carry besides its follow-ups (docs/procedure.md §4, §6, §10)."""

    PQR_RESPONSE = "pqr_response"
    REPOSICION = "reposicion"
    ADJUSTMENT = "adjustment"
    ESCALATION_RESPONSE = "escalation_response"


class CaseStatus(enum.StrEnum):
    OPEN = "open"
    CLOSED = "closed"


def check_phone(phone: str) -> str:
    """A customer's phone as people write it (spaces, dashes, dots, parentheses, a leading +):
    kept as its digits, with the + when given; 7 to 15 digits (a fixed line to E.164)."""
    text = phone.strip()
    digits = re.sub(r"[\s\-.()]", "", text.removeprefix("+"))
    if not digits.isdigit() or not digits.isascii() or not 7 <= len(digits) <= 15:
        raise InvalidValue("phone", "a phone is 7 to 15 digits (spaces, dashes, a leading +)")
    return ("+" if text.startswith("+") else "") + digits


def phone_digits(phone: str) -> str:
    """The national number of a phone, for finding it however it was written: its digits
    without Colombia's country code (57, or 0057 as dialled abroad) before a ten-digit
    number."""
    digits = "".join(ch for ch in phone if ch.isdigit())
    if len(digits) == 14 and digits.startswith("0057"):
        return digits[4:]
    return digits[2:] if len(digits) == 12 and digits.startswith("57") else digits


def check_cun(cun: str) -> str:
    """A CUN (Código Único Numérico): 6 to 30 digits, optionally with dashes."""
    cun = cun.strip()
    digits = cun.replace("-", "")
    if not digits.isdigit() or not digits.isascii() or not 6 <= len(digits) <= 30:
        raise InvalidValue("cun", "a CUN is 6 to 30 digits, optionally with dashes")
    return cun


_NOT_ONE_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
"""Control characters and line separators: no key, name, address or login holds one."""


def as_one_line(text: str) -> str:
    """The text with every control character and line separator made a space (for a value
    stored before `single_line` checked it)."""
    return _NOT_ONE_LINE.sub(" ", text)


def single_line(field: str, value: str) -> str:
    """The value, when it is one line of text (it may end up in a mail header or a key)."""
    if _NOT_ONE_LINE.search(value):
        raise InvalidValue(field, "must be one line (it holds a line break or a control character)")
    return value


_ONE_ADDRESS = re.compile(r"[^@\s,;<>\"()\[\]]+@[^@\s,;<>\"()\[\]]+\.[^@\s,;<>\"()\[\].]+")


def is_one_address(value: str) -> bool:
    """One plain e-mail address (`name@domain.tld`): no list, no display name."""
    return _ONE_ADDRESS.fullmatch(value) is not None


def require_aware(name: str, value: datetime) -> datetime:
    if value.tzinfo is UTC:  # the usual case, answered without calling utcoffset()
        return value
    if value.tzinfo is None or value.utcoffset() is None:
        raise InvalidValue(name, "needs a time zone (a naive date-time is ambiguous)")
    return value


FIRST_YEAR, LAST_YEAR = 1900, 2199
"""Moments outside these years (in UTC) are refused, read from a file or given in a command:
none is a real contact, follow-up, survey or shift, and the clocks and windows computed from
one (years 1 or 9999) would fall off the calendar."""


def check_moment(name: str, value: datetime) -> datetime:
    """The value, when it has a time zone and falls in the years `FIRST_YEAR`–`LAST_YEAR`."""
    require_aware(name, value)
    if value.tzinfo is UTC:
        year = value.year
    else:
        try:
            year = value.astimezone(UTC).year
        except OverflowError:  # year 1 or 9999 shifted off the calendar
            year = value.year
    if not FIRST_YEAR <= year <= LAST_YEAR:
        raise InvalidValue(name, f"is out of range (years {FIRST_YEAR}–{LAST_YEAR})")
    return value


ACCOUNT_MAX_LENGTH = 30
"""The longest account number, in characters: the one cap, wherever an account comes in."""
ACCOUNT_RULE = (
    "is not an account number (digits, letters, '-' or '.', at least one digit, "
    "at most 30 characters)"
)
"""Why an account is refused (the console's refusals translate it as written: a literal,
saying `ACCOUNT_MAX_LENGTH`, as a test checks)."""
_ACCOUNT = re.compile(rf"(?=[^0-9]*[0-9])[0-9A-Za-z][0-9A-Za-z.\-]{{0,{ACCOUNT_MAX_LENGTH - 1}}}")


def check_account(account: str) -> str:
    """A customer's account number (RR's or AC's), however it reaches intake (a CRM row, an
    e-mail's `Cuenta:` line, a call: `decisions.ingest` checks it for all): one token of
    ASCII letters, digits, `-` or `.`, starting with a letter or digit and holding at least
    one digit, at most `ACCOUNT_MAX_LENGTH` characters. Stripped; refused otherwise (the
    reason never repeats the value)."""
    account = account.strip()
    if _ACCOUNT.fullmatch(account) is None:
        raise InvalidValue("account", ACCOUNT_RULE)
    return account


class SupportRoute(enum.StrEnum):
    """The five routes of a support case after its diagnosis (§5)."""

    PLATFORM_SINGLE = "platform_single"
    SECTOR = "sector"
    PHYSICAL = "physical"
    INVENTORY = "inventory"
    NOT_CLARO = "not_claro"


class Service(enum.StrEnum):
    """The services a support case can be about (§5)."""

    INTERNET = "internet"
    TV = "tv"
    VOZ = "voz"
    TELEFONIA = "telefonia"
    APLICACIONES = "aplicaciones"
    DATOS = "datos"
