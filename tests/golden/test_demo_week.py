"""The golden test: the demo's week, event for event and indicator for indicator.

The demo simulates a working week through every part of the procedure (intake, the branches,
the worker, the imports of the roster, shifts, surveys, monitorings and practices). Its whole
log and the week's indicators are kept in `demo_week.json`; a change that alters any event,
its order or any indicator value fails here, so a refactoring is proved to change nothing.

When a change is meant to alter them, regenerate the fixture and review its diff:
`UPDATE_GOLDEN=1 .venv/bin/pytest tests/golden`.
"""

from __future__ import annotations

import io
import json
import os
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from rich.console import Console

from adapters.clock import FixedClock
from adapters.eventstore.mapper import TOPICS, event_payload
from domain.calendar import BusinessCalendar
from domain.indicators.facts import Dimension, Period
from entrypoints.bootstrap import bootstrap
from entrypoints.demo import run_demo
from entrypoints.indicator_tables import indicators_rows
from entrypoints.settings import load_settings
from tests.conftest import in_ci

FIXTURE = Path(__file__).with_name("demo_week.json")


WEEK_END = datetime(2026, 12, 4, 23, tzinfo=UTC)
"""Friday 18:00 in Bogotá: the week's indicators read as of its end, whatever today is (a
practice unit still running is due only once met: read a day later, it is due regardless)."""


def _week(folder: Path) -> dict[str, Any]:
    settings = load_settings(environ={}, data_dir=str(folder))
    with bootstrap(settings, clock=FixedClock(WEEK_END)) as office:
        log = [
            {
                "position": logged.position,
                "topic": TOPICS[type(logged.event)],
                "stream": str(logged.event.originator_id),
                "version": logged.event.originator_version,
                "data": event_payload(logged.event),
            }
            for logged in office.store.read_log(0, 1_000_000)
        ]
        week = Period(
            BusinessCalendar.start_of(date(2026, 11, 30)),
            BusinessCalendar.start_of(date(2026, 12, 4) + timedelta(days=1)),
        )
        indicators = {
            dimension.value: indicators_rows(office.indicators(week, by=dimension))
            for dimension in (Dimension.ALL, Dimension.AGENT)
        }
    week_data = {"events": log, "indicators": indicators}
    return dict(json.loads(json.dumps(week_data, default=str)))  # as the fixture reads back


def test_the_demo_week_is_reproduced_exactly(tmp_path: Path) -> None:
    folder = run_demo(tmp_path, None, Console(file=io.StringIO(), width=160))
    got = _week(folder)
    if os.environ.get("UPDATE_GOLDEN"):
        if in_ci():
            pytest.fail("UPDATE_GOLDEN is set in CI: the golden week would not be checked")
        FIXTURE.write_text(json.dumps(got, ensure_ascii=False, indent=1) + "\n", "utf-8")
        pytest.skip("fixture regenerated: review its diff")
    want = json.loads(FIXTURE.read_text("utf-8"))
    assert len(got["events"]) == len(want["events"])
    for mine, theirs in zip(got["events"], want["events"], strict=True):
        assert mine == theirs
    assert got["indicators"] == want["indicators"]
