"""A sample month: November 2026 of a simulated premium back office, and its indicators.

`python -m bench.month [--folder DIR] [--seed N]` imports the example HR roster, shifts and
practice register (`examples/`), then plays the month through the embedding API on a
simulated clock: cases arrive on each working day and go to the agents on shift that day;
agents interpret them, do their follow-ups (most on time, some late, some never, which the
evening sweep records as missed), close most in the first contact and escalate the rest;
some customers call again within days (reincidencia); survey answers and quality
monitorings come in after the closings. It ends with the month's indicators by team and by
agent, as `backoffice indicators --month 2026-11` shows them. The shares below are this
simulation's choices, not measurements of the real operation.
"""

from __future__ import annotations

import argparse
import functools
import heapq
import itertools
import random
import tempfile
from collections.abc import Callable, Sequence
from datetime import date, datetime, time, timedelta
from pathlib import Path

from rich.console import Console

from adapters.clock import FixedClock
from adapters.intake.team import PracticeReader, RosterReader, ShiftReader
from application.intake.records import IntakeRecord
from application.intake.surveys import (
    MonitoringRecord,
    SurveyRecord,
    import_monitorings,
    import_surveys,
)
from application.service import Backoffice
from application.team.imports import ShiftRecord, import_practices, import_roster, import_shifts
from domain.calendar import BOGOTA, BusinessCalendar
from domain.indicators.facts import (
    Dimension,
    Period,
)
from domain.values import (
    Actor,
    Category,
    Channel,
    EscalationTarget,
    LineOfBusiness,
    Priority,
    Resolution,
    SourceKey,
    Subcategory,
)
from entrypoints import indicator_tables
from entrypoints.bootstrap import bootstrap
from entrypoints.settings import load_settings

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"
MONTH = (date(2026, 11, 1), date(2026, 12, 1))
TYPIFICATIONS = (
    ("Facturación - cobro no reconocido", Category.SAC, Subcategory.FACTURACION),
    ("Cartera - suspensión", Category.SAC, Subcategory.CARTERA),
    ("Falla - sin servicio", Category.SOPORTE, Subcategory.FALLA_PUNTUAL),
    ("Falla - intermitencia", Category.SOPORTE, Subcategory.FALLA_PUNTUAL),
)
ON_TIME, LATE = 0.78, 0.12  # the rest of the follow-ups are never done
FIRST_CONTACT = 0.72
REPEAT = 0.09
SURVEYED = 0.45
MONITORED = 0.12


def at(day: date, hour: int, minute: int = 0) -> datetime:
    return datetime.combine(day, time(hour, minute), tzinfo=BOGOTA)


