"""The caches and fast paths behind loading a stored schedule: same results, less work."""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from rota._planning import Budget, RunTemplate, plan_slots, window_slots
from rota._policies import Policies
from rota.cron import Cron
from rota.errors import (
    InvalidArguments,
    InvalidCron,
    InvalidSchedule,
    InvalidTimezone,
    NaiveDatetime,
)
from rota.runs import Run, RunOptions, RunState, scheduled_run
from rota.schedule import Schedule
from rota.stores import _codec
from rota.stores.base import ScheduleRecord, Store
from rota.stores.memory import MemoryStore
from rota.stores.sqlite import SQLiteStore
from rota.triggers import Interval, Once, Trigger

ZONES = ("UTC", "Europe/Berlin", "America/New_York", "Asia/Kolkata", "Australia/Lord_Howe")


def per_user(i: int, zone: str) -> Schedule:
    s = Schedule("reminders.send", kwargs={"user_id": i})
    if i % 3 == 0:
        s.daily_at("07:30")
    elif i % 3 == 1:
        s.weekdays().at("18:05")
    else:
        s.every_fifteen_minutes()
    return s.timezone(zone)


# -- the cron compile cache ------------------------------------------------------------------


def test_expressions_without_h_compile_once_for_every_seed_and_zone() -> None:
    a = Cron("30 7 * * 1-5", tz="UTC", seed="user-1")
    b = Cron("30 7 * * 1-5", tz="Europe/Berlin", seed="user-2")
    assert a._compiled is b._compiled
    assert a._compiled is Cron("30 7 * * 1-5")._compiled
    assert a.seed == "user-1"  # the seed is still the instance's
    assert b.seed == "user-2"
    assert a == Cron("30 7 * * 1-5", tz="UTC", seed="someone else")  # H-free: seed not in _key


def test_expressions_with_h_compile_per_seed() -> None:
    a = Cron("H H * * *", seed="alpha")
    b = Cron("H H * * *", seed="beta")
    assert a._compiled is not b._compiled
    assert a._compiled is Cron("H H * * *", tz="Asia/Tokyo", seed="alpha")._compiled
    again = Cron("H H * * *", seed="alpha")
    start = datetime(2026, 3, 1, tzinfo=UTC)
    assert again.next_after(start) == a.next_after(start)
    # THU holds an H but no hash: it shares one compile
    assert Cron("0 9 * * THU", seed="x")._compiled is Cron("0 9 * * THU", seed="y")._compiled


@pytest.mark.parametrize(
    ("expression", "seed", "message"),
    [
        ("H * * * *", None, "needs a seed"),
        ("H 61 * * *", None, "needs a seed"),  # as before: the H field is read first
        ("H 61 * * *", "s", "invalid hour '61'"),
        ("0 0 31 2 *", "s", "can never fire"),
        ("0 0 H(30-31) 2 *", "s", "can never fire"),
        ("61 * * * *", None, "invalid minute '61'"),
    ],
)
def test_errors_are_unchanged(expression: str, seed: str | None, message: str) -> None:
    for _ in range(2):  # a failed compile is not cached
        with pytest.raises(InvalidCron, match=message):
            Cron(expression, seed=seed)


def test_period_hint_is_shared_and_zone_independent() -> None:
    expected = {"*/15 * * * *": 15 * 60, "30 7 * * *": 86400, "0 9 * * 1-5": 86400}
    for expression, seconds in expected.items():
        hints = {Cron(expression, tz=z, seed=z).period_hint() for z in ZONES}
        assert hints == {timedelta(seconds=seconds)}


def test_the_cron_benchmark_paths_still_agree() -> None:
    """next_after / prev_before / matches of a cached compile, around a DST change."""
    for zone in ("America/New_York", "Europe/Berlin", "UTC"):
        cron = Cron("30 2 * * *", tz=zone, seed="one")
        other = Cron("30 2 * * *", tz=zone, seed="two")
        instant = datetime(2024, 3, 9, tzinfo=UTC)
        for _ in range(5):
            nxt = cron.next_after(instant)
            assert nxt == other.next_after(instant)
            assert cron.prev_before(nxt + timedelta(seconds=1)) == nxt
            assert cron.matches(nxt)
            instant = nxt


