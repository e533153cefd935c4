"""The worker's semantics, driven by a fake clock: outcomes, retries, timeouts,
checkpoints, cancels, lost leases, shutdown and concurrency."""

from __future__ import annotations

import asyncio
import logging
import random
import threading
from collections.abc import Callable, Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from worker_harness import HEARTBEAT, Harness, in_background, serve, wait_until

from rota._execution import backoff_delay
from rota.clock import SYSTEM_CLOCK
from rota.context import RunContext
from rota.errors import ConfigurationError, JobTimeout, LeaseLost, RunCancelled
from rota.jobs import job_from_callable
from rota.runs import Run, RunState
from rota.stores import open_store
from rota.worker import WorkerConfig


@pytest.fixture
def h() -> Iterator[Harness]:
    store = open_store("memory://")
    yield from serve(lambda: Harness(store), threads_gone_within=5)


@pytest.fixture(params=["memory", "sqlite"])
def hs(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Harness]:
    url = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path / 't.db'}"
    store = open_store(url)
    yield from serve(lambda: Harness(store), threads_gone_within=5)


# -- jobs used below (module level: their names are stable) -----------------


def add(a: int, b: int) -> dict[str, int]:
    return {"sum": a + b}


def returns_a_set() -> object:
    return {1, 2}


def boom() -> None:
    raise ValueError("boom")


def noop() -> None:
    return None


# -- outcomes -----------------------------------------------------------------


def test_success_stores_the_result(hs: Harness) -> None:
    run = hs.queue(hs.job(add), 2, b=3)
    done = hs.worker().run_pending()
    assert [r.id for r in done] == [run.id]
    stored = done[0]
    assert stored.state is RunState.SUCCEEDED
    assert stored.result == {"sum": 5}
    assert stored.attempt == 1
    assert stored.finished_at == hs.clock.now()
    assert stored.lease_token is None
    assert stored.error is None


def test_a_result_that_is_not_json_fails_without_retry(hs: Harness) -> None:
    run = hs.queue(hs.job(returns_a_set, retries=3))
    (stored,) = hs.worker().run_pending()
    assert stored.id == run.id
    assert stored.state is RunState.FAILED
    assert stored.error is not None
    assert stored.error.startswith(
        f"result of job {run.job!r} is not JSON-serializable: Object of type set"
    )


def test_an_unknown_job_fails_naming_it(h: Harness) -> None:
    h.job(noop)
    ghost = job_from_callable(add, name="test_worker.nop")
    run = h.queue(ghost)
    (stored,) = h.worker().run_pending()
    assert stored.state is RunState.FAILED
    assert stored.error == "unknown job 'test_worker.nop'; did you mean 'test_worker.noop'?"
    assert stored.id == run.id


def test_arguments_that_do_not_fit_fail_without_retry(h: Harness) -> None:
    run = h.queue(h.job(add, retries=2), 1, c=2)
    (stored,) = h.worker().run_pending()
    assert stored.id == run.id
    assert stored.state is RunState.FAILED
    assert stored.error == (
        "invalid arguments for job 'test_worker.add': missing a required argument: 'b'"
    )


def test_an_exception_retries_with_backoff_then_fails(hs: Harness) -> None:
    run = hs.queue(hs.job(boom, retries=2, backoff=10.0, max_backoff=15.0))
    worker = hs.worker()
    bounds = [(5.0, 10.0), (7.5, 15.0)]  # 10 * 2**(n-1), capped at 15, equal jitter
    for attempt, (low, high) in enumerate(bounds, start=1):
        now = hs.clock.now()
        (stored,) = worker.run_pending()
        assert stored.state is RunState.RETRYING
        assert stored.attempt == attempt
        assert stored.error == "ValueError: boom"
        assert stored.traceback is not None
        assert "in boom" in stored.traceback
        assert "_execution.py" not in stored.traceback
        assert now + timedelta(seconds=low) <= stored.available_at <= now + timedelta(seconds=high)
        assert worker.run_pending() == []  # not claimable before its backoff ends
        hs.clock.set(stored.available_at)
    (stored,) = worker.run_pending()
    assert stored.id == run.id
    assert stored.state is RunState.FAILED
    assert stored.attempt == 3


