"""The case index: a read model of the cases, on SQLite or PostgreSQL.

A tracked SQL view (`adapters.sql_view`): rows and log position commit together.

Tables: `case_index` (one row per case), `case_due` (pending follow-ups, the due-items list),
`case_keys` (repeat-contact keys → case; a case's own source key needs no row, its case id is
derived from it), `case_clocks` (running clocks), `case_escalations` (each escalation's area
and priority, for the board's clocks), `case_writes` (outside writes awaiting an answer).
Keys are also kept folded (`key_folded`, indexed) for a search that ignores letter case. Times
are stored as fixed-width UTC text (`2026-07-15T19:30:00.000000Z`).
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from typing import Any

from adapters.intake.parsing import fold
from adapters.personal_keys import truncate_wal
from adapters.sql_view import (
    Cursor,
    SQLiteView,
    SqlView,
    open_view,
    ts,
)
from application.ports.cases import (
    CaseQuery,
    CaseSummary,
    DueClock,
    DueFollowUp,
    LoggedEvent,
    PendingWrite,
    RunningClock,
)
from domain.case.decisions import escalation_reference
from domain.case.events import (
    ERASED,
    EVENT_TYPES,
    Assigned,
    CaseEvent,
    ClockBreached,
    ClockStarted,
    ClockStopped,
    ClockWarned,
    Closed,
    ClosedFirstContact,
    Escalated,
    FollowUpCompleted,
    FollowUpMissed,
    FollowUpScheduled,
    Ingested,
    Interpreted,
    OutsideWriteAnswered,
    OutsideWriteRefused,
    OutsideWriteRequested,
    PersonalDataCorrected,
    PersonalDataErased,
    Reopened,
    RepeatContactRecorded,
    Typified,
)
from domain.values import (
    CaseStatus,
    Category,
    Channel,
    ClockKind,
    LineOfBusiness,
    Priority,
    SourceKey,
    phone_digits,
)

_SEP = "\x1f"


def _open_key(account: str, typification: str) -> str:
    return f"{account}{_SEP}{typification}"


def fold_key(key: str) -> str:
    """A case key as the search compares it: letter case aside (`crm-1` finds `CRM-1`)."""
    return key.casefold()


_CUN_SEPARATORS = str.maketrans("", "", " -.\t")


def cun_digits(text: str) -> str | None:
    """A CUN as the index keeps it and the search compares it: its digits alone, however it
    was written (`4436-26-0004512`, `4436 26 0004512`, `4436260004512`); None when the text
    holds anything but ASCII digits and separators (spaces, dashes, dots)."""
    digits = text.strip().translate(_CUN_SEPARATORS)
    return digits if digits.isascii() and digits.isdigit() else None


TABLES = (
    "CREATE TABLE IF NOT EXISTS case_index ("
    " case_id TEXT PRIMARY KEY, channel TEXT NOT NULL, source_key TEXT NOT NULL,"
    " match_key TEXT NOT NULL, open_key TEXT, status TEXT NOT NULL, line TEXT NOT NULL,"
    " typification TEXT NOT NULL,"
    " agent TEXT, category TEXT, subcategory TEXT, opened_at TEXT NOT NULL,"
    " updated_at TEXT NOT NULL, next_follow_up_at TEXT, version INTEGER NOT NULL,"
    " account TEXT NOT NULL, cun TEXT, customer TEXT NOT NULL, missed INTEGER NOT NULL DEFAULT 0,"
    " phone TEXT, key_folded TEXT NOT NULL)",
    "CREATE INDEX IF NOT EXISTS case_index_open_key ON case_index (open_key)",
    "CREATE INDEX IF NOT EXISTS case_index_account ON case_index (account)",
    "CREATE INDEX IF NOT EXISTS case_index_cun ON case_index (cun)",
    "CREATE INDEX IF NOT EXISTS case_index_phone ON case_index (phone)",
    "CREATE INDEX IF NOT EXISTS case_index_key_folded ON case_index (key_folded)",
    "CREATE INDEX IF NOT EXISTS case_index_next_follow_up ON case_index (next_follow_up_at)",
    # The board's and the queues' filters: an agent's (or nobody's) cases by status, and the
    # cases with a missed follow-up (few: a partial index holds only them).
    "CREATE INDEX IF NOT EXISTS case_index_agent ON case_index (agent, status)",
    "CREATE INDEX IF NOT EXISTS case_index_missed ON case_index (status) WHERE missed > 0",
    "CREATE TABLE IF NOT EXISTS case_due ("
    " case_id TEXT NOT NULL, follow_up_id INTEGER NOT NULL, due_at TEXT NOT NULL,"
    " PRIMARY KEY (case_id, follow_up_id))",
    "CREATE INDEX IF NOT EXISTS case_due_at ON case_due (due_at)",
    "CREATE TABLE IF NOT EXISTS case_clocks ("
    " case_id TEXT NOT NULL, clock_id INTEGER NOT NULL, kind TEXT NOT NULL,"
    " warn_at TEXT, due_at TEXT NOT NULL, warned INTEGER NOT NULL DEFAULT 0,"
    " breached INTEGER NOT NULL DEFAULT 0, reference TEXT, PRIMARY KEY (case_id, clock_id))",
    "CREATE INDEX IF NOT EXISTS case_clocks_due ON case_clocks (due_at)",
    # The cases with a clock of a kind (waiting: an escalation's), at warning or breached.
    "CREATE INDEX IF NOT EXISTS case_clocks_kind ON case_clocks (kind, case_id)",
    "CREATE INDEX IF NOT EXISTS case_clocks_level ON case_clocks (breached, warned, case_id)",
    # An escalation's area and priority, found by its clock's reference (`escalamiento #n`).
    "CREATE TABLE IF NOT EXISTS case_escalations ("
    " case_id TEXT NOT NULL, escalation_id INTEGER NOT NULL, reference TEXT NOT NULL,"
    " area TEXT NOT NULL, priority TEXT NOT NULL, PRIMARY KEY (case_id, escalation_id))",
    "CREATE TABLE IF NOT EXISTS case_writes ("
    " case_id TEXT NOT NULL, write_key TEXT NOT NULL, requested_at TEXT NOT NULL,"
    " PRIMARY KEY (case_id, write_key))",
    "CREATE INDEX IF NOT EXISTS case_writes_requested ON case_writes (requested_at)",
    "CREATE TABLE IF NOT EXISTS case_keys ("
    " source_key TEXT NOT NULL, case_id TEXT NOT NULL, key_folded TEXT,"
    " PRIMARY KEY (source_key, case_id))",
    "CREATE INDEX IF NOT EXISTS case_keys_folded ON case_keys (key_folded)",
)

_INSERT_CASE = (
    "INSERT INTO case_index (case_id, channel, source_key, match_key, open_key, status, line,"
    " typification, opened_at, updated_at, next_follow_up_at, version, account, cun, customer,"
    " phone, key_folded) VALUES (?, ?, ?, ?, ?, 'open', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT DO NOTHING"
)
_INSERT_KEY = (
    "INSERT INTO case_keys (source_key, case_id, key_folded) VALUES (?, ?, ?)"
    " ON CONFLICT DO NOTHING"
)
_INSERT_DUE = (
    "INSERT INTO case_due (case_id, follow_up_id, due_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
)
_TOUCH = "UPDATE case_index SET version = ?, updated_at = ? WHERE case_id = ?"
_NEXT_DUE = (
    "UPDATE case_index SET next_follow_up_at ="
    " (SELECT MIN(due_at) FROM case_due WHERE case_due.case_id = ?) WHERE case_id = ?"
)


def _like(text: str) -> str:
    """`text` as a literal inside a LIKE pattern (`%` and `_` are wildcards there)."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _cun_column(cun: str | None) -> str | None:
    """The `cun` column's value: the CUN's digits (as it is, in the unlikely case it is not a
    CUN the domain would accept today)."""
    return None if cun is None else cun_digits(cun) or cun


