"""The worker: claims queued runs from the store and executes them.

Two ways to drive it. ``run_pending()`` executes what is claimable now and
returns (``rota run``, tests). ``start()``/``stop()`` keep a loop thread
claiming as capacity frees up (``rota work``, ``rota worker``).

Either way a monitor thread renews the lease of every held run each
``heartbeat_seconds`` and enforces timeouts. Sync jobs run on daemon threads
(or inline, in ``run_pending`` with ``concurrency=1``), async jobs on one
event loop owned by the worker, isolated jobs in a child process, shell
jobs in their own process group. At most ``concurrency`` jobs execute at
once, counting a timed-out sync job whose thread has not returned yet: a
thread cannot be killed, and pretending its slot is free would let threads
pile up without bound.
"""

from __future__ import annotations

import logging
import math
import os
import random
import secrets
import socket
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType

from rota import _execution as ex_
from rota._attempt import Attempts
from rota._execution import Execution, StoreChannel
from rota._hooks import Hooks
from rota._logcapture import start_capture, stop_capture
from rota._reclaim import follow_up, reclaim_lapsed
from rota._retry import Outage
from rota._threads import Batcher, DaemonThreads
from rota.clock import SYSTEM_CLOCK, Clock
from rota.errors import ConfigurationError, JobNotFound, StoreUnavailable
from rota.jobs import Job, JobRegistry
from rota.runs import Run, RunState
from rota.stores._rules import finished
from rota.stores.base import LeaseStatus, Outcome, Store

log = logging.getLogger("rota.worker")

_EVENTS: dict[RunState, tuple[str, int]] = {
    RunState.SUCCEEDED: ("run.succeeded", logging.INFO),
    RunState.FAILED: ("run.failed", logging.ERROR),
    RunState.RETRYING: ("run.retrying", logging.WARNING),
    RunState.TIMED_OUT: ("run.timed_out", logging.ERROR),
    RunState.CANCELLED: ("run.cancelled", logging.INFO),
    RunState.QUEUED: ("run.released", logging.INFO),
}
_PRUNE_INTERVAL = 60.0
_CLAIM_AHEAD = 32
"""Runs claimed ahead of the runners while jobs are quick (fewer, larger claims)."""
_FAST_RUN = 0.005
"""Seconds per run below which a job counts as quick."""
_FINISH_BATCH = 32
"""Outcomes of quick runs written in one store call, at most."""
_FINISH_DELAY = 0.02
"""Real seconds an outcome may wait for its batch (behind a job that turned out slow)."""


@dataclass(frozen=True, slots=True)
class WorkerConfig:
    """How a worker claims and executes. Every field has a production default."""

    concurrency: int = 4
    """Jobs executing at once."""
    lease_seconds: float = 30.0
    """How long a claim lasts without a heartbeat; a dead worker's runs come back after it."""
    heartbeat_seconds: float = 5.0
    """How often held leases are renewed (and cancels noticed)."""
    queues: tuple[str, ...] | None = None
    """Queues to take runs from; None for all."""
    max_log_bytes: int = 64 * 1024
    """Captured log and output kept per run (the tail)."""
    idle_poll_seconds: float = 1.0
    """Longest sleep between looks at the store when nothing wakes the worker."""
    shutdown_timeout: float = 30.0
    """Real seconds ``stop()`` lets running jobs finish before releasing their runs."""
    keep_runs: int = 1000
    """Finished runs kept per schedule; older ones are pruned (at most once a minute)."""

    def __post_init__(self) -> None:
        if self.concurrency < 1:
            raise ConfigurationError(f"concurrency must be at least 1, got {self.concurrency}")
        if not 0 < self.heartbeat_seconds < self.lease_seconds:
            raise ConfigurationError(
                f"heartbeat_seconds ({self.heartbeat_seconds}) must be positive and shorter"
                f" than lease_seconds ({self.lease_seconds})"
            )
        if self.idle_poll_seconds <= 0 or self.shutdown_timeout < 0 or self.keep_runs < 0:
            raise ConfigurationError(
                "idle_poll_seconds must be positive; shutdown_timeout and keep_runs not negative"
            )


