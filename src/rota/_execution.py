"""One attempt of one run: its state while held, and how it turns into an ``Outcome``.

The worker owns the loop, the threads and the store; this module owns what
happens to a single claimed run: building its context, calling the job in
the way its kind needs (thread, event loop, child process, shell), and
classifying how it ended (success, retry with backoff, failure, timeout).

The one invariant: an attempt is *decided* exactly once. The job returning,
the deadline passing, a cancel, a lost lease and a shutdown all race to
decide it; ``Execution.decide`` lets the first one through and every later
one is discarded (and logged by the worker as a late result).
"""

from __future__ import annotations

import json
import os
import random
import threading
import traceback
from collections.abc import Callable, Coroutine
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from rota._logcapture import LogBuffer, run_logger
from rota.clock import Clock
from rota.context import ContextChannel, RunContext, StopReason, StopSignal
from rota.errors import LeaseLost
from rota.jobs import Job
from rota.runs import JSON, Run, RunState
from rota.stores.base import Outcome, Store

if TYPE_CHECKING:
    import asyncio

PROGRESS_INTERVAL = 1.0
"""Seconds between progress writes; the latest value is flushed at the end."""


class StoreChannel(ContextChannel):
    """Checkpoints and progress of a run held by this process, written to the store."""

    def __init__(self, store: Store, run: Run, clock: Clock) -> None:
        self._store = store
        self._run_id = run.id
        self._token = run.lease_token or ""
        self._clock = clock
        self._lock = threading.Lock()
        self._last_write: float | None = None
        self._pending: tuple[float, float | None] | None = None

    def checkpoint(self, value: JSON) -> None:
        if not self._store.save_progress(self._run_id, self._token, checkpoint=value):
            raise LeaseLost(f"run {self._run_id!r} is no longer held by this worker")

    def progress(self, done: float, total: float | None) -> None:
        now = self._clock.monotonic()
        with self._lock:
            due = (
                self._last_write is None
                or now - self._last_write >= PROGRESS_INTERVAL
                or (total is not None and done >= total)
            )
            self._pending = None if due else (done, total)
            if due:
                self._last_write = now
        if due:
            self._store.save_progress(self._run_id, self._token, done=done, total=total)

    def flush(self) -> None:
        """Write the progress that throttling held back, if any."""
        with self._lock:
            pending, self._pending = self._pending, None
        if pending is not None:
            self._store.save_progress(self._run_id, self._token, done=pending[0], total=pending[1])


class Execution:
    """A claimed run while this worker holds it: from claim until decided."""

    __slots__ = (
        "_killer",
        "_lock",
        "channel",
        "deadline",
        "decided",
        "job",
        "log",
        "next_heartbeat",
        "run",
        "started",
        "stop",
    )

    def __init__(
        self,
        run: Run,
        job: Job | None,
        channel: StoreChannel,
        log_limit: int,
        next_heartbeat: float,
    ) -> None:
        self.run = run
        self.job = job
        self.channel = channel
        self.log = LogBuffer(log_limit)
        self.stop = StopSignal()
        self.decided = False
        self.started: float | None = None
        self.deadline: float | None = None
        self.next_heartbeat = next_heartbeat
        self._killer: Callable[[], object] | None = None
        self._lock = threading.Lock()

    @property
    def token(self) -> str:
        return self.run.lease_token or ""

    def begin(self, now: float) -> bool:
        """Mark the job as started (its deadline counts from here); False if decided."""
        with self._lock:
            if self.decided:
                return False
            self.started = now
            timeout = self.run.options.timeout
            self.deadline = None if timeout is None else now + timeout
            return True

    def decide(self) -> bool:
        """True exactly once: for whoever gets to record how this attempt ended."""
        with self._lock:
            if self.decided:
                return False
            self.decided = True
            return True

    def set_killer(self, killer: Callable[[], object] | None) -> None:
        """What stops the job outright (cancel a task, kill a process); runs at once
        if a stop was already requested."""
        with self._lock:
            self._killer = killer
            stopped = self.stop.reason is not None
        if stopped and killer is not None:
            killer()

    def request_stop(self, reason: StopReason, message: str) -> None:
        """Tell the job to stop (flag for sync jobs) and kill what can be killed."""
        with self._lock:
            first = self.stop.request(reason, message)
            killer = self._killer
        if first and killer is not None:
            killer()

    def context(self) -> RunContext:
        run, job_name = self.run, self.run.job
        return RunContext(
            run_id=run.id,
            job=job_name,
            attempt=run.attempt,
            schedule=run.schedule,
            slot=run.slot,
            last_checkpoint=run.checkpoint,
            channel=self.channel,
            stop=self.stop,
            make_logger=lambda: run_logger(job_name, self.log),
        )


