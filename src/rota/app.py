"""``Rota``: the object an application declares its jobs and schedules on.

One ``Rota`` holds the job registry, the code-declared schedules and the
configuration, and runs them three ways: ``run_due()`` (one pass, for
``rota run`` from cron), ``work()`` (scheduler and workers in this process
until stopped) and ``start()``/``stop()`` (the same, in background threads).
Creating one touches nothing: the store is opened on first use.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ParamSpec, TypeVar, overload

from rota._dynamic import RunTimeSchedules
from rota.clock import SYSTEM_CLOCK, Clock, SystemClock
from rota.config import RotaConfig
from rota.errors import (
    ConfigurationError,
    InvalidSchedule,
    JobNotFound,
    RotaError,
    StoreUnavailable,
    did_you_mean,
)
from rota.jobs import Job, JobRegistry, job_from_callable, shell_job
from rota.runs import Run, RunState, manual_run_id
from rota.schedule import Schedule
from rota.stores.base import ScheduleRecord, Store

# Declaring jobs and schedules needs only the modules above. The scheduler, the
# planner, the cron engine, the sync and the worker load when something runs.
if TYPE_CHECKING:
    from rota._firing import Fireable
    from rota._hooks import Hooks
    from rota._sync import SyncReport
    from rota.scheduler import Scheduler, TickReport
    from rota.worker import Worker, WorkerConfig

P = ParamSpec("P")
R = TypeVar("R")
T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class RunReport:
    """What one ``run_due`` pass did."""

    runs: tuple[Run, ...]
    """Runs executed by this pass, as finally stored."""
    recorded: tuple[Run, ...]
    """Runs the scheduler recorded without executing: missed and skipped slots."""
    tick: TickReport

    def counts(self) -> dict[str, int]:
        """How many runs (executed and recorded) ended in each state."""
        counts: dict[str, int] = {}
        for run in (*self.runs, *self.recorded):
            counts[run.state.value] = counts.get(run.state.value, 0) + 1
        return counts

    @property
    def failed(self) -> tuple[Run, ...]:
        """Executed runs that failed or timed out."""
        failed = (RunState.FAILED, RunState.TIMED_OUT)
        return tuple(run for run in self.runs if run.state in failed)


class Rota(RunTimeSchedules):
    """Jobs, schedules and the loops that run them.

    ``store``: a URL or a ``Store``; default ``ROTA_STORE``, else
    ``sqlite:///rota.db``. ``environment`` (default ``ROTA_ENV``, else
    ``"production"``) is what ``Schedule.environments(...)`` checks;
    ``host`` (default: the machine's name) identifies this machine for
    ``on_each_server`` schedules. Everything else lives in ``config``.
    """

    def __init__(
        self,
        store: str | Store | None = None,
        *,
        clock: Clock | None = None,
        environment: str | None = None,
        host: str | None = None,
        config: RotaConfig | None = None,
    ) -> None:
        config = config or RotaConfig()
        overrides: dict[str, Any] = {"environment": environment, "host": host}
        if isinstance(store, str):
            overrides["store_url"] = store
        elif store is not None and not isinstance(store, Store):
            raise ConfigurationError(f"store must be a URL or a Store, not {type(store).__name__}")
        self.config = config.evolve(**{k: v for k, v in overrides.items() if v is not None})
        self.clock: Clock = clock or SYSTEM_CLOCK
        self.jobs = JobRegistry()
        self.environment = self.config.resolved_environment()
        self.host = self.config.resolved_host()
        self._store = store if isinstance(store, Store) else None
        self._prepared = False
        self._schedules: list[Schedule] = []
        self._by_func: dict[Callable[..., Any], str] = {}
        self._lock = threading.RLock()
        self._scheduler: Scheduler | None = None
        self._by_name: dict[str, Schedule] | None = None
        self._stop = threading.Event()
        self._threads: tuple[threading.Thread | None, Worker | None] | None = None
        self._pass_worker: Worker | None = None
        self._hooks: Hooks | None = None

    def __repr__(self) -> str:
        return f"Rota(jobs={len(self.jobs)}, schedules={len(self._schedules)})"

    # -- the store -----------------------------------------------------------------------

    @property
    def store(self) -> Store:
        """The store, opened on first use, and migrated then unless ``auto_migrate`` is off."""
        with self._lock:
            if not self._prepared:
                self._open_store(migrate=self.config.resolved_auto_migrate())
            assert self._store is not None
            return self._store

    def migrate(self) -> Store:
        """Create or upgrade the store's schema now, whatever ``auto_migrate`` says
        (``rota migrate``); idempotent, and safe from many processes at once."""
        with self._lock:
            return self._open_store(migrate=True)

    def _open_store(self, *, migrate: bool) -> Store:
        url = self.config.resolved_store_url() if self._store is None else self._store.url
        if self._store is None:
            self._store = _open(url, migrate=False)
        if migrate:
            _guarded(url, self._store.migrate)
        self._prepared = True
        return self._store

    def close(self) -> None:
        """Stop the loops if started, and close the store if it was opened."""
        self.stop()
        with self._lock:
            if self._store is not None:
                self._store.close()

    # -- declaring jobs ------------------------------------------------------------------

    @overload
    def job(self, func: Callable[P, R], /) -> Callable[P, R]: ...

    @overload
    def job(
        self,
        func: None = None,
        /,
        *,
        name: str | None = None,
        timeout: float | None = None,
        retries: int = 0,
        backoff: float = 1.0,
        max_backoff: float = 300.0,
        isolated: bool = False,
        queue: str = "default",
        priority: int = 0,
    ) -> Callable[[Callable[P, R]], Callable[P, R]]: ...

    def job(
        self, func: Callable[P, R] | None = None, /, *, name: str | None = None, **defaults: Any
    ) -> Callable[P, R] | Callable[[Callable[P, R]], Callable[P, R]]:
        """Register a function as a job (``@rota.job`` or ``@rota.job(timeout=60, …)``).

        The function is returned unchanged, so it stays callable as before.
        Its job name is ``module.qualname`` unless ``name`` is given.
        """

        def register(f: Callable[P, R]) -> Callable[P, R]:
            self._register(job_from_callable(f, name=name, **defaults), f)
            return f

        return register if func is None else register(func)

    def _register(self, job: Job, func: Callable[..., Any] | None = None) -> Job:
        with self._lock:
            registered = self.jobs.add(job)
            if func is not None:
                self._by_func[func] = registered.name
            return registered

    def _job_for(self, job: Callable[..., Any] | str) -> Job:
        if isinstance(job, str):
            return self.jobs.get(job)
        if not callable(job):
            raise JobNotFound(f"a job is a registered function or its name, not {job!r}")
        name = self._by_func.get(job)
        return self.jobs.get(name) if name else self._register(job_from_callable(job), job)

    # -- declaring schedules -----------------------------------------------------------------

    def schedule(self, job: Callable[..., Any] | str, /, *args: Any, **kwargs: Any) -> Schedule:
        """Declare a schedule of ``job`` (a function or a job name) with these arguments.

        Returns the ``Schedule`` builder: chain ``.daily_at("07:30")`` and the
        rest. The arguments are checked against the job's signature and for
        JSON at once (``InvalidArguments``); an unknown job name raises
        ``JobNotFound`` with a suggestion. A function not yet registered is
        registered with default options.
        """
        found = self._job_for(job)
        found.check_arguments(args, kwargs)
        schedule = Schedule(found.name, args, kwargs)
        with self._lock:
            self._schedules.append(schedule)
            self._by_name = None
        return schedule

    def shell(self, command: str, *, name: str | None = None, **defaults: Any) -> Schedule:
        """Register the shell command ``command`` as a job and declare a schedule of it."""
        job = self._register(shell_job(command, name=name, **defaults))
        return self.schedule(job.name)

    def cron(
        self, expression: str, *, tz: str = "UTC", name: str | None = None, **defaults: Any
    ) -> Callable[[Callable[P, R]], Callable[P, R]]:
        """Register the decorated function as a job and schedule it by ``expression`` in ``tz``."""

        def register(f: Callable[P, R]) -> Callable[P, R]:
            job = self._register(job_from_callable(f, name=name, **defaults), f)
            self.schedule(job.name).timezone(tz).cron(expression)
            return f

        return register

    @property
    def schedules(self) -> tuple[Schedule, ...]:
        """The schedules declared in code, in declaration order."""
        with self._lock:
            return tuple(self._schedules)

    def declared(self) -> dict[str, Schedule]:
        """Code schedules by name; two with one name raise ``ConfigurationError``."""
        by_name: dict[str, Schedule] = {}
        for schedule in self.schedules:
            twin = by_name.setdefault(schedule.name, schedule)
            if twin is not schedule:
                raise ConfigurationError(
                    f"two schedules are named {schedule.name!r} (jobs {twin.job!r} and "
                    f"{schedule.job!r}); give one another name with .named('...')"
                )
        if any(s.after_refs for s in by_name.values()):
            from rota._dependencies import link_code

            link_code(by_name, self._by_func.get)
        return by_name

    # -- syncing code schedules into the store -------------------------------------------------

    def sync_schedules(self, now: datetime | None = None) -> SyncReport:
        """Upsert the code schedules into the store and retire those no longer declared.

        A new schedule counts from the start of the current minute; a changed
        one keeps its history, pause state and progress, and a changed trigger
        counts from the current minute too (no slot of the new definition
        from before the change fires). Dynamic schedules are left alone.
        Two schedules with one name raise ``ConfigurationError``.
        """
        from rota._sync import sync

        now = self.clock.now() if now is None else now
        declared = self._by_name = self.declared()
        return sync(self.scheduler, declared, now)

    # -- running -------------------------------------------------------------------------------

    @property
    def scheduler(self) -> Scheduler:
        """The scheduler over this app's store (built on first use)."""
        from rota.scheduler import Scheduler

        with self._lock:
            if self._scheduler is None:
                config = replace(self.config.scheduler, keep_runs=self.config.keep_runs)
                self._scheduler = Scheduler(
                    self.store,
                    self._fireable,
                    config=config,
                    clock=self.clock,
                    host=self.host,
                    environment=self.environment,
                    jobs=self.jobs,
                    hooks=self._hook_dispatch(),
                )
            return self._scheduler

    def resolve(self, record: ScheduleRecord) -> Schedule:
        """The ``Schedule`` behind a stored record: the code object, else rebuilt from its spec.

        Raises ``JobNotFound`` when its job is not registered here, and
        ``InvalidSchedule`` when it has ``when``/``skip`` conditions that only
        the code declaring it can evaluate.
        """
        schedule = self._declared_for(record)
        if schedule is None:
            schedule = Schedule.from_spec(record.spec)
        self.jobs.get(schedule.job)
        return schedule

    def _fireable(self, record: ScheduleRecord) -> Fireable:
        """``resolve``, for the scheduler: a run-time schedule is read off its spec
        without the builder (``rota._firing``), which is most of a busy tick's cost."""
        import rota._firing  # not ``from … import``: that costs a microsecond per call

        schedule = self._declared_for(record)
        fireable = rota._firing.fireable_from_spec(record.spec) if schedule is None else schedule
        self.jobs.get(fireable.job)
        return fireable

    def _declared_for(self, record: ScheduleRecord) -> Schedule | None:
        """The code schedule behind ``record``, or None for a run-time one; refuses a
        record whose conditions only the code declaring it can check."""
        schedule = None
        if record.source == "code":
            by_name = self._by_name if self._by_name is not None else self.declared()
            schedule = by_name.get(record.name)
        if schedule is None and record.spec.get("has_callable_filters"):
            raise InvalidSchedule(
                f"schedule {record.name!r} has when()/skip() conditions that only the code "
                "declaring it can check, and this app does not declare it"
            )
        return schedule

    def worker(self, *, name: str | None = None) -> Worker:
        """A new worker over this app's store and jobs, serving this host's queues too."""
        from rota.worker import Worker  # the worker (asyncio, processes) loads only when run

        config = replace(self.config.worker, keep_runs=self.config.keep_runs)
        queues = self._queues(config)
        if queues != config.queues:
            config = replace(config, queues=queues)
        return Worker(
            self.store,
            self.jobs,
            config=config,
            clock=self.clock,
            name=name,
            host=self.host,
            hooks=self._hook_dispatch(),
        )

    def _queues(self, config: WorkerConfig) -> tuple[str, ...] | None:
        """The worker's queues plus their ``@host`` twins, where ``on_each_server``
        runs of those queues go; None (every queue) stays None: the store hands a
        worker only its own host's per-host runs (``claim_runs(host=...)``)."""
        if config.queues is None:
            return None
        return tuple(sorted({*config.queues, *(f"{q}@{self.host}" for q in config.queues)}))

    def run_due(self, now: datetime | None = None) -> RunReport:
        """One pass, as ``rota run`` does: sync, fire what is due, execute it here.

        Executes every claimable run inline (up to the worker's concurrency
        at once) and returns what happened. On the real clock, when something
        is due again before the end of the current minute (sub-minute
        schedules), it waits and passes again until then, as Laravel's
        ``schedule:run`` does; with ``now`` or a test clock it passes once.
        ``now`` only sets the instant that is planned; execution reads the clock.
        """
        from rota._sync import sync
        from rota.scheduler import TickReport

        start = self.clock.now() if now is None else now
        declared = self._by_name = self.declared()
        sync(self.scheduler, declared, start, discover=True)
        # No loop runs chores under cron: each pass decides what earlier ones left
        # waiting (a parent filtered out of its slot, a worker that died mid-way).
        self.scheduler.sweep_waiting(start)
        end = start.replace(second=0, microsecond=0) + timedelta(minutes=1)
        repeat = now is None and isinstance(self.clock, SystemClock)
        if not self.running:
            self._stop.clear()
        ticks = TickReport()
        executed: dict[str, Run] = {}
        worker: Worker | None = None
        try:
            moment = start
            while True:
                ticks += self.scheduler.tick(moment)
                if worker is None and self._anything_to_execute():
                    worker = self._pass_worker = self.worker()
                if worker is not None:
                    executed.update((run.id, run) for run in worker.run_pending())
                if not repeat or not self._wait_for_next_slot(end):
                    break
                moment = self.clock.now()
        finally:
            self._pass_worker = None
            if worker is not None:
                worker.stop()
            self._flush_hooks()  # a pass that executed nothing may have missed slots' hooks
        recorded = tuple(run for run in ticks.runs if run.state.is_terminal)
        return RunReport(runs=tuple(executed.values()), recorded=recorded, tick=ticks)

    def _anything_to_execute(self) -> bool:
        """Whether a pass needs a worker: a run is claimable now, on any queue, once lapsed
        leases are taken back. The worker (and what it imports) is made only then."""
        from rota._reclaim import reclaim_lapsed

        now = self.clock.now()
        try:
            reclaimed = reclaim_lapsed(self.store, now, self._hook_dispatch())
        except Exception:
            return True  # the worker reclaims again, and logs the failure as it always did
        available = self.store.next_available_at(host=self.host)
        return bool(reclaimed) or (available is not None and available <= now)

    def _wait_for_next_slot(self, end: datetime) -> bool:
        """Sleep until the next slot if it comes before ``end``; False when it does not."""
        now = self.clock.now()
        wake = self.scheduler.next_wake(now, horizon=end)
        if wake is None or wake >= end or self._stop.is_set():
            return False
        self.clock.wait(self._stop, (wake - now).total_seconds())
        return not self._stop.is_set()

    def trigger(self, job: Callable[..., Any] | str, /, *args: Any, **kwargs: Any) -> Run:
        """Run ``job`` now, here, once, and return the run as finally stored.

        ``job`` is a function, a job name, or a schedule name: a schedule
        runs its job with its arguments and options (given arguments replace
        them), outside its slots. The run is manual: one attempt, no slot.
        """
        run = self._manual_run(job, args, kwargs)
        self.store.insert_run(run)
        return self._run_here(run)

    def _run_here(self, run: Run) -> Run:
        """Execute the queued manual ``run`` (alone on its own queue) here; as finally stored."""
        from rota.worker import Worker

        config = replace(self.config.worker, queues=(run.queue,), concurrency=1, keep_runs=0)
        worker = Worker(
            self.store,
            self.jobs,
            config=config,
            clock=self.clock,
            host=self.host,
            hooks=self._hook_dispatch(),
        )
        try:
            worker.run_pending()
        finally:
            worker.stop()
        final = self.store.get_run(run.id)
        return final if final is not None else run

    def _manual_run(
        self, target: Callable[..., Any] | str, args: tuple[Any, ...], kwargs: dict[str, Any]
    ) -> Run:
        import json

        from rota._planning import run_options

        schedule = self._schedule_named(target) if isinstance(target, str) else None
        job = self._job_for(schedule.job if schedule is not None else target)
        if schedule is not None and not args and not kwargs:
            args, kwargs = schedule.args, dict(schedule.kwargs)
        job.check_arguments(args, kwargs)
        options = replace(
            run_options(schedule.policies, job) if schedule is not None else job.options(),
            max_attempts=1,
            exclusive=False,
        )
        now, run_id = self.clock.now(), manual_run_id()
        return Run(
            id=run_id,
            job=job.name,
            state=RunState.QUEUED,
            created_at=now,
            available_at=now,
            schedule=schedule.name if schedule is not None else None,
            args=tuple(json.loads(json.dumps(list(args)))),
            kwargs=json.loads(json.dumps(kwargs)),
            queue=f"manual:{run_id}",
            options=options,
            host=self.host,
            manual=True,
        )

    # -- enqueueing (workers execute) --

    def enqueue(self, job: Callable[..., Any] | str, /, *args: Any, **kwargs: Any) -> Run:
        """Put one run of ``job`` on its queue for the workers; return it as queued.

        ``job`` is a function, a job name, or a schedule name (its job, arguments
        and options; given arguments replace its arguments). Nothing executes
        here: a worker (``rota worker``, ``start()``, a ``rota run`` pass) takes
        the run. It is manual (no slot), on the job's queue with its priority,
        timeout and retries (a schedule's own when it sets them). The arguments
        are checked against the job's signature and for JSON first
        (``InvalidArguments``); an unknown name raises ``JobNotFound`` with a
        suggestion. Nothing is stored when it raises.
        """
        from rota._enqueue import enqueue_runs

        return enqueue_runs(self, job, [(args, kwargs)], chunk=1, many=False)[0]

    def enqueue_many(
        self,
        job: Callable[..., Any] | str,
        /,
        calls: Iterable[tuple[Sequence[Any], Mapping[str, Any]]],
        *,
        chunk: int = 1000,
    ) -> list[Run]:
        """``enqueue(job, *args, **kwargs)`` for each ``(args, kwargs)`` of ``calls``;
        the runs queued, in the order of ``calls``.

        ``app.enqueue_many(send, [((user,), {"urgent": True}) for user in users])``.
        Every call is checked before any run is stored (``InvalidArguments``
        names the call at fault, and then nothing is stored); the runs then go
        in with one ``insert_runs`` per ``chunk`` of them: one round trip each,
        which is what makes it many times faster than ``enqueue`` in a loop.
        Of the same priority, runs of one call are claimed in the order given.
        """
        from rota._enqueue import enqueue_runs

        return enqueue_runs(self, job, calls, chunk=chunk, many=True)

    def _schedule_named(self, name: str) -> Schedule | None:
        """The schedule called ``name`` (code, else store) when no job has that name."""
        if name in self.jobs:
            return None
        schedule = self.declared().get(name)
        if schedule is not None:
            return schedule
        from rota.scheduler import host_record_of

        record = self.store.get_schedule(name)
        if record is not None and host_record_of(record) is None:
            return self.resolve(record)
        known = [*self.jobs.names(), *self.declared()]
        raise JobNotFound(f"no job or schedule named {name!r}{did_you_mean(name, known)}")

    # -- hooks ---------------------------------------------------------------------------------

    def on_success(self, fn: Callable[[Run], T]) -> Callable[[Run], T]:
        """Call ``fn(run)`` after any run succeeded; returns ``fn``, so it decorates.

        App hooks apply to every run (each schedule's own ``on_success`` hooks
        run first). They run on a background thread once the outcome is
        stored; an exception is logged (``hook.error``) and changes nothing.
        """
        self._hook_dispatch().add("success", fn)
        return fn

    def on_failure(self, fn: Callable[[Run], T]) -> Callable[[Run], T]:
        """Call ``fn(run)`` after any run finally failed or timed out (report it to Sentry,
        say); returns ``fn``. See ``on_success``."""
        self._hook_dispatch().add("failure", fn)
        return fn

    def on_retry(self, fn: Callable[[Run], T]) -> Callable[[Run], T]:
        """Call ``fn(run)`` after any attempt failed with a retry to come; returns ``fn``."""
        self._hook_dispatch().add("retry", fn)
        return fn

    def on_missed(self, fn: Callable[[Run], T]) -> Callable[[Run], T]:
        """Call ``fn(run)`` for every slot a scheduler recorded as missed; returns ``fn``."""
        self._hook_dispatch().add("missed", fn)
        return fn

    def _hook_dispatch(self) -> Hooks:
        """The app's hooks, which also call its code schedules' hooks and send every
        run's pings; made on first use (a pass with nothing to run sends nothing)."""
        with self._lock:
            if self._hooks is None:
                from rota._hooks import Hooks

                self._hooks = Hooks(self._code_schedule)
            return self._hooks

    def _code_schedule(self, name: str) -> Schedule | None:
        """The code schedule ``name`` whose hooks apply to its runs, if declared here."""
        by_name = self._by_name
        if by_name is None:
            by_name = self._by_name = self.declared()
        return by_name.get(name)

    def _flush_hooks(self) -> None:
        """Wait (bounded) for queued hooks and pings, before a one-shot pass ends."""
        if self._hooks is not None:
            self._hooks.flush()

    # -- the daemon ------------------------------------------------------------------------------

    def start(self, *, scheduler: bool = True, worker: bool = True) -> None:
        """Start the scheduler loop and a worker pool in background threads; return at once.

        For a web app's start-up hook; call ``stop()`` on shut-down. A second
        ``start()`` while running does nothing. ``scheduler=False`` starts
        only the worker (``rota worker``: claim and execute, plan nothing);
        ``worker=False`` only the scheduler (``rota scheduler``: sync the code
        schedules, then turn due slots into queued runs, execute nothing).
        """
        if not (scheduler or worker):
            raise ConfigurationError("start() needs the scheduler, the worker, or both")
        with self._lock:
            if self._threads is not None:
                return
            if scheduler:
                self.sync_schedules()
            self._stop.clear()
            pool = self.worker() if worker else None
            thread = None
            if scheduler:
                thread = threading.Thread(
                    target=self.scheduler.run_forever,
                    args=(self._stop,),
                    name="rota-scheduler",
                    daemon=True,
                )
            if pool is not None:
                pool.start()
            if thread is not None:
                thread.start()
            self._threads = (thread, pool)

    def stop(self, timeout: float | None = None) -> None:
        """Stop the loops ``start()``/``work()`` started, and a ``run_due`` pass in
        progress (it claims nothing more). Running jobs get ``timeout`` seconds
        (default: the worker's ``shutdown_timeout``) before their runs are released
        to other workers. Safe to call from a signal handler, and twice.

        A second call from another thread while the first still waits hurries
        it: the wait ends at the earlier deadline (``timeout=0``: release the
        runs now) and the call returns once the runs are released."""
        self._stop.set()
        passing = self._pass_worker
        if passing is not None:  # inside run_due (a signal handler): stop claiming more
            passing.stop(timeout=timeout)
        with self._lock:
            threads = self._threads  # kept until stopped, so that a second call finds it
        if threads is None:
            return
        thread, worker = threads
        with contextlib.suppress(StoreUnavailable):  # the loops also wake by themselves
            self.store.notify()
        if thread is not None:
            thread.join(timeout)
        if worker is not None:
            worker.stop(timeout=timeout)
        self._flush_hooks()  # a scheduler without a worker: its missed slots' hooks
        with self._lock:
            if self._threads is threads:
                self._threads = None

    @property
    def running(self) -> bool:
        """True between ``start()`` (or ``work()``) and ``stop()``."""
        return self._threads is not None

    def work(self) -> None:
        """Run the scheduler and workers in this process until ``stop()`` is called."""
        self.start()
        try:
            while not self._stop.wait(0.5):
                pass
        finally:
            self.stop()


def _open(url: str, *, migrate: bool) -> Store:
    from rota.stores import open_store

    return _guarded(url, lambda: open_store(url, migrate=migrate))


def _guarded(url: str, action: Callable[[], T]) -> T:
    """``action()``; a driver's own exception becomes ``StoreUnavailable``."""
    try:
        return action()
    except RotaError:
        raise
    except Exception as exc:
        raise StoreUnavailable(f"cannot open the store {url!r}: {exc}") from exc


def __getattr__(name: str) -> object:
    if name != "SyncReport":
        raise AttributeError(f"module 'rota.app' has no attribute {name!r}")
    from rota._sync import SyncReport

    return SyncReport


__all__ = ["Rota", "RunReport", "SyncReport"]