class Worker:
    """Executes the runs of registered jobs that it claims from ``store``.

    ``host`` is the machine it runs on: only then does it take runs pinned
    to that host (``on_each_server``, manual runs); ``Rota.worker()`` passes it.
    ``hooks`` are called and runs' pings sent as outcomes are stored (the app's,
    from ``Rota.worker()``; without them, neither happens).
    """

    def __init__(
        self,
        store: Store,
        jobs: JobRegistry,
        *,
        config: WorkerConfig | None = None,
        clock: Clock = SYSTEM_CLOCK,
        name: str | None = None,
        host: str | None = None,
        hooks: Hooks | None = None,
    ) -> None:
        self.store = store
        self.host = host
        self.hooks = hooks
        """Hooks and pings to dispatch as outcomes are stored (None: pings are not sent)."""
        self.jobs = jobs
        self.config = config or WorkerConfig()
        self.clock = clock
        self.name = name or f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(3)}"
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._held: dict[str, Execution] = {}
        self._busy = 0
        self._orphans = 0
        """Runners still in a job whose attempt was decided elsewhere (timed out ...)."""
        self._stopping = threading.Event()
        self._stopped = False
        self._deadline = math.inf
        """Real (monotonic) time at which ``stop()`` stops waiting for running jobs."""
        self._released = threading.Event()
        self._stopper: int | None = None
        self._poke = threading.Event()
        self._monitor: threading.Thread | None = None
        self._monitor_halt = threading.Event()
        self._thread: threading.Thread | None = None
        self._threads: DaemonThreads | None = None
        self._pending_lock = threading.Lock()
        self._pending_thread: int | None = None
        self._pruned: dict[str, float] = {}
        self._rng = random.Random()
        self._attempts = Attempts(jobs, clock, self._rng)
        self._queue: deque[Execution] = deque()
        self._cost = math.inf
        """Seconds per run, smoothed: below ``_FAST_RUN`` the worker claims ahead."""
        self._outage = Outage(log, f"worker {self.name}", clock, rng=self._rng)
        self._writes_outage = Outage(log, f"worker {self.name}", clock, rng=self._rng)
        """Outcome writes' own view of an outage: they retry beside the claims (in the
        outbox's thread), and a claim that works must not end their outage."""
        self._lease_until: dict[str, float] = {}
        """Run id -> when (clock monotonic) its lease, as last claimed or renewed, lapses."""
        self._closing = threading.Event()
        """Set once the worker gives up on held runs: outcome retries end."""
        self._outbox: Batcher[tuple[Execution, Outcome]] = Batcher(
            self._write, max_delay=_FINISH_DELAY, name=f"rota-finish-{self.name}"
        )
        """Decided outcomes of quick runs, written a batch at a time; their runs stay
        held (heartbeats go on) until written."""

    # -- public ----------------------------------------------------------

    def run_pending(self, *, until: datetime | None = None, collect: bool = True) -> list[Run]:
        """Execute every run claimable now, then return them as finally stored.

        Keeps claiming while runs become claimable (a retry with no
        backoff, a run another process queued meanwhile). With ``until``,
        also waits (on the clock) for runs that become claimable before
        ``until``, such as retries after their backoff; with a ``FakeClock``
        something must advance the clock meanwhile. ``collect=False`` returns
        ``[]`` instead of reading the runs back: a burst worker that only
        drains the queue saves a read of every run it executed.
        """
        if self._thread is not None:
            raise RuntimeError("run_pending() cannot be used while the worker is started")
        if not self._pending_lock.acquire(blocking=False):
            raise RuntimeError("run_pending() is already running in another thread")
        ids: list[str] = []
        try:
            if self._stopped:
                return []
            self._pending_thread = threading.get_ident()
            self._start_monitor()
            start_capture()
            try:
                self._reclaim()
                self._pass(ids, until)
                self._outbox.drain()
                self._release(lambda ex: ex.started is None)  # stopped by a signal meanwhile
            finally:
                stop_capture()
        finally:
            self._pending_thread = None
            if not self._stopped:
                self._outbox.stop()
                self._stop_monitor()
            self._pending_lock.release()
        return self.store.get_runs(list(dict.fromkeys(ids))) if collect else []

    def start(self) -> None:
        """Claim and execute in the background until ``stop()``."""
        if self._stopped:
            raise RuntimeError("this worker was stopped; create a new one")
        if self._thread is not None:
            raise RuntimeError("the worker is already started")
        self._start_monitor()
        start_capture()
        self._thread = threading.Thread(target=self._serve, name="rota-worker", daemon=True)
        self._thread.start()

    def stop(self, *, timeout: float | None = None) -> None:
        """Stop claiming; let running jobs finish for up to ``timeout`` real seconds
        (default ``config.shutdown_timeout``), then ask them to stop and release
        their runs back to the queue for another worker. Final.

        Callable again, from another thread, while a stop waits: the wait then
        ends at the earlier of the two deadlines (``timeout=0``: release now),
        and this call returns once the runs are released. A stop that is over
        makes later calls return at once.

        Called on the thread that is inside ``run_pending`` or a first ``stop``
        (a signal handler), it returns at once.
        """
        self._stopping.set()
        if self._pending_thread == threading.get_ident():
            return
        wait = self.config.shutdown_timeout if timeout is None else timeout
        with self._changed:
            self._deadline = min(self._deadline, time.monotonic() + max(0.0, wait))
            first, self._stopped = not self._stopped, True
            if first:
                self._stopper = threading.get_ident()
            self._changed.notify_all()
        if first:
            self._drain()
        elif self._stopper != threading.get_ident():  # not a signal handler inside _drain
            self._released.wait()

    def _drain(self) -> None:
        try:
            self._notify()
            if self._thread is not None:
                self._thread.join()
            self._release(lambda ex: ex.started is None)
            with self._changed:
                while self._held and (left := self._deadline - time.monotonic()) > 0:
                    self._changed.wait(left)
            self._release(lambda ex: True)
        finally:
            self._released.set()  # whatever failed, a second stop() must not wait forever
        if self._thread is not None:
            stop_capture()
        self._shutdown_resources()

    @property
    def running(self) -> bool:
        """True between ``start()`` and ``stop()``."""
        return self._thread is not None and not self._stopped

    def __enter__(self) -> Worker:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- claiming --------------------------------------------------------

    def _pass(self, ids: list[str], until: datetime | None) -> None:
        inline = self.config.concurrency == 1
        while not self._stopping.is_set():
            claimed = self._refill(ids)
            if self._dispatch(inline=inline) or claimed:
                continue
            with self._changed:
                if self._held:
                    self._changed.wait(self.config.idle_poll_seconds)
                    continue
                if self._busy >= self.config.concurrency and self._busy > self._orphans:
                    self._changed.wait(self.config.idle_poll_seconds)  # a runner is leaving
                    continue
            if self._room() <= 0 or not self._wait_for_next(until):
                return  # no room: every runner is stuck in a job that timed out

    def _wait_for_next(self, until: datetime | None) -> bool:
        if until is None:
            return False
        now = self.clock.now()
        upcoming = self.store.next_available_at(self.config.queues, host=self.host)
        if now >= until or upcoming is None or upcoming > until:
            return False
        delay = (upcoming - now).total_seconds()
        if delay <= 0:  # claimable but not for us (exclusive): look again shortly
            delay = min(self.config.idle_poll_seconds, (until - now).total_seconds())
        self.clock.wait(self._stopping, delay)
        return True

    def _serve(self) -> None:
        reclaim_at = self.clock.monotonic()
        while not self._stopping.is_set():
            try:
                if self.clock.monotonic() >= reclaim_at:
                    self._reclaim()
                    reclaim_at = self.clock.monotonic() + self.config.heartbeat_seconds
                claimed = self._refill()
                if self._dispatch(inline=False) or claimed:
                    continue
                if self._room() > 0:
                    self.store.wait_for_activity(self._idle_timeout())
                    self._outage.succeeded()
                else:
                    with self._changed:
                        self._changed.wait_for(
                            lambda: self._busy < self.config.concurrency or self._stopped,
                            self.config.idle_poll_seconds,
                        )
            except StoreUnavailable as error:
                self.clock.wait(self._stopping, self._outage.failed(error, "claiming runs"))
            except Exception:
                log.exception("worker loop error", extra={"event": "worker.error"})
                self.clock.wait(self._stopping, self.config.idle_poll_seconds)

    def _idle_timeout(self) -> float:
        idle = self.config.idle_poll_seconds
        upcoming = self.store.next_available_at(self.config.queues, host=self.host)
        if upcoming is None:
            return idle
        delay = (upcoming - self.clock.now()).total_seconds()
        return idle if delay <= 0 else min(idle, delay)

    def _room(self) -> int:
        with self._lock:
            return self.config.concurrency - self._busy

    def _reclaim(self) -> None:
        try:
            reclaim_lapsed(self.store, self.clock.now(), self.hooks)
        except StoreUnavailable as error:
            self._outage.failed(error, "taking back lapsed leases")
        except Exception:
            log.exception("reclaiming expired leases failed", extra={"event": "worker.error"})

    def _claim(self, limit: int) -> list[Execution]:
        runs = self.store.claim_runs(
            worker=self.name,
            now=self.clock.now(),
            limit=limit,
            lease_seconds=self.config.lease_seconds,
            queues=self.config.queues,
            host=self.host,
        )
        self._outage.succeeded()
        claimed_at = self.clock.monotonic()
        beat = claimed_at + self.config.heartbeat_seconds
        batch = [
            Execution(
                run,
                self._job(run),
                StoreChannel(self.store, run, self.clock),
                self.config.max_log_bytes,
                beat,
            )
            for run in runs
        ]
        with self._lock:
            for execution in batch:
                self._held[execution.run.id] = execution
                self._lease_until[execution.run.id] = claimed_at + self.config.lease_seconds
        for run in runs:
            log.debug(
                "run %s of %s claimed (attempt %d)",
                run.id,
                run.job,
                run.attempt,
                extra={"event": "run.claimed", "run_id": run.id},
            )
        return batch

    def _job(self, run: Run) -> Job | None:
        try:
            return self.jobs.get(run.job)
        except JobNotFound:
            return None

    # -- executing -------------------------------------------------------

    def _refill(self, ids: list[str] | None = None) -> int:
        """Claim what the runners will need next; how many runs were claimed."""
        with self._lock:
            room = self.config.concurrency - self._busy
            queued = len(self._queue)
        if self._cost < _FAST_RUN:  # quick jobs: claim ahead, in batches
            want = _CLAIM_AHEAD - queued if queued <= _CLAIM_AHEAD // 2 else 0
        else:  # slow jobs: never hold a run another worker could start sooner
            want = room - queued
        if want <= 0:
            return 0
        batch = self._claim(want)
        with self._lock:
            self._queue.extend(batch)
        if ids is not None:
            ids.extend(execution.run.id for execution in batch)
        return len(batch)

    def _dispatch(self, *, inline: bool) -> bool:
        """Start runners for the queued runs while there is room; True if any started.

        Inline, the calling thread is the one runner: no thread hop for
        ``run_pending`` with ``concurrency=1``.
        """
        with self._lock:
            count = min(self.config.concurrency - self._busy, len(self._queue))
            if count <= 0:
                return False
            self._busy += count
        if inline:
            self._runner()
            return True
        if self._threads is None:
            self._threads = DaemonThreads(f"rota-job-{self.name}")
        for _ in range(count):
            self._threads.submit(self._runner)
        return True

    def _runner(self) -> None:
        """Execute queued runs one after another until the queue is empty.

        A runner is one unit of concurrency: it stays counted while its job
        runs, even past a timeout, until the job's thread really returns.
        """
        try:
            while not self._stopping.is_set():
                with self._lock:
                    if not self._queue:
                        return
                    execution = self._queue.popleft()
                started = time.perf_counter()
                self._drive(execution)
                cost = time.perf_counter() - started
                self._cost = cost if self._cost == math.inf else 0.8 * self._cost + 0.2 * cost
                if self._cost >= _FAST_RUN or self._outbox.waiting >= _FINISH_BATCH:
                    self._write_outbox()
        finally:
            try:
                self._write_outbox()  # the local queue drained (or the worker stops)
            finally:
                with self._changed:
                    self._busy -= 1
                    self._changed.notify_all()

    def _drive(self, execution: Execution) -> None:
        if self.hooks is not None and execution.run.options.pings and not execution.decided:
            self.hooks.before(execution.run)  # ping_before: the job's timeout counts after it
        if not execution.begin(self.clock.monotonic()):
            return
        if execution.deadline is not None:
            self._poke.set()
        try:
            outcome, batch = self._attempts.execute(execution), True
        except Exception as exc:  # a bug in rota, not in the job: still end the attempt
            log.exception("executing run %s failed", execution.run.id)
            error, tb = ex_.describe_exception(exc)
            outcome, batch = ex_.refused(f"internal error: {error}", tb), False
        if self._conclude(execution, outcome, batch=batch):
            return
        with self._lock:  # decided elsewhere while the job ran: this runner is free again
            self._orphans -= 1
        if batch:
            log.info(
                "run %s of %s ended as %s after it was decided; result discarded",
                execution.run.id,
                execution.run.job,
                outcome.state,
                extra={"event": "run.late_result", "run_id": execution.run.id},
            )

    def _write_outbox(self) -> None:
        """Write the outbox: a slow job's outcome now, in this runner; quick runs' in
        the outbox's thread, while this runner goes on to the next runs or the next
        claim (the store works on the one while Python does the other). The runs stay
        held until written, as with any batch."""
        if self._cost >= _FAST_RUN:
            self._outbox.flush()
        else:
            self._outbox.flush_soon()

    # -- deciding --------------------------------------------------------

    def _conclude(self, execution: Execution, outcome: Outcome, *, batch: bool = False) -> bool:
        """Decide the attempt with ``outcome``; False if it was decided already.

        With ``batch`` (a job that returned) the outcome joins the outbox, which
        the runners flush; otherwise (a timeout, a cancel) it is written now.
        """
        if not execution.decide():
            return False
        if batch and not self._closing.is_set():
            self._outbox.add((execution, outcome))
            if self._closing.is_set():  # the worker shut down meanwhile: write it now
                self._outbox.stop()
        else:
            self._record(execution, outcome)
        return True

    def _decide_elsewhere(self, execution: Execution) -> bool:
        """``execution.decide()`` by the monitor or a shutdown, not the runner. If the
        job had started, its runner is orphaned until the job returns: it counts
        against the concurrency with no held run (see ``_pass``)."""
        if not execution.decide():
            return False
        if execution.started is not None:  # set before decide() or never (Execution.begin)
            with self._lock:
                self._orphans += 1
        return True

    def _record(self, execution: Execution, outcome: Outcome | None, *, retry: bool = True) -> None:
        """Write one decided outcome now (None: the lease was lost, write nothing)."""
        if outcome is None:
            try:
                self._log_lost(execution.run, "the lease was taken back; outcome discarded")
            finally:
                self._forget([execution])
        else:
            self._write([(execution, outcome)], retry=retry)

    def _write(self, items: Sequence[tuple[Execution, Outcome]], *, retry: bool = True) -> None:
        """Write decided outcomes in one store call, log each, and forget their runs.

        Each is token-checked on its own: one whose lease was lost is refused
        (``run.lease_lost``) and the others are written. While the store is
        unavailable the batch is retried with backoff (``retry``) until the
        leases, as last renewed, lapse: a run whose lease lapsed leaves the
        batch, for it is another worker's to take back and a late write would
        be refused. Without ``retry`` (a release on shutdown) it is tried once.
        """
        try:
            for execution, _ in items:
                with suppress(StoreUnavailable):  # progress is advisory: never hold it up
                    execution.channel.flush()
            try:
                results = self._finish(items, retry=retry)
            except Exception:
                if len(items) == 1:
                    log.exception("recording the outcome of run %s failed", items[0][0].run.id)
                    return
                for item in items:  # one outcome the store refuses (ValueError) fails the batch
                    self._write([item], retry=retry)
                return
            written: list[tuple[Run, Outcome]] = []
            for (execution, outcome), result in zip(items, results, strict=True):
                self._settle(execution.run, outcome, result)
                if result is True:
                    written.append((execution.run, outcome))
            self._after_write(written)
        finally:
            self._forget([execution for execution, _ in items])

    def _settle(self, run: Run, outcome: Outcome, result: bool | StoreUnavailable) -> None:
        """Log how writing the outcome went; prune the schedule's history after a success."""
        if isinstance(result, StoreUnavailable):
            why = f"{outcome.state} not recorded, the store is unavailable"
            self._log_lost(run, f"{why} ({result}); it comes back when its lease lapses")
        elif not result:
            self._log_lost(run, f"finishing as {outcome.state} was refused")
        else:
            self._log_outcome(run, outcome)
            try:
                self._prune(run.schedule)
            except Exception:
                log.exception("recording the outcome of run %s failed", run.id)

    # -- after outcomes: hooks, pings, waiting runs ------------------------

    def _after_write(self, written: Sequence[tuple[Run, Outcome]]) -> None:
        """Hand the outcomes just stored (``run`` as claimed) to the hooks, each run as
        the store now holds it, then settle the waiting runs below those that ended."""
        now, hooks = self.clock.now(), self.hooks
        wanted = [(r, out) for r, out in written if hooks is not None and hooks.wants(r)]
        told = [finished(run, outcome, outcome.result, now) for run, outcome in wanted]
        ended = [run.id for run, outcome in written if outcome.state.is_terminal]
        follow_up(self.store, told, now, hooks, ended=ended)

    def _finish(
        self, items: Sequence[tuple[Execution, Outcome]], *, retry: bool
    ) -> list[bool | StoreUnavailable]:
        """``store.finish_runs``, retried while the store is unavailable (see ``_write``).

        One result per item: whether the store took it, or the error that
        ended the retries for it.
        """
        results: dict[int, bool | StoreUnavailable] = {}
        left = list(range(len(items)))
        while left:
            batch = [items[i] for i in left]
            finishes = [(ex.run.id, ex.token, outcome) for ex, outcome in batch]
            try:
                done = self._finish_runs(finishes)
            except StoreUnavailable as error:
                delay = self._writes_outage.failed(error, _recording(batch))
                now = self.clock.monotonic()
                lapse = {i: self._lease_until.get(items[i][0].run.id, -math.inf) for i in left}
                if not retry or self._closing.is_set():
                    lapse = {}
                results.update((i, error) for i in left if lapse.get(i, -math.inf) <= now)
                left = [i for i in left if i not in results]
                if left:
                    self.clock.wait(self._closing, min(delay, max(lapse[i] for i in left) - now))
                continue
            self._writes_outage.succeeded()
            results.update(zip(left, done, strict=True))
            break
        return [results[i] for i in range(len(items))]

    def _finish_runs(self, finishes: list[tuple[str, str, Outcome]]) -> list[bool]:
        if len(finishes) == 1:  # the same round trip; a slow job's outcome comes alone
            run_id, token, outcome = finishes[0]
            return [self.store.finish_run(run_id, token, outcome, now=self.clock.now())]
        return self.store.finish_runs(finishes, now=self.clock.now())

    def _forget(self, executions: Sequence[Execution]) -> None:
        with self._changed:
            for execution in executions:
                run_id = execution.run.id
                # Only this attempt's entry: once its outcome (a retry with no backoff)
                # is written, the next attempt may be claimed, under the same run id,
                # before this runs.
                if self._held.get(run_id) is execution:
                    del self._held[run_id]
                    self._lease_until.pop(run_id, None)
            self._changed.notify_all()

    def _time_out(self, execution: Execution) -> None:
        if not self._decide_elsewhere(execution):
            return
        message = ex_.timeout_message(execution.run)
        execution.request_stop("timeout", message)
        outcome = ex_.attempt_failed(
            execution.run,
            f"JobTimeout: {message}",
            log=execution.log.text(),
            now=self.clock.now(),
            rng=self._rng,
            final=RunState.TIMED_OUT,
        )
        self._record(execution, outcome)

    def _heartbeat(self, execution: Execution) -> None:
        """Renew the lease. An unreachable store does not stop the job: the renewal is
        retried sooner, with backoff; if the lease lapses meanwhile, the run may be
        taken back and retried elsewhere, and this attempt's outcome is refused."""
        run = execution.run
        renewed_at = self.clock.monotonic()
        try:
            status = self.store.renew_lease(
                run.id,
                execution.token,
                now=self.clock.now(),
                lease_seconds=self.config.lease_seconds,
            )
        except StoreUnavailable as error:
            delay = self._outage.failed(error, f"renewing the lease of run {run.id}")
            retry_at = renewed_at + min(delay, self.config.heartbeat_seconds)
            execution.next_heartbeat = min(execution.next_heartbeat, retry_at)
            return
        except Exception:
            log.exception("renewing the lease of run %s failed", run.id)
            return
        self._outage.succeeded()
        if status is not LeaseStatus.LOST:
            with self._lock:
                if run.id in self._lease_until:
                    self._lease_until[run.id] = renewed_at + self.config.lease_seconds
        if status is LeaseStatus.OK or not self._decide_elsewhere(execution):
            return
        if status is LeaseStatus.LOST:
            execution.request_stop("lease_lost", f"run {run.id!r} was taken from this worker")
            self._record(execution, None)
            return
        execution.request_stop("cancel", f"run {run.id!r} was cancelled")
        outcome = Outcome(
            state=RunState.CANCELLED,
            error="RunCancelled: cancelled while running",
            log=execution.log.text(),
        )
        self._record(execution, outcome)

    def _release(self, which: Callable[[Execution], bool]) -> None:
        """Give held runs back to the queue (shutdown): QUEUED, available now."""
        with self._lock:
            chosen = [e for e in self._held.values() if which(e)]
            self._queue = deque(e for e in self._queue if e not in chosen)
        for execution in chosen:
            if self._decide_elsewhere(execution):
                execution.request_stop("shutdown", "the worker is shutting down")
                execution.log.write_text("[rota: released, the worker shut down first]\n")
                outcome = Outcome(
                    state=RunState.QUEUED,
                    available_at=self.clock.now(),
                    log=execution.log.text(),
                )
                self._record(execution, outcome, retry=False)

    def _prune(self, schedule: str | None) -> None:
        if schedule is None or not self.config.keep_runs:
            return
        now = self.clock.monotonic()
        with self._lock:
            last = self._pruned.get(schedule)
            if last is not None and now - last < _PRUNE_INTERVAL:
                return
            self._pruned[schedule] = now
        with suppress(StoreUnavailable):  # pruned by a later run, or by the scheduler
            self.store.prune_runs(schedule, self.config.keep_runs)

    # -- monitor: heartbeats and deadlines ---------------------------------

    def _start_monitor(self) -> None:
        self._monitor_halt.clear()
        self._monitor = threading.Thread(target=self._watch, name="rota-monitor", daemon=True)
        self._monitor.start()

    def _stop_monitor(self) -> None:
        if self._monitor is not None:
            self._monitor_halt.set()
            self._poke.set()
            self._monitor.join()
            self._monitor = None

    def _watch(self) -> None:
        while not self._monitor_halt.is_set():
            self._poke.clear()
            try:
                wake = self._tick()
            except Exception:  # keep heartbeating whatever one run did
                log.exception("worker monitor error", extra={"event": "worker.error"})
                wake = self.clock.monotonic() + self.config.idle_poll_seconds
            self.clock.wait(self._poke, max(0.0, wake - self.clock.monotonic()))

    def _tick(self) -> float:
        """Renew due leases, time out overdue runs; returns when to look again."""
        now = self.clock.monotonic()
        wake = now + self.config.heartbeat_seconds
        with self._lock:
            held = list(self._held.values())
        for execution in held:
            # decided (an outcome waiting in the outbox): no deadline, the lease still renewed
            deadline = None if execution.decided else execution.deadline
            if deadline is not None and now >= deadline:
                self._time_out(execution)
                continue
            if now >= execution.next_heartbeat:
                execution.next_heartbeat = now + self.config.heartbeat_seconds
                self._heartbeat(execution)
            wake = min(wake, execution.next_heartbeat)
            if deadline is not None:
                wake = min(wake, deadline)
        return wake

    # -- resources -------------------------------------------------------

    def _notify(self) -> None:
        with suppress(StoreUnavailable):  # best effort: the loop also wakes by itself
            self.store.notify()

    def _shutdown_resources(self) -> None:
        self._closing.set()
        self._outbox.stop()  # empty by now unless the drain timed out: tried once
        self._stop_monitor()
        if self._threads is not None:
            self._threads.close()
        self._attempts.close()
        if self.hooks is not None:  # bounded: a one-shot pass sends them before it exits
            self.hooks.flush()

    def _log_outcome(self, run: Run, outcome: Outcome) -> None:
        event, level = _EVENTS[outcome.state]
        log.log(
            level,
            "run %s of %s %s%s",
            run.id,
            run.job,
            outcome.state,
            f": {outcome.error}" if outcome.error else "",
            extra={"event": event, "run_id": run.id},
        )

    def _log_lost(self, run: Run, why: str) -> None:
        log.warning(
            "run %s of %s: lease lost, %s",
            run.id,
            run.job,
            why,
            extra={"event": "run.lease_lost", "run_id": run.id},
        )


def _recording(batch: Sequence[tuple[Execution, Outcome]]) -> str:
    """What a store outage interrupted, for its log line."""
    if len(batch) == 1:
        execution, outcome = batch[0]
        return f"recording run {execution.run.id} as {outcome.state}"
    return f"recording the outcomes of {len(batch)} runs"


__all__ = ["Worker", "WorkerConfig"]
