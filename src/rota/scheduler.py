"""The scheduler: due slots -> runs, exactly once per slot however many schedulers run.

Each tick reads the schedules due at ``now`` from the store, plans each one
(``rota._planning``), inserts the runs under their deterministic ids, then
records the progress with a compare-and-set. Insert first, advance second:
a crash in between re-inserts the same ids next tick, which the store
ignores; a lost compare-and-set only means another scheduler got there
first, with the same runs.

``on_each_server`` schedules fire once per slot *per host*. A shared
``last_slot`` would let one host's tick hide the slot from the others, so
each host keeps its own progress in a record named ``"<schedule>@<host>"``
(its spec is ``{"base": <schedule>, "host": <host>}``), and the schedule's
own record stays dormant (``next_due`` None). A host only ever plans its
own progress record; runs go on the queue ``"<queue>@<host>"``, which that
host's worker always serves. Progress records are created by ``sync`` (code
schedules) or by the scheduler itself: when it meets the schedule due, and
every ``discover_interval`` for schedules created at run time.
"""

from __future__ import annotations

import contextlib
import gc
import itertools
import logging
import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, NamedTuple

from rota._hooks import Hooks
from rota._planning import (
    Budget,
    RunTemplate,
    SlotPlan,
    apply_overlap,
    first_slot_from,
    floor_minute,
    next_slot_after,
    on_time_slot,
    placement,
    plan_slots,
    run_options,
)
from rota._policies import Policies
from rota._reclaim import reclaim_lapsed
from rota.clock import SYSTEM_CLOCK, Clock, SystemClock
from rota.config import SchedulerConfig, default_host
from rota.errors import RotaError, RunNotFound, StoreUnavailable
from rota.jobs import Job, JobRegistry
from rota.runs import JSON, Run, RunOptions, RunState, run_id_for, scheduled_run
from rota.schedule import Schedule
from rota.stores.base import Advance, DueSchedules, FireBatch, ScheduleRecord, Store

if TYPE_CHECKING:
    from rota._firing import Fireable

log = logging.getLogger("rota.scheduler")

Resolve = Callable[[ScheduleRecord], "Fireable"]
_EDGE_CHUNK = 100
_FIRE_CHUNK = 300
"""Due schedules planned per ``Store.fire_batches`` batch: enough to amortize a
statement, few enough that a server writes one while the next is planned. The
first and the last are ``_EDGE_CHUNK`` (see ``_chunks``)."""
_LETS_OVERLAP = frozenset({"allow", "queue"})
"""Overlap policies that insert a new run whatever runs are active (``apply_overlap``)."""
_SETTINGS_KEPT = 256
"""Distinct (policies, job) pairs whose run settings a scheduler keeps (``_run_settings``)."""


# -- per-host progress records -------------------------------------------------------


def host_record_name(schedule: str, host: str) -> str:
    """The name of ``host``'s progress record for the ``on_each_server`` ``schedule``."""
    return f"{schedule}@{host}"


def host_record_of(record: ScheduleRecord) -> tuple[str, str] | None:
    """(schedule, host) when ``record`` is a per-host progress record, else None.

    ``rota list`` and the dashboard hide these records: they are progress,
    not schedules.
    """
    base, host = record.spec.get("base"), record.spec.get("host")
    if isinstance(base, str) and isinstance(host, str):
        return base, host
    return None


def is_per_host(spec: Mapping[str, JSON]) -> bool:
    """Whether a schedule spec (``Schedule.to_spec()``) says ``on_each_server``."""
    policies = spec.get("policies")
    return isinstance(policies, Mapping) and policies.get("on_each_server") is True


def new_record(
    schedule: Schedule, now: datetime, *, source: str = "code", paused: bool = False
) -> ScheduleRecord:
    """The record to store for a schedule first stored at ``now``.

    It counts as existing from the start of that minute: ``next_due`` is its
    first slot at or after it. An ``on_each_server`` schedule's own record is
    dormant (its hosts keep their own progress). Use this for schedules
    created at run time too, so they follow the same rule.
    """
    created = floor_minute(now)
    per_host = schedule.policies.on_each_server
    # A sub-minute schedule stored at 12:00:30 would otherwise have 30 missed slots
    # at once: it counts from the start of the second (anything slower, of the minute).
    if schedule.trigger.period_hint() < timedelta(minutes=1):
        created = now.astimezone(UTC).replace(microsecond=0)
    return ScheduleRecord(
        name=schedule.name,
        job=schedule.job,
        spec=schedule.to_spec(),
        created_at=created,
        updated_at=now,
        source="dynamic" if source == "dynamic" else "code",
        paused=paused,
        next_due=None if per_host else first_slot_from(schedule.trigger, created),
        per_host=per_host,
    )


