"""Loops that survive a store outage: the scheduler and the worker log it, back off,
and carry on when the store answers again, with nothing lost or run twice.

``FlakyStore`` stands in for a server that restarts or drops connections: a
memory store whose calls (all, or those named) raise ``StoreUnavailable``
while it is down, as the PostgreSQL and Redis stores do then.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from worker_harness import StoreHarness, serve

from rota._retry import MAX_DELAY, Outage, backoff
from rota.app import Rota
from rota.clock import SystemClock
from rota.config import RotaConfig, SchedulerConfig
from rota.context import RunContext
from rota.errors import StoreUnavailable
from rota.jobs import Job
from rota.runs import Run, RunState
from rota.schedule import Schedule
from rota.scheduler import Scheduler, new_record
from rota.stores.base import ScheduleRecord, Store
from rota.stores.memory import MemoryStore
from rota.testing import FakeClock
from rota.worker import Worker, WorkerConfig

START = datetime(2030, 1, 1, 12, 0, 30, tzinfo=UTC)
STORE_CALLS = frozenset(
    name for name in dir(Store) if not name.startswith("_") and callable(getattr(Store, name))
) - {"close"}
DEADLINE = 10.0
"""Real seconds any wait in these tests may take before it fails."""


class FlakyStore(MemoryStore):
    """A memory store whose calls raise ``StoreUnavailable`` while it is down."""

    def __init__(self) -> None:
        super().__init__()
        self._down: frozenset[str] = frozenset()
        self._failures: dict[str, int] = {}
        self._count = threading.Lock()

    def go_down(self, *only: str) -> None:
        """Refuse every call from now on, or only the calls of the methods named."""
        self._failures = {}
        self._down = frozenset(only or STORE_CALLS)

    def come_back(self) -> None:
        self._down = frozenset()

    def peek(self, run_id: str | None = None) -> list[Run]:
        """Runs (or the one run), read past the outage: what a test checks."""
        runs = MemoryStore.list_runs(self, limit=10_000)
        return [r for r in runs if run_id is None or r.id == run_id]

    def failures(self, name: str | None = None) -> int:
        with self._count:
            return self._failures.get(name, 0) if name else sum(self._failures.values())

    def __getattribute__(self, name: str) -> Any:
        if name in STORE_CALLS and name in object.__getattribute__(self, "_down"):
            return object.__getattribute__(self, "_refusal")(name)
        return super().__getattribute__(name)

    def _refusal(self, name: str) -> Callable[..., Any]:
        def refuse(*args: Any, **kwargs: Any) -> Any:
            with self._count:
                self._failures[name] = self._failures.get(name, 0) + 1
            raise StoreUnavailable(f"test store is down ({name})")

        return refuse


class QuickSystemClock(SystemClock):
    """The real clock (so the scheduler sleeps in ``store.wait_for_activity``, as in
    production), whose backoff waits are cut to a millisecond."""

    def wait(self, event: threading.Event, timeout: float | None) -> bool:
        return event.wait(0.001)


def wait_for(condition: Callable[[], object], what: str, timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.002)


def events(caplog: pytest.LogCaptureFixture, name: str, level: int = logging.DEBUG) -> int:
    return sum(
        1 for r in list(caplog.records) if getattr(r, "event", None) == name and r.levelno >= level
    )


@pytest.fixture
def store() -> Iterator[FlakyStore]:
    flaky = FlakyStore()
    yield flaky
    flaky.come_back()
    flaky.close()


@pytest.fixture(autouse=True)
def _debug_logs(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG, logger="rota")


# -- backoff ---------------------------------------------------------------------------------


def test_backoff_doubles_from_a_tenth_of_a_second_to_the_cap_with_jitter() -> None:
    rng = random.Random(7)
    for failures, nominal in [(1, 0.1), (2, 0.2), (3, 0.4), (6, 3.2), (7, MAX_DELAY)]:
        delays = [backoff(failures, rng=rng) for _ in range(200)]
        assert all(nominal / 2 <= d <= nominal for d in delays), failures
        assert len(set(delays)) > 1  # jittered
    assert backoff(10_000, rng=rng) <= MAX_DELAY


def test_an_outage_is_logged_once_and_its_end_once(caplog: pytest.LogCaptureFixture) -> None:
    outage = Outage(logging.getLogger("rota.test"), "scheduler", FakeClock(START))
    outage.succeeded()  # no outage: nothing to log
    for _ in range(5):
        assert 0 < outage.failed(StoreUnavailable("down"), "ticking") <= MAX_DELAY
    assert outage.down
    outage.succeeded()
    outage.succeeded()
    assert events(caplog, "store.unavailable", logging.WARNING) == 1
    assert events(caplog, "store.unavailable") == 5
    assert events(caplog, "store.recovered") == 1


def test_call_retries_until_the_store_answers_or_gives_up_at_the_bound() -> None:
    clock = FakeClock(START)
    outage = Outage(logging.getLogger("rota.test"), "worker", clock)
    answers: list[object] = [StoreUnavailable("a"), StoreUnavailable("b"), "done"]

    def flaky() -> object:
        answer = answers.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    never = threading.Event()
    assert outage.call(flaky, "finishing", halt=never, give_up_at=lambda: 1.0) == "done"
    assert not outage.down

    def down() -> None:
        raise StoreUnavailable("down")

    with pytest.raises(StoreUnavailable):  # the bound has passed: one attempt only
        outage.call(down, "finishing", halt=never, give_up_at=lambda: -1.0)
    halted = threading.Event()
    halted.set()
    with pytest.raises(StoreUnavailable):
        outage.call(down, "finishing", halt=halted, give_up_at=lambda: 1e9)


# -- the scheduler --------------------------------------------------------------------------


def scheduler_on(store: Store, clock: FakeClock | SystemClock) -> Scheduler:
    config = SchedulerConfig(max_wait=0.01, reclaim_interval=0.01)
    return Scheduler(
        store, lambda r: Schedule.from_spec(r.spec), config=config, clock=clock, host="a"
    )


def declare(store: Store, schedule: Schedule, now: datetime) -> ScheduleRecord:
    saved = store.save_schedule(new_record(schedule, now), expected_version=None)
    assert saved is not None
    return saved


class Loop:
    """``run_forever`` on a thread; stopped, and checked to have survived, at exit."""

    def __init__(self, scheduler: Scheduler) -> None:
        self.stop = threading.Event()
        self.thread = threading.Thread(target=scheduler.run_forever, args=(self.stop,))

    def __enter__(self) -> Loop:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.thread.is_alive(), "the scheduler loop died"
        self.stop.set()
        self.thread.join(DEADLINE)
        assert not self.thread.is_alive()


def slots(store: FlakyStore) -> list[datetime | None]:
    return sorted((r.slot for r in store.peek()), key=lambda s: s or START)


def test_scheduler_rides_out_an_outage_and_fires_the_slot_once(
    store: FlakyStore, caplog: pytest.LogCaptureFixture
) -> None:
    clock = FakeClock(START)
    declare(store, Schedule("j").every_minute(), START)
    with Loop(scheduler_on(store, clock)):
        wait_for(lambda: len(slots(store)) == 1, "the first slot")
        store.go_down()
        clock.advance(60)  # the 12:01 slot comes due while the store is down
        wait_for(lambda: store.failures() >= 5, "the loop to retry")
        assert slots(store) == [datetime(2030, 1, 1, 12, 0, tzinfo=UTC)]
        store.come_back()
        wait_for(lambda: len(slots(store)) == 2, "the slot missed during the outage")
        wait_for(lambda: events(caplog, "store.recovered"), "store.recovered")
    assert slots(store) == [datetime(2030, 1, 1, 12, m, tzinfo=UTC) for m in (0, 1)]
    assert events(caplog, "store.unavailable", logging.WARNING) == 1
    assert events(caplog, "scheduler.error") == 0


def test_scheduler_survives_a_store_that_cannot_be_waited_on(store: FlakyStore) -> None:
    # PostgreSQL's LISTEN connection, Redis's pub/sub: the wait between ticks fails too.
    declare(store, Schedule("j").every_minute(), datetime.now(UTC))
    with Loop(scheduler_on(store, QuickSystemClock())):
        wait_for(lambda: len(slots(store)) == 1, "the first slot")
        store.go_down("wait_for_activity")
        wait_for(lambda: store.failures("wait_for_activity") >= 3, "the wait to fail thrice")
        store.come_back()


def test_progress_lost_after_the_insert_does_not_double_the_run(store: FlakyStore) -> None:
    # Insert first, advance second: the store dies in between, and the next ticks
    # insert the same run ids again, which the store ignores.
    clock = FakeClock(START)
    declare(store, Schedule("j").every_minute(), START)
    store.go_down("advance_schedule")
    with Loop(scheduler_on(store, clock)), Loop(scheduler_on(store, clock)):
        wait_for(lambda: store.failures("advance_schedule") >= 6, "the advance to fail")
        assert len(slots(store)) == 1
        store.come_back()
        clock.advance(60)
        wait_for(lambda: len(slots(store)) == 2, "the next slot")
    assert slots(store) == [datetime(2030, 1, 1, 12, m, tzinfo=UTC) for m in (0, 1)]


# -- the worker ---------------------------------------------------------------------------------


class Harness(StoreHarness[FlakyStore]):
    """A flaky store, a fake clock, jobs, and started workers stopped at teardown."""

    def __init__(self, store: FlakyStore) -> None:
        super().__init__(store, FakeClock(START))

    def queue(self, job: Job) -> Run:
        return self.insert(self.new_run(job))

    def worker(self, **config: Any) -> Worker:
        settings = {"idle_poll_seconds": 0.01, "lease_seconds": 30.0, "heartbeat_seconds": 5.0}
        worker = self.keep(
            Worker(
                self.store,
                self.jobs,
                config=WorkerConfig(**(settings | config)),
                clock=self.clock,
                name=f"w{len(self.workers)}",
            )
        )
        worker.start()
        return worker

    def get(self, run_id: str) -> Run:
        [run] = self.store.peek(run_id)
        return run

    def state(self, run_id: str) -> RunState:
        return self.get(run_id).state


@pytest.fixture
def h(store: FlakyStore) -> Iterator[Harness]:
    yield from serve(
        lambda: Harness(store), close_store=False, before_stop=lambda h: h.store.come_back()
    )


def more_failures(store: FlakyStore, name: str) -> Callable[[], bool]:
    """A condition: ``name`` failed more often than it had when this was made."""
    before = store.failures(name)
    return lambda: store.failures(name) > before


def blocking(release: threading.Event, started: threading.Event | None = None) -> Any:
    def job(ctx: RunContext) -> str:
        if started is not None:
            started.set()
        assert release.wait(DEADLINE)
        return ctx.run_id

    job.__qualname__ = "blocking"
    return job


def test_worker_claims_again_once_the_store_is_back(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    job = h.job(lambda ctx: "ok", name="quick")
    h.store.go_down()
    worker = h.worker()
    wait_for(lambda: h.store.failures() >= 5, "the claim loop to retry")
    h.store.come_back()
    run = h.queue(job)
    wait_for(lambda: h.state(run.id) is RunState.SUCCEEDED, "the run to succeed")
    assert h.get(run.id).attempt == 1
    assert worker.running
    assert events(caplog, "store.unavailable", logging.WARNING) == 1
    assert events(caplog, "store.recovered") == 1
    assert events(caplog, "worker.error") == 0


def test_a_heartbeat_that_cannot_reach_the_store_does_not_stop_the_job(h: Harness) -> None:
    release, started = threading.Event(), threading.Event()
    job = h.job(blocking(release, started), name="blocking")
    run = h.queue(job)
    h.worker(heartbeat_seconds=1.0, lease_seconds=60.0)
    assert started.wait(DEADLINE)
    h.store.go_down("renew_lease")
    for _ in range(5):  # five heartbeats due, each failing and retried with backoff
        failed = more_failures(h.store, "renew_lease")
        h.clock.advance(1.0)
        wait_for(failed, "a heartbeat")
    h.store.come_back()
    release.set()
    wait_for(lambda: h.state(run.id) is RunState.SUCCEEDED, "the run to succeed")
    assert (h.get(run.id).attempt, h.get(run.id).result) == (1, run.id)


def test_finishing_is_retried_until_the_store_takes_the_outcome(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    release = threading.Event()
    run = h.queue(h.job(blocking(release), name="blocking"))
    h.worker()
    wait_for(lambda: h.state(run.id) is RunState.RUNNING, "the run to start")
    h.store.go_down("finish_run")
    release.set()
    wait_for(lambda: h.store.failures("finish_run") >= 5, "the finish to be retried")
    assert h.state(run.id) is RunState.RUNNING
    h.store.come_back()
    wait_for(lambda: h.state(run.id) is RunState.SUCCEEDED, "the outcome to be recorded")
    assert h.get(run.id).attempt == 1
    assert events(caplog, "run.succeeded") == 1
    assert events(caplog, "run.lease_lost") == 0


def test_finishing_gives_up_once_the_lease_lapsed_and_the_run_is_retried(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    release = threading.Event()
    job = h.job(blocking(release), name="blocking", retries=1)
    run = h.queue(job)
    worker = h.worker(lease_seconds=10.0, heartbeat_seconds=5.0)
    wait_for(lambda: h.state(run.id) is RunState.RUNNING, "the run to start")
    h.store.go_down()
    release.set()
    wait_for(lambda: h.store.failures("finish_run") >= 3, "the finish to be retried")
    h.clock.advance(11)  # the lease lapses, never renewed
    wait_for(lambda: events(caplog, "run.lease_lost"), "the worker to give the run up")
    h.store.come_back()
    reclaimed = h.store.reclaim_expired(h.clock.now())
    assert [(r.id, r.state) for r in reclaimed] == [(run.id, RunState.RETRYING)]
    wait_for(lambda: h.state(run.id) is RunState.SUCCEEDED, "the retry to succeed")
    assert h.get(run.id).attempt == 2  # at least once: the first outcome was not recorded
    assert worker.running


def test_stopping_while_the_store_is_down_neither_raises_nor_hangs(h: Harness) -> None:
    release, started = threading.Event(), threading.Event()
    run = h.queue(h.job(blocking(release, started), name="blocking"))
    worker = h.worker()
    assert started.wait(DEADLINE)
    h.store.go_down()
    began = time.monotonic()
    worker.stop(timeout=0)  # the release cannot be written: the lease brings the run back
    assert time.monotonic() - began < 5
    release.set()
    h.store.come_back()
    assert h.state(run.id) is RunState.RUNNING  # until its lease lapses


def noop(ctx: RunContext) -> None:
    pass


def test_rota_stop_while_the_store_is_down(store: FlakyStore) -> None:
    config = RotaConfig(worker=WorkerConfig(idle_poll_seconds=0.01))
    app = Rota(store, clock=FakeClock(START), config=config)
    app.schedule(app.job(name="noop")(noop)).every_minute()
    app.start()
    store.go_down()
    began = time.monotonic()
    app.stop(timeout=0)
    assert time.monotonic() - began < 5
    assert not app.running
