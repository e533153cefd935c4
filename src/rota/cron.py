"""Cron expressions: parsing and slot computation in an IANA timezone.

``Cron("30 2 * * *", tz="America/New_York")`` is immutable. Its slots are
computed in local wall-clock fields; zoneinfo is consulted only to turn the
result into an aware datetime and, near a UTC-offset transition, to apply
cronie's DST rules exactly (see ``docs/cron.md``).
"""

from __future__ import annotations

import itertools
from bisect import bisect_left
from collections.abc import Iterator, Mapping
from datetime import UTC, date, datetime, timedelta, tzinfo
from functools import lru_cache
from typing import Any, NoReturn
from zoneinfo import ZoneInfo

from rota import _cron_dst as dst
from rota import _zones
from rota._cron_days import month_length, satisfiable
from rota._cron_describe import describe
from rota._cron_parse import Parsed, parse
from rota._cron_walls import MAX_YEAR, NoSlot, Walls
from rota.errors import InvalidCron, NaiveDatetime

__all__ = ["Cron"]


class _Compiled:
    """What every ``Cron`` of one expression shares, whatever its zone and seed.

    The seed matters only when the expression uses ``H``; only then is it
    part of the cache key, so per-user schedules of one expression (each
    seeded with its own name) compile once. Everything here is on the wall
    clock: the same in every zone.
    """

    __slots__ = ("hms", "parsed", "period", "simple", "tod", "tod_set", "walls")

    def __init__(self, expression: str, parsed: Parsed) -> None:
        if not satisfiable(parsed.days, parsed.months):
            raise InvalidCron(
                f"{expression!r} can never fire: no month has a day matching "
                "its day-of-month, day-of-week and month fields"
            )
        walls = Walls(parsed)
        tod = walls.tod
        small = len(tod) <= 4096
        self.parsed = parsed
        self.walls = walls
        self.tod: Any = tod
        self.hms: tuple[tuple[int, int, int], ...] = (
            tuple((s // 3600, s // 60 % 60, s % 60) for s in tod) if small else ()
        )
        self.tod_set = frozenset(tod)
        self.simple = parsed.days.every_day and len(parsed.months) == 12 and small
        self.period: timedelta | None = None  # _median_gap, on first use


_CACHE_SIZE = 4096


@lru_cache(maxsize=_CACHE_SIZE)
def _compile_unseeded(expression: str) -> _Compiled | None:
    """The compiled expression; None when it uses ``H`` (the seed is then part of the key)."""
    parsed = parse(expression, "")  # any seed: a seed-free expression ignores it
    if parsed.uses_hash:
        return None
    return _Compiled(expression, parsed)


@lru_cache(maxsize=_CACHE_SIZE)
def _compile_seeded(expression: str, seed: str | None) -> _Compiled:
    return _Compiled(expression, parse(expression, seed))


def _compile(expression: str, seed: str | None) -> _Compiled:
    if isinstance(expression, str):
        try:
            compiled = _compile_unseeded(expression)
        except InvalidCron:
            compiled = None  # the seeded parse below raises, with the seed's own message
        if compiled is not None:
            return compiled
    return _compile_seeded(expression, seed)


_ZERO = timedelta(0)
_ZONE_FACTS: dict[Any, tuple[ZoneInfo, bool, bool, dict[int, dst.DayRanges]]] = {}
_ZONE_FACTS_KEPT = 1024


def _zone_facts(tz: str | ZoneInfo) -> tuple[ZoneInfo, bool, bool, dict[int, dst.DayRanges]]:
    """(zone, fixed offset, UTC itself, the zone's odd-days cache) of ``tz``, kept per
    argument: a tick builds a thousand ``Cron`` in a few dozen zones."""
    try:
        found = _ZONE_FACTS.get(tz)
    except TypeError:  # unhashable: ``zone`` says what is wrong with it
        found = None
    if found is None:
        zone = _zones.zone(tz)
        fixed = dst.is_fixed(zone)
        found = (zone, fixed, fixed and zone.utcoffset(None) == _ZERO, dst.abnormal_cache(zone))
        if len(_ZONE_FACTS) < _ZONE_FACTS_KEPT:
            _ZONE_FACTS[tz] = found
    return found


def _naive(what: str) -> NoReturn:
    raise NaiveDatetime(what)


class Cron:
    """A cron expression read in a timezone: the trigger behind ``@rota.cron``.

    ``tz`` is an IANA name or a ``ZoneInfo`` (default UTC); ``seed`` (the
    schedule name) feeds Jenkins' ``H``. Slots are aware datetimes in
    ``tz``, whole seconds, with ``fold=1`` on the second occurrence of a
    repeated wall time.
    """

    # What ``next_after``/``prev_before`` read, each its own slot; the rest is read
    # off ``_compiled``. Each slot costs its ``object.__setattr__`` per instance,
    # and a busy tick builds a thousand (one per due schedule).
    __slots__ = (
        "_abnormal",
        "_compiled",
        "_expression",
        "_fixed",
        "_hms",
        "_seed",
        "_simple",
        "_tod",
        "_tz",
        "_utc",
        "_walls",
    )

    _expression: str
    _tz: ZoneInfo
    _seed: str | None
    _compiled: _Compiled
    _walls: Walls
    _simple: bool
    _fixed: bool
    _utc: bool
    _tod: Any  # tuple or array of seconds of day
    _hms: tuple[tuple[int, int, int], ...]
    _abnormal: dict[int, dst.DayRanges]

    def __init__(
        self, expression: str, tz: str | ZoneInfo = "UTC", seed: str | None = None
    ) -> None:
        if seed is not None and not isinstance(seed, str):
            raise InvalidCron(f"seed must be a str (the schedule name), not {type(seed).__name__}")
        zone, fixed, utc, abnormal = _zone_facts(tz)
        compiled = _compile(expression, seed)
        put = object.__setattr__
        put(self, "_expression", expression)
        put(self, "_tz", zone)
        put(self, "_seed", seed)
        put(self, "_compiled", compiled)
        put(self, "_walls", compiled.walls)
        put(self, "_simple", compiled.simple)
        put(self, "_fixed", fixed)
        put(self, "_utc", utc)
        put(self, "_tod", compiled.tod)
        put(self, "_hms", compiled.hms)
        put(self, "_abnormal", abnormal)

    @property
    def _parsed(self) -> Parsed:
        return self._compiled.parsed

    @property
    def _key(self) -> tuple[str, str, str | None]:
        """What equality and the hash go by: a seed counts only for ``H``."""
        parsed = self._compiled.parsed
        return (parsed.normalized, self._tz.key, self._seed if parsed.uses_hash else None)

    # -- identity ---------------------------------------------------------------------------

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"Cron is immutable; cannot set {name!r}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"Cron is immutable; cannot delete {name!r}")

    def __reduce__(self) -> tuple[type[Cron], tuple[str, str, str | None]]:
        return (Cron, (self._expression, self._tz.key, self._seed))

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Cron):
            return NotImplemented
        return self._key == other._key

    def __hash__(self) -> int:
        return hash(self._key)

    def __str__(self) -> str:
        return self._expression

    def __repr__(self) -> str:
        seed = f", seed={self._seed!r}" if self._seed is not None else ""
        return f"Cron({self._expression!r}, tz={self._tz.key!r}{seed})"

    @property
    def expression(self) -> str:
        """The expression as given."""
        return self._expression

    @property
    def tz(self) -> ZoneInfo:
        """The zone the expression is read in, and results are expressed in."""
        return self._tz

    @property
    def tzname(self) -> str:
        """The IANA key of ``tz``."""
        return self._tz.key

    @property
    def seed(self) -> str | None:
        """The seed ``H`` hashes (the schedule name), as given."""
        return self._seed

    @property
    def has_seconds(self) -> bool:
        """Whether the expression has a seconds field (6 fields)."""
        return self._parsed.has_seconds

    def to_spec(self) -> dict[str, Any]:
        """A JSON-able description; ``Cron.from_spec`` reads it back."""
        return {"type": "cron", "expr": self._expression, "tz": self._tz.key, "seed": self._seed}

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Cron:
        """The ``Cron`` that ``to_spec`` described."""
        if not isinstance(spec, Mapping) or spec.get("type") != "cron" or "expr" not in spec:
            raise InvalidCron(f"not a cron spec: {spec!r} (expected {{'type': 'cron', 'expr': …}})")
        return cls(spec["expr"], tz=spec.get("tz", "UTC"), seed=spec.get("seed"))

    def describe(self) -> str:
        """The schedule in plain English, e.g. ``At 02:30 AM, every day``."""
        return describe(self._parsed)

    def period_hint(self) -> timedelta:
        """A typical gap between consecutive slots (the median of sixteen, on the wall clock)."""
        compiled = self._compiled
        period = compiled.period
        if period is None:  # wall-clock gaps: the same in every zone, so shared by all of them
            period = compiled.period = _median_gap(compiled.walls)
        return period

    # -- slots ------------------------------------------------------------------------------

    def next_after(self, dt: datetime) -> datetime:
        """The first slot strictly after aware ``dt``."""
        tz = self._tz
        tzi: tzinfo | None = dt.tzinfo
        if tzi is tz or (tzi is UTC and self._utc):
            loc = dt
        elif tzi is UTC:
            loc = dt.astimezone(tz)
        elif tzi is None or tzi.utcoffset(dt) is None:
            _naive("dt")
        else:
            loc = dt.astimezone(tz)
        y, mo, d = loc.year, loc.month, loc.day
        sod = loc.hour * 3600 + loc.minute * 60 + loc.second + 1
        if self._simple:
            i = bisect_left(self._tod, sod)
            if i < len(self._hms):
                h, m, s = self._hms[i]
                ny, nmo, nd = y, mo, d
            else:
                h, m, s = self._hms[0]
                if d < 28 or d < month_length(y, mo):
                    ny, nmo, nd = y, mo, d + 1
                elif mo < 12:
                    ny, nmo, nd = y, mo + 1, 1
                elif y < MAX_YEAR:
                    ny, nmo, nd = y + 1, 1, 1
                else:
                    raise NoSlot("no slot before year 10000")
        else:
            ny, nmo, nd, w = self._walls.next_ge(y, mo, d, sod)
            h, m, s = w // 3600, w // 60 % 60, w % 60
        if not self._fixed:
            cache = self._abnormal
            odd = cache.get(y)
            if odd is None:
                odd = dst.abnormal_days(tz, cache, y)
            span = odd.get(y * 512 + mo * 32 + d)
            if span is not None and span[0] <= sod - 1 <= span[1]:
                return self._slow_next(loc)
            if ny != y:
                odd = dst.abnormal_days(tz, cache, ny)
            span = odd.get(ny * 512 + nmo * 32 + nd)
            if span is not None and span[0] <= h * 3600 + m * 60 + s <= span[1]:
                return self._slow_next(loc)
        return datetime(ny, nmo, nd, h, m, s, tzinfo=tz)

    def prev_before(self, dt: datetime) -> datetime:
        """The last slot strictly before aware ``dt``."""
        tz = self._tz
        tzi: tzinfo | None = dt.tzinfo
        if tzi is tz or (tzi is UTC and self._utc):
            loc = dt
        elif tzi is None or tzi.utcoffset(dt) is None:
            _naive("dt")
        else:
            loc = dt.astimezone(tz)
        y, mo, d = loc.year, loc.month, loc.day
        sod = loc.hour * 3600 + loc.minute * 60 + loc.second
        plain = self._fixed  # a fixed offset has no odd wall times: skip every check
        if not plain and self._odd(y, mo, d, sod):
            return self._slow_prev(loc)
        if not loc.microsecond:
            sod -= 1
        if sod < 0:  # the instant before is on the day before, which must be plain too
            day = loc.date() - timedelta(days=1)
            y, mo, d, sod = day.year, day.month, day.day, 86399
            if not plain and self._odd(y, mo, d, sod):
                return self._slow_prev(loc)
        py, pmo, pd, w = self._walls.prev_le(y, mo, d, sod)
        if not plain and self._odd(py, pmo, pd, w):
            return self._slow_prev(loc)
        return datetime(py, pmo, pd, w // 3600, w // 60 % 60, w % 60, tzinfo=tz)

    def iter_after(self, dt: datetime) -> Iterator[datetime]:
        """Slots strictly after aware ``dt``, lazily, in order (stops after year 9999)."""
        next_after = self.next_after
        slot = next_after(dt)
        while True:
            yield slot
            try:
                slot = next_after(slot)
            except OverflowError:
                return

    def matches(self, dt: datetime) -> bool:
        """Whether aware ``dt`` is exactly a slot."""
        tz = self._tz
        tzi: tzinfo | None = dt.tzinfo
        if tzi is not tz and (tzi is None or tzi.utcoffset(dt) is None):
            _naive("dt")
        if dt.microsecond:
            return False
        loc = dt.astimezone(tz)
        y, mo, d = loc.year, loc.month, loc.day
        sod = loc.hour * 3600 + loc.minute * 60 + loc.second
        if sod and not self._odd(y, mo, d, sod):
            compiled = self._compiled
            return (
                mo in compiled.parsed.months
                and sod in compiled.tod_set
                and d in compiled.walls.days(y, mo)
            )
        slot = self.next_after(dst.just_before(tz, loc))
        return slot.astimezone(UTC) == loc.astimezone(UTC)

    def _odd(self, y: int, mo: int, d: int, sod: int) -> bool:
        """Whether wall time ``sod`` of local day ``y-mo-d`` may be skipped or repeated."""
        if self._fixed:
            return False
        ranges = self._abnormal.get(y)
        if ranges is None:
            ranges = dst.abnormal_days(self._tz, self._abnormal, y)
        span = ranges.get(y * 512 + mo * 32 + d)  # dst.day_key
        return span is not None and span[0] <= sod <= span[1]  # dst.odd

    def _slow_next(self, loc: datetime) -> datetime:
        if self._parsed.wildcard_time:
            return dst.wildcard_next(self._walls, self._tz, loc)
        return dst.fixed_next(self._walls, self._tz, loc)

    def _slow_prev(self, loc: datetime) -> datetime:
        if self._parsed.wildcard_time:
            return dst.wildcard_prev(self._walls, self._tz, loc)
        return dst.fixed_prev(self._walls, self._tz, loc)


def _median_gap(walls: Walls) -> timedelta:
    y, mo, d, s = walls.next_ge(2001, 1, 1, 0)
    stamps = []
    for _ in range(17):
        stamps.append(date(y, mo, d).toordinal() * 86400 + s)
        y, mo, d, s = walls.next_ge(y, mo, d, s + 1)
    gaps = sorted(b - a for a, b in itertools.pairwise(stamps))
    return timedelta(seconds=gaps[len(gaps) // 2])