def _time(value: str) -> datetime:
    """A time column as written by `ts` (fixed-width UTC text, `…Z`), read with
    `datetime.fromisoformat`: the same aware UTC datetime as `sql_view.dt` gives, about a
    hundred times faster than its `strptime`, which was most of the cost of a list of a few
    hundred rows (the board reads up to 500)."""
    return datetime.fromisoformat(value)


def _time_or_none(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value)


class _CaseIndex(SqlView):
    """The case index's tables and queries, shared by both backends."""

    view_name = "case_index"
    schema_version = 5
    """2: account, CUN, customer (folded, for search) and missed follow-ups per case; 3: the
    customer's phone (its national digits, for search); 4: the CUN as its digits alone (found
    with or without its dashes); 5: the clocks' references and the escalations' areas and
    priorities (the board's clocks without reading cases), keys folded (searched whatever
    their letter case)."""
    tables = TABLES
    kinds = EVENT_TYPES
    """Case events only: the team's streams are left out by the store, never read."""

    def _project(self, c: Cursor, events: Sequence[LoggedEvent]) -> None:
        # A case's Ingested is its first event, so new rows can all go in first.
        ingested = [e.event for e in events if isinstance(e.event, Ingested)]
        if ingested:
            self._insert_cases(c, ingested)
        keys: list[tuple[str, str, str]] = []
        touched: dict[str, tuple[int, str]] = {}
        for logged in events:
            event = logged.event
            if isinstance(event, Ingested) or not isinstance(event, CaseEvent):
                continue  # new cases are in (and a team event, given directly, is not a case's)
            cid = str(event.originator_id)
            if isinstance(event, RepeatContactRecorded):
                keys.append((event.source.key, cid, fold_key(event.source.key)))
            else:
                self._apply(c, event, cid)
            touched[cid] = (event.originator_version, ts(event.timestamp))
        if keys:
            c.executemany(self._sql(_INSERT_KEY), keys)
        if touched:
            c.executemany(self._sql(_TOUCH), [(v, at, cid) for cid, (v, at) in touched.items()])

    def _insert_cases(self, c: Cursor, events: Sequence[Ingested]) -> None:
        rows = []
        dues = []
        for e in events:
            cid = str(e.originator_id)
            follow_up = ts(e.follow_up_at) if e.follow_up_at else None
            at = ts(e.timestamp)
            match_key = _open_key(e.account, e.typification)
            rows.append(
                (
                    cid,
                    e.source.channel._value_,
                    e.source.key,
                    match_key,
                    match_key,
                    e.line._value_,
                    e.typification,
                    at,
                    at,
                    follow_up,
                    e.originator_version,
                    e.account,
                    _cun_column(e.cun),
                    fold(e.customer_name),  # for search: no case, no accents
                    phone_digits(e.phone) if e.phone else None,
                    fold_key(e.source.key),
                )
            )
            if follow_up:
                dues.append((cid, 1, follow_up))
        # In key order: each batch then walks every index's B-tree once, left to right,
        # instead of hopping between pages at random (case ids are uuid5, i.e. random).
        rows.sort()
        dues.sort()
        c.executemany(self._sql(_INSERT_CASE), rows)
        if dues:
            c.executemany(self._sql(_INSERT_DUE), dues)

    def _apply(self, c: Cursor, e: CaseEvent, cid: str) -> None:
        sql = self._sql
        if isinstance(e, Assigned):
            c.execute(sql("UPDATE case_index SET agent = ? WHERE case_id = ?"), (e.agent, cid))
        elif isinstance(e, Interpreted):
            c.execute(
                sql("UPDATE case_index SET category = ?, subcategory = ? WHERE case_id = ?"),
                (e.category.value, e.subcategory.value, cid),
            )
        elif isinstance(e, FollowUpScheduled):
            c.execute(sql(_INSERT_DUE), (cid, e.follow_up_id, ts(e.due_at)))
            c.execute(sql(_NEXT_DUE), (cid, cid))
        elif isinstance(e, FollowUpCompleted | FollowUpMissed):
            c.execute(
                sql("DELETE FROM case_due WHERE case_id = ? AND follow_up_id = ?"),
                (cid, e.follow_up_id),
            )
            c.execute(sql(_NEXT_DUE), (cid, cid))
            if isinstance(e, FollowUpMissed):
                c.execute(
                    sql("UPDATE case_index SET missed = missed + 1 WHERE case_id = ?"), (cid,)
                )
        elif isinstance(e, Typified):
            if e.cun is not None:
                c.execute(
                    sql("UPDATE case_index SET cun = ? WHERE case_id = ?"),
                    (_cun_column(e.cun), cid),
                )
        elif isinstance(e, Closed | ClosedFirstContact):
            c.execute(
                sql("UPDATE case_index SET status = 'closed', open_key = NULL WHERE case_id = ?"),
                (cid,),
            )
        elif isinstance(e, ClockStarted):
            c.execute(
                sql(
                    "INSERT INTO case_clocks (case_id, clock_id, kind, warn_at, due_at, reference)"
                    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
                ),
                (cid, e.clock_id, e.kind.value, ts(e.warn_at) if e.warn_at else None,
                 ts(e.due_at), e.reference),
            )  # fmt: skip
        elif isinstance(e, Escalated):
            c.execute(
                sql(
                    "INSERT INTO case_escalations (case_id, escalation_id, reference, area,"
                    " priority) VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
                ),
                (cid, e.escalation_id, escalation_reference(e.escalation_id), e.area,
                 e.priority.value),
            )  # fmt: skip
        elif isinstance(e, ClockWarned | ClockBreached):
            column = "warned" if isinstance(e, ClockWarned) else "breached"
            c.execute(
                sql(f"UPDATE case_clocks SET {column} = 1 WHERE case_id = ? AND clock_id = ?"),
                (cid, e.clock_id),
            )
        elif isinstance(e, ClockStopped):
            c.execute(
                sql("DELETE FROM case_clocks WHERE case_id = ? AND clock_id = ?"),
                (cid, e.clock_id),
            )
        elif isinstance(e, OutsideWriteRequested):
            c.execute(
                sql(
                    "INSERT INTO case_writes (case_id, write_key, requested_at)"
                    " VALUES (?, ?, ?) ON CONFLICT DO NOTHING"
                ),
                (cid, e.key, ts(e.timestamp)),
            )
        elif isinstance(e, OutsideWriteAnswered | OutsideWriteRefused):
            c.execute(
                sql("DELETE FROM case_writes WHERE case_id = ? AND write_key = ?"), (cid, e.key)
            )
        elif isinstance(e, Reopened):
            c.execute(
                sql(
                    "UPDATE case_index SET status = 'open', open_key = match_key WHERE case_id = ?"
                ),
                (cid,),
            )
        elif isinstance(e, PersonalDataErased | PersonalDataCorrected):
            self._personal(c, e, cid)

    def search(self, query: CaseQuery) -> Sequence[CaseSummary]:
        where, params = self._where(query)
        # Agents work the list in due order; cases without a follow-up come last.
        order = "(next_follow_up_at IS NULL), next_follow_up_at, opened_at, source_key, case_id"
        statement = (
            "SELECT case_id, channel, source_key, status, line, typification, agent, category,"
            " subcategory, opened_at, updated_at, next_follow_up_at, version FROM case_index"
            f" {where} ORDER BY {order} LIMIT {int(query.limit)} OFFSET {int(query.offset)}"
        )
        with self._transaction(commit=False) as c:
            c.execute(self._sql(statement), params)
            rows = c.fetchall()
        return [self._summary(row) for row in rows]

    def count(self, query: CaseQuery) -> int:
        where, params = self._where(query)
        with self._transaction(commit=False) as c:
            c.execute(self._sql(f"SELECT COUNT(*) AS n FROM case_index {where}"), params)
            row = c.fetchone()
        return int(row["n"])

    def count_by_agent(self, query: CaseQuery) -> dict[str, int]:
        where, params = self._where(query)
        where = f"{where} AND agent IS NOT NULL" if where else "WHERE agent IS NOT NULL"
        statement = f"SELECT agent, COUNT(*) AS n FROM case_index {where} GROUP BY agent"
        with self._transaction(commit=False) as c:
            c.execute(self._sql(statement), params)
            rows = c.fetchall()
        return {row["agent"]: int(row["n"]) for row in rows}

    def _where(self, query: CaseQuery) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        if query.status is not None:
            clauses.append("status = ?")
            params.append(query.status.value)
        if query.agent is not None:
            clauses.append("agent = ?")
            params.append(query.agent)
        if query.category is not None:
            clauses.append("category = ?")
            params.append(query.category.value)
        if query.line is not None:
            clauses.append("line = ?")
            params.append(query.line.value)
        if query.follow_up_due_before is not None:
            clauses.append("next_follow_up_at <= ?")
            params.append(ts(query.follow_up_due_before))
        if query.unassigned:
            clauses.append("agent IS NULL")
        if query.missed:
            clauses.append("missed > 0")
        # The cases with such a clock, read from the clocks' indexes (few rows), rather than a
        # look into the clocks for every case row the other filters leave.
        clocks = "case_id IN (SELECT case_id FROM case_clocks WHERE {})"
        if query.waiting:
            clauses.append(clocks.format("kind = ?"))
            params.append(ClockKind.ESCALATION_RESPONSE.value)
        if query.warned:
            clauses.append(clocks.format("breached = 0 AND warned = 1"))
        if query.breached:
            clauses.append(clocks.format("breached = 1"))
        if query.search is not None and query.search.strip():
            text = query.search.strip()
            channel, key = query.search_key()
            # Keys whatever their letter case, through the folded keys' indexes.
            key = fold_key(key)
            own = "key_folded = ?" if channel is None else "(key_folded = ? AND channel = ?)"
            own_params = [key] if channel is None else [key, channel.value]
            exact = f"{own} OR account = ? OR cun = ? OR phone = ?"
            keys = "case_id IN (SELECT case_id FROM case_keys WHERE key_folded = ?)"
            phone = query.search_phone() or ""
            cun = cun_digits(text) or text  # a CUN however written: its digits
            name = fold(text)
            if len(name) >= 3:  # part of a customer's name (folded as stored)
                clauses.append(f"({exact} OR {keys} OR customer LIKE ? ESCAPE '\\')")
                params += [*own_params, text, cun, phone, key, f"%{_like(name)}%"]
            else:
                clauses.append(f"({exact} OR {keys})")
                params += [*own_params, text, cun, phone, key]
        return ("WHERE " + " AND ".join(clauses) if clauses else ""), params

    @staticmethod
    def _summary(row: Mapping[str, Any]) -> CaseSummary:
        opened = _time(row["opened_at"])
        updated = _time(row["updated_at"])
        return CaseSummary(
            case_id=uuid.UUID(row["case_id"]),
            source=SourceKey(Channel(row["channel"]), row["source_key"]),
            status=CaseStatus(row["status"]),
            line=LineOfBusiness(row["line"]),
            typification=row["typification"],
            agent=row["agent"],
            category=Category(row["category"]) if row["category"] else None,
            subcategory=row["subcategory"],
            opened_at=opened,
            updated_at=updated,
            next_follow_up_at=_time_or_none(row["next_follow_up_at"]),
            version=int(row["version"]),
        )

    def due_follow_ups(
        self, until: datetime, limit: int = 1000, *, agent: str | None = None
    ) -> Sequence[DueFollowUp]:
        mine = " AND i.agent = ?" if agent is not None else ""
        statement = (
            "SELECT d.case_id, d.follow_up_id, d.due_at, i.channel, i.source_key, i.agent"
            " FROM case_due d JOIN case_index i ON i.case_id = d.case_id"
            f" WHERE d.due_at <= ?{mine} ORDER BY d.due_at, d.case_id LIMIT {int(limit)}"
        )
        params = (ts(until),) if agent is None else (ts(until), agent)
        with self._transaction(commit=False) as c:
            c.execute(self._sql(statement), params)
            rows = c.fetchall()
        result = []
        for row in rows:
            due = _time(row["due_at"])
            result.append(
                DueFollowUp(
                    case_id=uuid.UUID(row["case_id"]),
                    source=SourceKey(Channel(row["channel"]), row["source_key"]),
                    follow_up_id=int(row["follow_up_id"]),
                    due_at=due,
                    agent=row["agent"],
                )
            )
        return result

    def count_due_by_agent(
        self, until: datetime, overdue_before: datetime
    ) -> dict[str, tuple[int, int]]:
        statement = (
            "SELECT i.agent, COUNT(*) AS due,"
            " SUM(CASE WHEN d.due_at < ? THEN 1 ELSE 0 END) AS overdue"
            " FROM case_due d JOIN case_index i ON i.case_id = d.case_id"
            " WHERE d.due_at <= ? AND i.agent IS NOT NULL GROUP BY i.agent"
        )
        with self._transaction(commit=False) as c:
            c.execute(self._sql(statement), (ts(overdue_before), ts(until)))
            rows = c.fetchall()
        return {row["agent"]: (int(row["due"]), int(row["overdue"])) for row in rows}

    def due_clocks(self, now: datetime, limit: int = 1000) -> Sequence[DueClock]:
        statement = (
            "SELECT k.case_id, k.clock_id, k.kind, k.due_at, i.channel, i.source_key, i.agent"
            " FROM case_clocks k JOIN case_index i ON i.case_id = k.case_id"
            " WHERE (k.warn_at <= ? AND k.warned = 0 AND k.breached = 0)"
            " OR (k.due_at < ? AND k.breached = 0)"
            f" ORDER BY k.due_at, k.case_id, k.clock_id LIMIT {int(limit)}"
        )
        moment = ts(now)
        with self._transaction(commit=False) as c:
            c.execute(self._sql(statement), (moment, moment))
            rows = c.fetchall()
        return [
            DueClock(
                case_id=uuid.UUID(row["case_id"]),
                source=SourceKey(Channel(row["channel"]), row["source_key"]),
                clock_id=int(row["clock_id"]),
                kind=ClockKind(row["kind"]),
                due_at=_time(row["due_at"]),
                agent=row["agent"],
            )
            for row in rows
        ]

    def running_clocks(self, case_ids: Sequence[uuid.UUID]) -> Sequence[RunningClock]:
        if not case_ids:
            return []
        clause, params = self._in("k.case_id", sorted({str(i) for i in case_ids}))
        statement = (
            "SELECT k.case_id, k.clock_id, k.kind, k.reference, k.warn_at, k.due_at, k.warned,"
            " k.breached, i.channel, i.source_key, i.agent, e.area, e.priority"
            " FROM case_clocks k JOIN case_index i ON i.case_id = k.case_id"
            " LEFT JOIN case_escalations e ON e.case_id = k.case_id AND e.reference = k.reference"
            f" AND k.kind = ? WHERE {clause} ORDER BY k.case_id, k.clock_id"
        )
        with self._transaction(commit=False) as c:
            c.execute(self._sql(statement), [ClockKind.ESCALATION_RESPONSE.value, *params])
            rows = c.fetchall()
        return [
            RunningClock(
                case_id=uuid.UUID(row["case_id"]),
                source=SourceKey(Channel(row["channel"]), row["source_key"]),
                agent=row["agent"],
                clock_id=int(row["clock_id"]),
                kind=ClockKind(row["kind"]),
                reference=row["reference"],
                warn_at=_time_or_none(row["warn_at"]),
                due_at=_time(row["due_at"]),
                warned=bool(row["warned"]),
                breached=bool(row["breached"]),
                area=row["area"],
                priority=Priority(row["priority"]) if row["priority"] else None,
            )
            for row in rows
        ]

    def pending_writes(
        self, requested_before: datetime, limit: int = 1000, *, after: PendingWrite | None = None
    ) -> Sequence[PendingWrite]:
        params: tuple[object, ...] = (ts(requested_before),)
        page = ""
        if after is not None:  # keyset: the rows after that one in the same order
            page = " AND (requested_at, case_id, write_key) > (?, ?, ?)"
            params += (ts(after.requested_at), str(after.case_id), after.key)
        statement = (
            "SELECT case_id, write_key, requested_at FROM case_writes WHERE requested_at < ?"
            f"{page} ORDER BY requested_at, case_id, write_key LIMIT {int(limit)}"
        )
        with self._transaction(commit=False) as c:
            c.execute(self._sql(statement), params)
            rows = c.fetchall()
        return [
            PendingWrite(
                case_id=uuid.UUID(row["case_id"]),
                key=row["write_key"],
                requested_at=_time(row["requested_at"]),
            )
            for row in rows
        ]

    def known(self, case_ids: Sequence[uuid.UUID]) -> set[uuid.UUID]:
        if not case_ids:
            return set()
        clause, params = self._in("case_id", [str(i) for i in case_ids])
        with self._transaction(commit=False) as c:
            c.execute(self._sql(f"SELECT case_id FROM case_index WHERE {clause}"), params)
            return {uuid.UUID(row["case_id"]) for row in c.fetchall()}

    def sources_of(self, case_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, SourceKey]:
        if not case_ids:
            return {}
        clause, params = self._in("case_id", [str(i) for i in dict.fromkeys(case_ids)])
        statement = f"SELECT case_id, channel, source_key FROM case_index WHERE {clause}"
        with self._transaction(commit=False) as c:
            c.execute(self._sql(statement), params)
            return {
                uuid.UUID(row["case_id"]): SourceKey(Channel(row["channel"]), row["source_key"])
                for row in c.fetchall()
            }

    def find_by_source_key(self, key: str) -> Sequence[uuid.UUID]:
        # A case's own key is found by its id (one candidate per channel): the index keeps no
        # row for it, a bulk import's largest saving. Repeat-contact keys are in case_keys
        # (indexes projected before this also hold own keys there: the union counts them once).
        own, params = self._in("case_id", [str(SourceKey(ch, key).case_id()) for ch in Channel])
        statement = (
            f"SELECT case_id FROM case_index WHERE {own}"
            " UNION SELECT case_id FROM case_keys WHERE source_key = ?"
        )
        with self._transaction(commit=False) as c:
            c.execute(self._sql(statement), [*params, key])
            return sorted(uuid.UUID(row["case_id"]) for row in c.fetchall())

    def open_cases_for(self, pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], uuid.UUID]:
        keys = sorted({_open_key(a, t) for a, t in pairs})
        if not keys:
            return {}
        clause, params = self._in("open_key", keys)
        with self._transaction(commit=False) as c:
            c.execute(
                self._sql(
                    f"SELECT open_key, case_id FROM case_index WHERE {clause}"
                    " ORDER BY opened_at DESC, case_id DESC"  # the same answer on every backend
                ),
                params,
            )
            rows = c.fetchall()
        found: dict[tuple[str, str], uuid.UUID] = {}
        for row in rows:  # newest first: for a pair, the earliest opened case wins
            account, _, typification = row["open_key"].partition(_SEP)
            found[(account, typification)] = uuid.UUID(row["case_id"])
        return found

    def _personal(self, c: Cursor, e: PersonalDataErased | PersonalDataCorrected, cid: str) -> None:
        """The customer's name and phone columns after an erasure (erased: no phone to find
        the case by) or a correction (`application.privacy`)."""
        if isinstance(e, PersonalDataErased):
            customer: str | None = fold(ERASED)
            phone = None
            statement = "UPDATE case_index SET customer = ?, phone = ? WHERE case_id = ?"
            c.execute(self._sql(statement), (customer, phone, cid))
            return
        if e.customer_name is not None:
            statement = "UPDATE case_index SET customer = ? WHERE case_id = ?"
            c.execute(self._sql(statement), (fold(e.customer_name), cid))
        if e.phone is not None:
            statement = "UPDATE case_index SET phone = ? WHERE case_id = ?"
            c.execute(self._sql(statement), (phone_digits(e.phone), cid))


