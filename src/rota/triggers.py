"""Triggers: when a schedule fires.

A trigger turns instants into slots. Three kinds exist: ``Cron`` (an
expression read in an IANA timezone), ``Interval`` (every N seconds from an
anchor, following elapsed time) and ``Once`` (a single instant). All of
them satisfy the ``Trigger`` protocol, refuse naive datetimes and answer in
their own timezone; ``trigger_from_spec`` rebuilds any of them from the
JSON-able dict its ``to_spec`` returned.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, runtime_checkable
from zoneinfo import ZoneInfo

from rota._zones import zone, zone_name
from rota.cron import Cron
from rota.errors import InvalidSchedule, NaiveDatetime

__all__ = ["Cron", "Interval", "Once", "Trigger", "trigger_from_spec"]

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)
_ONE_DAY = timedelta(days=1)


@runtime_checkable
class Trigger(Protocol):
    """What every trigger does. Datetimes in must be aware; results are aware in ``tz``."""

    @property
    def tz(self) -> ZoneInfo:
        """The zone results are expressed in (and, for cron, read in)."""
        ...

    def next_after(self, dt: datetime) -> datetime | None:
        """The first slot strictly after ``dt``; None when the trigger never fires again."""
        ...

    def prev_before(self, dt: datetime) -> datetime | None:
        """The last slot strictly before ``dt``; None when there is none."""
        ...

    def matches(self, dt: datetime) -> bool:
        """Whether ``dt`` is a slot."""
        ...

    def describe(self) -> str:
        """The trigger in plain words."""
        ...

    def period_hint(self) -> timedelta:
        """The typical time between slots (used for the default catch-up grace)."""
        ...

    def to_spec(self) -> dict[str, Any]:
        """A JSON-able dict that ``trigger_from_spec`` turns back into an equal trigger."""
        ...


def _aware(dt: datetime, what: str = "datetime") -> datetime:
    if not isinstance(dt, datetime):
        raise TypeError(f"{what} must be a datetime, not {type(dt).__name__}")
    if dt.tzinfo is None or dt.utcoffset() is None:
        raise NaiveDatetime(what)
    return dt


def _micros(delta: timedelta) -> int:
    """A timedelta as an exact number of microseconds (no float rounding)."""
    return delta // _MICRO


def _every(every: float | timedelta) -> timedelta:
    if isinstance(every, bool) or not isinstance(every, int | float | timedelta):
        raise InvalidSchedule(
            f"interval must be a number of seconds or a timedelta, not {type(every).__name__}"
        )
    if isinstance(every, int | float):
        if not math.isfinite(every):
            raise InvalidSchedule(
                f"invalid interval {every!r} (must be a finite number of seconds)"
            )
        every = timedelta(seconds=every)
    if every < timedelta(seconds=1):
        raise InvalidSchedule(
            f"invalid interval {every.total_seconds():g}s (must be at least 1 second; "
            "sub-second intervals are not supported)"
        )
    return every


def _plural(n: int, unit: str) -> str:
    return f"{unit}" if n == 1 else f"{n} {unit}s"


def describe_duration(delta: timedelta) -> str:
    """``timedelta(minutes=90)`` -> ``"90 minutes"``; a single unit, the largest that divides."""
    micros = _micros(delta)
    for unit, size in (("day", 86_400), ("hour", 3_600), ("minute", 60), ("second", 1)):
        if micros % (size * 1_000_000) == 0:
            return _plural(micros // (size * 1_000_000), unit)
    return f"{delta.total_seconds():g} seconds"


@dataclass(frozen=True, init=False)
class Interval:
    """Slots at ``anchor + k * every`` for every integer ``k``.

    The anchor sets the phase, not a start: ``Interval(60)`` (anchor: the
    Unix epoch) fires on every whole minute, ``Interval(3600, anchor=...07:15)``
    at a quarter past every hour. Arithmetic is on elapsed time, so slots
    never drift and DST changes do not move them; results are shown in ``tz``.
    """

    every: timedelta
    anchor: datetime
    tz: ZoneInfo

    def __init__(
        self,
        every: float | timedelta,
        *,
        anchor: datetime | None = None,
        tz: str | ZoneInfo = "UTC",
    ) -> None:
        anchor_utc = EPOCH if anchor is None else _aware(anchor, "anchor").astimezone(UTC)
        object.__setattr__(self, "every", _every(every))
        object.__setattr__(self, "anchor", anchor_utc)
        object.__setattr__(self, "tz", zone(tz))

    def _index(self, dt: datetime) -> tuple[int, int]:
        """(k, remainder) with ``dt == anchor + k * every + remainder`` in microseconds."""
        elapsed = _micros(_aware(dt).astimezone(UTC) - self.anchor)
        return divmod(elapsed, _micros(self.every))

    def _slot(self, k: int) -> datetime:
        return (self.anchor + k * self.every).astimezone(self.tz)

    def next_after(self, dt: datetime) -> datetime:
        """The first slot strictly after ``dt`` (an interval never ends)."""
        k, _ = self._index(dt)
        return self._slot(k + 1)

    def prev_before(self, dt: datetime) -> datetime:
        """The last slot strictly before ``dt``."""
        k, rem = self._index(dt)
        return self._slot(k if rem else k - 1)

    def matches(self, dt: datetime) -> bool:
        """Whether ``dt`` is exactly on a slot."""
        return self._index(dt)[1] == 0

    def describe(self) -> str:
        """``"every 15 minutes"``, plus the anchor when it is not the epoch."""
        text = f"every {describe_duration(self.every)}"
        if self.anchor != EPOCH:
            text += f", aligned to {self.anchor.astimezone(self.tz).isoformat()}"
        return text

    def period_hint(self) -> timedelta:
        """The interval itself."""
        return self.every

    def to_spec(self) -> dict[str, Any]:
        """``{"type": "interval", "every": seconds, "anchor": iso, "tz": name}``."""
        return {
            "type": "interval",
            "every": _seconds(self.every),
            "anchor": self.anchor.isoformat(),
            "tz": zone_name(self.tz),
        }


@dataclass(frozen=True, init=False)
class Once:
    """A single slot at ``at``.

    ``tz`` defaults to ``at``'s own zone when it is a ``ZoneInfo``, else UTC.
    """

    at: datetime
    tz: ZoneInfo

    def __init__(self, at: datetime, *, tz: str | ZoneInfo | None = None) -> None:
        _aware(at, "at")
        if tz is None:
            tz = at.tzinfo if isinstance(at.tzinfo, ZoneInfo) else "UTC"
        zone_info = zone(tz)
        object.__setattr__(self, "tz", zone_info)
        object.__setattr__(self, "at", at.astimezone(zone_info))

    def next_after(self, dt: datetime) -> datetime | None:
        """``at`` if it is strictly after ``dt``, else None."""
        return self.at if self.at > _aware(dt) else None

    def prev_before(self, dt: datetime) -> datetime | None:
        """``at`` if it is strictly before ``dt``, else None."""
        return self.at if self.at < _aware(dt) else None

    def matches(self, dt: datetime) -> bool:
        """Whether ``dt`` is the same instant as ``at``."""
        return self.at == _aware(dt)

    def describe(self) -> str:
        """``"once at 2026-11-24 07:30:00+01:00"``."""
        return f"once at {self.at.isoformat(sep=' ')}"

    def period_hint(self) -> timedelta:
        """One day: a once-trigger has no period, and a late scheduler may fire it within a day."""
        return _ONE_DAY

    def to_spec(self) -> dict[str, Any]:
        """``{"type": "once", "at": iso, "tz": name}``."""
        return {"type": "once", "at": self.at.isoformat(), "tz": zone_name(self.tz)}


def _seconds(delta: timedelta) -> int | float:
    micros = _micros(delta)
    return micros // 1_000_000 if micros % 1_000_000 == 0 else micros / 1_000_000


def _require(spec: dict[str, Any], key: str, kind: str) -> Any:
    if key not in spec:
        raise InvalidSchedule(f"{kind} trigger spec is missing key {key!r}")
    return spec[key]


def _instant(spec: dict[str, Any], key: str, kind: str) -> datetime:
    text = _require(spec, key, kind)
    try:
        return datetime.fromisoformat(text)
    except (TypeError, ValueError):
        raise InvalidSchedule(
            f"invalid {key!r} in {kind} trigger spec: {text!r} (expected an ISO 8601 datetime)"
        ) from None


def _interval_from_spec(spec: dict[str, Any]) -> Interval:
    every = _require(spec, "every", "interval")
    if not isinstance(every, int | float) or isinstance(every, bool):
        raise InvalidSchedule(f"invalid 'every' in interval trigger spec: {every!r}")
    anchor = _instant(spec, "anchor", "interval") if "anchor" in spec else None
    return Interval(every, anchor=anchor, tz=spec.get("tz", "UTC"))


def _once_from_spec(spec: dict[str, Any]) -> Once:
    return Once(_instant(spec, "at", "once"), tz=spec.get("tz"))


def trigger_from_spec(spec: dict[str, Any]) -> Trigger:
    """Rebuild a trigger from ``to_spec()`` output; a bad spec raises ``InvalidSchedule``."""
    if not isinstance(spec, dict):
        raise InvalidSchedule(f"trigger spec must be a dict, not {type(spec).__name__}")
    kind = spec.get("type")
    if kind == "cron":
        _require(spec, "expr", "cron")
        return Cron.from_spec(spec)
    if kind == "interval":
        return _interval_from_spec(spec)
    if kind == "once":
        return _once_from_spec(spec)
    raise InvalidSchedule(
        f"invalid 'type' in trigger spec: {kind!r} (expected 'cron', 'interval' or 'once')"
    )
