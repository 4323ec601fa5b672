"""Part (c): read latency of one case (`case show`, `history`) on a small and a large store.

Both stores hold cases of 50 events each, made by the domain's own decisions on a state folded
locally (nothing is loaded from the store while building) and appended with the store's
`append` in batches of about 10,000 events. Within a batch the cases advance in turns, so a
case's events lie apart in the file, as they do when many cases are worked on at once.

The two stores are read in alternation (small, large, small, large, …) so that a noisy
neighbour slows both alike; every read is timed on its own.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path

from application.service import Backoffice
from bench.commands import NOTES
from bench.common import (
    T0,
    Section,
    file_size,
    median,
    ms,
    percentile,
    ratio,
    raw_reader,
    sqlite_office,
    timed,
    verdict,
)
from domain.case import decisions
from domain.case.events import CaseEvent
from domain.case.state import CaseState, apply
from domain.values import (
    INTAKE,
    Actor,
    Category,
    Channel,
    EscalationTarget,
    LineOfBusiness,
    Priority,
    SourceKey,
    Subcategory,
)

EVENTS_PER_CASE = 50
CASES_PER_BATCH = 200  # x 50 events = 10,000 events per append
TARGET_MS = 5.0
TARGET_GROWTH = 1.5


@dataclass(frozen=True)
class Sizes:
    small_cases: int
    large_cases: int
    reads: int
    warmup: int


FULL = Sizes(small_cases=200, large_cases=20_000, reads=500, warmup=50)
QUICK = Sizes(small_cases=200, large_cases=2_000, reads=300, warmup=30)

AGENTS = (Actor.agent("agent.lrojas"), Actor.agent("agent.mgil"))


def source(case_no: int) -> SourceKey:
    """The source key of case number `case_no`."""
    return SourceKey(Channel.CRM, f"READ-{case_no:07d}")


def case_id_of(case_no: int) -> uuid.UUID:
    """The id of case number `case_no`, without making its events."""
    return source(case_no).case_id()


def next_event(state: CaseState | None, case_no: int, step: int) -> CaseEvent:
    """The case's event number `step + 1`: ingest, then a mix of agent work."""
    at = T0 + timedelta(minutes=step)
    if state is None:
        return decisions.ingest(
            source=source(case_no),
            received_at=T0 - timedelta(hours=1),
            account=f"{70_000_000 + case_no}",
            line=LineOfBusiness.HOGAR if case_no % 2 else LineOfBusiness.MOVIL,
            customer_name="Cliente de Prueba",
            typification="Soporte - falla internet",
            request="Sin internet desde ayer, módem con luz roja",
            follow_up_at=T0 + timedelta(days=1),
            front_agent="front.lrojas",
            recommended_by=None,
            actor=INTAKE,
            at=T0,
        )
    agent = AGENTS[(step // 25) % 2]
    if step in (1, 25):
        events = decisions.assign(state, agent=agent.name, actor=agent, at=at)
    elif step == 2:
        events = decisions.interpret(
            state,
            category=Category.SOPORTE,
            subcategory=Subcategory.FALLA_PUNTUAL,
            actor=agent,
            at=at,
        )
    elif step % 10 == 3:
        events = decisions.schedule_follow_up(
            state, due_at=at + timedelta(days=1), actor=agent, at=at
        )
    elif step % 10 == 4:
        events = decisions.complete_follow_up(
            state, outcome="Cliente contactado", actor=agent, at=at
        )
    elif step % 10 == 7:
        events = decisions.escalate(
            state,
            target=EscalationTarget.RESPONSIBLE_AREA,
            area="Soporte técnico",
            reason=f"Falla persiste después del reinicio remoto (intento {step // 10 + 1})",
            priority=Priority.NORMAL,
            external_reference=None,
            actor=agent,
            at=at,
        )
    else:
        text = f"{NOTES[step % len(NOTES)]} (paso {step})"
        events = decisions.add_note(state, text=text, actor=agent, at=at)
    (event,) = events
    return event


NextEvent = Callable[[CaseState | None, int, int], CaseEvent]
"""A case's next event from its state, its number and the step (`next_event`'s signature)."""


def batches(
    cases: int, make: NextEvent = next_event
) -> Iterator[tuple[dict[int, CaseState | None], list[CaseEvent]]]:
    """The events of `cases` cases of `EVENTS_PER_CASE` events (`make`'s), `CASES_PER_BATCH`
    cases a batch: each batch (its cases advancing in turns, a step each) with the states its
    cases are left in, folded here (nothing is read from a store)."""
    for first in range(0, cases, CASES_PER_BATCH):
        numbers = range(first, min(first + CASES_PER_BATCH, cases))
        states: dict[int, CaseState | None] = dict.fromkeys(numbers)
        batch: list[CaseEvent] = []
        for step in range(EVENTS_PER_CASE):
            for number in numbers:
                event = make(states[number], number, step)
                states[number] = apply(states[number], event)
                batch.append(event)
        yield states, batch


@dataclass
class Store:
    label: str
    office: Backoffice
    path: Path
    case_ids: list[uuid.UUID]
    events: int
    build_seconds: float


def build(root: Path, label: str, cases: int) -> Store:
    office = sqlite_office(root / label)
    case_ids: list[uuid.UUID] = []
    events = 0
    started = time.perf_counter()
    for states, batch in batches(cases):
        office.store.append(batch)
        events += len(batch)
        case_ids += [state.case_id for state in states.values() if state is not None]
    elapsed = time.perf_counter() - started
    return Store(label, office, root / label / "cases.sqlite", case_ids, events, elapsed)


@dataclass
class Latencies:
    app_case: list[float] = field(default_factory=list)
    app_history: list[float] = field(default_factory=list)
    raw: list[float] = field(default_factory=list)


def measure(stores: list[Store], sizes: Sizes) -> dict[str, Latencies]:
    rng = random.Random(7)
    results = {s.label: Latencies() for s in stores}
    raws = {s.label: raw_reader(s.path) for s in stores}
    for store in stores:
        sample = store.case_ids[0]
        assert store.office.case(sample).version == EVENTS_PER_CASE
        assert len(store.office.history(sample)) == EVENTS_PER_CASE
        assert raws[store.label](sample) == EVENTS_PER_CASE
    for n in range(sizes.warmup + sizes.reads):
        for store in stores:
            case_id = rng.choice(store.case_ids)
            office, raw, out = store.office, raws[store.label], results[store.label]
            case_time = timed(lambda: office.case(case_id))  # noqa: B023
            history_time = timed(lambda: office.history(case_id))  # noqa: B023
            raw_time = timed(lambda: raw(case_id))  # noqa: B023
            if n >= sizes.warmup:
                out.app_case.append(case_time)
                out.app_history.append(history_time)
                out.raw.append(raw_time)
    return results


def stats(values: list[float]) -> str:
    """The median and the p95 of `values` (seconds), in milliseconds, as the tables write them."""
    return f"{ms(median(values))} / {ms(percentile(values, 95))}"


def run(root: Path, quick: bool) -> Section:
    sizes = QUICK if quick else FULL
    section = Section("(c) Read latency of one 50-event case: small store vs large store")
    stores: list[Store] = []
    try:
        stores.append(build(root, "small", sizes.small_cases))
        stores.append(build(root, "large", sizes.large_cases))
        results = measure(stores, sizes)
    finally:
        for store in stores:
            store.office.close()
    small, large = stores
    s, big = results[small.label], results[large.label]

    kinds: tuple[tuple[str, Callable[[Latencies], list[float]], bool], ...] = (
        ("`office.history(case_id)`", lambda x: x.app_history, True),
        ("`office.case(case_id)` (`case show`)", lambda x: x.app_case, False),
    )
    for title, pick, targeted in kinds:
        for store, lat in ((small, s), (large, big)):
            section.add(
                f"{title}, {store.events:,}-event store: median / p95",
                stats(pick(lat)),
                f"raw sqlite3 + json: {stats(lat.raw)}",
                ratio(median(pick(lat)) / median(lat.raw)),
                f"< {TARGET_MS:g} ms" if targeted else "",
                verdict(median(pick(lat)) * 1000 < TARGET_MS) if targeted else "",
            )
        growth = median(pick(big)) / median(pick(s))
        section.add(
            f"{title}: large / small store (medians)",
            ratio(growth),
            f"raw sqlite3 + json: {ratio(median(big.raw) / median(s.raw))}",
            "",
            f"≤ {TARGET_GROWTH}×" if targeted else "",
            verdict(growth <= TARGET_GROWTH) if targeted else "",
        )
    for store in stores:
        section.add(
            f"building the {store.events:,}-event store ({len(store.case_ids):,} cases)",
            f"{store.build_seconds:,.1f} s",
            f"{store.events / store.build_seconds:,.0f} events/s",
            "",
            "",
            "",
        )
    section.note(
        f"{sizes.reads} reads of random cases per store and kind ({sizes.warmup} warm-up reads "
        "not counted), the stores read in alternation; each read timed on its own with "
        "`time.perf_counter`. Files: "
        + ", ".join(f"{st.label} {file_size(st.path) / 1e6:,.0f} MB" for st in stores)
        + " (the OS page cache is warm: they were just written)."
    )
    section.note(
        "Baseline 'raw sqlite3 + json': the same SELECT of the case's 50 rows on the same file "
        "and `json.loads` of each, no mapping to event objects and no fold."
    )
    return section
