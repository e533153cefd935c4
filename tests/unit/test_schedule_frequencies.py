"""Each fluent frequency method compiles to Laravel's expression and fires when Laravel's would."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from rota.cron import Cron
from rota.errors import InvalidCron, InvalidSchedule, InvalidTimezone, NaiveDatetime
from rota.schedule import Schedule
from rota.triggers import Interval, Once, Trigger

BERLIN = ZoneInfo("Europe/Berlin")
# A Saturday evening, a day before Europe/Berlin springs forward (2026-03-29 02:00 -> 03:00).
T0 = datetime(2026, 3, 28, 22, 47, 13, tzinfo=UTC)

Build = Callable[[Schedule], Schedule]


def slots(trigger: Trigger, start: datetime, n: int = 3) -> list[str]:
    out: list[str] = []
    slot: datetime | None = start
    for _ in range(n):
        assert slot is not None
        slot = trigger.next_after(slot)
        assert slot is not None
        out.append(str(slot))
    return out


def job() -> Schedule:
    return Schedule("tests.job")


# (build, expression, the next three slots after T0 in UTC)
UTC_CASES: list[tuple[str, Build, str, list[str]]] = [
    (
        "every_second",
        lambda s: s.every_second(),
        "* * * * * *",
        ["2026-03-28 22:47:14+00:00", "2026-03-28 22:47:15+00:00", "2026-03-28 22:47:16+00:00"],
    ),
    (
        "every_two_seconds",
        lambda s: s.every_two_seconds(),
        "*/2 * * * * *",
        ["2026-03-28 22:47:14+00:00", "2026-03-28 22:47:16+00:00", "2026-03-28 22:47:18+00:00"],
    ),
    (
        "every_five_seconds",
        lambda s: s.every_five_seconds(),
        "*/5 * * * * *",
        ["2026-03-28 22:47:15+00:00", "2026-03-28 22:47:20+00:00", "2026-03-28 22:47:25+00:00"],
    ),
    (
        "every_ten_seconds",
        lambda s: s.every_ten_seconds(),
        "*/10 * * * * *",
        ["2026-03-28 22:47:20+00:00", "2026-03-28 22:47:30+00:00", "2026-03-28 22:47:40+00:00"],
    ),
    (
        "every_fifteen_seconds",
        lambda s: s.every_fifteen_seconds(),
        "*/15 * * * * *",
        ["2026-03-28 22:47:15+00:00", "2026-03-28 22:47:30+00:00", "2026-03-28 22:47:45+00:00"],
    ),
    (
        "every_twenty_seconds",
        lambda s: s.every_twenty_seconds(),
        "*/20 * * * * *",
        ["2026-03-28 22:47:20+00:00", "2026-03-28 22:47:40+00:00", "2026-03-28 22:48:00+00:00"],
    ),
    (
        "every_thirty_seconds",
        lambda s: s.every_thirty_seconds(),
        "*/30 * * * * *",
        ["2026-03-28 22:47:30+00:00", "2026-03-28 22:48:00+00:00", "2026-03-28 22:48:30+00:00"],
    ),
    (
        "every_minute",
        lambda s: s.every_minute(),
        "* * * * *",
        ["2026-03-28 22:48:00+00:00", "2026-03-28 22:49:00+00:00", "2026-03-28 22:50:00+00:00"],
    ),
    (
        "every_two_minutes",
        lambda s: s.every_two_minutes(),
        "*/2 * * * *",
        ["2026-03-28 22:48:00+00:00", "2026-03-28 22:50:00+00:00", "2026-03-28 22:52:00+00:00"],
    ),
    (
        "every_three_minutes",
        lambda s: s.every_three_minutes(),
        "*/3 * * * *",
        ["2026-03-28 22:48:00+00:00", "2026-03-28 22:51:00+00:00", "2026-03-28 22:54:00+00:00"],
    ),
    (
        "every_four_minutes",
        lambda s: s.every_four_minutes(),
        "*/4 * * * *",
        ["2026-03-28 22:48:00+00:00", "2026-03-28 22:52:00+00:00", "2026-03-28 22:56:00+00:00"],
    ),
    (
        "every_five_minutes",
        lambda s: s.every_five_minutes(),
        "*/5 * * * *",
        ["2026-03-28 22:50:00+00:00", "2026-03-28 22:55:00+00:00", "2026-03-28 23:00:00+00:00"],
    ),
    (
        "every_ten_minutes",
        lambda s: s.every_ten_minutes(),
        "*/10 * * * *",
        ["2026-03-28 22:50:00+00:00", "2026-03-28 23:00:00+00:00", "2026-03-28 23:10:00+00:00"],
    ),
    (
        "every_fifteen_minutes",
        lambda s: s.every_fifteen_minutes(),
        "*/15 * * * *",
        ["2026-03-28 23:00:00+00:00", "2026-03-28 23:15:00+00:00", "2026-03-28 23:30:00+00:00"],
    ),
    (
        "every_thirty_minutes",
        lambda s: s.every_thirty_minutes(),
        "*/30 * * * *",
        ["2026-03-28 23:00:00+00:00", "2026-03-28 23:30:00+00:00", "2026-03-29 00:00:00+00:00"],
    ),
    (
        "hourly",
        lambda s: s.hourly(),
        "0 * * * *",
        ["2026-03-28 23:00:00+00:00", "2026-03-29 00:00:00+00:00", "2026-03-29 01:00:00+00:00"],
    ),
    (
        "hourly_at",
        lambda s: s.hourly_at(17),
        "17 * * * *",
        ["2026-03-28 23:17:00+00:00", "2026-03-29 00:17:00+00:00", "2026-03-29 01:17:00+00:00"],
    ),
    (
        "hourly_at_list",
        lambda s: s.hourly_at([5, 35]),
        "5,35 * * * *",
        ["2026-03-28 23:05:00+00:00", "2026-03-28 23:35:00+00:00", "2026-03-29 00:05:00+00:00"],
    ),
    (
        "every_odd_hour",
        lambda s: s.every_odd_hour(),
        "0 1-23/2 * * *",
        ["2026-03-28 23:00:00+00:00", "2026-03-29 01:00:00+00:00", "2026-03-29 03:00:00+00:00"],
    ),
    (
        "every_odd_hour_15",
        lambda s: s.every_odd_hour(15),
        "15 1-23/2 * * *",
        ["2026-03-28 23:15:00+00:00", "2026-03-29 01:15:00+00:00", "2026-03-29 03:15:00+00:00"],
    ),
    (
        "every_even_hour",
        lambda s: s.every_even_hour(),
        "0 0-22/2 * * *",
        ["2026-03-29 00:00:00+00:00", "2026-03-29 02:00:00+00:00", "2026-03-29 04:00:00+00:00"],
    ),
    (
        "every_two_hours",
        lambda s: s.every_two_hours(),
        "0 */2 * * *",
        ["2026-03-29 00:00:00+00:00", "2026-03-29 02:00:00+00:00", "2026-03-29 04:00:00+00:00"],
    ),
    (
        "every_two_hours_30",
        lambda s: s.every_two_hours(30),
        "30 */2 * * *",
        ["2026-03-29 00:30:00+00:00", "2026-03-29 02:30:00+00:00", "2026-03-29 04:30:00+00:00"],
    ),
    (
        "every_three_hours",
        lambda s: s.every_three_hours(),
        "0 */3 * * *",
        ["2026-03-29 00:00:00+00:00", "2026-03-29 03:00:00+00:00", "2026-03-29 06:00:00+00:00"],
    ),
    (
        "every_four_hours",
        lambda s: s.every_four_hours(),
        "0 */4 * * *",
        ["2026-03-29 00:00:00+00:00", "2026-03-29 04:00:00+00:00", "2026-03-29 08:00:00+00:00"],
    ),
    (
        "every_six_hours",
        lambda s: s.every_six_hours(),
        "0 */6 * * *",
        ["2026-03-29 00:00:00+00:00", "2026-03-29 06:00:00+00:00", "2026-03-29 12:00:00+00:00"],
    ),
    (
        "daily",
        lambda s: s.daily(),
        "0 0 * * *",
        ["2026-03-29 00:00:00+00:00", "2026-03-30 00:00:00+00:00", "2026-03-31 00:00:00+00:00"],
    ),
    (
        "daily_at",
        lambda s: s.daily_at("13:00"),
        "0 13 * * *",
        ["2026-03-29 13:00:00+00:00", "2026-03-30 13:00:00+00:00", "2026-03-31 13:00:00+00:00"],
    ),
    (
        "at",
        lambda s: s.at("7:05"),
        "5 7 * * *",
        ["2026-03-29 07:05:00+00:00", "2026-03-30 07:05:00+00:00", "2026-03-31 07:05:00+00:00"],
    ),
    (
        "twice_daily",
        lambda s: s.twice_daily(),
        "0 1,13 * * *",
        ["2026-03-29 01:00:00+00:00", "2026-03-29 13:00:00+00:00", "2026-03-30 01:00:00+00:00"],
    ),
    (
        "twice_daily_at",
        lambda s: s.twice_daily_at(3, 15, 5),
        "5 3,15 * * *",
        ["2026-03-29 03:05:00+00:00", "2026-03-29 15:05:00+00:00", "2026-03-30 03:05:00+00:00"],
    ),
    (
        "weekly",
        lambda s: s.weekly(),
        "0 0 * * 0",
        ["2026-03-29 00:00:00+00:00", "2026-04-05 00:00:00+00:00", "2026-04-12 00:00:00+00:00"],
    ),
    (
        "weekly_on",
        lambda s: s.weekly_on(1, "8:00"),
        "0 8 * * 1",
        ["2026-03-30 08:00:00+00:00", "2026-04-06 08:00:00+00:00", "2026-04-13 08:00:00+00:00"],
    ),
    (
        "weekly_on_name",
        lambda s: s.weekly_on("friday", "17:30"),
        "30 17 * * 5",
        ["2026-04-03 17:30:00+00:00", "2026-04-10 17:30:00+00:00", "2026-04-17 17:30:00+00:00"],
    ),
    (
        "monthly",
        lambda s: s.monthly(),
        "0 0 1 * *",
        ["2026-04-01 00:00:00+00:00", "2026-05-01 00:00:00+00:00", "2026-06-01 00:00:00+00:00"],
    ),
    (
        "monthly_on",
        lambda s: s.monthly_on(15, "12:00"),
        "0 12 15 * *",
        ["2026-04-15 12:00:00+00:00", "2026-05-15 12:00:00+00:00", "2026-06-15 12:00:00+00:00"],
    ),
    (
        "twice_monthly",
        lambda s: s.twice_monthly(),
        "0 0 1,16 * *",
        ["2026-04-01 00:00:00+00:00", "2026-04-16 00:00:00+00:00", "2026-05-01 00:00:00+00:00"],
    ),
    (
        "twice_monthly_at",
        lambda s: s.twice_monthly(10, 25, "6:45"),
        "45 6 10,25 * *",
        ["2026-04-10 06:45:00+00:00", "2026-04-25 06:45:00+00:00", "2026-05-10 06:45:00+00:00"],
    ),
    (
        "last_day_of_month",
        lambda s: s.last_day_of_month(),
        "0 0 L * *",
        ["2026-03-31 00:00:00+00:00", "2026-04-30 00:00:00+00:00", "2026-05-31 00:00:00+00:00"],
    ),
    (
        "last_day_of_month_at",
        lambda s: s.last_day_of_month("23:59"),
        "59 23 L * *",
        ["2026-03-31 23:59:00+00:00", "2026-04-30 23:59:00+00:00", "2026-05-31 23:59:00+00:00"],
    ),
    (
        "quarterly",
        lambda s: s.quarterly(),
        "0 0 1 1-12/3 *",
        ["2026-04-01 00:00:00+00:00", "2026-07-01 00:00:00+00:00", "2026-10-01 00:00:00+00:00"],
    ),
    (
        "quarterly_on",
        lambda s: s.quarterly_on(10, "9:00"),
        "0 9 10 1-12/3 *",
        ["2026-04-10 09:00:00+00:00", "2026-07-10 09:00:00+00:00", "2026-10-10 09:00:00+00:00"],
    ),
    (
        "yearly",
        lambda s: s.yearly(),
        "0 0 1 1 *",
        ["2027-01-01 00:00:00+00:00", "2028-01-01 00:00:00+00:00", "2029-01-01 00:00:00+00:00"],
    ),
    (
        "yearly_on",
        lambda s: s.yearly_on(6, 15, "12:00"),
        "0 12 15 6 *",
        ["2026-06-15 12:00:00+00:00", "2027-06-15 12:00:00+00:00", "2028-06-15 12:00:00+00:00"],
    ),
    (
        "yearly_on_leap",
        lambda s: s.yearly_on("feb", 29),
        "0 0 29 2 *",
        ["2028-02-29 00:00:00+00:00", "2032-02-29 00:00:00+00:00", "2036-02-29 00:00:00+00:00"],
    ),
    (
        "weekdays",
        lambda s: s.weekdays(),
        "* * * * 1-5",
        ["2026-03-30 00:00:00+00:00", "2026-03-30 00:01:00+00:00", "2026-03-30 00:02:00+00:00"],
    ),
    (
        "weekdays_at",
        lambda s: s.weekdays().at("7:30"),
        "30 7 * * 1-5",
        ["2026-03-30 07:30:00+00:00", "2026-03-31 07:30:00+00:00", "2026-04-01 07:30:00+00:00"],
    ),
    (
        "weekends",
        lambda s: s.weekends().daily(),
        "0 0 * * 6,0",
        ["2026-03-29 00:00:00+00:00", "2026-04-04 00:00:00+00:00", "2026-04-05 00:00:00+00:00"],
    ),
    (
        "mondays",
        lambda s: s.mondays().daily(),
        "0 0 * * 1",
        ["2026-03-30 00:00:00+00:00", "2026-04-06 00:00:00+00:00", "2026-04-13 00:00:00+00:00"],
    ),
    (
        "tuesdays",
        lambda s: s.tuesdays().daily(),
        "0 0 * * 2",
        ["2026-03-31 00:00:00+00:00", "2026-04-07 00:00:00+00:00", "2026-04-14 00:00:00+00:00"],
    ),
    (
        "wednesdays",
        lambda s: s.wednesdays().daily(),
        "0 0 * * 3",
        ["2026-04-01 00:00:00+00:00", "2026-04-08 00:00:00+00:00", "2026-04-15 00:00:00+00:00"],
    ),
    (
        "thursdays",
        lambda s: s.thursdays().daily(),
        "0 0 * * 4",
        ["2026-04-02 00:00:00+00:00", "2026-04-09 00:00:00+00:00", "2026-04-16 00:00:00+00:00"],
    ),
    (
        "fridays",
        lambda s: s.fridays().daily(),
        "0 0 * * 5",
        ["2026-04-03 00:00:00+00:00", "2026-04-10 00:00:00+00:00", "2026-04-17 00:00:00+00:00"],
    ),
    (
        "saturdays",
        lambda s: s.saturdays().daily(),
        "0 0 * * 6",
        ["2026-04-04 00:00:00+00:00", "2026-04-11 00:00:00+00:00", "2026-04-18 00:00:00+00:00"],
    ),
    (
        "sundays",
        lambda s: s.sundays().daily(),
        "0 0 * * 0",
        ["2026-03-29 00:00:00+00:00", "2026-04-05 00:00:00+00:00", "2026-04-12 00:00:00+00:00"],
    ),
    (
        "days",
        lambda s: s.days(1, "wed", "Friday").at("9:00"),
        "0 9 * * 1,3,5",
        ["2026-03-30 09:00:00+00:00", "2026-04-01 09:00:00+00:00", "2026-04-03 09:00:00+00:00"],
    ),
    (
        "days_list",
        lambda s: s.days([2, 4]).at("9:00"),
        "0 9 * * 2,4",
        ["2026-03-31 09:00:00+00:00", "2026-04-02 09:00:00+00:00", "2026-04-07 09:00:00+00:00"],
    ),
    (
        "seconds_in_an_hour",
        lambda s: s.every_thirty_seconds().hourly(),
        "*/30 0 * * * *",
        ["2026-03-28 23:00:00+00:00", "2026-03-28 23:00:30+00:00", "2026-03-29 00:00:00+00:00"],
    ),
    (
        "cron",
        lambda s: s.cron("15 10 * * 1-5"),
        "15 10 * * 1-5",
        ["2026-03-30 10:15:00+00:00", "2026-03-31 10:15:00+00:00", "2026-04-01 10:15:00+00:00"],
    ),
    (
        "cron_macro",
        lambda s: s.cron("@daily"),
        "@daily",
        ["2026-03-29 00:00:00+00:00", "2026-03-30 00:00:00+00:00", "2026-03-31 00:00:00+00:00"],
    ),
    (
        "cron_macro_spliced",
        lambda s: s.cron("@daily").weekdays(),
        "0 0 * * 1-5",
        ["2026-03-30 00:00:00+00:00", "2026-03-31 00:00:00+00:00", "2026-04-01 00:00:00+00:00"],
    ),
    (
        "cron_seconds_spliced",
        lambda s: s.cron("*/10 * * * * *").hourly(),
        "*/10 0 * * * *",
        ["2026-03-28 23:00:00+00:00", "2026-03-28 23:00:10+00:00", "2026-03-28 23:00:20+00:00"],
    ),
]


@pytest.mark.parametrize(
    ("build", "expression", "expected"),
    [case[1:] for case in UTC_CASES],
    ids=[case[0] for case in UTC_CASES],
)
def test_frequency_in_utc(build: Build, expression: str, expected: list[str]) -> None:
    schedule = build(job())
    assert schedule.expression == expression
    assert isinstance(schedule.trigger, Cron)
    assert slots(schedule.trigger, T0) == expected


# Europe/Berlin springs forward on 2026-03-29 (02:00 -> 03:00) and falls back on 2026-10-25.
SPRING = datetime(2026, 3, 28, 23, 47, 13, tzinfo=BERLIN)
FALL = datetime(2026, 10, 25, 0, 30, tzinfo=BERLIN)
BERLIN_CASES: list[tuple[str, Build, datetime, list[str]]] = [
    (
        "hourly_spring",
        lambda s: s.hourly(),
        SPRING,
        ["2026-03-29 00:00:00+01:00", "2026-03-29 01:00:00+01:00", "2026-03-29 03:00:00+02:00"],
    ),
    (
        "daily_spring",
        lambda s: s.daily(),
        SPRING,
        ["2026-03-29 00:00:00+01:00", "2026-03-30 00:00:00+02:00", "2026-03-31 00:00:00+02:00"],
    ),
    (
        "daily_at_in_the_gap",
        lambda s: s.daily_at("2:30"),
        SPRING,
        ["2026-03-29 03:00:00+02:00", "2026-03-30 02:30:00+02:00", "2026-03-31 02:30:00+02:00"],
    ),
    (
        "weekdays_at",
        lambda s: s.weekdays().at("7:30"),
        SPRING,
        ["2026-03-30 07:30:00+02:00", "2026-03-31 07:30:00+02:00", "2026-04-01 07:30:00+02:00"],
    ),
    (
        "hourly_fall",
        lambda s: s.hourly(),
        FALL,
        ["2026-10-25 01:00:00+02:00", "2026-10-25 02:00:00+02:00", "2026-10-25 02:00:00+01:00"],
    ),
    (
        "daily_at_in_the_repeat",
        lambda s: s.daily_at("2:30"),
        FALL,
        ["2026-10-25 02:30:00+02:00", "2026-10-26 02:30:00+01:00", "2026-10-27 02:30:00+01:00"],
    ),
]


@pytest.mark.parametrize(
    ("build", "start", "expected"),
    [case[1:] for case in BERLIN_CASES],
    ids=[case[0] for case in BERLIN_CASES],
)
def test_frequency_in_a_dst_zone(build: Build, start: datetime, expected: list[str]) -> None:
    schedule = build(job()).timezone("Europe/Berlin")
    assert schedule.trigger.tz == BERLIN
    assert slots(schedule.trigger, start) == expected


@pytest.mark.parametrize(
    ("day_method", "time_method"),
    [
        (lambda s: s.weekdays(), lambda s: s.daily_at("7:30")),
        (lambda s: s.mondays(), lambda s: s.twice_daily(9, 21)),
        (lambda s: s.days(0, 6), lambda s: s.every_fifteen_minutes()),
        (lambda s: s.fridays(), lambda s: s.monthly_on(13)),
        (lambda s: s.timezone("Europe/Berlin"), lambda s: s.hourly_at(5)),
    ],
)
def test_fields_compose_in_any_order(day_method: Build, time_method: Build) -> None:
    one = time_method(day_method(job()))
    other = day_method(time_method(job()))
    assert one.expression == other.expression
    assert one.trigger == other.trigger


def test_later_calls_overwrite_only_their_fields() -> None:
    schedule = job().weekly().daily_at("7:30")
    assert schedule.expression == "30 7 * * 0"
    assert job().daily_at("7:30").hourly().expression == "0 7 * * *"
    assert job().hourly_at(5).daily().expression == "0 0 * * *"
    assert job().monthly_on(5, "6:00").cron("0 * * * *").expression == "0 * * * *"


def test_trigger_is_a_cron_seeded_with_the_name_in_the_timezone() -> None:
    schedule = job().cron("H 3 * * *").timezone("Europe/Berlin").named("nightly")
    assert schedule.trigger == Cron("H 3 * * *", tz="Europe/Berlin", seed="nightly")
    again = Schedule("other.job").cron("H 3 * * *").timezone("Europe/Berlin").named("nightly")
    assert again.trigger.next_after(T0) == schedule.trigger.next_after(T0)


def test_default_seed_is_the_derived_name() -> None:
    schedule = Schedule("tests.job", kwargs={"region": "eu"}).cron("H H * * *")
    assert schedule.trigger == Cron("H H * * *", seed="tests.job[region=eu]")


def test_trigger_is_cached_and_rebuilt_after_a_change() -> None:
    schedule = job().hourly()
    first = schedule.trigger
    assert schedule.trigger is first
    schedule.daily()
    assert schedule.trigger is not first
    assert schedule.expression == "0 0 * * *"


def test_every_builds_an_interval_in_the_timezone() -> None:
    anchor = datetime(2026, 1, 1, 0, 7, tzinfo=UTC)
    schedule = job().every(timedelta(minutes=15), anchor=anchor).timezone("Europe/Berlin")
    assert schedule.trigger == Interval(900, anchor=anchor, tz="Europe/Berlin")
    assert schedule.expression is None
    assert str(schedule.trigger.next_after(T0)) == "2026-03-28 23:52:00+01:00"


def test_once_at_builds_a_once() -> None:
    at = datetime(2026, 11, 24, 6, 30, tzinfo=UTC)
    schedule = job().once_at(at).timezone("Europe/Berlin")
    assert schedule.trigger == Once(at, tz="Europe/Berlin")
    assert schedule.trigger.next_after(at) is None


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda s: s.daily_at("25:00"),
            "invalid time '25:00' in daily_at (expected HH:MM, 00:00-23:59)",
        ),
        (lambda s: s.daily_at("07:60"), "invalid time '07:60' in daily_at"),
        (lambda s: s.daily_at("7"), "invalid time '7' in daily_at"),
        (lambda s: s.daily_at("7:30:15"), "invalid time '7:30:15' in daily_at"),
        (lambda s: s.at(730), "invalid time 730 in at"),
        (lambda s: s.weekly_on(1, "8h"), "invalid time '8h' in weekly_on"),
        (lambda s: s.hourly_at(60), "invalid minute 60 in hourly_at (expected 0-59)"),
        (lambda s: s.hourly_at([]), "hourly_at needs at least one minute"),
        (lambda s: s.every_two_hours(-1), "invalid minute -1 in every_two_hours"),
        (lambda s: s.twice_daily(1, 24), "invalid hour 24 in twice_daily (expected 0-23)"),
        (lambda s: s.twice_daily(5, 5), "twice_daily needs two different hours"),
        (lambda s: s.twice_daily_at(1, 13, 75), "invalid minute 75 in twice_daily_at"),
        (
            lambda s: s.weekly_on("funday"),
            "unknown day 'funday' in weekly_on; did you mean 'sunday'",
        ),
        (lambda s: s.weekly_on(7), "invalid day 7 in weekly_on (expected 0-6, 0 = Sunday"),
        (lambda s: s.days(), "days needs at least one day"),
        (lambda s: s.days(True), "invalid day True in days"),
        (lambda s: s.monthly_on(0), "invalid day 0 in monthly_on (expected 1-31)"),
        (lambda s: s.monthly_on(32), "invalid day 32 in monthly_on"),
        (lambda s: s.twice_monthly(1, 1), "twice_monthly needs two different days"),
        (lambda s: s.twice_monthly(1, 40), "invalid day 40 in twice_monthly"),
        (lambda s: s.quarterly_on(0), "invalid day 0 in quarterly_on (expected 1-31)"),
        (lambda s: s.quarterly_on(1, "9"), "invalid time '9' in quarterly_on"),
        (lambda s: s.yearly_on(13), "invalid month 13 in yearly_on (expected 1-12)"),
        (lambda s: s.yearly_on("febuary"), "unknown month 'febuary' in yearly_on; did you mean"),
        (lambda s: s.yearly_on(2, 30), "invalid day 30 in yearly_on for february (expected 1-29)"),
        (lambda s: s.yearly_on("apr", 31), "invalid day 31 in yearly_on for april"),
        (lambda s: s.cron(5), "cron() needs a string, not int"),
    ],
)
def test_bad_input_names_the_bad_part(build: Build, message: str) -> None:
    with pytest.raises(InvalidSchedule, match=message.replace("(", r"\(").replace(")", r"\)")):
        build(job())


def test_bad_cron_expression_raises_invalid_cron() -> None:
    with pytest.raises(InvalidCron, match="61"):
        job().cron("61 * * * *")


def test_bad_timezone_suggests_the_close_one() -> None:
    with pytest.raises(InvalidTimezone, match="'Europe/Berln'; did you mean 'Europe/Berlin'"):
        job().timezone("Europe/Berln")


def test_bad_interval_and_once() -> None:
    with pytest.raises(InvalidSchedule, match="at least 1 second"):
        job().every(0.5)
    with pytest.raises(NaiveDatetime):
        job().once_at(datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda s: s.daily_at("7:30").every(60), r"every\(\) cannot be combined with daily_at\(\)"),
        (lambda s: s.every(60).hourly(), r"hourly\(\) cannot be combined with every\(\)"),
        (lambda s: s.every(60).cron("* * * * *"), r"cron\(\) cannot be combined with every\(\)"),
        (lambda s: s.once_at(T0).every(60), r"every\(\) cannot be combined with once_at\(\)"),
        (lambda s: s.cron("0 3 * * *").once_at(T0), r"once_at\(\) cannot be combined with cron"),
        (lambda s: s.every_second().every(60), r"cannot be combined with every_second\(\)"),
    ],
)
def test_cron_methods_and_other_triggers_do_not_mix(build: Build, message: str) -> None:
    with pytest.raises(InvalidSchedule, match=message):
        build(job())


def test_day_methods_become_a_filter_under_every() -> None:
    schedule = job().weekdays().every(3600)
    assert isinstance(schedule.trigger, Interval)
    saturday = datetime(2026, 3, 28, 12, 0, tzinfo=UTC)
    monday = datetime(2026, 3, 30, 12, 0, tzinfo=UTC)
    assert not schedule.allows(saturday)
    assert schedule.allows(monday)
