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
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from rota.errors import ConfigurationError
from rota.runs import Run
from rota.stores import _codec, _rules
from rota.stores.base import (
    Advance,
    Outcome,
    ScheduleRecord,
    check_finish_state,
    stored_record,
)

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
_SCHEDULE_INTS = frozenset(_codec.SCHEDULE_COLUMNS) - {"name", "job", "spec", "source"}
"""The schedule columns stored as integers: all but the text ones."""


@dataclass(frozen=True, slots=True)
class RedisOptions:
    """What a ``redis://`` URL says beyond the connection itself."""

    client_url: str
    """The URL without rota's own options, for redis-py."""
    prefix: str = DEFAULT_PREFIX
    ttl_seconds: int = round(DEFAULT_TTL_DAYS * 86400)
    cluster: bool = False
    """``?cluster=true``: the URL names one node of a Redis Cluster."""

    @property
    def base(self) -> str:
        """The start of every key: the prefix as the one hash tag, ``{rota}:``."""
        return "{" + self.prefix + "}:"


def parse_url(url: str) -> RedisOptions:
    """Split ``?prefix=``, ``?ttl_days=`` and ``?cluster=`` off a ``redis://``/``rediss://`` URL."""
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("redis", "rediss"):
        raise ConfigurationError(f"not a Redis store URL: {url!r}")
    rest: list[tuple[str, str]] = []
    prefix, ttl_days, cluster = DEFAULT_PREFIX, DEFAULT_TTL_DAYS, False
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name == "prefix":
            prefix = value
        elif name == "ttl_days":
            ttl_days = _ttl_days(value, url)
        elif name == "cluster":
            cluster = _flag(name, value, url)
        else:
            rest.append((name, value))
    if not _PREFIX.match(prefix):
        raise ConfigurationError(
            f"bad prefix {prefix!r} in Redis store URL {url!r}: use letters, digits and "
            "'_', '.', ':', '-' (no braces: the prefix becomes the keys' hash tag)"
        )
    if cluster and parts.path.strip("/") not in ("", "0"):
        raise ConfigurationError(
            f"Redis store URL {url!r} names database {parts.path.strip('/')!r}, but a "
            "Redis Cluster has only database 0 (drop the path, or use /0)"
        )
    client_url = urlunsplit(parts._replace(query=urlencode(rest)))
    return RedisOptions(client_url, prefix, round(ttl_days * 86400), cluster)


_FLAGS = {"true": True, "yes": True, "1": True, "false": False, "no": False, "0": False}


def _flag(name: str, value: str, url: str) -> bool:
    flag = _FLAGS.get(value.lower())
    if flag is None:
        raise ConfigurationError(f"bad {name} {value!r} in Redis store URL {url!r}: true or false")
    return flag


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


_PUBLISH = "local PUBLISH = 'PUBLISH'\n"


def script_text(name: str, *, sharded: bool = False) -> str:
    """The packaged ``lua/<name>.lua`` with the shared ``lua/_lib.lua`` before it;
    ``sharded``: wake-ups go out by ``SPUBLISH`` (sharded pub/sub, on a cluster)."""
    folder = resources.files("rota.stores").joinpath("lua")
    lib = folder.joinpath("_lib.lua").read_text(encoding="utf-8")
    if sharded:
        if _PUBLISH not in lib:
            raise RuntimeError("lua/_lib.lua no longer says how it PUBLISHes")
        lib = lib.replace(_PUBLISH, _PUBLISH.replace("'PUBLISH'", "'SPUBLISH'"))
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


encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode
"""Compact JSON (what the scripts' batch arguments are), non-ASCII kept as is."""


