"""Cron expression parsing: text to sets of allowed values.

The dialect is described in ``docs/cron.md``. Every error is an
``InvalidCron`` whose message names the field, the bad part and what is
allowed there.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

from rota.errors import InvalidCron, did_you_mean

MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
WEEKDAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")

ALIASES = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}

_MAX_DIGITS = 4  # no field value is longer; also keeps int() away from huge strings


@dataclass(frozen=True, slots=True)
class Field:
    """One position of the expression: its name, bounds and value names."""

    name: str
    lo: int
    hi: int
    names: tuple[str, ...] = ()
    names_from: int = 0
    allowed: str = ""
    hash_lo: int = -1
    hash_hi: int = -1

    def allowed_text(self) -> str:
        return self.allowed or f"{self.lo}-{self.hi}"

    def hash_range(self) -> tuple[int, int]:
        if self.hash_lo >= 0:
            return self.hash_lo, self.hash_hi
        return self.lo, self.hi


SECOND = Field("second", 0, 59)
MINUTE = Field("minute", 0, 59)
HOUR = Field("hour", 0, 23)
DOM = Field("day-of-month", 1, 31, allowed="1-31, L, L-n, nW or LW", hash_lo=1, hash_hi=28)
MONTH = Field("month", 1, 12, MONTHS, 1, "1-12 or JAN-DEC")
DOW = Field("day-of-week", 0, 7, WEEKDAYS, 0, "0-7 or SUN-SAT, nL or n#k", hash_hi=6, hash_lo=0)


@dataclass(frozen=True, slots=True)
class DaySpec:
    """The day-of-month and day-of-week fields, with Quartz's L, W and #."""

    dom: frozenset[int]
    dom_last: frozenset[int]  # n of L-n (plain L is 0)
    dom_weekday: frozenset[int]  # n of nW
    dom_last_weekday: bool  # LW
    dow: frozenset[int]  # 0 = Sunday … 6 = Saturday
    dow_last: frozenset[int]  # n of nL
    dow_nth: frozenset[tuple[int, int]]  # (weekday, k) of n#k
    dom_star: bool  # the field starts with '*' or '?' (cronie's DOM_STAR)
    dow_star: bool

    @property
    def every_day(self) -> bool:
        return self.dom_star and self.dow_star and len(self.dom) == 31 and len(self.dow) == 7


@dataclass(frozen=True, slots=True)
class Parsed:
    """A parsed expression: allowed values per field, plus the flags cronie keeps."""

    seconds: tuple[int, ...]
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    months: frozenset[int]
    days: DaySpec
    has_seconds: bool
    wildcard_time: bool  # minute or hour starts with '*': follows elapsed time over DST
    uses_hash: bool
    normalized: str


class _Ctx:
    """What an error message needs: the whole expression, the seed."""

    __slots__ = ("expr", "seed", "used_hash")

    def __init__(self, expr: str, seed: str | None) -> None:
        self.expr = expr
        self.seed = seed
        self.used_hash = False

    def fail(self, field: Field, part: str, why: str = "") -> InvalidCron:
        tail = f": {why}" if why else f" (allowed {field.allowed_text()})"
        return InvalidCron(f"invalid {field.name} {part!r} in {self.expr!r}{tail}")


