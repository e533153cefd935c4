"""Schedule filters: conditions checked at a slot, after the trigger produced it.

Each filter sees the slot already converted to the schedule's timezone and
the environment name the application runs in. Serializable filters turn
into a small dict (``to_spec``) and back (``filter_from_spec``); callables
do not serialize and say so with ``to_spec() -> None``.
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, time
from typing import Any, Protocol, cast

from rota.errors import InvalidSchedule, did_you_mean

DAY_NAMES = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
_DAY_LOOKUP = {name: i for i, name in enumerate(DAY_NAMES)} | {
    name[:3]: i for i, name in enumerate(DAY_NAMES)
}
_CLOCK = re.compile(r"(\d{1,2}):(\d{1,2})")

Condition = Callable[[], bool] | Callable[[datetime], bool] | bool


def parse_clock(text: object, where: str) -> time:
    """``"7:30"`` / ``"07:30"`` -> ``time(7, 30)``; anything else raises ``InvalidSchedule``."""
    match = _CLOCK.fullmatch(text.strip()) if isinstance(text, str) else None
    if match is None or int(match[1]) > 23 or int(match[2]) > 59:
        raise InvalidSchedule(f"invalid time {text!r} in {where} (expected HH:MM, 00:00-23:59)")
    return time(int(match[1]), int(match[2]))


def format_clock(t: time) -> str:
    """``time(7, 30)`` -> ``"07:30"``."""
    return f"{t.hour:02d}:{t.minute:02d}"


def parse_day(day: object, where: str) -> int:
    """A weekday as cron counts it (0 = Sunday … 6 = Saturday), from an int or a name."""
    if isinstance(day, int) and not isinstance(day, bool):
        if 0 <= day <= 6:
            return day
        raise InvalidSchedule(
            f"invalid day {day!r} in {where} (expected 0-6, 0 = Sunday, or a name like 'monday')"
        )
    if isinstance(day, str):
        key = day.strip().lower()
        if key in _DAY_LOOKUP:
            return _DAY_LOOKUP[key]
        if key.isdigit():
            return parse_day(int(key), where)
        hint = did_you_mean(key, DAY_NAMES)
        raise InvalidSchedule(f"unknown day {day!r} in {where}{hint}")
    raise InvalidSchedule(f"invalid day {day!r} in {where} (expected 0-6 or a name like 'monday')")


class Filter(Protocol):
    """A condition a slot must pass for its run to be created."""

    def allows(self, local_slot: datetime, environment: str | None) -> bool:
        """Whether the slot (in the schedule's timezone) passes."""
        ...

    def to_spec(self) -> dict[str, Any] | None:
        """A JSON-able dict, or None when the filter is a callable that cannot be stored."""
        ...

    def describe(self) -> str:
        """The filter in plain words."""
        ...


@dataclass(frozen=True)
class Between:
    """Slots whose wall-clock time lies in ``[start, end]`` (or outside it, when ``negate``).

    When ``end`` is before ``start`` the window wraps past midnight, as in
    Laravel: ``Between(22:00, 02:00)`` holds from 22:00 to 02:00 the next day.
    Both ends are included.
    """

    start: time
    end: time
    negate: bool = False

    def contains(self, t: time) -> bool:
        """Whether the wall-clock time ``t`` lies in the window."""
        t = t.replace(tzinfo=None, fold=0)
        if self.start <= self.end:
            return self.start <= t <= self.end
        return t >= self.start or t <= self.end

    def allows(self, local_slot: datetime, environment: str | None) -> bool:
        return self.contains(local_slot.time()) != self.negate

    def describe(self) -> str:
        kind = "except" if self.negate else "only"
        return f"{kind} between {format_clock(self.start)} and {format_clock(self.end)}"

    def to_spec(self) -> dict[str, Any]:
        return {
            "type": "unless_between" if self.negate else "between",
            "start": format_clock(self.start),
            "end": format_clock(self.end),
        }


@dataclass(frozen=True)
class Days:
    """Slots on the given weekdays (0 = Sunday); used when the trigger has no day field."""

    days: frozenset[int]

    def allows(self, local_slot: datetime, environment: str | None) -> bool:
        return (local_slot.isoweekday() % 7) in self.days

    def describe(self) -> str:
        return "only on " + ", ".join(DAY_NAMES[d].capitalize() for d in sorted(self.days))

    def to_spec(self) -> dict[str, Any]:
        return {"type": "days", "days": sorted(self.days)}


@dataclass(frozen=True)
class Environments:
    """Only in the named environments; an unknown (None) environment matches none."""

    names: tuple[str, ...]

    def allows(self, local_slot: datetime, environment: str | None) -> bool:
        return environment in self.names

    def describe(self) -> str:
        return "only in " + ", ".join(self.names)

    def to_spec(self) -> dict[str, Any]:
        return {"type": "environments", "names": list(self.names)}


def _takes_slot(callback: Callable[..., object]) -> bool:
    try:
        inspect.signature(callback).bind(None)
    except TypeError:
        return False
    except ValueError:  # no signature (some builtins): call it without arguments
        return False
    return True


@dataclass(frozen=True)
class Callback:
    """``when`` (run only if true) or ``skip`` (run only if false) with a callable or a bool.

    A callable that accepts one positional argument is given the slot (in the
    schedule's timezone); otherwise it is called with none.
    """

    condition: Condition
    skip: bool = False
    takes_slot: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        condition: object = self.condition  # callers may pass anything at run time
        if not (isinstance(condition, bool) or callable(condition)):
            name = "skip" if self.skip else "when"
            raise InvalidSchedule(
                f"{name}() needs a callable or a bool, not {type(condition).__name__}"
            )
        takes_slot = callable(condition) and _takes_slot(condition)
        object.__setattr__(self, "takes_slot", takes_slot)

    def allows(self, local_slot: datetime, environment: str | None) -> bool:
        return self._evaluate(local_slot) != self.skip

    def _evaluate(self, local_slot: datetime) -> bool:
        condition = self.condition
        if isinstance(condition, bool):
            return condition
        if self.takes_slot:
            return bool(cast("Callable[[datetime], object]", condition)(local_slot))
        return bool(cast("Callable[[], object]", condition)())

    def describe(self) -> str:
        name = getattr(self.condition, "__name__", repr(self.condition))
        return f"{'unless' if self.skip else 'when'} {name}"

    def to_spec(self) -> None:
        return None


def filter_from_spec(spec: dict[str, Any]) -> Filter:
    """Rebuild a serializable filter; a bad spec raises ``InvalidSchedule``."""
    kind = spec.get("type") if isinstance(spec, dict) else None
    try:
        if kind in ("between", "unless_between"):
            start = parse_clock(spec["start"], f"{kind} filter spec")
            end = parse_clock(spec["end"], f"{kind} filter spec")
            return Between(start, end, negate=kind == "unless_between")
        if kind == "days":
            return Days(frozenset(parse_day(d, "days filter spec") for d in spec["days"]))
        if kind == "environments":
            return Environments(tuple(str(n) for n in spec["names"]))
    except (KeyError, TypeError) as exc:
        raise InvalidSchedule(f"invalid {kind} filter spec {spec!r}: missing {exc}") from None
    raise InvalidSchedule(
        f"invalid 'type' in filter spec: {kind!r} "
        "(expected 'between', 'unless_between', 'days' or 'environments')"
    )