def insert_batch(runs: Sequence[Run]) -> str:
    """``insert_runs.lua``'s ARGV (``fire.lua``'s first): the JSON of ``[shapes,
    runs]``, which ``insert_all`` in ``lua/_lib.lua`` turns into each run's
    ``run_fields``. Refuses non-JSON values first.

    A tick's (and an ``enqueue_many``'s) runs differ in a handful of fields:
    id, schedule, slot, available_at, arguments and parents. The rest (job,
    state, queue, options, created_at, …) is a *shape*, ``[field, value, …]``,
    encoded once for the runs that share it; each run is ``[its shape's place
    (from 1), id, schedule or false, slot or false, available_at, args,
    kwargs, parents]``. Compared with a full field list per run this is a
    fifth of the text, so less Python per run here and less JSON for the
    script to parse. A run that has started (lease, result, error, …) gets a
    shape of its own.
    """
    shapes: list[list[str]] = []
    places: dict[tuple[Any, ...], int] = {}
    times = _Micros()
    options_text = _codec.options_text
    items: list[list[Any]] = []
    for run in runs:
        run_id, slot, parents = run.id, run.slot, run.parents
        if (
            run.started_at is None
            and run.finished_at is None
            and run.worker is None
            and run.lease_token is None
            and run.lease_expires_at is None
            and run.result is None
            and run.error is None
            and run.traceback is None
            and not run.log
            and run.checkpoint is None
            and run.progress_done is None
            and run.progress_total is None
            and not run.cancel_requested
        ):
            key = (
                run.job,
                run.state,
                run.queue,
                run.priority,
                options_text(run.options),
                run.created_at,
                run.attempt,
                run.host,
                run.manual,
            )
            place = places.get(key)
            if place is None:
                shapes.append(_shape(run))
                place = places[key] = len(shapes)
        else:
            shapes.append(_shape(run))
            place = len(shapes)
        args, kwargs = run.args, run.kwargs
        items.append(
            [
                place,
                run_id,
                False if run.schedule is None else run.schedule,
                False if slot is None else times[slot],
                times[run.available_at],
                _json(list(args), "arguments", run_id) if args else "[]",
                _json(dict(kwargs), "keyword arguments", run_id) if kwargs else "{}",
                _json(list(parents), "parents") if parents else "[]",
            ]
        )
    return encode([shapes, items])


_PER_RUN = frozenset({"id", "schedule", "slot", "available_at", "args", "kwargs", "parents"})
"""The fields ``insert_batch`` sends with each run rather than in its shape."""


def _shape(run: Run) -> list[str]:
    """The ``[field, value, …]`` of ``run_fields(run)`` but the per-run ones."""
    fields = run_fields(run)
    shape: list[str] = []
    for k in range(0, len(fields), 2):
        if fields[k] not in _PER_RUN:
            shape += (fields[k], fields[k + 1])
    return shape


class _Micros(dict[datetime, str]):
    """Aware datetimes as microseconds since the epoch (text), each computed once:
    a tick's runs share a few instants (its slots, its now). Equal aware
    datetimes are the same instant, whatever their zone; a naive one is
    refused (``NaiveDatetime``)."""

    def __missing__(self, dt: datetime) -> str:
        text = self[dt] = str(_codec.to_us(dt))
        return text


def _json(value: Any, what: str, run_id: str | None = None) -> str:
    """``_codec.dumps(value, "<what> of run <run_id>")``, the message built only
    when it fails (a thousand runs, a thousand messages otherwise)."""
    try:
        return _codec.STRICT_ENCODE(value)
    except (TypeError, ValueError):
        return _codec.dumps(value, what if run_id is None else f"{what} of run {run_id!r}")


def advance_batch(advances: Sequence[Advance]) -> str:
    """``advance_schedules.lua``'s ARGV: the JSON of ``[[name, expected version,
    last_slot or '', next_due or ''], …]``, times in microseconds (each distinct
    instant converted once). Refuses a naive time first."""
    times = _Micros()
    batch = []
    for a in advances:
        last, due = a.last_slot, a.next_due
        if (last is not None and last.tzinfo is None) or (due is not None and due.tzinfo is None):
            _codec.opt_to_us(last, "last_slot")  # raises NaiveDatetime, naming the field
            _codec.opt_to_us(due, "next_due")
        batch.append(
            [
                a.name,
                str(int(a.expected_version)),
                "" if last is None else times[last],
                "" if due is None else times[due],
            ]
        )
    return encode(batch)


def finish_args(run_id: str, outcome: Outcome, now: datetime) -> list[str]:
    """``finish_run.lua``'s ARGV after id and token: give back the attempt?, fields."""
    give_back, sets, dels = finish_fields(run_id, outcome, now)
    return [give_back, *counted(sets), *counted(dels)]


