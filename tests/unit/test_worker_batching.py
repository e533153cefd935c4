"""Outcomes of quick runs written a batch at a time: fewer store calls, the same
semantics (token checks per run, retries through an outage, heartbeats while an
outcome waits), and ``run_pending`` reading its runs back in one call."""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator, Sequence
from datetime import datetime
from functools import partial
from typing import Any

import pytest
from worker_harness import StoreHarness, in_background, serve, wait_until

from rota._threads import Batcher
from rota.errors import StoreUnavailable
from rota.jobs import Job
from rota.runs import Run, RunState
from rota.stores.base import LeaseStatus, Outcome
from rota.stores.memory import MemoryStore
from rota.worker import Worker, WorkerConfig

DEADLINE = 10.0
"""Real seconds any wait in these tests may take before it fails."""


class CountingStore(MemoryStore):
    """A memory store that counts the calls a worker makes, and can misbehave:
    refuse named calls (``StoreUnavailable``), or refuse one run's finish as if
    its lease had been taken."""

    def __init__(self) -> None:
        super().__init__()
        self.lock = threading.Lock()
        self.calls: dict[str, int] = {}
        self.batches: list[list[str]] = []
        self.down: dict[str, int] = {}
        """Method name -> calls still to refuse."""
        self.stolen: set[str] = set()
        self.renewed: list[str] = []

    def _count(self, name: str) -> None:
        with self.lock:
            self.calls[name] = self.calls.get(name, 0) + 1
            if self.down.get(name, 0) > 0:
                self.down[name] -= 1
                raise StoreUnavailable(f"test store is down ({name})")

    def count(self, name: str) -> int:
        with self.lock:
            return self.calls.get(name, 0)

    def finish_run(self, run_id: str, token: str, outcome: Outcome, *, now: datetime) -> bool:
        self._count("finish_run")
        token = "stolen" if run_id in self.stolen else token
        return super().finish_run(run_id, token, outcome, now=now)

    def finish_runs(
        self, finishes: Sequence[tuple[str, str, Outcome]], *, now: datetime
    ) -> list[bool]:
        self._count("finish_runs")
        with self.lock:
            self.batches.append([run_id for run_id, _, _ in finishes])
        return [
            MemoryStore.finish_run(
                self, run_id, "stolen" if run_id in self.stolen else token, outcome, now=now
            )
            for run_id, token, outcome in finishes
        ]

    def renew_lease(
        self, run_id: str, token: str, *, now: datetime, lease_seconds: float
    ) -> LeaseStatus:
        with self.lock:
            self.renewed.append(run_id)
        return super().renew_lease(run_id, token, now=now, lease_seconds=lease_seconds)

    def get_run(self, run_id: str) -> Run | None:
        self._count("get_run")
        return super().get_run(run_id)

    def get_runs(self, ids: Sequence[str]) -> list[Run]:
        self._count("get_runs")
        return [run for run in map(super().get_run, ids) if run is not None]

    def peek(self, run_id: str) -> Run:
        run = super().get_run(run_id)
        assert run is not None
        return run


class Harness(StoreHarness[CountingStore]):
    def __init__(self) -> None:
        super().__init__(CountingStore())

    def queue(self, job: Job, count: int = 1, *, priority: int = 0) -> list[Run]:
        now = self.clock.now()
        runs = [self.new_run(job, now=now, priority=priority) for _ in range(count)]
        assert all(self.store.insert_runs(runs))
        return runs

    def worker(self, **config: Any) -> Worker:
        config.setdefault("concurrency", 1)
        config.setdefault("idle_poll_seconds", 0.01)
        return self.keep(
            Worker(self.store, self.jobs, config=WorkerConfig(**config), clock=self.clock)
        )

    def states(self, runs: Sequence[Run]) -> list[RunState]:
        return [self.store.peek(run.id).state for run in runs]


@pytest.fixture
def h() -> Iterator[Harness]:
    yield from serve(Harness, threads_gone_within=DEADLINE)


def events(caplog: pytest.LogCaptureFixture, name: str) -> list[str]:
    """Run ids of the records of event ``name``."""
    return [
        getattr(r, "run_id", "") for r in list(caplog.records) if getattr(r, "event", "") == name
    ]


def noop() -> None:
    pass


# -- fewer round trips -----------------------------------------------------------------------


def test_quick_runs_are_finished_in_batches(h: Harness, caplog: pytest.LogCaptureFixture) -> None:
    runs = h.queue(h.job(noop, name="noop"), 200)
    with caplog.at_level(logging.INFO, logger="rota.worker"):
        done = h.worker().run_pending()
    assert [r.state for r in done] == [RunState.SUCCEEDED] * 200
    writes = h.store.count("finish_runs") + h.store.count("finish_run")
    assert writes <= 200 // 10, writes
    assert max(len(batch) for batch in h.store.batches) > 10
    assert sorted(events(caplog, "run.succeeded")) == sorted(r.id for r in runs)


