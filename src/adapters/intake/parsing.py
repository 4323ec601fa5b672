"""Helpers shared by the intake adapters: names, dates and lines of business as people type them.

Everything here is pure and cheap: the CRM reader calls these functions once or twice per row,
so the hot paths avoid regular expressions and `strptime`.
"""

from __future__ import annotations

import re
import unicodedata
from datetime import UTC, datetime, timedelta

from domain import values
from domain.calendar import BOGOTA
from domain.case.decisions import NAME_MAX_LENGTH, REQUEST_MAX_LENGTH
from domain.values import ACCOUNT_MAX_LENGTH, LineOfBusiness

"""Naive date-times in the inputs are Bogotá local time."""

RECEIVED_BARE_DATE_HOUR = 0
"""A `received_at` given as a bare date means 00:00 Bogotá time."""
FOLLOW_UP_BARE_DATE_HOUR = 9
"""A `follow_up_at` given as a bare date means 09:00 Bogotá time (start of the working day)."""


# --- names ---------------------------------------------------------------------------------

_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def fold(text: str) -> str:
    """A name as a comparable key: lower case, no accents, `_` for any run of other signs.

    `"Línea de negocio"`, `"LINEA_DE_NEGOCIO"` and `" linea-de  negocio "` all give
    `"linea_de_negocio"`; `"Nº caso"` gives `"no_caso"`.
    """
    decomposed = unicodedata.normalize("NFKD", text)
    bare = "".join(ch for ch in decomposed if not unicodedata.combining(ch))
    return _NOT_ALNUM.sub("_", bare.casefold()).strip("_")


CRM_FIELDS: tuple[str, ...] = (
    "crm_case_id",
    "received_at",
    "account",
    "line",
    "customer_name",
    "typification",
    "request",
    "follow_up_at",
    "front_agent",
    "recommended_by",
    "cun",
    "filed_at",
    "phone",
)
"""The columns of a CRM export, in their canonical (English) names."""

REQUIRED_CRM_FIELDS: tuple[str, ...] = CRM_FIELDS[:6]

CRM_KEY_MAX_LENGTH = 64
"""The longest id, key, code or date a CRM row holds (its case id, front agent, line, CUN,
phone, dates), in characters: all are far shorter; a longer value is a shifted column or junk."""
CRM_MAX_LENGTHS: dict[str, int] = {
    "crm_case_id": CRM_KEY_MAX_LENGTH,
    "received_at": CRM_KEY_MAX_LENGTH,
    "account": ACCOUNT_MAX_LENGTH,
    "line": CRM_KEY_MAX_LENGTH,
    "customer_name": NAME_MAX_LENGTH,
    "typification": NAME_MAX_LENGTH,
    "request": REQUEST_MAX_LENGTH,
    "follow_up_at": CRM_KEY_MAX_LENGTH,
    "front_agent": CRM_KEY_MAX_LENGTH,
    "recommended_by": NAME_MAX_LENGTH,
    "cun": CRM_KEY_MAX_LENGTH,
    "filed_at": CRM_KEY_MAX_LENGTH,
    "phone": CRM_KEY_MAX_LENGTH,
}
"""The longest value of each field of a CRM row (stripped), in characters; longer rejects the
row, naming the field (docs/intake.md). The request is held to a note's length."""

_CRM_ALIASES: dict[str, tuple[str, ...]] = {
    "crm_case_id": (
        "case_id",
        "caso",
        "id_caso",
        "caso_id",
        "caso_crm",
        "numero_caso",
        "numero_de_caso",
        "num_caso",
        "nro_caso",
        "no_caso",
        "n_caso",
    ),
    "received_at": (
        "received",
        "fecha",
        "fecha_ingreso",
        "fecha_de_ingreso",
        "fecha_recibido",
        "fecha_de_recibido",
        "fecha_recepcion",
        "fecha_de_recepcion",
    ),
    "account": ("cuenta", "numero_cuenta", "numero_de_cuenta", "no_cuenta", "n_cuenta"),
    "line": ("linea", "linea_negocio", "linea_de_negocio", "line_of_business"),
    "customer_name": ("customer", "cliente", "nombre_cliente", "nombre_del_cliente"),
    "typification": ("tipificacion",),
    "request": ("solicitud", "requerimiento", "observaciones", "observacion"),
    "follow_up_at": ("follow_up", "fecha_seguimiento", "fecha_de_seguimiento"),
    "front_agent": ("asesor_front", "agente_front", "asesor_de_front", "agente_de_front"),
    "recommended_by": ("recomendado_por", "recomendado"),
    "cun": ("codigo_unico_numerico", "cun_pqr"),
    "filed_at": ("fecha_radicacion", "fecha_de_radicacion", "radicacion", "fecha_cun"),
    "phone": (
        "telefono",
        "tel",
        "celular",
        "telefono_cliente",
        "telefono_contacto",
        "telefono_de_contacto",
        "numero_contacto",
        "numero_de_contacto",
    ),
}

