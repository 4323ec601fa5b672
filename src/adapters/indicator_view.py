"""The indicators' projection: the facts of `domain.indicators.definitions`, kept in SQL tables.

Events are read into facts by the same `FactBuilder` the pure functions use; this view only
stores them (with the per-case attributes the builder needs between batches) and hands back
the facts of a period. Numbers are then aggregated by the domain's functions, so the
projection and the pure functions cannot define an indicator differently.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any

from adapters.sql_view import (
    Cursor,
    SQLiteView,
    SqlView,
    dt,
    dt_required,
    open_view,
    ts,
)
from application.ports.cases import LoggedEvent
from domain.case.events import CaseEvent
from domain.indicators.facts import (
    FACT_EVENTS,
    Attributes,
    ClosingFact,
    ContactFact,
    FactBuilder,
    Facts,
    FollowUpFact,
    HandlingFact,
    MonitoringFact,
    Period,
    SurveyFact,
    follow_up_order,
    handling_order,
    monitoring_order,
    period_days,
    survey_order,
)
from domain.indicators.workforce import (
    AbsenceFact,
    LeavingFact,
    PlacementFact,
    PracticeFact,
    ShiftFact,
    TeamFact,
    practice_order,
    shift_order,
    team_fact_key,
)
from domain.team.practices import Practice
from domain.team.roster import Role

TABLES = (
    "CREATE TABLE IF NOT EXISTS ind_cases ("
    " case_id TEXT PRIMARY KEY, agent TEXT NOT NULL, category TEXT NOT NULL,"
    " line TEXT NOT NULL, account TEXT NOT NULL, typification TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS ind_follow_ups ("
    " case_id TEXT NOT NULL, follow_up_id INTEGER NOT NULL, due_at TEXT NOT NULL,"
    " status TEXT NOT NULL, settled_at TEXT, agent TEXT NOT NULL, category TEXT NOT NULL,"
    " line TEXT NOT NULL, PRIMARY KEY (case_id, follow_up_id))",
    "CREATE INDEX IF NOT EXISTS ind_follow_ups_due ON ind_follow_ups (due_at)",
    "CREATE INDEX IF NOT EXISTS ind_follow_ups_settled ON ind_follow_ups (settled_at)",
    "CREATE TABLE IF NOT EXISTS ind_closings ("
    " case_id TEXT NOT NULL, version INTEGER NOT NULL, closed_at TEXT NOT NULL,"
    " first_contact INTEGER NOT NULL, account TEXT NOT NULL, typification TEXT NOT NULL,"
    " agent TEXT NOT NULL, category TEXT NOT NULL, line TEXT NOT NULL,"
    " PRIMARY KEY (case_id, version))",
    "CREATE INDEX IF NOT EXISTS ind_closings_at ON ind_closings (closed_at)",
    "CREATE TABLE IF NOT EXISTS ind_handlings ("
    " case_id TEXT NOT NULL, day TEXT NOT NULL, at TEXT NOT NULL, agent TEXT NOT NULL,"
    " category TEXT NOT NULL, line TEXT NOT NULL, PRIMARY KEY (case_id, day))",
    "CREATE INDEX IF NOT EXISTS ind_handlings_at ON ind_handlings (at)",
    "CREATE TABLE IF NOT EXISTS ind_contacts ("
    " case_id TEXT NOT NULL, version INTEGER NOT NULL, account TEXT NOT NULL,"
    " typification TEXT NOT NULL, received_at TEXT NOT NULL, PRIMARY KEY (case_id, version))",
    "CREATE INDEX IF NOT EXISTS ind_contacts_key ON ind_contacts (account, typification)",
    "CREATE TABLE IF NOT EXISTS ind_surveys ("
    " case_id TEXT NOT NULL, survey_id TEXT NOT NULL, answered_at TEXT NOT NULL,"
    " recommendation INTEGER NOT NULL, agent_satisfaction INTEGER, solved INTEGER,"
    " agent TEXT NOT NULL, category TEXT NOT NULL, line TEXT NOT NULL,"
    " PRIMARY KEY (case_id, survey_id))",
    "CREATE INDEX IF NOT EXISTS ind_surveys_at ON ind_surveys (answered_at)",
    "CREATE TABLE IF NOT EXISTS ind_monitorings ("
    " case_id TEXT NOT NULL, monitoring_id TEXT NOT NULL, monitored_at TEXT NOT NULL,"
    " score INTEGER NOT NULL, agent TEXT NOT NULL, category TEXT NOT NULL, line TEXT NOT NULL,"
    " PRIMARY KEY (case_id, monitoring_id))",
    "CREATE INDEX IF NOT EXISTS ind_monitorings_at ON ind_monitorings (monitored_at)",
    "CREATE TABLE IF NOT EXISTS ind_placements ("
    " agent TEXT NOT NULL, since TEXT NOT NULL, team TEXT NOT NULL, role TEXT NOT NULL,"
    " PRIMARY KEY (agent, since))",
    "CREATE TABLE IF NOT EXISTS ind_leavings ("
    " agent TEXT NOT NULL, left_on TEXT NOT NULL, reason TEXT, PRIMARY KEY (agent, left_on))",
    "CREATE TABLE IF NOT EXISTS ind_shifts ("
    " agent TEXT NOT NULL, day TEXT NOT NULL, scheduled INTEGER NOT NULL,"
    " PRIMARY KEY (day, agent))",
    "CREATE TABLE IF NOT EXISTS ind_absences ("
    " agent TEXT NOT NULL, day TEXT NOT NULL, reason TEXT, PRIMARY KEY (day, agent))",
    "CREATE TABLE IF NOT EXISTS ind_practices ("
    " register_key TEXT PRIMARY KEY, practice TEXT NOT NULL, owner TEXT NOT NULL,"
    " held_on TEXT NOT NULL, minutes INTEGER NOT NULL)",
    "CREATE INDEX IF NOT EXISTS ind_practices_on ON ind_practices (held_on)",
)

_UPSERT_CASE = (
    "INSERT INTO ind_cases (case_id, agent, category, line, account, typification)"
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (case_id) DO UPDATE SET agent = excluded.agent,"
    " category = excluded.category, line = excluded.line"
)
_UPSERT_FOLLOW_UP = (
    "INSERT INTO ind_follow_ups (case_id, follow_up_id, due_at, status, settled_at, agent,"
    " category, line) VALUES (?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (case_id, follow_up_id)"
    " DO UPDATE SET status = excluded.status, settled_at = excluded.settled_at,"
    " agent = excluded.agent, category = excluded.category, line = excluded.line"
)
_INSERT_CLOSING = (
    "INSERT INTO ind_closings (case_id, version, closed_at, first_contact, account,"
    " typification, agent, category, line) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT DO NOTHING"
)
_INSERT_SURVEY = (
    "INSERT INTO ind_surveys (case_id, survey_id, answered_at, recommendation,"
    " agent_satisfaction, solved, agent, category, line) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT DO NOTHING"
)
_INSERT_MONITORING = (
    "INSERT INTO ind_monitorings (case_id, monitoring_id, monitored_at, score, agent,"
    " category, line) VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)
# The roster's and the register's facts: each replaces the row with its key.
_TEAM_UPSERTS: dict[type, str] = {
    PlacementFact: "INSERT INTO ind_placements (agent, since, team, role) VALUES (?, ?, ?, ?)"
    " ON CONFLICT (agent, since) DO UPDATE SET team = excluded.team, role = excluded.role",
    LeavingFact: "INSERT INTO ind_leavings (agent, left_on, reason) VALUES (?, ?, ?)"
    " ON CONFLICT (agent, left_on) DO UPDATE SET reason = excluded.reason",
    ShiftFact: "INSERT INTO ind_shifts (agent, day, scheduled) VALUES (?, ?, ?)"
    " ON CONFLICT (day, agent) DO UPDATE SET scheduled = excluded.scheduled",
    AbsenceFact: "INSERT INTO ind_absences (agent, day, reason) VALUES (?, ?, ?)"
    " ON CONFLICT (day, agent) DO UPDATE SET reason = excluded.reason",
    PracticeFact: "INSERT INTO ind_practices (register_key, practice, owner, held_on, minutes)"
    " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING",
}


def _team_row(fact: TeamFact) -> tuple[Any, ...]:
    """A team fact's row, in its table's column order."""
    if isinstance(fact, PlacementFact):
        return (fact.agent, fact.since.isoformat(), fact.team, fact.role.value)
    if isinstance(fact, LeavingFact):
        return (fact.agent, fact.left_on.isoformat(), fact.reason)
    if isinstance(fact, ShiftFact):
        return (fact.agent, fact.day.isoformat(), int(fact.scheduled))
    if isinstance(fact, AbsenceFact):
        return (fact.agent, fact.day.isoformat(), fact.reason)
    return (
        fact.register_key,
        fact.practice.value,
        fact.owner,
        fact.held_on.isoformat(),
        fact.minutes,
    )


_INSERT_HANDLING = (
    "INSERT INTO ind_handlings (case_id, day, at, agent, category, line)"
    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (case_id, day) DO UPDATE SET"
    " agent = excluded.agent, category = excluded.category, line = excluded.line"
)
"""The day's first time stays; its attributes become the last ones (`merge_handling`)."""
_INSERT_CONTACT = (
    "INSERT INTO ind_contacts (case_id, version, account, typification, received_at)"
    " VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING"
)