def test_a_started_worker_batches_too(h: Harness) -> None:
    runs = h.queue(h.job(noop, name="noop"), 300)
    worker = h.worker(concurrency=4)
    worker.start()
    wait_until(lambda: h.states(runs) == [RunState.SUCCEEDED] * 300)
    writes = h.store.count("finish_runs") + h.store.count("finish_run")
    assert writes <= 300 // 5, writes


def test_stop_writes_every_outcome_before_it_returns(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    runs = h.queue(h.job(noop, name="noop"), 300)
    worker = h.worker(concurrency=4)
    with caplog.at_level(logging.INFO, logger="rota.worker"):
        worker.start()
        wait_until(lambda: h.store.count("finish_runs") >= 2)
        worker.stop(timeout=DEADLINE)  # what was claimed finishes, and is written, first
        states = h.states(runs)
    assert set(states) <= {RunState.SUCCEEDED, RunState.QUEUED}  # none left running
    succeeded = [r.id for r, state in zip(runs, states, strict=True) if state is RunState.SUCCEEDED]
    assert sorted(events(caplog, "run.succeeded")) == sorted(succeeded)


def test_the_next_claim_goes_out_while_a_batch_of_outcomes_is_written(
    h: Harness, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The first batch's write waits until a claim has gone out meanwhile: a worker
    # that wrote before it claimed would never get there (and fail the test).
    runs = h.queue(h.job(noop, name="noop"), 64)
    writing, claimed_meanwhile = threading.Event(), threading.Event()
    overlapped: list[bool] = []
    claim, finish = h.store.claim_runs, h.store.finish_runs

    def claiming(**kwargs: Any) -> list[Run]:
        if writing.is_set():
            claimed_meanwhile.set()
        return claim(**kwargs)

    def finishing(finishes: Sequence[tuple[str, str, Outcome]], *, now: datetime) -> list[bool]:
        if not writing.is_set():
            writing.set()
            overlapped.append(claimed_meanwhile.wait(DEADLINE))
        return finish(finishes, now=now)

    monkeypatch.setattr(h.store, "claim_runs", claiming)
    monkeypatch.setattr(h.store, "finish_runs", finishing)
    done = h.worker().run_pending()
    assert overlapped == [True]
    assert [r.state for r in done] == [RunState.SUCCEEDED] * 64
    assert h.states(runs) == [RunState.SUCCEEDED] * 64


def test_run_pending_reads_its_runs_back_in_one_call(h: Harness) -> None:
    job = h.job(noop, name="noop")
    runs = h.queue(job, 50)

    def boom() -> None:
        raise RuntimeError("no")

    failing = h.queue(h.job(boom, name="boom"), 1, priority=-1)
    done = h.worker().run_pending()
    assert sorted(r.id for r in done[:-1]) == sorted(r.id for r in runs)
    assert done[-1].id == failing[0].id  # the order claimed
    assert [r.state for r in done] == [RunState.SUCCEEDED] * 50 + [RunState.FAILED]
    assert done[-1].error == "RuntimeError: no"
    assert (h.store.count("get_runs"), h.store.count("get_run")) == (1, 0)


def test_run_pending_without_collect_executes_all_and_reads_nothing_back(h: Harness) -> None:
    runs = h.queue(h.job(noop, name="noop"), 20)
    assert h.worker().run_pending(collect=False) == []
    assert h.states(runs) == [RunState.SUCCEEDED] * 20
    assert (h.store.count("get_runs"), h.store.count("get_run")) == (0, 0)


# -- the same semantics ----------------------------------------------------------------------


def test_a_lost_lease_in_a_batch_discards_only_that_outcome(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    job = h.job(noop, name="noop")
    h.queue(job, 1, priority=1)  # claimed alone (nothing known of the job's speed yet)
    runs = h.queue(job, 9)
    victim = runs[4]
    h.store.stolen.add(victim.id)
    with caplog.at_level(logging.INFO, logger="rota.worker"):
        h.worker().run_pending()
    assert any(victim.id in batch and len(batch) > 1 for batch in h.store.batches)
    assert events(caplog, "run.lease_lost") == [victim.id]
    assert victim.id not in events(caplog, "run.succeeded")
    assert h.store.peek(victim.id).state is RunState.RUNNING  # unchanged: it was not ours
    others = [r for r in runs if r is not victim]
    assert h.states(others) == [RunState.SUCCEEDED] * 8


def test_a_batch_is_retried_through_an_outage_and_nothing_is_lost(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    job = h.job(noop, name="noop")
    h.queue(job, 1, priority=1)
    runs = h.queue(job, 20)
    h.store.down["finish_runs"] = 3
    with caplog.at_level(logging.DEBUG, logger="rota"):
        done = h.worker().run_pending()
    assert h.store.count("finish_runs") >= 4
    assert [r.state for r in done] == [RunState.SUCCEEDED] * 21
    assert h.states(runs) == [RunState.SUCCEEDED] * 20
    assert sorted(events(caplog, "run.succeeded")) == sorted(r.id for r in done)
    assert events(caplog, "run.lease_lost") == []
    assert len(events(caplog, "store.unavailable")) == 3
    assert len(events(caplog, "store.recovered")) == 1


def test_waiting_outcomes_keep_their_leases_renewed_while_the_store_is_down(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    job = h.job(noop, name="noop")
    h.queue(job, 1, priority=1)
    runs = h.queue(job, 5)
    h.store.down["finish_runs"] = 10**9
    worker = h.worker(lease_seconds=10.0, heartbeat_seconds=5.0)
    with caplog.at_level(logging.INFO, logger="rota.worker"):
        pending = in_background(worker.run_pending)
        wait_until(lambda: h.store.count("finish_runs") >= 3)
        for _ in range(4):  # 24 s: the leases lapse unless they are renewed
            renewed = len(h.store.renewed) + len(runs)
            h.clock.advance(6.0)
            wait_until(partial(_renewed, h.store, renewed))
        assert not pending.done()
        assert h.states(runs) == [RunState.RUNNING] * 5
        h.store.down["finish_runs"] = 0
        done = pending.result(timeout=DEADLINE)
    assert [r.state for r in done] == [RunState.SUCCEEDED] * 6
    assert events(caplog, "run.lease_lost") == []


def _renewed(store: CountingStore, count: int) -> bool:
    return len(store.renewed) >= count


def test_an_outcome_does_not_wait_behind_a_slow_job(h: Harness) -> None:
    release = threading.Event()

    def slow() -> None:
        release.wait(DEADLINE)

    quick = h.job(noop, name="noop")
    h.queue(quick, 1, priority=2)
    runs = h.queue(quick, 4, priority=1)
    h.queue(h.job(slow, name="slow"), 1)  # claimed in the same batch as the quick four
    pending = in_background(h.worker().run_pending)
    try:
        wait_until(lambda: h.states(runs) == [RunState.SUCCEEDED] * 4)
    finally:
        release.set()
    assert [r.state for r in pending.result(timeout=DEADLINE)] == [RunState.SUCCEEDED] * 6


def test_a_batch_the_store_refuses_as_a_whole_is_written_run_by_run(h: Harness) -> None:
    class Picky(CountingStore):
        def finish_runs(
            self, finishes: Sequence[tuple[str, str, Outcome]], *, now: datetime
        ) -> list[bool]:
            raise ValueError("one of these outcomes cannot be stored")

    h.store = Picky()
    job = h.job(noop, name="noop")
    h.queue(job, 10)
    done = h.worker().run_pending()
    assert [r.state for r in done] == [RunState.SUCCEEDED] * 10
    assert h.store.count("finish_run") == 10


# -- the batcher -----------------------------------------------------------------------------


def test_the_batcher_flushes_on_demand_after_its_delay_and_on_stop() -> None:
    written: list[list[int]] = []
    batcher: Batcher[int] = Batcher(written.append, max_delay=0.01, name="test-batcher")
    assert batcher.add(1) == 1
    assert batcher.add(2) == 2
    batcher.flush()
    assert written == [[1, 2]]
    assert batcher.waiting == 0
    batcher.add(3)
    wait_until(lambda: written == [[1, 2], [3]])  # the timer, nobody flushing
    batcher.add(4)
    batcher.stop()
    assert written == [[1, 2], [3], [4]]
    wait_until(lambda: not any(t.name == "test-batcher" for t in threading.enumerate()))
    batcher.add(5)  # usable again: the timer restarts
    wait_until(lambda: written[-1] == [5])
    batcher.stop()


def test_a_retry_claimed_before_its_failed_attempt_is_forgotten_still_counts(h: Harness) -> None:
    """The outcome of attempt 1 (retry now) is written, and attempt 2 claimed under the
    same run id, before the writer forgets attempt 1: forgetting it must not forget
    attempt 2, or ``run_pending`` returns while attempt 2 still runs."""
    attempts: list[int] = []

    def flaky() -> None:
        attempts.append(len(attempts) + 1)
        if len(attempts) == 2:
            threading.Event().wait(0.3)  # still running when a forgetful run_pending returns
        raise RuntimeError("no")

    (run,) = h.queue(h.job(flaky, name="flaky", retries=1, backoff=0))
    claimed_again = threading.Event()
    claim_runs, finish_run = h.store.claim_runs, h.store.finish_run

    def claiming(**kwargs: Any) -> list[Run]:
        claimed = claim_runs(**kwargs)
        if any(r.attempt >= 2 for r in claimed):
            claimed_again.set()
        return claimed

    def finishing(run_id: str, token: str, outcome: Outcome, *, now: datetime) -> bool:
        done = finish_run(run_id, token, outcome, now=now)
        if len(attempts) == 1:
            assert claimed_again.wait(DEADLINE)  # attempt 2 is claimed before this returns
        return done

    h.store.claim_runs = claiming  # type: ignore[method-assign]
    h.store.finish_run = finishing  # type: ignore[method-assign]
    (done,) = h.worker(concurrency=2).run_pending()
    assert attempts == [1, 2]
    assert (done.id, done.state, done.attempt) == (run.id, RunState.FAILED, 2)
