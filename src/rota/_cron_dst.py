"""The exact rules near a UTC-offset transition (the slow path).

Two kinds of schedule, as in cronie (docs/cron.md, "Daylight saving time"):

* fixed-time (neither minute nor hour starts with ``*``): a matching wall
  time ``W`` fires at ``f(W)``, the first instant whose wall time is at or
  past ``W``. An ambiguous ``W`` fires at its first occurrence; a ``W`` in a
  gap fires at the transition that ends the gap. ``f`` is monotone, so the
  next slot after ``t`` is ``f`` of the first matching wall past the highest
  wall time reached so far (cronie's "virtual time").
* wildcard (minute or hour starts with ``*``): every instant whose wall time
  matches, so both occurrences of a repeated time fire and a gap fires nothing.

The fast path in ``cron.py`` handles instants far from any transition;
these functions handle every case and are used when it cannot.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from rota._cron_walls import Wall, Walls

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
NAIVE_EPOCH = datetime(1970, 1, 1)  # noqa: DTZ001 -- wall times are naive on purpose
SECOND = timedelta(seconds=1)
MICRO = timedelta(microseconds=1)

NORMAL, AMBIGUOUS, GAP = 0, 1, 2


def _seconds(delta: timedelta | None) -> int:
    assert delta is not None  # a ZoneInfo always has an offset
    return delta // SECOND


def _offset_at(tz: ZoneInfo, ts: int) -> int:
    return _seconds(datetime.fromtimestamp(ts, tz).utcoffset())


def _transition(tz: ZoneInfo, lo: int, hi: int) -> int:
    """The first whole second in ``(lo, hi]`` that has ``hi``'s offset."""
    target = _offset_at(tz, hi)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if _offset_at(tz, mid) == target:
            hi = mid
        else:
            lo = mid
    return hi


def _wall_ts(wall: datetime) -> int:
    """Seconds of a naive wall time since the naive epoch (floored)."""
    return (wall - NAIVE_EPOCH) // SECOND


def _naive(ts: int) -> datetime:
    return NAIVE_EPOCH + timedelta(seconds=ts)


