"""What ``rota list`` and ``rota history`` show, read from an app and its store.

Read-only: listing never syncs, so an old checkout pointed at a shared
store cannot retire anyone's schedules by looking at them.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, tzinfo
from typing import TYPE_CHECKING, Any

from rota._cli_tables import (
    NONE,
    first_line,
    format_duration,
    format_relative,
    format_time,
)
from rota.errors import ConfigurationError, InvalidTimezone, ScheduleNotFound, did_you_mean

if TYPE_CHECKING:
    from rota.app import Rota
    from rota.runs import Run, RunState
    from rota.schedule import Schedule
    from rota.stores.base import ScheduleRecord, Store


@dataclass(frozen=True, slots=True)
class ScheduleRow:
    """One line of ``rota list``."""

    name: str
    when: str
    words: str
    tz: tzinfo
    status: str
    next_due: datetime | None
    last: Run | None
    overdue: bool = False
    """Its ``next_due`` passed longer ago than ``is_overdue`` allows: no scheduler fired it."""

    def cells(self, now: datetime) -> list[str]:
        due = NONE if self.next_due is None else _with_relative(self.next_due, self.tz, now)
        if self.status != "active":
            due = self.status
        elif self.overdue:
            due = f"{due} OVERDUE"
        return [self.name, self.when, self.words, str(self.tz), due, _last(self.last, now)]

    def to_json(self) -> dict[str, Any]:
        last = self.last
        return {
            "name": self.name,
            "when": self.when,
            "description": self.words,
            "timezone": str(self.tz),
            "status": self.status,
            "paused": self.status == "paused",
            "overdue": self.overdue,
            "next_due": iso(self.next_due),
            "last_run": None if last is None else run_json(last),
        }


LIST_HEADERS = ("SCHEDULE", "WHEN", "IN WORDS", "TIMEZONE", "NEXT DUE", "LAST RUN")
HISTORY_HEADERS = ("RUN", "SCHEDULE", "SLOT", "STATE", "ATTEMPT", "DURATION", "ERROR")


def schedule_rows(app: Rota, now: datetime) -> list[ScheduleRow]:
    """The app's code schedules, then the store's dynamic ones, each with its last run."""
    store = app.store
    records = {r.name: r for r in store.iter_schedules()}
    rows = [_row(s, records.get(name), store, now) for name, s in app.declared().items()]
    for record in records.values():
        if record.source == "dynamic" and not _is_host_record(record):
            rows.append(_dynamic_row(app, record, store, now))
    return rows


def _row(
    schedule: Schedule, record: ScheduleRecord | None, store: Store, now: datetime
) -> ScheduleRow:
    status = "paused" if record is not None and record.paused else "active"
    next_due = _next_due(schedule, record, now)
    stored = record is not None and next_due == record.next_due
    return ScheduleRow(
        name=schedule.name,
        when=when_text(schedule),
        words=schedule.describe(),
        tz=schedule.tz,
        status=status,
        next_due=next_due,
        last=_last_run(store, schedule.name),
        overdue=stored and is_overdue(record, schedule, now),
    )


def _dynamic_row(app: Rota, record: ScheduleRecord, store: Store, now: datetime) -> ScheduleRow:
    from rota.schedule import Schedule

    schedule = Schedule.from_spec(record.spec)
    row = _row(schedule, record, store, now)
    if record.job not in app.jobs:
        return ScheduleRow(**{**_fields(row), "status": f"job {record.job!r} not registered"})
    return row


def _fields(row: ScheduleRow) -> dict[str, Any]:
    return {name: getattr(row, name) for name in ScheduleRow.__slots__}


def when_text(schedule: Schedule) -> str:
    """The trigger as cron shows it: the expression, ``@every 90s`` or ``@once``."""
    trigger = schedule.trigger
    expression = getattr(trigger, "expression", None)
    if isinstance(expression, str):
        return expression
    spec = trigger.to_spec()
    if spec.get("type") == "interval":
        return f"@every {spec['every']}s"
    return f"@{spec.get('type', 'trigger')}"


def _next_due(schedule: Schedule, record: ScheduleRecord | None, now: datetime) -> datetime | None:
    """The stored ``next_due`` while the stored trigger is the code's; else the next slot."""
    same = record is not None and record.spec.get("trigger") == schedule.trigger.to_spec()
    if record is not None and same and record.next_due is not None:
        return record.next_due
    return schedule.trigger.next_after(now)


OVERDUE_AFTER = timedelta(seconds=90)
"""The least lateness that counts as overdue: every mode fires a due slot well within it
(``rota work`` and ``rota scheduler`` within a second, ``* * * * * rota run`` within the minute)."""


def is_overdue(record: ScheduleRecord | None, schedule: Schedule, now: datetime) -> bool:
    """Whether the active ``record``'s next slot passed longer ago than its catch-up grace
    (at least ``OVERDUE_AFTER``) and no scheduler fired it: none runs against this store,
    or none of those running knows its job. A scheduler that comes now records the slot
    as ``missed`` (``catch_up("all")`` with no grace set still fires it)."""
    if record is None or not record.active or record.next_due is None:
        return False
    from rota._planning import grace_for

    tolerance = max(grace_for(schedule.policies, schedule.trigger), OVERDUE_AFTER)
    return record.next_due < now - tolerance


