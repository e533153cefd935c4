"""Planning: which slots fire, are missed or filtered, for explicit instants."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rota._planning import (
    Budget,
    SlotPlan,
    default_grace,
    first_slot_from,
    floor_minute,
    plan_slots,
    window_slots,
)
from rota._policies import Policies
from rota.cron import Cron
from rota.triggers import Interval, Once, Trigger


def at(hour: int, minute: int = 0, second: int = 0, *, day: int = 1) -> datetime:
    return datetime(2026, 6, day, hour, minute, second, tzinfo=UTC)


def plan(
    trigger: Trigger,
    *,
    start: datetime,
    now: datetime,
    after: datetime | None = None,
    budget: Budget | None = None,
    skip: frozenset[datetime] = frozenset(),
    **policies: Any,
) -> SlotPlan:
    return plan_slots(
        trigger,
        Policies(**policies),
        start=start,
        after=after,
        now=now,
        allows=lambda slot: slot not in skip,
        budget=budget,
    )


EVERY_MINUTE = Cron("* * * * *")
EVERY_FIVE = Cron("*/5 * * * *")
HOURLY = Cron("0 * * * *")


class TestGrace:
    def test_one_period(self) -> None:
        assert default_grace(HOURLY) == timedelta(hours=1)

    def test_floor_of_ten_seconds(self) -> None:
        assert default_grace(Cron("*/5 * * * * *")) == timedelta(seconds=10)

    def test_cap_of_one_day(self) -> None:
        assert default_grace(Cron("0 0 * * 0")) == timedelta(days=1)


class TestFirstRun:
    def test_first_run_at_12_00_01_fires_12_00_and_nothing_older(self) -> None:
        created = floor_minute(at(12, 0, 1))
        start = first_slot_from(EVERY_MINUTE, created)
        assert start == at(12)
        result = plan(EVERY_MINUTE, start=start, now=at(12, 0, 1))
        assert result.fire == (at(12),)
        assert result.missed == ()
        assert result.last_slot == at(12)
        assert result.next_due == at(12, 1)

    def test_hourly_stored_mid_hour_waits_for_the_next_hour(self) -> None:
        start = first_slot_from(HOURLY, floor_minute(at(12, 30, 10)))
        assert start == at(13)
        result = plan(HOURLY, start=start, now=at(12, 30, 10))
        assert result == SlotPlan(next_due=at(13))

    def test_on_time_tick_fires_exactly_one_slot(self) -> None:
        result = plan(EVERY_FIVE, start=at(12, 5), after=at(12), now=at(12, 5))
        assert result.fire == (at(12, 5),)
        assert result.next_due == at(12, 10)


class TestLatest:
    def test_late_run_fires_latest_and_records_the_others_missed(self) -> None:
        result = plan(EVERY_FIVE, start=at(12, 5), after=at(12), now=at(12, 21))
        assert result.fire == (at(12, 20),)
        assert result.missed == (at(12, 5), at(12, 10), at(12, 15))
        assert not result.more_missed
        assert result.last_slot == at(12, 20)
        assert result.next_due == at(12, 25)

    def test_within_default_grace_of_one_period(self) -> None:
        result = plan(HOURLY, start=at(12), after=at(11), now=at(12, 59, 59))
        assert result.fire == (at(12),)

    def test_beyond_grace_nothing_fires(self) -> None:
        result = plan(HOURLY, start=at(12), after=at(11), now=at(13, 0, 1))
        assert result.fire == (at(13),)  # 13:00 itself is on time ...
        result = plan(HOURLY, start=at(10), after=at(9), now=at(12, 10), grace=300)
        assert result.fire == ()  # ... but 12:00 is ten minutes late with a five-minute grace
        assert result.missed == (at(10), at(11), at(12))
        assert result.next_due == at(13)

    def test_slots_at_or_before_last_slot_never_fire_again(self) -> None:
        result = plan(EVERY_FIVE, start=at(12), after=at(12, 10), now=at(12, 12))
        assert result.fire == ()
        assert result.missed == ()
        assert result.last_slot == at(12, 10)


class TestAll:
    def test_fires_every_missed_slot_oldest_first(self) -> None:
        result = plan(EVERY_FIVE, start=at(12, 5), now=at(12, 21), catch_up="all")
        assert result.fire == (at(12, 5), at(12, 10), at(12, 15), at(12, 20))
        assert result.missed == ()

    def test_bounded_by_the_limit_newest_first(self) -> None:
        result = plan(
            EVERY_MINUTE, start=at(12), now=at(12, 10, 30), catch_up="all", catch_up_limit=3
        )
        assert result.fire == (at(12, 8), at(12, 9), at(12, 10))
        assert result.missed == tuple(at(12, m) for m in range(8))

    def test_no_default_grace_but_an_explicit_one_holds(self) -> None:
        days = Cron("0 0 * * *")
        result = plan(days, start=at(0, day=1), now=at(1, day=4), catch_up="all")
        assert result.fire == (at(0, day=1), at(0, day=2), at(0, day=3), at(0, day=4))
        limited = plan(days, start=at(0, day=1), now=at(1, day=4), catch_up="all", grace=26 * 3600)
        assert limited.fire == (at(0, day=3), at(0, day=4))
        assert limited.missed == (at(0, day=1), at(0, day=2))


class TestNone:
    def test_fires_an_on_time_slot(self) -> None:
        result = plan(EVERY_MINUTE, start=at(12, 10), now=at(12, 10, 30), catch_up="none")
        assert result.fire == (at(12, 10),)

    def test_a_slot_later_than_a_minute_is_missed_even_within_grace(self) -> None:
        daily = Cron("30 7 * * *")
        result = plan(daily, start=at(7, 30), now=at(7, 32), catch_up="none")
        assert result.fire == ()
        assert result.missed == (at(7, 30),)

    def test_only_the_newest_slot_can_fire(self) -> None:
        result = plan(EVERY_MINUTE, start=at(12, 8), now=at(12, 10, 1), catch_up="none")
        assert result.fire == (at(12, 10),)
        assert result.missed == (at(12, 8), at(12, 9))


class TestFilters:
    def test_filtered_slots_make_no_run_and_are_not_missed(self) -> None:
        result = plan(EVERY_FIVE, start=at(12, 5), now=at(12, 15), skip=frozenset({at(12, 10)}))
        assert result.fire == (at(12, 15),)
        assert result.missed == (at(12, 5),)
        assert result.filtered == 1

    def test_newest_allowed_slot_fires_when_the_newest_is_filtered(self) -> None:
        result = plan(EVERY_FIVE, start=at(12, 5), now=at(12, 10), skip=frozenset({at(12, 10)}))
        assert result.fire == (at(12, 5),)
        assert result.filtered == 1

    def test_progress_advances_past_filtered_slots(self) -> None:
        result = plan(EVERY_FIVE, start=at(12, 5), now=at(12, 5), skip=frozenset({at(12, 5)}))
        assert result.fire == ()
        assert result.filtered == 1
        assert result.last_slot == at(12, 5)
        assert result.next_due == at(12, 10)


class TestBounds:
    def test_a_month_of_every_second_slots_costs_a_bounded_scan(self) -> None:
        every_second = Cron("* * * * * *")
        calls = 0
        real = every_second.prev_before

        class Counting:
            tz = every_second.tz

            def prev_before(self, dt: datetime) -> datetime:
                nonlocal calls
                calls += 1
                return real(dt)

            def __getattr__(self, name: str) -> Any:
                return getattr(every_second, name)

        began = time.perf_counter()
        result = plan_slots(
            Counting(),
            Policies(),
            start=at(0, day=1),
            after=None,
            now=at(0, day=30),
            allows=lambda slot: True,
            budget=Budget(max_missed=100),
        )
        assert time.perf_counter() - began < 1.0
        assert calls <= 103
        assert result.fire == (at(0, day=30),)
        assert len(result.missed) == 100
        assert result.missed[-1] == at(0, day=30) - timedelta(seconds=1)
        assert result.more_missed
        assert result.last_slot == at(0, day=30)
        assert result.next_due == at(0, 0, 1, day=30)

    def test_scan_limit_bounds_filtered_slots(self) -> None:
        result = plan_slots(
            Cron("* * * * * *"),
            Policies(),
            start=at(0, day=1),
            after=None,
            now=at(0, day=30),
            allows=lambda slot: False,
            budget=Budget(scan_limit=50),
        )
        assert result.filtered == 50
        assert result.more_missed
        assert result.fire == result.missed == ()
        assert result.last_slot == at(0, day=30)

    def test_no_missed_records_when_the_budget_is_zero(self) -> None:
        result = plan(EVERY_FIVE, start=at(12, 5), now=at(12, 21), budget=Budget(max_missed=0))
        assert result.fire == (at(12, 20),)
        assert result.missed == ()
        assert result.more_missed


class TestTime:
    def test_daily_0230_new_york_fires_once_at_0300_across_spring_forward(self) -> None:
        daily = Cron("30 2 * * *", tz="America/New_York")
        before = datetime(2026, 3, 7, 7, 30, tzinfo=UTC)  # 02:30 EST
        due = first_slot_from(daily, before + timedelta(seconds=1))
        assert due is not None
        assert str(due) == "2026-03-08 07:00:00+00:00"  # 03:00 EDT
        now = due + timedelta(milliseconds=500)
        result = plan(daily, start=due, after=before, now=now)
        assert [str(s.astimezone(daily.tz)) for s in result.fire] == ["2026-03-08 03:00:00-04:00"]
        assert result.next_due is not None
        assert str(result.next_due) == "2026-03-09 06:30:00+00:00"
        again = plan(daily, start=result.next_due, after=result.last_slot, now=now)
        assert again.fire == ()

    def test_interval_and_once(self) -> None:
        every_90 = Interval(90)
        result = plan(every_90, start=at(12, 0, 0), now=at(12, 3, 1), catch_up="all")
        assert result.fire == (at(12), at(12, 1, 30), at(12, 3))
        once = Once(at(12, 30))
        fired = plan(once, start=at(12, 30), now=at(12, 30, 5))
        assert fired.fire == (at(12, 30),)
        assert fired.next_due is None

    def test_once_before_the_schedule_existed_never_fires(self) -> None:
        assert first_slot_from(Once(at(11)), floor_minute(at(12, 0, 30))) is None

    def test_window_slots_are_newest_first_in_utc(self) -> None:
        slots = list(window_slots(EVERY_FIVE, start=at(12), after=at(12), now=at(12, 12)))
        assert slots == [at(12, 10), at(12, 5)]
        assert all(s.tzinfo is UTC for s in slots)


@pytest.mark.parametrize("mode", ["latest", "none"])
def test_a_schedule_not_yet_due_plans_nothing(mode: str) -> None:
    result = plan(HOURLY, start=at(13), now=at(12, 59), catch_up=mode)
    assert result == SlotPlan(next_due=at(13))
