"""``Rota``: declaring jobs and schedules, syncing them, and running them end to end."""

from __future__ import annotations

import inspect
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from rota.app import Rota
from rota.clock import SystemClock
from rota.config import RotaConfig, SchedulerConfig
from rota.context import RunContext
from rota.errors import (
    ConfigurationError,
    InvalidArguments,
    InvalidSchedule,
    JobNotFound,
    StoreUnavailable,
)
from rota.runs import RunState
from rota.schedule import Schedule
from rota.scheduler import host_record_name
from rota.stores.memory import MemoryStore
from rota.testing import FakeClock, make_test_rota, run_due, runs_of
from rota.worker import WorkerConfig


def at(hour: int, minute: int = 0, second: int = 0, *, day: int = 1) -> datetime:
    return datetime(2026, 6, day, hour, minute, second, tzinfo=UTC)


def send_digest(ctx: RunContext, region: str, *, limit: int = 10) -> str:
    """Module level so its job name is stable."""
    return f"{region}:{limit}"


@pytest.fixture
def rota() -> Rota:
    return make_test_rota(at(12, 0, 1))


def clock_of(app: Rota) -> FakeClock:
    assert isinstance(app.clock, FakeClock)
    return app.clock


class TestDeclaring:
    def test_job_decorator_keeps_the_function_and_its_signature(self, rota: Rota) -> None:
        job = rota.job(timeout=60, retries=3)(send_digest)
        assert job is send_digest
        assert inspect.signature(job) == inspect.signature(send_digest)
        registered = rota.jobs.get(f"{__name__}.send_digest")
        assert (registered.defaults.timeout, registered.defaults.retries) == (60, 3)

    def test_bare_decorator_and_a_custom_name(self, rota: Rota) -> None:
        @rota.job
        def plain() -> int:
            return 1

        @rota.job(name="custom")
        def other() -> int:
            return 2

        assert plain() == 1
        assert other() == 2
        assert "custom" in rota.jobs
        assert rota.schedule(other).every_minute().job == "custom"

    def test_schedule_checks_arguments_at_once(self, rota: Rota) -> None:
        rota.job(send_digest)
        with pytest.raises(InvalidArguments, match="region"):
            rota.schedule(send_digest)
        with pytest.raises(InvalidArguments, match="JSON"):
            rota.schedule(send_digest, region=object())
        with pytest.raises(InvalidArguments):
            rota.schedule(send_digest, "eu", nope=1)
        assert rota.schedules == ()
        assert rota._store is not None
        assert rota.store.list_schedules() == []

    def test_unknown_job_name_suggests_the_close_one(self, rota: Rota) -> None:
        rota.job(name="send_digest")(send_digest)
        with pytest.raises(JobNotFound, match="did you mean 'send_digest'"):
            rota.schedule("send_digst", region="eu")

    def test_schedule_returns_the_builder(self, rota: Rota) -> None:
        rota.job(send_digest)
        schedule = rota.schedule(send_digest, region="eu").daily_at("07:30").timezone("UTC")
        assert isinstance(schedule, Schedule)
        assert rota.schedules == (schedule,)
        assert schedule.kwargs == {"region": "eu"}
        assert schedule.name == f"{__name__}.send_digest[region=eu]"

    def test_an_unregistered_function_is_registered_on_schedule(self, rota: Rota) -> None:
        def tidy() -> None:
            pass

        rota.schedule(tidy).hourly()
        assert any(job.func is tidy for job in rota.jobs)

    def test_cron_decorator_registers_job_and_schedule(self, rota: Rota) -> None:
        @rota.cron("*/5 * * * *", tz="Europe/Berlin", timeout=30)
        async def poll(ctx: RunContext) -> None:
            pass

        (schedule,) = rota.schedules
        assert schedule.expression == "*/5 * * * *"
        assert schedule.tz.key == "Europe/Berlin"
        assert rota.jobs.get(schedule.job).defaults.timeout == 30
        assert inspect.iscoroutinefunction(poll)

    def test_shell_schedule(self, rota: Rota) -> None:
        schedule = rota.shell("echo hi").daily().on_each_server()
        assert schedule.job == "shell:echo hi"
        assert rota.jobs.get("shell:echo hi").command == "echo hi"

    def test_creating_a_rota_touches_nothing(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.chdir(tmp_path)
        Rota()
        Rota("sqlite:///other.db")
        assert list(tmp_path.iterdir()) == []

    def test_store_and_environment_from_the_environment(
        self, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setenv("ROTA_STORE", "memory://")
        monkeypatch.setenv("ROTA_ENV", "staging")
        app = Rota(host="h1")
        assert isinstance(app.store, MemoryStore)
        assert (app.environment, app.host) == ("staging", "h1")

    def test_bad_store_path_fails_at_first_use(self, tmp_path: Path) -> None:
        app = Rota(f"sqlite:///{tmp_path}/missing/dir/rota.db")
        with pytest.raises(StoreUnavailable, match="missing"):
            app.run_due()

    def test_not_a_store(self) -> None:
        with pytest.raises(ConfigurationError, match="URL or a Store"):
            Rota(store=42)  # type: ignore[arg-type]


class TestSync:
    def test_new_schedules_count_from_the_start_of_the_minute(self, rota: Rota) -> None:
        rota.schedule(send_digest, region="eu").hourly()
        report = rota.sync_schedules()
        (name,) = report.created
        record = rota.store.get_schedule(name)
        assert record is not None
        assert (record.created_at, record.next_due, record.source) == (at(12), at(12), "code")

    def test_unchanged_then_changed_keeps_history(self, rota: Rota) -> None:
        schedule = rota.schedule(send_digest, region="eu").every_minute()
        rota.sync_schedules()
        run_due(rota, at(12, 5, 1))
        first = rota.store.get_schedule(schedule.name)
        assert first is not None
        rota.store.save_schedule(first.evolve(paused=True), expected_version=first.version)
        assert rota.sync_schedules(at(12, 6)).unchanged == (schedule.name,)
        schedule.timeout(5)
        assert rota.sync_schedules(at(12, 6)).updated == (schedule.name,)
        changed = rota.store.get_schedule(schedule.name)
        assert changed is not None
        assert changed.spec["policies"]["timeout"] == 5
        assert (changed.created_at, changed.last_slot, changed.paused) == (at(12), at(12, 5), True)
        assert changed.next_due == at(12, 6)

    def test_a_changed_trigger_counts_from_the_current_minute(self, rota: Rota) -> None:
        schedule = rota.schedule(send_digest, region="eu").daily_at("07:30").named("digest")
        rota.sync_schedules(at(7, 31))
        schedule.daily_at("07:00")
        rota.sync_schedules(at(7, 45))
        record = rota.store.get_schedule("digest")
        assert record is not None
        assert record.next_due == at(7, day=2)

    def test_undeclared_schedules_retire_and_come_back(self, rota: Rota) -> None:
        rota.schedule(send_digest, region="eu").hourly().named("digest")
        rota.sync_schedules(at(12))
        next_deploy = Rota(rota.store, clock=rota.clock)  # the same app without the schedule
        assert next_deploy.sync_schedules(at(12, 30)).retired == ("digest",)
        retired = rota.store.get_schedule("digest")
        assert retired is not None
        assert retired.retired
        assert run_due(next_deploy, at(13, 0, 1)).runs == ()
        assert rota.sync_schedules(at(15, 30)).updated == ("digest",)
        back = rota.store.get_schedule("digest")
        assert back is not None
        assert not back.retired
        assert back.next_due == at(16)  # slots while retired never existed

    def test_duplicate_names_are_refused(self, rota: Rota) -> None:
        rota.schedule(send_digest, region="eu").hourly()
        rota.schedule(send_digest, region="eu").daily()
        with pytest.raises(ConfigurationError, match="two schedules are named"):
            rota.sync_schedules()

    def test_a_dynamic_schedule_of_the_same_name_is_not_overwritten(self, rota: Rota) -> None:
        schedule = rota.schedule(send_digest, region="eu").hourly().named("digest")
        rota.sync_schedules()
        record = rota.store.get_schedule("digest")
        assert record is not None
        rota.store.save_schedule(record.evolve(source="dynamic"), expected_version=1)
        schedule.daily()
        with pytest.raises(ConfigurationError, match="dynamic"):
            rota.sync_schedules()

    def test_dynamic_schedules_are_left_alone(self, rota: Rota) -> None:
        rota.job(name="digest")(send_digest)
        from rota.scheduler import new_record

        dynamic = Schedule("digest", kwargs={"region": "us"}).hourly().named("dyn")
        rota.store.save_schedule(
            new_record(dynamic, at(12, 30), source="dynamic"), expected_version=None
        )
        assert rota.sync_schedules().retired == ()
        assert run_due(rota, at(13, 0, 1)).counts() == {"succeeded": 1}


class TestRunDue:
    @pytest.fixture(params=["memory", "sqlite"])
    def app(self, request: pytest.FixtureRequest, tmp_path: Path) -> Rota:
        store = "memory://" if request.param == "memory" else f"sqlite:///{tmp_path}/rota.db"
        return Rota(store, clock=FakeClock(at(12, 0, 1)), host="h1")

    def test_end_to_end(self, app: Rota) -> None:
        seen: list[tuple[str, str]] = []

        @app.job(timeout=60)
        def digest(ctx: RunContext, region: str) -> int:
            seen.append((ctx.run_id, region))
            return len(seen)

        schedule = app.schedule(digest, region="eu").every_five_minutes()
        report = app.run_due()
        assert report.counts() == {"succeeded": 1}
        (run,) = report.runs
        assert (run.slot, run.result, run.schedule) == (at(12), 1, schedule.name)
        assert seen == [(run.id, "eu")]
        assert app.run_due().runs == ()  # same minute again: nothing new
        late = run_due(app, at(12, 21))
        assert late.counts() == {"succeeded": 1, "missed": 3}
        assert [r.state for r in runs_of(app, schedule)] == [
            RunState.SUCCEEDED,
            RunState.MISSED,
            RunState.MISSED,
            RunState.MISSED,
            RunState.SUCCEEDED,
        ]
        app.close()

    def test_failures_are_reported(self, app: Rota) -> None:
        @app.job
        def broken() -> None:
            raise RuntimeError("boom")

        app.schedule(broken).every_minute()
        report = app.run_due()
        (failed,) = report.failed
        assert failed.error is not None
        assert "boom" in failed.error
        app.close()

    def test_environment_filters(self, rota: Rota) -> None:
        @rota.job
        def staging_only() -> None:
            pass

        rota.schedule(staging_only).every_minute().environments("staging")
        report = rota.run_due()
        assert (report.runs, report.tick.filtered) == ((), 1)

    def test_on_each_server_runs_on_this_host(self) -> None:
        store = MemoryStore()
        apps = [Rota(store, clock=FakeClock(at(12, 0, 1)), host=h) for h in ("a", "b")]
        ran: list[str] = []
        for app in apps:
            app.job(name="backup")(lambda ctx: ran.append(ctx.run_id))
            app.schedule("backup").every_minute().on_each_server().named("backup")
            assert app.worker().config.queues is None
        reports = [app.run_due() for app in apps]
        assert [r.counts() for r in reports] == [{"succeeded": 1}, {"succeeded": 1}]
        assert sorted(r.host or "" for r in runs_of(apps[0], "backup")) == ["a", "b"]
        assert store.get_schedule(host_record_name("backup", "a")) is not None
        assert len(set(ran)) == 2


class NearMinuteEnd(SystemClock):
    """The real clock, shifted so that it reads hh:mm:58.6 now."""

    def __init__(self) -> None:
        real = datetime.now(UTC)
        target = real.replace(second=58, microsecond=600_000)
        self.offset = target - real

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset


def test_sub_minute_schedules_keep_run_due_passing_until_the_minute_ends() -> None:
    clock = NearMinuteEnd()
    app = Rota(MemoryStore(), clock=clock)
    app.job(name="beat")(lambda: None)
    app.schedule("beat").every_second()
    began = clock.now()
    report = app.run_due()
    slots = sorted(run.slot.second for run in report.runs if run.slot is not None)
    assert slots == [58, 59]  # the 59 s slot fired by a second pass, on time
    assert clock.now() - began < timedelta(seconds=3)
    (late,) = [run for run in report.runs if run.slot is not None and run.slot.second == 59]
    assert late.started_at is not None
    assert late.started_at - late.available_at < timedelta(milliseconds=500)


class TestTrigger:
    def test_runs_a_function_now_and_returns_the_final_run(self, rota: Rota) -> None:
        rota.job(send_digest)
        run = rota.trigger(send_digest, "eu", limit=2)
        assert (run.state, run.result, run.manual, run.schedule) == (
            RunState.SUCCEEDED,
            "eu:2",
            True,
            None,
        )

    def test_by_schedule_name_uses_its_arguments(self, rota: Rota) -> None:
        rota.job(send_digest)
        rota.schedule(send_digest, region="us").daily().named("digest-us")
        run = rota.trigger("digest-us")
        assert (run.state, run.result, run.schedule) == (RunState.SUCCEEDED, "us:10", "digest-us")

    def test_a_failure_is_one_attempt(self, rota: Rota) -> None:
        @rota.job(retries=5)
        def broken() -> None:
            raise ValueError("nope")

        run = rota.trigger(broken)
        assert (run.state, run.attempt) == (RunState.FAILED, 1)

    def test_unknown_names_suggest(self, rota: Rota) -> None:
        rota.job(send_digest)
        rota.schedule(send_digest, region="us").daily().named("digest-us")
        with pytest.raises(JobNotFound, match="did you mean 'digest-us'"):
            rota.trigger("digest-su")

    def test_arguments_are_checked(self, rota: Rota) -> None:
        rota.job(send_digest)
        with pytest.raises(InvalidArguments):
            rota.trigger(send_digest)


class TestBackground:
    def test_start_fires_and_stop_returns(self) -> None:
        config = RotaConfig(
            scheduler=SchedulerConfig(max_wait=0.01),
            worker=WorkerConfig(idle_poll_seconds=0.01, heartbeat_seconds=1),
        )
        app = Rota(MemoryStore(), clock=FakeClock(at(12, 0, 1)), config=config)
        done = threading.Event()
        app.job(name="tick")(lambda: done.set())
        app.schedule("tick").every_minute()
        app.start()
        app.start()  # a second start is a no-op
        try:
            assert app.running
            assert done.wait(10)
            wait_for(lambda: runs_of(app, "tick")[0].state is RunState.SUCCEEDED)
        finally:
            app.stop(timeout=5)
        assert [app.running] == [False]
        app.stop()  # twice is fine

    def test_work_returns_after_stop(self) -> None:
        app = make_test_rota(at(12))
        thread = threading.Thread(target=app.work)
        thread.start()
        wait_for(lambda: app.running)
        app.stop(timeout=5)
        thread.join(timeout=10)
        assert not thread.is_alive()


class TestResolve:
    def test_a_stored_schedule_with_callable_filters_needs_its_code(self, rota: Rota) -> None:
        rota.job(name="j")(lambda: None)
        schedule = rota.schedule("j").every_minute().when(lambda: True).named("guarded")
        rota.sync_schedules()
        record = rota.store.get_schedule("guarded")
        assert record is not None
        assert rota.resolve(record) is schedule
        elsewhere = Rota(rota.store)  # a process that does not declare it
        elsewhere.job(name="j")(lambda: None)
        with pytest.raises(InvalidSchedule, match="when"):
            elsewhere.resolve(record)


def wait_for(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.005)