def parse(expr: str, seed: str | None) -> Parsed:
    """Parse ``expr``; raise ``InvalidCron`` naming the bad part."""
    if not isinstance(expr, str):
        raise InvalidCron(f"a cron expression must be a str, not {type(expr).__name__}")
    text = expr.strip()
    if text.startswith("@"):
        text = _alias(expr, text)
    parts = text.split()
    ctx = _Ctx(expr, seed)
    if len(parts) == 7:
        raise InvalidCron(
            f"7 fields in {expr!r}: a year field is not supported "
            "(use 5 fields, or 6 with seconds first)"
        )
    if len(parts) not in (5, 6):
        raise InvalidCron(f"expected 5 or 6 fields in {expr!r}, got {len(parts)}")
    has_seconds = len(parts) == 6
    if not has_seconds:
        parts.insert(0, "0")
    up = [p.upper() for p in parts]
    seconds = _values(ctx, SECOND, up[0])
    minutes = _values(ctx, MINUTE, up[1])
    hours = _values(ctx, HOUR, up[2])
    months = _values(ctx, MONTH, up[4])
    days = _days(ctx, up[3], up[5])
    normalized = " ".join(up if has_seconds else up[1:])
    return Parsed(
        seconds=tuple(sorted(seconds)),
        minutes=tuple(sorted(minutes)),
        hours=tuple(sorted(hours)),
        months=frozenset(months),
        days=days,
        has_seconds=has_seconds,
        wildcard_time=up[1].startswith("*") or up[2].startswith("*"),
        uses_hash=ctx.used_hash,
        normalized=normalized,
    )


def _alias(expr: str, text: str) -> str:
    name = text.lower()
    if name == "@reboot":
        raise InvalidCron(
            "@reboot is not a schedule: rota runs jobs at slots in time; "
            "start the job from your process manager instead"
        )
    if name not in ALIASES:
        hint = did_you_mean(name, [*ALIASES, "@reboot"])
        raise InvalidCron(f"unknown alias {expr.strip()!r} in {expr!r}{hint}")
    return ALIASES[name]


def _values(ctx: _Ctx, field: Field, text: str) -> set[int]:
    if "?" in text:
        raise ctx.fail(field, text, "'?' is only allowed in day-of-month and day-of-week")
    out: set[int] = set()
    for item in _items(ctx, field, text):
        out |= _item(ctx, field, item)
    return out


def _items(ctx: _Ctx, field: Field, text: str) -> list[str]:
    items = text.split(",")
    if "" in items:
        raise ctx.fail(field, text, "empty list item")
    return items


def _item(ctx: _Ctx, field: Field, item: str) -> set[int]:
    """One list item of a plain field: ``*``, ``a``, ``a-b``, ``H(...)``, each with ``/n``."""
    base, step = _split_step(ctx, field, item)
    if base in ("*", "?"):
        lo, hi = field.lo, field.hi
        if step is None:
            return set(range(lo, hi + 1))
    elif base.startswith("H"):
        return _hash(ctx, field, item, base, step)
    elif "-" in base:
        lo, hi = _range(ctx, field, base)
    else:
        lo = _number(ctx, field, base)
        hi = field.hi if step is not None else lo
    return set(range(lo, hi + 1, step or 1))


def _split_step(ctx: _Ctx, field: Field, item: str) -> tuple[str, int | None]:
    if "/" not in item:
        return item, None
    base, _, step_text = item.partition("/")
    if not _is_digits(step_text):
        raise ctx.fail(field, item, f"step {step_text!r} is not a number")
    step = int(step_text)
    if step == 0:
        raise ctx.fail(field, item, "step 0 (a step must be at least 1)")
    if not base:
        raise ctx.fail(field, item, "a step needs something before '/', e.g. '*/5'")
    return base, step


def _range(ctx: _Ctx, field: Field, base: str) -> tuple[int, int]:
    a_text, _, b_text = base.partition("-")
    lo = _number(ctx, field, a_text)
    hi = _number(ctx, field, b_text)
    if field is DOW and hi == 0 and lo > 0:
        hi = 7  # 'FRI-SUN' means 5-7
    if lo > hi:
        raise ctx.fail(
            field,
            base,
            f"{a_text} is after {b_text} (ranges do not wrap around; "
            f"write '{a_text}-{field.hi},{field.lo}-{b_text}')",
        )
    return lo, hi