def test_backoff_delay_is_exponential_capped_and_jittered() -> None:
    rng = random.Random(7)
    for attempt in range(1, 12):
        full = min(300.0, 2.0 * 2 ** (attempt - 1))
        delays = [backoff_delay(attempt, 2.0, 300.0, rng) for _ in range(50)]
        assert all(full / 2 <= d <= full for d in delays)
        assert len(set(delays)) > 1


def test_run_pending_until_waits_for_retries_after_their_backoff(h: Harness) -> None:
    calls: list[int] = []

    def flaky(ctx: RunContext) -> int:
        calls.append(ctx.attempt)
        if ctx.attempt == 1:
            raise RuntimeError("first try fails")
        return ctx.attempt

    run = h.queue(h.job(flaky, retries=1, backoff=0.05), now=SYSTEM_CLOCK.now())
    worker = h.worker(clock=SYSTEM_CLOCK)
    (stored,) = worker.run_pending(until=SYSTEM_CLOCK.now() + timedelta(seconds=10))
    assert (stored.id, stored.state, stored.result) == (run.id, RunState.SUCCEEDED, 2)
    assert calls == [1, 2]


def test_without_until_only_what_is_claimable_now_runs(h: Harness) -> None:
    h.queue(h.job(boom, retries=1, backoff=60.0))
    (stored,) = h.worker().run_pending()
    assert stored.state is RunState.RETRYING


# -- checkpoints, progress, logs ---------------------------------------------


def resumable(ctx: RunContext) -> Any:
    if ctx.last_checkpoint is None:
        ctx.checkpoint({"page": 3})
        raise ConnectionError("network down")
    return {"resumed_from": ctx.last_checkpoint, "attempt": ctx.attempt}


def test_a_checkpoint_survives_a_retry(hs: Harness) -> None:
    run = hs.queue(hs.job(resumable, retries=1, backoff=0.0))
    (stored,) = hs.worker().run_pending()
    assert stored.id == run.id
    assert stored.state is RunState.SUCCEEDED
    assert stored.result == {"resumed_from": {"page": 3}, "attempt": 2}
    assert stored.checkpoint == {"page": 3}


def test_progress_is_stored_including_the_last_throttled_value(hs: Harness) -> None:
    def counting(ctx: RunContext) -> None:
        for done in range(1, 8):
            ctx.progress(done, 10)

    run = hs.queue(hs.job(counting))
    hs.worker().run_pending()
    stored = hs.get(run.id)
    assert (stored.progress_done, stored.progress_total) == (7.0, 10.0)


def test_the_captured_log_is_bounded_and_keeps_the_tail(h: Harness) -> None:
    def chatty(ctx: RunContext) -> None:
        for i in range(500):
            ctx.logger.info("line %03d", i)
        ctx.logger.debug("not captured")

    run = h.queue(h.job(chatty))
    h.worker(max_log_bytes=1000).run_pending()
    text = h.get(run.id).log
    note, _, body = text.partition("\n")
    assert note.startswith("[… ")
    assert note.endswith(" earlier bytes truncated …]")
    assert len(body.encode()) <= 1000
    assert body.rstrip().endswith("INFO line 499")
    assert "line 000" not in text
    assert "not captured" not in text


def test_the_context_describes_the_run(h: Harness) -> None:
    seen: list[RunContext] = []

    def introspect(ctx: RunContext) -> None:
        seen.append(ctx)

    run = h.queue(h.job(introspect), schedule="nightly")
    h.worker().run_pending()
    (ctx,) = seen
    assert (ctx.run_id, ctx.job, ctx.attempt, ctx.schedule) == (run.id, run.job, 1, "nightly")
    assert ctx.last_checkpoint is None
    assert not ctx.stop_requested


# -- async -----------------------------------------------------------------


async def async_add(a: int, b: int) -> int:
    await asyncio.sleep(0)
    return a + b


def test_an_async_job_runs_on_the_worker_loop(hs: Harness) -> None:
    run = hs.queue(hs.job(async_add), 20, 22)
    (stored,) = hs.worker().run_pending()
    assert (stored.id, stored.state, stored.result) == (run.id, RunState.SUCCEEDED, 42)


def test_an_async_job_that_raises_fails(h: Harness) -> None:
    async def broken() -> None:
        raise KeyError("missing")

    h.queue(h.job(broken))
    (stored,) = h.worker().run_pending()
    assert stored.state is RunState.FAILED
    assert stored.error == "KeyError: 'missing'"


