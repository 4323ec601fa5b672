"""The Colombian business calendar: holiday tables, business-day maths, the Bogotá date."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from adapters.calendar_co import colombian_calendar, colombian_holidays
from domain.calendar import BusinessCalendar, CalendarNotCovered

HOLIDAYS_2026 = [
    date(2026, 1, 1), date(2026, 1, 12), date(2026, 3, 23), date(2026, 4, 2), date(2026, 4, 3),
    date(2026, 5, 1), date(2026, 5, 18), date(2026, 6, 8), date(2026, 6, 15), date(2026, 6, 29),
    date(2026, 7, 13), date(2026, 7, 20), date(2026, 8, 7), date(2026, 8, 17), date(2026, 10, 12),
    date(2026, 11, 2), date(2026, 11, 16), date(2026, 12, 8), date(2026, 12, 25),
]  # fmt: skip
HOLIDAYS_2027 = [
    date(2027, 1, 1), date(2027, 1, 11), date(2027, 3, 22), date(2027, 3, 25), date(2027, 3, 26),
    date(2027, 5, 1), date(2027, 5, 10), date(2027, 5, 31), date(2027, 6, 7), date(2027, 7, 5),
    date(2027, 7, 12), date(2027, 7, 20), date(2027, 8, 7), date(2027, 8, 16), date(2027, 10, 18),
    date(2027, 11, 1), date(2027, 11, 15), date(2027, 12, 8), date(2027, 12, 25),
]  # fmt: skip


@pytest.fixture(scope="module")
def calendar() -> BusinessCalendar:
    return colombian_calendar(2026, 2027)


@pytest.mark.parametrize(("year", "table"), [(2026, HOLIDAYS_2026), (2027, HOLIDAYS_2027)])
def test_the_holiday_tables_match_the_law(year: int, table: list[date]) -> None:
    assert sorted(colombian_holidays(year, year)) == table
    assert len(table) == 19


def test_9_july_2026_is_observed_on_monday_13_july(calendar: BusinessCalendar) -> None:
    assert calendar.is_business_day(date(2026, 7, 9))
    assert not calendar.is_business_day(date(2026, 7, 13))
    assert date(2026, 7, 13).weekday() == 0


def test_business_days_count_from_the_next_business_day(calendar: BusinessCalendar) -> None:
    thursday = date(2026, 7, 9)
    assert calendar.add_business_days(thursday, 1) == date(2026, 7, 10)
    assert calendar.add_business_days(thursday, 2) == date(2026, 7, 14)  # weekend + 13 July
    assert calendar.add_business_days(thursday, 12) == date(2026, 7, 29)  # 20 July skipped
    assert calendar.add_business_days(thursday, 15) == date(2026, 8, 3)
    assert calendar.business_days_between(thursday, date(2026, 8, 3)) == 15
    assert calendar.business_days_between(date(2026, 8, 3), thursday) == 0


def test_counting_crosses_the_year_and_its_holidays(calendar: BusinessCalendar) -> None:
    # 24 Dec 2026 (Thu): 25 Dec, the weekend, 1 Jan 2027 (Fri), 2–3 Jan and 11 Jan are off.
    assert calendar.add_business_days(date(2026, 12, 24), 1) == date(2026, 12, 28)
    assert calendar.add_business_days(date(2026, 12, 31), 1) == date(2027, 1, 4)
    assert calendar.add_business_days(date(2027, 1, 8), 1) == date(2027, 1, 12)


def test_the_bogota_date_decides_around_midnight_utc(calendar: BusinessCalendar) -> None:
    filed = datetime(2026, 7, 10, 3, 0, tzinfo=UTC)  # 22:00 on 9 July in Bogotá
    assert calendar.local_date(filed) == date(2026, 7, 9)
    assert calendar.nth_business_day(filed, 15) == date(2026, 8, 3)
    assert calendar.deadline(filed, 15) == datetime(2026, 8, 4, 4, 59, 59, 999_999, tzinfo=UTC)
    later = datetime(2026, 7, 10, 5, 0, tzinfo=UTC)  # 00:00 on 10 July in Bogotá
    assert calendar.nth_business_day(later, 15) == date(2026, 8, 4)
    assert calendar.start_of(date(2026, 7, 29)) == datetime(2026, 7, 29, 5, 0, tzinfo=UTC)


def test_dates_outside_the_calendar_are_refused_not_guessed() -> None:
    calendar = colombian_calendar(2026, 2026)
    with pytest.raises(CalendarNotCovered, match=r"2027-01-01 is outside .* \(2026–2026\)"):
        calendar.add_business_days(date(2026, 12, 31), 1)


def test_the_weekend_set_is_configuration() -> None:
    six_days = colombian_calendar(2026, 2026, weekend=frozenset({6}))
    assert six_days.is_business_day(date(2026, 7, 11))  # a Saturday
    assert six_days.add_business_days(date(2026, 7, 9), 2) == date(2026, 7, 11)
    with pytest.raises(ValueError, match="weekend"):
        BusinessCalendar(
            holidays=frozenset(), first_year=2026, last_year=2026, weekend=frozenset({7})
        )
