"""Parsing, errors, identity and description of ``rota.cron.Cron``."""

from __future__ import annotations

import json
import pickle
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from rota.cron import Cron
from rota.errors import InvalidCron, InvalidTimezone, NaiveDatetime

START = datetime(2024, 1, 1, tzinfo=UTC)  # a Monday


def slots(expr: str, n: int = 5, start: datetime = START, **kw: str) -> list[str]:
    cron = Cron(expr, **kw)
    out: list[str] = []
    t = start
    for _ in range(n):
        t = cron.next_after(t)
        out.append(t.isoformat())
    return out


# -- the dialect -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "first"),
    [
        ("* * * * *", "2024-01-01T00:01:00+00:00"),
        ("*/5 * * * *", "2024-01-01T00:05:00+00:00"),
        ("5,10 * * * *", "2024-01-01T00:05:00+00:00"),
        ("10-12 3 * * *", "2024-01-01T03:10:00+00:00"),
        ("10-30/10 3 * * *", "2024-01-01T03:10:00+00:00"),
        ("50/5 3 * * *", "2024-01-01T03:50:00+00:00"),
        ("0 0 * feb *", "2024-02-01T00:00:00+00:00"),
        ("0 0 1 JUN-aug *", "2024-06-01T00:00:00+00:00"),
        ("0 0 * * sat", "2024-01-06T00:00:00+00:00"),
        ("0 0 * * 7", "2024-01-07T00:00:00+00:00"),
        ("0 0 * * 5-7", "2024-01-05T00:00:00+00:00"),
        ("0 0 * * FRI-SUN", "2024-01-05T00:00:00+00:00"),
        ("0 0 ? * 3", "2024-01-03T00:00:00+00:00"),
        ("0 0 2 * ?", "2024-01-02T00:00:00+00:00"),
        ("15 30 2 * * *", "2024-01-01T02:30:15+00:00"),
        ("*/20 * * * * *", "2024-01-01T00:00:20+00:00"),
        ("@yearly", "2025-01-01T00:00:00+00:00"),
        ("@annually", "2025-01-01T00:00:00+00:00"),
        ("@monthly", "2024-02-01T00:00:00+00:00"),
        ("@weekly", "2024-01-07T00:00:00+00:00"),
        ("@daily", "2024-01-02T00:00:00+00:00"),
        ("@midnight", "2024-01-02T00:00:00+00:00"),
        ("@HOURLY", "2024-01-01T01:00:00+00:00"),
        ("  0   0 * *   *  ", "2024-01-02T00:00:00+00:00"),
    ],
)
def test_feature_first_slot(expr: str, first: str) -> None:
    assert slots(expr, 1) == [first]


def test_six_fields_put_seconds_first() -> None:
    cron = Cron("5 4 3 * * *")
    assert cron.has_seconds
    assert not Cron("4 3 * * *").has_seconds
    assert cron.next_after(START).isoformat() == "2024-01-01T03:04:05+00:00"


def test_dom_and_dow_or_rule() -> None:
    # both restricted, neither starts with '*': either matches (1st of month or Friday)
    assert slots("0 0 1 * fri", 3) == [
        "2024-01-05T00:00:00+00:00",
        "2024-01-12T00:00:00+00:00",
        "2024-01-19T00:00:00+00:00",
    ]


def test_dom_star_prefix_means_and_rule() -> None:
    # cronie: '*/2' starts with '*', so both must match: odd days that are Wednesdays
    assert slots("0 0 */2 * wed", 3) == [
        "2024-01-03T00:00:00+00:00",
        "2024-01-17T00:00:00+00:00",
        "2024-01-31T00:00:00+00:00",
    ]


def test_question_mark_counts_as_star() -> None:
    assert slots("0 0 ? * 1-5", 6) == slots("0 0 * * 1-5", 6)


