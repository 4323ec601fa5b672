"""A local HTTP server speaking docs/contracts.md, backed by the in-memory fakes.

Tests drive the HTTP adapters against it; `faults` makes the next requests fail (a 5xx, a
reply slower than the client's timeout) to check retries and timeouts. POSTs are applied once
per `Idempotency-Key`.
"""

from __future__ import annotations

import threading
import time
import urllib.parse
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import orjson

from adapters.systems.http import JSON
from adapters.systems.memory import (
    InMemoryAccounts,
    InMemoryDiagnostics,
    InMemoryScheduling,
    InMemoryTickets,
)
from application.ports.systems import IncidentScope, Slot, SystemRefused, TicketKind
from domain.values import NoteFolder, VisitKind


class Stub:
    def __init__(self) -> None:
        self.accounts = InMemoryAccounts(cun_markings=frozenset({"PQR-FACT"}))
        self.diagnostics = InMemoryDiagnostics()
        self.tickets = InMemoryTickets()
        self.scheduling = InMemoryScheduling()
        self.faults: list[tuple[str, float]] = []
        """("5xx", status) or ("slow", seconds), consumed one per request."""
        self.requests: list[tuple[str, str]] = []
        self._replies: dict[str, tuple[int, Any]] = {}
        self._lock = threading.Lock()

    def handle(self, method: str, path: str, body: Any, key: str | None) -> tuple[int, Any]:
        with self._lock:
            self.requests.append((method, path))
            fault = self.faults.pop(0) if self.faults else None
        # A fault is the network's or the gateway's: it hits a repeated request too.
        if fault is not None and fault[0] == "slow":
            time.sleep(fault[1])
        elif fault is not None:
            return int(fault[1]), {"error": "temporarily unavailable"}
        if method != "GET" and not key:
            return 400, {"error": "Idempotency-Key required"}
        with self._lock:
            if key is not None and key in self._replies:
                return self._replies[key]
        try:
            reply = self._route(method, path, body, key or "")
        except SystemRefused as refused:
            reply = (404, {"error": refused.detail})
        if key is not None:
            with self._lock:
                self._replies[key] = reply
        return reply

    def _route(self, method: str, path: str, body: Any, key: str) -> tuple[int, Any]:
        url = urllib.parse.urlsplit(path)
        parts = [urllib.parse.unquote(p) for p in url.path.strip("/").split("/")]
        query = dict(urllib.parse.parse_qsl(url.query))
        a = self.accounts
        if parts[0] == "accounts" and method == "GET":
            account, what = parts[1], parts[2]
            answer = {
                "collections": a.collections, "billing": a.billing, "payments": a.payments,
                "services": a.services, "markings": a.markings,
            }[what](account)  # fmt: skip
            return 200, JSON.unstructure(answer)
        if parts[0] == "accounts":
            account, what = parts[1], parts[2]
            if what == "markings":
                return 201, JSON.unstructure(
                    a.register_marking(
                        account, body["code"], body["notes"], key=key, cun=body.get("cun")
                    )
                )
            if what == "notes":
                a.add_note(account, body["text"], NoteFolder(body["folder"]), key=key)
                return 204, None
            if what == "orders":
                return 201, {"order": a.create_order(account, VisitKind(body["kind"]),
                                                     body["description"], key=key)}  # fmt: skip
            if what == "ticklers":
                a.leave_tickler(
                    account, JSON.structure(body["due"], datetime), body["text"], key=key
                )
                return 204, None
        if parts[0] == "diagnostics" and method == "GET":
            return 200, JSON.unstructure(self.diagnostics.diagnose(parts[1]))
        if parts[0] == "diagnostics":
            incident = self.diagnostics.open_incident(
                parts[1], IncidentScope(body["scope"]), body["description"], key=key
            )
            return 201, {"incident": incident}
        if parts[0] == "tickets" and method == "POST":
            ticket = self.tickets.open_ticket(TicketKind(body["kind"]), body["account"],
                                              body["description"], key=key)  # fmt: skip
            return 201, {"ticket": ticket}
        if parts[0] == "tickets":
            return 200, JSON.unstructure(self.tickets.status(parts[1]))
        if parts[0] == "visits" and parts[1] == "slots":
            found = self.scheduling.slots(
                query["account"], VisitKind(query["kind"]),
                JSON.structure(query["start"], datetime), JSON.structure(query["end"], datetime),
            )  # fmt: skip
            return 200, {"slots": JSON.unstructure(found)}
        if parts[0] == "visits" and parts[1] == "bookings":
            booking = self.scheduling.book(body["account"], body["order"],
                                           JSON.structure(body["slot"], Slot), key=key)  # fmt: skip
            if booking is None:
                return 409, {"error": "no_slot"}
            return 201, JSON.unstructure(booking)
        return 404, {"error": "no such endpoint"}


@contextmanager
def serve(stub: Stub) -> Iterator[str]:
    class Handler(BaseHTTPRequestHandler):
        def _reply(self, method: str) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = orjson.loads(self.rfile.read(length)) if length else None
            status, payload = stub.handle(
                method, self.path, body, self.headers.get("Idempotency-Key")
            )
            data = orjson.dumps(payload) if payload is not None else b""
            try:
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)
            except (BrokenPipeError, ConnectionResetError):
                pass  # the client gave up (timeout tests)

        def do_GET(self) -> None:
            self._reply("GET")

        def do_POST(self) -> None:
            self._reply("POST")

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