def restart_due(trigger: Any, record: ScheduleRecord, now: datetime) -> datetime | None:
    """``next_due`` for a definition that changed (or came back) at ``now``.

    The new definition counts from the start of the current minute, so a
    slot the old one never had is not caught up; nothing at or before
    ``last_slot`` fires again.
    """
    start = floor_minute(now)
    if record.last_slot is not None and record.last_slot >= start:
        return next_slot_after(trigger, record.last_slot)
    return first_slot_from(trigger, start)


# -- reports ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TickReport:
    """What one tick (or several, added up) did. Counts only what this scheduler inserted."""

    due: int = 0
    """Due schedule records read from the store."""
    fired: int = 0
    missed: int = 0
    skipped: int = 0
    """Runs recorded as skipped because the previous run was still active (overlap skip)."""
    cancelled: int = 0
    """Active runs asked to stop by overlap ``replace``."""
    filtered: int = 0
    """Slots a filter dropped (no run)."""
    left: int = 0
    """Due records not planned here: another host's progress, or a schedule that fails to load."""
    full: bool = False
    """The tick read a full batch: more may be due."""
    runs: tuple[Run, ...] = field(default=(), repr=False)
    """The runs this tick inserted (queued, skipped and missed)."""

    def __add__(self, other: TickReport) -> TickReport:
        counts: dict[str, Any] = {
            f.name: getattr(self, f.name) + getattr(other, f.name)
            for f in fields(self)
            if f.name not in ("full", "runs")
        }
        return TickReport(**counts, full=self.full or other.full, runs=self.runs + other.runs)


# -- the scheduler ----------------------------------------------------------------------------


