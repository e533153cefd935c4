"""The scheduler against real stores (memory and SQLite): ticks, overlap, per-host, the loop."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from rota.config import SchedulerConfig
from rota.errors import JobNotFound
from rota.jobs import JobRegistry, job_from_callable
from rota.runs import Run, RunState
from rota.schedule import Schedule
from rota.scheduler import Scheduler, TickReport, host_record_name, host_record_of, new_record
from rota.stores import open_store
from rota.stores.base import ScheduleRecord, Store
from rota.testing import FakeClock


def at(hour: int, minute: int = 0, second: float = 0, *, day: int = 1) -> datetime:
    whole = int(second)
    micro = round((second - whole) * 1_000_000)
    return datetime(2026, 6, day, hour, minute, whole, micro, tzinfo=UTC)


@pytest.fixture(params=["memory", "sqlite"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    return "memory://" if request.param == "memory" else f"sqlite:///{tmp_path}/rota.db"


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = open_store(store_url)
    yield opened
    opened.close()


def from_spec(record: ScheduleRecord) -> Schedule:
    return Schedule.from_spec(record.spec)


def make(
    store: Store,
    *,
    host: str = "a",
    environment: str | None = "production",
    jobs: JobRegistry | None = None,
    resolve: Callable[[ScheduleRecord], Schedule] = from_spec,
    **config: float,
) -> Scheduler:
    return Scheduler(
        store,
        resolve,
        config=SchedulerConfig(**config),  # type: ignore[arg-type]
        clock=FakeClock(at(12)),
        host=host,
        environment=environment,
        jobs=jobs,
    )


def declare(store: Store, schedule: Schedule, now: datetime) -> ScheduleRecord:
    saved = store.save_schedule(new_record(schedule, now), expected_version=None)
    assert saved is not None
    return saved


def runs(store: Store, schedule: str | None = None) -> list[Run]:
    found = store.list_runs(schedule=schedule, limit=1000)
    return sorted(found, key=lambda r: (r.slot or r.created_at, r.id))


def states(store: Store, schedule: str | None = None) -> list[tuple[str, datetime | None]]:
    return [(r.state.value, r.slot) for r in runs(store, schedule)]


class TestTick:
    def test_first_tick_fires_the_slot_of_the_minute_it_was_stored(self, store: Store) -> None:
        declare(store, Schedule("j").every_minute(), at(12, 0, 1))
        report = make(store).tick(at(12, 0, 1))
        assert (report.due, report.fired) == (1, 1)
        assert states(store) == [("queued", at(12))]

    def test_a_second_tick_at_the_same_instant_inserts_nothing(self, store: Store) -> None:
        declare(store, Schedule("j").every_minute(), at(12))
        scheduler = make(store)
        scheduler.tick(at(12, 0, 1))
        assert scheduler.tick(at(12, 0, 1)) == TickReport()
        assert len(runs(store)) == 1

    def test_progress_is_recorded(self, store: Store) -> None:
        declare(store, Schedule("j").every_five_minutes(), at(12))
        make(store).tick(at(12, 3))
        record = store.get_schedule("j")
        assert record is not None
        assert (record.last_slot, record.next_due) == (at(12), at(12, 5))

    def test_late_tick_fires_latest_and_records_missed(self, store: Store) -> None:
        declare(store, Schedule("j").every_five_minutes(), at(12))
        report = make(store).tick(at(12, 16))
        assert (report.fired, report.missed) == (1, 3)
        assert states(store) == [
            ("missed", at(12)),
            ("missed", at(12, 5)),
            ("missed", at(12, 10)),
            ("queued", at(12, 15)),
        ]
        missed = runs(store)[0]
        assert missed.finished_at == at(12, 16)
        assert missed.error is not None
        assert "missed" in missed.error

    def test_missed_records_are_bounded(self, store: Store) -> None:
        declare(store, Schedule("j").every_second(), at(12))
        report = make(store, max_missed_records=5).tick(at(13))
        assert (report.fired, report.missed) == (1, 5)

    def test_paused_schedules_are_not_due(self, store: Store) -> None:
        record = declare(store, Schedule("j").every_minute(), at(12))
        store.save_schedule(record.evolve(paused=True), expected_version=record.version)
        assert make(store).tick(at(12, 5)) == TickReport()

    def test_filtered_slot_makes_no_run_but_progress_moves(self, store: Store) -> None:
        declare(store, Schedule("j").every_minute().environments("staging"), at(12))
        report = make(store, environment="production").tick(at(12, 0, 1))
        assert (report.fired, report.filtered) == (0, 1)
        assert runs(store) == []
        record = store.get_schedule("j")
        assert record is not None
        assert record.next_due == at(12, 1)

    def test_dst_spring_forward_fires_0230_new_york_once_at_0300(self, store: Store) -> None:
        schedule = Schedule("j").daily_at("02:30").timezone("America/New_York")
        declare(store, schedule, datetime(2026, 3, 7, 12, tzinfo=UTC))
        scheduler = make(store)
        due = datetime(2026, 3, 8, 7, tzinfo=UTC)  # 03:00 EDT
        assert scheduler.tick(due - timedelta(seconds=1)) == TickReport()
        assert scheduler.tick(due).fired == 1
        assert scheduler.tick(due + timedelta(minutes=30)) == TickReport()
        assert [str(r.slot) for r in runs(store)] == ["2026-03-08 07:00:00+00:00"]

    def test_jitter_delays_availability_within_bounds(self, store: Store) -> None:
        declare(store, Schedule("j").every_minute().jitter(30), at(12))
        make(store).tick(at(12))
        (run,) = runs(store)
        assert at(12) <= run.available_at <= at(12, 0, 30)

    def test_run_carries_job_defaults_overridden_by_the_schedule(self, store: Store) -> None:
        jobs = JobRegistry()
        jobs.add(job_from_callable(lambda: None, name="j", timeout=60, queue="slow", priority=3))
        declare(store, Schedule("j", [1], {"k": "v"}).every_minute().retries(2), at(12))
        make(store, jobs=jobs).tick(at(12))
        (run,) = runs(store)
        assert (run.options.timeout, run.options.max_attempts, run.options.exclusive) == (
            60,
            3,
            True,
        )
        assert (run.queue, run.priority, run.args, dict(run.kwargs)) == (
            "slow",
            3,
            (1,),
            {"k": "v"},
        )
        assert (run.schedule, run.job, run.host, run.manual) == ("j[1,k=v]", "j", None, False)


class TestExactlyOnce:
    def test_two_schedulers_at_the_same_instant_insert_each_run_once(self, store: Store) -> None:
        declare(store, Schedule("j").every_minute(), at(12))
        first, second = make(store, host="a"), make(store, host="b")
        reports = [first.tick(at(12, 3)), second.tick(at(12, 3))]
        assert sum(r.fired for r in reports) == 1
        assert sum(r.missed for r in reports) == 3
        assert len(runs(store)) == 4

    def test_concurrent_schedulers_on_separate_connections(self, store_url: str) -> None:
        stores = [open_store(store_url) for _ in range(4)] if "sqlite" in store_url else []
        shared = open_store(store_url) if not stores else stores[0]
        stores = stores or [shared] * 4
        try:
            declare(stores[0], Schedule("j").every_second(), at(12))
            barrier = threading.Barrier(len(stores))
            reports: list[TickReport] = []

            def tick(store: Store, host: str) -> None:
                barrier.wait(timeout=10)
                reports.append(make(store, host=host).tick(at(12, 0, 30)))

            threads = [
                threading.Thread(target=tick, args=(s, f"h{i}")) for i, s in enumerate(stores)
            ]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join(timeout=20)
            assert sum(r.fired for r in reports) == 1
            assert sum(r.missed for r in reports) == 30
            assert len(runs(stores[0])) == 31
        finally:
            for s in set(stores):
                s.close()


class TestOverlap:
    def tick_twice(self, store: Store, schedule: Schedule) -> tuple[TickReport, list[Run]]:
        declare(store, schedule.every_minute(), at(12))
        scheduler = make(store)
        scheduler.tick(at(12))  # the 12:00 run stays queued: still active at 12:01
        report = scheduler.tick(at(12, 1))
        return report, runs(store)

    def test_skip_records_the_new_slot_as_skipped(self, store: Store) -> None:
        report, (old, new) = self.tick_twice(store, Schedule("j"))
        assert (report.fired, report.skipped) == (0, 1)
        assert (old.state, new.state) == (RunState.QUEUED, RunState.SKIPPED)
        assert new.error is not None
        assert old.id in new.error
        assert new.finished_at == at(12, 1)

    def test_skip_fires_once_the_previous_run_is_over(self, store: Store) -> None:
        declare(store, Schedule("j").every_minute(), at(12))
        scheduler = make(store)
        scheduler.tick(at(12))
        (old,) = runs(store)
        store.request_cancel(old.id, now=at(12, 0, 30))
        assert scheduler.tick(at(12, 1)).fired == 1

    def test_queue_inserts_an_exclusive_run(self, store: Store) -> None:
        report, (_old, new) = self.tick_twice(store, Schedule("j").overlap("queue"))
        assert report.fired == 1
        assert new.state is RunState.QUEUED
        assert new.options.exclusive

    def test_allow_inserts_a_concurrent_run(self, store: Store) -> None:
        report, (_old, new) = self.tick_twice(store, Schedule("j").overlap("allow"))
        assert report.fired == 1
        assert new.state is RunState.QUEUED
        assert not new.options.exclusive

    def test_replace_cancels_the_active_run(self, store: Store) -> None:
        report, (old, new) = self.tick_twice(store, Schedule("j").overlap("replace"))
        assert (report.fired, report.cancelled) == (1, 1)
        assert (old.state, new.state) == (RunState.CANCELLED, RunState.QUEUED)

    def test_replace_asks_a_running_run_to_stop(self, store: Store) -> None:
        declare(store, Schedule("j").every_minute().overlap("replace"), at(12))
        scheduler = make(store)
        scheduler.tick(at(12))
        (claimed,) = store.claim_runs(worker="w", now=at(12), limit=1, lease_seconds=300)
        scheduler.tick(at(12, 1))
        running = store.get_run(claimed.id)
        assert running is not None
        assert running.state is RunState.RUNNING
        assert running.cancel_requested


class TestOnEachServer:
    def test_each_host_fires_its_own_run_on_its_own_queue(self, store: Store) -> None:
        base = declare(store, Schedule("backup").hourly().on_each_server(), at(12, 30))
        assert base.next_due is None  # dormant: the hosts keep their own progress
        a, b = make(store, host="a"), make(store, host="b")
        a.discover(at(12, 30))
        b.discover(at(12, 30))
        reports = [a.tick(at(13)), b.tick(at(13))]
        assert [r.fired for r in reports] == [1, 1]
        fired = runs(store, "backup")
        assert sorted((r.host, r.queue) for r in fired) == [("a", "default@a"), ("b", "default@b")]
        assert len({r.id for r in fired}) == 2

    def test_a_host_never_plans_another_hosts_progress(self, store: Store) -> None:
        declare(store, Schedule("backup").hourly().on_each_server(), at(12, 30))
        a, b = make(store, host="a"), make(store, host="b")
        a.discover(at(12, 30))
        b.discover(at(12, 30))
        report = a.tick(at(13))
        assert (report.fired, report.left) == (1, 1)
        assert [r.host for r in runs(store)] == ["a"]
        # b's record is still due, yet a does not spin on it: it sleeps to its own next slot
        assert a.next_wake(at(13), horizon=at(15)) == at(14)
        assert b.tick(at(13, 0, 5)).fired == 1

    def test_a_due_base_schedule_creates_the_hosts_progress(self, store: Store) -> None:
        schedule = Schedule("backup").hourly().on_each_server()
        record = new_record(schedule, at(12, 30)).evolve(next_due=at(13))
        store.save_schedule(record, expected_version=None)
        a = make(store, host="a")
        a.tick(at(13))
        own = store.get_schedule(host_record_name("backup", "a"))
        assert own is not None
        assert host_record_of(own) == ("backup", "a")
        base = store.get_schedule("backup")
        assert base is not None
        assert base.next_due is None
        assert a.tick(at(13, 0, 1)).fired == 1

    def test_a_hosts_active_run_skips_its_next_slot(self, store: Store) -> None:
        """Overlap ``skip`` weighs the base schedule's runs on this host, though the
        due record is the host's progress, whose own name has no runs."""
        declare(store, Schedule("backup").hourly().on_each_server(), at(12, 30))
        a = make(store, host="a")
        a.discover(at(12, 30))
        assert a.tick(at(13)).fired == 1
        report = a.tick(at(14))
        assert (report.fired, report.skipped) == (0, 1)
        assert states(store, "backup") == [("queued", at(13)), ("skipped", at(14))]

    def test_retiring_the_schedule_retires_the_hosts_progress(self, store: Store) -> None:
        base = declare(store, Schedule("backup").hourly().on_each_server(), at(12, 30))
        a = make(store, host="a")
        a.discover(at(12, 30))
        store.save_schedule(base.evolve(retired=True), expected_version=base.version)
        assert a.tick(at(13)).fired == 0
        own = store.get_schedule(host_record_name("backup", "a"))
        assert own is not None
        assert own.retired