def test_prev_before_accepts_utc_for_a_utc_zone() -> None:
    cron = Cron("*/5 * * * *", tz="UTC")
    dt = datetime(2026, 1, 1, 0, 7, 30, tzinfo=UTC)
    got = cron.prev_before(dt)
    assert got == datetime(2026, 1, 1, 0, 5, tzinfo=UTC)
    assert got.tzinfo is ZoneInfo("UTC")
    with pytest.raises(Exception, match="dt"):
        cron.prev_before(datetime(2026, 1, 1))


# -- Schedule.from_spec -----------------------------------------------------------------------


def stored(spec: dict[str, Any]) -> dict[str, Any]:
    decoded: dict[str, Any] = json.loads(json.dumps(spec))
    return decoded


@pytest.mark.parametrize("zone", ZONES)
@pytest.mark.parametrize("i", range(3))
def test_from_spec_takes_the_parsed_trigger(i: int, zone: str) -> None:
    original = per_user(i, zone)
    spec = stored(original.to_spec())
    rebuilt = Schedule.from_spec(spec)
    assert rebuilt._trigger is not None  # no second compile on first use
    assert rebuilt.trigger == original.trigger
    assert rebuilt.trigger.to_spec() == original.trigger.to_spec()
    assert rebuilt.to_spec() == spec
    assert rebuilt.name == original.name


def test_a_trigger_seeded_otherwise_keeps_its_seed() -> None:
    """An ``after`` child stores its parent's trigger, seeded with the parent's name,
    so that ``H`` gives both the same slots; rebuilding keeps that seed."""
    spec = stored(Schedule("mymod.job").named("nightly").cron("H 3 * * *").to_spec())
    spec["trigger"]["seed"] = "parent"
    rebuilt = Schedule.from_spec(spec)
    assert rebuilt.trigger == Cron("H 3 * * *", seed="parent")
    assert rebuilt.trigger != Cron("H 3 * * *", seed="nightly")
    assert rebuilt.to_spec()["trigger"]["seed"] == "parent"


def test_an_expression_with_odd_spacing_is_respelled_as_before() -> None:
    spec = stored(Schedule("mymod.job").daily_at("07:30").to_spec())
    spec["trigger"]["expr"] = "30  7 * *   *"
    rebuilt = Schedule.from_spec(spec)
    assert rebuilt.expression == "30 7 * * *"
    assert rebuilt.trigger.to_spec()["expr"] == "30 7 * * *"


def test_a_days_filter_under_cron_recompiles() -> None:
    spec = stored(Schedule("mymod.job").daily_at("07:30").to_spec())
    spec["filters"] = [{"type": "days", "days": [1]}]
    rebuilt = Schedule.from_spec(spec)
    assert rebuilt.expression == "30 7 * * 1"
    assert rebuilt.trigger == Cron("30 7 * * 1", seed=rebuilt.name)


@pytest.mark.parametrize(
    "make",
    [
        lambda: Schedule("mymod.job").every(90, anchor=datetime(2026, 1, 1, 0, 0, 7, tzinfo=UTC)),
        lambda: Schedule("mymod.job").every(3600).timezone("Europe/Berlin"),
        lambda: Schedule("mymod.job").once_at(datetime(2030, 1, 1, 9, tzinfo=UTC)),
        lambda: (
            Schedule("mymod.job")
            .timezone("America/New_York")
            .once_at(datetime(2030, 1, 1, 9, tzinfo=ZoneInfo("Asia/Tokyo")))
        ),
    ],
)
def test_interval_and_once_triggers_are_reused_as_compiled(make: Any) -> None:
    original = make()
    spec = stored(original.to_spec())
    rebuilt = Schedule.from_spec(spec)
    assert rebuilt._trigger is not None
    assert isinstance(rebuilt.trigger, Interval | Once)
    assert rebuilt.trigger == rebuilt._compile() == original.trigger
    assert rebuilt.to_spec() == spec


