"""`/indicators.csv` keeps its columns whatever the rows: a period with nothing in it gives the
same header as one with data (it gave `group` alone), so a spreadsheet or a script reading
the columns by name reads both. The rows' keys are `INDICATOR_COLUMNS` (`PRACTICE_COLUMNS` for
the practices), in that order, by every dimension."""

from __future__ import annotations

import csv
import io
from datetime import timedelta
from pathlib import Path

from adapters.clock import FixedClock
from domain.indicators.facts import Dimension
from entrypoints.indicator_tables import (
    INDICATOR_COLUMNS,
    PRACTICE_COLUMNS,
    indicators_rows,
    practice_rows,
)
from tests.http.conftest import Api

ROOT = Path(__file__).resolve().parents[2]
JULY = {"first": "2026-07-01", "last": "2026-07-31"}
EMPTY = {"first": "2020-01-01", "last": "2020-01-31"}


def _due(clock: FixedClock) -> None:
    """The office's cases' follow-ups due (three days on), so July has rows to count."""
    clock.advance(timedelta(days=3))


def test_the_csv_header_is_the_same_with_rows_and_without(api: Api, clock: FixedClock) -> None:
    _due(clock)
    api.sign_in("audit.a")
    for by in (d.value for d in Dimension):
        full = api.get("/indicators.csv", by=by, **JULY)
        empty = api.get("/indicators.csv", by=by, **EMPTY)
        assert (full.status_code, empty.status_code) == (200, 200), (full.text, empty.text)
        with_rows = list(csv.reader(io.StringIO(full.text)))
        without = list(csv.reader(io.StringIO(empty.text)))
        assert len(with_rows) > 1, (by, full.text)  # July has something to count
        assert without == [list(INDICATOR_COLUMNS)], (by, empty.text)  # the header, no row
        assert with_rows[0] == list(INDICATOR_COLUMNS), by


def test_the_rows_keys_are_the_columns_by_every_dimension(api: Api, clock: FixedClock) -> None:
    from adapters.intake.team import PracticeReader, RosterReader
    from application.indicators.report import IndicatorReport
    from application.team.imports import import_practices, import_roster
    from domain.indicators.facts import Period

    import_roster(api.office, RosterReader(ROOT / "examples" / "roster.csv").items())
    import_practices(api.office, PracticeReader(ROOT / "examples" / "practices.csv").items())
    _due(clock)
    now = api.office.clock.now()
    reports: list[IndicatorReport] = [
        api.office.indicators(Period(now - timedelta(days=400), now + timedelta(days=400)), by)
        for by in Dimension
    ]
    rows = [row for report in reports for row in indicators_rows(report)]
    assert {row["group"] for row in rows} >= {"total"}
    assert all(tuple(row) == INDICATOR_COLUMNS for row in rows)
    practices = [row for report in reports for row in practice_rows(report)]
    assert practices, "the practice register's rows"
    assert all(tuple(row) == PRACTICE_COLUMNS for row in practices)
