"""Indicators v2 exactly as docs/procedure.md §11 defines them, played through a hand-made week.

The week is data (`WEEK`): who did what to which case, when (Bogotá time). The expected
numbers are counted by hand in the comments, then checked against the pure functions and
against the projection (`test_indicator_projection` compares the two paths in general).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from application.indicators.report import DEFAULT_INDICATOR_RULES, IndicatorRules, label, report
from domain.calendar import BusinessCalendar
from domain.case import deadlines, decisions
from domain.case.decisions import DEFAULT_FOLLOW_UP_RULES, FollowUpRules
from domain.case.events import ClockBreached, ClockWarned
from domain.indicators.definitions import (
    NpsScale,
    QualityWeights,
    first_contact_resolution,
    seguimientos,
)
from domain.indicators.facts import Dimension, Period, facts_from
from domain.values import Actor, Category, ClockKind, Subcategory
from tests.unit.test_indicators import MARIA, History

BOGOTA = timedelta(hours=5)


def bogota(day: int, hour: int, minute: int = 0) -> datetime:
    """A moment of the week of Monday 6 July 2026, given in Bogotá time."""
    return datetime(2026, 7, day, hour, minute, tzinfo=UTC) + BOGOTA


WEEK_PERIOD = Period(bogota(6, 0), bogota(13, 0))  # Monday 6 to Sunday 12 July, Bogotá

# (case, due of the customer's follow-up, what the agent does, and when)
WEEK: list[tuple[str, datetime, str, datetime | None]] = [
    # P: called back a minute early, closed in first contact the same call.
    ("P", bogota(6, 9), "call, close SPC", bogota(6, 8, 59)),
    # Q: called back exactly at the due minute, closed in first contact.
    ("Q", bogota(7, 10), "call, close SPC", bogota(7, 10)),
    # R: called back one minute late (a 2-hour grace would have hidden it); still open.
    ("R", bogota(8, 11), "call, keep open", bogota(8, 11, 1)),
    # S: the agent interpreted it on Thursday (work begun); the follow-up is due next week.
    ("S", bogota(14, 9), "interpret", bogota(9, 15)),
    # N: the agent only added a note: documenting is not handling [decision].
    ("N", bogota(14, 10), "note", bogota(9, 16)),
    # T: nobody touched it this week (its follow-up is due next week too).
    ("T", bogota(15, 9), "nothing", None),
    # U: closed in first contact on Friday, but the customer called again on Saturday about
    #    the same thing (a repeat within the 7-day window).
    ("U", bogota(10, 9), "call, close SPC", bogota(10, 9)),
]
# By hand:
#   follow-ups due in the week: P, Q, R, U = 4 (S and T are due next week)
#   on time (at or before the due time, no grace): P (08:59 ≤ 09:00), Q (10:00 ≤ 10:00),
#       U (09:00 ≤ 09:00) = 3; late: R = 1  → compliance 3 / 4 = 75 %
#   cases handled (an agent acted in the week): P, Q, R, S, U = 5 (T: nobody acted; N: a
#       note only)
#   SPC closings: P, Q, U = 3; repeated: U = 1 → FCR (3 − 1) / 5 = 40 %
#       (÷ cases closed would give 2 / 3: open work like R and S would not count)
#   reincidencia: 1 / 3


def play_week() -> History:
    h = History()
    for key, due, action, when in WEEK:
        h.ingest(key, f"ACC-{key}-1", due, bogota(6, 7))
        if action.startswith("call"):
            assert when is not None
            h.do(key, decisions.complete_follow_up, outcome="llamada", actor=MARIA, at=when)
        if action.endswith("close SPC"):
            assert when is not None
            h.close(key, MARIA, when, first_contact=True)
        if action == "note":
            h.do(key, decisions.add_note, text="Cliente no contesta", actor=MARIA, at=when)
        if action == "interpret":
            h.do(key, decisions.interpret, category=Category.SAC,
                 subcategory=Subcategory.CARTERA, actor=MARIA, at=when)  # fmt: skip
    # The repeat contact: U's customer calls again on Saturday (a new CRM case, same pair).
    h.ingest("U2", "ACC-U-1", None, bogota(11, 10))
    return h


def test_a_week_gives_the_hand_counted_follow_up_compliance_and_fcr() -> None:
    facts = facts_from(play_week().events)
    [follow_ups] = seguimientos(facts, WEEK_PERIOD).values()
    assert (follow_ups.due, follow_ups.on_time, follow_ups.late) == (4, 3, 1)
    assert follow_ups.compliance == 0.75
    [fcr] = first_contact_resolution(facts, WEEK_PERIOD).values()
    assert (fcr.handled, fcr.first_contact, fcr.repeated) == (5, 3, 1)
    assert fcr.fcr == 0.4
    assert fcr.reincidencia == 1 / 3


def test_work_still_open_does_not_raise_fcr() -> None:
    """Given the week, when the agent also works two more cases without closing them, then
    FCR goes down (more cases handled, no more solved in first contact)."""
    h = play_week()
    for key in ("V", "W"):
        h.ingest(key, f"ACC-{key}-1", None, bogota(6, 7))
        h.do(key, decisions.interpret, category=Category.SAC,
             subcategory=Subcategory.RECAUDO, actor=MARIA, at=bogota(7, 12))  # fmt: skip
    [fcr] = first_contact_resolution(facts_from(h.events), WEEK_PERIOD).values()
    assert (fcr.handled, fcr.fcr) == (7, 2 / 7)


def test_a_case_handled_by_the_intake_or_the_sweep_only_is_not_handled_by_an_agent() -> None:
    h = History()
    h.ingest("X", "ACC-X-1", bogota(6, 9), bogota(6, 7))  # the intake acted
    sweeper = Actor.parse("sweep:worker")
    h.do("X", decisions.mark_follow_up_missed, follow_up_id=1, actor=sweeper, at=bogota(8, 9))
    assert first_contact_resolution(facts_from(h.events), WEEK_PERIOD) == {}


def test_on_time_means_by_the_due_time_and_a_grace_is_a_parameter() -> None:
    h = History()
    h.ingest("R", "ACC-R-1", bogota(8, 11), bogota(6, 7))
    late = decisions.complete_follow_up(
        h.state("R"), outcome="llamada", actor=MARIA, at=bogota(8, 11, 1)
    )
    graced = decisions.complete_follow_up(
        h.state("R"), outcome="llamada", actor=MARIA, at=bogota(8, 11, 1),
        rules=FollowUpRules(on_time_window=timedelta(hours=2)),
    )  # fmt: skip
    assert [e.on_time for e in late] == [False]  # type: ignore[attr-defined]
    assert [e.on_time for e in graced] == [True]  # type: ignore[attr-defined]
    assert DEFAULT_FOLLOW_UP_RULES.on_time_window == timedelta(0)


def test_every_parameter_that_changes_a_number_changes_the_label() -> None:
    base = label(DEFAULT_INDICATOR_RULES, DEFAULT_FOLLOW_UP_RULES)
    assert base.startswith("v3+")
    assert base == label(IndicatorRules(), FollowUpRules())  # same settings, same label
    variants = [
        label(IndicatorRules(window=timedelta(days=8)), DEFAULT_FOLLOW_UP_RULES),
        label(IndicatorRules(scale=NpsScale(9, 8, 5)), DEFAULT_FOLLOW_UP_RULES),
        label(IndicatorRules(weights=QualityWeights(0.5, 0.5)), DEFAULT_FOLLOW_UP_RULES),
        label(DEFAULT_INDICATOR_RULES, FollowUpRules(on_time_window=timedelta(minutes=1))),
        label(DEFAULT_INDICATOR_RULES, FollowUpRules(missed_after=timedelta(hours=4))),
    ]
    assert len({base, *variants}) == 6
    week = facts_from(play_week().events)
    assert report(week, WEEK_PERIOD, Dimension.ALL).definitions == base


def test_a_warning_no_sweep_saw_is_recorded_before_the_breach() -> None:
    """Given an adjustment (warn at 48 h, due at 72 h), when the first sweep after it runs at
    80 h, then it records the warning and then the breach, both naming the due time."""
    h = History()
    h.ingest("A", "ACC-A-1", None, bogota(6, 7))
    rules = deadlines.DeadlineRules(BusinessCalendar(frozenset(), 2025, 2028))
    h.do("A", deadlines.request_adjustment, ticket="DIME-1", rules=rules, actor=MARIA,
         at=bogota(6, 8))  # fmt: skip
    [clock] = h.state("A").clocks
    assert clock.kind is ClockKind.ADJUSTMENT
    sweeper = Actor.parse("sweep:worker")
    events = deadlines.sweep_clock(h.state("A"), clock_id=1, actor=sweeper, at=bogota(9, 16))
    assert [type(e) for e in events] == [ClockWarned, ClockBreached]
    assert [e.originator_version for e in events] == [3, 4]
    assert {e.due_at for e in events} == {clock.due_at}  # type: ignore[attr-defined]
    h.events.extend(events)
    assert deadlines.sweep_clock(h.state("A"), clock_id=1, actor=sweeper, at=bogota(9, 17)) == []


def test_a_case_handled_by_two_owners_in_a_day_counts_for_its_last_one() -> None:
    """Interpreted while unassigned, then given to beto, who closes it in first contact: the
    case is beto's handled case, not "(sin asignar)"'s."""
    h = History()
    beto = Actor.agent("beto.r")
    h.ingest("X", "ACC-X-1", None, bogota(6, 7))
    h.do("X", decisions.interpret, category=Category.SAC, subcategory=Subcategory.CARTERA,
         actor=MARIA, at=bogota(6, 8))  # fmt: skip
    h.do("X", decisions.assign, agent="beto.r", actor=MARIA, at=bogota(6, 9))
    h.close("X", beto, bogota(6, 10), first_contact=True)
    by_agent = first_contact_resolution(facts_from(h.events), WEEK_PERIOD, Dimension.AGENT)
    assert {k: (v.handled, v.first_contact) for k, v in by_agent.items()} == {"beto.r": (1, 1)}
