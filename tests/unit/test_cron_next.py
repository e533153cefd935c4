"""next_after / prev_before / matches per feature, month edges and DST rules.

DST expectations compare ``str(dt)`` so the offset (and thus ``fold``) counts.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rota.cron import Cron


def forward(expr: str, start: str, n: int, tz: str = "UTC") -> list[str]:
    """``n`` slots after ``start``, checked against prev_before and matches on the way back."""
    cron = Cron(expr, tz=tz)
    t = datetime.fromisoformat(start)
    out: list[datetime] = []
    for _ in range(n):
        t = cron.next_after(t)
        assert t.tzinfo is cron.tz
        assert cron.matches(t)
        out.append(t)
    for later, earlier in zip(out[1:], out, strict=False):
        assert str(cron.prev_before(later)) == str(earlier)
    return [str(s) for s in out]


# -- features ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "start", "expected"),
    [
        ("0 0 L * *", "2024-01-15T00:00+00:00", ["2024-01-31", "2024-02-29", "2024-03-31"]),
        ("0 0 L * *", "2023-01-31T00:00+00:00", ["2023-02-28", "2023-03-31", "2023-04-30"]),
        ("0 0 L-3 * *", "2024-01-01T00:00+00:00", ["2024-01-28", "2024-02-26", "2024-03-28"]),
        ("0 0 L-30 * *", "2023-12-31T00:00+00:00", ["2024-01-01", "2024-03-01", "2024-05-01"]),
        # 2022-01-01 is a Saturday: 1W is Monday the 3rd, never the Friday before
        ("0 0 1W * *", "2021-12-15T00:00+00:00", ["2022-01-03", "2022-02-01", "2022-03-01"]),
        # 2024-06-15 is a Saturday, 2024-09-15 a Sunday
        ("0 0 15W 6,9 *", "2024-01-01T00:00+00:00", ["2024-06-14", "2024-09-16", "2025-06-16"]),
        # 2024-03-31 is a Sunday: 31W is Friday the 29th; April has no 31st
        ("0 0 31W * *", "2024-03-01T00:00+00:00", ["2024-03-29", "2024-05-31", "2024-07-31"]),
        # 2024-08-31 is a Saturday, 2024-11-30 a Saturday
        ("0 0 LW * *", "2024-08-01T00:00+00:00", ["2024-08-30", "2024-09-30", "2024-10-31"]),
        ("0 0 LW 11 *", "2024-01-01T00:00+00:00", ["2024-11-29", "2025-11-28", "2026-11-30"]),
        ("0 12 * * 5#3", "2024-01-01T00:00+00:00", ["2024-01-19", "2024-02-16", "2024-03-15"]),
        ("0 12 * * 5L", "2024-01-01T00:00+00:00", ["2024-01-26", "2024-02-23", "2024-03-29"]),
        ("0 12 * * 5#5", "2024-01-01T00:00+00:00", ["2024-03-29", "2024-05-31", "2024-08-30"]),
        (
            "0 12 * * SUN#1,SAT#2",
            "2024-01-01T00:00+00:00",
            ["2024-01-07", "2024-01-13", "2024-02-04"],
        ),
        ("0 0 29 2 *", "2024-03-01T00:00+00:00", ["2028-02-29", "2032-02-29", "2036-02-29"]),
        ("0 0 29 2 *", "2096-03-01T00:00+00:00", ["2104-02-29", "2108-02-29", "2112-02-29"]),
        ("0 0 L 2 *", "2099-12-01T00:00+00:00", ["2100-02-28", "2101-02-28", "2102-02-28"]),
        ("0 0 1,L * *", "2024-01-15T00:00+00:00", ["2024-01-31", "2024-02-01", "2024-02-29"]),
        ("0 0 15 * 5L", "2024-01-01T00:00+00:00", ["2024-01-15", "2024-01-26", "2024-02-15"]),
        ("0 0 * * 1-5", "2024-01-05T00:00+00:00", ["2024-01-08", "2024-01-09", "2024-01-10"]),
    ],
)
def test_day_features(expr: str, start: str, expected: list[str]) -> None:
    got = forward(expr, start, len(expected))
    assert [s[:10] for s in got] == expected


def test_seconds_and_year_rollover() -> None:
    assert forward("*/20 59 23 31 12 *", "2024-12-31T23:59:30+00:00", 3) == [
        "2024-12-31 23:59:40+00:00",
        "2025-12-31 23:59:00+00:00",
        "2025-12-31 23:59:20+00:00",
    ]


def test_strictly_after_and_before() -> None:
    cron = Cron("*/5 * * * *")
    t = datetime(2024, 1, 1, 0, 5, tzinfo=UTC)
    assert str(cron.next_after(t)) == "2024-01-01 00:10:00+00:00"
    assert str(cron.prev_before(t)) == "2024-01-01 00:00:00+00:00"
    micro = t + timedelta(microseconds=1)
    assert str(cron.next_after(micro)) == "2024-01-01 00:10:00+00:00"
    assert str(cron.prev_before(micro)) == "2024-01-01 00:05:00+00:00"
    assert cron.matches(t)
    assert not cron.matches(micro)
    assert not cron.matches(t + timedelta(minutes=1))


def test_input_in_another_zone_result_in_cron_zone() -> None:
    cron = Cron("0 9 * * *", tz="Europe/Berlin")
    got = cron.next_after(datetime(2024, 6, 1, 6, 59, tzinfo=UTC))
    assert str(got) == "2024-06-01 09:00:00+02:00"
    assert cron.matches(datetime(2024, 6, 1, 7, 0, tzinfo=UTC))


def test_iter_after_is_lazy_and_ordered() -> None:
    cron = Cron("0 0 1 1 *")
    it = cron.iter_after(datetime(9990, 6, 1, tzinfo=UTC))
    years = [s.year for s in it]
    assert years == list(range(9991, 10000))


def test_no_slot_past_year_9999() -> None:
    with pytest.raises(OverflowError):
        Cron("0 0 1 1 *").next_after(datetime(9999, 6, 1, tzinfo=UTC))
    with pytest.raises(OverflowError):
        Cron("* * * * *").next_after(datetime(9999, 12, 31, 23, 59, tzinfo=UTC))
    with pytest.raises(OverflowError):
        Cron("0 0 2 1 *").prev_before(datetime(1, 1, 2, tzinfo=UTC))


# -- DST: cronie's rules ------------------------------------------------------------------------

NY = "America/New_York"


def test_rule1_fixed_time_in_gap_fires_at_end_of_gap() -> None:
    assert forward("30 2 * * *", "2024-03-09T00:00-05:00", 3, NY) == [
        "2024-03-09 02:30:00-05:00",
        "2024-03-10 03:00:00-04:00",
        "2024-03-11 02:30:00-04:00",
    ]


def test_rule1_several_times_in_gap_fire_once() -> None:
    assert forward("0,30 2 * * *", "2024-03-09T23:00-05:00", 3, NY) == [
        "2024-03-10 03:00:00-04:00",
        "2024-03-11 02:00:00-04:00",
        "2024-03-11 02:30:00-04:00",
    ]
    assert forward("0,30 2,3 * * *", "2024-03-09T23:00-05:00", 3, NY) == [
        "2024-03-10 03:00:00-04:00",
        "2024-03-10 03:30:00-04:00",
        "2024-03-11 02:00:00-04:00",
    ]


def test_rule2_fixed_time_in_repeated_hour_fires_once() -> None:
    assert forward("30 1 * * *", "2024-11-02T12:00-04:00", 3, NY) == [
        "2024-11-03 01:30:00-04:00",
        "2024-11-04 01:30:00-05:00",
        "2024-11-05 01:30:00-05:00",
    ]
    cron = Cron("30 1 * * *", tz=NY)
    second = datetime.fromisoformat("2024-11-03T01:30-05:00")
    assert not cron.matches(second)
    assert str(cron.next_after(second)) == "2024-11-04 01:30:00-05:00"
    assert str(cron.prev_before(second)) == "2024-11-03 01:30:00-04:00"


def test_rule2_fixed_hours_list_is_fixed_time() -> None:
    assert forward("0 0-23 * * *", "2024-11-03T00:00-04:00", 3, NY) == [
        "2024-11-03 01:00:00-04:00",
        "2024-11-03 02:00:00-05:00",
        "2024-11-03 03:00:00-05:00",
    ]


def test_rule3_wildcard_hour_fires_in_both_repeated_hours() -> None:
    assert forward("0 * * * *", "2024-11-03T00:00-04:00", 3, NY) == [
        "2024-11-03 01:00:00-04:00",
        "2024-11-03 01:00:00-05:00",
        "2024-11-03 02:00:00-05:00",
    ]
    got = forward("*/15 * * * *", "2024-11-03T00:50-04:00", 9, NY)
    assert got == [
        "2024-11-03 01:00:00-04:00",
        "2024-11-03 01:15:00-04:00",
        "2024-11-03 01:30:00-04:00",
        "2024-11-03 01:45:00-04:00",
        "2024-11-03 01:00:00-05:00",
        "2024-11-03 01:15:00-05:00",
        "2024-11-03 01:30:00-05:00",
        "2024-11-03 01:45:00-05:00",
        "2024-11-03 02:00:00-05:00",
    ]
    cron = Cron("*/15 * * * *", tz=NY)
    second = datetime.fromisoformat("2024-11-03T01:15-05:00")
    assert second.astimezone(cron.tz).fold == 1
    assert cron.matches(second)
    assert cron.next_after(second).fold == 1


def test_rule3_wildcard_hour_invents_nothing_in_gap() -> None:
    assert forward("0 * * * *", "2024-03-10T00:30-05:00", 3, NY) == [
        "2024-03-10 01:00:00-05:00",
        "2024-03-10 03:00:00-04:00",
        "2024-03-10 04:00:00-04:00",
    ]
    assert forward("*/15 * * * *", "2024-03-10T01:30-05:00", 3, NY) == [
        "2024-03-10 01:45:00-05:00",
        "2024-03-10 03:00:00-04:00",
        "2024-03-10 03:15:00-04:00",
    ]
    # minute wildcard at a fixed hour in the gap: no run that day
    assert forward("*/30 2 * * *", "2024-03-09T12:00-05:00", 2, NY) == [
        "2024-03-11 02:00:00-04:00",
        "2024-03-11 02:30:00-04:00",
    ]


def test_rule3_wildcard_minute_fixed_hour_repeats() -> None:
    assert forward("*/30 1 * * *", "2024-11-03T00:00-04:00", 5, NY) == [
        "2024-11-03 01:00:00-04:00",
        "2024-11-03 01:30:00-04:00",
        "2024-11-03 01:00:00-05:00",
        "2024-11-03 01:30:00-05:00",
        "2024-11-04 01:00:00-05:00",
    ]


def test_rule4_lord_howe_half_hour_shifts() -> None:
    lh = "Australia/Lord_Howe"
    # 2024-10-06 02:00 +10:30 jumps to 02:30 +11:00; 2024-04-07 02:00 +11:00 back to 01:30 +10:30
    assert forward("15 2 * * *", "2024-10-05T12:00+10:30", 2, lh) == [
        "2024-10-06 02:30:00+11:00",
        "2024-10-07 02:15:00+11:00",
    ]
    assert forward("45 1 * * *", "2024-04-06T12:00+11:00", 2, lh) == [
        "2024-04-07 01:45:00+11:00",
        "2024-04-08 01:45:00+10:30",
    ]
    assert forward("*/15 * * * *", "2024-04-07T01:40+11:00", 5, lh) == [
        "2024-04-07 01:45:00+11:00",
        "2024-04-07 01:30:00+10:30",
        "2024-04-07 01:45:00+10:30",
        "2024-04-07 02:00:00+10:30",
        "2024-04-07 02:15:00+10:30",
    ]


def test_rule4_midnight_that_does_not_exist() -> None:
    assert forward("0 0 * * *", "2024-03-09T12:00-05:00", 2, "America/Havana") == [
        "2024-03-10 01:00:00-04:00",
        "2024-03-11 00:00:00-04:00",
    ]
    assert forward("0 0 * * *", "2024-09-07T12:00-04:00", 2, "America/Santiago") == [
        "2024-09-08 01:00:00-03:00",
        "2024-09-09 00:00:00-03:00",
    ]
    # Santiago falls back at midnight: 23:00-23:59 on 2024-04-06 happen twice
    assert forward("30 23 * * *", "2024-04-06T12:00-03:00", 2, "America/Santiago") == [
        "2024-04-06 23:30:00-03:00",
        "2024-04-07 23:30:00-04:00",
    ]
    assert forward("30 * * * *", "2024-04-06T22:40-03:00", 3, "America/Santiago") == [
        "2024-04-06 23:30:00-03:00",
        "2024-04-06 23:30:00-04:00",
        "2024-04-07 00:30:00-04:00",
    ]


def test_gap_end_at_midnight_matches() -> None:
    # a fixed time in a gap that ends exactly at a midnight fires at that midnight
    cron = Cron("30 23 * * *", tz="America/Santiago")
    # Santiago: 2024-09-07 24:00 -04 -> 2024-09-08 01:00 -03, so 00:xx is the gap, not 23:xx
    assert str(cron.next_after(datetime.fromisoformat("2024-09-07T12:00-04:00"))) == (
        "2024-09-07 23:30:00-04:00"
    )
    havana = Cron("30 0 * * *", tz="America/Havana")
    slot = havana.next_after(datetime.fromisoformat("2024-03-09T12:00-05:00"))
    assert str(slot) == "2024-03-10 01:00:00-04:00"
    assert havana.matches(slot)
    assert str(havana.prev_before(slot + timedelta(seconds=1))) == str(slot)


def test_fixed_time_six_fields_in_gap() -> None:
    assert forward("*/20 30 2 * * *", "2024-03-10T01:00-05:00", 2, NY) == [
        "2024-03-10 03:00:00-04:00",
        "2024-03-11 02:30:00-04:00",
    ]


def test_prev_before_from_inside_repeated_hour() -> None:
    cron = Cron("0 * * * *", tz=NY)
    t = datetime.fromisoformat("2024-11-03T01:30-05:00")
    assert str(cron.prev_before(t)) == "2024-11-03 01:00:00-05:00"
    assert str(cron.prev_before(cron.prev_before(t))) == "2024-11-03 01:00:00-04:00"
    fixed = Cron("15 1 * * *", tz=NY)
    assert str(fixed.prev_before(t)) == "2024-11-03 01:15:00-04:00"
    assert str(fixed.next_after(datetime.fromisoformat("2024-11-03T01:10-05:00"))) == (
        "2024-11-04 01:15:00-05:00"
    )


def test_prev_before_a_transition_instant_at_midnight() -> None:
    # Santiago 2024-04-07 00:00 -03 becomes 2024-04-06 23:00 -04: the instant just before the
    # transition has wall time 23:59:59.999999 on the 6th, first pass
    cron = Cron("59 23 * * *", tz="America/Santiago")
    transition = datetime(2024, 4, 7, 3, 0, tzinfo=UTC)
    assert str(cron.prev_before(transition)) == "2024-04-06 23:59:00-03:00"
    assert str(cron.next_after(transition)) == "2024-04-07 23:59:00-04:00"
    wild = Cron("59 * * * *", tz="America/Santiago")
    assert str(wild.prev_before(transition)) == "2024-04-06 23:59:00-03:00"
    assert str(wild.next_after(transition)) == "2024-04-06 23:59:00-04:00"