@pytest.mark.parametrize(
    ("mutate", "error", "message"),
    [
        (lambda d: d["trigger"].update(expr="61 * * * *"), InvalidCron, "invalid minute"),
        (lambda d: d["trigger"].update(tz="Mars/Olympus"), InvalidTimezone, "Mars/Olympus"),
        (lambda d: d.update(kwargs=[1, 2]), InvalidArguments, "kwargs must be a dict"),
        (lambda d: d.update(args="abc"), InvalidArguments, "args must be a tuple or list"),
        (lambda d: d.update(job=""), InvalidSchedule, "needs a job name"),
        (lambda d: d.update(name=" x"), InvalidSchedule, "invalid schedule name"),
        (lambda d: d["policies"].update(retries=True), InvalidSchedule, "invalid retries"),
        (lambda d: d["policies"].update(queue=["q"]), InvalidSchedule, "invalid queue"),
        (lambda d: d["kwargs"].update(x=math.nan), InvalidArguments, "not JSON-serializable"),
    ],
)
def test_a_malformed_spec_still_raises(mutate: Any, error: type[Exception], message: str) -> None:
    Policies.from_spec(stored(Policies().to_spec()))  # the default is cached already
    spec = stored(per_user(0, "Europe/Berlin").to_spec())
    Policies.from_spec(spec["policies"] | {"retries": 1})  # an equal-valued spec, cached
    mutate(spec)
    with pytest.raises(error, match=message):
        Schedule.from_spec(spec)


# -- Policies.from_spec -----------------------------------------------------------------------


def test_equal_policy_specs_share_one_instance() -> None:
    a = Policies.from_spec(stored(Policies(retries=2).to_spec()))
    b = Policies.from_spec(stored(Policies(retries=2).to_spec()))
    assert a is b
    assert Policies.from_spec({}) is Policies.from_spec({})
    assert Policies.from_spec({}) == Policies()


def test_policy_specs_equal_in_value_but_not_type_stay_apart() -> None:
    as_int = Policies.from_spec({"timeout": 1})
    as_float = Policies.from_spec({"timeout": 1.0})
    assert as_int is not as_float
    assert json.dumps(as_int.to_spec()["timeout"]) == "1"
    assert json.dumps(as_float.to_spec()["timeout"]) == "1.0"
    Policies.from_spec({"retries": 1})
    with pytest.raises(InvalidSchedule, match="invalid retries True"):
        Policies.from_spec({"retries": True})
    with pytest.raises(InvalidSchedule, match="unknown policy 'retry'"):
        Policies.from_spec({"retry": 1})
    with pytest.raises(InvalidSchedule):
        Policies.from_spec({"queue": ["unhashable"]})


def test_grace_comes_back_as_a_timedelta() -> None:
    policies = Policies.from_spec({"grace": 30})
    assert policies.grace == timedelta(seconds=30)
    assert Policies.from_spec({"grace": 30}) is policies


# -- arguments: the JSON copy ------------------------------------------------------------------


def _deep(levels: int) -> Any:
    value: Any = "deep"
    for _ in range(levels):
        value = [value]
    return value


@pytest.mark.parametrize(
    "value",
    [
        {"user_id": 5},
        {"a": [1, 2.5, -0.0, "x", None, True, {"b": []}]},
        {"big": 2**70, "small": -(2**70)},
        {"nested": _deep(40)},
        {"tuple": (1, 2), "int_keys": {1: "a", 2: "b"}},
        {"subclass": type("S", (str,), {})("text")},
        {"surrogate": "\ud800", "unicode": "Grüße"},
    ],
)
def test_arguments_are_copied_as_the_json_round_trip_does(value: dict[str, Any]) -> None:
    schedule = Schedule("mymod.job", kwargs=value, args=[value])
    expected = json.loads(json.dumps(value))
    assert schedule.kwargs == expected
    assert schedule.args == (expected,)
    assert json.dumps(schedule.kwargs) == json.dumps(expected)
    assert [type(v) for v in schedule.kwargs.values()] == [type(v) for v in expected.values()]


def test_arguments_are_a_private_copy() -> None:
    inner = [1, 2]
    spec = stored(Schedule("mymod.job", kwargs={"list": [0]}).to_spec())
    spec["kwargs"] = {"list": inner}
    rebuilt = Schedule.from_spec(spec)
    inner.append(3)
    assert rebuilt.kwargs == {"list": [1, 2]}


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan, {1, 2}, object()])
def test_non_json_arguments_are_refused(bad: object) -> None:
    with pytest.raises(InvalidArguments, match="not JSON-serializable"):
        Schedule("mymod.job", kwargs={"x": bad})
    with pytest.raises(InvalidArguments, match="not JSON-serializable"):
        Schedule("mymod.job", args=[[bad]])


