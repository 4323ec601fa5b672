"""Business days on the Bogotá calendar: the arithmetic behind the regulatory clocks.

Pure: the holidays come in as a set of dates (an adapter reads them from the `holidays`
package). Days are counted on the Bogotá local date, whatever the time zone of the moment
given: a case filed at 03:00 UTC on 10 July 2026 was filed on 9 July in Bogotá.

Counting follows the PQR rule "from the next business day": the 1st business day after a
filing on Thursday 9 July 2026 is Friday 10 July; the 15th is Monday 3 August (13 and 20 July
are holidays).
"""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta, timezone

import attrs

from domain.errors import DomainError
from domain.values import require_aware

# Colombia has kept UTC−5 without daylight saving time since 1993.
BOGOTA = timezone(timedelta(hours=-5), "America/Bogota")
SATURDAY_SUNDAY = frozenset({5, 6})  # date.weekday() numbers
_END_OF_DAY = time(23, 59, 59, 999_999)


class CalendarNotCovered(DomainError):
    def __init__(self, day: date, first: int, last: int) -> None:
        super().__init__(
            f"{day.isoformat()} is outside the business calendar's years ({first}–{last})"
        )


@attrs.frozen
class BusinessCalendar:
    """Working days: every day but the weekend set and the holidays of the covered years."""

    holidays: frozenset[date]
    first_year: int
    last_year: int
    weekend: frozenset[int] = SATURDAY_SUNDAY

    def __attrs_post_init__(self) -> None:
        if self.first_year > self.last_year:
            raise ValueError("first_year must not be after last_year")
        if not self.weekend <= set(range(7)) or len(self.weekend) == 7:
            raise ValueError("weekend must be a proper subset of weekday numbers 0–6")

    @staticmethod
    def local_date(moment: datetime) -> date:
        """The Bogotá date of a moment."""
        return require_aware("moment", moment).astimezone(BOGOTA).date()

    @staticmethod
    def start_of(day: date) -> datetime:
        """00:00 Bogotá of `day`, in UTC."""
        return datetime.combine(day, time(0), BOGOTA).astimezone(UTC)

    @staticmethod
    def end_of(day: date) -> datetime:
        """The last instant of `day` in Bogotá, in UTC."""
        return datetime.combine(day, _END_OF_DAY, BOGOTA).astimezone(UTC)

    def _check(self, day: date) -> None:
        if not self.first_year <= day.year <= self.last_year:
            raise CalendarNotCovered(day, self.first_year, self.last_year)

    def is_business_day(self, day: date) -> bool:
        self._check(day)
        return day.weekday() not in self.weekend and day not in self.holidays

    def add_business_days(self, start: date, days: int) -> date:
        """The `days`-th business day after `start` (`start` itself never counts)."""
        if days < 1:
            raise ValueError("days must be at least 1")
        day = start
        counted = 0
        while counted < days:
            day += timedelta(days=1)
            if self.is_business_day(day):
                counted += 1
        return day

    def business_days_between(self, start: date, end: date) -> int:
        """How many business days fall after `start` and up to `end` (0 when end ≤ start)."""
        count = 0
        day = start
        while day < end:
            day += timedelta(days=1)
            if self.is_business_day(day):
                count += 1
        return count

    def nth_business_day(self, filed_at: datetime, days: int) -> date:
        """The `days`-th business day after the Bogotá date of `filed_at`."""
        return self.add_business_days(self.local_date(filed_at), days)

    def deadline(self, filed_at: datetime, days: int) -> datetime:
        """The end (Bogotá) of the `days`-th business day after filing, in UTC."""
        return self.end_of(self.nth_business_day(filed_at, days))