def _wall_of(w: Wall) -> datetime:
    y, mo, d, sod = w
    return datetime(y, mo, d, sod // 3600, sod // 60 % 60, sod % 60)  # noqa: DTZ001 -- a wall time


def classify(tz: ZoneInfo, wall: datetime) -> tuple[int, int, int]:
    """``(kind, offset with fold=0, offset with fold=1)`` of a naive wall time."""
    o0 = _seconds(wall.replace(tzinfo=tz).utcoffset())
    o1 = _seconds(wall.replace(tzinfo=tz, fold=1).utcoffset())
    kind = NORMAL if o0 == o1 else AMBIGUOUS if o0 > o1 else GAP
    return kind, o0, o1


def _gap_end(tz: ZoneInfo, wall: datetime, o0: int, o1: int) -> int:
    """The transition instant (epoch seconds) that skips the nonexistent ``wall``."""
    w = _wall_ts(wall)
    return _transition(tz, w - o1, w - o0)


def _region(tz: ZoneInfo, t: datetime) -> tuple[datetime, datetime]:
    """Wall-time bounds ``[start, end)`` of the repeated interval that aware ``t`` is in."""
    o_first = _seconds(t.replace(fold=0).utcoffset())
    o_second = _seconds(t.replace(fold=1).utcoffset())
    span = o_first - o_second
    ts = (t - EPOCH) // SECOND
    b = _transition(tz, ts, ts + span) if t.fold == 0 else _transition(tz, ts - span, ts)
    return _naive(b + o_second), _naive(b + o_first)


def just_before(tz: ZoneInfo, t: datetime) -> datetime:
    """The instant one microsecond before aware ``t``, in ``tz`` (arithmetic done in UTC)."""
    return (t.astimezone(UTC) - MICRO).astimezone(tz)


def _is_ambiguous(t: datetime) -> bool:
    return t.replace(fold=0).utcoffset() != t.replace(fold=1).utcoffset()


def _aware(tz: ZoneInfo, wall: datetime, fold: int = 0) -> datetime:
    return wall.replace(tzinfo=tz, fold=fold)


def _next_gt(walls: Walls, wall: datetime) -> datetime:
    sod = wall.hour * 3600 + wall.minute * 60 + wall.second + 1
    return _wall_of(walls.next_ge(wall.year, wall.month, wall.day, sod))


def _next_ge(walls: Walls, wall: datetime) -> datetime:
    return _next_gt(walls, wall - MICRO)


def _prev_le(walls: Walls, wall: datetime) -> datetime:
    sod = wall.hour * 3600 + wall.minute * 60 + wall.second
    return _wall_of(walls.prev_le(wall.year, wall.month, wall.day, sod))


def _prev_lt(walls: Walls, wall: datetime) -> datetime:
    return _prev_le(walls, wall - MICRO)


def first_instant(tz: ZoneInfo, wall: datetime) -> datetime:
    """``f(W)``: the first instant whose wall time is at or past ``wall``."""
    kind, o0, o1 = classify(tz, wall)
    if kind == GAP:
        return datetime.fromtimestamp(_gap_end(tz, wall, o0, o1), tz)
    return _aware(tz, wall)


def _high_water(tz: ZoneInfo, t: datetime) -> tuple[datetime, bool]:
    """The highest wall time reached by instant ``t`` (``t`` in ``tz``), and if it is exclusive."""
    naive = t.replace(tzinfo=None)
    if t.fold == 1 and _is_ambiguous(t):
        return _region(tz, t)[1], True
    return naive, False


def fixed_next(walls: Walls, tz: ZoneInfo, t: datetime) -> datetime:
    mark, exclusive = _high_water(tz, t.astimezone(tz))
    wall = _next_ge(walls, mark) if exclusive else _next_gt(walls, mark)
    return first_instant(tz, wall)


def fixed_prev(walls: Walls, tz: ZoneInfo, t: datetime) -> datetime:
    mark, exclusive = _high_water(tz, just_before(tz, t))
    wall = _prev_lt(walls, mark) if exclusive else _prev_le(walls, mark)
    return first_instant(tz, wall)


def wildcard_next(walls: Walls, tz: ZoneInfo, t: datetime) -> datetime:
    loc = t.astimezone(tz)
    wall = _next_gt(walls, loc.replace(tzinfo=None))
    while True:
        if _is_ambiguous(loc):
            start, end = _region(tz, loc)
            if wall < end:
                return _aware(tz, wall, loc.fold)
            if loc.fold == 0:
                second = _next_ge(walls, start)
                if second < end:
                    return _aware(tz, second, 1)
        kind, o0, o1 = classify(tz, wall)
        if kind != GAP:
            return _aware(tz, wall)
        loc = datetime.fromtimestamp(_gap_end(tz, wall, o0, o1), tz)
        wall = _next_ge(walls, loc.replace(tzinfo=None))


def wildcard_prev(walls: Walls, tz: ZoneInfo, t: datetime) -> datetime:
    loc = just_before(tz, t)
    while True:
        wall = _prev_le(walls, loc.replace(tzinfo=None))
        if _is_ambiguous(loc):
            start, end = _region(tz, loc)
            if wall >= start:
                return _aware(tz, wall, loc.fold)
            if loc.fold == 1:
                loc = _aware(tz, end - MICRO, 0)
                continue
        kind, o0, o1 = classify(tz, wall)
        if kind == NORMAL:
            return _aware(tz, wall)
        if kind == AMBIGUOUS:
            return _aware(tz, wall, 1)
        loc = just_before(tz, datetime.fromtimestamp(_gap_end(tz, wall, o0, o1), tz))


# -- which local days lie wholly away from any transition (the fast path's licence) -----------

_FIXED_KEYS = frozenset(
    {"UTC", "UCT", "GMT", "GMT0", "GMT+0", "GMT-0", "Greenwich", "Universal", "Zulu"}
)
_YEAR_CACHE_SIZE = 1_000
_WHOLE_DAY = (0, 86400)

# per zone: year -> {day_key: (first, last) second of that day whose wall time is not unique}
DayRanges = dict[int, tuple[int, int]]
_abnormal: dict[str, dict[int, DayRanges]] = {}


class _Everything(dict[int, tuple[int, int]]):
    """A year the fast path must not trust at all: every day is wholly abnormal."""

    def get(self, key: int, default: object = None) -> tuple[int, int]:
        return _WHOLE_DAY


EVERYTHING = _Everything()


def is_fixed(tz: ZoneInfo) -> bool:
    """Whether ``tz`` never changes its offset (UTC and the ``Etc/`` zones)."""
    return tz.key in _FIXED_KEYS or tz.key.startswith("Etc/")


def abnormal_cache(tz: ZoneInfo) -> dict[int, DayRanges]:
    """The shared per-zone cache that ``abnormal_days`` fills."""
    return _abnormal.setdefault(tz.key, {})


def day_key(y: int, mo: int, d: int) -> int:
    return y * 512 + mo * 32 + d


def abnormal_days(tz: ZoneInfo, cache: dict[int, DayRanges], year: int) -> DayRanges:
    """For each local day of ``year`` holding a wall time that is not unique in ``tz``
    (skipped or repeated), the first and last second of day affected, both inclusive
    (the last is the second the odd stretch ends at, so a gap's end counts too).

    Found by probing the offset every two days and bisecting each change: exact
    because since 1970 no zone has two transitions less than six days apart.
    Years before 1971 answer "the whole day", so they always take the exact path.
    """
    days = cache.get(year)
    if days is not None:
        return days
    if len(cache) >= _YEAR_CACHE_SIZE:
        cache.clear()
    days = EVERYTHING if not 1971 <= year <= 9998 else _scan_year(tz, year)
    cache[year] = days
    return days


def odd(ranges: DayRanges, key: int, sod: int) -> bool:
    """Whether second ``sod`` of the day ``key`` may be skipped, repeated or a gap's end."""
    span = ranges.get(key)
    return span is not None and span[0] <= sod <= span[1]


def _scan_year(tz: ZoneInfo, year: int) -> DayRanges:
    step = 2 * 86400
    lo = (datetime(year, 1, 1, tzinfo=UTC) - EPOCH) // SECOND - 2 * step
    hi = (datetime(year + 1, 1, 1, tzinfo=UTC) - EPOCH) // SECOND + 2 * step
    marked: DayRanges = {}
    before = _offset_at(tz, lo)
    for ts in range(lo + step, hi + 1, step):
        after = _offset_at(tz, ts)
        if after != before:
            x = _transition(tz, ts - step, ts)
            _mark(marked, year, _naive(x + min(before, after)), _naive(x + max(before, after)))
            before = after
    return marked


def _mark(marked: DayRanges, year: int, start: datetime, end: datetime) -> None:
    """Record wall times ``start`` to ``end`` (inclusive) day by day."""
    day = start.date()
    while day <= end.date():
        first = _sod(start) if day == start.date() else 0
        last = _sod(end) if day == end.date() else 86400
        if day.year == year:
            key = day_key(day.year, day.month, day.day)
            old = marked.get(key, (first, last))
            marked[key] = (min(old[0], first), max(old[1], last))
        day += timedelta(days=1)


def _sod(wall: datetime) -> int:
    return wall.hour * 3600 + wall.minute * 60 + wall.second