def finish_fields(run_id: str, outcome: Outcome, now: datetime) -> tuple[str, list[str], list[str]]:
    """What a finish writes: ``'1'`` to give the attempt back (else ``'0'``), the
    ``field, value, …`` to set and the fields to delete; refuses a bad outcome first.
    (Every run's finish passes here: the fields of ``_rules.finish_changes``,
    written out directly rather than through a generic row.)"""
    check_finish_state(run_id, outcome)
    changes = _rules.finish_changes(outcome, outcome.result, now)
    result, finished_at, available_at = (
        outcome.result,
        changes["finished_at"],
        changes["available_at"],
    )
    sets = [
        "state",
        outcome.state.value,
        "cancel_requested",
        "0",
        "result",
        "null" if result is None else _codec.dumps(result, f"result of run {run_id!r}"),
        "log",
        outcome.log,
    ]
    dels = ["lease_token", "lease_expires_at"]
    if finished_at is None:
        dels.append("finished_at")
    else:
        sets += ("finished_at", str(_codec.to_us(finished_at)))
    if available_at is not None:
        sets += ("available_at", str(_codec.to_us(available_at)))
    for name, value in (("error", outcome.error), ("traceback", outcome.traceback)):
        if value is None:
            dels.append(name)
        else:
            sets += (name, value)
    return ("1" if _rules.gives_back_attempt(outcome) else "0"), sets, dels


def schedule_args(record: ScheduleRecord) -> list[str]:
    """``save_schedule.lua``'s ARGV after name and version: retired?, per-host?, due, fields."""
    retired, per_host, due, sets, dels = schedule_parts(record)
    return [retired, per_host, due, *counted(sets), *counted(dels)]


def schedule_parts(
    record: ScheduleRecord,
) -> tuple[str, str, str, list[str], list[str]]:
    """What a schedule write takes: ``'1'`` if retired, ``'1'`` if per-host, its
    ``next_due`` when it fires (else ``''``), the fields to set and to delete."""
    row = _codec.schedule_to_row(record)
    del row["version"]
    sets, dels = to_fields(row)
    fires = record.active and row["next_due"] is not None
    due = str(row["next_due"]) if fires else ""
    return str(int(record.retired)), str(int(record.per_host)), due, sets, dels


_EMPTY_ROW: dict[str, Any] = dict.fromkeys(_codec.RUN_COLUMNS)


def run_from_hash(fields: Mapping[str, str]) -> tuple[Run, str]:
    """The run a hash holds, and its revision. (Every claimed run passes here: the
    row is the hash over a row of Nones, its numbers converted in place.)"""
    row: dict[str, Any] = dict(_EMPTY_ROW)
    row.update(fields)
    for name in _RUN_INTS:
        value = row[name]
        if value is not None:
            row[name] = int(value)
    for name in _RUN_FLOATS:
        value = row[name]
        if value is not None:
            row[name] = float(value)
    return _codec.row_to_run(row), fields.get("rev", "0")


def due_and_busy(reply: Sequence[str]) -> tuple[list[ScheduleRecord], frozenset[str]]:
    """The schedules of ``due_schedules.lua``'s reply, and the names of those whose
    active index holds a run.

    The reply: its rows as one JSON text, then each spec as stored (parsed
    here as one JSON array: one parse for the lot, faster than one per spec
    however late). Built directly rather than through a row dict: a busy
    tick reads a thousand; equal instants (a tick's schedules share a few
    slots) become one ``datetime``."""
    rows = json.loads(reply[0])
    specs = json.loads("[" + ",".join(reply[1:]) + "]")
    at = _codec.Instants()
    records = [_due_record(row, spec, at) for row, spec in zip(rows, specs, strict=True)]
    return records, frozenset(row[0] for row in rows if row[11])


def _due_record(row: list[Any], spec: Any, at: _codec.Instants) -> ScheduleRecord:
    name, job, created_at, updated_at, source, paused, retired, last_slot, next_due = row[:9]
    return stored_record(
        name,
        job,
        spec,
        at[created_at],
        at[updated_at],
        source,
        bool(paused),
        bool(retired),
        None if last_slot is None else at[last_slot],
        None if next_due is None else at[next_due],
        row[9],
        bool(row[10]),
    )


def schedule_from_hash(fields: Mapping[str, str]) -> ScheduleRecord:
    row = {
        name: int(fields[name]) if name in _SCHEDULE_INTS and name in fields else fields.get(name)
        for name in _codec.SCHEDULE_COLUMNS
    }
    return _codec.row_to_schedule(row)


def records(reply: str) -> list[dict[str, str]]:
    """The records a script returns as JSON ``[[field, value, …], …]``, as dicts."""
    return [dict(zip(flat[::2], flat[1::2], strict=True)) for flat in json.loads(reply)]


def counted(items: list[str]) -> list[str]:
    """``items`` prefixed by their count, as the scripts read lists from ARGV."""
    return [str(len(items)), *items]
