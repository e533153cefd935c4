"""``after()``: children run for a slot once their parents' runs for it succeeded."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rota.app import Rota
from rota.context import RunContext
from rota.errors import ConfigurationError, DependencyCycle, InvalidSchedule
from rota.runs import RunState
from rota.testing import make_test_rota, run_due, runs_of

FAIL: set[tuple[str, datetime]] = set()
"""(schedule, slot) pairs whose run raises."""


def at(hour: int, minute: int = 0) -> datetime:
    return datetime(2026, 6, 1, hour, minute, tzinfo=UTC)


def step(ctx: RunContext, label: str) -> str:
    assert ctx.schedule is not None
    assert ctx.slot is not None
    if (ctx.schedule, ctx.slot) in FAIL:
        raise RuntimeError(f"{label} fails at {ctx.slot:%H:%M}")
    return label


@pytest.fixture(autouse=True)
def _no_failures() -> None:
    FAIL.clear()


def states(app: Rota, name: str) -> list[tuple[datetime | None, RunState]]:
    return [(r.slot, r.state) for r in runs_of(app, name)]


def chain_app() -> Rota:
    app = make_test_rota(at(12))
    app.job(step)
    a = app.schedule(step, "a").named("a").every_five_minutes()
    b = app.schedule(step, "b").named("b").after(a)
    app.schedule(step, "c").named("c").after("b")
    assert b.after_names == ("a",)
    return app


def test_a_chain_runs_in_order_by_slot_and_a_failure_stops_what_is_below() -> None:
    app = chain_app()
    FAIL.add(("a", at(12, 5)))
    for minute in (0, 5, 10):
        run_due(app, at(12, minute))
    ok, up = RunState.SUCCEEDED, RunState.UPSTREAM_FAILED
    assert states(app, "a") == [(at(12), ok), (at(12, 5), RunState.FAILED), (at(12, 10), ok)]
    assert states(app, "b") == [(at(12), ok), (at(12, 5), up), (at(12, 10), ok)]
    assert states(app, "c") == [(at(12), ok), (at(12, 5), up), (at(12, 10), ok)]
    (failed_c,) = [r for r in runs_of(app, "c") if r.state is up]
    assert failed_c.error is not None
    assert "'b'" in failed_c.error
    (b_run,) = [r for r in runs_of(app, "b") if r.slot == at(12)]
    a_first = runs_of(app, "a")[0]
    assert b_run.parents == (a_first.id,)
    assert b_run.started_at is not None
    assert a_first.finished_at is not None
    assert b_run.started_at >= a_first.finished_at


def test_fan_in_waits_for_every_parent_and_fails_on_either() -> None:
    app = make_test_rota(at(12))
    app.job(step)
    a = app.schedule(step, "a").named("a").every_five_minutes()
    c = app.schedule(step, "c").named("c").every_five_minutes()
    app.schedule(step, "d").named("d").after(a, c)
    FAIL.add(("c", at(12, 5)))
    FAIL.add(("a", at(12, 10)))
    for minute in (0, 5, 10, 15):
        run_due(app, at(12, minute))
    ok, up = RunState.SUCCEEDED, RunState.UPSTREAM_FAILED
    assert [s for _, s in states(app, "d")] == [ok, up, up, ok]
    assert [slot for slot, _ in states(app, "d")] == [at(12, m) for m in (0, 5, 10, 15)]


def test_children_take_their_parents_slots() -> None:
    app = make_test_rota(at(12))
    app.job(step)
    app.schedule(step, "a").named("a").daily_at("07:30").timezone("Europe/Berlin")
    child = app.schedule(step, "b").named("b").after("a")
    app.declared()
    assert child.describe() == app.declared()["a"].describe()
    assert child.trigger.to_spec()["tz"] == "Europe/Berlin"


def test_a_job_function_names_its_only_schedule() -> None:
    app = make_test_rota(at(12))
    app.job(step)
    app.schedule(step, "a").every_five_minutes()
    other = app.new_schedule(step, "x")  # not declared: no second schedule of ``step``
    assert other.name not in app.declared()
    app.schedule("test_dependencies.step", "b").named("b").after(step)
    assert app.declared()["b"].after_names == (app.schedules[0].name,)


def test_a_cycle_is_refused_when_declared() -> None:
    app = make_test_rota(at(12))
    app.job(step)
    app.schedule(step, "a").named("a").every_five_minutes().after("c")
    app.schedule(step, "b").named("b").after("a")
    app.schedule(step, "c").named("c").after("b")
    cycles = r"a -> c -> b -> a|b -> a -> c -> b|c -> b -> a -> c"
    with pytest.raises(DependencyCycle, match=cycles):
        app.declared()
    with pytest.raises(DependencyCycle, match="itself"):
        app.schedule(step, "d").named("d").after("d")


def test_unknown_parent_and_different_parent_slots_are_refused() -> None:
    app = make_test_rota(at(12))
    app.job(step)
    app.schedule(step, "a").named("a").hourly()
    app.schedule(step, "e").named("e").daily()
    app.schedule(step, "b").named("b").after("aa")
    with pytest.raises(ConfigurationError, match="did you mean 'a'"):
        app.declared()
    app._schedules.pop()
    app.schedule(step, "b").named("b").after("a", "e")
    with pytest.raises(InvalidSchedule, match="different times"):
        app.declared()
    app._schedules.pop()
    app.schedule(step, "b").named("b").daily().after("a")
    with pytest.raises(InvalidSchedule, match="drop its own frequency"):
        app.declared()


def test_on_each_server_cannot_have_dependencies() -> None:
    app = make_test_rota(at(12))
    app.job(step)
    app.schedule(step, "a").named("a").hourly().on_each_server()
    app.schedule(step, "b").named("b").after("a")
    with pytest.raises(InvalidSchedule, match="each server"):
        app.declared()


def test_run_time_children_of_a_run_time_parent() -> None:
    app = make_test_rota(at(12))
    app.job(step)
    app.add_schedule(app.new_schedule(step, "a").named("a").every_five_minutes())
    record = app.add_schedule(app.new_schedule(step, "b").named("b").after("a"))
    assert record.spec["after"] == ["a"]
    assert record.spec["trigger"] == app.get_schedule("a").spec["trigger"]
    with pytest.raises(DependencyCycle, match="a -> b -> a"):
        app.edit_schedule("a", app.new_schedule(step, "a").every_five_minutes().after("b"))
    with pytest.raises(InvalidSchedule, match="'zz', which does not exist"):
        app.add_schedule(app.new_schedule(step, "c").named("c").after("zz"))
    assert [r.name for r in app.list_schedules()] == ["a", "b"]
    FAIL.add(("a", at(12, 5)))
    for minute in (0, 5, 10):
        run_due(app, at(12, minute))
    ok, up = RunState.SUCCEEDED, RunState.UPSTREAM_FAILED
    assert [s for _, s in states(app, "b")] == [ok, up, ok]


def test_editing_a_parent_trigger_moves_its_run_time_children() -> None:
    app = make_test_rota(at(12))
    app.job(step)
    app.add_schedule(app.new_schedule(step, "a").named("a").every_five_minutes())
    app.add_schedule(app.new_schedule(step, "b").named("b").after("a"))
    app.edit_schedule("a", app.new_schedule(step, "a").hourly())
    assert app.get_schedule("b").spec["trigger"] == app.get_schedule("a").spec["trigger"]


def test_a_paused_parent_fails_the_child_run_at_the_sweep() -> None:
    app = make_test_rota(at(12))
    app.job(step)
    app.add_schedule(app.new_schedule(step, "a").named("a").every_five_minutes())
    app.add_schedule(app.new_schedule(step, "b").named("b").after("a"))
    app.pause_schedule("a")
    run_due(app, at(12))
    assert states(app, "b") == [(at(12), RunState.WAITING)]
    changed = app.scheduler.sweep_waiting(at(12, 1))
    assert [(r.state, r.error) for r in changed] == [
        (RunState.UPSTREAM_FAILED, "UpstreamFailed: parent schedule 'a' is paused")
    ]


def test_a_parent_filtered_out_of_a_slot_fails_the_child_run_at_the_sweep() -> None:
    app = make_test_rota(at(12))
    app.job(step)
    app.schedule(step, "a").named("a").every_five_minutes().unless_between("12:04", "12:06")
    app.schedule(step, "b").named("b").after("a")
    run_due(app, at(12, 5))
    assert states(app, "a") == []
    assert states(app, "b") == [(at(12, 5), RunState.WAITING)]
    (failed,) = app.scheduler.sweep_waiting(at(12, 6))
    assert failed.state is RunState.UPSTREAM_FAILED
    assert failed.error == "UpstreamFailed: parent schedule 'a' has no run for this slot (filtered)"


def test_the_next_rota_run_pass_sweeps_what_an_earlier_one_left_waiting() -> None:
    app = make_test_rota(at(12))
    app.job(step)
    app.schedule(step, "a").named("a").every_five_minutes().unless_between("12:04", "12:06")
    app.schedule(step, "b").named("b").after("a")
    run_due(app, at(12, 5))
    assert states(app, "b") == [(at(12, 5), RunState.WAITING)]
    run_due(app, at(12, 10))
    assert states(app, "b") == [
        (at(12, 5), RunState.UPSTREAM_FAILED),
        (at(12, 10), RunState.SUCCEEDED),
    ]
