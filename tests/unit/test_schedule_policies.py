"""Policies, names, arguments and the schedule spec."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rota.errors import InvalidArguments, InvalidSchedule
from rota.schedule import Policies, Schedule
from rota.triggers import Interval, Once

Build = Callable[[Schedule], Schedule]


def job() -> Schedule:
    return Schedule("tests.job")


# -- policies ------------------------------------------------------------------------------------


def test_policy_defaults() -> None:
    p = job().policies
    assert p == Policies()
    assert (p.overlap, p.catch_up, p.grace, p.catch_up_limit) == ("skip", "latest", None, 100)
    assert (p.timeout, p.retries, p.backoff, p.max_backoff, p.jitter) == (None, 0, 1.0, 300.0, 0.0)
    assert (p.on_each_server, p.queue, p.priority, p.isolated) == (False, "default", 0, False)


def test_policy_methods() -> None:
    schedule = (
        job()
        .overlap("queue")
        .catch_up("all", grace=120, limit=10)
        .timeout(30)
        .retries(3, backoff=2, max_backoff=10)
        .jitter(5)
        .on_each_server()
        .on_queue("reports")
        .priority(-3)
        .isolated()
    )
    assert schedule.policies == Policies(
        overlap="queue",
        catch_up="all",
        grace=timedelta(minutes=2),
        catch_up_limit=10,
        timeout=30,
        retries=3,
        backoff=2,
        max_backoff=10,
        jitter=5,
        on_each_server=True,
        queue="reports",
        priority=-3,
        isolated=True,
    )
    assert job().overlap("allow").without_overlapping().policies.overlap == "skip"
    assert job().catch_up("none", grace=timedelta(hours=2)).policies.grace == timedelta(hours=2)


def test_policies_are_frozen() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        Policies().retries = 3  # type: ignore[misc]


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (
            lambda s: s.overlap("skp"),
            "unknown overlap mode 'skp'; did you mean 'skip'? "
            "(allowed: skip, queue, allow, replace)",
        ),
        (
            lambda s: s.overlap("never"),
            "unknown overlap mode 'never' (allowed: skip, queue, allow, replace)",
        ),
        (
            lambda s: s.catch_up("latests"),
            "unknown catch-up mode 'latests'; did you mean 'latest'? (allowed: latest, all, none)",
        ),
        (lambda s: s.catch_up("all", grace=-1), "invalid grace -1 (must be a number >= 0)"),
        (lambda s: s.catch_up("all", grace=timedelta(seconds=-1)), "invalid grace"),
        (
            lambda s: s.catch_up("all", limit=0),
            "invalid catch_up_limit 0 (must be an integer >= 1)",
        ),
        (lambda s: s.timeout(0), "invalid timeout 0 (must be a number > 0)"),
        (lambda s: s.timeout(float("nan")), "invalid timeout nan"),
        (lambda s: s.retries(-1), "invalid retries -1 (must be an integer >= 0)"),
        (lambda s: s.retries(1.5), "invalid retries 1.5"),
        (lambda s: s.retries(3, backoff=-1), "invalid backoff -1"),
        (lambda s: s.retries(3, max_backoff=-1), "invalid max_backoff -1"),
        (lambda s: s.jitter(-0.5), "invalid jitter -0.5"),
        (lambda s: s.on_queue(""), "invalid queue '' (must be a non-empty name)"),
        (lambda s: s.priority("high"), "invalid priority 'high'"),
    ],
)
def test_bad_policies_name_the_bad_part(build: Build, message: str) -> None:
    escaped = message.replace("(", r"\(").replace(")", r"\)").replace("?", r"\?")
    with pytest.raises(InvalidSchedule, match=escaped):
        build(job())


def test_retry_delay_is_exponential_and_capped() -> None:
    policies = job().retries(5, backoff=2, max_backoff=10).policies
    assert [policies.retry_delay(n) for n in range(6)] == [0.0, 2.0, 4.0, 8.0, 10.0, 10.0]
    assert Policies().retry_delay(10_000) == 300.0


@pytest.mark.parametrize(
    ("build", "grace"),
    [
        (lambda s: s.every_minute(), timedelta(minutes=1)),
        (lambda s: s.every_second(), timedelta(seconds=1)),
        (lambda s: s.hourly(), timedelta(hours=1)),
        (lambda s: s.daily(), timedelta(days=1)),
        (lambda s: s.weekly(), timedelta(days=1)),
        (lambda s: s.every(90), timedelta(seconds=90)),
        (lambda s: s.once_at(datetime(2030, 1, 1, tzinfo=UTC)), timedelta(days=1)),
        (lambda s: s.weekly().catch_up("latest", grace=300), timedelta(minutes=5)),
    ],
)
def test_effective_grace(build: Build, grace: timedelta) -> None:
    schedule = build(job())
    assert schedule.policies.effective_grace(schedule.trigger) == grace


def test_policies_spec_round_trip_and_errors() -> None:
    policies = Policies(catch_up="all", grace=timedelta(seconds=90), timeout=1.5, queue="q")
    spec = json.loads(json.dumps(policies.to_spec()))
    assert spec["grace"] == 90
    assert Policies.from_spec(spec) == policies
    with pytest.raises(
        InvalidSchedule, match="unknown policy 'retry' in spec; did you mean 'retries'"
    ):
        Policies.from_spec({"retry": 3})
    with pytest.raises(InvalidSchedule, match="unknown overlap mode"):
        Policies.from_spec({"overlap": "sometimes"})


# -- names and arguments -------------------------------------------------------------------------


def test_name_is_the_job_without_arguments() -> None:
    assert job().name == "tests.job"


@pytest.mark.parametrize(
    ("args", "kwargs", "name"),
    [
        ((), {"region": "eu"}, "mymod.send_digest[region=eu]"),
        (("eu", 5), {}, "mymod.send_digest[eu,5]"),
        (("eu",), {"limit": 5, "dry": True}, "mymod.send_digest[eu,dry=true,limit=5]"),
        (("a b",), {}, 'mymod.send_digest["a b"]'),
        (("1",), {}, 'mymod.send_digest["1"]'),
        ((1,), {}, "mymod.send_digest[1]"),
        (("true",), {}, 'mymod.send_digest["true"]'),
        (([1, 2],), {}, "mymod.send_digest[[1,2]]"),
        ((None,), {}, "mymod.send_digest[null]"),
    ],
)
def test_derived_name(args: tuple[Any, ...], kwargs: dict[str, Any], name: str) -> None:
    assert Schedule("mymod.send_digest", args, kwargs).name == name


def test_long_arguments_are_hashed_stably() -> None:
    long = {"recipients": ["a@example.com", "b@example.com", "c@example.com"]}
    name = Schedule("mymod.send_digest", kwargs=long).name
    assert name.startswith("mymod.send_digest[#")
    assert len(name) == len("mymod.send_digest[#]") + 10
    assert Schedule("mymod.send_digest", kwargs=dict(long)).name == name
    other = {"recipients": ["a@example.com", "b@example.com", "d@example.com"]}
    assert Schedule("mymod.send_digest", kwargs=other).name != name


@given(
    kwargs=st.dictionaries(
        st.text(min_size=1, max_size=8),
        st.one_of(st.integers(), st.text(max_size=12), st.booleans(), st.none()),
        max_size=4,
    )
)
def test_derived_names_tell_arguments_apart(kwargs: dict[str, Any]) -> None:
    reordered = dict(reversed(list(kwargs.items())))
    assert Schedule("j", kwargs=kwargs).name == Schedule("j", kwargs=reordered).name
    changed = {**kwargs, "__extra__": 1}  # keys above are at most 8 long
    assert Schedule("j", kwargs=kwargs).name != Schedule("j", kwargs=changed).name


def test_named_overrides_and_is_validated() -> None:
    assert Schedule("j", kwargs={"a": 1}).named("nightly").name == "nightly"
    for bad in ("", " x", "x ", 5):
        with pytest.raises(InvalidSchedule, match="invalid schedule name"):
            job().named(bad)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("make", "error", "message"),
    [
        (lambda: Schedule(""), InvalidSchedule, "a schedule needs a job name, got ''"),
        (lambda: Schedule(5), InvalidSchedule, "a schedule needs a job name"),  # type: ignore[arg-type]
        (lambda: Schedule("j", "abc"), InvalidArguments, "args must be a tuple or list, not str"),
        (lambda: Schedule("j", kwargs=[1]), InvalidArguments, "kwargs must be a dict"),  # type: ignore[arg-type]
        (lambda: Schedule("j", ({1, 2},)), InvalidArguments, "argument 0 of j is not JSON"),
        (
            lambda: Schedule("j", kwargs={"x": float("nan")}),
            InvalidArguments,
            "'x' of j is not JSON",
        ),
        (lambda: Schedule("j", kwargs={1: "a"}), InvalidArguments, "names must be strings"),  # type: ignore[dict-item]
    ],
)
def test_bad_job_and_arguments(
    make: Callable[[], Schedule], error: type[Exception], message: str
) -> None:
    with pytest.raises(error, match=message):
        make()


def test_arguments_are_copied() -> None:
    kwargs: dict[str, Any] = {"tags": ["a"]}
    schedule = Schedule("j", [1, 2], kwargs)
    kwargs["tags"].append("b")
    assert schedule.args == (1, 2)
    assert schedule.kwargs == {"tags": ["a"]}


# -- spec ----------------------------------------------------------------------------------------


def berlin_digest() -> Schedule:
    return (
        Schedule("mymod.send_digest", kwargs={"region": "eu"})
        .weekdays()
        .daily_at("07:30")
        .timezone("Europe/Berlin")
        .between("06:00", "09:00")
        .environments("production")
        .retries(3, backoff=5)
        .description("the morning digest")
    )


def plain() -> Schedule:
    return Schedule("mymod.poll", ["feeds"]).environments("production")


@pytest.mark.parametrize(
    "make",
    [
        berlin_digest,
        lambda: berlin_digest().cron("H 3 * * *").named("nightly"),
        lambda: berlin_digest().every_fifteen_seconds().between("22:00", "02:00"),
        lambda: berlin_digest().cron("@weekly").timezone("America/New_York"),
        lambda: berlin_digest().last_day_of_month("23:00").on_each_server().isolated().timeout(60),
        lambda: plain().every(90, anchor=datetime(2026, 1, 1, 0, 0, 7, tzinfo=UTC)).weekends(),
        lambda: (
            plain()
            .every(timedelta(hours=1))
            .timezone("Europe/Berlin")
            .unless_between("1:00", "5:00")
        ),
        lambda: plain().once_at(datetime(2030, 1, 1, tzinfo=UTC)).catch_up("none"),
    ],
)
def test_spec_round_trip(make: Callable[[], Schedule]) -> None:
    schedule = make()
    spec = json.loads(json.dumps(schedule.to_spec()))
    rebuilt = Schedule.from_spec(spec)
    assert rebuilt.to_spec() == spec
    assert rebuilt.name == schedule.name
    assert rebuilt.trigger == schedule.trigger
    assert rebuilt.policies == schedule.policies
    for hour in range(0, 24, 3):
        probe = datetime(2026, 11, 28, hour, 30, tzinfo=UTC)
        assert rebuilt.allows(probe, "production") == schedule.allows(probe, "production")


def test_spec_shape() -> None:
    spec = berlin_digest().to_spec()
    assert spec["name"] == "mymod.send_digest[region=eu]"
    assert (spec["job"], spec["args"], spec["kwargs"]) == (
        "mymod.send_digest",
        [],
        {"region": "eu"},
    )
    assert spec["description"] == "the morning digest"
    assert spec["filters"] == [
        {"type": "between", "start": "06:00", "end": "09:00"},
        {"type": "environments", "names": ["production"]},
    ]
    assert spec["has_callable_filters"] is False
    assert spec["policies"]["retries"] == 3


def test_callable_filters_are_flagged_not_stored() -> None:
    schedule = job().daily().when(lambda: True).skip(lambda slot: False).between("1:00", "2:00")
    spec = schedule.to_spec()
    assert spec["has_callable_filters"] is True
    assert spec["filters"] == [{"type": "between", "start": "01:00", "end": "02:00"}]
    json.dumps(spec)


def test_interval_days_are_stored_as_a_filter() -> None:
    spec = job().every(60).weekdays().to_spec()
    assert spec["trigger"]["type"] == "interval"
    assert spec["filters"] == [{"type": "days", "days": [1, 2, 3, 4, 5]}]
    rebuilt = Schedule.from_spec(spec)
    assert isinstance(rebuilt.trigger, Interval)
    assert not rebuilt.allows(datetime(2026, 11, 28, 12, 0, tzinfo=UTC))  # a Saturday
    assert isinstance(
        Schedule.from_spec(job().once_at(datetime(2030, 1, 1, tzinfo=UTC)).to_spec()).trigger, Once
    )


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda d: d.pop("job"), "schedule spec is missing key 'job'"),
        (lambda d: d.pop("trigger"), "schedule spec is missing key 'trigger'"),
        (lambda d: d["trigger"].update(type="yearly"), "invalid 'type' in trigger spec: 'yearly'"),
        (
            lambda d: d["filters"].append({"type": "holidays"}),
            "invalid 'type' in filter spec: 'holidays'",
        ),
        (
            lambda d: d["filters"].append({"type": "between", "start": "1:00"}),
            "invalid between filter spec",
        ),
        (lambda d: d["policies"].update(overlap="maybe"), "unknown overlap mode 'maybe'"),
        (lambda d: d.update(name=""), None),
    ],
)
def test_bad_schedule_specs(
    mutate: Callable[[dict[str, Any]], object], message: str | None
) -> None:
    spec = berlin_digest().to_spec()
    mutate(spec)
    if message is None:  # an empty name falls back to the derived one
        assert Schedule.from_spec(spec).name == "mymod.send_digest[region=eu]"
        return
    with pytest.raises(InvalidSchedule, match=message):
        Schedule.from_spec(spec)


def test_from_spec_refuses_a_non_dict() -> None:
    with pytest.raises(InvalidSchedule, match="schedule spec must be a dict, not list"):
        Schedule.from_spec([])  # type: ignore[arg-type]


def test_repr() -> None:
    assert repr(job().hourly()).startswith("Schedule('tests.job', ")
