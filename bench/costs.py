"""What parts (g), (i) and (j) share: a protection's cost, as the same work with it on and off
in one run, the two alternating.

- `mapper_rows`: the mapper alone (no database), events of part (c)'s cases to stored rows and
  back;
- `command_rows`: part (a)'s agent command on an office with the protection and one without;
- `rebuild_rows`: a log of part (c)'s 50-event cases appended in batches (`appending`, or a
  part's own builder) and the case index rebuilt from it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from adapters.eventstore.mapper import CaseEventMapper
from application.service import Backoffice
from bench import commands, reads
from bench.common import COST_TARGET, Section, rate, ratio, verdict
from domain.case.events import CaseEvent
from domain.case.state import CaseState, apply

MAPPER_CASES = 20
MAPPER_ROUNDS = 7
"""Rounds of the mapper alone, each way; the least CPU time counts."""

Times = tuple[float, float]
"""Seconds of wall time and of this process's CPU time."""
OfficeOf = Callable[[Path, bool], Backoffice]
"""A part's office in a data folder, with the protection (True) or without (False)."""


# --- the mapper alone ------------------------------------------------------------------------


def case_events(cases: int) -> list[CaseEvent]:
    """Every event of part (c)'s first `cases` cases, case after case."""
    events: list[CaseEvent] = []
    for number in range(cases):
        state: CaseState | None = None
        for step in range(reads.EVENTS_PER_CASE):
            event = reads.next_event(state, number, step)
            state = apply(state, event)
            events.append(event)
    return events


def mapper_rows(section: Section, on: CaseEventMapper, off: CaseEventMapper, words: str) -> None:
    """The mapper alone, in a tight loop: the events of `MAPPER_CASES` of part (c)'s cases to
    stored rows (`to_stored_events`, as the store appends) and back, with the protection
    (`on`) and without (`off`), alternating; the least CPU time per event of `MAPPER_ROUNDS`
    rounds, a row each way (`words`: "encrypted / plain", ...)."""
    events = case_events(MAPPER_CASES)
    mappers = {True: on, False: off}
    rows = {key: mapper.to_stored_events(events) for key, mapper in mappers.items()}
    best: dict[tuple[bool, str], float] = {}
    for _ in range(MAPPER_ROUNDS):
        for key, mapper in mappers.items():
            started = time.process_time()
            mapper.to_stored_events(events)
            encoded = time.process_time()
            for row in rows[key]:
                mapper.to_domain_event(row)
            decoded = time.process_time()
            for way, spent in (("encode", encoded - started), ("decode", decoded - encoded)):
                each = spent / len(events)
                best[key, way] = min(best.get((key, way), each), each)
    for way, what in (("encode", "event to stored row"), ("decode", "stored row to event")):
        with_it, without = best[True, way], best[False, way]
        section.add(
            f"mapper alone, {what}, CPU time, {words}",
            f"{with_it * 1e6:,.1f} µs",
            f"{without * 1e6:,.1f} µs",
            ratio(with_it / without),
        )


# --- agent commands --------------------------------------------------------------------------


def command_rows(
    section: Section, root: Path, sizes: commands.Sizes, office: OfficeOf, names: tuple[str, str]
) -> None:
    """Part (a)'s `add_note` on `office`'s office with the protection and without, named
    `names` (with it first: "encrypted", "plain"), each in `root / name`: the rows of
    `commands.cost_rows`, their words the names ("encrypted / plain")."""
    records = commands.intake_records(sizes.cases)
    on, off = (
        commands.ApplicationVariant(root, records, office=office(root / name, with_it), name=name)
        for name, with_it in zip(names, (True, False), strict=True)
    )
    commands.cost_rows(section, on, off, sizes, " / ".join(names), COST_TARGET)


# --- a log built and its case index rebuilt --------------------------------------------------


@dataclass
class Log:
    """A log of 50-event cases, built."""

    office: Backoffice
    events: int
    appended: Times
    """What building it took (a builder that does not measure CPU time gives 0.0)."""


def append_log(office: Backoffice, cases: int) -> Log:
    """Part (c)'s log of `cases` 50-event cases appended to `office` in batches; only the
    appends timed (the events are made outside)."""
    events = 0
    wall = cpu = 0.0
    for _, batch in reads.batches(cases):
        started, cpu_started = time.perf_counter(), time.process_time()
        office.store.append(batch)
        wall += time.perf_counter() - started
        cpu += time.process_time() - cpu_started
        events += len(batch)
    return Log(office, events, (wall, cpu))


Build = Callable[[Path, str, int, bool], Log]
"""A part's builder: a log of so many cases in `root / label`, with the protection (True) or
without (False)."""


def appending(office: OfficeOf) -> Build:
    """The builder that appends part (c)'s log (`append_log`) to `office`'s office in the
    folder."""

    def build(root: Path, label: str, cases: int, with_it: bool) -> Log:
        return append_log(office(root / label, with_it), cases)

    return build


Check = Callable[[Backoffice, int], None]
"""What a part asserts of a rebuilt office of so many cases (that the protection really ran)."""


def rebuild_rows(
    section: Section,
    root: Path,
    quick: bool,
    build: Build,
    *,
    repeats: int,
    wall: str,
    cpu: str | None = None,
    check: Check | None = None,
) -> None:
    """A log of 50-event cases built (`build`) and its case index rebuilt (reset, catch up)
    with the protection and without, `repeats` times each way, alternating, the fastest of
    each counting (one run alone is mostly noise); `check` runs on each rebuilt office.
    Rows of wall time with the cost target (`wall`: their words, "chain on / off", ...),
    and of CPU time where `cpu` gives their words."""
    cases = 300 if quick else 2_000
    best: dict[bool, list[float]] = {}
    events = 0
    for n, on in enumerate((True, False) * repeats):
        log = build(root, f"log_{'on' if on else 'off'}_{n}", cases, on)
        office = log.office
        try:
            started, cpu_started = time.perf_counter(), time.process_time()
            office.index.reset()
            office.catch_up(batch_size=5_000)
            rebuilt = (time.perf_counter() - started, time.process_time() - cpu_started)
            if check is not None:
                check(office, cases)
        finally:
            office.close()
        events = log.events
        times = [*log.appended, *rebuilt]
        kept = best.get(on)
        best[on] = times if kept is None else [min(a, b) for a, b in zip(kept, times, strict=True)]
    for i, what in ((0, "appending 50-event cases in batches"), (2, "case index rebuild")):
        with_it, without = best[True][i], best[False][i]
        section.add(
            f"{what} ({events:,} events), {wall}",
            rate(events / with_it, "events/s"),
            rate(events / without, "events/s"),
            ratio(with_it / without),
            f"≤ {COST_TARGET}×",
            verdict(with_it / without <= COST_TARGET),
        )
        if cpu is not None:
            with_it, without = best[True][i + 1], best[False][i + 1]
            section.add(
                f"{what}, {cpu}",
                rate(events / with_it, "events/s"),
                rate(events / without, "events/s"),
                ratio(with_it / without),
            )
