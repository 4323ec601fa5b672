"""Colombia's public holidays, from the `holidays` package, as a domain `BusinessCalendar`.

`holidays` >= 0.99 is required: earlier releases miss the holiday of 9 July (Ley 2578 de
2026), which in 2026 is observed on Monday 13 July. Most holidays move to the following
Monday (Ley 51 de 1983, "Ley Emiliani"); the package applies that rule.
"""

from __future__ import annotations

from datetime import date

import holidays

from domain.calendar import SATURDAY_SUNDAY, BusinessCalendar


def colombian_holidays(first_year: int, last_year: int) -> frozenset[date]:
    years = range(first_year, last_year + 1)
    return frozenset(holidays.country_holidays("CO", years=years).keys())


def colombian_calendar(
    first_year: int, last_year: int, weekend: frozenset[int] = SATURDAY_SUNDAY
) -> BusinessCalendar:
    """The business calendar of Colombia for these years (both included)."""
    return BusinessCalendar(
        holidays=colombian_holidays(first_year, last_year),
        first_year=first_year,
        last_year=last_year,
        weekend=weekend,
    )
