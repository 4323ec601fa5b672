"""Writing to Claro's systems on behalf of a case: once, and never before the case decides.

docs/procedure.md §13: a command checks every rule of the case before its first write outside; each
write carries an idempotency key derived from the case and the step, so a retry returns the
same CUN, ticket or booking; a write that succeeded outside but was not recorded on the case
is found and recorded by the next attempt.

Here a write is a fact of the case in three moves: `OutsideWriteRequested` (appended before
the call, so a crash leaves it visible as pending), then `OutsideWriteAnswered` with what the
system said back, or `OutsideWriteRefused`. The key is a uuid5 in the case's namespace of the
request itself (system, operation, parameters), so asking again for the same thing, from a
retry, a re-run of the command or the sweep, always carries the same key and gets the first
answer. A request refused before gets a new key (the system may accept it now).
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from datetime import datetime

from domain.case.decisions import new_event
from domain.case.events import (
    CaseEvent,
    OutsideWriteAnswered,
    OutsideWriteRefused,
    OutsideWriteRequested,
)
from domain.case.state import CaseState, OutsideWrite, WriteStatus
from domain.errors import RuleViolation
from domain.values import Actor

Params = tuple[tuple[str, str], ...]


def as_params(values: Mapping[str, str]) -> Params:
    """A request's parameters in one canonical order (what the key is computed from)."""
    return tuple(sorted((str(k), str(v)) for k, v in values.items()))


def write_key(case_id: uuid.UUID, system: str, operation: str, params: Params, attempt: int) -> str:
    canonical = "\n".join(f"{name}={value}" for name, value in params)
    return str(uuid.uuid5(case_id, f"{system}\n{operation}\n{attempt}\n{canonical}"))


def describe(write: OutsideWrite) -> str:
    """`RR register_marking (code=PQR-FACT)`: the request, without free text."""
    shown = ", ".join(f"{k}={v}" for k, v in write.params if k in _SHOWN)
    return f"{write.system} {write.operation}" + (f" ({shown})" if shown else "")


_SHOWN = frozenset({"code", "kind", "scope", "order", "slot_id", "folder"})
"""Parameters that say which request it was; free text and accounts stay out of messages."""


def find_write(
    state: CaseState, system: str, operation: str, params: Params
) -> OutsideWrite | None:
    """The case's write of exactly this request that was not refused, if any."""
    for write in reversed(state.outside_writes):
        if (write.system, write.operation, write.params) == (system, operation, params):
            return None if write.status is WriteStatus.REFUSED else write
    return None


def request_write(
    state: CaseState,
    *,
    system: str,
    operation: str,
    params: Params,
    actor: Actor,
    at: datetime,
) -> list[CaseEvent]:
    """Record the intent to write, under its key; nothing when this request is already on the
    case (pending or answered: the same key is used again).

    Refused while another request of the same operation to the same system is pending: it
    may have been applied, and a second one could file a second PQR or ticket.
    """
    if find_write(state, system, operation, params) is not None:
        return []
    for other in state.pending_writes:
        if (other.system, other.operation) == (system, operation):
            raise RuleViolation(
                f"{describe(other)} is still pending on this case: repeat that request, or "
                "let the sweep settle it, before asking for another"
            )
    attempt = sum(
        1
        for w in state.outside_writes
        if (w.system, w.operation, w.params) == (system, operation, params)
    )
    return [
        new_event(
            OutsideWriteRequested,
            state,
            actor,
            at,
            system=system,
            operation=operation,
            key=write_key(state.case_id, system, operation, params, attempt),
            params=params,
        )
    ]


def _pending(state: CaseState, key: str) -> OutsideWrite | None:
    for write in state.outside_writes:
        if write.key == key:
            return write if write.status is WriteStatus.PENDING else None
    raise RuleViolation(f"the case asked for no outside write with key {key}")


def answer_write(
    state: CaseState, *, key: str, result: Params, actor: Actor, at: datetime
) -> list[CaseEvent]:
    """What the system said back; once (a second answer to the same key is the same one)."""
    if _pending(state, key) is None:
        return []
    return [new_event(OutsideWriteAnswered, state, actor, at, key=key, result=result)]


def refuse_write(
    state: CaseState, *, key: str, reason: str, actor: Actor, at: datetime
) -> list[CaseEvent]:
    if _pending(state, key) is None:
        return []
    return [new_event(OutsideWriteRefused, state, actor, at, key=key, reason=reason[:500])]