def _last_run(store: Store, schedule: str) -> Run | None:
    runs = store.list_runs(schedule=schedule, limit=1)
    return runs[0] if runs else None


def _is_host_record(record: ScheduleRecord) -> bool:
    from rota.scheduler import host_record_of

    return host_record_of(record) is not None


def _last(run: Run | None, now: datetime) -> str:
    if run is None:
        return "never"
    when = run.finished_at or run.started_at or run.created_at
    return f"{run.state} {format_relative(when, now)}"


def _with_relative(when: datetime, tz: tzinfo, now: datetime) -> str:
    relative = format_relative(when, now)
    if when < now:
        relative = f"due {relative}"
    return f"{format_time(when, tz)} ({relative})"


# -- history -----------------------------------------------------------------------------------


def history(
    app: Rota, name: str | None, limit: int, states: Sequence[RunState] | None
) -> list[Run]:
    """The newest ``limit`` runs (of schedule ``name``), newest first.

    ``ScheduleNotFound`` (with a suggestion) when ``name`` is neither
    declared nor stored and has no runs.
    """
    runs = app.store.list_runs(schedule=name, states=states, limit=limit)
    if name is not None and not runs and not _known(app, name):
        known = [*app.declared(), *(r.name for r in app.store.iter_schedules())]
        hint = did_you_mean(name, known) or "; `rota list` shows the schedules"
        raise ScheduleNotFound(f"unknown schedule {name!r}{hint}")
    # one tick creates many runs at one instant (missed slots): newest slot first among them
    return sorted(runs, key=lambda run: (run.created_at, run.slot or run.created_at), reverse=True)


def _known(app: Rota, name: str) -> bool:
    return name in app.declared() or app.store.get_schedule(name) is not None


def zones(app: Rota) -> dict[str, tzinfo]:
    """Each known schedule's timezone, to show slots in."""
    found: dict[str, tzinfo] = {name: s.tz for name, s in app.declared().items()}
    for record in app.store.iter_schedules():
        tz = record.spec.get("trigger", {}).get("tz")
        if record.name not in found and isinstance(tz, str):
            found[record.name] = _zone(tz)
    return found


def _zone(name: str) -> tzinfo:
    """The zone to show times in; UTC when the stored name is not a zone here."""
    from rota._zones import zone

    try:
        return zone(name)
    except InvalidTimezone:
        return UTC


def history_cells(run: Run, tz: tzinfo) -> list[str]:
    """One line of ``rota history``."""
    slot = f"manual {format_time(run.created_at, tz)}" if run.manual else format_time(run.slot, tz)
    attempts = f"{run.attempt}/{run.options.max_attempts}"
    return [
        run.id,
        run.schedule or run.job,
        slot,
        str(run.state),
        attempts,
        format_duration(run.duration),
        first_line(run.error),
    ]


def parse_states(names: Sequence[str]) -> list[RunState] | None:
    """``--state`` values as states, None when none given; ``ConfigurationError`` on a bad one."""
    from rota.runs import RunState

    if not names:
        return None
    known = [state.value for state in RunState]
    for name in names:
        if name not in known:
            raise ConfigurationError(
                f"unknown run state {name!r}{did_you_mean(name, known)} (known: {', '.join(known)})"
            )
    return [RunState(name) for name in names]


def outcome_report(run: Run) -> tuple[str, str | None]:
    """What ``rota test`` prints: the outcome, result and output; and, when the run did
    not succeed, its traceback (or error) for stderr."""
    lines = [
        f"{run.schedule or run.job}: {run.state} in {format_duration(run.duration)} "
        f"(run {run.id}, job {run.job})"
    ]
    if run.result is not None:
        lines.append(f"result: {json.dumps(run.result, default=str)}")
    if run.log:
        lines.append("output:")
        lines += [f"  {line}" for line in run.log.rstrip("\n").splitlines()]
    if run.state == "succeeded":
        return "\n".join(lines), None
    return "\n".join(lines), (run.traceback or f"error: {run.error}").rstrip("\n")


def run_json(run: Run) -> dict[str, Any]:
    """The fields of a run that ``--json`` output shows."""
    return {
        "id": run.id,
        "schedule": run.schedule,
        "job": run.job,
        "slot": iso(run.slot),
        "manual": run.manual,
        "state": str(run.state),
        "attempt": run.attempt,
        "max_attempts": run.options.max_attempts,
        "created_at": iso(run.created_at),
        "started_at": iso(run.started_at),
        "finished_at": iso(run.finished_at),
        "duration": run.duration,
        "result": run.result,
        "error": run.error,
    }


def iso(when: datetime | None) -> str | None:
    """``when`` as ISO 8601 for ``--json`` output; None stays None."""
    return None if when is None else when.isoformat()


__all__ = [
    "HISTORY_HEADERS",
    "LIST_HEADERS",
    "OVERDUE_AFTER",
    "ScheduleRow",
    "history",
    "history_cells",
    "is_overdue",
    "iso",
    "outcome_report",
    "parse_states",
    "run_json",
    "schedule_rows",
    "when_text",
    "zones",
]
