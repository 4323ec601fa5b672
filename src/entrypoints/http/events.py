"""The live stream of the log (Server-Sent Events): `GET /events`, see `ROUTES`.

Each message is one event of the global log: `id` its log position, `event` its topic
(`case.assigned`, `team.practice_held`, …), `data` its entry as a case's history shows it
(`entrypoints.render.history_entries`) with its `position` and its `case`. A client resumes
with `Last-Event-ID` (a browser's `EventSource` sends it by itself when it reconnects) or
`?from=`; without either, the stream starts at the log's head: only new events. A position
past the log's head is refused (422, "the log ends at N"): it comes from another store (a
restored backup, another installation), and waiting for it would send nothing for as long.

The log is read with the store's port (`CaseStore.read_log`), a batch at a time, in a worker
thread so that the event loop never waits on the database. Idle streams do not query the
database each: the log's head is read at most once per poll interval for every stream of the
process (`_Head`). Who is asking is checked again every `RECHECK_SECONDS`: a disabled account
or a revoked token ends its stream. A stream ends when the client leaves, when `limit` events
were sent or `wait` seconds have passed, and when the server stops (`stop_streams`).

The messages carry the cases' data as their history shows it (the customer's name and phone
on a case received): the cases of the messages each batch sends (no further than `limit`)
are recorded in the register of reads (`entrypoints.http.common.record_reads`, one statement
a batch, each case once), as the other readings do.
"""

from __future__ import annotations

import json
import logging
import math
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from typing import TYPE_CHECKING, Annotated, Any

import anyio
import anyio.to_thread
import attrs
from litestar import Request, get
from litestar.di import NamedDependency
from litestar.exceptions import HTTPException
from litestar.openapi.spec import OpenAPIType, Schema
from litestar.params import HeaderParameter, QueryParameter
from litestar.response import ServerSentEvent, ServerSentEventMessage

from application.access.accounts import Principal
from application.access.permissions import Reading, may_read
from domain.case.events import EVENT_TYPES, CaseEvent
from domain.errors import CaseNotFound, InvalidValue
from entrypoints.http.common import (
    STORAGE_INT_MAX,
    current_principal,
    record_reads,
    require,
    service_of,
)
from entrypoints.http.requests_log import note

if TYPE_CHECKING:
    from application.ports.cases import AnyEvent, CaseStore, LoggedEvent

log = logging.getLogger("backoffice.http")

POLL_SECONDS = 0.5
"""How often an idle stream looks for new events (the log's head, shared by the process)."""
KEEP_ALIVE_SECONDS = 15.0
"""A comment after this long without a message, so proxies keep the connection open."""
RECHECK_SECONDS = 15.0
"""How often a stream checks again that its user may still read it."""
BATCH = 500
"""Events read from the log at a time."""
RETRY_MS = 2_000
"""The reconnection delay the stream suggests to `EventSource`."""

_STOPPING = threading.Event()


def stop_streams() -> None:
    """End every stream of the process at its next poll (within `POLL_SECONDS`): the server
    is stopping. Clients reconnect (to another worker, or the restarted server) and resume
    from their `Last-Event-ID`."""
    _STOPPING.set()


def allow_streams() -> None:
    """Serve streams again after `stop_streams` (a server started again in the process)."""
    _STOPPING.clear()


def open_streams() -> int:
    """How many streams this process is sending now."""
    return _open.count


@attrs.define
class _Open:
    count: int = 0
    lock: threading.Lock = attrs.field(factory=threading.Lock)

    def change(self, by: int) -> None:
        with self.lock:
            self.count += by


_open = _Open()


@attrs.define
class _Head:
    """The log's head, read at most once per poll interval for all the streams of an app."""

    value: int = 0
    read_at: float = -math.inf
    lock: anyio.Lock = attrs.field(factory=anyio.Lock)

    async def now(self, store: CaseStore, *, fresh: bool = False) -> int:
        """The head, as read less than a poll interval ago (`fresh`: read now)."""
        async with self.lock:
            if fresh or time.monotonic() - self.read_at >= POLL_SECONDS:
                self.value = await anyio.to_thread.run_sync(store.last_position)
                self.read_at = time.monotonic()
            return self.value


def _head_of(request: Request[Any, Any, Any]) -> _Head:
    state = request.app.state
    head: _Head | None = state.get("live_events_head")
    if head is None:
        head = state["live_events_head"] = _Head()
    return head


# --- what a message says --------------------------------------------------------------------


def _entry(event: AnyEvent) -> dict[str, Any]:
    """The event as a case's history shows it; a team event (roster, shifts, practices) the
    same way, with its stream instead of a case."""
    from adapters.eventstore.mapper import TOPICS, event_payload
    from entrypoints import render

    if isinstance(event, CaseEvent):
        [entry] = render.history_entries([event])
        return {"case": str(event.originator_id), **entry}
    payload = event_payload(event)
    return {
        "case": None,
        "stream": str(event.originator_id),
        "version": event.originator_version,
        "timestamp": payload["timestamp"],
        "actor": payload["actor"],
        "event": TOPICS[type(event)],
        "data": {k: v for k, v in payload.items() if k not in render.HEADER_FIELDS},
    }