class TestLoading:
    def test_unloadable_schedule_is_left_logged_once_and_not_spun_on(
        self, store: Store, caplog: pytest.LogCaptureFixture
    ) -> None:
        declare(store, Schedule("broken").every_minute(), at(12))
        declare(store, Schedule("fine").every_five_minutes(), at(12, 1))

        def resolve(record: ScheduleRecord) -> Schedule:
            if record.name == "broken":
                raise JobNotFound("unknown job 'broken'")
            return from_spec(record)

        scheduler = make(store, resolve=resolve)
        with caplog.at_level(logging.ERROR, logger="rota.scheduler"):
            first = scheduler.tick(at(12, 1))
            second = scheduler.tick(at(12, 2))
        assert (first.left, second.left) == (1, 1)
        assert len([r for r in caplog.records if "broken" in r.getMessage()]) == 1
        assert scheduler.next_wake(at(12, 2), horizon=at(13)) == at(12, 5)

    def test_a_failing_when_callback_does_not_stop_the_other_schedules(
        self, store: Store, caplog: pytest.LogCaptureFixture
    ) -> None:
        def explode() -> bool:
            raise RuntimeError("callback bug")

        declare(store, Schedule("bad").every_minute(), at(12))
        declare(store, Schedule("good").every_minute(), at(12))
        schedules = {"bad": Schedule("bad").every_minute().when(explode)}
        scheduler = make(store, resolve=lambda r: schedules.get(r.name) or from_spec(r))
        with caplog.at_level(logging.ERROR, logger="rota.scheduler"):
            report = scheduler.tick(at(12))
        assert (report.fired, report.left) == (1, 1)
        assert [r.schedule for r in runs(store)] == ["good"]
        assert "callback bug" in caplog.text


