"""CRM exports: CSV (as Excel writes it in a Spanish locale, or plain UTF-8) and JSON Lines.

The file is streamed: one line in memory at a time (plus the current CSV record), whatever
the file size. See docs/intake.md for the accepted formats.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import zlib
from collections.abc import Iterator
from itertools import chain
from operator import itemgetter
from pathlib import Path

import orjson

from adapters.intake.parsing import (
    CRM_FIELDS,
    CRM_MAX_LENGTHS,
    FOLLOW_UP_BARE_DATE_HOUR,
    RECEIVED_BARE_DATE_HOUR,
    REQUIRED_CRM_FIELDS,
    DateError,
    crm_field,
    line_rejection,
    parse_datetime,
    parse_line,
)
from application.intake.records import IntakeItem, IntakeRecord, ProgressCallback, RejectedRow
from domain.errors import InvalidValue
from domain.values import Channel, SourceKey, check_account, check_cun, check_phone

SNIFF_BYTES = 1 << 20
"""How much of a CSV file is looked at to choose its encoding."""
MAX_LINE_BYTES = 128 * 1024
"""A JSON line longer than this is refused, as a CSV field is (the `csv` module's limit)."""
PROGRESS_EVERY = 1024
"""Progress is reported every this many items (and once at the end)."""

_BOM = codecs.BOM_UTF8
_CSV_SUFFIXES = (".csv", ".txt")
_JSONL_SUFFIXES = (".jsonl", ".ndjson")
_NUMBER_FIELDS = frozenset({"crm_case_id", "account", "phone"})
_MISSING = "is required but missing or empty"
_MAX_LENGTHS = tuple(CRM_MAX_LENGTHS[field] for field in CRM_FIELDS)
(_CASE_ID_MAX, _RECEIVED_MAX, _ACCOUNT_MAX, _LINE_MAX, _CUSTOMER_MAX, _TYPIFICATION_MAX,
 _REQUEST_MAX, _FOLLOW_UP_MAX, _FRONT_AGENT_MAX, _RECOMMENDED_BY_MAX, _CUN_MAX, _FILED_MAX,
 _PHONE_MAX) = _MAX_LENGTHS  # fmt: skip


class CrmExportReader:
    """Reads a CRM export file (`.csv`, `.txt`, `.jsonl`, `.ndjson`, optionally `.gz`)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        kind = _kind(self.path)
        if kind is None:
            raise ValueError(
                f"{self.path.name}: not a CRM export (expected .csv, .txt, .jsonl or .ndjson, "
                "optionally gzipped as .gz)"
            )
        self._jsonl, self._gzip = kind

    @staticmethod
    def accepts(path: Path) -> bool:
        """Whether the file name has an extension this reader understands."""
        return _kind(Path(path)) is not None

    def size(self) -> int:
        try:
            return self.path.stat().st_size
        except OSError:
            return 0

    def items(self, on_progress: ProgressCallback | None = None) -> Iterator[IntakeItem]:
        """The file's records and rejections, in file order, read lazily. A compressed file
        that is not gzip, or is cut short, ends in one rejection naming it; what was read
        before stays."""
        with self.path.open("rb") as raw:
            if self._gzip:
                try:
                    with gzip.GzipFile(fileobj=raw, mode="rb") as unzipped:
                        yield from self._report(self._parse(unzipped), raw, on_progress)
                except (gzip.BadGzipFile, EOFError, zlib.error) as error:
                    why = "cut short" if isinstance(error, EOFError) else "not a gzip file"
                    yield RejectedRow(
                        location=self.path.name, field=None, reason=f"unreadable: {why}"
                    )
            else:
                yield from self._report(self._parse(raw), raw, on_progress)
        if on_progress is not None:
            on_progress(self.size())

    # --- internals -------------------------------------------------------------------------

    def _parse(self, stream: io.BufferedReader | gzip.GzipFile) -> Iterator[IntakeItem]:
        if self._jsonl:
            return _jsonl_items(stream, self.path.name)
        return _csv_items(stream, self.path.name, self._encoding())

    @staticmethod
    def _report(
        items: Iterator[IntakeItem], raw: io.BufferedReader, on_progress: ProgressCallback | None
    ) -> Iterator[IntakeItem]:
        if on_progress is None:
            yield from items
            return
        for count, item in enumerate(items, start=1):
            yield item
            if count % PROGRESS_EVERY == 0:
                on_progress(raw.tell())  # bytes of the file on disk (compressed for .gz)

    def _encoding(self) -> str:
        """The CSV file's main encoding, from its first megabyte (see `sniff_encoding`)."""
        opener = gzip.open if self._gzip else open
        with opener(self.path, "rb") as head:
            return sniff_encoding(head.read(SNIFF_BYTES))


def _kind(path: Path) -> tuple[bool, bool] | None:
    """(is JSON Lines, is gzipped) from the file name, or None when not a CRM export."""
    name = path.name.lower()
    gzipped = name.endswith(".gz")
    if gzipped:
        name = name[:-3]
    if name.endswith(_CSV_SUFFIXES):
        return False, gzipped
    if name.endswith(_JSONL_SUFFIXES):
        return True, gzipped
    return None


def sniff_encoding(head: bytes) -> str:
    """The CSV file's encoding from its first bytes: `utf-8-sig`, `utf-8` or `cp1252`.

    `cp1252` (Excel's "CSV" in a Spanish Windows) when the bytes are not valid UTF-8. Otherwise
    UTF-8, decoded with the `CP1252_FALLBACK` error handler: should a cp1252 byte turn up
    further on (an ASCII first megabyte, then an `ñ` written by Excel), it is read as cp1252
    instead of failing.
    """
    if head.startswith(_BOM):
        return "utf-8-sig"
    if head.isascii():
        return "utf-8"
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=False)
    except UnicodeDecodeError:
        return "cp1252"
    return "utf-8"


