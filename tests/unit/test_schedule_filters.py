"""Filters are evaluated at the slot, in the schedule's timezone."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from rota.errors import InvalidSchedule, NaiveDatetime
from rota.schedule import Schedule

BERLIN = ZoneInfo("Europe/Berlin")


def at(hour: int, minute: int = 0, second: int = 0, day: int = 24) -> datetime:
    return datetime(2026, 11, day, hour, minute, second, tzinfo=UTC)


def job() -> Schedule:
    return Schedule("tests.job").every_minute()


@pytest.mark.parametrize(
    ("slot", "allowed"),
    [
        (at(8, 59), False),
        (at(9, 0), True),
        (at(12, 30), True),
        (at(17, 0), True),
        (at(17, 0, 1), False),
        (at(23, 0), False),
    ],
)
def test_between(slot: datetime, allowed: bool) -> None:
    assert job().between("9:00", "17:00").allows(slot) is allowed


@pytest.mark.parametrize(
    ("slot", "allowed"),
    [
        (at(21, 59), False),
        (at(22, 0), True),
        (at(23, 30), True),
        (at(0, 0), True),
        (at(1, 59), True),
        (at(2, 0), True),
        (at(2, 1), False),
        (at(12, 0), False),
    ],
)
def test_between_across_midnight(slot: datetime, allowed: bool) -> None:
    assert job().between("22:00", "02:00").allows(slot) is allowed


@pytest.mark.parametrize(
    ("slot", "allowed"),
    [
        (at(22, 59), True),
        (at(23, 0), False),
        (at(3, 0), False),
        (at(4, 0), False),
        (at(4, 1), True),
    ],
)
def test_unless_between_across_midnight(slot: datetime, allowed: bool) -> None:
    assert job().unless_between("23:00", "04:00").allows(slot) is allowed


def test_between_reads_the_slot_in_the_schedule_timezone() -> None:
    schedule = job().between("9:00", "17:00").timezone("Europe/Berlin")
    assert schedule.allows(at(8, 0))  # 09:00 in Berlin
    assert not schedule.allows(at(16, 30))  # 17:30 in Berlin
    assert schedule.allows(datetime(2026, 11, 24, 10, 0, tzinfo=BERLIN))


def test_when_and_skip_with_bools_and_no_arg_callables() -> None:
    assert job().when(True).allows(at(1))
    assert not job().when(False).allows(at(1))
    assert not job().skip(lambda: True).allows(at(1))
    assert job().skip(lambda: False).when(lambda: True).allows(at(1))


def test_when_is_given_the_slot_in_the_schedule_timezone() -> None:
    seen: list[datetime] = []

    def business_hours(slot: datetime) -> bool:
        seen.append(slot)
        return 9 <= slot.hour < 17

    schedule = job().when(business_hours).timezone("Europe/Berlin")
    assert schedule.allows(at(8, 30))
    assert not schedule.allows(at(16, 30))
    assert seen[0].tzinfo == BERLIN
    assert str(seen[0]) == "2026-11-24 09:30:00+01:00"


def test_skip_with_the_slot_and_an_optional_argument() -> None:
    def is_first_of_month(slot: datetime | None = None) -> bool:
        assert slot is not None
        return slot.day == 1

    schedule = job().skip(is_first_of_month)
    assert not schedule.allows(at(10, day=1))
    assert schedule.allows(at(10, day=2))


def test_callable_object_with_the_slot() -> None:
    class OnlyEvenHours:
        def __call__(self, slot: datetime) -> bool:
            return slot.hour % 2 == 0

    assert job().when(OnlyEvenHours()).allows(at(10))
    assert not job().when(OnlyEvenHours()).allows(at(11))


def test_when_refuses_what_is_not_callable() -> None:
    with pytest.raises(InvalidSchedule, match=r"when\(\) needs a callable or a bool, not int"):
        job().when(5)  # type: ignore[arg-type]
    with pytest.raises(InvalidSchedule, match=r"skip\(\) needs a callable or a bool, not str"):
        job().skip("yes")  # type: ignore[arg-type]


def test_environments() -> None:
    schedule = job().environments("production", "staging")
    assert schedule.allows(at(1), "production")
    assert schedule.allows(at(1), "staging")
    assert not schedule.allows(at(1), "local")
    assert not schedule.allows(at(1))
    assert job().allows(at(1))  # no environments(): every environment
    assert job().environments(["local", "ci"]).allows(at(1), "ci")


def test_environments_replaces_an_earlier_call() -> None:
    schedule = job().environments("production").environments("staging")
    assert schedule.allows(at(1), "staging")
    assert not schedule.allows(at(1), "production")


@pytest.mark.parametrize("names", [(), ([],), ("",), (" ",)])
def test_environments_needs_names(names: tuple[str, ...]) -> None:
    with pytest.raises(InvalidSchedule, match=r"environments\(\) needs one or more names"):
        job().environments(*names)


def test_days_filter_for_an_interval_in_the_timezone() -> None:
    schedule = Schedule("tests.job").every(3600).weekdays().timezone("Europe/Berlin")
    sunday_night_utc = datetime(2026, 11, 29, 23, 30, tzinfo=UTC)  # Monday 00:30 in Berlin
    assert schedule.allows(sunday_night_utc)
    assert not Schedule("tests.job").every(3600).weekdays().allows(sunday_night_utc)


def test_all_filters_must_pass() -> None:
    schedule = job().between("9:00", "17:00").when(lambda: True).environments("production")
    assert schedule.allows(at(10), "production")
    assert not schedule.allows(at(10), "local")
    assert not schedule.allows(at(20), "production")
    assert not schedule.skip(lambda: True).allows(at(10), "production")


def test_allows_refuses_a_naive_slot() -> None:
    with pytest.raises(NaiveDatetime, match="slot"):
        job().allows(datetime(2026, 11, 24, 10, 0))


@pytest.mark.parametrize(
    ("start", "end", "bad"),
    [("25:00", "02:00", "'25:00'"), ("22:00", "2:60", "'2:60'"), ("noon", "13:00", "'noon'")],
)
def test_between_validates_times(start: str, end: str, bad: str) -> None:
    with pytest.raises(InvalidSchedule, match=f"invalid time {bad} in between"):
        job().between(start, end)
    with pytest.raises(InvalidSchedule, match=f"invalid time {bad} in unless_between"):
        job().unless_between(start, end)


def test_describe_lists_filters() -> None:
    def holiday() -> bool:
        return False

    schedule = (
        Schedule("tests.job")
        .every(3600)
        .weekends()
        .between("22:00", "02:00")
        .skip(holiday)
        .environments("production")
    )
    assert schedule.describe() == (
        "every hour; only on Sunday, Saturday; only between 22:00 and 02:00; "
        "unless holiday; only in production"
    )
    assert schedule.description("nightly sweep").describe() == "nightly sweep"