class TestLoop:
    def test_waits_exactly_until_the_next_slot(self, store: Store) -> None:
        declare(store, Schedule("j").every_five_seconds(), at(12))
        scheduler = make(store, max_wait=10)
        clock = scheduler.clock
        assert isinstance(clock, FakeClock)
        clock.set(at(12, 0, 1.25))
        report = scheduler.tick()
        assert scheduler.seconds_to_wait(report) == pytest.approx(3.75)

    def test_wait_is_capped_so_changes_are_seen(self, store: Store) -> None:
        declare(store, Schedule("j").hourly(), at(12, 1))
        scheduler = make(store, max_wait=1)
        assert scheduler.seconds_to_wait(scheduler.tick(at(12, 1))) == 1.0

    def test_a_full_batch_ticks_again_at_once(self, store: Store) -> None:
        for name in "abc":
            declare(store, Schedule(name).every_minute(), at(12))
        scheduler = make(store, batch_size=2)
        report = scheduler.tick(at(12))
        assert report.full
        assert scheduler.seconds_to_wait(report) == 0.0

    def test_run_forever_fires_as_the_clock_moves_and_stops(self, store: Store) -> None:
        declare(store, Schedule("j").every_minute(), at(12))
        scheduler = make(store, max_wait=0.01)
        clock = scheduler.clock
        assert isinstance(clock, FakeClock)
        stop = threading.Event()
        thread = threading.Thread(target=scheduler.run_forever, args=(stop,))
        thread.start()
        try:
            wait_for(lambda: len(runs(store)) == 1)
            clock.advance(60)
            wait_for(lambda: len(runs(store)) == 2)
        finally:
            stop.set()
            thread.join(timeout=5)
        assert not thread.is_alive()
        assert [r.slot for r in runs(store)] == [at(12), at(12, 1)]


def wait_for(condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.005)


def test_pausing_a_per_host_schedule_makes_progress_dormant_until_resumed(store: Store) -> None:
    base = declare(store, Schedule("backup").every_minute().on_each_server(), at(12))
    a = make(store, host="a")
    a.discover(at(12))
    store.save_schedule(base.evolve(paused=True), expected_version=base.version)
    assert a.tick(at(12, 0, 1)).fired == 0
    own = store.get_schedule(host_record_name("backup", "a"))
    assert own is not None
    assert own.next_due is None
    assert a.next_wake(at(12, 0, 1)) is None  # nothing due: the loop does not spin
    paused = store.get_schedule("backup")
    assert paused is not None
    store.save_schedule(paused.evolve(paused=False), expected_version=paused.version)
    a.discover(at(12, 5, 30))
    report = a.tick(at(12, 5, 30))
    assert (report.fired, report.missed) == (1, 5)  # caught up per policy: latest fires
