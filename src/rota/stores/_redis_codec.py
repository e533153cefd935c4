"""The Redis store's URL options and how runs and schedules sit in hashes.

A record is one hash whose fields are the columns of the SQL stores
(``rota.stores._codec``): datetimes as integer microseconds since the epoch,
JSON fields as text, booleans as ``0``/``1``. A ``None`` value is an absent
field. Run hashes also carry ``rev``, bumped by every write, which the
compare-and-set updates (cancel, requeue, reclaim) check.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from rota.errors import ConfigurationError
from rota.runs import Run, RunState
from rota.stores import _codec, _rules
from rota.stores.base import Outcome, ScheduleRecord, check_finish_state

DEFAULT_PREFIX = "rota"
DEFAULT_TTL_DAYS = 30.0
_PREFIX = re.compile(r"^[A-Za-z0-9_.:-]+$")

_RUN_INTS = frozenset(
    {
        "slot",
        "created_at",
        "available_at",
        "priority",
        "exclusive",
        "max_attempts",
        "attempt",
        "manual",
        "started_at",
        "finished_at",
        "lease_expires_at",
        "cancel_requested",
    }
)
_RUN_FLOATS = frozenset({"progress_done", "progress_total"})
_SCHEDULE_INTS = frozenset(
    {
        "created_at",
        "updated_at",
        "paused",
        "retired",
        "last_slot",
        "next_due",
        "version",
        "per_host",
    }
)


@dataclass(frozen=True, slots=True)
class RedisOptions:
    """What a ``redis://`` URL says beyond the connection itself."""

    client_url: str
    """The URL without rota's own options, for redis-py."""
    prefix: str = DEFAULT_PREFIX
    ttl_seconds: int = round(DEFAULT_TTL_DAYS * 86400)

    @property
    def base(self) -> str:
        """The start of every key: the prefix as the one hash tag, ``{rota}:``."""
        return "{" + self.prefix + "}:"


def parse_url(url: str) -> RedisOptions:
    """Split ``?prefix=`` and ``?ttl_days=`` off a ``redis://``/``rediss://`` URL."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("redis", "rediss"):
        raise ConfigurationError(f"not a Redis store URL: {url!r}")
    rest: list[tuple[str, str]] = []
    prefix, ttl_days = DEFAULT_PREFIX, DEFAULT_TTL_DAYS
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name == "prefix":
            prefix = value
        elif name == "ttl_days":
            ttl_days = _ttl_days(value, url)
        else:
            rest.append((name, value))
    if not _PREFIX.match(prefix):
        raise ConfigurationError(
            f"bad prefix {prefix!r} in Redis store URL {url!r}: use letters, digits and "
            "'_', '.', ':', '-' (no braces: the prefix becomes the keys' hash tag)"
        )
    client_url = urlunsplit(parts._replace(query=urlencode(rest)))
    return RedisOptions(client_url, prefix, round(ttl_days * 86400))


def _ttl_days(value: str, url: str) -> float:
    try:
        days = float(value)
    except ValueError:
        days = -1.0
    if not days >= 0 or days == float("inf"):
        raise ConfigurationError(
            f"bad ttl_days {value!r} in Redis store URL {url!r}: "
            "a number of days >= 0 (0 keeps finished runs until pruned)"
        )
    return days


def script_text(name: str) -> str:
    """The packaged ``lua/<name>.lua`` with the shared ``lua/_lib.lua`` before it."""
    folder = resources.files("rota.stores").joinpath("lua")
    lib = folder.joinpath("_lib.lua").read_text(encoding="utf-8")
    return lib + "\n" + folder.joinpath(f"{name}.lua").read_text(encoding="utf-8")


# -- records <-> hashes ------------------------------------------------------


def to_fields(row: Mapping[str, Any]) -> tuple[list[str], list[str]]:
    """``(field, value, …)`` to set and the fields to delete (``None`` values)."""
    sets: list[str] = []
    dels: list[str] = []
    for name, value in row.items():
        if value is None:
            dels.append(name)
        else:
            sets += (name, value if isinstance(value, str) else _text(value))
    return sets, dels


def _text(value: Any) -> str:
    return repr(float(value)) if isinstance(value, float) else str(int(value))


def run_fields(run: Run) -> list[str]:
    """The fields of a new run hash (``rev`` 0): refuses non-JSON values first."""
    sets, _ = to_fields(_codec.run_to_row(run))
    return [*sets, "rev", "0"]


def finish_args(run_id: str, outcome: Outcome, now: datetime) -> list[str]:
    """``finish_run.lua``'s ARGV after id and token: give back the attempt?, fields."""
    give_back, sets, dels = finish_fields(run_id, outcome, now)
    return [give_back, *counted(sets), *counted(dels)]


