"""Plain-text output for the command line: aligned tables, times, durations.

Only the standard library, so ``rota.cli`` can import it at start-up.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta, tzinfo

NONE = "-"
"""What an empty cell shows."""


def render_table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """``headers`` and ``rows`` as left-aligned columns two spaces apart, no trailing blanks."""
    widths = [len(header) for header in headers]
    for row in rows:
        widths = [max(width, len(cell)) for width, cell in zip(widths, row, strict=True)]
    lines = [headers, *rows]
    return "\n".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip()
        for line in lines
    )


def format_offset(delta: timedelta) -> str:
    """``timedelta(hours=13, minutes=12)`` -> ``"in 13h 12m"``; whole seconds, floored."""
    seconds = int(delta.total_seconds())
    if seconds < 1:
        return "in <1s"
    return "in " + _units(seconds)


def format_ago(delta: timedelta) -> str:
    """How long ago an instant ``delta`` before now was: ``"3m 12s ago"``, ``"<1s ago"``."""
    seconds = int(delta.total_seconds())
    return "<1s ago" if seconds < 1 else f"{_units(seconds)} ago"


def format_relative(when: datetime, now: datetime) -> str:
    """``"in 5s"`` for the future, ``"2m ago"`` for the past."""
    return format_offset(when - now) if when >= now else format_ago(now - when)


def _units(seconds: int) -> str:
    days, rest = divmod(seconds, 86_400)
    hours, rest = divmod(rest, 3_600)
    minutes, secs = divmod(rest, 60)
    units = zip((days, hours, minutes, secs), "dhms", strict=True)
    return " ".join(f"{n}{unit}" for n, unit in units if n)


def format_time(when: datetime | None, tz: tzinfo) -> str:
    """``when`` in ``tz`` with its UTC offset, to the second: ``2026-11-24 07:30:00+01:00``."""
    if when is None:
        return NONE
    return when.astimezone(tz).replace(microsecond=0).isoformat(sep=" ")


def format_duration(seconds: float | None) -> str:
    """``0.0123`` -> ``"12ms"``, ``4.5`` -> ``"4.5s"``, ``125`` -> ``"2m 5s"``."""
    if seconds is None:
        return NONE
    if seconds < 1:
        return f"{seconds * 1000:.0f}ms"
    if seconds < 60:
        return f"{seconds:.1f}s"
    return _units(int(seconds))


def first_line(text: str | None, width: int = 60) -> str:
    """The first non-blank line of ``text``, cut to ``width`` characters with ``…``."""
    if not text or not text.strip():
        return NONE
    line = next(line for line in text.splitlines() if line.strip()).strip()
    return line if len(line) <= width else line[: width - 1] + "…"


__all__ = [
    "NONE",
    "first_line",
    "format_ago",
    "format_duration",
    "format_offset",
    "format_relative",
    "format_time",
    "render_table",
]