def test_a_cycle_is_refused() -> None:
    cycle: list[Any] = []
    cycle.append(cycle)
    with pytest.raises(InvalidArguments, match="not JSON-serializable"):
        Schedule("mymod.job", args=[cycle])


# -- planning ----------------------------------------------------------------------------------


def reference_window(
    trigger: Trigger, *, start: datetime, after: datetime | None, now: datetime
) -> Iterator[datetime]:
    """``window_slots`` as it was: every step through ``prev_before``."""
    slot = trigger.prev_before(now + timedelta(microseconds=1))
    while slot is not None and slot >= start and (after is None or slot > after):
        yield slot.astimezone(UTC)
        slot = trigger.prev_before(slot)


def reference_plan(
    trigger: Trigger, policies: Policies, *, start: datetime, after: datetime | None, now: datetime
) -> tuple[Any, ...]:
    from rota._planning import fire_rules, next_slot_after

    if start > now:
        return ((), (), 0, False, after, start)
    limit, grace = fire_rules(trigger, policies)
    fire: list[datetime] = []
    missed: list[datetime] = []
    newest = None
    more = False
    budget = Budget()
    for seen, slot in enumerate(reference_window(trigger, start=start, after=after, now=now)):
        newest = newest or slot
        if seen >= budget.scan_limit:
            more = True
            break
        if len(fire) < limit and not missed and (grace is None or now - slot <= grace):
            fire.append(slot)
        elif len(missed) < budget.max_missed:
            missed.append(slot)
        else:
            more = True
            break
    return (
        tuple(reversed(fire)),
        tuple(reversed(missed)),
        0,
        more,
        newest or after,
        next_slot_after(trigger, now),
    )


TRIGGERS: list[Trigger] = [
    Cron("30 1 * * *", tz="America/New_York"),
    Cron("*/30 * * * *", tz="America/New_York"),
    Cron("30 2 * * *", tz="Europe/Berlin"),
    Cron("0 9 * * 1-5", tz="Asia/Kolkata"),
    Interval(1800, tz="America/New_York"),
    Once(datetime(2026, 11, 1, 5, 30, tzinfo=UTC), tz="America/New_York"),
]


@pytest.mark.parametrize("trigger", TRIGGERS, ids=repr)
def test_the_window_shortcut_plans_as_before(trigger: Trigger) -> None:
    """Around New York's fall-back night (2026-11-01 01:00-02:00 twice) and elsewhere."""
    zone = trigger.tz
    base = datetime(2026, 11, 1, 4, 0, tzinfo=UTC)
    instants = [base + timedelta(minutes=15 * k) for k in range(-8, 16)]
    policies = [Policies(), Policies(catch_up="all"), Policies(catch_up="none")]
    for now, start, policy in itertools.product(instants, instants, policies):
        for start_in in (start, start.astimezone(zone), start.astimezone(zone).replace(fold=1)):
            for after in (None, start - timedelta(minutes=30)):
                got = plan_slots(
                    trigger, policy, start=start_in, after=after, now=now, allows=lambda s: True
                )
                want = reference_plan(trigger, policy, start=start_in, after=after, now=now)
                assert (
                    got.fire,
                    got.missed,
                    got.filtered,
                    got.more_missed,
                    got.last_slot,
                    got.next_due,
                ) == want, (now, start_in, after, policy)
                assert list(window_slots(trigger, start=start_in, after=after, now=now)) == list(
                    reference_window(trigger, start=start_in, after=after, now=now)
                )


def test_a_due_schedule_with_one_slot_takes_two_steps_forward_and_none_back() -> None:
    cron = Cron("30 7 * * *", tz="Europe/Berlin")
    calls: list[str] = []

    class Counting:
        tz = cron.tz

        def prev_before(self, dt: datetime) -> datetime | None:
            calls.append("prev")
            return cron.prev_before(dt)

        def next_after(self, dt: datetime) -> datetime | None:
            calls.append("next")
            return cron.next_after(dt)

        def period_hint(self) -> timedelta:
            return cron.period_hint()

    now = datetime(2026, 6, 1, 12, tzinfo=UTC)
    start = cron.prev_before(now).astimezone(UTC)
    plan = plan_slots(
        Counting(),  # type: ignore[arg-type]
        Policies(),
        start=start,
        after=None,
        now=now,
        allows=lambda s: True,
    )
    assert plan.fire == (start,)
    assert plan.next_due == cron.next_after(now).astimezone(UTC)
    assert calls == ["next", "next"]