def test_an_async_timeout_cancels_the_task(h: Harness) -> None:
    started, cancelled = threading.Event(), threading.Event()

    async def slow() -> None:
        started.set()
        try:
            await asyncio.sleep(3600)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    run = h.queue(h.job(slow, timeout=5))
    pending = in_background(h.worker().run_pending)
    assert started.wait(10)
    h.clock.advance(5)
    (stored,) = pending.result(timeout=10)
    # The cancel reaches the job's event loop from the monitor thread, which records the
    # timeout at once: the task's CancelledError may come just after run_pending returns.
    assert cancelled.wait(10)
    assert stored.id == run.id
    assert stored.state is RunState.TIMED_OUT
    assert stored.error == f"JobTimeout: job {run.job!r} exceeded its timeout of 5s"
    assert stored.finished_at == h.clock.now()


# -- sync timeouts ---------------------------------------------------------------


def test_a_sync_timeout_asks_the_job_to_stop(hs: Harness) -> None:
    started = threading.Event()
    raised: list[BaseException] = []

    def patient(ctx: RunContext) -> None:
        started.set()
        while not ctx.wait(0.005):
            pass
        try:
            ctx.check_stop()
        except JobTimeout as exc:
            raised.append(exc)
            raise

    run = hs.queue(hs.job(patient, timeout=30, retries=1))
    pending = in_background(hs.worker().run_pending)
    assert started.wait(10)
    deadline = hs.clock.advance(30)
    (stored,) = pending.result(timeout=10)
    assert stored.id == run.id
    assert stored.state is RunState.RETRYING  # timeouts retry like failures
    assert stored.error == f"JobTimeout: job {run.job!r} exceeded its timeout of 30s"
    assert deadline + timedelta(seconds=0.5) <= stored.available_at
    assert len(raised) == 1