@pytest.mark.parametrize(
    ("expr", "message"),
    [
        ("61 * * * *", "invalid minute '61' in '61 * * * *' (allowed 0-59)"),
        ("* 24 * * *", "invalid hour '24' in '* 24 * * *' (allowed 0-23)"),
        ("* * 0 * *", "invalid day-of-month '0' in '* * 0 * *' (allowed 1-31, L, L-n, nW or LW)"),
        ("* * * 13 *", "invalid month '13' in '* * * 13 *' (allowed 1-12 or JAN-DEC)"),
        ("* * * * 8", "invalid day-of-week '8' in '* * * * 8' (allowed 0-7 or SUN-SAT, nL or n#k)"),
        ("60 * * * * *", "invalid second '60' in '60 * * * * *' (allowed 0-59)"),
        ("* * *", "expected 5 or 6 fields in '* * *', got 3"),
        ("", "expected 5 or 6 fields in '', got 0"),
        ("0 0 0 1 1 * 2024", "7 fields in '0 0 0 1 1 * 2024': a year field is not supported"),
        ("*/0 * * * *", "invalid minute '*/0' in '*/0 * * * *': step 0"),
        ("*/x * * * *", "step 'X' is not a number"),
        ("/5 * * * *", "a step needs something before '/'"),
        ("30-10 * * * *", "invalid minute '30-10' in '30-10 * * * *': 30 is after 10"),
        (
            "0 0 1 JANN *",
            "invalid month 'JANN' in '0 0 1 JANN *' (allowed 1-12 or JAN-DEC); did you mean 'JAN'?",
        ),
        ("0 0 * * MOM", "did you mean 'MON'?"),
        ("1,,2 * * * *", "invalid minute '1,,2' in '1,,2 * * * *': empty list item"),
        ("? * * * *", "'?' is only allowed in day-of-month and day-of-week"),
        ("0 0 L-0 * *", "'0' must be a number in 1-30"),
        ("0 0 32W * *", "'32' must be a number in 1-31"),
        ("0 0 * * 5#6", "'6' must be a number in 1-5"),
        ("0 0 * * L", "'L' alone is ambiguous"),
        ("0 0 * * 9L", "invalid day-of-week '9'"),
        ("H * * * *", "'H' in 'H * * * *' needs a seed: Cron(expr, seed='schedule-name')"),
        ("@reboot", "@reboot is not a schedule"),
        ("@dialy", "unknown alias '@dialy' in '@dialy'; did you mean '@daily'?"),
        ("0 0 30 2 *", "'0 0 30 2 *' can never fire"),
        ("0 0 31 4,6,9,11 *", "can never fire"),
        ("0 0 L-29 2 *", "can never fire"),
        ("１ * * * *", "invalid minute '１'"),
        ("99999999999 * * * *", "invalid minute '99999999999'"),
        ("1-2-3 * * * *", "invalid minute '2-3'"),
    ],
)
def test_errors_name_the_bad_part(expr: str, message: str) -> None:
    with pytest.raises(InvalidCron) as info:
        Cron(expr, seed=None)
    assert message in str(info.value)


def test_non_string_expression_is_invalid_cron() -> None:
    with pytest.raises(InvalidCron, match="must be a str"):
        Cron(5)  # type: ignore[arg-type]


def test_fifth_friday_of_february_is_possible() -> None:
    # Feb 2036 has 29 days and starts on a Friday
    cron = Cron("0 0 * 2 5#5")
    assert cron.next_after(START).isoformat() == "2036-02-29T00:00:00+00:00"


def test_unsatisfiable_is_refused_fast_and_satisfiable_rare_is_accepted() -> None:
    assert Cron("0 0 29 2 *").next_after(START).isoformat() == "2024-02-29T00:00:00+00:00"
    assert Cron("0 0 29 2 1").next_after(START).isoformat() == "2024-02-05T00:00:00+00:00"
    assert Cron("0 0 29 2 *").next_after(datetime(2096, 3, 1, tzinfo=UTC)).year == 2104


# -- H ---------------------------------------------------------------------------------------


def test_hash_is_stable_and_in_range() -> None:
    a = Cron("H H * * *", seed="nightly-report")
    b = Cron("H H * * *", seed="nightly-report")
    assert a.next_after(START) == b.next_after(START)
    slot = a.next_after(START)
    assert 0 <= slot.minute <= 59
    assert 0 <= slot.hour <= 23


