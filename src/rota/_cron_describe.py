"""Cron expressions in plain English, in the style of cron-descriptor.

``30 2 * * *`` reads "At 02:30 AM, every day"; ``*/5 9-17 * * mon-fri``
reads "Every 5 minutes, between 09:00 AM and 05:59 PM, Monday through
Friday". Described from the parsed values, so ``H`` shows what it picked.
"""

from __future__ import annotations

import itertools

from rota._cron_parse import DaySpec, Parsed

_DAY_NAMES = ("Sunday", "Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday")
_MONTH_NAMES = (
    "",
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)
_ORDINALS = ("", "first", "second", "third", "fourth", "fifth")


def describe(p: Parsed) -> str:
    """The whole expression as one English phrase."""
    text = ", ".join([*_time(p), _days(p.days), *_months(p.months)])
    return text[0].upper() + text[1:]


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else ", ".join(words[:-1]) + " and " + words[-1]


def _clock(h: int, m: int, s: int | None = None) -> str:
    sec = f":{s:02d}" if s is not None else ""
    return f"{(h % 12) or 12:02d}:{m:02d}{sec} {'AM' if h < 12 else 'PM'}"


def _step(values: tuple[int, ...], lo: int, hi: int) -> tuple[int, int, int] | None:
    """``(start, step, end)`` when ``values`` is an arithmetic run of 3 or more."""
    if len(values) < 3:
        return None
    step = values[1] - values[0]
    if any(b - a != step for a, b in itertools.pairwise(values)):
        return None
    return values[0], step, values[-1]


def _time(p: Parsed) -> list[str]:
    secs = p.seconds if p.has_seconds and p.seconds != (0,) else None
    if len(p.minutes) == 1 and len(p.hours) <= 4 and (secs is None or len(secs) == 1):
        s = secs[0] if secs else None
        return ["at " + _join([_clock(h, p.minutes[0], s) for h in p.hours])]
    parts = [] if secs is None else [_unit(secs, 0, 59, "second", "minute")]
    parts.append(_minutes(p.minutes, p.hours))
    hours = _hours(p.hours)
    return parts + ([hours] if hours else [])


def _unit(values: tuple[int, ...], lo: int, hi: int, unit: str, of: str) -> str:
    run = _step(values, lo, hi)
    if len(values) == hi - lo + 1:
        return f"every {unit}"
    if run and run[1] == 1:
        return f"{unit}s {run[0]} through {run[2]} past the {of}"
    if run and run[0] < run[1] and run[2] + run[1] > hi:
        return f"every {run[1]} {unit}s" + (f" starting at {unit} {run[0]}" if run[0] else "")
    if run:
        return f"every {run[1]} {unit}s, {unit}s {run[0]} through {run[2]} past the {of}"
    if len(values) == 1:
        return f"at {unit} {values[0]} past the {of}"
    return f"at {unit}s {_join([str(v) for v in values])} past the {of}"


def _minutes(minutes: tuple[int, ...], hours: tuple[int, ...]) -> str:
    if minutes == (0,) and len(hours) == 24:
        return "every hour"
    return _unit(minutes, 0, 59, "minute", "hour")


def _hours(hours: tuple[int, ...]) -> str:
    if len(hours) == 24:
        return ""
    run = _step(hours, 0, 23)
    if (run and run[1] == 1) or len(hours) == 1:
        return f"between {_clock(hours[0], 0)} and {_clock(hours[-1], 59)}"
    if run and run[0] < run[1] and run[2] + run[1] > 23:
        return f"every {run[1]} hours" + (f" starting at {_clock(run[0], 0)}" if run[0] else "")
    return "during the hours of " + _join([_clock(h, 0) for h in hours])


def _days(spec: DaySpec) -> str:
    dom = _dom(spec)
    dow = _dow(spec)
    if dom and dow:
        glue = " if it is " if spec.dom_star or spec.dow_star else " or "
        return dom + glue + dow.removeprefix("only ").removeprefix("on ")
    return dom or dow or "every day"


def _dom(spec: DaySpec) -> str:
    parts: list[str] = []
    if spec.dom and len(spec.dom) < 31:
        days = tuple(sorted(spec.dom))
        run = _step(days, 1, 31)
        if run and run[1] > 1 and run[0] <= run[1] and run[2] + run[1] > 31:
            parts.append(f"every {run[1]} days")
        elif run and run[1] == 1:
            parts.append(f"days {run[0]} through {run[2]} of the month")
        else:
            label = "day" if len(days) == 1 else "days"
            parts.append(f"on {label} {_join([str(d) for d in days])} of the month")
    for n in sorted(spec.dom_last):
        parts.append(
            f"{n} days before the last day of the month" if n else "on the last day of the month"
        )
    for n in sorted(spec.dom_weekday):
        parts.append(f"on the weekday nearest day {n} of the month")
    if spec.dom_last_weekday:
        parts.append("on the last weekday of the month")
    return _join(parts) if parts else ""


def _dow(spec: DaySpec) -> str:
    parts: list[str] = []
    if spec.dow and len(spec.dow) < 7:
        days = tuple(sorted(spec.dow))
        run = _step(days, 0, 6)
        if run and run[1] == 1:
            parts.append(f"{_DAY_NAMES[run[0]]} through {_DAY_NAMES[run[2]]}")
        else:
            parts.append("only on " + _join([_DAY_NAMES[d] for d in days]))
    for w in sorted(spec.dow_last):
        parts.append(f"on the last {_DAY_NAMES[w]} of the month")
    for w, k in sorted(spec.dow_nth):
        parts.append(f"on the {_ORDINALS[k]} {_DAY_NAMES[w]} of the month")
    return _join(parts) if parts else ""


def _months(months: frozenset[int]) -> list[str]:
    if len(months) == 12:
        return []
    values = tuple(sorted(months))
    run = _step(values, 1, 12)
    if run and run[1] == 1:
        return [f"{_MONTH_NAMES[run[0]]} through {_MONTH_NAMES[run[2]]}"]
    return ["only in " + _join([_MONTH_NAMES[m] for m in values])]
