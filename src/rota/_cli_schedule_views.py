"""What ``rota schedules list`` and ``show`` print about stored schedules.

A stored record is shown through the schedule it describes: the code's
object when this app declares it, else rebuilt from its spec (which needs
no registered job). A spec this rota cannot rebuild is still listed, with
its raw trigger, rather than hiding the record.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, tzinfo
from typing import TYPE_CHECKING, Any

from rota._cli_tables import NONE, format_relative, format_time
from rota._cli_views import is_overdue, iso, when_text
from rota.errors import RotaError

if TYPE_CHECKING:
    from rota.app import Rota
    from rota.schedule import Schedule
    from rota.stores.base import ScheduleRecord

SCHEDULES_HEADERS = ("SCHEDULE", "SOURCE", "WHEN", "IN WORDS", "STATE", "NEXT DUE", "LAST SLOT")


def rebuild(app: Rota, record: ScheduleRecord, declared: dict[str, Schedule]) -> Schedule | None:
    """The schedule behind ``record``, or None when its spec cannot be rebuilt here."""
    from rota.schedule import Schedule

    if record.source == "code" and record.name in declared:
        return declared[record.name]
    try:
        return Schedule.from_spec(record.spec)
    except RotaError:
        return None


def state(record: ScheduleRecord, schedule: Schedule | None, now: datetime) -> str:
    """``retired``, ``paused``, ``overdue`` (see ``is_overdue``) or ``active``."""
    if record.retired:
        return "retired"
    if record.paused:
        return "paused"
    if schedule is not None and is_overdue(record, schedule, now):
        return "overdue"
    return "active"


def shown_zone(schedule: Schedule | None) -> tzinfo:
    """The zone to show ``schedule``'s times in: its own, UTC when it cannot be rebuilt."""
    return UTC if schedule is None else schedule.tz


def _when(record: ScheduleRecord, schedule: Schedule | None) -> tuple[str, str]:
    if schedule is None:
        return json.dumps(record.spec.get("trigger"), default=str), "(cannot be rebuilt here)"
    return when_text(schedule), schedule.describe()


def _due(record: ScheduleRecord, tz: tzinfo, now: datetime) -> str:
    if record.per_host:
        return "per host"
    if record.next_due is None:
        return NONE
    return f"{format_time(record.next_due, tz)} ({format_relative(record.next_due, now)})"


def schedule_cells(record: ScheduleRecord, schedule: Schedule | None, now: datetime) -> list[str]:
    """One line of ``rota schedules list``."""
    when, words = _when(record, schedule)
    tz = shown_zone(schedule)
    flag = state(record, schedule, now)
    return [
        record.name,
        record.source,
        when,
        words,
        flag.upper() if flag == "overdue" else flag,
        _due(record, tz, now),
        format_time(record.last_slot, tz),
    ]


def schedule_json(
    record: ScheduleRecord, schedule: Schedule | None, now: datetime
) -> dict[str, Any]:
    """A stored schedule as ``--json`` shows it: its state, progress and full spec."""
    when, words = _when(record, schedule)
    flag = state(record, schedule, now)
    return {
        "name": record.name,
        "source": record.source,
        "job": record.job,
        "when": when,
        "description": words,
        "timezone": str(shown_zone(schedule)),
        "state": flag,
        "paused": record.paused,
        "retired": record.retired,
        "overdue": flag == "overdue",
        "next_due": iso(record.next_due),
        "last_slot": iso(record.last_slot),
        "created_at": iso(record.created_at),
        "updated_at": iso(record.updated_at),
        "version": record.version,
        "spec": dict(record.spec),
    }


def detail_lines(record: ScheduleRecord, schedule: Schedule | None, now: datetime) -> list[str]:
    """``rota schedules show``: the definition, then the state and progress."""
    spec = record.spec
    when, words = _when(record, schedule)
    tz = shown_zone(schedule)
    policies = spec.get("policies")
    after = spec.get("after")
    pairs = [
        ("schedule", f"{record.name} ({record.source})"),
        ("job", record.job),
        ("args", json.dumps(spec.get("args") or [])),
        ("kwargs", json.dumps(spec.get("kwargs") or {})),
        ("when", f"{when}  ({words})"),
        ("timezone", str(tz)),
        ("after", ", ".join(after) if isinstance(after, list) and after else NONE),
        ("policies", _policies(policies if isinstance(policies, dict) else {})),
        ("state", state(record, schedule, now)),
        ("next due", _due(record, tz, now)),
        ("last slot", format_time(record.last_slot, tz)),
        ("created", format_time(record.created_at, tz)),
        ("updated", f"{format_time(record.updated_at, tz)} (version {record.version})"),
    ]
    width = max(len(key) for key, _ in pairs)
    return [f"{key.ljust(width)}  {value}" for key, value in pairs]


_SHOWN_POLICIES = ("queue", "priority", "retries", "timeout", "overlap", "catch_up", "grace")


def _policies(policies: dict[str, Any]) -> str:
    shown = []
    for key in _SHOWN_POLICIES:
        value = policies.get(key)
        shown.append(f"{key}={NONE if value is None else value}")
    return " ".join(shown)


__all__ = [
    "SCHEDULES_HEADERS",
    "detail_lines",
    "rebuild",
    "schedule_cells",
    "schedule_json",
    "shown_zone",
    "state",
]
