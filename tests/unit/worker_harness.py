"""The worker test harness shared by the worker test modules.

A harness holds a store, a fake clock, a job registry and the workers a test
made; ``serve`` yields one from a fixture and stops those workers at teardown.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from datetime import UTC, datetime
from typing import Any, Generic, TypeVar

import pytest

from rota.clock import Clock
from rota.jobs import Job, JobRegistry, job_from_callable
from rota.runs import JSON, Run, RunOptions, RunState, manual_run_id
from rota.stores.base import Store
from rota.testing import FakeClock
from rota.worker import Worker, WorkerConfig

T = TypeVar("T")
S = TypeVar("S", bound=Store)
H = TypeVar("H", bound="StoreHarness[Any]")

HEARTBEAT = 5.0
START = datetime(2030, 1, 1, 12, tzinfo=UTC)


class StoreHarness(Generic[S]):
    """A store, a clock, a job registry and the workers a test made (stopped at teardown)."""

    def __init__(self, store: S, clock: FakeClock | None = None) -> None:
        self.store = store
        self.clock = clock or FakeClock(START)
        self.jobs = JobRegistry()
        self.workers: list[Worker] = []

    def job(self, func: Callable[..., Any], **defaults: Any) -> Job:
        return self.jobs.add(job_from_callable(func, **defaults))

    def add(self, job: Job) -> Job:
        return self.jobs.add(job)

    def new_run(
        self,
        job: Job,
        args: tuple[JSON, ...] = (),
        kwargs: dict[str, JSON] | None = None,
        *,
        options: RunOptions | None = None,
        schedule: str | None = None,
        now: datetime | None = None,
        priority: int = 0,
    ) -> Run:
        """A queued run of ``job``, not yet stored."""
        now = now or self.clock.now()
        return Run(
            id=manual_run_id(),
            job=job.name,
            state=RunState.QUEUED,
            created_at=now,
            available_at=now,
            args=args,
            kwargs=kwargs or {},
            options=options or job.options(),
            schedule=schedule,
            priority=priority,
        )

    def insert(self, run: Run) -> Run:
        assert self.store.insert_run(run)
        return run

    def keep(self, worker: Worker) -> Worker:
        """Remember ``worker`` so that teardown stops it."""
        self.workers.append(worker)
        return worker

    def get(self, run_id: str) -> Run:
        run = self.store.get_run(run_id)
        assert run is not None
        return run


class Harness(StoreHarness[Store]):
    """Any store; workers default to one slot and a ``HEARTBEAT`` heartbeat."""

    def queue(
        self,
        job: Job,
        *args: Any,
        options: RunOptions | None = None,
        schedule: str | None = None,
        now: datetime | None = None,
        **kwargs: Any,
    ) -> Run:
        return self.insert(
            self.new_run(job, args, kwargs, options=options, schedule=schedule, now=now)
        )

    def worker(self, clock: Clock | None = None, **config: Any) -> Worker:
        config.setdefault("concurrency", 1)
        config.setdefault("heartbeat_seconds", HEARTBEAT)
        return self.keep(
            Worker(self.store, self.jobs, config=WorkerConfig(**config), clock=clock or self.clock)
        )


def serve(
    make: Callable[[], H],
    *,
    close_store: bool = True,
    before_stop: Callable[[H], object] | None = None,
    threads_gone_within: float | None = None,
) -> Iterator[H]:
    """A fixture's body: yield ``make()``, then stop its workers and close its store.

    ``before_stop`` runs first at teardown; with ``threads_gone_within``, teardown
    also waits (that many real seconds at most) for every thread started since
    ``make`` was called to end.
    """
    threads = threading.active_count()
    harness = make()
    yield harness
    if before_stop is not None:
        before_stop(harness)
    for worker in harness.workers:
        worker.stop(timeout=2)
    if close_store:
        harness.store.close()
    if threads_gone_within is not None:
        wait_until(lambda: threading.active_count() <= threads, timeout=threads_gone_within)


def wait_until(condition: Callable[[], object], timeout: float = 10.0, poll: float = 0.002) -> None:
    """Poll ``condition`` every ``poll`` seconds until true; fail after ``timeout`` real seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail("condition not met in time")
        time.sleep(poll)


def in_background(fn: Callable[[], T]) -> Future[T]:
    pool = ThreadPoolExecutor(1)
    future = pool.submit(fn)
    pool.shutdown(wait=False)
    return future


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie nobody reaped counts as gone)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False