def test_make_without_jitter_keeps_the_slot() -> None:
    slot = datetime(2026, 6, 1, 5, 30, tzinfo=UTC)
    template = RunTemplate("s", "mymod.job", (), {"a": 1}, RunOptions())
    run = template.make(slot, RunState.QUEUED, slot)
    assert run.available_at == slot
    jittered = RunTemplate("s", "mymod.job", (), {}, RunOptions(), jitter=60.0)
    delayed = jittered.make(slot, RunState.QUEUED, slot).available_at
    assert slot <= delayed <= slot + timedelta(seconds=60)
    assert jittered.make(slot, RunState.MISSED, slot).available_at == slot


@pytest.mark.parametrize("state", [RunState.QUEUED, RunState.WAITING, RunState.MISSED])
@pytest.mark.parametrize("zone", [UTC, ZoneInfo("Europe/Berlin")])
def test_scheduled_run_is_the_run_the_constructor_builds(state: RunState, zone: Any) -> None:
    now = datetime(2026, 6, 1, 5, 30, tzinfo=UTC).astimezone(zone)
    slot = now - timedelta(minutes=1)
    options = RunOptions(max_attempts=3, timeout=9.5)
    error = "missed: late" if state.is_terminal else None
    made = scheduled_run(
        "r1",
        "mymod.job",
        state,
        now,
        now,
        "s",
        slot,
        (1, "a"),
        {"k": [1]},
        "q",
        5,
        options,
        "host-1",
        ("p1",),
        error,
    )
    want = Run(
        id="r1",
        job="mymod.job",
        state=state,
        created_at=now,
        available_at=now,
        schedule="s",
        slot=slot,
        args=(1, "a"),
        kwargs={"k": [1]},
        queue="q",
        priority=5,
        options=options,
        host="host-1",
        parents=("p1",),
        finished_at=now if state.is_terminal else None,
        error=error,
    )
    assert made == want
    assert made.created_at.tzinfo is UTC
    assert made.slot is not None
    assert made.slot.tzinfo is UTC


def test_scheduled_run_refuses_a_naive_datetime() -> None:
    naive = datetime(2026, 6, 1, 5, 30)
    aware = naive.replace(tzinfo=UTC)
    with pytest.raises(NaiveDatetime):
        scheduled_run(
            "r1",
            "j",
            RunState.QUEUED,
            naive,
            aware,
            "s",
            aware,
            (),
            {},
            "q",
            0,
            RunOptions(),
            None,
            (),
            None,
        )


# -- the codec ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "text",
    [
        '{"a":[1,2.5,null,"x"],"b":{"c":true}}',
        ' {"a": 1} ',
        "[]",
        '"s"',
        "1e300",
        '{"é":"\\u00e9"}',
    ],
)
def test_loads_spec_reads_what_json_loads_reads(text: str) -> None:
    assert _codec.loads_spec(text) == json.loads(text)


@pytest.mark.parametrize("text", ['{"a":1} x', '{"a":1}{"b":2}', "", '{"a":', "nan?"])
def test_loads_spec_refuses_what_json_loads_refuses(text: str) -> None:
    with pytest.raises(json.JSONDecodeError):
        json.loads(text)
    with pytest.raises(json.JSONDecodeError):
        _codec.loads_spec(text)