def _number(ctx: _Ctx, field: Field, text: str) -> int:
    if field.names and text.isalpha():
        if text in field.names:
            return field.names.index(text) + field.names_from
        hint = did_you_mean(text, field.names)
        raise InvalidCron(
            f"invalid {field.name} {text!r} in {ctx.expr!r} (allowed {field.allowed_text()}){hint}"
        )
    if not _is_digits(text):
        raise ctx.fail(field, text)
    value = int(text)
    if not field.lo <= value <= field.hi:
        raise ctx.fail(field, text)
    return value


def _is_digits(text: str) -> bool:
    return 0 < len(text) <= _MAX_DIGITS and text.isascii() and text.isdigit()


def _hash(ctx: _Ctx, field: Field, item: str, base: str, step: int | None) -> set[int]:
    """Jenkins' ``H``: a value (or a step's offset) picked by a stable hash of the seed."""
    if ctx.seed is None:
        raise InvalidCron(f"'H' in {ctx.expr!r} needs a seed: Cron(expr, seed='schedule-name')")
    ctx.used_hash = True
    lo, hi = field.hash_range()
    if base != "H":
        if not (base.startswith("H(") and base.endswith(")")):
            raise ctx.fail(field, item, "expected H, H/n, H(a-b) or H(a-b)/n")
        lo, hi = _range(ctx, field, base[2:-1])
    if field is DOW:
        hi = min(hi, 6)
    digest = zlib.crc32(f"{ctx.seed}\x00{field.name}".encode())
    if step is None:
        return {lo + digest % (hi - lo + 1)}
    start = lo + digest % min(step, hi - lo + 1)
    return set(range(start, hi + 1, step))


def _days(ctx: _Ctx, dom_text: str, dow_text: str) -> DaySpec:
    dom: set[int] = set()
    dom_last: set[int] = set()
    dom_weekday: set[int] = set()
    dom_lw = False
    for item in _items(ctx, DOM, dom_text):
        if item == "LW":
            dom_lw = True
        elif item == "L" or item.startswith("L-"):
            dom_last.add(0 if item == "L" else _bounded(ctx, DOM, item, item[2:], 1, 30))
        elif item.endswith("W") and "/" not in item:
            dom_weekday.add(_bounded(ctx, DOM, item, item[:-1], 1, 31))
        else:
            dom |= _item(ctx, DOM, item)
    dow, dow_last, dow_nth = _dows(ctx, dow_text)
    return DaySpec(
        dom=frozenset(dom),
        dom_last=frozenset(dom_last),
        dom_weekday=frozenset(dom_weekday),
        dom_last_weekday=dom_lw,
        dow=frozenset(dow),
        dow_last=frozenset(dow_last),
        dow_nth=frozenset(dow_nth),
        dom_star=dom_text.startswith(("*", "?")),
        dow_star=dow_text.startswith(("*", "?")),
    )


def _dows(ctx: _Ctx, text: str) -> tuple[set[int], set[int], set[tuple[int, int]]]:
    dow: set[int] = set()
    last: set[int] = set()
    nth: set[tuple[int, int]] = set()
    for item in _items(ctx, DOW, text):
        if item == "L":
            raise ctx.fail(DOW, item, "'L' alone is ambiguous here; write 6 (Saturday) or e.g. 5L")
        if item.endswith("L") and "/" not in item:
            last.add(_number(ctx, DOW, item[:-1]) % 7)
        elif "#" in item:
            day_text, _, k_text = item.partition("#")
            k = _bounded(ctx, DOW, item, k_text, 1, 5)
            nth.add((_number(ctx, DOW, day_text) % 7, k))
        else:
            dow |= {v % 7 for v in _item(ctx, DOW, item)}
    return dow, last, nth


def _bounded(ctx: _Ctx, field: Field, item: str, text: str, lo: int, hi: int) -> int:
    if not _is_digits(text) or not lo <= int(text) <= hi:
        raise ctx.fail(field, item, f"{text!r} must be a number in {lo}-{hi}")
    return int(text)