CRM_HEADER_ALIASES: dict[str, str] = {
    fold(alias): field for field, aliases in _CRM_ALIASES.items() for alias in (field, *aliases)
}
"""Folded column name → canonical field name."""

_header_cache: dict[str, str | None] = {}


def crm_field(column: str) -> str | None:
    """The canonical field a column (or JSON key) stands for, or None for an unknown one."""
    try:
        return _header_cache[column]
    except KeyError:
        pass
    field = CRM_HEADER_ALIASES.get(fold(column))
    if len(_header_cache) < 4096:  # keys come from headers: a handful, but stay bounded
        _header_cache[column] = field
    return field


# --- lines of business ---------------------------------------------------------------------

LINE_ALIASES: dict[str, LineOfBusiness] = {
    "hogar": LineOfBusiness.HOGAR,
    "fijo": LineOfBusiness.HOGAR,
    "hfc": LineOfBusiness.HOGAR,
    "home": LineOfBusiness.HOGAR,
    "movil": LineOfBusiness.MOVIL,
    "mobile": LineOfBusiness.MOVIL,
    "celular": LineOfBusiness.MOVIL,
}
"""Folded value → line of business."""

ACCEPTED_LINES = "hogar, fijo, hfc, home, movil (móvil), mobile, celular"

_LINE_FAST: dict[str, LineOfBusiness] = {
    form: line
    for word, line in (*LINE_ALIASES.items(), ("móvil", LineOfBusiness.MOVIL))
    for form in (word, word.upper(), word.title())
}
"""The usual spellings, to skip `fold` on the hot path."""


def parse_line(text: str, *, lenient: bool = False) -> LineOfBusiness | None:
    """The line of business a (stripped) value names, or None.

    Case and accents do not matter. With `lenient` (hand-typed e-mails) only the first word
    counts, so `"Hogar (HFC)"` is read as hogar.
    """
    found = _LINE_FAST.get(text)
    if found is not None:
        return found
    folded = fold(text)
    found = LINE_ALIASES.get(folded)
    if found is None and lenient:
        found = LINE_ALIASES.get(folded.partition("_")[0])
    return found


def line_rejection(text: str) -> str:
    """Why a value is not a line of business; echoes the value only when it looks like a code
    (a word of letters: a misplaced phone, account or name is not repeated)."""
    looks_like_code = len(text) <= 12 and text.isalpha() and text.islower()
    shown = f"{text!r} is not" if looks_like_code else "the value is not"
    return f"{shown} a known line of business (accepted: {ACCEPTED_LINES})"


# --- dates ---------------------------------------------------------------------------------


class DateError(ValueError):
    """A date-time that could not be read; the message is safe to show (no personal data)."""


def _describe(text: str) -> str:
    # A date is not personal data, but a value from a shifted column could be: only echo
    # values that look like dates.
    if len(text) <= 32 and _DATE_LIKE.fullmatch(text):  # a phone such as 310-456-7890 is not
        return repr(text)
    return "the value"


_DATE_LIKE = re.compile(r"\d{1,4}[-/]\d{1,2}[-/]\d{1,4}([ T][0-9:.]*)?(Z|[+-]\d\d:?\d\d)?")


_DATE_SIGNS = frozenset("0123456789-/:.+ TZ")


def _day_first_to_iso(text: str, bare_date_hour: int) -> str:
    """`D/M/YYYY[ H:MM[:SS]]` (one or two digits for day, month, hour) as ISO 8601 text."""
    day_month_year, _, clock = text.partition(" ")
    pieces = day_month_year.split("/")
    if len(pieces) != 3 or len(pieces[2]) != 4 or not all(0 < len(p) <= 2 for p in pieces[:2]):
        raise DateError(f"{_describe(text)} is not a valid date (expected DD/MM/YYYY)")
    day, month, year = pieces
    iso_date = f"{year}-{month:0>2}-{day:0>2}"
    clock = clock.strip()
    if not clock:
        return f"{iso_date}T{bare_date_hour:02d}:00"
    parts = clock.split(":")
    if len(parts) not in (2, 3) or not all(0 < len(p) <= 2 for p in parts):
        raise DateError(f"{_describe(text)} is not a valid time (expected HH:MM or HH:MM:SS)")
    return f"{iso_date}T{':'.join(p.zfill(2) for p in parts)}"