class _IndicatorView(SqlView):
    view_name = "indicators"
    schema_version = 2
    """2: `ind_handlings` (FCR's cases handled), which stores before it never filled."""
    tables = TABLES
    kinds = FACT_EVENTS

    def _project(self, c: Cursor, events: Sequence[LoggedEvent]) -> None:
        ids = sorted({str(e.event.originator_id) for e in events if isinstance(e.event, CaseEvent)})
        attributes: dict[uuid.UUID, Attributes] = {}
        identity: dict[uuid.UUID, tuple[str, str]] = {}
        pending: dict[uuid.UUID, dict[int, datetime]] = {}
        for chunk in range(0, len(ids), 500):
            clause, params = self._in("case_id", ids[chunk : chunk + 500])
            c.execute(self._sql(f"SELECT * FROM ind_cases WHERE {clause}"), params)
            for row in c.fetchall():
                cid = uuid.UUID(row["case_id"])
                attributes[cid] = Attributes(row["agent"], row["category"], row["line"])
                identity[cid] = (row["account"], row["typification"])
            c.execute(
                self._sql(
                    "SELECT case_id, follow_up_id, due_at FROM ind_follow_ups"
                    f" WHERE status = 'pending' AND {clause}"
                ),
                params,
            )
            for row in c.fetchall():
                due = pending.setdefault(uuid.UUID(row["case_id"]), {})
                due[int(row["follow_up_id"])] = dt_required(row["due_at"])
        builder = FactBuilder(attributes, identity, pending)
        follow_ups: dict[tuple[str, int], tuple[Any, ...]] = {}
        closings: list[tuple[Any, ...]] = []
        contacts: list[tuple[Any, ...]] = []
        surveys: list[tuple[Any, ...]] = []
        monitorings: list[tuple[Any, ...]] = []
        handlings: dict[tuple[str, date], tuple[Any, ...]] = {}
        team: dict[type, dict[tuple[Any, ...], tuple[Any, ...]]] = {t: {} for t in _TEAM_UPSERTS}
        for logged in events:
            for fact in builder.apply(logged.event):
                if isinstance(fact, TeamFact):
                    team[type(fact)][team_fact_key(fact)] = _team_row(fact)
                    continue
                case = str(fact.case_id)
                if isinstance(fact, FollowUpFact):
                    a = fact.attributes
                    follow_ups[(case, fact.follow_up_id)] = (
                        case, fact.follow_up_id, ts(fact.due_at), fact.status,
                        ts(fact.settled_at) if fact.settled_at else None,
                        a.agent, a.category, a.line,
                    )  # fmt: skip
                elif isinstance(fact, HandlingFact):
                    a = fact.attributes
                    earlier = handlings.get((case, fact.day))
                    at = earlier[2] if earlier else ts(fact.at)
                    handlings[(case, fact.day)] = (
                        case, fact.day.isoformat(), at, a.agent, a.category, a.line,
                    )  # fmt: skip
                elif isinstance(fact, ClosingFact):
                    a = fact.attributes
                    closings.append(
                        (case, fact.version, ts(fact.closed_at), int(fact.first_contact),
                         fact.account, fact.typification, a.agent, a.category, a.line)
                    )  # fmt: skip
                elif isinstance(fact, MonitoringFact):
                    a = fact.attributes
                    monitorings.append(
                        (
                            case,
                            fact.monitoring_id,
                            ts(fact.monitored_at),
                            fact.score,
                            a.agent,
                            a.category,
                            a.line,
                        )
                    )
                elif isinstance(fact, SurveyFact):
                    a = fact.attributes
                    solved = None if fact.solved is None else int(fact.solved)
                    surveys.append(
                        (
                            case,
                            fact.survey_id,
                            ts(fact.answered_at),
                            fact.recommendation,
                            fact.agent_satisfaction,
                            solved,
                            a.agent,
                            a.category,
                            a.line,
                        )
                    )
                else:
                    contacts.append(
                        (case, fact.version, fact.account, fact.typification,
                         ts(fact.received_at))
                    )  # fmt: skip
        cases = [
            (str(cid), a.agent, a.category, a.line, *identity[cid])
            for cid, a in attributes.items()
            if cid in identity
        ]
        for statement, rows in (
            (_UPSERT_CASE, cases),
            (_UPSERT_FOLLOW_UP, list(follow_ups.values())),
            (_INSERT_CLOSING, closings),
            (_INSERT_CONTACT, contacts),
            (_INSERT_HANDLING, list(handlings.values())),
            (_INSERT_SURVEY, surveys),
            (_INSERT_MONITORING, monitorings),
        ):
            if rows:
                c.executemany(self._sql(statement), rows)
        for kind, keyed in team.items():
            if keyed:
                c.executemany(self._sql(_TEAM_UPSERTS[kind]), list(keyed.values()))

    def has_roster(self) -> bool:
        with self._transaction(commit=False) as c:
            c.execute("SELECT 1 AS found FROM ind_placements LIMIT 1")
            return c.fetchone() is not None

    def facts(self, start: datetime, end: datetime, window: timedelta) -> Facts:
        """The facts that the indicators of [start, end) can depend on."""
        begin, finish, later = ts(start), ts(end), ts(end + window)
        with self._transaction(commit=False) as c:
            # Due in the period (Seguimientos), or settled in it (Efectividad's agent-days).
            c.execute(
                self._sql(
                    "SELECT * FROM ind_follow_ups WHERE (due_at >= ? AND due_at < ?)"
                    " OR (settled_at >= ? AND settled_at < ?)"
                ),
                (begin, finish, begin, finish),
            )
            follow_ups = [_follow_up(row) for row in c.fetchall()]
            c.execute(
                self._sql("SELECT * FROM ind_closings WHERE closed_at >= ? AND closed_at < ?"),
                (begin, finish),
            )
            closings = [_closing(row) for row in c.fetchall()]
            c.execute(
                self._sql("SELECT * FROM ind_handlings WHERE at >= ? AND at < ?"), (begin, finish)
            )
            handlings = [
                HandlingFact(
                    uuid.UUID(r["case_id"]),
                    date.fromisoformat(r["day"]),
                    dt_required(r["at"]),
                    Attributes(r["agent"], r["category"], r["line"]),
                )
                for r in c.fetchall()
            ]
            c.execute(
                self._sql("SELECT * FROM ind_contacts WHERE received_at > ? AND received_at <= ?"),
                (begin, later),
            )
            contacts = [_contact(row) for row in c.fetchall()]
            c.execute(
                self._sql("SELECT * FROM ind_surveys WHERE answered_at >= ? AND answered_at < ?"),
                (begin, finish),
            )
            surveys = [_survey(row) for row in c.fetchall()]
            c.execute(
                self._sql(
                    "SELECT * FROM ind_monitorings WHERE monitored_at >= ? AND monitored_at < ?"
                ),
                (begin, finish),
            )
            monitorings = [_monitoring(row) for row in c.fetchall()]
            # The roster is small and wanted whole; shifts for the period's days; practices
            # for the units the period's anchors reach (half a year back at most).
            first, stop = period_days(Period(start, end))
            c.execute(self._sql("SELECT * FROM ind_placements ORDER BY agent, since"))
            placements = [
                PlacementFact(
                    r["agent"], date.fromisoformat(r["since"]), r["team"], Role(r["role"])
                )
                for r in c.fetchall()
            ]
            c.execute(self._sql("SELECT * FROM ind_leavings ORDER BY agent, left_on"))
            leavings = [
                LeavingFact(r["agent"], date.fromisoformat(r["left_on"]), r["reason"])
                for r in c.fetchall()
            ]
            days = (first.isoformat(), stop.isoformat())
            c.execute(self._sql("SELECT * FROM ind_shifts WHERE day >= ? AND day < ?"), days)
            shifts = [
                ShiftFact(r["agent"], date.fromisoformat(r["day"]), bool(r["scheduled"]))
                for r in c.fetchall()
            ]
            c.execute(self._sql("SELECT * FROM ind_absences WHERE day >= ? AND day < ?"), days)
            absences = [
                AbsenceFact(r["agent"], date.fromisoformat(r["day"]), r["reason"])
                for r in c.fetchall()
            ]
            # A unit due in the period may start up to 181 days before it (a half-year ending
            # on its first day) and end up to 9 days after it (a half-month anchored on the
            # 23rd of its last day's month runs to the month's end).
            reach = (
                (first - timedelta(days=190)).isoformat(),
                (stop + timedelta(days=10)).isoformat(),
            )
            c.execute(
                self._sql("SELECT * FROM ind_practices WHERE held_on >= ? AND held_on < ?"), reach
            )
            held = [
                PracticeFact(
                    r["register_key"],
                    Practice(r["practice"]),
                    r["owner"],
                    date.fromisoformat(r["held_on"]),
                    int(r["minutes"]),
                )
                for r in c.fetchall()
            ]
        return Facts(
            tuple(sorted(follow_ups, key=follow_up_order)),
            tuple(sorted(closings, key=lambda f: (f.closed_at, str(f.case_id), f.version))),
            tuple(sorted(contacts, key=lambda f: (f.received_at, str(f.case_id), f.version))),
            tuple(sorted(surveys, key=survey_order)),
            tuple(sorted(monitorings, key=monitoring_order)),
            tuple(placements),
            tuple(leavings),
            tuple(sorted(shifts, key=shift_order)),
            tuple(sorted(absences, key=shift_order)),
            tuple(sorted(held, key=practice_order)),
            tuple(sorted(handlings, key=handling_order)),
        )


