"""E-mail intake: cases recommended by mail, from `.eml` files or a Maildir.

Each message is one case, keyed by its Message-ID. The case data comes from labelled lines
in the body (`Cuenta: …`, `Línea: …`, `Cliente: …`); see docs/intake.md.
"""

from __future__ import annotations

import email.policy
import mailbox
import os
import re
from collections.abc import Iterator
from datetime import UTC, datetime
from email.errors import HeaderParseError
from email.message import EmailMessage, Message
from email.parser import BytesParser
from html.parser import HTMLParser
from pathlib import Path

from adapters.intake.parsing import (
    FOLLOW_UP_BARE_DATE_HOUR,
    DateError,
    fold,
    line_rejection,
    parse_datetime,
    parse_line,
)
from application.intake.records import IntakeItem, IntakeRecord, ProgressCallback, RejectedRow
from domain.case.decisions import REQUEST_MAX_LENGTH
from domain.errors import InvalidValue
from domain.values import Channel, SourceKey, check_account

DEFAULT_TYPIFICATION = "Caso recomendado"
"""The typification of a mailed case whose body has no `Tipificación:` line."""
CUT_MARK = "[…] (texto recortado: {cut} caracteres más)"
"""Ends the request of a mail longer than a case's request may be (`REQUEST_MAX_LENGTH`):
its first characters are kept, then this, saying to the agents how many were left out."""

MAIL_LABELS: dict[str, str] = {
    "cuenta": "account",
    "numero_de_cuenta": "account",
    "numero_cuenta": "account",
    "no_cuenta": "account",
    "n_cuenta": "account",
    "nro_cuenta": "account",
    "linea": "line",
    "linea_de_negocio": "line",
    "cliente": "customer_name",
    "nombre_cliente": "customer_name",
    "nombre_del_cliente": "customer_name",
    "tipificacion": "typification",
    "fecha_de_seguimiento": "follow_up_at",
    "fecha_seguimiento": "follow_up_at",
    "seguimiento": "follow_up_at",
    "asesor_front": "front_agent",
    "asesor_de_front": "front_agent",
    "agente_front": "front_agent",
}
"""Folded body label → field."""

_PARSER = BytesParser(policy=email.policy.default)
# `Label: value`, the label starting with a letter; list bullets, quote marks and the `*`/`_`
# of plain-text bold or italics around the label or the value are ignored.
_LABELLED = re.compile(r"^[\s>*_\-•·]*([^\W\d_][^:\n]{0,40}?)[\s*_]*:[\s*_]*(.*?)[\s*_]*$")
_MESSAGE_ID = re.compile(r"<\s*([^<>\s]+)\s*>")
_SPACES = re.compile(r"[ \t\u00a0]+")
_BLANK_LINES = re.compile(r"\n{3,}")
_BREAKS = re.compile(r"[\r\n]+")
# Mail clients label `iso-8859-1` or `us-ascii` what Outlook actually wrote in cp1252 (curly
# quotes, the euro sign): read those as cp1252, as browsers do (WHATWG encoding standard).
_AS_CP1252 = frozenset({"iso-8859-1", "iso8859-1", "latin1", "latin-1", "l1", "us-ascii", "ascii"})


