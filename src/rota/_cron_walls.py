"""Search over local wall-clock times, ignoring timezones.

A wall time is ``(year, month, day, second_of_day)``. ``Walls`` finds the
first matching wall time at or after a given one, and the last at or
before. Times of day are one sorted tuple searched with ``bisect``; a
month's matching days are cached per ``(year, month)``.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left, bisect_right
from collections.abc import Sequence

from rota._cron_days import first_weekday, matching_days, month_length
from rota._cron_parse import Parsed

Wall = tuple[int, int, int, int]
Date = tuple[int, int, int]

MIN_YEAR = 1
MAX_YEAR = 9999
_DAY_CACHE_SIZE = 4096  # months: 341 years


class NoSlot(OverflowError):
    """No matching wall time between year 1 and year 9999."""


def times_of_day(parsed: Parsed) -> Sequence[int]:
    """Every allowed second of the day, sorted (an array when it is large)."""
    tod = [
        h * 3600 + m * 60 + s for h in parsed.hours for m in parsed.minutes for s in parsed.seconds
    ]
    return tuple(tod) if len(tod) <= 4096 else array("i", tod)


class Walls:
    """Matching wall times of one parsed expression."""

    __slots__ = ("_cache", "_every_day", "_next_month", "_prev_month", "_shapes", "_spec", "tod")

    def __init__(self, parsed: Parsed) -> None:
        self.tod = times_of_day(parsed)
        self._spec = parsed.days
        self._every_day = parsed.days.every_day
        months = parsed.months
        # _next_month[m]: first allowed month >= m (13: none); _prev_month[m]: last <= m (0: none)
        self._next_month = [next((x for x in range(m, 13) if x in months), 13) for m in range(14)]
        self._prev_month = [next((x for x in range(m, 0, -1) if x in months), 0) for m in range(13)]
        self._cache: dict[int, tuple[int, ...]] = {}  # year * 16 + month -> days
        self._shapes: dict[int, tuple[int, ...]] = {}  # length * 8 + weekday of the 1st -> days

    def days(self, year: int, month: int) -> tuple[int, ...]:
        """Sorted matching days of ``year``-``month`` (month assumed allowed)."""
        key = year * 16 + month
        days = self._cache.get(key)
        if days is None:
            if len(self._cache) >= _DAY_CACHE_SIZE:
                self._cache.clear()
            length = month_length(year, month)
            shape = length * 8 + first_weekday(year, month)
            days = self._shapes.get(shape)
            if days is None:
                if self._every_day:
                    days = tuple(range(1, length + 1))
                else:
                    days = matching_days(self._spec, length, shape % 8)
                self._shapes[shape] = days
            self._cache[key] = days
        return days

    def next_date(self, y: int, mo: int, d: int) -> Date:
        """First matching date at or after ``y-mo-d`` (``d`` may run past the month's end)."""
        nm = self._next_month
        while True:
            m = nm[mo]
            if m > 12:
                y, mo, d = y + 1, 1, 1
                if y > MAX_YEAR:
                    raise NoSlot("no slot before year 10000")
                continue
            if m != mo:
                mo, d = m, 1
            days = self.days(y, mo)
            i = bisect_left(days, d)
            if i < len(days):
                return y, mo, days[i]
            mo, d = mo + 1, 1

    def prev_date(self, y: int, mo: int, d: int) -> Date:
        """Last matching date at or before ``y-mo-d`` (``d`` may be 0)."""
        pm = self._prev_month
        while True:
            m = pm[mo]
            if m < 1:
                y, mo, d = y - 1, 12, 31
                if y < MIN_YEAR:
                    raise NoSlot("no slot after year 0")
                continue
            if m != mo:
                mo, d = m, 31
            days = self.days(y, mo)
            i = bisect_right(days, d) - 1
            if i >= 0:
                return y, mo, days[i]
            mo, d = mo - 1, 31

    def next_ge(self, y: int, mo: int, d: int, sod: int) -> Wall:
        """First matching wall time at or after ``(y, mo, d, sod)``; ``sod`` may be >= 86400."""
        tod = self.tod
        if self._next_month[mo] == mo:
            days = self._cache.get(y * 16 + mo)
            if days is None:
                days = self.days(y, mo)
            i = bisect_left(days, d)
            if i < len(days):
                day = days[i]
                if day != d:
                    return y, mo, day, tod[0]
                if sod < 86400:
                    j = bisect_left(tod, sod)
                    if j < len(tod):
                        return y, mo, d, tod[j]
                if i + 1 < len(days):
                    return y, mo, days[i + 1], tod[0]
        date = self.next_date(y, mo + 1, 1)
        return date[0], date[1], date[2], tod[0]

    def prev_le(self, y: int, mo: int, d: int, sod: int) -> Wall:
        """Last matching wall time at or before ``(y, mo, d, sod)``; ``sod`` may be negative."""
        tod = self.tod
        if sod >= 0:
            date = self.prev_date(y, mo, d)
            if date == (y, mo, d):
                i = bisect_right(tod, sod) - 1
                if i >= 0:
                    return y, mo, d, tod[i]
                date = self.prev_date(y, mo, d - 1)
        else:
            date = self.prev_date(y, mo, d - 1)
        return date[0], date[1], date[2], tod[-1]