CP1252_FALLBACK = "adapters.intake.cp1252_fallback"
"""Codec error handler name: decode the bytes that are not UTF-8 as cp1252."""


def _cp1252_fallback(error: UnicodeError) -> tuple[str, int]:
    if not isinstance(error, UnicodeDecodeError):
        raise error
    return error.object[error.start : error.end].decode("cp1252", "replace"), error.end


codecs.register_error(CP1252_FALLBACK, _cp1252_fallback)


def text_stream(stream: io.BufferedReader | gzip.GzipFile, encoding: str) -> io.TextIOWrapper:
    """The bytes as text, decoded incrementally (constant memory), lines left as they are."""
    errors = "replace" if encoding == "cp1252" else CP1252_FALLBACK  # 5 bytes undefined in cp1252
    return io.TextIOWrapper(stream, encoding=encoding, errors=errors, newline="")


def sniff_delimiter(header: str) -> str:
    """The most frequent of `;`, `,` and tab outside quotes in the header (`;` on a tie)."""
    counts = {";": 0, ",": 0, "\t": 0}
    quoted = False
    for char in header:
        if char == '"':
            quoted = not quoted
        elif not quoted and char in counts:
            counts[char] += 1
    best = max(counts, key=lambda sep: counts[sep])
    return best if counts[best] else ","


def _csv_items(
    stream: io.BufferedReader | gzip.GzipFile, name: str, encoding: str
) -> Iterator[IntakeItem]:
    texts = text_stream(stream, encoding)
    header_text = texts.readline()
    if not header_text.strip():
        yield RejectedRow(location=f"{name}:1", field=None, reason="no header line")
        return
    reader = csv.reader(chain((header_text,), texts), delimiter=sniff_delimiter(header_text))
    try:
        header = next(reader)
    except csv.Error as exc:
        yield RejectedRow(location=f"{name}:1", field=None, reason=f"unreadable header: {exc}")
        return

    positions: dict[str, int] = {}
    for index, column in enumerate(header):
        field = crm_field(column)
        if field is not None and field not in positions:  # the first of two aliases wins
            positions[field] = index
    missing = [field for field in REQUIRED_CRM_FIELDS if field not in positions]
    if missing:
        reason = f"the header lacks the required column(s): {', '.join(missing)}"
        yield RejectedRow(location=f"{name}:1", field=None, reason=reason)
        return

    width = max(positions.values()) + 1
    blanks = [""] * width
    # An absent optional column reads the "" appended to every row (index -1).
    pick = itemgetter(*(positions.get(field, -1) for field in CRM_FIELDS))
    previous_end = reader.line_num
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:  # e.g. a field over the size limit (an unclosed quote)
            yield RejectedRow(
                location=f"{name}:{previous_end + 1}", field=None, reason=f"unreadable: {exc}"
            )
            previous_end = reader.line_num
            continue
        start = previous_end + 1
        previous_end = reader.line_num
        if len(row) < width:
            if not any(cell.strip() for cell in row):
                continue  # a blank line, or an empty row (`;;;;`) left by Excel
            row.extend(blanks[len(row) :])
        row.append("")
        (
            case_id,
            received,
            account,
            line,
            customer,
            typification,
            request,
            follow_up,
            front_agent,
            recommended_by,
            cun,
            filed,
            phone,
        ) = pick(row)
        case_id = case_id.strip()
        if not case_id and not any(cell.strip() for cell in row):
            continue
        yield build_crm_item(
            f"{name}:{start}",
            case_id,
            received.strip(),
            account.strip(),
            line.strip(),
            customer.strip(),
            typification.strip(),
            request.strip(),
            follow_up.strip(),
            front_agent.strip(),
            recommended_by.strip(),
            cun.strip(),
            filed.strip(),
            phone.strip(),
        )