class Scheduler:
    """Turns due slots into runs. Safe to run any number of instances against one store.

    ``resolve`` rebuilds the schedule behind a stored record (the app's
    code object for code schedules, ``rota._firing`` otherwise) and may
    raise a ``RotaError``: that schedule is then left due, logged once, and
    retried every tick. ``jobs`` supplies each job's default options.
    """

    def __init__(
        self,
        store: Store,
        resolve: Resolve,
        *,
        config: SchedulerConfig | None = None,
        clock: Clock = SYSTEM_CLOCK,
        host: str | None = None,
        environment: str | None = None,
        jobs: JobRegistry | None = None,
        hooks: Hooks | None = None,
    ) -> None:
        self.store = store
        self.resolve = resolve
        self.hooks = hooks
        """Whose ``missed`` hooks are called for the missed runs a tick inserts."""
        self.config = config or SchedulerConfig()
        self.clock = clock
        self.host = host or default_host()
        self.environment = environment
        self.jobs = jobs
        self._budget = Budget(self.config.max_missed_records, self.config.scan_limit)
        self._left: set[str] = set()
        self._logged: set[tuple[str, int]] = set()
        self._settings: dict[
            tuple[int, int], tuple[Policies, Job | None, tuple[RunOptions, str, int]]
        ] = {}

    # -- one tick ------------------------------------------------------------------------------

    def tick(self, now: datetime | None = None) -> TickReport:
        """Plan every schedule due at ``now`` (default: the clock's now) and insert its runs.

        The store is asked once for the due schedules (with which of them
        have active runs, where it can tell), once for the active runs that
        overlap policies weigh, and once to insert every run and record every
        schedule's progress (``Store.fire_batches``), so a tick costs a
        handful of round trips however many schedules are due. Planning goes
        in chunks (``_chunks``): a store with a server writes one chunk while
        the next is planned.
        """
        now = self.clock.now() if now is None else now
        with _collector_paused():
            found = self.store.due_for_tick(now, self.config.batch_size)
            due = found.records
            self._left = set()
            report = TickReport(due=len(due), full=len(due) >= self.config.batch_size)
            if due:
                report += self._fire(found, now)
        if self.hooks is not None and report.missed:
            self.hooks.missed(report.runs)  # queued for the hooks' thread
        if report.runs:
            self.store.notify()
        return report

    def _process_safely(
        self, record: ScheduleRecord, now: datetime, active: Mapping[str, list[Run]]
    ) -> TickReport | _Pending | _Fired:
        """``_process``; an error of one schedule (its ``when`` callback raised) is
        logged and leaves that schedule due, without stopping the others."""
        try:
            return self._process(record, now, active)
        except StoreUnavailable:
            raise
        except Exception:
            log.exception(
                "planning schedule %r failed",
                record.name,
                extra={"event": "schedule.error", "schedule": record.name},
            )
            return self._leave(record)

    def _process(
        self, record: ScheduleRecord, now: datetime, active: Mapping[str, list[Run]]
    ) -> TickReport | _Pending | _Fired:
        per_host = host_record_of(record)
        if per_host is not None:
            return self._process_host_record(record, *per_host, now)
        schedule = self._load(record)
        if schedule is None:
            return self._leave(record)
        if schedule.policies.on_each_server:
            self.ensure_host_record(record, schedule, now)
            self.store.advance_schedule(
                record.name,
                expected_version=record.version,
                last_slot=record.last_slot,
                next_due=None,
            )
            return TickReport()
        fired = self._quick(record, schedule, now, active)
        if fired is not None:
            return fired
        return self._prepare(record, record.name, schedule, now, host=None)

    def _process_host_record(
        self, record: ScheduleRecord, base_name: str, host: str, now: datetime
    ) -> TickReport | _Pending:
        if host != self.host:
            return self._leave(record)
        base = self.store.get_schedule(base_name)
        schedule = None if base is None or base.retired else self._load(base)
        if base is not None and not base.retired and schedule is None:
            return self._leave(record)
        if schedule is None or not schedule.policies.on_each_server:
            self._retire(record, now)
            return TickReport()
        if base is not None and base.paused:  # dormant until resumed (discover / ensure)
            self._advance(record, record.last_slot, None)
            return TickReport()
        return self._prepare(record, base_name, schedule, now, host=self.host)

    def _leave(self, record: ScheduleRecord) -> TickReport:
        self._left.add(record.name)
        return TickReport(left=1)

    def _load(self, record: ScheduleRecord) -> Fireable | None:
        try:
            return self.resolve(record)
        except RotaError as exc:
            if (record.name, record.version) not in self._logged:
                self._logged.add((record.name, record.version))
                log.error(
                    "schedule %r cannot be loaded, so it does not fire: %s",
                    record.name,
                    exc,
                    extra={"event": "schedule.unloadable", "schedule": record.name},
                )
            return None

    # -- planning and inserting ---------------------------------------------------------------

    def plan(self, progress: ScheduleRecord, schedule: Fireable, now: datetime) -> SlotPlan:
        """Which slots of ``progress``'s window fire, are missed or filtered at ``now``."""
        start = progress.next_due if progress.next_due is not None else now
        return plan_slots(
            schedule.trigger,
            schedule.policies,
            start=start,
            after=progress.last_slot,
            now=now,
            allows=lambda slot: schedule.allows(slot, self.environment),
            budget=self._budget,
        )

    def _quick(
        self,
        record: ScheduleRecord,
        schedule: Fireable,
        now: datetime,
        active: Mapping[str, list[Run]],
    ) -> _Fired | None:
        """The usual due schedule, planned and stamped in one pass; None: ``_prepare``.

        Usual: its window is its ``next_due`` alone, which fires on time
        (``on_time_slot``), and nothing makes its run differ from a plain queued one (no
        filters, parents or jitter; no active runs, or an overlap policy that
        lets them be). That is what ``_prepare`` and ``_overlap`` make of it,
        at half the cost: nearly every schedule of a busy tick is usual.
        """
        start, policies = record.next_due, schedule.policies
        if (
            start is None
            or policies.jitter > 0
            or schedule.after_names
            or schedule.filters
            or (policies.overlap not in _LETS_OVERLAP and active.get(record.name))
        ):
            return None
        usual = on_time_slot(
            schedule.trigger,
            policies,
            start=start,
            after=record.last_slot,
            now=now,
            budget=self._budget,
        )
        if usual is None:
            return None
        name = record.name
        options, queue, priority = self._run_settings(policies, self._job(schedule.job))
        run = scheduled_run(
            run_id_for(name, start),
            schedule.job,
            RunState.QUEUED,
            now,
            start,
            name,
            start,
            schedule.args,
            dict(schedule.kwargs),
            queue,
            priority,
            options,
            None,
            (),
            None,
        )
        return _Fired(run, Advance(name, record.version, start, usual[1]))

    def _prepare(
        self,
        progress: ScheduleRecord,
        name: str,
        schedule: Fireable,
        now: datetime,
        *,
        host: str | None,
    ) -> _Pending:
        """Plan one schedule's window and stamp out its runs; nothing is written yet."""
        plan = self.plan(progress, schedule, now)
        template = self._template(name, schedule, host)
        missed: list[Run] = []
        if plan.missed:
            reason = f"missed: no scheduler ran in time (catch-up {schedule.policies.catch_up!r})"
            missed = [template.make(slot, RunState.MISSED, now, reason) for slot in plan.missed]
        return _Pending(
            progress=progress,
            name=name,
            host=host,
            overlap=schedule.policies.overlap,
            plan=plan,
            queued=[template.make(slot, RunState.QUEUED, now) for slot in plan.fire],
            missed=missed,
        )

    def _fire(self, found: DueSchedules, now: datetime) -> TickReport:
        """Plan the due records chunk by chunk, apply overlap, insert every run, then
        record every schedule's progress."""
        due, busy = found
        if busy is None:
            active = self.store.active_runs_for(sorted({_schedule_of(r) for r in due}))
        else:
            active = self.store.active_runs_for(sorted(busy)) if busy else {}
        report = TickReport()
        fired: list[list[Run]] = []
        filtered = cancelled = 0

        def batches() -> Iterator[FireBatch]:
            nonlocal report, filtered, cancelled
            for start, end in _chunks(len(due)):
                runs: list[Run] = []
                advances: list[Advance] = []
                to_cancel: list[str] = []
                chunk = due[start:end]
                if busy is not None:
                    self._read_bases(chunk, active)
                for record in chunk:
                    outcome = self._process_safely(record, now, active)
                    if isinstance(outcome, _Fired):
                        runs.append(outcome.run)
                        advances.append(outcome.advance)
                    elif isinstance(outcome, _Pending):
                        runs += _overlap(outcome, active, now, to_cancel)
                        filtered += outcome.plan.filtered
                        advances.append(_advance_of(outcome))
                    else:
                        report += outcome
                if not advances:
                    continue
                cancelled += self._cancel(to_cancel, now)
                fired.append(runs)
                yield runs, advances

        results = self.store.fire_batches(batches())
        inserted = [
            run
            for runs, (done, _) in zip(fired, results, strict=True)
            for run, ok in zip(runs, done, strict=True)
            if ok
        ]
        self._settle(inserted, now)
        for name in sorted({r.schedule for r in inserted if r.state.is_terminal and r.schedule}):
            self.store.prune_runs(name, self.config.keep_runs)
        return report + _report(inserted, filtered, cancelled)

    def _read_bases(self, chunk: Sequence[ScheduleRecord], active: dict[str, list[Run]]) -> None:
        """Add to ``active`` the active runs of the schedules behind ``chunk``'s per-host
        progress records: ``DueSchedules.busy`` names only the records' own runs."""
        bases = {per_host[0] for r in chunk if (per_host := host_record_of(r)) is not None}
        bases.difference_update(active)
        if bases:
            active.update(self.store.active_runs_for(sorted(bases)))

    def _settle(self, inserted: Sequence[Run], now: datetime) -> None:
        """Decide the waiting runs just inserted (their parents may have ended already)
        and the children of runs inserted as ended (missed, skipped)."""
        ids = [run.id for run in inserted if run.state is RunState.WAITING or run.state.is_terminal]
        if ids:
            self.store.settle_waiting(ids, now=now)

    def _template(self, name: str, schedule: Fireable, host: str | None) -> RunTemplate:
        policies = schedule.policies
        options, queue, priority = self._run_settings(policies, self._job(schedule.job))
        return RunTemplate(
            schedule=name,
            job=schedule.job,
            args=schedule.args,
            kwargs=schedule.kwargs,
            options=options,
            queue=queue,
            priority=priority,
            jitter=policies.jitter,
            host=host,
            after=schedule.after_names,
        )

    def _run_settings(self, policies: Policies, job: Job | None) -> tuple[RunOptions, str, int]:
        """(options, queue, priority) of the runs of a schedule with ``policies`` and ``job``.

        Kept per (policies, job) object pair: equal policies specs load as one
        shared ``Policies``, so the schedules of a busy tick share a few entries
        and their runs one ``RunOptions`` (whose JSON the stores then encode once).
        """
        key = (id(policies), id(job))
        found = self._settings.get(key)
        if found is None or found[0] is not policies or found[1] is not job:
            if len(self._settings) >= _SETTINGS_KEPT:
                self._settings.clear()
            queue, priority = placement(policies, job)
            found = (policies, job, (run_options(policies, job), queue, priority))
            self._settings[key] = found
        return found[2]

    def _job(self, name: str) -> Job | None:
        if self.jobs is None or name not in self.jobs:
            return None
        return self.jobs.get(name)

    def _cancel(self, run_ids: Sequence[str], now: datetime) -> int:
        for run_id in run_ids:
            with contextlib.suppress(RunNotFound):  # pruned meanwhile: nothing to stop
                self.store.request_cancel(run_id, now=now)
        return len(run_ids)

    def _advance(
        self, record: ScheduleRecord, last_slot: datetime | None, next_due: datetime | None
    ) -> bool:
        return self.store.advance_schedule(
            record.name, expected_version=record.version, last_slot=last_slot, next_due=next_due
        )

    def _retire(self, record: ScheduleRecord, now: datetime) -> None:
        retired = record.evolve(retired=True, next_due=None, updated_at=now)
        self.store.save_schedule(retired, expected_version=record.version)

    # -- dependencies -----------------------------------------------------------------------------

    def sweep_waiting(self, now: datetime | None = None) -> list[Run]:
        """Decide every waiting run whose parents have ended, and fail those whose parent
        will never have a run for their slot: the parent schedule was removed,
        retired or paused, or has moved past the slot without a run (a filter
        dropped it). Workers settle children as parents end; this catches what a
        process that died in between left undecided. Returns the runs changed.
        """
        now = self.clock.now() if now is None else now
        waiting = self.store.waiting_runs(None)
        if not waiting:
            return []
        changed = self.store.settle_waiting([run.id for run in waiting], now=now)
        decided = {run.id for run in changed}
        left = [run for run in waiting if run.id not in decided]
        records: dict[str, ScheduleRecord | None] = {}

        def record(name: str) -> ScheduleRecord | None:
            if name not in records:
                records[name] = self.store.get_schedule(name)
            return records[name]

        # The records first, the parents' runs second: a scheduler inserts a run before
        # it advances the record, so a record seen past the slot means its run is seen.
        for run in left:
            for name in _after_of(record(run.schedule) if run.schedule else None):
                record(name)
        parent_ids = sorted({p for run in left for p in run.parents})
        present = {run.id for run in self.store.get_runs(parent_ids)} if parent_ids else set()
        for run in left:
            why = self._orphaned(run, present, record)
            if why is None:
                continue
            failed = self.store.release_waiting(
                run.id, RunState.UPSTREAM_FAILED, now=now, error=f"UpstreamFailed: {why}"
            )
            if failed is not None:
                changed.append(failed)
                changed += self.store.settle_waiting([failed.id], now=now)
        return changed

    @staticmethod
    def _orphaned(
        run: Run, present: set[str], record: Callable[[str], ScheduleRecord | None]
    ) -> str | None:
        """Why ``run`` (waiting) will never have one of its parents' runs, or None."""
        if run.slot is None or run.schedule is None:
            return None
        for name in _after_of(record(run.schedule)):
            if run_id_for(name, run.slot) in present:
                continue
            parent = record(name)
            if parent is None:
                return f"parent schedule {name!r} was removed"
            if parent.retired or parent.paused:
                state = "retired" if parent.retired else "paused"
                return f"parent schedule {name!r} is {state}"
            if parent.last_slot is not None and parent.last_slot >= run.slot:
                return f"parent schedule {name!r} has no run for this slot (filtered)"
        return None

    # -- per-host progress ------------------------------------------------------------------------

    def ensure_host_record(self, base: ScheduleRecord, schedule: Fireable, now: datetime) -> None:
        """Make sure this host keeps progress for the ``on_each_server`` schedule ``base``.

        A new record counts from the start of the current minute; a dormant
        one (its schedule was paused) wakes up and catches up per policy; a
        retired one comes back as new.
        """
        if not base.active:
            return
        name = host_record_name(base.name, self.host)
        current = self.store.get_schedule(name)
        if current is None:
            record = ScheduleRecord(
                name=name,
                job=base.job,
                spec={"base": base.name, "host": self.host},
                created_at=floor_minute(now),
                updated_at=now,
                source=base.source,
                next_due=first_slot_from(schedule.trigger, floor_minute(now)),
            )
            self.store.save_schedule(record, expected_version=None)
        elif current.retired:
            woken = current.evolve(
                retired=False, updated_at=now, next_due=restart_due(schedule.trigger, current, now)
            )
            self.store.save_schedule(woken, expected_version=current.version)
        elif current.next_due is None:  # dormant: catch up from where it stopped
            after = current.last_slot
            due = (
                first_slot_from(schedule.trigger, current.created_at)
                if after is None
                else next_slot_after(schedule.trigger, after)
            )
            if due is not None:
                self._advance(current, after, due)

    def discover(
        self, now: datetime | None = None, *, records: Iterable[ScheduleRecord] | None = None
    ) -> None:
        """Ensure this host's progress record for every active ``on_each_server`` schedule
        (of ``records``, when the caller has just listed them; else of the store)."""
        now = self.clock.now() if now is None else now
        for record in self.store.iter_schedules(per_host=True) if records is None else records:
            if record.active and is_per_host(record.spec) and not host_record_of(record):
                schedule = self._load(record)
                if schedule is not None:
                    self.ensure_host_record(record, schedule, now)

    # -- the loop ------------------------------------------------------------------------------

    def run_forever(self, stop: threading.Event) -> None:
        """Tick, then sleep until the next slot is due or something changes, until ``stop``.

        Wakes exactly at the next ``next_due`` (never rounded), at the
        latest after ``max_wait`` so schedules changed elsewhere are seen;
        takes back lapsed leases every ``reclaim_interval``. The loop never
        dies of an error: an unreachable store (``StoreUnavailable``: the
        server restarts, connections drop) is logged once as
        ``store.unavailable`` and retried with backoff (0.1 s doubling to
        5 s, with jitter) until it answers again (``store.recovered``); any
        other error is logged as ``scheduler.error`` and retried after
        ``max_wait``. Nothing is lost or doubled by it: runs are inserted
        under their deterministic ids before progress is recorded.
        """
        from rota._retry import Outage  # not on ``rota run``'s path, which never loops

        chores = _Chores(self)
        outage = Outage(log, "scheduler", self.clock)
        while not stop.is_set():
            try:
                chores.run_due()
                wait = self.seconds_to_wait(self.tick())
                outage.succeeded()
                if not stop.is_set():
                    self._sleep(stop, wait)
            except StoreUnavailable as error:
                self.clock.wait(stop, outage.failed(error, "planning due schedules"))
            except Exception:
                log.exception("scheduler tick failed", extra={"event": "scheduler.error"})
                self.clock.wait(stop, self.config.max_wait)

    def seconds_to_wait(self, report: TickReport) -> float:
        """How long the loop may sleep after ``report``: until the next slot, capped."""
        if report.full:
            return 0.0
        now = self.clock.now()
        due = self.next_wake(now)
        if due is None:
            return self.config.max_wait
        return min(max((due - now).total_seconds(), 0.0), self.config.max_wait)

    def next_wake(self, now: datetime, *, horizon: datetime | None = None) -> datetime | None:
        """When the next record this scheduler would plan is due (perhaps already), or None.

        Records the last tick left alone (another host's progress, a schedule
        that fails to load) stay due; they are looked past, up to ``horizon``
        (default ``now + max_wait``).
        """
        due = self.store.next_due_at()
        if due is None or due > now or not self._left:
            return due
        horizon = horizon or now + timedelta(seconds=self.config.max_wait)
        ahead = self.store.due_schedules(horizon, self.config.batch_size)
        dues = [r.next_due for r in ahead if r.name not in self._left and r.next_due is not None]
        return min(dues, default=None)

    def _sleep(self, stop: threading.Event, seconds: float) -> None:
        if seconds <= 0:
            return
        if isinstance(self.clock, SystemClock):
            self.store.wait_for_activity(seconds)
        else:  # a test clock moves by hand: poll it rather than sleep on real time
            self.clock.wait(stop, seconds)