# -- outcomes ------------------------------------------------------------


def backoff_delay(attempt: int, backoff: float, max_backoff: float, rng: random.Random) -> float:
    """Seconds before retry number ``attempt``: exponential, capped, "equal jitter".

    Half the delay is fixed and half random, so retries of many runs that
    failed together (a database outage) spread out but never come too soon.
    """
    delay = min(max_backoff, backoff * 2.0 ** max(0, attempt - 1))
    return delay / 2 + rng.uniform(0, delay / 2)


def success(job: str, value: Any, log: str) -> Outcome:
    """SUCCEEDED with ``value``, or FAILED (for good: it would not change) if not JSON."""
    try:
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        return Outcome(
            state=RunState.FAILED,
            error=f"result of job {job!r} is not JSON-serializable: {exc}",
            log=log,
        )
    return Outcome(state=RunState.SUCCEEDED, result=value, log=log)


def refused(error: str, log: str = "") -> Outcome:
    """FAILED without retry: unknown job, arguments that do not fit."""
    return Outcome(state=RunState.FAILED, error=error, log=log)


def attempt_failed(
    run: Run,
    error: str,
    *,
    log: str,
    now: datetime,
    rng: random.Random,
    traceback_text: str | None = None,
    final: RunState = RunState.FAILED,
) -> Outcome:
    """RETRYING after backoff while attempts remain, else ``final``."""
    options = run.options
    if run.attempt < options.max_attempts:
        delay = backoff_delay(run.attempt, options.backoff, options.max_backoff, rng)
        return Outcome(
            state=RunState.RETRYING,
            error=error,
            traceback=traceback_text,
            log=log,
            available_at=now + timedelta(seconds=delay),
        )
    return Outcome(state=final, error=error, traceback=traceback_text, log=log)


def describe_exception(exc: BaseException) -> tuple[str, str]:
    """(``"Type: message"``, traceback without rota's own calling frames)."""
    tb = exc.__traceback__
    while tb is not None and tb.tb_next is not None and _is_rota(tb.tb_frame.f_code.co_filename):
        tb = tb.tb_next
    text = "".join(traceback.format_exception(type(exc), exc, tb))
    return f"{type(exc).__name__}: {exc}", text


_ROTA_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _is_rota(filename: str) -> bool:
    return filename.startswith(_ROTA_DIR)


def timeout_message(run: Run) -> str:
    return f"job {run.job!r} exceeded its timeout of {run.options.timeout:g}s"


# -- calling the job -----------------------------------------------------


def call_sync(job: Job, ctx: RunContext, run: Run) -> Any:
    """Call a sync job in this thread. Exceptions propagate."""
    assert job.func is not None
    if job.takes_context:
        return job.func(ctx, *run.args, **run.kwargs)
    return job.func(*run.args, **run.kwargs)


async def call_async(job: Job, ctx: RunContext, run: Run) -> Any:
    """Await an async job on the worker's loop. Exceptions propagate."""
    assert job.func is not None
    if job.takes_context:
        return await job.func(ctx, *run.args, **run.kwargs)
    return await job.func(*run.args, **run.kwargs)


def run_on_loop(
    ex: Execution, loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, Any]
) -> Any:
    """Run ``coro`` on ``loop`` (another thread) and wait; a stop cancels the task."""
    import asyncio  # loaded already: ``loop`` is one of its loops

    future = asyncio.run_coroutine_threadsafe(coro, loop)
    ex.set_killer(future.cancel)
    try:
        return future.result()
    finally:
        ex.set_killer(None)