def _jsonl_items(stream: io.BufferedReader | gzip.GzipFile, name: str) -> Iterator[IntakeItem]:
    for number, line in enumerate(stream, start=1):
        raw = line[len(_BOM) :] if number == 1 and line.startswith(_BOM) else line
        if not raw.strip():
            continue
        location = f"{name}:{number}"
        if len(raw) > MAX_LINE_BYTES:
            reason = f"longer than {MAX_LINE_BYTES // 1024} KiB: not a CRM record"
            yield RejectedRow(location=location, field=None, reason=reason)
            continue
        try:
            document = _json_document(raw)
        except json.JSONDecodeError as exc:
            reason = f"malformed JSON: {exc.msg} (column {exc.colno})"
            yield RejectedRow(location=location, field=None, reason=reason)
            continue
        if not isinstance(document, dict):
            yield RejectedRow(location=location, field=None, reason="not a JSON object")
            continue
        yield _json_item(document, location)


def _json_document(raw: bytes) -> object:
    try:
        return orjson.loads(raw)
    except orjson.JSONDecodeError:
        try:
            raw.decode("utf-8")
        except UnicodeDecodeError:  # not UTF-8: read it as Excel's cp1252
            return orjson.loads(raw.decode("cp1252", "replace"))
        raise


_json_plans: dict[tuple[str, ...], tuple[str | None, ...]] = {}


def _json_plan(keys: tuple[str, ...]) -> tuple[str | None, ...]:
    """For each CRM field, the key of the object that holds it (the first alias), or None."""
    plan = _json_plans.get(keys)
    if plan is None:
        found: dict[str, str] = {}
        for key in keys:
            field = crm_field(key)
            if field is not None and field not in found:
                found[field] = key
        plan = tuple(found.get(field) for field in CRM_FIELDS)
        if len(_json_plans) < 1024:  # objects of one export share a few key layouts
            _json_plans[keys] = plan
    return plan


def _json_item(document: dict[str, object], location: str) -> IntakeItem:
    get = document.get
    texts: list[str] = []
    for field, key in zip(CRM_FIELDS, _json_plan(tuple(document)), strict=True):
        value = get(key) if key is not None else None
        if type(value) is str:
            texts.append(value.strip())
        elif value is None:
            texts.append("")
        elif field in _NUMBER_FIELDS and type(value) is int:
            texts.append(str(value))
        elif field in _NUMBER_FIELDS and type(value) is float and _exact_integer(value):
            texts.append(str(int(value)))
        else:
            reason = f"expected text, got {_json_type(value)}"
            return RejectedRow(location=location, field=field, reason=reason)
    return build_crm_item(location, *texts)


def _exact_integer(value: float) -> bool:
    """A float that stands for a whole number, small enough for every digit to be right."""
    return value.is_integer() and abs(value) < 2**53


def _json_type(value: object) -> str:
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _too_long(location: str, values: tuple[str, ...]) -> RejectedRow:
    """The rejection naming the first field of a row (`values`, in `CRM_FIELDS` order) that is
    longer than its cap."""
    for value, longest, field in zip(values, _MAX_LENGTHS, CRM_FIELDS, strict=True):
        if len(value) > longest:
            reason = f"is {len(value)} characters long; at most {longest}"
            return RejectedRow(location=location, field=field, reason=reason)
    raise AssertionError("no value is too long")


