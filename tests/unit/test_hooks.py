"""Hooks: on_success, on_failure, on_retry and on_missed, of a schedule and of the app."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime, timedelta

import pytest
from worker_harness import Harness, in_background, serve

from rota import RunContext
from rota._hooks import Hooks
from rota.app import Rota
from rota.errors import ConfigurationError, InvalidSchedule, StoreUnavailable
from rota.runs import Run, RunState
from rota.schedule import Schedule
from rota.stores import open_store
from rota.stores.memory import MemoryStore
from rota.testing import FakeClock, make_test_rota, run_due
from rota.worker import Worker, WorkerConfig

START = datetime(2030, 1, 1, 12, tzinfo=UTC)
FIRST = START + timedelta(seconds=1)


class Calls:
    """What hooks saw: (label, run) in call order."""

    def __init__(self) -> None:
        self.seen: list[tuple[str, Run]] = []

    def hook(self, label: str) -> Callable[[Run], None]:
        def record(run: Run) -> None:
            self.seen.append((label, run))

        return record

    def labels(self) -> list[str]:
        return [label for label, _ in self.seen]

    def states(self) -> list[tuple[str, RunState]]:
        return [(label, run.state) for label, run in self.seen]


@pytest.fixture
def calls() -> Calls:
    return Calls()


@pytest.fixture
def rota() -> Iterator[Rota]:
    app = make_test_rota(START)
    yield app
    app.close()


def hooked(rota: Rota, calls: Calls, schedule: Schedule) -> None:
    """Both hooks of every event on ``schedule`` and on the app."""
    for event in ("success", "failure", "retry", "missed"):
        getattr(schedule, f"on_{event}")(calls.hook(f"schedule.{event}"))
        getattr(rota, f"on_{event}")(calls.hook(f"app.{event}"))


# -- each event ------------------------------------------------------------------------


def test_success_calls_the_schedules_hooks_then_the_apps_with_the_stored_run(
    rota: Rota, calls: Calls
) -> None:
    @rota.job(name="answer")
    def answer() -> int:
        return 42

    schedule = rota.schedule(answer).every_minute()
    schedule.on_success(calls.hook("first")).on_success(calls.hook("second"))
    rota.on_success(calls.hook("app"))
    report = run_due(rota, FIRST)  # the pass ends with its hooks done: no waiting here
    (run,) = report.runs
    assert calls.labels() == ["first", "second", "app"]
    stored = rota.store.get_run(run.id)
    assert stored is not None
    assert stored.state is RunState.SUCCEEDED
    assert all(seen == stored for _, seen in calls.seen)
    assert calls.seen[0][1].result == 42


def test_a_final_failure_calls_the_failure_hooks_only(rota: Rota, calls: Calls) -> None:
    @rota.job(name="broken")
    def broken() -> None:
        raise RuntimeError("disk full")

    hooked(rota, calls, rota.schedule(broken).every_minute())
    (run,) = run_due(rota, FIRST).runs
    assert calls.states() == [
        ("schedule.failure", RunState.FAILED),
        ("app.failure", RunState.FAILED),
    ]
    assert calls.seen[0][1] == rota.store.get_run(run.id)
    assert "disk full" in (calls.seen[0][1].error or "")


def test_on_retry_then_on_success_across_attempts(rota: Rota, calls: Calls) -> None:
    attempts: list[int] = []

    @rota.job(name="flaky", retries=2, backoff=0)
    def flaky(ctx: RunContext) -> str:
        attempts.append(ctx.attempt)
        if len(attempts) == 1:
            raise ConnectionError("try again")
        return "ok"

    hooked(rota, calls, rota.schedule(flaky).every_minute())
    run_due(rota, FIRST)
    assert attempts == [1, 2]
    assert calls.states() == [
        ("schedule.retry", RunState.RETRYING),
        ("app.retry", RunState.RETRYING),
        ("schedule.success", RunState.SUCCEEDED),
        ("app.success", RunState.SUCCEEDED),
    ]
    retry, success = calls.seen[0][1], calls.seen[2][1]
    assert (retry.attempt, success.attempt) == (1, 2)
    assert "try again" in (retry.error or "")


def test_on_missed_fires_for_each_slot_a_catch_up_tick_records_as_missed(
    rota: Rota, calls: Calls
) -> None:
    @rota.job(name="tick")
    def tick() -> None: ...

    hooked(rota, calls, rota.schedule(tick).every_minute())
    run_due(rota, FIRST)  # stored and fired at 12:00
    calls.seen.clear()
    report = run_due(rota, START + timedelta(minutes=10, seconds=30))  # down 12:01 - 12:09
    missed = [run for run in report.recorded if run.state is RunState.MISSED]
    assert len(missed) == 9
    schedule_missed = [run for label, run in calls.seen if label == "schedule.missed"]
    assert schedule_missed == missed
    assert [run for label, run in calls.seen if label == "app.missed"] == missed
    assert {label for label, _ in calls.seen} == {"schedule.missed", "app.missed", *SUCCESS}
    assert [r.slot for r in schedule_missed] == [START + timedelta(minutes=m) for m in range(1, 10)]


SUCCESS = ("schedule.success", "app.success")  # the 12:10 slot fires


def test_a_timed_out_run_calls_the_failure_hooks(calls: Calls) -> None:
    store = open_store("memory://")
    harness = Harness(store)
    hooks = Hooks()
    hooks.add("failure", calls.hook("failure"))
    started = threading.Event()

    async def slow() -> None:
        started.set()
        await asyncio.sleep(3600)

    run = harness.queue(harness.job(slow, timeout=5))
    worker = Worker(
        store, harness.jobs, config=WorkerConfig(concurrency=1), clock=harness.clock, hooks=hooks
    )
    try:
        pending = in_background(worker.run_pending)
        assert started.wait(10)
        harness.clock.advance(5)
        pending.result(timeout=10)
    finally:
        worker.stop(timeout=2)
    assert calls.states() == [("failure", RunState.TIMED_OUT)]
    assert calls.seen[0][1] == store.get_run(run.id)


# -- hooks that go wrong -------------------------------------------------------------------


def test_a_raising_hook_is_logged_and_changes_nothing(
    rota: Rota, calls: Calls, caplog: pytest.LogCaptureFixture
) -> None:
    @rota.job(name="fine")
    def fine() -> str:
        return "done"

    def explode(run: Run) -> None:
        raise ValueError("hook bug")

    rota.schedule(fine).every_minute().on_success(explode).on_success(calls.hook("after"))
    rota.on_success(explode)
    with caplog.at_level(logging.ERROR, logger="rota.hooks"):
        (run,) = run_due(rota, FIRST).runs
    assert run.state is RunState.SUCCEEDED
    assert run.result == "done"
    assert calls.labels() == ["after"]  # the next hook still ran
    errors = [r for r in caplog.records if getattr(r, "event", "") == "hook.error"]
    assert len(errors) == 2
    assert all(getattr(r, "run_id", "") == run.id and r.exc_info for r in errors)
    assert "hook bug" in caplog.text


def test_a_hook_that_exits_does_not_end_the_hooks_thread(rota: Rota, calls: Calls) -> None:
    @rota.job(name="fine")
    def fine() -> None: ...

    def leave(run: Run) -> None:
        raise SystemExit(3)

    rota.on_success(leave)
    rota.on_success(calls.hook("next"))
    rota.schedule(fine).every_minute()
    run_due(rota, FIRST)
    rota.trigger(fine)
    assert calls.labels() == ["next", "next"]


def test_a_full_queue_drops_with_a_warning(caplog: pytest.LogCaptureFixture) -> None:
    entered, release = threading.Event(), threading.Event()
    seen: list[str] = []

    def slow(run: Run) -> None:
        entered.set()
        release.wait(10)
        seen.append(run.id)

    hooks = Hooks(queue_size=1)
    hooks.add("success", slow)
    first, second, third = (succeeded(f"r{i}") for i in range(3))
    try:
        with caplog.at_level(logging.WARNING, logger="rota.hooks"):
            hooks.ended([first])
            assert entered.wait(10)  # the thread holds ``first``: the queue is empty again
            hooks.ended([second, third])
        dropped = [r for r in caplog.records if getattr(r, "event", "") == "hook.dropped"]
        assert [getattr(r, "run_id", "") for r in dropped] == ["r2"]
        assert not hooks.flush(timeout=0.01)  # bounded: ``first`` is still running
    finally:
        release.set()
    assert hooks.flush(timeout=10)
    assert seen == ["r0", "r1"]


def test_ended_never_waits_for_a_hook() -> None:
    release = threading.Event()
    hooks = Hooks()
    hooks.add("success", lambda run: release.wait(10))
    try:
        began = time.monotonic()
        hooks.ended([succeeded("r0"), succeeded("r1")])
        assert time.monotonic() - began < 1.0
    finally:
        release.set()
    assert hooks.flush(timeout=10)


def test_stopping_the_worker_waits_for_the_hooks(rota: Rota) -> None:
    done: list[str] = []

    @rota.job(name="quick")
    def quick() -> None: ...

    def slow_hook(run: Run) -> None:
        time.sleep(0.2)  # slower than the rest of ``trigger``: it must be waited for
        done.append(run.id)

    rota.on_success(slow_hook)
    run = rota.trigger(quick)
    assert done == [run.id]


# -- which runs -----------------------------------------------------------------------------


def test_manual_runs_of_a_schedule_call_its_hooks_and_plain_jobs_only_the_apps(
    rota: Rota, calls: Calls
) -> None:
    @rota.job(name="report")
    def report() -> None: ...

    rota.schedule(report).daily().named("nightly").on_success(calls.hook("schedule"))
    rota.on_success(calls.hook("app"))
    rota.trigger("nightly")
    assert calls.labels() == ["schedule", "app"]
    calls.seen.clear()
    rota.trigger(report)
    assert calls.labels() == ["app"]


def test_runs_taken_back_from_a_dead_worker_call_the_hooks(rota: Rota, calls: Calls) -> None:
    @rota.job(name="lost", retries=1)
    def lost() -> None: ...

    hooked(rota, calls, rota.schedule(lost).every_minute())
    rota.sync_schedules(FIRST)
    rota.scheduler.tick(FIRST)
    clock = rota.clock
    assert isinstance(clock, FakeClock)
    assert len(rota.store.claim_runs(worker="dead", now=FIRST, limit=1, lease_seconds=30)) == 1
    clock.set(FIRST + timedelta(seconds=31))
    report = rota.run_due(FIRST + timedelta(seconds=31))
    assert ("schedule.retry", RunState.RETRYING) in calls.states()
    assert ("app.retry", RunState.RETRYING) in calls.states()
    assert "lease expired" in (calls.seen[0][1].error or "")
    assert [run.state for run in report.runs] == [RunState.SUCCEEDED]  # attempt 2, here


def test_a_worker_taking_back_a_run_with_no_attempts_left_calls_on_failure(
    calls: Calls,
) -> None:
    store = open_store("memory://")
    harness = Harness(store)
    hooks = Hooks()
    hooks.add("failure", calls.hook("failure"))
    run = harness.queue(harness.job(lambda: None))
    store.claim_runs(worker="dead", now=harness.clock.now(), limit=1, lease_seconds=30)
    harness.clock.advance(31)
    worker = Worker(store, harness.jobs, clock=harness.clock, hooks=hooks)
    worker.run_pending()
    worker.stop()
    assert calls.states() == [("failure", RunState.FAILED)]
    assert calls.seen[0][1] == store.get_run(run.id)


def test_a_scheduler_with_hooks_reports_only_the_missed_runs_it_inserted(calls: Calls) -> None:
    first = make_test_rota(START)
    second = Rota(first.store, clock=first.clock, host="other")

    @first.job(name="shared")
    def shared() -> None: ...

    second.job(name="shared")(shared)
    for app, label in ((first, "first"), (second, "second")):
        app.schedule("shared").every_minute().on_missed(calls.hook(label))
    run_due(first, FIRST)
    later = START + timedelta(minutes=5, seconds=10)
    first.scheduler.tick(later)
    second.scheduler.tick(later)
    first.run_due(later)
    second.run_due(later)
    assert calls.labels() == ["first"] * 4
    first.close()


# -- declaring ------------------------------------------------------------------------------


def test_hooks_need_callables() -> None:
    with pytest.raises(InvalidSchedule, match=r"on_failure\(\) needs a callable"):
        Schedule("mymod.job").on_failure("notify")  # type: ignore[arg-type]
    app = make_test_rota(START)
    with pytest.raises(ConfigurationError, match=r"on_retry\(\) needs a callable"):
        app.on_retry(None)  # type: ignore[arg-type]
    with pytest.raises(ConfigurationError, match="unknown hook event 'finish'"):
        Hooks().add("finish", print)


def test_hooks_are_not_part_of_the_spec_and_app_hooks_decorate() -> None:
    plain = Schedule("mymod.job").hourly()
    hooked_one = Schedule("mymod.job").hourly().on_success(print).on_missed(print)
    assert hooked_one.to_spec() == plain.to_spec()
    assert hooked_one.hooks_for("success") == (print,)
    assert hooked_one.hooks_for("retry") == ()
    assert plain.hooks_for("success") == ()  # the class default is never changed
    app = make_test_rota(START)
    reported: list[Run] = []

    @app.on_failure
    def report(run: Run) -> None:
        reported.append(run)

    @app.job(name="broken")
    def broken() -> None:
        raise RuntimeError("no")

    assert callable(report)  # the decorator gives the function back
    run = app.trigger(broken)
    assert reported == [run]
    app.close()


# -- the worker's other follow-up: waiting runs ----------------------------------------------


class SettleSpy(MemoryStore):
    """A memory store that records ``settle_waiting`` calls, and can refuse them."""

    def __init__(self) -> None:
        super().__init__()
        self.settled: list[list[str]] = []
        self.refuse = False

    def settle_waiting(self, ids: Sequence[str] | None = None, *, now: datetime) -> list[Run]:
        self.settled.append(list(ids or ()))
        if self.refuse:
            raise StoreUnavailable("store down")
        return super().settle_waiting(ids, now=now)


@pytest.fixture
def spy() -> Iterator[Harness]:
    yield from serve(lambda: Harness(SettleSpy()), threads_gone_within=5)


def test_the_worker_settles_waiting_runs_once_per_written_batch(spy: Harness) -> None:
    store = spy.store
    assert isinstance(store, SettleSpy)
    job = spy.job(lambda: None)
    runs = [spy.queue(job) for _ in range(3)]
    spy.worker(concurrency=1).run_pending()
    ended = [run_id for batch in store.settled for run_id in batch]
    assert sorted(ended) == sorted(run.id for run in runs)
    assert len(store.settled) <= 3


def test_retrying_runs_are_not_settled_but_runs_taken_back_as_failed_are(spy: Harness) -> None:
    store = spy.store
    assert isinstance(store, SettleSpy)

    def boom() -> None:
        raise RuntimeError("no")

    retried = spy.queue(spy.job(boom, retries=5, backoff=60))
    spy.worker().run_pending()
    assert store.settled == []  # retrying: not ended
    assert spy.get(retried.id).state is RunState.RETRYING
    taken = spy.queue(spy.job(lambda: None, name="taken"))
    store.claim_runs(worker="dead", now=spy.clock.now(), limit=5, lease_seconds=30)
    spy.clock.advance(31)
    spy.worker().run_pending()
    assert [taken.id] in store.settled


def test_an_unavailable_store_when_settling_is_logged_and_the_run_stands(
    spy: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    store = spy.store
    assert isinstance(store, SettleSpy)
    store.refuse = True
    run = spy.queue(spy.job(lambda: 7))
    with caplog.at_level(logging.WARNING, logger="rota.worker"):
        spy.worker().run_pending()
    assert spy.get(run.id).state is RunState.SUCCEEDED
    assert [getattr(r, "event", "") for r in caplog.records] == ["run.settle_deferred"]


# -- helpers ---------------------------------------------------------------------------------


def succeeded(run_id: str) -> Run:
    return Run(
        id=run_id,
        job="mymod.job",
        state=RunState.SUCCEEDED,
        created_at=START,
        available_at=START,
    )
