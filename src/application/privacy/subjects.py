"""Erasure, export and correction of a data subject's personal data, and retention.

A data subject is an account. Their personal fields are sealed with keys of their own
(`application.ports.personal`); erasing them records `PersonalDataErased` on each of their
cases (who asked, why; the actor is the operator), drops the cached states that copy their
data, then deletes their keys: from then on every replay, history, export and mail reads the
fields as erased, while the cases' other facts, clocks and indicators stay as they were.
Correcting records `PersonalDataCorrected` on each of their cases. Both end by purging the
stores' files of what was deleted or replaced (`purge`: SQLite's write-ahead logs emptied,
PostgreSQL's key table vacuumed), and say which could not be purged now. Nothing here logs or
says the account: results count cases and keys.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Collection, Mapping, Sequence
from datetime import datetime
from typing import Any

import attrs

from application.ports.cases import CaseQuery
from application.ports.office import CaseWork
from application.ports.personal import Erasure, PersonalKeys, subject_digest
from application.ports.reads import ReadRegister
from domain.case.decisions import clean_text
from domain.case.events import (
    ERASED,
    PERSONAL_FIELDS,
    PERSONAL_PARAMS,
    CaseEvent,
    OutsideWriteRequested,
    PersonalDataCorrected,
    PersonalDataErased,
)
from domain.case.state import CaseState
from domain.errors import CaseNotFound, InvalidValue
from domain.values import Actor, ActorKind, check_phone

RETENTION = Actor(ActorKind.SWEEP, "retention")
"""Who erases when the retention period is over."""
MAX_TEXT = 500
"""`requested_by` and `reason` at most this long."""
_SEARCH_PAGE = 500


@attrs.frozen(kw_only=True)
class ErasureReport:
    cases: int
    """Cases on which the erasure was recorded now (0: nothing left to erase)."""
    keys: int
    """Keys deleted."""
    in_clear: int
    """Events of the subject's cases that hold personal data in clear (written before
    personal-data encryption, or with it off): deleting keys does not erase them
    (docs/privacy.md)."""
    not_purged: tuple[str, ...] = ()
    """The stores whose files may still hold what was deleted, because a reader kept them
    from being purged now (`Privacy.purge`); empty when every one was purged."""


@attrs.frozen(kw_only=True)
class CorrectionReport:
    cases: int
    not_purged: tuple[str, ...] = ()
    """As `ErasureReport.not_purged`, for the replaced name and phone."""


def _account(account: str) -> str:
    return clean_text("account", account, max_length=100, one_line=True)


class Privacy:
    """The use cases over the back office (`CaseWork`) and the key store."""

    def __init__(
        self,
        office: CaseWork,
        keys: PersonalKeys,
        *,
        drop_cached_states: Callable[[Collection[uuid.UUID]], int],
        reads: ReadRegister | None = None,
        purgers: Mapping[str, Callable[[], bool]] | None = None,
    ) -> None:
        self.office = office
        self.keys = keys
        self.drop_cached_states = drop_cached_states
        """Deletes the cached folded states of cases (`adapters.eventstore.state_cache`)."""
        self.reads = reads
        """The register of reads (None: not kept here; the export then has no `reads`)."""
        self.purgers: Mapping[str, Callable[[], bool]] = purgers or {}
        """Store's name → what makes rows deleted or replaced in it leave its files (the key
        store's and the case index's `purge_deleted`); False: not now (a reader was busy)."""

    def purge(self) -> tuple[str, ...]:
        """Run every purger; the names of the stores not purged now."""
        return tuple(name for name, purge in self.purgers.items() if not purge())

    # --- the subject's cases --------------------------------------------------------------

    def cases(self, account: str) -> list[CaseState]:
        """The subject's cases (as now), oldest first."""
        account = _account(account)
        found: set[uuid.UUID] = set()
        self.office.catch_up()
        offset = 0
        while True:  # the index finds an account (and perhaps a name that holds it: dropped)
            page = self.office.index.search(
                CaseQuery(search=account, limit=_SEARCH_PAGE, offset=offset)
            )
            found.update(summary.case_id for summary in page)
            if len(page) < _SEARCH_PAGE:
                break
            offset += _SEARCH_PAGE
        states = []
        for case_id in found:
            state = self.office.store.load(case_id)
            if state is not None and state.account == account:
                states.append(state)
        if not states:
            raise CaseNotFound(account, account=True)  # the account itself is never said
        states.sort(key=lambda s: (s.opened_at, str(s.case_id)))
        return states

    # --- erasure --------------------------------------------------------------------------

    def forget(
        self, account: str, *, requested_by: str, reason: str, actor: Actor, purge: bool = True
    ) -> ErasureReport:
        """Erase the subject's personal data (see the module). Running it again erases only
        what was written since (nothing: no event is recorded). `purge` False leaves the
        purge of the files to the caller (`purge`, once after many erasures)."""
        requested_by = clean_text("requested_by", requested_by, max_length=MAX_TEXT, one_line=True)
        reason = clean_text("reason", reason, max_length=MAX_TEXT, one_line=True)
        states = self.cases(account)
        account = states[0].account
        in_clear = self.keys.in_clear(s.case_id for s in states)
        readable = self.keys.live_keys(account) > 0
        erased: list[uuid.UUID] = []
        for state in states:
            if state.personal_data_erased_at is not None and not self._written_since(state):
                continue  # erased already, and no personal data written since

            def decide(current: CaseState) -> list[CaseEvent]:
                return [
                    PersonalDataErased(
                        originator_id=current.case_id,
                        originator_version=current.version + 1,
                        timestamp=self.office.clock.now(),
                        actor=actor,
                        requested_by=requested_by,
                        reason=reason,
                    )
                ]

            self.office.execute(state.case_id, decide)
            erased.append(state.case_id)
        if not erased and not readable:  # the files purged again (a purge left before)
            left = self.purge() if purge else ()
            return ErasureReport(cases=0, keys=0, in_clear=in_clear, not_purged=left)
        case_ids = [s.case_id for s in states]
        self.drop_cached_states(case_ids)
        deleted = self.keys.forget(
            account,
            Erasure(
                subject=subject_digest(account),
                erased_at=self.office.clock.now(),
                requested_by=requested_by,
                reason=reason,
                operator=str(actor),
                cases=len(erased),
                keys=0,
            ),
        )
        self.drop_cached_states(case_ids)  # any folded in between, with the keys still there
        self.office.catch_up()  # the index's name and phone columns erased before the purge
        left = self.purge() if purge else ()
        return ErasureReport(cases=len(erased), keys=deleted, in_clear=in_clear, not_purged=left)

    def _written_since(self, state: CaseState) -> bool:
        """Whether an event after the case's last `PersonalDataErased` holds personal data
        (sealed with a key of the subject's, or in clear when sealing is off)."""
        events = list(self.office.store.events_of(state.case_id))
        erased_at = max(
            (e.originator_version for e in events if isinstance(e, PersonalDataErased)), default=0
        )
        return any(e.originator_version > erased_at and _holds_personal_data(e) for e in events)

    # --- export ---------------------------------------------------------------------------

    def export(self, account: str) -> dict[str, Any]:
        """Everything kept of the subject, as JSON-ready data: each case's personal data now
        and every event that recorded some, the reads of their cases, and the erasures."""
        states = self.cases(account)
        account = states[0].account
        cases = []
        for state in states:
            recorded = []
            for event in self.office.store.events_of(state.case_id):
                entry: dict[str, Any] = {
                    "version": event.originator_version,
                    "at": event.timestamp.isoformat(),
                    "event": type(event).__name__,
                }
                if isinstance(event, OutsideWriteRequested):  # the free text sent to Claro
                    sent = {n: v for n, v in event.params if n in PERSONAL_PARAMS}
                    if not sent:
                        continue
                    entry["to"] = f"{event.system} {event.operation}"
                    entry["fields"] = sent
                    recorded.append(entry)
                    continue
                fields = PERSONAL_FIELDS.get(type(event))
                if fields is None:
                    continue
                values = {f: getattr(event, f) for f in fields if getattr(event, f) is not None}
                entry["fields"] = values
                recorded.append(entry)
            cases.append(
                {
                    "case_id": str(state.case_id),
                    "source": str(state.source),
                    "opened_at": state.opened_at.isoformat(),
                    "status": state.status.value,
                    "closed_at": None if state.closed_at is None else state.closed_at.isoformat(),
                    "customer_name": state.customer_name,
                    "phone": state.phone,
                    "request": state.request,
                    "personal_data_erased_at": _iso(state.personal_data_erased_at),
                    "recorded": recorded,
                }
            )
        document: dict[str, Any] = {
            "account": account,
            "exported_at": self.office.clock.now().isoformat(),
            "cases": cases,
            "events_in_clear": self.keys.in_clear(s.case_id for s in states),
            "erasures": [
                {
                    "erased_at": e.erased_at.isoformat(),
                    "requested_by": e.requested_by,
                    "reason": e.reason,
                    "operator": e.operator,
                    "cases": e.cases,
                    "keys": e.keys,
                }
                for e in self.keys.erasures(account)
            ],
        }
        if self.reads is not None:
            document["reads"] = [
                {
                    "at": r.at.isoformat(),
                    "reader": r.reader,
                    "case_id": str(r.case_id),
                    "through": r.through,
                }
                for r in self.reads.reads(case_ids=[s.case_id for s in states])
            ]
        return document

    # --- correction -----------------------------------------------------------------------

    def correct(
        self,
        account: str,
        *,
        customer_name: str | None = None,
        phone: str | None = None,
        actor: Actor,
    ) -> CorrectionReport:
        """Record the subject's rectified name and/or phone on each of their cases."""
        name = None
        if customer_name is not None:
            name = clean_text("customer_name", customer_name, max_length=200, one_line=True)
        number = check_phone(phone) if phone is not None else None
        if name is None and number is None:
            raise InvalidValue("correction", "give the corrected name, phone or both")
        states = self.cases(account)
        for state in states:

            def decide(current: CaseState) -> list[CaseEvent]:
                return [
                    PersonalDataCorrected(
                        originator_id=current.case_id,
                        originator_version=current.version + 1,
                        timestamp=self.office.clock.now(),
                        actor=actor,
                        customer_name=name,
                        phone=number,
                    )
                ]

            self.office.execute(state.case_id, decide)
        self.office.catch_up()  # the index's columns hold the new values before the purge
        return CorrectionReport(cases=len(states), not_purged=self.purge())

    # --- retention ------------------------------------------------------------------------

    def expired(self, account: str, now: datetime, years: int) -> bool:
        """Whether every case of the subject closed more than `years` years before `now`."""
        try:
            states = self.cases(account)
        except CaseNotFound:
            return False
        cutoff = years_before(now, years)
        return all(s.closed_at is not None and s.closed_at < cutoff for s in states)

    def erase_expired(self, accounts: Sequence[str], years: int) -> int:
        """Erase those of `accounts` whose cases all closed more than `years` ago; returns how
        many subjects were erased."""
        now = self.office.clock.now()
        erased = 0
        for account in accounts:
            if not self.expired(account, now, years):
                continue
            report = self.forget(
                account,
                requested_by="política de retención",
                reason=f"casos cerrados hace más de {years} años",
                actor=RETENTION,
                purge=False,
            )
            erased += 1 if report.cases or report.keys else 0
        if erased:
            self.purge()  # once for the page (a store not purged now is purged next time)
        return erased


def _holds_personal_data(event: CaseEvent) -> bool:
    """Whether the event carries personal data still readable: a personal field, or a free-text
    parameter of a write to Claro's systems, neither absent nor read as erased."""
    if isinstance(event, OutsideWriteRequested):
        return any(n in PERSONAL_PARAMS and v != ERASED for n, v in event.params)
    fields = PERSONAL_FIELDS.get(type(event), ())
    return any(getattr(event, f) not in (None, ERASED) for f in fields)


def years_before(moment: datetime, years: int) -> datetime:
    """The same day and time `years` years earlier (28 February for a 29th)."""
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:
        return moment.replace(year=moment.year - years, day=28)


def _iso(value: datetime | None) -> str | None:
    return None if value is None else value.isoformat()