def build_crm_item(
    location: str,
    case_id: str,
    received: str,
    account: str,
    line: str,
    customer: str,
    typification: str,
    request: str,
    follow_up: str,
    front_agent: str,
    recommended_by: str,
    cun: str = "",
    filed: str = "",
    phone: str = "",
) -> IntakeItem:
    """One CRM row (stripped texts) as a record, or the first reason it cannot be one.

    `cun` and `filed`: a PQR the front line already filed (radicó), its CUN and when; the
    PQR's 15-business-day clock runs from that filing (docs/procedure.md §6). Each value is
    held to its field's length (`CRM_MAX_LENGTHS`), the account to the account rule
    (`check_account`, as an e-mail's); the rules that compare with the clock (a case received
    in the future, a follow-up before the case was received) are the domain's, at ingestion."""
    if not case_id:
        return RejectedRow(location=location, field="crm_case_id", reason=_MISSING)
    if not received:
        return RejectedRow(location=location, field="received_at", reason=_MISSING)
    if not account:
        return RejectedRow(location=location, field="account", reason=_MISSING)
    if not line:
        return RejectedRow(location=location, field="line", reason=_MISSING)
    if not customer:
        return RejectedRow(location=location, field="customer_name", reason=_MISSING)
    if not typification:
        return RejectedRow(location=location, field="typification", reason=_MISSING)
    if (  # one comparison a field (the hot path): which one is too long is found after
        len(case_id) > _CASE_ID_MAX or len(received) > _RECEIVED_MAX
        or len(account) > _ACCOUNT_MAX or len(line) > _LINE_MAX
        or len(customer) > _CUSTOMER_MAX or len(typification) > _TYPIFICATION_MAX
        or len(request) > _REQUEST_MAX or len(follow_up) > _FOLLOW_UP_MAX
        or len(front_agent) > _FRONT_AGENT_MAX or len(recommended_by) > _RECOMMENDED_BY_MAX
        or len(cun) > _CUN_MAX or len(filed) > _FILED_MAX or len(phone) > _PHONE_MAX
    ):  # fmt: skip
        values = (case_id, received, account, line, customer, typification, request, follow_up,
                  front_agent, recommended_by, cun, filed, phone)  # fmt: skip
        return _too_long(location, values)
    try:
        account = check_account(account)
    except InvalidValue as exc:
        return RejectedRow(location=location, field="account", reason=exc.why)
    line_of_business = parse_line(line)
    if line_of_business is None:
        return RejectedRow(location=location, field="line", reason=line_rejection(line))
    try:
        received_at = parse_datetime(received, RECEIVED_BARE_DATE_HOUR)
    except DateError as exc:
        return RejectedRow(location=location, field="received_at", reason=str(exc))
    follow_up_at = None
    if follow_up:
        try:
            follow_up_at = parse_datetime(follow_up, FOLLOW_UP_BARE_DATE_HOUR)
        except DateError as exc:
            return RejectedRow(location=location, field="follow_up_at", reason=str(exc))
    filed_at = None
    if filed and not cun:
        return RejectedRow(
            location=location, field="filed_at", reason="a filing time needs its cun"
        )
    if cun:
        try:
            cun = check_cun(cun)
        except InvalidValue as exc:
            return RejectedRow(location=location, field="cun", reason=exc.why)
        try:
            filed_at = parse_datetime(filed, RECEIVED_BARE_DATE_HOUR) if filed else received_at
        except DateError as exc:
            return RejectedRow(location=location, field="filed_at", reason=str(exc))
    if phone:
        try:
            phone = check_phone(phone)
        except InvalidValue as exc:
            return RejectedRow(location=location, field="phone", reason=exc.why)
    if "\r" in request:  # a multi-line cell written with Windows line ends
        request = request.replace("\r\n", "\n").replace("\r", "\n")
    return IntakeRecord(
        source=SourceKey(Channel.CRM, case_id),
        received_at=received_at,
        account=account,
        line=line_of_business,
        customer_name=customer,
        typification=typification,
        request=request,
        follow_up_at=follow_up_at,
        front_agent=front_agent or None,
        recommended_by=recommended_by or None,
        cun=cun or None,
        filed_at=filed_at,
        phone=phone or None,
        location=location,
    )
