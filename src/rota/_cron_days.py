"""Which days of a month a day spec allows.

A month's matching days depend only on (month, its length, the weekday
of its 1st): 91 combinations, all of which occur in every 400-year
Gregorian cycle. That makes satisfiability exact and cheap, and lets the
engine cache day lists per spec.
"""

from __future__ import annotations

from functools import lru_cache

from rota._cron_parse import DaySpec

MONTH_DAYS = (0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def is_leap(year: int) -> bool:
    return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)


def month_length(year: int, month: int) -> int:
    if month == 2 and is_leap(year):
        return 29
    return MONTH_DAYS[month]


def first_weekday(year: int, month: int) -> int:
    """Cron weekday (0 = Sunday) of the 1st of the month (Sakamoto's method)."""
    y = year - (month < 3)
    t = (0, 3, 2, 5, 0, 3, 5, 1, 4, 6, 2, 4)[month - 1]
    return (y + y // 4 - y // 100 + y // 400 + t + 1) % 7


@lru_cache(maxsize=4096)
def matching_days(spec: DaySpec, length: int, wd1: int) -> tuple[int, ...]:
    """Sorted days of a month of ``length`` days whose 1st is weekday ``wd1``."""
    if spec.every_day:
        return tuple(range(1, length + 1))
    dom = _dom_days(spec, length, wd1)
    dow = _dow_days(spec, length, wd1)
    days = dom & dow if spec.dom_star or spec.dow_star else dom | dow
    return tuple(sorted(days))


def _weekday(day: int, wd1: int) -> int:
    return (wd1 + day - 1) % 7


def _dom_days(spec: DaySpec, length: int, wd1: int) -> set[int]:
    days = {d for d in spec.dom if d <= length}
    days |= {length - n for n in spec.dom_last if length - n >= 1}
    days |= {_nearest_weekday(n, length, wd1) for n in spec.dom_weekday if n <= length}
    if spec.dom_last_weekday:
        days.add(_nearest_weekday(length, length, wd1))
    return days


def _nearest_weekday(day: int, length: int, wd1: int) -> int:
    """Quartz's nW: the weekday nearest ``day``, never leaving the month."""
    wd = _weekday(day, wd1)
    if wd == 6:  # Saturday: Friday before, or Monday after when the 1st
        return day - 1 if day > 1 else day + 2
    if wd == 0:  # Sunday: Monday after, or Friday before when the last day
        return day + 1 if day < length else day - 2
    return day


def _dow_days(spec: DaySpec, length: int, wd1: int) -> set[int]:
    days = {d for d in range(1, length + 1) if _weekday(d, wd1) in spec.dow}
    last_wd = _weekday(length, wd1)
    days |= {length - (last_wd - w) % 7 for w in spec.dow_last}
    for w, k in spec.dow_nth:
        day = 1 + (w - wd1) % 7 + 7 * (k - 1)
        if day <= length:
            days.add(day)
    return days


def month_lengths(month: int) -> tuple[int, ...]:
    return (28, 29) if month == 2 else (MONTH_DAYS[month],)


@lru_cache(maxsize=1024)
def satisfiable(spec: DaySpec, months: frozenset[int]) -> bool:
    """Whether any month of any year has a matching day (exact: all 91 shapes occur)."""
    return any(
        matching_days(spec, length, wd1)
        for month in months
        for length in month_lengths(month)
        for wd1 in range(7)
    )
