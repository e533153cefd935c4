"""Schedules created, changed and controlled while the app runs.

The ``Rota`` methods ``add_schedule``, ``edit_schedule``, ``pause_schedule``
… are thin; the work is here. Every change is checked in full before
anything is written (the job is registered, the arguments fit it, the
trigger compiles, parents exist and form no cycle), and written with the
store's compare-and-set, so a scheduler advancing the same record at the
same moment loses nothing: the change is read again and re-applied.
Schedulers see a change at their next tick (within ``max_wait``, one
second by default, and at once where the store wakes them).
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, cast

from rota._hook_methods import HOOK_EVENTS
from rota.errors import (
    InvalidSchedule,
    ScheduleExists,
    ScheduleNotFound,
    StoreUnavailable,
    did_you_mean,
)
from rota.runs import Run
from rota.schedule import Schedule
from rota.stores.base import ScheduleRecord

if TYPE_CHECKING:
    from rota.app import Rota

ResumeFrom = Literal["last", "now"]
IfExists = Literal["error", "skip"]
_ATTEMPTS = 20
_BATCH = 1000


def check(app: Rota, schedule: Schedule, lookup: Callable[[str], Schedule | None]) -> None:
    """Everything a run-time schedule must satisfy before it is stored."""
    if not isinstance(schedule, Schedule):
        raise InvalidSchedule(f"expected a Schedule (rota.new_schedule(...)), not {schedule!r}")
    job = app.jobs.get(schedule.job)
    job.check_arguments(schedule.args, schedule.kwargs)
    spec = schedule.to_spec()
    if spec.get("has_callable_filters"):
        raise InvalidSchedule(
            f"schedule {schedule.name!r}: when()/skip() conditions are code, which a schedule "
            "created at run time cannot keep; use between(), unless_between(), days or "
            "environments()"
        )
    hooked = [event for event in HOOK_EVENTS if schedule.hooks_for(event)]
    if hooked:
        raise InvalidSchedule(
            f"schedule {schedule.name!r}: on_{hooked[0]}() hooks are code, which a schedule "
            "created at run time cannot keep; use ping URLs (then_ping, ping_on_failure …) "
            "or the app's own hooks (@rota.on_failure …)"
        )
    _ = schedule.trigger  # compiles: a bad expression fails here
    from rota._dependencies import link_dynamic

    link_dynamic(schedule, lookup)


def lookup_for(app: Rota) -> Callable[[str], Schedule | None]:
    """A schedule by name: the code's, else the store's (rebuilt), else None."""
    declared = app.declared()
    cache: dict[str, Schedule | None] = {}

    def lookup(name: str) -> Schedule | None:
        if name in declared:
            return declared[name]
        if name not in cache:
            record = app.store.get_schedule(name)
            usable = record is not None and not record.retired and not _is_progress(record)
            cache[name] = Schedule.from_spec(record.spec) if usable and record else None
        return cache[name]

    return lookup


def add(
    app: Rota,
    schedules: Iterable[Schedule],
    *,
    paused: bool,
    if_exists: IfExists,
    now: datetime,
) -> list[ScheduleRecord]:
    """Store new run-time schedules, ``_BATCH`` per store call; the records added."""
    from rota.scheduler import new_record

    if if_exists not in ("error", "skip"):
        raise InvalidSchedule(f"if_exists must be 'error' or 'skip', not {if_exists!r}")
    lookup = lookup_for(app)
    declared = app.declared()
    records: list[ScheduleRecord] = []
    names: set[str] = set()
    for schedule in schedules:
        check(app, schedule, lookup)
        if schedule.name in declared:
            raise ScheduleExists(
                f"schedule {schedule.name!r} is declared in code; give the run-time one "
                "another name (.named('...'))"
            )
        if schedule.name in names:
            raise ScheduleExists(f"schedule {schedule.name!r} is given twice")
        names.add(schedule.name)
        records.append(new_record(schedule, now, source="dynamic", paused=paused))
    added: list[ScheduleRecord] = []
    taken: list[str] = []
    for chunk in _chunks(records, _BATCH):
        results = app.store.insert_schedules(chunk)
        for record, inserted in zip(chunk, results, strict=True):
            if inserted:
                added.append(record.evolve(version=1))
            else:
                taken.append(record.name)
    if taken and if_exists == "error":
        shown = ", ".join(repr(n) for n in taken[:5]) + (" …" if len(taken) > 5 else "")
        rest = f"; the other {len(added)} were added" if added else ""
        raise ScheduleExists(f"schedule {shown} already exists{rest}")
    return added


def edit(app: Rota, name: str, schedule: Schedule, now: datetime) -> ScheduleRecord:
    """Replace the definition of the run-time schedule ``name``; progress and pause state stay."""
    from rota.scheduler import restart_due

    _refuse_code(get(app, name), "edit", "change it in the code")
    if schedule.name != name:
        schedule.named(name)
    check(app, schedule, lookup_for(app))
    spec = schedule.to_spec()

    def change(current: ScheduleRecord) -> ScheduleRecord:
        _refuse_code(current, "edit", "change it in the code")
        restart = current.spec.get("trigger") != spec["trigger"]
        next_due = restart_due(schedule.trigger, current, now) if restart else current.next_due
        return current.evolve(
            job=schedule.job,
            spec=spec,
            updated_at=now,
            next_due=None if schedule.policies.on_each_server else next_due,
            per_host=schedule.policies.on_each_server,
        )

    saved = _update(app, name, change)
    _follow_parent(app, saved, now)
    return saved


def pause(app: Rota, name: str, now: datetime) -> ScheduleRecord:
    """Stop firing ``name`` (code or run-time); history and progress stay."""
    return _update(app, name, lambda r: r.evolve(paused=True, updated_at=now))


def resume(app: Rota, name: str, now: datetime, *, start: ResumeFrom) -> ScheduleRecord:
    """Fire ``name`` again: from where it stopped (the catch-up policy decides what the
    pause missed) or from now (nothing of the pause fires)."""
    from rota._planning import first_slot_from

    if start not in ("last", "now"):
        raise InvalidSchedule(f"resume from 'last' or 'now', not {start!r}")

    def change(current: ScheduleRecord) -> ScheduleRecord:
        resumed = current.evolve(paused=False, updated_at=now)
        if start == "now" and current.next_due is not None:
            trigger = Schedule.from_spec(current.spec).trigger
            resumed = resumed.evolve(next_due=first_slot_from(trigger, now))
        return resumed

    record = _update(app, name, change)
    if start == "now" and record.per_host:
        _restart_hosts(app, record, now)
    return record


def remove(app: Rota, name: str) -> None:
    """Delete the run-time schedule ``name`` (and its hosts' progress); its runs stay."""
    record = get(app, name)
    _refuse_code(record, "remove", "delete it from the code: it is retired at the next start")
    app.store.delete_schedule(name)
    for progress in _host_records(app, name):
        app.store.delete_schedule(progress.name)


def get(app: Rota, name: str) -> ScheduleRecord:
    """The stored schedule ``name``; ``ScheduleNotFound`` (with a suggestion) if none."""
    record = app.store.get_schedule(name)
    if record is None or _is_progress(record):
        raise ScheduleNotFound(f"no schedule named {name!r}{_hint(app, name)}")
    return record


def listing(
    app: Rota, *, after: str | None, limit: int, include_retired: bool
) -> list[ScheduleRecord]:
    """A page of schedules by name (hosts' progress records left out)."""
    page: list[ScheduleRecord] = []
    cursor = after
    while len(page) < limit:
        want = limit - len(page)
        batch = app.store.list_schedules(include_retired=include_retired, after=cursor, limit=want)
        page += [r for r in batch if not _is_progress(r)]
        if len(batch) < want:
            break
        cursor = batch[-1].name
    return page


# -- helpers ------------------------------------------------------------------------------


def _update(
    app: Rota, name: str, change: Callable[[ScheduleRecord], ScheduleRecord]
) -> ScheduleRecord:
    """Apply ``change`` to the stored record with compare-and-set, reading again on conflict."""
    for _ in range(_ATTEMPTS):
        current = get(app, name)
        saved = app.store.save_schedule(change(current), expected_version=current.version)
        if saved is not None:
            return saved
    raise StoreUnavailable(f"schedule {name!r} kept changing while being saved; try again")


def _refuse_code(record: ScheduleRecord, action: str, instead: str) -> None:
    if record.source == "code":
        raise InvalidSchedule(
            f"schedule {record.name!r} is declared in code, so {action} does not apply; "
            f"{instead} (pause and resume work on it)"
        )


def _follow_parent(app: Rota, parent: ScheduleRecord, now: datetime) -> None:
    """Give the run-time children of an edited parent its new trigger (and theirs, theirs)."""
    from rota.scheduler import restart_due

    trigger_spec = parent.spec.get("trigger")
    children: dict[str, list[ScheduleRecord]] = {}  # one listing, not one per parent
    for record in app.store.iter_schedules():
        after = record.spec.get("after")
        if record.source == "dynamic" and isinstance(after, list):
            for name in after:
                children.setdefault(name, []).append(record)
    queue = [parent.name]
    moved: set[str] = set()
    while queue:
        for child in children.get(queue.pop(), ()):
            # as listed; one given the trigger since is in ``moved``
            if child.name in moved or child.spec.get("trigger") == trigger_spec:
                continue
            rebuilt = Schedule.from_spec({**child.spec, "trigger": trigger_spec})

            def change(current: ScheduleRecord, rebuilt: Schedule = rebuilt) -> ScheduleRecord:
                return current.evolve(
                    spec=rebuilt.to_spec(),
                    updated_at=now,
                    next_due=restart_due(rebuilt.trigger, current, now),
                )

            _update(app, child.name, change)
            moved.add(child.name)
            queue.append(child.name)


def _host_records(app: Rota, name: str) -> list[ScheduleRecord]:
    """The hosts' progress records of the ``on_each_server`` schedule ``name``."""
    from rota.scheduler import host_record_of

    prefix = f"{name}@"
    found = app.store.list_schedules(include_retired=True, after=prefix, limit=10_000)
    near = itertools.takewhile(lambda r: r.name.startswith(prefix), found)
    return [r for r in near if (host_record_of(r) or ("",))[0] == name]


def _restart_hosts(app: Rota, record: ScheduleRecord, now: datetime) -> None:
    from rota._planning import first_slot_from

    trigger = Schedule.from_spec(record.spec).trigger
    for progress in _host_records(app, record.name):
        app.store.advance_schedule(
            progress.name,
            expected_version=progress.version,
            last_slot=progress.last_slot,
            next_due=first_slot_from(trigger, now),
        )


def _is_progress(record: ScheduleRecord) -> bool:
    from rota.scheduler import host_record_of

    return host_record_of(record) is not None


def _hint(app: Rota, name: str) -> str:
    """A close name among the code schedules and the first stored page, else where to look."""
    known = [*app.declared(), *(r.name for r in app.store.list_schedules(limit=500))]
    return did_you_mean(name, known) or "; `rota schedules list` shows the schedules"


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


class RunTimeSchedules:
    """The ``Rota`` methods for schedules created at run time and for run control
    (a mixin: ``Rota`` is the only class that uses it)."""

    def new_schedule(self, job: Callable[..., Any] | str, /, *args: Any, **kwargs: Any) -> Schedule:
        """A schedule of ``job`` to create at run time: chain the frequency and policies,
        then ``add_schedule`` it. Unlike ``schedule``, it is not declared in code."""
        found = _rota(self)._job_for(job)
        found.check_arguments(args, kwargs)
        return Schedule(found.name, args, kwargs)

    def add_schedule(self, schedule: Schedule, *, paused: bool = False) -> ScheduleRecord:
        """Store a schedule created at run time; running schedulers pick it up at once.

        Checked in full first (``JobNotFound``, ``InvalidArguments``,
        ``InvalidSchedule``, ``DependencyCycle``); a name already taken raises
        ``ScheduleExists``. Nothing is stored when it raises.
        """
        return add(
            _rota(self), [schedule], paused=paused, if_exists="error", now=_rota(self).clock.now()
        )[0]

    def add_schedules(
        self,
        schedules: Iterable[Schedule],
        *,
        paused: bool = False,
        if_exists: Literal["error", "skip"] = "error",
    ) -> list[ScheduleRecord]:
        """``add_schedule`` for many, written a thousand per store call; the records added.

        Every schedule is checked before any is stored. Names already stored
        raise ``ScheduleExists`` once the others are added (``if_exists="skip"``:
        they are left out of the result instead).
        """
        return add(
            _rota(self), schedules, paused=paused, if_exists=if_exists, now=_rota(self).clock.now()
        )

    def edit_schedule(self, name: str, schedule: Schedule) -> ScheduleRecord:
        """Replace the definition of the run-time schedule ``name`` with ``schedule``.

        History, progress and pause state stay; a new trigger counts from the
        current minute. Code schedules are changed in the code instead.
        """
        return edit(_rota(self), name, schedule, _rota(self).clock.now())

    def pause_schedule(self, name: str) -> ScheduleRecord:
        """Stop ``name`` firing (code or run-time) until ``resume_schedule``."""
        return pause(_rota(self), name, _rota(self).clock.now())

    def resume_schedule(
        self, name: str, *, start: Literal["last", "now"] = "last"
    ) -> ScheduleRecord:
        """Fire ``name`` again. ``start="last"``: from where it stopped, the catch-up
        policy deciding what the pause missed; ``"now"``: nothing of the pause fires."""
        return resume(_rota(self), name, _rota(self).clock.now(), start=start)

    def remove_schedule(self, name: str) -> None:
        """Delete the run-time schedule ``name``; its runs stay as history."""
        remove(_rota(self), name)

    def get_schedule(self, name: str) -> ScheduleRecord:
        """The stored schedule ``name`` (``ScheduleNotFound`` with a suggestion if none)."""
        return get(_rota(self), name)

    def list_schedules(
        self, *, after: str | None = None, limit: int = 100, include_retired: bool = False
    ) -> list[ScheduleRecord]:
        """A page of stored schedules by name: those after ``after``, at most ``limit``."""
        return listing(_rota(self), after=after, limit=limit, include_retired=include_retired)

    def retry_run(self, run_id: str) -> Run:
        """Queue a finished run again, attempts counted afresh (``RunNotFound``,
        ``IllegalTransition`` for a run that is not finished). A manual run
        (``trigger``, ``rota test``) has a queue of its own, which no worker
        serves: it is executed here, now, and returned as finally stored."""
        run = _rota(self).store.requeue_run(run_id, now=_rota(self).clock.now())
        return _rota(self)._run_here(run) if run.queue.startswith("manual:") else run

    def cancel_run(self, run_id: str) -> Run:
        """Cancel a run: at once if not started, at its next heartbeat if running."""
        run = _rota(self).store.request_cancel(run_id, now=_rota(self).clock.now())
        if run.state.is_terminal:
            _rota(self).store.settle_waiting([run.id], now=_rota(self).clock.now())
        return run


def _rota(mixin: RunTimeSchedules) -> Rota:
    return cast("Rota", mixin)