def finish_fields(run_id: str, outcome: Outcome, now: datetime) -> tuple[str, list[str], list[str]]:
    """What a finish writes: ``'1'`` to give the attempt back (else ``'0'``), the
    ``field, value, …`` to set and the fields to delete; refuses a bad outcome first."""
    check_finish_state(run_id, outcome)
    changes = _rules.finish_changes(outcome, outcome.result, now)
    row: dict[str, Any] = {
        "state": outcome.state.value,
        "finished_at": _codec.opt_to_us(changes["finished_at"]),
        "lease_token": None,
        "lease_expires_at": None,
        "cancel_requested": 0,
        "result": _codec.dumps(outcome.result, f"result of run {run_id!r}"),
        "error": outcome.error,
        "traceback": outcome.traceback,
        "log": outcome.log,
    }
    if changes["available_at"] is not None:
        row["available_at"] = _codec.to_us(changes["available_at"])
    sets, dels = to_fields(row)
    return str(int(_rules.gives_back_attempt(outcome))), sets, dels


def schedule_args(record: ScheduleRecord) -> list[str]:
    """``save_schedule.lua``'s ARGV after name and version: retired?, per-host?, due, fields."""
    row = _codec.schedule_to_row(record)
    del row["version"]
    sets, dels = to_fields(row)
    fires = record.active and row["next_due"] is not None
    due = str(row["next_due"]) if fires else ""
    return [
        str(int(record.retired)),
        str(int(record.per_host)),
        due,
        *counted(sets),
        *counted(dels),
    ]


def run_from_hash(fields: Mapping[str, str]) -> tuple[Run, str]:
    """The run a hash holds, and its revision."""
    row: dict[str, Any] = {}
    for name in _RUN_COLUMNS:
        value = fields.get(name)
        if value is not None and name in _RUN_INTS:
            row[name] = int(value)
        elif value is not None and name in _RUN_FLOATS:
            row[name] = float(value)
        else:
            row[name] = value
    return _codec.row_to_run(row), fields.get("rev", "0")


def schedule_from_hash(fields: Mapping[str, str]) -> ScheduleRecord:
    row = {
        name: int(fields[name]) if name in _SCHEDULE_INTS and name in fields else fields.get(name)
        for name in _SCHEDULE_COLUMNS
    }
    return _codec.row_to_schedule(row)


def records(reply: str) -> list[dict[str, str]]:
    """The records a script returns as JSON ``[[field, value, …], …]``, as dicts."""
    return [dict(zip(flat[::2], flat[1::2], strict=True)) for flat in json.loads(reply)]


def counted(items: list[str]) -> list[str]:
    """``items`` prefixed by their count, as the scripts read lists from ARGV."""
    return [str(len(items)), *items]


_RUN_COLUMNS = tuple(
    _codec.run_to_row(
        Run(
            id="-",
            job="-",
            state=RunState.QUEUED,
            created_at=_codec.EPOCH,
            available_at=_codec.EPOCH,
        )
    )
)
_SCHEDULE_COLUMNS = (
    "name",
    "job",
    "spec",
    "created_at",
    "updated_at",
    "source",
    "paused",
    "retired",
    "last_slot",
    "next_due",
    "version",
    "per_host",
)
