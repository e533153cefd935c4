"""IANA timezone lookup with errors that name the bad zone."""

from __future__ import annotations

from datetime import UTC, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from rota.errors import InvalidTimezone, did_you_mean


@lru_cache(maxsize=256)
def _lookup(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        # The full list is read only on the error path: it costs a directory walk.
        hint = did_you_mean(name, available_timezones())
        raise InvalidTimezone(f"unknown timezone {name!r}{hint}") from None


def zone(tz: str | tzinfo) -> ZoneInfo:
    """``tz`` (an IANA name, a keyed ``ZoneInfo`` or ``UTC``) as a ``ZoneInfo``.

    Anything else raises ``InvalidTimezone``: a zone must have a name to be stored.
    """
    if isinstance(tz, ZoneInfo):
        if tz.key is None:
            raise InvalidTimezone("a ZoneInfo without a key cannot be stored; pass an IANA name")
        return tz
    if tz is UTC:
        return _lookup("UTC")
    if not isinstance(tz, str) or not tz.strip():
        raise InvalidTimezone(f"invalid timezone {tz!r} (expected an IANA name like 'UTC')")
    return _lookup(tz.strip())


def zone_name(tz: ZoneInfo) -> str:
    """The IANA key of ``tz`` (what ``zone`` accepts back)."""
    return tz.key