class _Chores:
    """Periodic work of the loop, on the clock's monotonic time."""

    def __init__(self, scheduler: Scheduler) -> None:
        self.scheduler = scheduler
        self.next_reclaim = self.next_discover = scheduler.clock.monotonic()

    def run_due(self) -> None:
        s = self.scheduler
        tick = s.clock.monotonic()
        if tick >= self.next_reclaim:
            reclaim_lapsed(s.store, s.clock.now(), s.hooks)
            s.sweep_waiting()
            self.next_reclaim = tick + s.config.reclaim_interval
        if tick >= self.next_discover:
            s.discover()
            self.next_discover = tick + s.config.discover_interval


def _after_of(record: ScheduleRecord | None) -> list[str]:
    """The parent schedule names in a stored spec (``after``)."""
    after = record.spec.get("after") if record is not None else None
    return [name for name in after if isinstance(name, str)] if isinstance(after, list) else []


@dataclass(frozen=True, slots=True)
class _Pending:
    """One due schedule, planned, waiting for the batch's writes."""

    progress: ScheduleRecord
    name: str
    host: str | None
    overlap: str
    plan: SlotPlan
    queued: list[Run]
    missed: list[Run]


class _Fired(NamedTuple):
    """One usual due schedule (``Scheduler._quick``): its run, and its progress."""

    run: Run
    advance: Advance


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection meanwhile (unless it is off already).

    A busy tick allocates tens of thousands of short-lived objects and no
    cycles: the collections they set off were 5 % of its Python, and a full
    collection landing in a tick costs tens of milliseconds. Whatever the
    tick leaves is collected after it.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _chunks(count: int) -> Iterator[tuple[int, int]]:
    """(start, end) of each batch of a tick's ``count`` due schedules: a small first
    one (the server starts sooner), a small last one (less of the server's work
    is left once planning ends), and at most ``_FIRE_CHUNK`` at a time between."""
    if count <= _EDGE_CHUNK:
        if count:
            yield 0, count
        return
    yield 0, _EDGE_CHUNK
    if count < 3 * _EDGE_CHUNK:
        yield _EDGE_CHUNK, count
        return
    middle = count - 2 * _EDGE_CHUNK
    parts = -(-middle // _FIRE_CHUNK)  # rounded up: even parts of at most _FIRE_CHUNK
    bounds = [_EDGE_CHUNK + middle * k // parts for k in range(parts + 1)]
    yield from itertools.pairwise(bounds)
    yield count - _EDGE_CHUNK, count


def _schedule_of(record: ScheduleRecord) -> str:
    """The schedule whose runs ``record`` plans: its own, or a progress record's base."""
    per_host = host_record_of(record)
    return record.name if per_host is None else per_host[0]


def _advance_of(pending: _Pending) -> Advance:
    """The progress ``pending`` records: its plan's, over the version it was read at."""
    progress, plan = pending.progress, pending.plan
    return Advance(progress.name, progress.version, plan.last_slot, plan.next_due)


def _overlap(
    pending: _Pending, active: Mapping[str, list[Run]], now: datetime, to_cancel: list[str]
) -> list[Run]:
    """The runs to insert for ``pending`` given its schedule's ``active`` runs; adds the
    ids of active runs to cancel (overlap ``replace``) to ``to_cancel``."""
    new = pending.queued
    current = active.get(pending.name)
    if not new or not current:  # nothing to weigh the new runs against
        return [*pending.missed, *new]
    waiting = [run for run in new if run.state is RunState.WAITING]
    queued = [run for run in new if run.state is RunState.QUEUED]
    mine = [run for run in current if run.host == pending.host]
    decision = apply_overlap(pending.overlap, queued, mine, now=now)
    to_cancel.extend(decision.cancel)
    return [*pending.missed, *waiting, *decision.insert]


def _report(inserted: list[Run], filtered: int, cancelled: int) -> TickReport:
    states = [run.state for run in inserted]
    return TickReport(
        fired=states.count(RunState.QUEUED) + states.count(RunState.WAITING),
        missed=states.count(RunState.MISSED),
        skipped=states.count(RunState.SKIPPED),
        cancelled=cancelled,
        filtered=filtered,
        runs=tuple(inserted),
    )


__all__ = [
    "Scheduler",
    "SchedulerConfig",
    "TickReport",
    "host_record_name",
    "host_record_of",
    "is_per_host",
    "new_record",
    "restart_due",
]
