"""Part (d): projection catch-up and rebuild rates, against reading the raw log.

A store of cases with 50 events each (the same history as part (c)) is built once; then, in
the same run: reading the whole log raw (rows only), reading it decoded into events, and
rebuilding from zero the case index and the indicators' projection (reset, catch up).
"""

from __future__ import annotations

from pathlib import Path

from bench import reads
from bench.common import Section, rate, ratio, seconds, timed, verdict
from domain.indicators.facts import FACT_EVENTS

FULL_CASES = 4_000  # 200,000 events
QUICK_CASES = 600  # 30,000 events
TARGET = 100_000


def run(root: Path, quick: bool) -> Section:
    store = reads.build(root, "log", QUICK_CASES if quick else FULL_CASES)
    office = store.office
    recorder = office.store.app.recorder  # type: ignore[attr-defined]
    events = store.events

    def raw() -> None:
        position = 0
        while rows := recorder.select_notifications(
            start=position, limit=5_000, inclusive_of_start=False
        ):
            position = rows[-1].id

    def decoded() -> None:
        position = 0
        while batch := office.store.read_log(position, 5_000):
            position = batch[-1].position

    def rebuild_index() -> None:
        office.index.reset()
        office.catch_up(batch_size=5_000)

    def rebuild_indicators() -> None:
        assert office.indicator_view is not None
        office.indicator_view.reset()
        office.catch_up_indicators(batch_size=5_000)

    timings = {name: timed(action) for name, action in (
        ("raw", raw), ("decoded", decoded), ("index", rebuild_index),
        ("indicators", rebuild_indicators), ("raw2", raw), ("decoded2", decoded),
    )}  # fmt: skip
    office_used = office.store.read_log(0, events + 1, kinds=FACT_EVENTS)
    raw_s = min(timings["raw"], timings["raw2"])
    decoded_s = min(timings["decoded"], timings["decoded2"])
    office.close()
    section = Section(f"(d) Projection rebuild from zero, {events:,} events (SQLite)")
    section.add("reading the log, rows only", rate(events / raw_s, "events/s"))
    section.add(
        "reading the log, decoded into events",
        rate(events / decoded_s, "events/s"),
        f"rows only: {rate(events / raw_s, '/s')}",
        ratio(raw_s / decoded_s),
    )
    for label, key in (("case index", "index"), ("indicators' projection", "indicators")):
        per_second = events / timings[key]
        section.add(
            f"rebuild of the {label} (reset + catch up)",
            rate(per_second, "events/s"),
            f"raw log read (rows only): {rate(events / raw_s, '/s')}",
            ratio(raw_s / timings[key]),
            f"≥ {TARGET:,} events/s" if key == "indicators" else "",
            verdict(per_second >= TARGET) if key == "indicators" else "",
        )
    used = len(office_used)
    section.note(
        f"Of the {events:,} events, {used:,} ({used / events:.0%}) are of the kinds the "
        "indicators use (intake, assignment, an agent's work on the case, follow-ups, closings, "
        "surveys, monitorings, roster); catching up leaves the others (notes, mostly) to the "
        "database, unread, and the projection's position moves past them. The case index "
        "uses every kind."
    )
    section.note(
        f"The store was built in {seconds(store.build_seconds)} ({store.events:,} events, "
        f"{len(store.case_ids):,} cases of 50 events). Each read runs twice and the faster run "
        "counts; each rebuild runs once, in batches of 5,000 events per transaction."
    )
    return section