class Month:
    """Actions on a timeline, run in time order with the clock set to each one's moment."""

    def __init__(self, office: Backoffice, clock: FixedClock, rng: random.Random) -> None:
        self.office, self.clock, self.rng = office, clock, rng
        self.queue: list[tuple[datetime, int, Callable[[], object]]] = []
        self.order = itertools.count()
        self.cases = itertools.count(1)
        self.on_shift: dict[date, list[str]] = {}
        """The agents at work each day (on shift and not absent)."""

    def later(self, when: datetime, action: Callable[[], object]) -> None:
        heapq.heappush(self.queue, (when, next(self.order), action))

    def run(self, until: datetime) -> None:
        while self.queue and self.queue[0][0] <= until:
            when, _, action = heapq.heappop(self.queue)
            self.clock.set(when)
            action()

    def arrive(self, when: datetime, agent: str, account: str, kind: int) -> None:
        number = next(self.cases)
        key = f"CRM-26{number:05d}"
        typification, category, subcategory = TYPIFICATIONS[kind]
        due = at(when.astimezone(BOGOTA).date() + timedelta(days=1), 10)
        record = IntakeRecord(
            source=SourceKey(Channel.CRM, key),
            received_at=when,
            account=account,
            line=LineOfBusiness.HOGAR if kind % 2 == 0 else LineOfBusiness.MOVIL,
            customer_name="Cliente simulado",
            typification=typification,
            request="Solicitud simulada",
            follow_up_at=due,
            front_agent="front.simulado",
            recommended_by=None,
        )
        report = self.office.ingest([record])
        if report.created == 0:
            return  # a repeat contact recorded on an open case: its owner carries on
        who = Actor.agent(agent)
        self.office.assign(key, agent=agent, actor=who)
        self.office.interpret(key, category=category, subcategory=subcategory, actor=who)
        draw = self.rng.random()
        if draw < ON_TIME + LATE:
            delay = timedelta(minutes=self.rng.randint(0, 90))
            if draw >= ON_TIME:
                delay = timedelta(hours=self.rng.randint(3, 6))
            self.later(due + delay, lambda: self.follow_up(key, who, account, kind))

    def follow_up(self, key: str, who: Actor, account: str, kind: int) -> None:
        self.office.complete_follow_up(key, outcome="Cliente contactado", actor=who)
        if self.rng.random() >= FIRST_CONTACT:
            self.office.escalate(
                key,
                target=EscalationTarget.RESPONSIBLE_AREA,
                area="Área responsable",
                reason="Requiere gestión de otra área",
                priority=Priority.NORMAL,
                external_reference=None,
                actor=who,
            )
            return
        self.office.typify(
            key, marking_code="SPC-SOLUCIONADO", resolution=Resolution.FIRST_CONTACT, actor=who
        )
        self.office.complete_closing_protocol(
            key,
            resolution_explained=True,
            nothing_else_pending=True,
            closing_script_read=True,
            survey_invited=True,
            actor=who,
        )
        self.office.close_case(key, summary="Solucionado", actor=who, first_contact=True)
        closed = self.clock.now()
        if self.rng.random() < SURVEYED:
            self.later(closed + timedelta(hours=self.rng.randint(4, 40)), lambda: self.survey(key))
        if self.rng.random() < MONITORED:
            self.later(closed + timedelta(days=2), lambda: self.monitor(key, who.name))
        if self.rng.random() < REPEAT:
            again = closed + timedelta(days=self.rng.randint(1, 6), hours=self.rng.randint(0, 3))
            self.later(again, lambda: self.arrive_again(again, account, kind))

    def arrive_again(self, when: datetime, account: str, kind: int) -> None:
        working = self.on_shift.get(when.astimezone(BOGOTA).date())
        if working:
            self.arrive(when, self.rng.choice(working), account, kind)

    def survey(self, key: str) -> None:
        score = self.rng.choices([10, 9, 8, 7, 6, 4], weights=[38, 24, 14, 9, 8, 7])[0]
        import_surveys(
            self.office,
            [
                SurveyRecord(
                    case=key,
                    survey_id=f"ENC-{key}",
                    answered_at=self.clock.now(),
                    recommendation=score,
                    agent_satisfaction=min(10, max(0, score + self.rng.randint(-1, 1))),
                    solved=score >= 7,
                    location="simulación",
                )
            ],
        )

    def monitor(self, key: str, agent: str) -> None:
        import_monitorings(
            self.office,
            [
                MonitoringRecord(
                    case=key,
                    monitoring_id=f"MON-{key}",
                    monitored_at=self.clock.now(),
                    agent=agent,
                    score=self.rng.randint(78, 100),
                    location="simulación",
                )
            ],
        )


def _shifts() -> list[ShiftRecord]:
    return [r for r in ShiftReader(EXAMPLES / "shifts.csv").items() if isinstance(r, ShiftRecord)]


def simulate(folder: Path, seed: int) -> Backoffice:
    clock = FixedClock(at(date(2026, 10, 31), 8))
    settings = load_settings(environ={}, data_dir=str(folder), database_url="sqlite")
    office = bootstrap(settings, clock=clock)
    for report in (
        import_roster(office, RosterReader(EXAMPLES / "roster.csv").items()),
        import_shifts(office, ShiftReader(EXAMPLES / "shifts.csv").items()),
        import_practices(office, PracticeReader(EXAMPLES / "practices.csv").items()),
    ):
        if not report.ok:
            raise SystemExit(f"the examples did not import: {report.rejected[0]}")
    rng = random.Random(seed)
    month = Month(office, clock, rng)
    for shift in _shifts():
        if shift.absence is None and shift.agent != "laura.s":
            month.on_shift.setdefault(shift.day, []).append(shift.agent)
    day = MONTH[0]
    while day < MONTH[1]:
        working = sorted(month.on_shift.get(day, []))
        for _ in range(rng.randint(7, 11) if working else 0):
            when = at(day, 7) + timedelta(minutes=rng.randint(0, 9 * 60))
            account = f"{rng.randint(10_000_000, 99_999_999)}"
            kind = rng.randrange(len(TYPIFICATIONS))
            agent = rng.choice(working)
            month.later(when, functools.partial(month.arrive, when, agent, account, kind))
        month.later(at(day, 18), lambda: office.sweep(worker="sweep-18h"))
        day += timedelta(days=1)
    month.run(at(MONTH[1], 23))
    return office


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.month", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--folder", type=Path, help="keep the data here (default: a temp dir)")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args(argv)
    folder = args.folder or Path(tempfile.mkdtemp(prefix="backoffice-month-"))
    office = simulate(folder, args.seed)
    console = Console(width=160)
    period = Period(BusinessCalendar.start_of(MONTH[0]), BusinessCalendar.start_of(MONTH[1]))
    for by in (Dimension.ALL, Dimension.TEAM, Dimension.AGENT):
        indicator_tables.show_indicators(console, office.indicators(period, by))
    console.print(
        f"data in {folder}: `backoffice --data-dir {folder} indicators --month 2026-11` shows it"
    )
    office.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
