"""Cases an agent opens from a call: the corporate phone (docs/procedure.md §2) and a new request
the
customer raises during a call (§8, "confirmar que no existan más solicitudes … y de ser
necesario gestionarlas en la misma llamada").

Both go through the intake (`IntakeWork.ingest`), so they follow its rules: idempotent on
the source key, a contact for an account that already has an open case of the same
typification is recorded on that case as a repeat contact, and the domain's rules of a new
case hold as for a CRM row or an e-mail (`decisions.ingest`: the account an account number,
the request at most `REQUEST_MAX_LENGTH` characters, refused naming the field). The agent,
not the intake, is the actor of the new case.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import datetime
from typing import TYPE_CHECKING

import attrs

from application.case.commands import CommandResult
from application.intake.records import IntakeRecord
from domain.calendar import BusinessCalendar
from domain.case import decisions
from domain.errors import CaseNotFound, InvalidValue
from domain.values import Actor, Channel, LineOfBusiness, SourceKey, require_aware

if TYPE_CHECKING:
    from application.ports.office import IntakeWork


def phone_key(
    caller: str, received_at: datetime, account: str, line: LineOfBusiness, typification: str
) -> SourceKey:
    """A phone contact's key (§2: who called + when, to the second), and a short digest of
    what it is about (account, line, typification): two requests taken in the same second stay
    two cases, and the key shows no account number."""
    moment = require_aware("received_at", received_at).strftime("%Y-%m-%dT%H:%M:%S%z")
    about = f"{account.strip()}\n{line.value}\n{typification.strip()}".encode()
    digest = hashlib.sha256(about).hexdigest()[:10]
    return SourceKey(Channel.PHONE, f"{caller.strip()}@{moment}/{digest}")


def open_from_call(
    office: IntakeWork,
    *,
    account: str,
    line: LineOfBusiness,
    customer_name: str,
    typification: str,
    request: str,
    received_at: datetime,
    follow_up_at: datetime | None,
    recommended_by: str | None,
    actor: Actor,
    phone: str | None = None,
) -> CommandResult:
    """A case from a call to the corporate phone (a recommended one when `recommended_by`):
    the case it became, a new one or the open one it repeats."""
    caller = recommended_by or actor.name
    if (
        follow_up_at is not None
        and require_aware("follow_up_at", follow_up_at) <= office.clock.now()
    ):
        raise InvalidValue("follow_up_at", "a follow-up belongs to the case's future")
    record = IntakeRecord(
        source=phone_key(caller, received_at, account, line, typification),
        received_at=received_at,
        account=account,
        line=line,
        customer_name=customer_name,
        typification=typification,
        request=request,
        follow_up_at=follow_up_at,
        front_agent=None,
        recommended_by=recommended_by,
        opened_by=actor,
        phone=phone,
        location="call",
    )
    return _ingest(office, record)


def raise_new_request(
    office: IntakeWork,
    reference: str | uuid.UUID,
    *,
    typification: str,
    request: str,
    follow_up_at: datetime | None,
    actor: Actor,
) -> tuple[CommandResult, CommandResult]:
    """A new request the customer raised during this case's call: (the case it became, this
    case with the link). The same request raised again is the same case."""
    first = office.case(reference)
    now = office.clock.now()
    decisions.require_open(first, "raise a new request")
    typification = decisions.clean_text("typification", typification, max_length=200)
    if typification == first.typification:
        raise InvalidValue(
            "typification", "the same typification is this case's own request, not a new one"
        )
    day = BusinessCalendar.local_date(now).isoformat()  # the call's day: a later call is new
    record = IntakeRecord(
        source=SourceKey(Channel.PHONE, f"{first.source}+{typification}@{day}"),
        received_at=now,
        account=first.account,
        line=first.line,
        customer_name=first.customer_name,
        typification=typification,
        request=request,
        follow_up_at=follow_up_at,
        front_agent=None,
        recommended_by=first.recommended_by,
        opened_by=actor,
        linked_to=first.case_id,
        phone=first.phone,
        location="call",
    )
    new = _ingest(office, record)
    if not new.events:
        notice = (
            f"a request of this typification was already raised from this case today "
            f"({new.case.source}): nothing new recorded; add to it with a note"
        )
        new = attrs.evolve(new, notice=notice)
    linked = office.execute(
        first.case_id,
        lambda s: decisions.raise_new_request(
            s, new_case_id=new.case.case_id, typification=typification, actor=actor, at=now
        ),
    )
    return new, linked


def _ingest(office: IntakeWork, record: IntakeRecord) -> CommandResult:
    """Ingest one contact: the case holding it now, and the events recording it (none when
    it was already known)."""
    report = office.ingest([record])
    if report.rejected:
        [rejected] = report.rejected
        raise InvalidValue(rejected.field or "call", rejected.reason)
    own = record.source.case_id()
    holders = [own] if office.store.load(own) is not None else []
    holders = holders or list(office.index.find_by_source_key(record.source.key))
    if not holders:
        raise CaseNotFound(str(record.source))
    case = office.case(holders[0])
    recorded = tuple(
        e for e in office.history(case.case_id) if getattr(e, "source", None) == record.source
    )
    return CommandResult(case, recorded if report.created or report.repeat_contacts else ())


# --- the same, as data (`application.case.commands`) --------------------------------------


@attrs.frozen(kw_only=True)
class OpenCaseFromCall:
    """A case from a call to the corporate phone (a recommended one when `recommended_by`)."""

    account: str
    line: LineOfBusiness
    customer_name: str
    typification: str
    request: str
    received_at: datetime
    follow_up_at: datetime | None = None
    recommended_by: str | None = None
    phone: str | None = None
    """The customer's phone to call back on."""


@attrs.frozen(kw_only=True)
class RaiseNewRequest:
    """A new request the customer raised during this case's call: a case of its own, linked."""

    case: uuid.UUID
    typification: str
    request: str
    follow_up_at: datetime | None = None


def handle(
    office: IntakeWork, command: OpenCaseFromCall | RaiseNewRequest, actor: Actor
) -> CommandResult:
    """Run a call's command as `actor`; the result is the case it opened (or the open case it
    repeats, for a call)."""
    if isinstance(command, OpenCaseFromCall):
        return open_from_call(
            office, account=command.account, line=command.line,
            customer_name=command.customer_name, typification=command.typification,
            request=command.request, received_at=command.received_at,
            follow_up_at=command.follow_up_at, recommended_by=command.recommended_by,
            actor=actor, phone=command.phone,
        )  # fmt: skip
    new, _ = raise_new_request(
        office, command.case, typification=command.typification, request=command.request,
        follow_up_at=command.follow_up_at, actor=actor,
    )  # fmt: skip
    return new