def _message(logged: LoggedEvent) -> ServerSentEventMessage:
    entry = {"position": logged.position, **_entry(logged.event)}
    data = json.dumps(entry, ensure_ascii=False, separators=(",", ":"), default=str)
    return ServerSentEventMessage(id=logged.position, event=entry["event"], data=data)


def _read(
    store: CaseStore,
    after: int,
    head: int,
    kinds: Collection[type[AnyEvent]] | None,
    case_id: uuid.UUID | None,
    seen: Callable[[list[uuid.UUID]], None] | None = None,
    room: int | None = None,
) -> tuple[list[ServerSentEventMessage], int]:
    """One batch of the log after `after` (up to `head`) as messages, no more than `room`
    (what is left of the stream's `limit`), and the position read through (run in a worker
    thread). `seen` is told the cases whose events the batch sends (the register of reads:
    their data is in the messages), before they are sent: only those it sends."""
    count = BATCH if room is None or case_id is not None else min(BATCH, room)
    batch: Sequence[LoggedEvent] = store.read_log(after, count, through=head, kinds=kinds)
    through = batch[-1].position if len(batch) == count else head
    wanted = [e for e in batch if case_id is None or e.event.originator_id == case_id]
    if room is not None and len(wanted) > room:  # the rest is not sent: not recorded either
        wanted = wanted[:room]
        through = wanted[-1].position
    if seen is not None:
        cases = [e.event.originator_id for e in wanted if isinstance(e.event, CaseEvent)]
        if cases:
            seen(cases)
    return [_message(logged) for logged in wanted], through


# --- the stream ------------------------------------------------------------------------------


@attrs.define(kw_only=True)
class _Stream:
    request: Request[Any, Any, Any]
    store: CaseStore
    head: _Head
    after: int
    case_id: uuid.UUID | None
    reading: Reading
    limit: int | None
    wait: float | None
    seen: Callable[[list[uuid.UUID]], None] | None = None

    async def messages(self) -> AsyncIterator[ServerSentEventMessage]:
        _open.change(1)
        try:
            async for message in self._messages():
                yield message
        finally:
            _open.change(-1)

    async def _messages(self) -> AsyncIterator[ServerSentEventMessage]:
        kinds = EVENT_TYPES if self.case_id is not None else None
        position, sent = self.after, 0
        started = last_sent = last_check = time.monotonic()
        # Where the stream starts, as an `id` without data: a client that reconnects before
        # any event resumes from here (an `EventSource` keeps it as its last event id).
        yield ServerSentEventMessage(
            comment=f"events after position {position}", id=position, retry=RETRY_MS, data=None
        )
        fresh = True  # the head as it is now, not as another stream saw it a moment ago
        while not _STOPPING.is_set():
            now = time.monotonic()
            if now - last_check >= RECHECK_SECONDS:
                why = await self._refused()
                if why is not None:
                    yield ServerSentEventMessage(comment=f"ended: {why}", data=None)
                    return
                last_check = now
            expired = self.wait is not None and now - started >= self.wait
            batch: list[ServerSentEventMessage] | None = None
            try:
                head = await self.head.now(self.store, fresh=fresh or expired)
                if head > position:
                    room = None if self.limit is None else self.limit - sent
                    batch, position = await anyio.to_thread.run_sync(
                        _read, self.store, position, head, kinds, self.case_id, self.seen, room
                    )
            except Exception as error:  # storage down: the client reconnects and resumes
                log.warning("live events: storage unavailable: %s", type(error).__name__)
                yield ServerSentEventMessage(comment="storage unavailable", data=None)
                return
            fresh = False
            if batch is not None:
                for message in batch:
                    yield message
                    sent += 1
                    if self.limit is not None and sent >= self.limit:
                        return
                if batch:
                    last_sent = time.monotonic()
                continue  # read on at once while behind the head
            if expired:
                return
            if now - last_sent >= KEEP_ALIVE_SECONDS:
                # The position read through, for a case's stream past other cases' events.
                yield ServerSentEventMessage(comment="keep-alive", id=position, data=None)
                last_sent = now
            await anyio.sleep(POLL_SECONDS)

    async def _refused(self) -> str | None:
        """Why the user may no longer read this stream (signed out, disabled, a token
        revoked, someone who left, another role); None when they still may."""
        try:
            principal = await current_principal(self.request)
        except HTTPException as refused:
            return str(refused.detail)
        except Exception as error:  # the accounts' storage down
            log.warning("live events: storage unavailable: %s", type(error).__name__)
            return "storage unavailable"
        return may_read(principal.role, principal.scope, self.reading)