class SQLiteCaseIndex(_CaseIndex, SQLiteView):
    """On SQLite every write zeroes what it replaces or frees (`PRAGMA secure_delete`): a
    customer's name or phone, erased or corrected, leaves no copy in the file's free space;
    `purge_deleted` empties the write-ahead log, where older pages stay until a checkpoint."""

    @contextmanager
    def _write_transaction(self, rows: int) -> Iterator[Any]:
        with super()._write_transaction(rows) as c:
            c.execute("PRAGMA secure_delete = 1")  # the index's own connections: it stays on
            yield c

    @contextmanager
    def _transaction(self, *, commit: bool) -> Iterator[Any]:
        with super()._transaction(commit=commit) as c:
            if commit:
                c.execute("PRAGMA secure_delete = 1")
            yield c

    def purge_deleted(self) -> bool:
        """Empty the write-ahead log (`personal_keys.truncate_wal`); False when a reader
        kept it busy."""
        return truncate_wal(self.datastore)


def open_case_index(env: Mapping[str, str]) -> _CaseIndex:
    """Build the index for the environment (`PERSISTENCE_MODULE` and its settings)."""
    view = open_view(env, "CaseIndex", SQLiteCaseIndex, "PostgresCaseIndex")
    assert isinstance(view, _CaseIndex)
    return view
