"""HTTP/JSON clients for RR/AC, Diagnosticador, DIME and WFM (contract: docs/contracts.md).

One small transport serves the four: JSON bodies, a timeout per request, retries with
exponential backoff for timeouts, connection failures and 5xx (a POST carries the write's
`Idempotency-Key`, given by the case, so that a retried or re-run write is applied once), 4xx
mapped to `SystemRefused`
and everything else that outlives the retries to `SystemUnavailable`.
"""

from __future__ import annotations

import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, TypeVar

import attrs
import cattrs
import orjson

from application.ports.systems import (
    AccountServices,
    BillingStatus,
    Booking,
    CollectionsStatus,
    Diagnosis,
    IncidentScope,
    MarkingReceipt,
    MarkingRecord,
    PaymentStatus,
    Slot,
    SystemRefused,
    SystemUnavailable,
    TicketKind,
    TicketStatus,
)
from domain.values import NoteFolder, VisitKind

T = TypeVar("T")


def _converter() -> cattrs.Converter:
    converter = cattrs.Converter(forbid_extra_keys=False)
    converter.register_unstructure_hook(Decimal, str)
    converter.register_structure_hook(Decimal, lambda v, _: Decimal(str(v)))
    converter.register_unstructure_hook(datetime, lambda v: v.isoformat())
    converter.register_structure_hook(datetime, lambda v, _: _aware(datetime.fromisoformat(v)))
    converter.register_unstructure_hook(date, lambda v: v.isoformat())
    converter.register_structure_hook(date, lambda v, _: date.fromisoformat(v))
    return converter


