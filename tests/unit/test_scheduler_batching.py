"""A tick costs a handful of store round trips however many schedules are due.

The scale target (1,000 due slots among 1,000,000 schedules in 100 ms) is
only reachable if the scheduler asks the store once per batch, not once per
schedule; these tests count the calls so a regression shows up here, not
only in benchmarks/scale.py.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from rota.config import SchedulerConfig
from rota.jobs import JobRegistry, job_from_callable
from rota.runs import Run, RunState
from rota.schedule import Schedule
from rota.scheduler import Scheduler, new_record
from rota.stores.base import Advance, DueSchedules, FireBatch, ScheduleRecord
from rota.stores.memory import MemoryStore
from rota.testing import FakeClock

NOON = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


class CountingStore(MemoryStore):
    """A memory store that counts the contract calls made on it."""

    def __init__(self) -> None:
        super().__init__()
        self.calls: Counter[str] = Counter()
        self.asked: list[list[str]] = []

    def active_runs(self, schedule: str) -> list[Run]:
        self.calls["active_runs"] += 1
        return super().active_runs(schedule)

    def active_runs_for(self, schedules: Sequence[str]) -> dict[str, list[Run]]:
        self.calls["active_runs_for"] += 1
        self.asked.append(list(schedules))
        return {name: super(CountingStore, self).active_runs(name) for name in schedules}

    def insert_run(self, run: Run) -> bool:
        self.calls["insert_run"] += 1
        return super().insert_run(run)

    def insert_runs(self, runs: Sequence[Run]) -> list[bool]:
        self.calls["insert_runs"] += 1
        return [super(CountingStore, self).insert_run(run) for run in runs]

    def advance_schedule(self, name: str, **kwargs: Any) -> bool:
        self.calls["advance_schedule"] += 1
        return super().advance_schedule(name, **kwargs)

    def advance_schedules(self, advances: Sequence[Advance]) -> list[bool]:
        self.calls["advance_schedules"] += 1
        return [
            super(CountingStore, self).advance_schedule(
                a.name,
                expected_version=a.expected_version,
                last_slot=a.last_slot,
                next_due=a.next_due,
            )
            for a in advances
        ]


def declare_many(store: CountingStore, count: int, *, overlap: str = "skip") -> None:
    for i in range(count):
        schedule = Schedule("reminders.send", kwargs={"user_id": i}).every_minute()
        schedule.overlap(overlap)  # type: ignore[arg-type]
        saved = store.save_schedule(new_record(schedule, NOON), expected_version=None)
        assert saved is not None


def scheduler(store: CountingStore) -> Scheduler:
    def resolve(record: ScheduleRecord) -> Schedule:
        return Schedule.from_spec(record.spec)

    return Scheduler(
        store, resolve, config=SchedulerConfig(), clock=FakeClock(NOON), host="a", environment=None
    )


def test_a_tick_of_many_due_schedules_batches_its_writes() -> None:
    store = CountingStore()
    declare_many(store, 50)
    report = scheduler(store).tick(NOON + timedelta(seconds=1))
    assert report.fired == 50
    assert store.calls["insert_runs"] == 1
    assert store.calls["advance_schedules"] == 1
    assert store.calls["active_runs_for"] == 0  # due_for_tick: none has an active run
    assert store.calls["insert_run"] == store.calls["advance_schedule"] == 0
    assert store.calls["active_runs"] == 0


def test_a_tick_asks_for_the_active_runs_of_the_busy_schedules_alone() -> None:
    store = CountingStore()
    declare_many(store, 6, overlap="allow")
    ticker = scheduler(store)
    ticker.tick(NOON + timedelta(seconds=1))  # 6 runs queued
    still_queued: list[str] = []
    for run in store.list_runs(states=[RunState.QUEUED], limit=10):
        assert run.schedule is not None
        if run.kwargs["user_id"] % 2:
            store.request_cancel(run.id, now=NOON)
        else:
            still_queued.append(run.schedule)
    assert len(still_queued) == 3
    report = ticker.tick(NOON + timedelta(minutes=1, seconds=1))
    assert report.fired == 6
    assert [sorted(names) for names in store.asked] == [sorted(still_queued)]


class BlindStore(CountingStore):
    """A backend that does not say which due schedules are busy."""

    def due_for_tick(self, now: datetime, limit: int) -> DueSchedules:
        return DueSchedules(self.due_schedules(now, limit), None)


def test_a_tick_asks_about_every_due_schedule_when_the_store_does_not_tell() -> None:
    store = BlindStore()
    declare_many(store, 10)
    ticker = scheduler(store)
    ticker.tick(NOON + timedelta(seconds=1))
    report = ticker.tick(NOON + timedelta(minutes=1, seconds=1))
    assert report.skipped == 10
    assert [len(names) for names in store.asked] == [10, 10]


def test_batched_overlap_still_skips_each_schedule_with_an_active_run() -> None:
    store = CountingStore()
    declare_many(store, 10)
    ticker = scheduler(store)
    ticker.tick(NOON + timedelta(seconds=1))  # 10 runs queued, none executed
    report = ticker.tick(NOON + timedelta(minutes=1, seconds=1))
    assert report.skipped == 10
    assert report.fired == 0
    skipped = store.list_runs(states=[RunState.SKIPPED], limit=100)
    assert len({run.schedule for run in skipped}) == 10


def _send(user_id: int) -> None:
    """The job of ``declare_many``'s schedules."""


