"""What ``rota schedules add``/``edit`` make of their options, and when ``rota list`` and
``rota schedules list`` call a schedule overdue: pure functions, a fake clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rota._cli_define import (
    Definition,
    Policy,
    When,
    duration,
    edited_schedule,
    instant,
    json_args,
    json_kwargs,
    new_schedule,
    parents,
)
from rota._cli_views import is_overdue
from rota.app import Rota
from rota.context import RunContext
from rota.errors import (
    ConfigurationError,
    InvalidArguments,
    InvalidCron,
    InvalidSchedule,
    InvalidTimezone,
    JobNotFound,
)
from rota.schedule import Schedule
from rota.stores.base import ScheduleRecord
from rota.testing import make_test_rota

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def greet(ctx: RunContext, who: str, punctuation: str = "!") -> str:
    return f"{who}{punctuation}"


@pytest.fixture
def app() -> Rota:
    rota = make_test_rota(NOW)
    rota.job(name="greet")(greet)
    return rota


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90), ("2.5", 2.5), ("30s", 30), ("10m", 600), ("1h30m", 5400), ("2d", 172_800)],
)
def test_cli_durations(text: str, seconds: float) -> None:
    assert duration(text, "--every") == seconds


@pytest.mark.parametrize("text", ["", "0", "-5", "5x", "1h 30m", "nan", "inf", "m"])
def test_cli_bad_durations_name_the_option(text: str) -> None:
    with pytest.raises(ConfigurationError, match=f"invalid --every {text!r}"):
        duration(text, "--every")


def test_cli_json_arguments() -> None:
    assert json_args(None) == []
    assert json_args('[1, "x", null]') == [1, "x", None]
    assert json_kwargs('{"who": "eu"}') == {"who": "eu"}
    with pytest.raises(InvalidArguments, match=r"--args is not valid JSON \(Expecting"):
        json_args("[1,")
    with pytest.raises(InvalidArguments, match=r"--args must be a JSON array.*not an object"):
        json_args('{"a": 1}')
    with pytest.raises(InvalidArguments, match=r"--kwargs must be a JSON object.*not a number"):
        json_kwargs("3")


def test_cli_instants_without_offset_are_read_in_the_zone() -> None:
    assert instant("2026-01-02T07:30", "Asia/Tokyo") == datetime(2026, 1, 1, 22, 30, tzinfo=UTC)
    assert instant("2026-01-02T07:30+01:00", "Asia/Tokyo") == datetime(
        2026, 1, 2, 6, 30, tzinfo=UTC
    )
    with pytest.raises(ConfigurationError, match="invalid --at 'soon'"):
        instant("soon", None)
    with pytest.raises(InvalidTimezone):
        instant("2026-01-02T07:30", "Mars/Base")


def test_cli_parents_and_one_trigger() -> None:
    assert parents(" a, b ,a") == ("a", "b")
    with pytest.raises(ConfigurationError, match="--after needs"):
        parents(" , ")
    with pytest.raises(ConfigurationError, match="not --cron and --at"):
        When(cron="* * * * *", at="2026-01-01").chosen()


def test_cli_new_schedule_is_what_the_options_say(app: Rota) -> None:
    definition = Definition(
        job="greet",
        args='["eu"]',
        when=When(cron="30 7 * * *", tz="Europe/Berlin"),
        policy=Policy(retries=2, timeout="1m", queue="mail", overlap="queue", catch_up="all"),
    )
    schedule = new_schedule(app, "s", definition)
    spec = schedule.to_spec()
    assert (spec["name"], spec["args"], spec["trigger"]["expr"]) == ("s", ["eu"], "30 7 * * *")
    assert spec["trigger"]["tz"] == "Europe/Berlin"
    policies = schedule.policies
    assert (policies.retries, policies.timeout, policies.queue) == (2, 60.0, "mail")
    assert (policies.overlap, policies.catch_up) == ("queue", "all")


@pytest.mark.parametrize(
    ("definition", "error"),
    [
        (Definition(job="gret", when=When(every="5")), JobNotFound),
        (Definition(job="greet", when=When(every="5")), InvalidArguments),
        (Definition(job="greet", args='["x"]'), ConfigurationError),
        (Definition(when=When(every="5")), ConfigurationError),
        (Definition(job="greet", args='["x"]', when=When(cron="61 * * * *")), InvalidCron),
        (
            Definition(job="greet", args='["x"]', when=When(every="5", tz="Nope/No")),
            InvalidTimezone,
        ),
        (
            Definition(job="greet", args='["x"]', when=When(every="5"), policy=Policy(retries=-1)),
            InvalidSchedule,
        ),
    ],
)
def test_cli_new_schedule_refuses_bad_definitions(
    app: Rota, definition: Definition, error: type[Exception]
) -> None:
    with pytest.raises(error):
        new_schedule(app, "s", definition)


def test_cli_new_schedule_without_job_names_the_jobs(app: Rota) -> None:
    with pytest.raises(ConfigurationError, match=r"--job JOB \(the app's jobs: greet\)"):
        new_schedule(app, "s", Definition(when=When(every="5")))


def stored(app: Rota, schedule: Schedule) -> ScheduleRecord:
    return app.add_schedule(schedule)


def test_cli_edit_keeps_what_is_not_given(app: Rota) -> None:
    old = app.new_schedule("greet", "x").named("e").timezone("Europe/Paris").cron("0 9 * * *")
    record = stored(app, old.retries(3).description("morning"))
    edited = edited_schedule(record, Definition(when=When(cron="15 10 * * *")))
    spec = edited.to_spec()
    assert spec["trigger"]["expr"] == "15 10 * * *"
    assert spec["trigger"]["tz"] == "Europe/Paris"
    assert (spec["args"], spec["description"], edited.policies.retries) == (["x"], "morning", 3)

    zone_only = edited_schedule(record, Definition(when=When(tz="Asia/Tokyo")))
    assert zone_only.to_spec()["trigger"] == {**record.spec["trigger"], "tz": "Asia/Tokyo"}

    interval = edited_schedule(
        record, Definition(kwargs='{"punctuation": "?"}', when=When(every="1h"))
    )
    assert interval.to_spec()["trigger"]["every"] == 3600
    assert interval.to_spec()["trigger"]["tz"] == "Europe/Paris"
    assert interval.kwargs == {"punctuation": "?"}


def test_cli_edit_after_takes_the_new_parents_slots(app: Rota) -> None:
    stored(app, app.new_schedule("greet", "a").named("p1").hourly())
    stored(app, app.new_schedule("greet", "b").named("p2").daily_at("02:30"))
    child = stored(app, app.new_schedule("greet", "c").named("kid").after("p1"))
    record = app.edit_schedule("kid", edited_schedule(child, Definition(after="p2")))
    assert record.spec["after"] == ["p2"]
    assert record.spec["trigger"]["expr"] == "30 2 * * *"


def record_due(app: Rota, schedule: Schedule, ago: timedelta, **changes: object) -> ScheduleRecord:
    return stored(app, schedule).evolve(next_due=NOW - ago, **changes)


@pytest.mark.parametrize(
    ("every", "ago", "overdue"),
    [
        (1, timedelta(seconds=89), False),  # every mode fires within 90 s
        (1, timedelta(seconds=91), True),
        (300, timedelta(minutes=4), False),  # within its grace (one period)
        (300, timedelta(minutes=6), True),
        (86_400, timedelta(hours=23), False),
        (86_400, timedelta(hours=25), True),
    ],
)
def test_cli_overdue_is_later_than_the_grace_and_90_seconds(
    app: Rota, every: int, ago: timedelta, overdue: bool
) -> None:
    schedule = app.new_schedule("greet", "x").named("s").every(every)
    assert is_overdue(record_due(app, schedule, ago), schedule, NOW) is overdue


def test_cli_paused_retired_or_unknown_progress_is_never_overdue(app: Rota) -> None:
    schedule = app.new_schedule("greet", "x").named("s").every(60)
    late = record_due(app, schedule, timedelta(days=3))
    assert is_overdue(late, schedule, NOW)
    assert not is_overdue(late.evolve(paused=True), schedule, NOW)
    assert not is_overdue(late.evolve(retired=True), schedule, NOW)
    assert not is_overdue(late.evolve(next_due=None), schedule, NOW)
    assert not is_overdue(None, schedule, NOW)
    explicit = Schedule.from_spec(schedule.to_spec()).catch_up("latest", grace=7 * 86_400)
    assert not is_overdue(late, explicit, NOW)
