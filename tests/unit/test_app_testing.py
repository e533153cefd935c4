"""``rota.testing``'s helpers for testing an app's own schedules."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from rota.app import Rota
from rota.runs import RunState
from rota.schedule import Schedule
from rota.testing import FakeClock, isolate, make_test_rota, run_due, runs_of, upcoming


def at(hour: int, minute: int = 0, *, day: int = 1) -> datetime:
    return datetime(2026, 6, day, hour, minute, tzinfo=UTC)


def test_a_schedule_test_in_three_lines() -> None:
    rota = make_test_rota(at(7))
    rota.job(name="digest")(lambda: "sent")
    schedule = rota.schedule("digest").daily_at("07:30")
    assert run_due(rota, at(7, 29)).runs == ()
    assert run_due(rota, at(7, 30)).counts() == {"succeeded": 1}
    (run,) = runs_of(rota, schedule)
    assert (run.slot, run.state, run.result) == (at(7, 30), RunState.SUCCEEDED, "sent")


def test_isolate_points_an_existing_app_at_memory_and_a_fake_clock() -> None:
    app = Rota("sqlite:////nonexistent/never/rota.db")
    app.job(name="j")(lambda: None)
    app.schedule("j").hourly()
    clock = isolate(app, at(12))
    assert isinstance(app.clock, FakeClock)
    assert app.clock is clock
    assert run_due(app, at(13)).counts() == {"succeeded": 1}


def test_isolate_refuses_an_app_already_in_use() -> None:
    app = make_test_rota(at(12))
    app.sync_schedules()
    with pytest.raises(RuntimeError, match="before"):
        isolate(app)


def test_run_due_with_now_needs_a_fake_clock() -> None:
    app = Rota("memory://")
    with pytest.raises(TypeError, match="FakeClock"):
        run_due(app, at(12))


def test_upcoming_applies_filters_and_the_timezone() -> None:
    schedule = Schedule("j").daily_at("07:30").timezone("Europe/Berlin").weekdays()
    slots = upcoming(schedule, datetime(2026, 6, 5, tzinfo=UTC), 3)  # a Friday
    assert [str(s) for s in slots] == [
        "2026-06-05 07:30:00+02:00",
        "2026-06-08 07:30:00+02:00",
        "2026-06-09 07:30:00+02:00",
    ]
    between = Schedule("j").hourly().between("09:00", "10:00")
    assert [s.hour for s in upcoming(between, at(0), 3)] == [9, 10, 9]