def test_runs_of_equal_policies_share_one_options_object_with_the_jobs_defaults() -> None:
    store = CountingStore()
    declare_many(store, 3)
    own = Schedule("reminders.send", kwargs={"user_id": 99}).every_minute().timeout(5)
    assert store.save_schedule(new_record(own, NOON), expected_version=None) is not None
    jobs = JobRegistry()
    jobs.add(job_from_callable(_send, name="reminders.send", timeout=30, retries=2))
    ticker = Scheduler(store, _from_spec, clock=FakeClock(NOON), host="a", jobs=jobs)
    runs = ticker.tick(NOON + timedelta(seconds=1)).runs
    by_user = {run.kwargs["user_id"]: run.options for run in runs}
    assert sorted(by_user) == [0, 1, 2, 99]
    assert [by_user[i].timeout for i in (0, 1, 2, 99)] == [30.0, 30.0, 30.0, 5.0]
    assert {by_user[i].max_attempts for i in (0, 1, 2, 99)} == {3}
    assert len({id(by_user[i]) for i in (0, 1, 2)}) == 1  # one RunOptions, encoded once
    later = ticker.tick(NOON + timedelta(minutes=1, seconds=1)).runs  # skipped: still queued
    assert {id(run.options) for run in later if run.kwargs["user_id"] != 99} == {id(by_user[0])}


def _from_spec(record: ScheduleRecord) -> Schedule:
    return Schedule.from_spec(record.spec)


class BatchRecordingStore(CountingStore):
    """Also records the size of each batch a tick hands to ``fire_batches``."""

    def __init__(self) -> None:
        super().__init__()
        self.batch_sizes: list[int] = []

    def fire_batches(self, batches: Iterable[FireBatch]) -> list[tuple[list[bool], list[bool]]]:
        def recorded() -> Iterator[FireBatch]:
            for runs, advances in batches:
                self.batch_sizes.append(len(advances))
                yield runs, advances

        return super().fire_batches(recorded())


def test_a_busy_tick_plans_in_chunks_small_at_both_ends() -> None:
    """A small first chunk: a server starts writing sooner; a small last one: less
    of its writing is left once planning ends."""
    store = BatchRecordingStore()
    declare_many(store, 401)
    report = scheduler(store).tick(NOON + timedelta(seconds=1))
    assert report.fired == 401
    assert store.batch_sizes == [100, 201, 100]
    assert store.calls["insert_runs"] == store.calls["advance_schedules"] == 1
    assert len(store.list_runs(limit=1000)) == 401
