"""Schedules created at run time: add, edit, pause, resume, remove, and the errors."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rota.app import Rota
from rota.context import RunContext
from rota.errors import (
    InvalidArguments,
    InvalidCron,
    InvalidSchedule,
    JobNotFound,
    ScheduleExists,
    ScheduleNotFound,
)
from rota.runs import RunState
from rota.testing import make_test_rota, run_due, runs_of


def at(hour: int, minute: int = 0, second: int = 0) -> datetime:
    return datetime(2026, 6, 1, hour, minute, second, tzinfo=UTC)


def remind(ctx: RunContext, user_id: int, text: str = "hi") -> str:
    return f"{user_id}:{text}"


def backup(ctx: RunContext) -> None:
    return None


@pytest.fixture
def app() -> Rota:
    rota = make_test_rota(at(12))
    rota.job(remind)
    rota.job(backup)
    return rota


def test_added_schedule_fires_and_keeps_its_arguments(app: Rota) -> None:
    s = app.new_schedule("test_dynamic_schedules.remind", 42, text="yo").named("r42")
    record = app.add_schedule(s.every_five_minutes())
    assert (record.name, record.source, record.version) == ("r42", "dynamic", 1)
    run_due(app, at(12))
    run_due(app, at(12, 5))
    runs = runs_of(app, "r42")
    assert [(r.slot, r.state, r.result) for r in runs] == [
        (at(12), RunState.SUCCEEDED, "42:yo"),
        (at(12, 5), RunState.SUCCEEDED, "42:yo"),
    ]


def test_added_sub_minute_schedule_has_no_missed_slots_from_before_it_existed(app: Rota) -> None:
    app.clock.set(at(12, 0, 30))  # type: ignore[attr-defined]
    app.add_schedule(app.new_schedule(remind, 1).named("fast").every_second())
    report = run_due(app, at(12, 0, 30))
    states = [r.state for r in runs_of(app, "fast")]
    assert states == [RunState.SUCCEEDED], states
    assert report.recorded == ()


def test_unknown_job_is_refused_with_a_suggestion_and_nothing_stored(app: Rota) -> None:
    with pytest.raises(JobNotFound, match="remind"):
        app.new_schedule("test_dynamic_schedules.remnd", 1)
    from rota.schedule import Schedule

    with pytest.raises(JobNotFound, match="did you mean"):
        app.add_schedule(Schedule("test_dynamic_schedules.remnd", (1,)).named("x").hourly())
    assert app.store.get_schedule("x") is None


def test_arguments_that_do_not_fit_are_refused(app: Rota) -> None:
    from rota.schedule import Schedule

    bad = Schedule("test_dynamic_schedules.remind", (), {"nope": 1}).named("bad").hourly()
    with pytest.raises(InvalidArguments, match="user_id"):
        app.add_schedule(bad)
    assert app.store.get_schedule("bad") is None


def test_invalid_trigger_is_refused(app: Rota) -> None:
    from rota.schedule import Schedule

    with pytest.raises(InvalidCron):
        Schedule("test_dynamic_schedules.backup").cron("61 * * * *")
    spec = {"job": "test_dynamic_schedules.backup", "trigger": {"type": "cron", "expr": "x"}}
    with pytest.raises((InvalidCron, InvalidSchedule)):
        Schedule.from_spec(spec)


def test_callable_conditions_cannot_be_stored(app: Rota) -> None:
    s = app.new_schedule(backup).named("b").hourly().when(lambda: True)
    with pytest.raises(InvalidSchedule, match="when"):
        app.add_schedule(s)
    assert app.store.get_schedule("b") is None


def test_callable_hooks_cannot_be_stored(app: Rota) -> None:
    s = app.new_schedule(backup).named("b").hourly().on_failure(print)
    with pytest.raises(InvalidSchedule, match=r"on_failure\(\) hooks are code.*then_ping"):
        app.add_schedule(s)
    assert app.store.get_schedule("b") is None
    app.add_schedule(app.new_schedule(backup).named("b").hourly().then_ping("http://x/p"))
    assert app.get_schedule("b").spec["policies"]["pings"]["after"] == ["http://x/p"]


def test_a_taken_name_is_refused(app: Rota) -> None:
    app.schedule(backup).named("nightly").daily()
    app.sync_schedules()
    with pytest.raises(ScheduleExists, match="declared in code"):
        app.add_schedule(app.new_schedule(backup).named("nightly").hourly())
    app.add_schedule(app.new_schedule(backup).named("b1").hourly())
    with pytest.raises(ScheduleExists, match="'b1' already exists"):
        app.add_schedule(app.new_schedule(backup).named("b1").daily())
    assert app.get_schedule("b1").spec["trigger"] == {
        "type": "cron",
        "expr": "0 * * * *",
        "tz": "UTC",
        "seed": "b1",
    }


def test_add_many_checks_all_before_storing_any(app: Rota) -> None:
    good = [app.new_schedule(remind, i).named(f"u{i}").daily() for i in range(3)]
    from rota.schedule import Schedule

    bad = Schedule("test_dynamic_schedules.remind", ("not", "json", "fit", 4)).named("zz")
    with pytest.raises(InvalidArguments):
        app.add_schedules([*good, bad])
    assert app.list_schedules() == []
    added = app.add_schedules(good)
    assert [r.name for r in added] == ["u0", "u1", "u2"]
    again = app.add_schedules([*good, app.new_schedule(remind, 9).named("u9")], if_exists="skip")
    assert [r.name for r in again] == ["u9"]


def test_list_pages_by_name(app: Rota) -> None:
    app.add_schedules(app.new_schedule(remind, i).named(f"u{i:03d}").daily() for i in range(25))
    first = app.list_schedules(limit=10)
    second = app.list_schedules(after=first[-1].name, limit=10)
    third = app.list_schedules(after=second[-1].name, limit=10)
    names = [r.name for r in [*first, *second, *third]]
    assert names == [f"u{i:03d}" for i in range(25)]


def test_edit_changes_the_definition_and_keeps_history(app: Rota) -> None:
    app.add_schedule(app.new_schedule(remind, 1).named("r").every_five_minutes())
    run_due(app, at(12))
    edited = app.edit_schedule("r", app.new_schedule(remind, 2).hourly())
    assert edited.spec["args"] == [2]
    assert edited.version > 1
    run_due(app, at(12, 5))
    assert [r.slot for r in runs_of(app, "r")] == [at(12)]  # no five-minute slot any more
    run_due(app, at(13))
    assert [(r.slot, r.result) for r in runs_of(app, "r")] == [(at(12), "1:hi"), (at(13), "2:hi")]


def test_edit_of_a_missing_or_code_schedule_is_refused(app: Rota) -> None:
    with pytest.raises(ScheduleNotFound, match="no schedule named 'ghost'"):
        app.edit_schedule("ghost", app.new_schedule(backup).hourly())
    app.schedule(backup).named("code-one").daily()
    app.sync_schedules()
    with pytest.raises(InvalidSchedule, match="declared in code"):
        app.edit_schedule("code-one", app.new_schedule(backup).hourly())
    with pytest.raises(InvalidSchedule, match="declared in code"):
        app.remove_schedule("code-one")


def test_pause_stops_firing_and_resume_from_last_catches_up(app: Rota) -> None:
    app.add_schedule(app.new_schedule(backup).named("b").every_five_minutes())
    run_due(app, at(12))
    app.pause_schedule("b")
    run_due(app, at(12, 5))
    run_due(app, at(12, 10))
    assert [r.slot for r in runs_of(app, "b")] == [at(12)]
    app.resume_schedule("b", start="last")
    run_due(app, at(12, 12))
    runs = runs_of(app, "b")
    assert [(r.slot, r.state) for r in runs] == [
        (at(12), RunState.SUCCEEDED),
        (at(12, 5), RunState.MISSED),
        (at(12, 10), RunState.SUCCEEDED),
    ]


def test_resume_from_now_fires_nothing_of_the_pause(app: Rota) -> None:
    app.add_schedule(app.new_schedule(backup).named("b").every_five_minutes())
    run_due(app, at(12))
    app.pause_schedule("b")
    app.clock.set(at(12, 12))  # type: ignore[attr-defined]
    app.resume_schedule("b", start="now")
    run_due(app, at(12, 12))
    assert [r.slot for r in runs_of(app, "b")] == [at(12)]
    run_due(app, at(12, 15))
    assert [r.slot for r in runs_of(app, "b")] == [at(12), at(12, 15)]


def test_pause_and_resume_a_code_schedule_survive_a_sync(app: Rota) -> None:
    app.schedule(backup).named("nightly").hourly()
    app.sync_schedules()
    app.pause_schedule("nightly")
    run_due(app, at(13))
    assert runs_of(app, "nightly") == []
    assert app.get_schedule("nightly").paused
    with pytest.raises(InvalidSchedule, match="'last' or 'now'"):
        app.resume_schedule("nightly", start="later")  # type: ignore[arg-type]


def test_remove_stops_it_and_keeps_its_history(app: Rota) -> None:
    app.add_schedule(app.new_schedule(backup).named("b").every_five_minutes())
    run_due(app, at(12))
    app.remove_schedule("b")
    run_due(app, at(12, 5))
    assert [r.slot for r in runs_of(app, "b")] == [at(12)]
    with pytest.raises(ScheduleNotFound):
        app.get_schedule("b")
    app.add_schedule(app.new_schedule(backup).named("nightly-backup").hourly())
    with pytest.raises(ScheduleNotFound, match="did you mean 'nightly-backup'"):
        app.pause_schedule("nightly-bakup")


def test_retry_and_cancel_runs(app: Rota) -> None:
    app.add_schedule(app.new_schedule(backup).named("b").every_five_minutes())
    run_due(app, at(12))
    (done,) = runs_of(app, "b")
    again = app.retry_run(done.id)
    assert again.state is RunState.QUEUED
    assert again.attempt == 0
    cancelled = app.cancel_run(done.id)
    assert cancelled.state is RunState.CANCELLED