class MailReader:
    """Reads one `.eml` file, a directory of `.eml` files, or a Maildir (read-only)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)

    def is_maildir(self) -> bool:
        return (self.path / "cur").is_dir() and (self.path / "new").is_dir()

    def size(self) -> int:
        try:
            if self.path.is_file():
                return self.path.stat().st_size
            if self.is_maildir():
                return sum(
                    entry.stat().st_size
                    for folder in ("new", "cur")
                    for entry in os.scandir(self.path / folder)
                    if entry.is_file() and not entry.name.startswith(".")
                )
            return sum(path.stat().st_size for path in self._eml_files())
        except OSError:
            return 0

    def items(self, on_progress: ProgressCallback | None = None) -> Iterator[IntakeItem]:
        """One record or rejection per message, in file-name (Maildir: key) order."""
        consumed = 0
        for location, data in self._messages():
            yield read_message(data, location)
            consumed += len(data)
            if on_progress is not None:
                on_progress(consumed)
        if on_progress is not None:
            on_progress(self.size())

    def _messages(self) -> Iterator[tuple[str, bytes]]:
        if self.path.is_file():
            yield self.path.name, self.path.read_bytes()
        elif self.is_maildir():
            # Reading through `mailbox` neither moves messages from new/ to cur/ nor sets flags.
            box = mailbox.Maildir(self.path, factory=None, create=False)
            for key in sorted(box.iterkeys()):
                try:
                    with box.get_file(key) as message_file:
                        data = message_file.read()
                except (KeyError, FileNotFoundError):  # taken away by a mail client meanwhile
                    continue
                yield f"{self.path.name}/{key}", data
        elif self.path.is_dir():
            for path in self._eml_files():
                yield path.name, path.read_bytes()
        else:
            raise FileNotFoundError(f"no such file or directory: {self.path}")

    def _eml_files(self) -> list[Path]:
        return sorted(
            path for path in self.path.iterdir() if path.suffix.lower() == ".eml" and path.is_file()
        )


def read_message(data: bytes, location: str) -> IntakeItem:
    """One e-mail (its raw bytes) as an intake record, or why it cannot be one."""
    try:
        return _read_message(data, location)
    except Exception as exc:
        # The `email` package raises assorted errors (AttributeError, ValueError, …) on some
        # malformed messages: one bad message must not stop the rest of the mailbox.
        reason = f"not a readable e-mail message ({type(exc).__name__})"
        return RejectedRow(location=location, field=None, reason=reason)


def _read_message(data: bytes, location: str) -> IntakeItem:
    message = _PARSER.parsebytes(data)
    assert isinstance(message, EmailMessage)  # policy.default makes EmailMessage objects

    # The raw header: the parsed one raises on some malformed ids (`<>`) on Python 3.11.
    message_id = normalise_message_id(_raw_header(message, "Message-ID"))
    if not message_id:
        return RejectedRow(location=location, field="message_id", reason="no Message-ID header")
    received_at = _date(message)
    if received_at is None:
        reason = "no Date header, or not a valid date"
        return RejectedRow(location=location, field="received_at", reason=reason)

    subject = " ".join(str(_header(message, "Subject") or "").split())
    body = body_text(message)
    labels = labelled_values(body)

    account = labels.get("account", "")
    if not account:
        return _missing(location, "account", "Cuenta")
    try:
        account = check_account(account)  # the one account rule, as a CRM row's
    except InvalidValue as exc:
        return RejectedRow(location=location, field="account", reason=f"'Cuenta:' {exc.why}")
    line_text = labels.get("line", "")
    if not line_text:
        return _missing(location, "line", "Línea")
    line = parse_line(line_text, lenient=True)
    if line is None:
        return RejectedRow(location=location, field="line", reason=line_rejection(line_text))
    customer = labels.get("customer_name", "")
    if not customer:
        return _missing(location, "customer_name", "Cliente")
    follow_up_at = None
    if follow_up := labels.get("follow_up_at"):
        try:
            follow_up_at = parse_datetime(follow_up, FOLLOW_UP_BARE_DATE_HOUR)
        except DateError as exc:
            return RejectedRow(location=location, field="follow_up_at", reason=str(exc))

    request = f"{subject}\n\n{body}".strip() if subject else body
    if len(request) > REQUEST_MAX_LENGTH:
        request = cut_request(request)
    return IntakeRecord(
        source=SourceKey(Channel.EMAIL, message_id),
        received_at=received_at,
        account=account,
        line=line,
        customer_name=customer,
        typification=labels.get("typification") or DEFAULT_TYPIFICATION,
        request=request,
        follow_up_at=follow_up_at,
        front_agent=labels.get("front_agent") or None,
        recommended_by=_sender(message),
        location=location,
    )


def cut_request(request: str) -> str:
    """A mail's request longer than `REQUEST_MAX_LENGTH`, cut to it: its first characters,
    then `CUT_MARK` saying how many more there were. A mail is never refused for its length
    (a long quoted thread would lose the customer's case); what the case keeps is bounded."""
    widest = len(CUT_MARK.format(cut=len(request))) + 2  # the count has no more digits
    kept = request[: REQUEST_MAX_LENGTH - widest].rstrip()
    return f"{kept}\n\n{CUT_MARK.format(cut=len(request) - len(kept))}"


def normalise_message_id(raw: str) -> str:
    """`<abc@example.com>` (possibly folded, with a trailing comment) → `abc@example.com`."""
    found = _MESSAGE_ID.search(raw)
    if found is not None:
        return found.group(1)
    return raw.strip().strip("<>").strip()


def labelled_values(body: str) -> dict[str, str]:
    """The `Label: value` lines of a body that name a case field; the first one wins."""
    values: dict[str, str] = {}
    for line in body.splitlines():
        if ":" not in line:
            continue
        matched = _LABELLED.match(line)
        if matched is None:
            continue
        field = MAIL_LABELS.get(fold(matched.group(1)))
        value = matched.group(2).strip()
        if field is not None and value and field not in values:
            values[field] = value
    return values


def body_text(message: EmailMessage) -> str:
    """The message's text: its plain-text part, or its HTML part as text; "" when neither."""
    part = message.get_body(preferencelist=("plain", "html"))
    if part is None:
        return ""
    text = _decoded(part)
    if part.get_content_subtype() == "html":
        text = html_to_text(text)
    lines = (_SPACES.sub(" ", line).strip() for line in text.splitlines())
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _decoded(part: Message) -> str:
    payload = part.get_payload(decode=True)
    if not isinstance(payload, bytes):
        return ""
    charset = (part.get_content_charset() or "us-ascii").lower()
    if charset in _AS_CP1252:
        try:
            return payload.decode("utf-8")  # mislabelled UTF-8 is common too
        except UnicodeDecodeError:
            return payload.decode("cp1252", "replace")
    try:
        return payload.decode(charset, "replace")
    except (LookupError, ValueError):  # an unknown or garbled charset name
        return payload.decode("cp1252", "replace")


class _HtmlText(HTMLParser):
    _BLOCKS = frozenset(
        {"p", "div", "br", "tr", "li", "ul", "ol", "table", "blockquote", "hr", "pre"}
        | {"h1", "h2", "h3", "h4", "h5", "h6"}
    )
    _CELLS = frozenset({"td", "th"})
    _HIDDEN = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._HIDDEN:
            self._hidden += 1
        elif tag in self._BLOCKS:
            self.parts.append("\n")
        elif tag in self._CELLS:
            self.parts.append(" ")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._HIDDEN:
            self._hidden = max(0, self._hidden - 1)
        elif tag in self._BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._hidden:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """The visible text of an HTML body, one line per block (paragraph, row, `<br>`)."""
    parser = _HtmlText()
    parser.feed(html)
    parser.close()
    # Inside a block, source line breaks are just spaces.
    return "".join(part if part == "\n" else _BREAKS.sub(" ", part) for part in parser.parts)


def _header(message: EmailMessage, name: str) -> object:
    """The parsed header, or None when absent or too malformed for the `email` package."""
    try:
        return message.get(name)
    except (HeaderParseError, LookupError, ValueError, TypeError, AttributeError):
        return None


def _raw_header(message: EmailMessage, name: str) -> str:
    wanted = name.lower()
    for key, value in message.raw_items():
        if key.lower() == wanted:
            return str(value)
    return ""


def _date(message: EmailMessage) -> datetime | None:
    value = getattr(_header(message, "Date"), "datetime", None)
    if not isinstance(value, datetime):
        return None
    if value.tzinfo is None:  # `-0000`: UTC, the sender's zone unknown (RFC 5322 §3.3)
        return value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def _sender(message: EmailMessage) -> str | None:
    for address in getattr(_header(message, "From"), "addresses", ()):
        addr_spec = str(address.addr_spec).strip().lower()
        if addr_spec and "@" in addr_spec:
            return addr_spec
    return None


def _missing(location: str, field: str, label: str) -> RejectedRow:
    return RejectedRow(location=location, field=field, reason=f"no '{label}:' line in the body")
