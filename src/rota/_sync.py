"""Storing the code-declared schedules: create, update, retire. ``Rota.sync_schedules``.

A new schedule counts from the start of the minute it is first stored; a
changed one keeps its history, pause state and progress, and a changed
trigger counts from the current minute (no slot of the new definition from
before the change fires). Code schedules no longer declared are retired;
dynamic schedules are never touched.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Literal

from rota.errors import ConfigurationError, StoreUnavailable
from rota.schedule import Schedule
from rota.scheduler import (
    Scheduler,
    host_record_name,
    host_record_of,
    is_per_host,
    new_record,
    restart_due,
)
from rota.stores.base import ScheduleRecord, Store

Change = Literal["created", "updated", "unchanged"]
_PAGE = 500
_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class SyncReport:
    """What ``sync_schedules`` changed in the store, by schedule name."""

    created: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    retired: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()


def sync(scheduler: Scheduler, declared: Mapping[str, Schedule], now: datetime) -> SyncReport:
    """Upsert ``declared`` into the scheduler's store and retire undeclared code schedules."""
    changes: dict[Change, list[str]] = {"created": [], "updated": [], "unchanged": []}
    for schedule in declared.values():
        changes[_sync_one(scheduler, schedule, now)].append(schedule.name)
    return SyncReport(
        created=tuple(changes["created"]),
        updated=tuple(changes["updated"]),
        retired=tuple(_retire_undeclared(scheduler.store, declared, now)),
        unchanged=tuple(changes["unchanged"]),
    )


def _sync_one(scheduler: Scheduler, schedule: Schedule, now: datetime) -> Change:
    store = scheduler.store
    spec = normal(schedule.to_spec())
    for _ in range(_ATTEMPTS):  # a scheduler may advance the record meanwhile: read again
        current = store.get_schedule(schedule.name)
        outcome: Change
        if current is None:
            outcome = "created"
            saved = store.save_schedule(new_record(schedule, now), expected_version=None)
        else:
            outcome, saved = _update(store, current, schedule, spec, now)
        if saved is not None:
            _ensure_host(scheduler, saved, schedule, now, restart=outcome == "updated")
            return outcome
    raise StoreUnavailable(f"schedule {schedule.name!r} kept changing while being saved")


def _update(
    store: Store, current: ScheduleRecord, schedule: Schedule, spec: dict[str, Any], now: datetime
) -> tuple[Change, ScheduleRecord | None]:
    if current.source != "code":
        raise ConfigurationError(
            f"schedule {schedule.name!r} is declared in code but the store holds a dynamic "
            "schedule of that name; rename one (.named('...')) or delete the dynamic one"
        )
    stored = normal(current.spec)
    if stored == spec and not current.retired:
        return "unchanged", current
    restart = current.retired or stored.get("trigger") != spec["trigger"]
    restart = restart or is_per_host(stored) != is_per_host(spec)
    next_due = restart_due(schedule.trigger, current, now) if restart else current.next_due
    record = current.evolve(
        job=schedule.job,
        spec=spec,
        retired=False,
        updated_at=now,
        next_due=None if schedule.policies.on_each_server else next_due,
    )
    return "updated", store.save_schedule(record, expected_version=current.version)


def _ensure_host(
    scheduler: Scheduler,
    record: ScheduleRecord,
    schedule: Schedule,
    now: datetime,
    *,
    restart: bool,
) -> None:
    """Keep this host's progress for a per-host schedule; restart it with a new trigger."""
    if not schedule.policies.on_each_server:
        return
    scheduler.ensure_host_record(record, schedule, now)
    own = scheduler.store.get_schedule(host_record_name(record.name, scheduler.host))
    if restart and own is not None and own.next_due is not None:
        scheduler.store.advance_schedule(
            own.name,
            expected_version=own.version,
            last_slot=own.last_slot,
            next_due=restart_due(schedule.trigger, own, now),
        )


def _retire_undeclared(
    store: Store, declared: Mapping[str, Schedule], now: datetime
) -> Iterator[str]:
    for record in all_schedules(store):
        if record.source != "code" or record.name in declared or host_record_of(record):
            continue
        gone = record.evolve(retired=True, updated_at=now)
        if store.save_schedule(gone, expected_version=record.version) is not None:
            yield record.name


def normal(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A spec as the store gives it back (a JSON round trip), for comparing."""
    result: dict[str, Any] = json.loads(json.dumps(spec, sort_keys=True))
    return result


def all_schedules(store: Store) -> Iterator[ScheduleRecord]:
    """Every schedule that is not retired, page by page."""
    after: str | None = None
    while True:
        page = store.list_schedules(after=after, limit=_PAGE)
        yield from page
        if len(page) < _PAGE:
            return
        after = page[-1].name