def _position(field: str, given: str) -> int:
    """A log position as a client gives it back; a 422 naming `field` when it is not one that
    storage holds (whether it is in this log is for the caller, who reads the head)."""
    text = given.strip()
    if not (text.isascii() and text.isdigit()):
        raise InvalidValue(field, "give a log position, as a message's id gave it")
    digits = text.lstrip("0") or "0"  # no `int` of a thousand digits: it is refused anyway
    if len(digits) > len(str(STORAGE_INT_MAX)) or int(digits) > STORAGE_INT_MAX:
        raise InvalidValue(field, f"a log position is at most {STORAGE_INT_MAX}")
    return int(digits)


def _resume_point(last_event_id: str | None, start: str | None) -> tuple[int, str] | None:
    """The last position the client saw and what gave it: `Last-Event-ID` (which an
    `EventSource` sends when it reconnects, whatever the URL's `from` says), else `from`;
    None without either (a blank header is none). `from` is checked even when the header wins."""
    url = None if start is None else _position("from", start)
    if last_event_id is not None and last_event_id.strip():
        return _position("Last-Event-ID", last_event_id), "Last-Event-ID"
    return None if url is None else (url, "from")


def _past_the_head(store: CaseStore, resume: tuple[int, str] | None) -> int:
    """The position to start after: the one given, or the head without one (read now). A 422
    naming where it came from when it is past the log's head: a position of another store."""
    head = store.last_position()
    if resume is None:
        return head
    after, field = resume
    if after > head:
        raise InvalidValue(field, f"the log ends at {head}: resume from {head} or before")
    return after


def _known_case(store: CaseStore, case_id: uuid.UUID, reference: str) -> None:
    if next(iter(store.events_of(case_id)), None) is None:
        raise CaseNotFound(reference)


_POSITION_SCHEMA = Schema(type=OpenAPIType.INTEGER, minimum=0, maximum=STORAGE_INT_MAX)


@get(
    "/events",
    summary="Live events (Server-Sent Events)",
    tags=["events"],
    media_type="text/event-stream",
)
async def live_events(
    request: Request[Any, Any, Any],
    principal: NamedDependency[Principal],
    case: Annotated[
        str | None,
        QueryParameter(required=False, description="Only this case's events (its id or key)"),
    ] = None,
    start: Annotated[
        str | None,  # parsed by `_resume_point`: its errors name `from`, not this argument
        QueryParameter(
            name="from",
            required=False,
            description="The last log position seen, at most the log's head (Last-Event-ID "
            "wins when both are given)",
            schema_extra={"one_of": [_POSITION_SCHEMA, Schema(type=OpenAPIType.NULL)]},
        ),
    ] = None,
    limit: Annotated[
        int | None,
        QueryParameter(ge=1, required=False, description="End the stream after this many events"),
    ] = None,
    wait: Annotated[
        float | None,
        QueryParameter(
            ge=0,
            le=86_400,
            required=False,
            description="End the stream once caught up after this many seconds (0: the events "
            "there are now)",
        ),
    ] = None,
    last_event_id: Annotated[
        str | None, HeaderParameter(name="Last-Event-ID", required=False)
    ] = None,
) -> ServerSentEvent:
    """The log as it grows, as Server-Sent Events: each message's `id` is the event's log
    position, its `event` the event's topic, its `data` the event as a case's history shows
    it with its `position` and `case`. Every event (with the team's: roster, shifts,
    practices) for supervisors and auditors; one case's (`case`: its id or source key) for
    whoever may read its history. Resume with `Last-Event-ID` (or `from`), at most the log's
    head (a 422 says where it ends); without either, only new events. A comment every 15 s
    when idle keeps the connection open."""
    reading = Reading.HISTORY if case is not None else Reading.EVENTS
    require(principal, reading)
    office = service_of(request.app.state).office
    resume = _resume_point(last_event_id, start)
    case_id: uuid.UUID | None = None
    if case is not None:
        case_id = await anyio.to_thread.run_sync(office.resolve, case)
        await anyio.to_thread.run_sync(_known_case, office.store, case_id, case)
        note(request.scope, case=str(case_id))
    after = await anyio.to_thread.run_sync(_past_the_head, office.store, resume)
    service = service_of(request.app.state)
    through = "GET /events?case" if case is not None else "GET /events"

    def seen(cases: list[uuid.UUID]) -> None:  # who was sent which cases' data
        record_reads(service, principal, cases, through)

    stream = _Stream(
        request=request, store=office.store, head=_head_of(request), after=after,
        case_id=case_id, reading=reading, limit=limit, wait=wait, seen=seen,
    )  # fmt: skip
    return ServerSentEvent(stream.messages())


ROUTES: list[Any] = [live_events]
