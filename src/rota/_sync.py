"""Storing the code-declared schedules: create, update, retire. ``Rota.sync_schedules``.

A new schedule counts from the start of the minute it is first stored; a
changed one keeps its history, pause state and progress, and a changed
trigger counts from the current minute (no slot of the new definition from
before the change fires). Code schedules no longer declared are retired;
dynamic schedules are never touched.

``rota run`` syncs on every pass, usually with nothing changed, so a sync
reads the stored schedules in one listing (one query per 500) and compares
specs in memory; only a schedule that changed costs more queries.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping
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
_ATTEMPTS = 5


@dataclass(frozen=True, slots=True)
class SyncReport:
    """What ``sync_schedules`` changed in the store, by schedule name."""

    created: tuple[str, ...] = ()
    updated: tuple[str, ...] = ()
    retired: tuple[str, ...] = ()
    unchanged: tuple[str, ...] = ()


def sync(
    scheduler: Scheduler,
    declared: Mapping[str, Schedule],
    now: datetime,
    *,
    discover: bool = False,
) -> SyncReport:
    """Upsert ``declared`` into the scheduler's store and retire undeclared code schedules.

    With ``discover``, also ``scheduler.discover(now)`` over the same listing
    (the dynamic schedules in it: sync has just seen to the code ones).
    """
    stored = {r.name: r for r in scheduler.store.iter_schedules(include_retired=True)}
    changes: dict[Change, list[str]] = {"created": [], "updated": [], "unchanged": []}
    for schedule in declared.values():
        listed = stored.get(schedule.name)
        changes[_sync_one(scheduler, schedule, now, listed)].append(schedule.name)
    report = SyncReport(
        created=tuple(changes["created"]),
        updated=tuple(changes["updated"]),
        retired=tuple(_retire_undeclared(scheduler.store, declared, stored.values(), now)),
        unchanged=tuple(changes["unchanged"]),
    )
    if discover:
        scheduler.discover(now, records=[r for r in stored.values() if r.source == "dynamic"])
    return report


def _sync_one(
    scheduler: Scheduler, schedule: Schedule, now: datetime, listed: ScheduleRecord | None
) -> Change:
    """Store ``schedule``, starting from ``listed`` (its record in the listing, if any)."""
    store = scheduler.store
    text = json.dumps(schedule.to_spec(), sort_keys=True)
    current = listed
    for attempt in range(_ATTEMPTS):  # a scheduler may advance the record meanwhile: read again
        if attempt:
            current = store.get_schedule(schedule.name)
        outcome: Change
        if current is None:
            outcome = "created"
            _validate(schedule)
            saved = store.save_schedule(new_record(schedule, now), expected_version=None)
        else:
            outcome, saved = _update(store, current, schedule, text, now)
        if saved is not None:
            _ensure_host(scheduler, saved, schedule, now, restart=outcome == "updated")
            return outcome
    raise StoreUnavailable(f"schedule {schedule.name!r} kept changing while being saved")


def _update(
    store: Store, current: ScheduleRecord, schedule: Schedule, text: str, now: datetime
) -> tuple[Change, ScheduleRecord | None]:
    """Update ``current`` to ``schedule``, whose spec is the JSON ``text`` (sorted keys)."""
    if current.source != "code":
        raise ConfigurationError(
            f"schedule {schedule.name!r} is declared in code but the store holds a dynamic "
            "schedule of that name; rename one (.named('...')) or delete the dynamic one"
        )
    flagged = current.per_host == schedule.policies.on_each_server  # older records lack the flag
    if not current.retired and flagged and _same(current.spec, text):
        return "unchanged", current
    spec: dict[str, Any] = json.loads(text)
    stored = normal(current.spec)
    _validate(schedule)
    restart = current.retired or stored.get("trigger") != spec["trigger"]
    restart = restart or is_per_host(stored) != is_per_host(spec)
    next_due = restart_due(schedule.trigger, current, now) if restart else current.next_due
    record = current.evolve(
        job=schedule.job,
        spec=spec,
        retired=False,
        updated_at=now,
        next_due=None if schedule.policies.on_each_server else next_due,
        per_host=schedule.policies.on_each_server,
    )
    return "updated", store.save_schedule(record, expected_version=current.version)


def _validate(schedule: Schedule) -> None:
    """Compile the trigger of a schedule about to be stored: a bad one fails before anything
    is. (Its spec is read without compiling, so comparing unchanged ones stays cheap.)"""
    _ = schedule.trigger


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
    store: Store, declared: Mapping[str, Schedule], stored: Iterable[ScheduleRecord], now: datetime
) -> Iterator[str]:
    for record in stored:
        if record.source != "code" or record.retired or record.name in declared:
            continue
        if host_record_of(record):
            continue
        gone = record.evolve(retired=True, updated_at=now)
        if store.save_schedule(gone, expected_version=record.version) is not None:
            yield record.name


def _same(stored: Mapping[str, Any], text: str) -> bool:
    """Whether the stored spec equals the spec whose sorted JSON is ``text``, once both
    are normal. Equal texts are the common case, checked first; ``normal`` also equates
    what JSON text keeps apart, such as ``1`` and ``1.0``."""
    return json.dumps(stored, sort_keys=True) == text or normal(stored) == json.loads(text)


def normal(spec: Mapping[str, Any]) -> dict[str, Any]:
    """A spec as the store gives it back (a JSON round trip), for comparing."""
    result: dict[str, Any] = json.loads(json.dumps(spec, sort_keys=True))
    return result