def test_hash_spreads_over_seeds() -> None:
    minutes = {Cron("H * * * *", seed=f"job-{i}").next_after(START).minute for i in range(200)}
    assert len(minutes) > 40


def test_hash_forms() -> None:
    stepped = Cron("H/15 * * * *", seed="x")
    first = stepped.next_after(START).minute
    assert first < 15
    assert [s.minute for s in _take(stepped, 4)] == [first, first + 15, first + 30, first + 45]
    ranged = Cron("H(0-29) * * * *", seed="x")
    assert all(s.minute < 30 for s in _take(ranged, 3))
    ranged_step = Cron("H(0-29)/10 * * * *", seed="x")
    got = [s.minute for s in _take(ranged_step, 3)]
    assert got[0] < 10
    assert got == [got[0], got[0] + 10, got[0] + 20]
    dom = Cron("0 0 H * *", seed="x")
    assert 1 <= dom.next_after(START).day <= 28
    assert Cron("0 0 * * H", seed="y").next_after(START).tzinfo is not None
    assert Cron("H 0 0 * * *", seed="y").has_seconds


def test_hash_bad_forms() -> None:
    with pytest.raises(InvalidCron, match="expected H, H/n, H"):
        Cron("H(1-5 * * * *", seed="x")
    with pytest.raises(InvalidCron, match="40 is after 10"):
        Cron("H(40-10) * * * *", seed="x")


def _take(cron: Cron, n: int) -> list[datetime]:
    it = cron.iter_after(START - timedelta(microseconds=1))
    return [next(it) for _ in range(n)]


# -- identity, spec, tz ----------------------------------------------------------------------


def test_identity() -> None:
    c = Cron("30 2 * * *", tz="America/New_York")
    assert c.expression == "30 2 * * *"
    assert str(c) == "30 2 * * *"
    assert repr(c) == "Cron('30 2 * * *', tz='America/New_York')"
    assert c.tz == ZoneInfo("America/New_York")
    assert c.tzname == "America/New_York"
    assert c.seed is None
    assert c == Cron("30  2 * * *", tz=ZoneInfo("America/New_York"))
    assert hash(c) == hash(Cron("30 2 * * *", tz="America/New_York"))
    assert c != Cron("30 2 * * *")
    assert Cron("@daily") == Cron("0 0 * * *")
    assert Cron("0 0 * * MON") == Cron("0 0 * * mon")
    assert Cron("0 0 * * *", seed="a") == Cron("0 0 * * *", seed="b")  # no H: seed is moot
    assert Cron("H 0 * * *", seed="a") != Cron("H 0 * * *", seed="b")
    assert c != "30 2 * * *"
    assert repr(Cron("H * * * *", seed="s")) == "Cron('H * * * *', tz='UTC', seed='s')"


def test_immutable() -> None:
    c = Cron("* * * * *")
    with pytest.raises(AttributeError):
        c._tz = ZoneInfo("UTC")
    with pytest.raises(AttributeError):
        del c._tz
    with pytest.raises(AttributeError):
        c.extra = 1


def test_spec_round_trip_and_pickle() -> None:
    c = Cron("H 3 * * *", tz="Europe/Berlin", seed="digest")
    spec = c.to_spec()
    assert spec == {"type": "cron", "expr": "H 3 * * *", "tz": "Europe/Berlin", "seed": "digest"}
    again = Cron.from_spec(json.loads(json.dumps(spec)))
    assert again == c
    assert again.next_after(START) == c.next_after(START)
    assert pickle.loads(pickle.dumps(c)) == c
    with pytest.raises(InvalidCron, match="not a cron spec"):
        Cron.from_spec({"type": "interval"})


