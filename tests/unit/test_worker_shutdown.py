"""Stopping a worker: a second ``stop()`` hurries the first, and the threads that
jobs run on never hold up the interpreter's exit."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import worker_harness
from worker_harness import in_background, serve

from rota.app import Rota
from rota.config import RotaConfig
from rota.context import RunContext
from rota.errors import RunCancelled
from rota.jobs import Job, job_from_callable, shell_job
from rota.runs import Run, RunState, manual_run_id
from rota.stores import open_store
from rota.worker import Worker, WorkerConfig

LONG = 30.0
"""A drain that a test must never sit through."""


class Harness(worker_harness.Harness):
    """A memory store, a fake clock, jobs, and workers stopped at teardown."""

    def started(self, job: Job, concurrency: int = 1) -> tuple[Worker, Run]:
        """A started worker executing one queued run of ``job``."""
        run = self.queue(job)
        config = WorkerConfig(concurrency=concurrency, idle_poll_seconds=0.01)
        worker = self.keep(Worker(self.store, self.jobs, config=config, clock=self.clock))
        worker.start()
        return worker, run


@pytest.fixture
def h() -> Iterator[Harness]:
    yield from serve(lambda: Harness(open_store("memory://")))


def timed(fn: Callable[[], object]) -> float:
    """Real seconds ``fn`` took."""
    began = time.monotonic()
    fn()
    return time.monotonic() - began


def stops(worker: Worker, timeout: float) -> Callable[[], None]:
    return lambda: worker.stop(timeout=timeout)


def cooperative(started: threading.Event, raised: list[BaseException]) -> Callable[..., str]:
    def job(ctx: RunContext) -> str:
        started.set()
        while not ctx.wait(0.005):
            pass
        try:
            ctx.check_stop()
        except RunCancelled as exc:
            raised.append(exc)
        return "finished anyway"

    job.__qualname__ = "cooperative"
    return job


def test_a_second_stop_hurries_the_first_and_releases_the_run(h: Harness) -> None:
    started, raised = threading.Event(), list[BaseException]()
    worker, run = h.started(h.jobs.add(job_from_callable(cooperative(started, raised))))
    assert started.wait(10)
    draining = in_background(stops(worker, LONG))
    time.sleep(0.05)  # let the first stop start waiting (not a condition: a grace)
    assert not draining.done()
    assert timed(stops(worker, 0)) < 5
    draining.result(timeout=5)
    released = h.get(run.id)
    assert (released.state, released.lease_token) == (RunState.QUEUED, None)
    assert released.available_at == h.clock.now()  # for the next worker now, not after a lease
    assert "released, the worker shut down first" in (released.log or "")
    deadline = time.monotonic() + 5
    while not raised and time.monotonic() < deadline:
        time.sleep(0.002)
    assert [type(e) for e in raised] == [RunCancelled]


def test_a_later_stop_never_extends_the_deadline(h: Harness) -> None:
    started, raised = threading.Event(), list[BaseException]()
    worker, run = h.started(h.jobs.add(job_from_callable(cooperative(started, raised))))
    assert started.wait(10)
    first = in_background(stops(worker, 0.2))
    time.sleep(0.05)
    assert timed(stops(worker, LONG)) < 5
    first.result(timeout=5)
    assert h.get(run.id).state is RunState.QUEUED


def test_a_second_stop_cancels_a_running_async_job(h: Harness) -> None:
    started, cancelled = threading.Event(), threading.Event()

    async def forever() -> None:
        started.set()
        try:
            await asyncio.sleep(LONG)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    worker, run = h.started(h.jobs.add(job_from_callable(forever)))
    assert started.wait(10)
    draining = in_background(stops(worker, LONG))
    time.sleep(0.05)
    worker.stop(timeout=0)
    draining.result(timeout=5)
    assert cancelled.wait(5)
    assert h.get(run.id).state is RunState.QUEUED


def test_a_second_stop_kills_a_running_shell_command(h: Harness, tmp_path: Path) -> None:
    marker = tmp_path / "started"
    job = h.jobs.add(shell_job(f"touch {marker}; sleep {LONG:g}", name="sleeper"))
    worker, run = h.started(job)
    deadline = time.monotonic() + 10
    while not marker.exists():
        assert time.monotonic() < deadline, "the command did not start"
        time.sleep(0.005)
    draining = in_background(stops(worker, LONG))
    time.sleep(0.05)
    assert timed(stops(worker, 0)) < 5
    draining.result(timeout=5)
    assert h.get(run.id).state is RunState.QUEUED


def test_stopping_from_two_threads_of_an_app_hurries_it() -> None:
    store = open_store("memory://")
    app = Rota(store, config=RotaConfig(worker=WorkerConfig(idle_poll_seconds=0.01)))
    started, raised = threading.Event(), list[BaseException]()
    app.job(name="coop")(cooperative(started, raised))
    app.start()
    try:
        now = datetime.now(UTC)
        run = Run(
            id=manual_run_id(),
            job="coop",
            state=RunState.QUEUED,
            created_at=now,
            available_at=now,
            options=app.jobs.get("coop").options(),
        )
        assert store.insert_run(run)
        store.notify()
        assert started.wait(10)
        draining = in_background(lambda: app.stop(timeout=LONG))
        time.sleep(0.05)
        assert app.running  # still stopping: a second stop() must find the worker
        assert timed(lambda: app.stop(timeout=0)) < 5
        draining.result(timeout=5)
        assert [app.running] == [False]  # a list: mypy narrowed it to True above
        stored = store.get_run(run.id)
        assert stored is not None
        assert stored.state is RunState.QUEUED
    finally:
        app.stop(timeout=0)
        store.close()


def test_jobs_run_on_daemon_threads(h: Harness) -> None:
    seen: list[threading.Thread] = []
    done = threading.Event()

    def where() -> None:
        seen.append(threading.current_thread())
        done.set()

    worker, _run = h.started(h.jobs.add(job_from_callable(where)), concurrency=2)
    assert done.wait(10)
    assert [t.daemon for t in seen] == [True]
    assert seen[0] is not threading.main_thread()
    worker.stop(timeout=5)


def test_job_threads_end_once_the_worker_stops(h: Harness) -> None:
    done = threading.Event()

    def finish() -> None:
        done.set()

    worker, _run = h.started(h.jobs.add(job_from_callable(finish)), concurrency=3)
    assert done.wait(10)
    worker.stop(timeout=5)
    deadline = time.monotonic() + 5
    while any(t.name.startswith("rota-job-") for t in threading.enumerate()):
        assert time.monotonic() < deadline, [t.name for t in threading.enumerate()]
        time.sleep(0.005)