def _aware(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError(f"{value.isoformat()} has no time zone")
    return value


JSON = _converter()


@attrs.frozen(kw_only=True)
class HttpSettings:
    base_url: str
    timeout_seconds: float = 5.0
    attempts: int = 3
    backoff_seconds: float = 0.2
    token: str | None = attrs.field(default=None, repr=False)


class JsonClient:
    def __init__(
        self, system: str, settings: HttpSettings, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self.system = system
        self.settings = settings
        self.sleep = sleep

    def call(
        self,
        method: str,
        path: str,
        operation: str,
        body: Any = None,
        query: dict[str, str] | None = None,
        key: str | None = None,
    ) -> tuple[int, Any]:
        """(status, decoded JSON body or None); raises on 4xx but 409, and on failures.

        A write (any method but GET) needs its idempotency `key`."""
        s = self.settings
        url = s.base_url.rstrip("/") + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        headers = {"Accept": "application/json"}
        data = None
        if body is not None:
            data = orjson.dumps(JSON.unstructure(body))
            headers["Content-Type"] = "application/json"
        if method != "GET":
            if not key:
                raise ValueError(f"{self.system} {operation}: a write needs an idempotency key")
            headers["Idempotency-Key"] = key
        if s.token:
            headers["Authorization"] = f"Bearer {s.token}"
        delay = s.backoff_seconds
        failure = "no attempt made"
        for attempt in range(1, s.attempts + 1):
            request = urllib.request.Request(url, data=data, headers=headers, method=method)
            try:
                with urllib.request.urlopen(request, timeout=s.timeout_seconds) as response:
                    payload = response.read()
                    return response.status, orjson.loads(payload) if payload else None
            except urllib.error.HTTPError as error:
                payload = error.read()
                if error.code == 409:
                    return 409, orjson.loads(payload) if payload else None
                if 400 <= error.code < 500:
                    raise SystemRefused(
                        self.system, operation, f"{error.code} {_reason(payload)}"
                    ) from None
                failure = f"{error.code} {_reason(payload)}"
            except TimeoutError:
                failure = f"no answer within {s.timeout_seconds:g} s"
            except (urllib.error.URLError, ConnectionError) as error:
                failure = f"unreachable ({getattr(error, 'reason', error)})"
            if attempt < s.attempts:
                self.sleep(delay)
                delay *= 2
        raise SystemUnavailable(self.system, operation, f"{failure} after {s.attempts} attempts")

    def get(self, path: str, operation: str, cls: type[T], **query: str) -> T:
        _, payload = self.call("GET", path, operation, query=query or None)
        return self.structure(payload, cls, operation)

    def structure(self, payload: Any, cls: type[T], operation: str) -> T:
        try:
            return JSON.structure(payload, cls)
        except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as error:
            raise SystemUnavailable(self.system, operation, f"unreadable answer: {error}") from None


def _reason(payload: bytes) -> str:
    try:
        decoded = orjson.loads(payload)
    except orjson.JSONDecodeError:
        return "(no JSON body)"
    message = decoded.get("error") if isinstance(decoded, dict) else None
    return message[:200] if isinstance(message, str) else "(no error message)"


def _account_path(account: str) -> str:
    return "/accounts/" + urllib.parse.quote(account, safe="")


@attrs.frozen
class _Marking:
    code: str
    notes: str


@attrs.frozen
class _Correction:
    code: str
    notes: str
    cun: str


@attrs.frozen
class _Note:
    text: str
    folder: NoteFolder


@attrs.frozen
class _Order:
    kind: VisitKind
    description: str


@attrs.frozen
class _Tickler:
    due: datetime
    text: str


class HttpAccounts:
    def __init__(self, client: JsonClient) -> None:
        self.client = client

    def collections(self, account: str) -> CollectionsStatus:
        return self.client.get(f"{_account_path(account)}/collections", "collections",
                               CollectionsStatus)  # fmt: skip

    def billing(self, account: str) -> BillingStatus:
        return self.client.get(f"{_account_path(account)}/billing", "billing", BillingStatus)

    def payments(self, account: str) -> PaymentStatus:
        return self.client.get(f"{_account_path(account)}/payments", "payments", PaymentStatus)

    def services(self, account: str) -> AccountServices:
        return self.client.get(f"{_account_path(account)}/services", "services", AccountServices)

    def markings(self, account: str) -> tuple[MarkingRecord, ...]:
        return self.client.get(f"{_account_path(account)}/markings", "markings",
                               tuple[MarkingRecord, ...])  # fmt: skip

    def register_marking(
        self, account: str, code: str, notes: str, *, key: str, cun: str | None = None
    ) -> MarkingReceipt:
        body = _Marking(code, notes) if cun is None else _Correction(code, notes, cun)
        _, payload = self.client.call(
            "POST", f"{_account_path(account)}/markings", "register_marking", body, key=key
        )
        return self.client.structure(payload, MarkingReceipt, "register_marking")

    def add_note(self, account: str, text: str, folder: NoteFolder, *, key: str) -> None:
        self.client.call("POST", f"{_account_path(account)}/notes", "add_note",
                         _Note(text, folder), key=key)  # fmt: skip

    def create_order(self, account: str, kind: VisitKind, description: str, *, key: str) -> str:
        _, payload = self.client.call(
            "POST", f"{_account_path(account)}/orders", "create_order",
            _Order(kind, description), key=key,
        )  # fmt: skip
        return str(self.client.structure(payload, dict[str, str], "create_order")["order"])

    def leave_tickler(self, account: str, due: datetime, text: str, *, key: str) -> None:
        self.client.call("POST", f"{_account_path(account)}/ticklers", "leave_tickler",
                         _Tickler(due, text), key=key)  # fmt: skip


@attrs.frozen
class _Incident:
    scope: IncidentScope
    description: str


class HttpDiagnostics:
    def __init__(self, client: JsonClient) -> None:
        self.client = client

    def diagnose(self, account: str) -> Diagnosis:
        return self.client.get(f"/diagnostics/{urllib.parse.quote(account, safe='')}",
                               "diagnose", Diagnosis)  # fmt: skip

    def open_incident(
        self, account: str, scope: IncidentScope, description: str, *, key: str
    ) -> str:
        _, payload = self.client.call(
            "POST", f"/diagnostics/{urllib.parse.quote(account, safe='')}/incidents",
            "open_incident", _Incident(scope, description), key=key,
        )  # fmt: skip
        return str(self.client.structure(payload, dict[str, str], "open_incident")["incident"])


@attrs.frozen
class _Ticket:
    kind: TicketKind
    account: str
    description: str


class HttpTickets:
    def __init__(self, client: JsonClient) -> None:
        self.client = client

    def open_ticket(self, kind: TicketKind, account: str, description: str, *, key: str) -> str:
        _, payload = self.client.call("POST", "/tickets", "open_ticket",
                                      _Ticket(kind, account, description), key=key)  # fmt: skip
        return str(self.client.structure(payload, dict[str, str], "open_ticket")["ticket"])

    def status(self, ticket: str) -> TicketStatus:
        return self.client.get(f"/tickets/{urllib.parse.quote(ticket, safe='')}", "status",
                               TicketStatus)  # fmt: skip


@attrs.frozen
class _SlotList:
    slots: tuple[Slot, ...]


@attrs.frozen
class _BookingRequest:
    account: str
    order: str
    slot: Slot


class HttpScheduling:
    def __init__(self, client: JsonClient) -> None:
        self.client = client

    def slots(
        self, account: str, kind: VisitKind, window_start: datetime, window_end: datetime
    ) -> tuple[Slot, ...]:
        found = self.client.get(
            "/visits/slots", "slots", _SlotList, account=account, kind=kind.value,
            start=window_start.isoformat(), end=window_end.isoformat(),
        )  # fmt: skip
        return found.slots

    def book(self, account: str, order: str, slot: Slot, *, key: str) -> Booking | None:
        status, payload = self.client.call(
            "POST", "/visits/bookings", "book", _BookingRequest(account, order, slot), key=key
        )
        if status == 409:
            return None
        return self.client.structure(payload, Booking, "book")