def test_timezone_errors() -> None:
    with pytest.raises(
        InvalidTimezone, match="unknown timezone 'Europe/Berln'; did you mean 'Europe/Berlin'"
    ):
        Cron("* * * * *", tz="Europe/Berln")
    for bad in ["", "America", "../etc/passwd", "a\x00b"]:
        with pytest.raises(InvalidTimezone):
            Cron("* * * * *", tz=bad)
    with pytest.raises(InvalidTimezone):
        Cron("* * * * *", tz=5)  # type: ignore[arg-type]
    assert Cron("* * * * *", tz=UTC).tzname == "UTC"  # type: ignore[arg-type]


def test_seed_must_be_str() -> None:
    with pytest.raises(InvalidCron, match="seed must be a str"):
        Cron("* * * * *", seed=3)  # type: ignore[arg-type]


def test_naive_datetimes_are_refused() -> None:
    c = Cron("* * * * *")
    naive = datetime(2024, 1, 1)
    for method in (c.next_after, c.prev_before, c.matches):
        with pytest.raises(NaiveDatetime):
            method(naive)
    with pytest.raises(NaiveDatetime):
        next(c.iter_after(naive))


# -- description and period ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("expr", "text"),
    [
        ("30 2 * * *", "At 02:30 AM, every day"),
        ("0 9,17 * * *", "At 09:00 AM and 05:00 PM, every day"),
        ("* * * * *", "Every minute, every day"),
        ("*/5 * * * *", "Every 5 minutes, every day"),
        ("0 * * * *", "Every hour, every day"),
        ("15 * * * *", "At minute 15 past the hour, every day"),
        ("*/7 9-17 * * *", "Every 7 minutes, between 09:00 AM and 05:59 PM, every day"),
        ("0 9 * * mon-fri", "At 09:00 AM, Monday through Friday"),
        ("0 9 * * 1,3", "At 09:00 AM, only on Monday and Wednesday"),
        ("0 0 L * *", "At 12:00 AM, on the last day of the month"),
        ("0 0 L-3 * *", "At 12:00 AM, 3 days before the last day of the month"),
        ("0 0 15W * *", "At 12:00 AM, on the weekday nearest day 15 of the month"),
        ("0 0 LW * *", "At 12:00 AM, on the last weekday of the month"),
        ("0 12 * * 5#3", "At 12:00 PM, on the third Friday of the month"),
        ("0 12 * * 5L", "At 12:00 PM, on the last Friday of the month"),
        ("0 0 1 * *", "At 12:00 AM, on day 1 of the month"),
        ("0 0 1 1 *", "At 12:00 AM, on day 1 of the month, only in January"),
        ("0 0 * 3-5 *", "At 12:00 AM, every day, March through May"),
        ("0 0 1 * fri", "At 12:00 AM, on day 1 of the month or Friday"),
        ("0 0 */2 * fri", "At 12:00 AM, every 2 days if it is Friday"),
        ("*/10 * * * * *", "Every 10 seconds, every minute, every day"),
        ("15 30 2 * * *", "At 02:30:15 AM, every day"),
        ("0 */10 */6 * * *", "Every 10 minutes, every 6 hours, every day"),
        ("5 */2 * * *", "At minute 5 past the hour, every 2 hours, every day"),
        ("0 0 1-5 * *", "At 12:00 AM, days 1 through 5 of the month"),
        ("0 0 */6 * * *", "At 12:00 AM, 06:00 AM, 12:00 PM and 06:00 PM, every day"),
    ],
)
def test_describe(expr: str, text: str) -> None:
    assert Cron(expr).describe() == text


@pytest.mark.parametrize(
    ("expr", "period"),
    [
        ("*/5 * * * *", timedelta(minutes=5)),
        ("* * * * * *", timedelta(seconds=1)),
        ("30 2 * * *", timedelta(days=1)),
        ("0 9 * * mon-fri", timedelta(days=1)),
        ("@weekly", timedelta(days=7)),
        ("@hourly", timedelta(hours=1)),
        ("@yearly", timedelta(days=365)),
    ],
)
def test_period_hint(expr: str, period: timedelta) -> None:
    assert Cron(expr).period_hint() == period
    assert Cron(expr).period_hint() == period  # cached