def _follow_up(row: Mapping[str, Any]) -> FollowUpFact:
    return FollowUpFact(
        uuid.UUID(row["case_id"]),
        int(row["follow_up_id"]),
        dt_required(row["due_at"]),
        row["status"],
        dt(row["settled_at"]),
        Attributes(row["agent"], row["category"], row["line"]),
    )


def _closing(row: Mapping[str, Any]) -> ClosingFact:
    return ClosingFact(
        uuid.UUID(row["case_id"]),
        int(row["version"]),
        dt_required(row["closed_at"]),
        bool(row["first_contact"]),
        row["account"],
        row["typification"],
        Attributes(row["agent"], row["category"], row["line"]),
    )


def _monitoring(row: Mapping[str, Any]) -> MonitoringFact:
    return MonitoringFact(
        uuid.UUID(row["case_id"]),
        row["monitoring_id"],
        dt_required(row["monitored_at"]),
        int(row["score"]),
        Attributes(row["agent"], row["category"], row["line"]),
    )


def _survey(row: Mapping[str, Any]) -> SurveyFact:
    return SurveyFact(
        uuid.UUID(row["case_id"]),
        row["survey_id"],
        dt_required(row["answered_at"]),
        int(row["recommendation"]),
        None if row["agent_satisfaction"] is None else int(row["agent_satisfaction"]),
        None if row["solved"] is None else bool(row["solved"]),
        Attributes(row["agent"], row["category"], row["line"]),
    )


def _contact(row: Mapping[str, Any]) -> ContactFact:
    return ContactFact(
        uuid.UUID(row["case_id"]),
        int(row["version"]),
        row["account"],
        row["typification"],
        dt_required(row["received_at"]),
    )


class SQLiteIndicatorView(_IndicatorView, SQLiteView):
    pass


def open_indicator_view(env: Mapping[str, str]) -> _IndicatorView:
    view = open_view(env, "Indicators", SQLiteIndicatorView, "PostgresIndicatorView")
    assert isinstance(view, _IndicatorView)
    return view