_offsets: dict[str, timedelta] = {}
"""Bogotá's UTC offset by local date and hour (`"2026-07-15T14"`): zoneinfo asked once."""


def _parse(text: str, bare_date_hour: int) -> datetime:
    # The hot path builds ISO text and lets the C `fromisoformat` check and convert it; naive
    # local times are read as UTC and shifted by Bogotá's offset (`datetime.replace` and
    # `astimezone` cost microseconds each on CPython 3.11).
    size = len(text)
    if size >= 10 and text[2] == "/" and text[5] == "/":
        if size == 10:
            iso = f"{text[6:]}-{text[3:5]}-{text[:2]}T{bare_date_hour:02d}:00"
        elif size in (16, 19) and text[10] == " " and text[13] == ":":
            iso = f"{text[6:10]}-{text[3:5]}-{text[:2]}T{text[11:]}"
        else:
            iso = _day_first_to_iso(text, bare_date_hour)
    elif size >= 10 and text[4] == "-" and text[7] == "-":
        if size == 10:
            iso = f"{text}T{bare_date_hour:02d}:00"
        elif size in (16, 19):  # no room for an offset: a naive date-time
            iso = text
        else:
            try:
                value = datetime.fromisoformat(text)
            except ValueError as exc:
                raise _date_error(text, exc) from None
            if value.tzinfo is not None:
                try:
                    return value.astimezone(UTC)
                except OverflowError:  # year 1 or 9999 shifted out of range
                    raise DateError(f"{_describe(text)} is out of range") from None
            iso = value.isoformat()
    elif "/" in text:
        iso = _day_first_to_iso(text, bare_date_hour)
    else:
        raise DateError(
            f"{_describe(text)} is not a valid date "
            "(expected YYYY-MM-DD[ HH:MM[:SS]] or DD/MM/YYYY[ HH:MM[:SS]])"
        )
    try:
        value = datetime.fromisoformat(iso + "+00:00")
    except ValueError as exc:
        raise _date_error(text, exc) from None
    hour = iso[:13]
    offset = _offsets.get(hour)
    if offset is None:
        offset = BOGOTA.utcoffset(datetime.fromisoformat(iso)) or timedelta(0)
        if len(_offsets) > 100_000:
            _offsets.clear()
        _offsets[hour] = offset
    try:
        return value - offset
    except OverflowError:
        raise DateError(f"{_describe(text)} is out of range") from None


def _date_error(text: str, exc: ValueError) -> DateError:
    why = str(exc)
    detail = "" if "isoformat" in why else f" ({why})"  # that message repeats the input
    return DateError(f"{_describe(text)} is not a valid date{detail}")


_recent_dates: dict[tuple[str, int], datetime] = {}


def parse_datetime(text: str, bare_date_hour: int = RECEIVED_BARE_DATE_HOUR) -> datetime:
    """Read a (stripped) date-time into an aware UTC datetime, or raise `DateError`.

    Accepted: ISO 8601 (`2026-07-15T14:30:00-05:00`, `2026-07-15 14:30`, `2026-07-15`) and the
    Spanish-locale day-first forms (`15/07/2026 14:30`, `15/07/2026 14:30:00`, `15/07/2026`).
    A naive date-time is Bogotá local time; a bare date means `bare_date_hour`:00 Bogotá.
    """
    if len(text) > 10:
        return _in_range(text, _parse(text, bare_date_hour))
    # Bare dates (follow-ups) repeat a lot within an export; date-times rarely do, and a cache
    # miss costs more than it saves.
    key = (text, bare_date_hour)
    value = _recent_dates.get(key)
    if value is None:
        value = _in_range(text, _parse(text, bare_date_hour))
        if len(_recent_dates) >= 4096:
            _recent_dates.clear()
        _recent_dates[key] = value
    return value


FIRST_YEAR, LAST_YEAR = values.FIRST_YEAR, values.LAST_YEAR
"""Dates outside these years are refused: the domain's bounds (`domain.values.check_moment`),
the same for every date a file gives and every date a command takes."""


def _in_range(text: str, value: datetime) -> datetime:
    if not FIRST_YEAR <= value.year <= LAST_YEAR:
        raise DateError(f"{_describe(text)} is out of range (years {FIRST_YEAR}–{LAST_YEAR})")
    return value