def test_a_timed_out_sync_job_is_recorded_at_the_deadline_and_its_late_result_dropped(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    started, release = threading.Event(), threading.Event()

    def stubborn() -> str:
        started.set()
        release.wait(10)
        return "late"

    run = h.queue(h.job(stubborn, timeout=2))
    worker = h.worker(concurrency=2)
    pending = in_background(worker.run_pending)
    assert started.wait(10)
    with caplog.at_level(logging.INFO, logger="rota.worker"):
        h.clock.advance(2)
        (stored,) = pending.result(timeout=10)  # returns without waiting for the thread
        assert stored.state is RunState.TIMED_OUT
        release.set()
        wait_until(
            lambda: any(getattr(r, "event", "") == "run.late_result" for r in caplog.records)
        )
    after = h.get(run.id)
    assert (after.state, after.result) == (RunState.TIMED_OUT, None)


# -- cancel, lost lease, heartbeats ----------------------------------------------


def _cooperative(started: threading.Event, raised: list[BaseException]) -> Callable[..., str]:
    def job(ctx: RunContext) -> str:
        started.set()
        while not ctx.wait(0.005):
            pass
        try:
            ctx.check_stop()
        except (RunCancelled, LeaseLost) as exc:
            raised.append(exc)
        return "finished anyway"

    job.__qualname__ = "cooperative"
    return job


def test_a_cancel_while_running_stops_the_job(hs: Harness) -> None:
    started, raised = threading.Event(), list[BaseException]()
    run = hs.queue(hs.job(_cooperative(started, raised)))
    pending = in_background(hs.worker().run_pending)
    assert started.wait(10)
    hs.store.request_cancel(run.id, now=hs.clock.now())
    hs.clock.advance(HEARTBEAT)  # the next heartbeat hears of it
    (stored,) = pending.result(timeout=10)
    assert stored.state is RunState.CANCELLED
    assert stored.result is None
    assert [type(e) for e in raised] == [RunCancelled]


def test_heartbeats_renew_the_lease(h: Harness) -> None:
    started, raised = threading.Event(), list[BaseException]()
    run = h.queue(h.job(_cooperative(started, raised)))
    pending = in_background(h.worker(lease_seconds=30).run_pending)
    assert started.wait(10)
    first = h.get(run.id).lease_expires_at
    assert first == h.clock.now() + timedelta(seconds=30)
    h.clock.advance(HEARTBEAT)
    wait_until(lambda: h.get(run.id).lease_expires_at == h.clock.now() + timedelta(seconds=30))
    h.store.request_cancel(run.id, now=h.clock.now())
    h.clock.advance(HEARTBEAT)
    assert pending.result(timeout=10)[0].state is RunState.CANCELLED


def test_a_lost_lease_discards_the_outcome(hs: Harness, caplog: pytest.LogCaptureFixture) -> None:
    started, raised = threading.Event(), list[BaseException]()
    run = hs.queue(hs.job(_cooperative(started, raised), retries=1))
    pending = in_background(hs.worker().run_pending)
    assert started.wait(10)
    (taken,) = hs.store.reclaim_expired(hs.clock.now() + timedelta(days=1))
    assert taken.state is RunState.RETRYING
    with caplog.at_level(logging.WARNING, logger="rota.worker"):
        hs.clock.advance(HEARTBEAT)
        (stored,) = pending.result(timeout=10)
    assert [type(e) for e in raised] == [LeaseLost]
    assert stored.id == run.id
    assert (stored.state, stored.result, stored.error) == (
        taken.state,
        None,
        taken.error,
    )
    lost = [r for r in caplog.records if getattr(r, "event", "") == "run.lease_lost"]
    assert [getattr(r, "run_id", None) for r in lost] == [run.id]


# -- shutdown ----------------------------------------------------------------


def test_stop_lets_a_running_job_finish_and_leaves_queued_runs_queued(h: Harness) -> None:
    started, release = threading.Event(), threading.Event()

    def finishing() -> str:
        started.set()
        release.wait(10)
        return "done"

    job = h.job(finishing)
    first, second, third = (h.queue(job) for _ in range(3))
    worker = h.worker(idle_poll_seconds=0.01)
    worker.start()
    assert started.wait(10)
    assert worker.running
    stopping = in_background(lambda: worker.stop(timeout=10))
    wait_until(lambda: not worker.running)
    release.set()
    stopping.result(timeout=10)
    after = sorted((h.get(r.id) for r in (first, second, third)), key=lambda r: r.state)
    assert [(r.state, r.attempt) for r in after] == [
        (RunState.QUEUED, 0),
        (RunState.QUEUED, 0),
        (RunState.SUCCEEDED, 1),
    ]


def test_stop_after_its_timeout_releases_the_run_to_the_queue(h: Harness) -> None:
    started, raised = threading.Event(), list[BaseException]()
    run = h.queue(h.job(_cooperative(started, raised)))
    worker = h.worker(idle_poll_seconds=0.01)
    worker.start()
    assert started.wait(10)
    worker.stop(timeout=0.05)
    released = h.get(run.id)
    assert released.state is RunState.QUEUED
    assert released.available_at == h.clock.now()
    assert released.lease_token is None
    wait_until(lambda: raised)
    assert [type(e) for e in raised] == [RunCancelled]
    # another worker takes it
    again = h.worker()
    started.clear()
    rerun = in_background(again.run_pending)
    assert started.wait(10)
    h.store.request_cancel(run.id, now=h.clock.now())
    h.clock.advance(HEARTBEAT)
    assert rerun.result(timeout=10)[0].state is RunState.CANCELLED


def test_a_started_worker_executes_runs_as_they_come(hs: Harness) -> None:
    job = hs.job(boom, retries=1, backoff=10.0)
    worker = hs.worker(idle_poll_seconds=0.01, concurrency=2)
    worker.start()
    run = hs.queue(job)
    wait_until(lambda: hs.get(run.id).state is RunState.RETRYING)
    hs.clock.set(hs.get(run.id).available_at)
    wait_until(lambda: hs.get(run.id).state is RunState.FAILED)
    assert hs.get(run.id).attempt == 2
    worker.stop()
    assert not worker.running


def test_run_pending_takes_back_runs_of_a_dead_worker(h: Harness) -> None:
    run = h.queue(h.job(noop, retries=1))
    (claimed,) = h.store.claim_runs(worker="dead", now=h.clock.now(), limit=1, lease_seconds=30)
    h.clock.advance(31)
    (stored,) = h.worker().run_pending()
    assert (stored.id, stored.state, stored.attempt) == (run.id, RunState.SUCCEEDED, 2)
    assert stored.worker != claimed.worker


def test_stop_from_inside_run_pending_stops_claiming(h: Harness) -> None:
    worker = h.worker()

    def stopper() -> None:
        worker.stop()  # what a SIGTERM handler on the same thread does

    job = h.job(stopper)
    runs = [h.queue(job) for _ in range(3)]
    (first,) = worker.run_pending()
    assert first.state is RunState.SUCCEEDED
    rest = [h.get(r.id) for r in runs if r.id != first.id]
    assert [(r.state, r.attempt) for r in rest] == [(RunState.QUEUED, 0)] * 2
    assert worker.run_pending() == []


def test_a_stopped_worker_stays_stopped(h: Harness) -> None:
    worker = h.worker()
    worker.stop()
    worker.stop()
    assert worker.run_pending() == []
    with pytest.raises(RuntimeError, match="create a new one"):
        worker.start()


# -- concurrency -------------------------------------------------------------------


class Gauge:
    """Counts jobs running at once; each waits until the pool was seen full once."""

    def __init__(self, limit: int) -> None:
        self.limit, self.now, self.peak = limit, 0, 0
        self.cond = threading.Condition()

    def enter(self) -> None:
        with self.cond:
            self.now += 1
            self.peak = max(self.peak, self.now)
            self.cond.notify_all()
            self.cond.wait_for(lambda: self.peak >= self.limit, timeout=5)

    def leave(self) -> None:
        with self.cond:
            self.now -= 1


@pytest.mark.parametrize("kind", ["sync", "async"])
def test_concurrency_is_bounded(h: Harness, kind: str) -> None:
    gauge = Gauge(3)

    def sync_job() -> None:
        gauge.enter()
        gauge.leave()

    async def async_job() -> None:
        await asyncio.to_thread(gauge.enter)
        gauge.leave()

    job = h.job(sync_job if kind == "sync" else async_job)
    for _ in range(10):
        h.queue(job)
    done = h.worker(concurrency=3).run_pending()
    assert [r.state for r in done] == [RunState.SUCCEEDED] * 10
    assert gauge.peak == 3


def test_exclusive_runs_of_a_schedule_never_overlap(h: Harness) -> None:
    running: list[str] = []
    overlaps: list[list[str]] = []
    other_started = threading.Event()

    def exclusive_job(ctx: RunContext) -> None:
        running.append(ctx.run_id)
        if len(running) > 1:
            overlaps.append(list(running))
            other_started.set()
        other_started.wait(0.2)  # give a wrongly started second run the chance to show
        running.remove(ctx.run_id)

    job = h.job(exclusive_job)
    options = job.options(exclusive=True)
    runs = [h.queue(job, options=options, schedule="only-one") for _ in range(2)]
    done = h.worker(concurrency=2).run_pending()
    assert sorted(r.id for r in done) == sorted(r.id for r in runs)
    assert all(r.state is RunState.SUCCEEDED for r in done)
    assert overlaps == []


# -- bookkeeping ------------------------------------------------------------


def test_history_is_pruned_per_schedule(hs: Harness) -> None:
    job = hs.job(noop)
    now = hs.clock.now()
    for i in range(3):
        old = Run(
            id=f"old{i}",
            job=job.name,
            state=RunState.SKIPPED,
            created_at=now - timedelta(minutes=10 - i),
            available_at=now,
            schedule="s",
        )
        assert hs.store.insert_run(old)
    run = hs.queue(job, schedule="s")
    hs.worker(keep_runs=2).run_pending()
    kept = hs.store.list_runs(schedule="s")
    assert {r.id for r in kept} == {run.id, "old2"}


def test_events_are_logged_with_stable_names(h: Harness, caplog: pytest.LogCaptureFixture) -> None:
    ok, bad = h.queue(h.job(noop)), h.queue(h.job(boom, retries=1, backoff=60))
    with caplog.at_level(logging.DEBUG, logger="rota.worker"):
        h.worker().run_pending()
    events = {(getattr(r, "event", None), getattr(r, "run_id", None)) for r in caplog.records}
    assert {
        ("run.claimed", ok.id),
        ("run.succeeded", ok.id),
        ("run.claimed", bad.id),
        ("run.retrying", bad.id),
    } <= events


def test_a_worker_has_a_unique_default_name(h: Harness) -> None:
    first, second = h.worker(), h.worker()
    assert first.name != second.name
    host, pid, _ = first.name.split(":")
    assert host
    assert pid.isdigit()


@pytest.mark.parametrize(
    "config",
    [
        {"concurrency": 0},
        {"heartbeat_seconds": 30.0, "lease_seconds": 30.0},
        {"idle_poll_seconds": 0.0},
    ],
)
def test_bad_worker_config_is_refused(config: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        WorkerConfig(**config)
