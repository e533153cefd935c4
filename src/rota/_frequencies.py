"""Laravel's ``ManagesFrequencies``, in snake_case: methods that splice a cron field.

The expression starts as ``* * * * *``; each method overwrites the fields
it names and leaves the others, so methods compose in any order
(``weekdays().daily_at("7:30")`` is ``30 7 * * 1-5``). Sub-minute methods
add a leading seconds field. ``Schedule`` inherits this mixin.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Literal, Self

from rota._filters import parse_clock, parse_day
from rota.errors import InvalidSchedule, did_you_mean

if TYPE_CHECKING:
    from rota.triggers import Trigger

MONTHS = (  # spelled out: calendar.month_name follows the locale
    "january",
    "february",
    "march",
    "april",
    "may",
    "june",
    "july",
    "august",
    "september",
    "october",
    "november",
    "december",
)
_MAX_DAYS = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)
_MINUTE, _HOUR, _DOM, _MONTH, _DOW = range(5)

Kind = Literal["cron", "interval", "once"]


def _int_in(value: object, low: int, high: int, what: str, where: str) -> int:
    if isinstance(value, int) and not isinstance(value, bool) and low <= value <= high:
        return value
    raise InvalidSchedule(f"invalid {what} {value!r} in {where} (expected {low}-{high})")


def _int_list(value: int | Iterable[int], low: int, high: int, what: str, where: str) -> str:
    """An int or a non-empty list of ints, validated, as a cron list (``"5,35"``)."""
    items = [value] if isinstance(value, int) else list(value)
    if not items:
        raise InvalidSchedule(f"{where} needs at least one {what}")
    return ",".join(str(_int_in(i, low, high, what, where)) for i in items)


def _month(value: object, where: str) -> int:
    if isinstance(value, str):
        key = value.strip().lower()
        for number, name in enumerate(MONTHS, start=1):
            if key in (name, name[:3]):
                return number
        raise InvalidSchedule(f"unknown month {value!r} in {where}{did_you_mean(key, MONTHS)}")
    return _int_in(value, 1, 12, "month", where)


def _parse_days(days: list[int | str], where: str) -> list[int]:
    if not days:
        raise InvalidSchedule(f"{where} needs at least one day")
    return [parse_day(d, where) for d in days]


class Frequencies:
    """The cron-expression half of ``Schedule``: state and the frequency methods."""

    _trigger: Trigger | None

    def _init_frequencies(self) -> None:
        self._seconds: str | None = None
        self._fields = ["*"] * 5
        self._macro: str | None = None
        self._time_set_by: str | None = None
        self._days: frozenset[int] | None = None
        self._kind: Kind = "cron"

    @property
    def expression(self) -> str | None:
        """The cron expression (6 fields when sub-minute), or None for interval/once."""
        if self._kind != "cron":
            return None
        if self._macro is not None:
            return self._macro
        fields = " ".join(self._fields)
        return fields if self._seconds is None else f"{self._seconds} {fields}"

    def _kind_method(self) -> str:
        return "every()" if self._kind == "interval" else "once_at()"

    def _changed(self) -> Self:
        self._trigger = None
        return self

    def _splice(self, position: int, value: str, by: str) -> Self:
        if self._kind != "cron":
            raise InvalidSchedule(
                f"{by}() cannot be combined with {self._kind_method()}; use one or the other"
            )
        if self._macro is not None:
            self._expand_macro(by)
        if position != _DOW:
            self._time_set_by = by
        self._fields[position] = value
        return self._changed()

    def _expand_macro(self, by: str) -> None:
        assert self._macro is not None
        from rota._cron_parse import ALIASES as MACROS  # the cron engine loads when needed

        expanded = MACROS.get(self._macro.lower())
        if expanded is None:
            raise InvalidSchedule(f"{by}() cannot modify cron({self._macro!r})")
        self._fields = expanded.split()
        self._macro = None

    def _at_time(self, time: str, where: str) -> Self:
        clock = parse_clock(time, where)
        self._splice(_MINUTE, str(clock.minute), where)
        return self._splice(_HOUR, str(clock.hour), where)

    def _hour_based(self, minutes: int | Iterable[int], hours: str, where: str) -> Self:
        self._splice(_MINUTE, _int_list(minutes, 0, 59, "minute", where), where)
        return self._splice(_HOUR, hours, where)

    def _every_seconds(self, seconds: int, where: str) -> Self:
        self._splice(_MINUTE, "*", where)
        self._seconds = "*" if seconds == 1 else f"*/{seconds}"
        return self._changed()

    def every_second(self) -> Self:
        """``* * * * * *``"""
        return self._every_seconds(1, "every_second")

    def every_two_seconds(self) -> Self:
        """``*/2 * * * * *``"""
        return self._every_seconds(2, "every_two_seconds")

    def every_five_seconds(self) -> Self:
        """``*/5 * * * * *``"""
        return self._every_seconds(5, "every_five_seconds")

    def every_ten_seconds(self) -> Self:
        """``*/10 * * * * *``"""
        return self._every_seconds(10, "every_ten_seconds")

    def every_fifteen_seconds(self) -> Self:
        """``*/15 * * * * *``"""
        return self._every_seconds(15, "every_fifteen_seconds")

    def every_twenty_seconds(self) -> Self:
        """``*/20 * * * * *``"""
        return self._every_seconds(20, "every_twenty_seconds")

    def every_thirty_seconds(self) -> Self:
        """``*/30 * * * * *``"""
        return self._every_seconds(30, "every_thirty_seconds")

    def every_minute(self) -> Self:
        """Minute ``*``."""
        return self._splice(_MINUTE, "*", "every_minute")

    def every_two_minutes(self) -> Self:
        """Minute ``*/2``."""
        return self._splice(_MINUTE, "*/2", "every_two_minutes")

    def every_three_minutes(self) -> Self:
        """Minute ``*/3``."""
        return self._splice(_MINUTE, "*/3", "every_three_minutes")

    def every_four_minutes(self) -> Self:
        """Minute ``*/4``."""
        return self._splice(_MINUTE, "*/4", "every_four_minutes")

    def every_five_minutes(self) -> Self:
        """Minute ``*/5``."""
        return self._splice(_MINUTE, "*/5", "every_five_minutes")

    def every_ten_minutes(self) -> Self:
        """Minute ``*/10``."""
        return self._splice(_MINUTE, "*/10", "every_ten_minutes")

    def every_fifteen_minutes(self) -> Self:
        """Minute ``*/15``."""
        return self._splice(_MINUTE, "*/15", "every_fifteen_minutes")

    def every_thirty_minutes(self) -> Self:
        """Minute ``*/30``."""
        return self._splice(_MINUTE, "*/30", "every_thirty_minutes")

    def hourly(self) -> Self:
        """Minute ``0``."""
        return self._splice(_MINUTE, "0", "hourly")

    def hourly_at(self, minutes: int | Iterable[int]) -> Self:
        """Minute ``m`` (or ``m1,m2``), hour ``*``."""
        return self._hour_based(minutes, "*", "hourly_at")

    def every_odd_hour(self, minutes: int | Iterable[int] = 0) -> Self:
        """Minute ``m``, hour ``1-23/2``."""
        return self._hour_based(minutes, "1-23/2", "every_odd_hour")

    def every_even_hour(self, minutes: int | Iterable[int] = 0) -> Self:
        """Minute ``m``, hour ``0-22/2``."""
        return self._hour_based(minutes, "0-22/2", "every_even_hour")

    def every_two_hours(self, minutes: int | Iterable[int] = 0) -> Self:
        """Minute ``m``, hour ``*/2``."""
        return self._hour_based(minutes, "*/2", "every_two_hours")

    def every_three_hours(self, minutes: int | Iterable[int] = 0) -> Self:
        """Minute ``m``, hour ``*/3``."""
        return self._hour_based(minutes, "*/3", "every_three_hours")

    def every_four_hours(self, minutes: int | Iterable[int] = 0) -> Self:
        """Minute ``m``, hour ``*/4``."""
        return self._hour_based(minutes, "*/4", "every_four_hours")

    def every_six_hours(self, minutes: int | Iterable[int] = 0) -> Self:
        """Minute ``m``, hour ``*/6``."""
        return self._hour_based(minutes, "*/6", "every_six_hours")

    def daily(self) -> Self:
        """Minute ``0``, hour ``0``."""
        return self._hour_based(0, "0", "daily")

    def daily_at(self, time: str) -> Self:
        """Minute and hour of ``"HH:MM"``."""
        return self._at_time(time, "daily_at")

    def at(self, time: str) -> Self:
        """Alias of ``daily_at``."""
        return self._at_time(time, "at")

    def twice_daily(self, first: int = 1, second: int = 13) -> Self:
        """Minute ``0``, hour ``first,second``."""
        return self._twice_daily(first, second, 0, "twice_daily")

    def twice_daily_at(self, first: int = 1, second: int = 13, offset: int = 0) -> Self:
        """Minute ``offset``, hour ``first,second``."""
        return self._twice_daily(first, second, offset, "twice_daily_at")

    def _twice_daily(self, first: int, second: int, offset: int, where: str) -> Self:
        hours = _int_list([first, second], 0, 23, "hour", where)
        if first == second:
            raise InvalidSchedule(f"{where} needs two different hours, got {first} twice")
        return self._hour_based(offset, hours, where)

    def weekly(self) -> Self:
        """Minute ``0``, hour ``0``, day of week ``0`` (Sunday)."""
        self._hour_based(0, "0", "weekly")
        return self._splice(_DOW, "0", "weekly")

    def weekly_on(self, day: int | str | Iterable[int | str], time: str = "0:0") -> Self:
        """``daily_at(time)`` on the given weekday(s)."""
        numbers = _parse_days([day] if isinstance(day, int | str) else list(day), "weekly_on")
        self._at_time(time, "weekly_on")
        return self._set_days(numbers, "weekly_on")

    def _day_at(self, day: int, time: str, where: str) -> Self:
        self._at_time(time, where)
        return self._splice(_DOM, str(_int_in(day, 1, 31, "day", where)), where)

    def monthly(self) -> Self:
        """Minute ``0``, hour ``0``, day of month ``1``."""
        return self._day_at(1, "0:0", "monthly")

    def monthly_on(self, day: int = 1, time: str = "0:0") -> Self:
        """``daily_at(time)`` on day ``day`` of each month."""
        return self._day_at(day, time, "monthly_on")

    def twice_monthly(self, first: int = 1, second: int = 16, time: str = "0:0") -> Self:
        """``daily_at(time)`` on days ``first,second`` of each month."""
        days = _int_list([first, second], 1, 31, "day", "twice_monthly")
        if first == second:
            raise InvalidSchedule(f"twice_monthly needs two different days, got {first} twice")
        self._at_time(time, "twice_monthly")
        return self._splice(_DOM, days, "twice_monthly")

    def last_day_of_month(self, time: str = "0:0") -> Self:
        """``daily_at(time)`` on day of month ``L``."""
        self._at_time(time, "last_day_of_month")
        return self._splice(_DOM, "L", "last_day_of_month")

    def quarterly(self) -> Self:
        """``0 0 1 1-12/3 *``."""
        self._day_at(1, "0:0", "quarterly")
        return self._splice(_MONTH, "1-12/3", "quarterly")

    def quarterly_on(self, day: int = 1, time: str = "0:0") -> Self:
        """``daily_at(time)`` on day ``day`` of January, April, July and October."""
        self._day_at(day, time, "quarterly_on")
        return self._splice(_MONTH, "1-12/3", "quarterly_on")

    def yearly(self) -> Self:
        """``0 0 1 1 *``."""
        self._day_at(1, "0:0", "yearly")
        return self._splice(_MONTH, "1", "yearly")

    def yearly_on(self, month: int | str = 1, day: int = 1, time: str = "0:0") -> Self:
        """``daily_at(time)`` on ``day`` of ``month`` (a number or a name)."""
        number = _month(month, "yearly_on")
        _int_in(day, 1, _MAX_DAYS[number - 1], "day", f"yearly_on for {MONTHS[number - 1]}")
        self._at_time(time, "yearly_on")
        self._splice(_DOM, str(day), "yearly_on")
        return self._splice(_MONTH, str(number), "yearly_on")

    # -- days of the week: the cron field, or a filter under every()/once_at() -------------------

    def _set_days(self, numbers: list[int], where: str, field: str | None = None) -> Self:
        self._days = frozenset(numbers)
        if self._kind != "cron":
            return self._changed()
        return self._splice(_DOW, field or ",".join(map(str, numbers)), where)

    def days(self, *days: int | str | Iterable[int | str]) -> Self:
        """Day of week ``d1,d2``: ints 0-6 (0 = Sunday) or names, or one list of them."""
        flat: list[int | str] = []
        for d in days:
            flat.extend([d] if isinstance(d, int | str) else d)
        return self._set_days(_parse_days(flat, "days"), "days")

    def weekdays(self) -> Self:
        """Day of week ``1-5``."""
        return self._set_days([1, 2, 3, 4, 5], "weekdays", "1-5")

    def weekends(self) -> Self:
        """Day of week ``6,0``."""
        return self._set_days([6, 0], "weekends")

    def mondays(self) -> Self:
        """Day of week ``1``."""
        return self._set_days([1], "mondays")

    def tuesdays(self) -> Self:
        """Day of week ``2``."""
        return self._set_days([2], "tuesdays")

    def wednesdays(self) -> Self:
        """Day of week ``3``."""
        return self._set_days([3], "wednesdays")

    def thursdays(self) -> Self:
        """Day of week ``4``."""
        return self._set_days([4], "thursdays")

    def fridays(self) -> Self:
        """Day of week ``5``."""
        return self._set_days([5], "fridays")

    def saturdays(self) -> Self:
        """Day of week ``6``."""
        return self._set_days([6], "saturdays")

    def sundays(self) -> Self:
        """Day of week ``0``."""
        return self._set_days([0], "sundays")
