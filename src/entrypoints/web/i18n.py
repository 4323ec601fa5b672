"""The console's languages: Spanish (Colombia) by default, English available.

Every text the console shows is an English message id looked up in a translation catalogue
(`locale/es_CO/*.po`, one file per part of the console, read with Babel when first needed;
no compiled file to build). English is the message ids themselves. Dates, times and numbers
are formatted by Babel for the language, always in Bogotá time.
"""

from __future__ import annotations

import functools
import gettext
import io
import re
from datetime import date, datetime
from pathlib import Path

import attrs
from babel import Locale
from babel.dates import format_date, format_datetime, format_time
from babel.messages.catalog import Catalog
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal, format_percent

from domain.calendar import BOGOTA

LANGUAGES = {"es-CO": "es_CO", "en": "en"}
"""The console's languages: their tag (cookie, `lang` attribute) and Babel locale."""
DEFAULT_LANGUAGE = "es-CO"
LANGUAGE_COOKIE = "console_lang"
CATALOGUES = Path(__file__).parent / "locale"


def catalogue(language: str) -> Catalog:
    """Every message of `language`, from its folder's `.po` files (one per part of the
    console: `console.po`, `board.po`…); a message in two files is refused."""
    locale = LANGUAGES[language]
    merged = Catalog(locale=locale)
    # Spanish has two plural forms (as the files say); Babel's CLDR data gives es_CO three.
    merged.mime_headers = [("Plural-Forms", "nplurals=2; plural=(n != 1);")]
    for path in sorted((CATALOGUES / locale).glob("*.po")):
        with path.open("rb") as po:
            part = read_po(po, locale=locale)
        for message in part:
            if not message.id:
                continue  # the header
            if message.id in merged:
                raise ValueError(f"{path.name}: {message.id!r} is translated in another file too")
            merged[message.id] = message
    return merged


@functools.cache
def translations(language: str) -> gettext.NullTranslations:
    """The translations of `language` (none for English, the message ids' language)."""
    if not (CATALOGUES / LANGUAGES[language]).is_dir():
        return gettext.NullTranslations()
    compiled = io.BytesIO()
    write_mo(compiled, catalogue(language))  # fuzzy entries left out, as msgfmt does
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


@attrs.frozen
class Speaker:
    """Translates and formats for one language: what every page gets as `t`."""

    language: str

    @property
    def locale(self) -> Locale:
        return _locale(self.language)

    def gettext(self, message: str) -> str:
        return translations(self.language).gettext(message)

    def ngettext(self, singular: str, plural: str, n: int) -> str:
        return translations(self.language).ngettext(singular, plural, n)

    def __call__(self, message: str, **values: object) -> str:
        """`message` translated, then `{name}` placeholders filled with `values`."""
        text = self.gettext(message)
        return text.format(**values) if values else text

    def label(self, kind: str, value: str) -> str:
        """The label of a value of some kind (`label("role", "agent")`): the catalogue's
        `kind:value` message, else the value made readable (`FollowUpScheduled`, `not_claro`,
        `case.closed_first_contact` read as "Follow up scheduled", "Not claro", "Closed first
        contact")."""
        key = f"{kind}:{value}"
        text = self.gettext(key)
        if text != key:
            return text
        name = value.rpartition(".")[2]  # an event's topic: `case.closed_first_contact`
        spaced = re.sub(r"(?<=[a-z])(?=[A-Z])", " ", name).replace("_", " ").strip()
        return spaced[:1].upper() + spaced[1:].lower()

    def when(self, moment: datetime | None, *, seconds: bool = False) -> str:
        """A moment as the agent reads it: date and time in Bogotá (to the second for the
        auditor: two events are often in the same minute)."""
        if moment is None:
            return "—"
        pattern = "d MMM y, HH:mm:ss" if seconds else "d MMM y, HH:mm"
        return format_datetime(moment, pattern, tzinfo=BOGOTA, locale=self.locale)

    def clock_time(self, moment: datetime | None) -> str:
        if moment is None:
            return "—"
        return format_time(moment, "HH:mm", tzinfo=BOGOTA, locale=self.locale)

    def day(self, value: date | None) -> str:
        if value is None:
            return "—"
        return format_date(value, "EEE d MMM y", locale=self.locale)

    @staticmethod
    def iso_local(moment: datetime | None, *, seconds: bool = False) -> str:
        """A moment as an `<input type="datetime-local">` value, in Bogotá."""
        if moment is None:
            return ""
        return moment.astimezone(BOGOTA).strftime(
            "%Y-%m-%dT%H:%M:%S" if seconds else "%Y-%m-%dT%H:%M"
        )

    def number(self, value: float | int | None, digits: int = 1) -> str:
        if value is None:
            return "—"
        return format_decimal(value, format=f"#,##0.{'0' * digits}" if digits else "#,##0",
                              locale=self.locale)  # fmt: skip

    def percent(self, value: float | None, digits: int = 1) -> str:
        if value is None:
            return "—"
        return format_percent(value, format=f"#,##0.{'0' * digits} %", locale=self.locale)

    def plural(self, singular: str, plural: str, n: int) -> str:
        return self.ngettext(singular, plural, n).format(n=n)


@functools.cache
def _locale(language: str) -> Locale:
    return Locale.parse(LANGUAGES[language])


def speaker(language: str | None) -> Speaker:
    return Speaker(language if language in LANGUAGES else DEFAULT_LANGUAGE)