def test_run_to_row_empty_fields_match_dumps() -> None:
    t = datetime(2026, 6, 1, tzinfo=UTC)
    plain = Run(id="r1", job="j", state=RunState.QUEUED, created_at=t, available_at=t)
    row = _codec.run_to_row(plain)
    for name, value in (("args", []), ("kwargs", {}), ("parents", []), ("result", None)):
        assert row[name] == _codec.dumps(value, name)
    assert row["checkpoint"] == _codec.dumps(None, "checkpoint")
    full = Run(
        id="r2",
        job="j",
        state=RunState.QUEUED,
        created_at=t,
        available_at=t,
        args=(1, "ü"),
        kwargs={"k": [1.5]},
        parents=("r1",),
        result={"ok": True},
        checkpoint=0,
    )
    row = _codec.run_to_row(full)
    assert (row["args"], row["kwargs"], row["parents"]) == ('[1,"ü"]', '{"k":[1.5]}', '["r1"]')
    assert (row["result"], row["checkpoint"]) == ('{"ok":true}', "0")
    assert _codec.row_to_run(row) == full
    with pytest.raises(InvalidArguments, match="result of run 'r3'"):
        _codec.run_to_row(
            Run(
                id="r3",
                job="j",
                state=RunState.QUEUED,
                created_at=t,
                available_at=t,
                result=math.nan,
            )
        )


# -- list_schedules: pages, and a name '' -------------------------------------------------------


def _stores(tmp_path: Path) -> list[Store]:
    sqlite = SQLiteStore(tmp_path / "rota.db")
    sqlite.migrate()
    return [MemoryStore(), sqlite]


def test_list_schedules_pages_from_the_cursor_and_keeps_an_empty_name(tmp_path: Path) -> None:
    t = datetime(2026, 6, 1, tzinfo=UTC)
    names = ["", "a", "b", "c", "d", "e"]
    for store in _stores(tmp_path):
        for name in reversed(names):
            record = ScheduleRecord(name=name, job="j", spec={}, created_at=t, updated_at=t)
            assert store.save_schedule(record, expected_version=None) is not None
        retired = store.get_schedule("c")
        assert retired is not None
        store.save_schedule(retired.evolve(retired=True), expected_version=retired.version)
        assert [r.name for r in store.list_schedules()] == ["", "a", "b", "d", "e"]
        assert [r.name for r in store.list_schedules(include_retired=True)] == names
        pages: list[str] = []
        after: str | None = None
        while page := store.list_schedules(after=after, limit=2):
            pages += [r.name for r in page]
            after = page[-1].name
        assert pages == ["", "a", "b", "d", "e"]
        assert [r.name for r in store.list_schedules(after="", limit=1)] == ["a"]
        assert [r.name for r in store.list_schedules(after="b")] == ["d", "e"]
        assert store.list_schedules(after="e") == []
        assert store.list_schedules(limit=0) == []
        assert store.delete_schedule("")
        assert [r.name for r in store.list_schedules(limit=1)] == ["a"]
        store.close()


def test_memory_active_runs_follow_every_state_change() -> None:
    store = MemoryStore()
    t = datetime(2026, 6, 1, tzinfo=UTC)
    for i in range(3):
        run = Run(id=f"r{i}", job="j", state=RunState.QUEUED, created_at=t, available_at=t)
        store.insert_run(run.evolve(schedule="s" if i < 2 else "other"))
    assert [r.id for r in store.active_runs("s")] == ["r0", "r1"]
    claimed = store.claim_runs(worker="w", now=t, limit=1, lease_seconds=30)
    assert [r.state for r in store.active_runs("s")].count(RunState.RUNNING) == (
        1 if claimed[0].schedule == "s" else 0
    )
    store.request_cancel("r0", now=t)
    store.request_cancel("r1", now=t)
    left = store.active_runs("s")
    assert all(r.state is RunState.RUNNING for r in left)
    assert store.active_runs("nothing") == []
    assert [r.id for r in store.active_runs("other")] in (["r2"], [])


def test_stored_record_is_the_record_the_constructor_builds() -> None:
    from dataclasses import fields

    from rota.stores.base import ScheduleRecord, stored_record

    at = datetime(2026, 6, 1, 5, 30, tzinfo=UTC)
    values: dict[str, Any] = {
        "name": "s",
        "job": "mymod.job",
        "spec": {"job": "mymod.job"},
        "created_at": at,
        "updated_at": at + timedelta(seconds=1),
        "source": "dynamic",
        "paused": True,
        "retired": False,
        "last_slot": at - timedelta(minutes=1),
        "next_due": at + timedelta(minutes=1),
        "version": 7,
        "per_host": True,
    }
    assert list(values) == [f.name for f in fields(ScheduleRecord)]
    made = stored_record(*values.values())
    assert made == ScheduleRecord(**values)
    assert {f.name: getattr(made, f.name) for f in fields(ScheduleRecord)} == values
