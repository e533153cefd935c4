"""Interval, Once, the Trigger protocol and trigger specs."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

import rota.cron
from rota.errors import InvalidCron, InvalidSchedule, InvalidTimezone, NaiveDatetime
from rota.triggers import Cron, Interval, Once, Trigger, trigger_from_spec

BERLIN = ZoneInfo("Europe/Berlin")
T0 = datetime(2026, 3, 28, 22, 47, 13, tzinfo=UTC)


def utc(
    year: int, month: int, day: int, hour: int = 0, minute: int = 0, second: int = 0, us: int = 0
) -> datetime:
    return datetime(year, month, day, hour, minute, second, us, tzinfo=UTC)


# -- Interval ------------------------------------------------------------------------------------


def test_interval_default_anchor_lands_on_whole_minutes() -> None:
    every_minute = Interval(60)
    assert every_minute.next_after(T0) == utc(2026, 3, 28, 22, 48)
    assert every_minute.prev_before(T0) == utc(2026, 3, 28, 22, 47)


def test_interval_is_strict_on_both_sides() -> None:
    on_slot = utc(2026, 3, 28, 22, 48)
    every_minute = Interval(60)
    assert every_minute.next_after(on_slot) == utc(2026, 3, 28, 22, 49)
    assert every_minute.prev_before(on_slot) == utc(2026, 3, 28, 22, 47)
    assert every_minute.matches(on_slot)
    assert not every_minute.matches(T0)


def test_interval_anchor_sets_the_phase_before_and_after_it() -> None:
    quarter_past = Interval(3600, anchor=utc(2026, 1, 1, 0, 15))
    assert quarter_past.next_after(T0) == utc(2026, 3, 28, 23, 15)
    assert quarter_past.prev_before(utc(2025, 6, 1, 12, 0)) == utc(2025, 6, 1, 11, 15)


def test_interval_accepts_timedelta_and_fractional_seconds() -> None:
    assert Interval(timedelta(minutes=1)) == Interval(60)
    assert Interval(1.5).next_after(utc(2026, 1, 1)) == utc(2026, 1, 1, 0, 0, 1, 500_000)


def test_interval_follows_elapsed_time_across_dst() -> None:
    hourly = Interval(3600, tz="Europe/Berlin")
    start = datetime(2026, 3, 29, 0, 30, tzinfo=BERLIN)
    first = hourly.next_after(start)
    second = hourly.next_after(first)
    assert (str(first), str(second)) == ("2026-03-29 01:00:00+01:00", "2026-03-29 03:00:00+02:00")
    fall = datetime(2026, 10, 25, 1, 30, tzinfo=BERLIN)
    slots = [hourly.next_after(fall)]
    slots.append(hourly.next_after(slots[-1]))
    slots.append(hourly.next_after(slots[-1]))
    assert [str(s) for s in slots] == [
        "2026-10-25 02:00:00+02:00",
        "2026-10-25 02:00:00+01:00",
        "2026-10-25 03:00:00+01:00",
    ]


def test_interval_answers_in_its_timezone() -> None:
    slot = Interval(60, tz="Europe/Berlin").next_after(T0)
    assert slot.tzinfo == BERLIN
    assert str(slot) == "2026-03-28 23:48:00+01:00"


@pytest.mark.parametrize(
    "every",
    [0, -1, 0.5, 0.999, timedelta(milliseconds=10), timedelta(0), float("nan"), float("inf")],
)
def test_interval_refuses_sub_second_and_non_positive(every: float | timedelta) -> None:
    with pytest.raises(InvalidSchedule, match="interval"):
        Interval(every)


@pytest.mark.parametrize("every", [True, "60", None])
def test_interval_refuses_non_numbers(every: Any) -> None:
    with pytest.raises(InvalidSchedule, match="number of seconds or a timedelta"):
        Interval(every)


def test_interval_sub_second_message_is_clear() -> None:
    with pytest.raises(InvalidSchedule, match=r"0\.5s .*at least 1 second"):
        Interval(0.5)


def test_interval_refuses_naive_datetimes() -> None:
    naive = datetime(2026, 1, 1)
    with pytest.raises(NaiveDatetime, match="anchor"):
        Interval(60, anchor=naive)
    for method in (Interval(60).next_after, Interval(60).prev_before, Interval(60).matches):
        with pytest.raises(NaiveDatetime):
            method(naive)


def test_interval_refuses_unknown_timezone() -> None:
    with pytest.raises(InvalidTimezone, match=r"Europe/Berln.*Europe/Berlin"):
        Interval(60, tz="Europe/Berln")


@pytest.mark.parametrize(
    ("every", "text"),
    [
        (1, "every second"),
        (60, "every minute"),
        (90, "every 90 seconds"),
        (5400, "every 90 minutes"),
        (7200, "every 2 hours"),
        (86400 * 3, "every 3 days"),
        (1.5, "every 1.5 seconds"),
    ],
)
def test_interval_describe(every: float, text: str) -> None:
    assert Interval(every).describe() == text


def test_interval_describe_mentions_a_custom_anchor() -> None:
    text = Interval(3600, anchor=utc(2026, 1, 1, 0, 15)).describe()
    assert text == "every hour, aligned to 2026-01-01T00:15:00+00:00"


def test_interval_is_frozen_and_hashable() -> None:
    interval = Interval(60)
    with pytest.raises(dataclasses.FrozenInstanceError):
        interval.every = timedelta(seconds=5)  # type: ignore[misc]
    assert len({Interval(60), Interval(60.0), Interval(timedelta(seconds=60))}) == 1
    assert Interval(60).period_hint() == timedelta(minutes=1)


@given(
    every=st.integers(min_value=1_000_000, max_value=10 * 86_400 * 1_000_000),
    anchor=st.datetimes(
        min_value=datetime(1990, 1, 1), max_value=datetime(2060, 1, 1), timezones=st.just(UTC)
    ),
    probe=st.datetimes(
        min_value=datetime(1990, 1, 1), max_value=datetime(2060, 1, 1), timezones=st.just(UTC)
    ),
)
def test_interval_slots_are_anchor_plus_k_every(
    every: int, anchor: datetime, probe: datetime
) -> None:
    interval = Interval(timedelta(microseconds=every), anchor=anchor)
    after = interval.next_after(probe)
    before = interval.prev_before(probe)
    assert before < probe < after
    assert (after - anchor) % interval.every == timedelta(0)
    assert after - before in (interval.every, 2 * interval.every)
    assert interval.matches(after)
    assert interval.matches(before)
    assert interval.prev_before(after) == (before if not interval.matches(probe) else probe)
    assert interval.next_after(before) == (after if not interval.matches(probe) else probe)


@given(
    start=st.datetimes(
        min_value=datetime(2000, 1, 1),
        max_value=datetime(2050, 1, 1),
        timezones=st.sampled_from([UTC, BERLIN, ZoneInfo("America/New_York")]),
    ),
    steps=st.integers(min_value=1, max_value=500),
)
def test_interval_never_drifts(start: datetime, steps: int) -> None:
    interval = Interval(3607, tz="Europe/Berlin")
    slot = interval.next_after(start)
    first = slot
    for _ in range(steps):
        slot = interval.next_after(slot)
    # Elapsed time, whatever the zone's offsets (same-zone subtraction would be wall-clock).
    assert slot.astimezone(UTC) - first.astimezone(UTC) == steps * interval.every


# -- Once ----------------------------------------------------------------------------------------


def test_once_fires_once() -> None:
    at = utc(2026, 11, 24, 6, 30)
    once = Once(at)
    assert once.next_after(at - timedelta(seconds=1)) == at
    assert once.next_after(at) is None
    assert once.prev_before(at) is None
    assert once.prev_before(at + timedelta(microseconds=1)) == at
    assert once.matches(at.astimezone(BERLIN))
    assert not once.matches(at + timedelta(seconds=1))


def test_once_keeps_a_zoneinfo_and_falls_back_to_utc() -> None:
    in_berlin = Once(datetime(2026, 11, 24, 7, 30, tzinfo=BERLIN))
    assert in_berlin.tz == BERLIN
    assert str(in_berlin.at) == "2026-11-24 07:30:00+01:00"
    fixed = Once(datetime(2026, 11, 24, 7, 30, tzinfo=timezone(timedelta(hours=1))))
    assert fixed.tz == ZoneInfo("UTC")
    assert str(fixed.at) == "2026-11-24 06:30:00+00:00"
    assert Once(utc(2026, 1, 1), tz="Europe/Berlin").at.tzinfo == BERLIN


def test_once_refuses_naive() -> None:
    with pytest.raises(NaiveDatetime, match="at must be timezone-aware"):
        Once(datetime(2026, 1, 1))
    with pytest.raises(NaiveDatetime):
        Once(utc(2026, 1, 1)).next_after(datetime(2026, 1, 1))


def test_once_describe_and_period() -> None:
    once = Once(datetime(2026, 11, 24, 7, 30, tzinfo=BERLIN))
    assert once.describe() == "once at 2026-11-24 07:30:00+01:00"
    assert once.period_hint() == timedelta(days=1)


# -- the protocol and specs ----------------------------------------------------------------------


def test_every_trigger_satisfies_the_protocol() -> None:
    triggers: list[Trigger] = [Cron("* * * * *"), Interval(60), Once(T0)]
    assert all(isinstance(t, Trigger) for t in triggers)
    assert Cron is rota.cron.Cron


@pytest.mark.parametrize(
    "trigger",
    [
        Interval(60),
        Interval(1.5, anchor=utc(2026, 1, 1, 0, 0, 7), tz="Europe/Berlin"),
        Interval(timedelta(days=2), tz="America/New_York"),
        Once(T0),
        Once(datetime(2026, 11, 24, 7, 30, tzinfo=BERLIN)),
    ],
    ids=repr,
)
def test_spec_round_trip(trigger: Trigger) -> None:
    spec = json.loads(json.dumps(trigger.to_spec()))
    assert trigger_from_spec(spec) == trigger


def test_cron_spec_round_trip() -> None:
    cron = Cron("H 3 * * 1-5", tz="Europe/Berlin", seed="nightly")
    spec = json.loads(json.dumps(cron.to_spec()))
    assert trigger_from_spec(spec) == cron


def test_interval_spec_shape() -> None:
    assert Interval(60, tz="Europe/Berlin").to_spec() == {
        "type": "interval",
        "every": 60,
        "anchor": "1970-01-01T00:00:00+00:00",
        "tz": "Europe/Berlin",
    }


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ({}, "invalid 'type' in trigger spec: None"),
        ({"type": "weekly"}, "invalid 'type' in trigger spec: 'weekly'"),
        ({"type": "interval"}, "missing key 'every'"),
        ({"type": "interval", "every": "60"}, "invalid 'every'"),
        ({"type": "interval", "every": 0.1}, "at least 1 second"),
        ({"type": "interval", "every": 60, "anchor": "noon"}, "invalid 'anchor'"),
        ({"type": "once"}, "missing key 'at'"),
        ({"type": "cron", "expression": "* * * * *"}, "cron trigger spec is missing key 'expr'"),
        ({"type": "once", "at": 5}, "invalid 'at'"),
    ],
)
def test_bad_specs_name_the_bad_key(spec: dict[str, Any], message: str) -> None:
    with pytest.raises(InvalidSchedule, match=message.replace("(", r"\(")):
        trigger_from_spec(spec)


def test_bad_spec_types() -> None:
    with pytest.raises(InvalidSchedule, match="must be a dict"):
        trigger_from_spec([])  # type: ignore[arg-type]
    with pytest.raises(NaiveDatetime):
        trigger_from_spec({"type": "once", "at": "2026-01-01T00:00:00"})
    with pytest.raises(InvalidTimezone):
        trigger_from_spec({"type": "interval", "every": 60, "tz": "Mars/Olympus"})
    with pytest.raises(InvalidCron):
        trigger_from_spec({"type": "cron", "expr": "61 * * * *", "tz": "UTC"})
