"""``rota._firing``: a stored spec, read for the scheduler, plans as ``Schedule.from_spec``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rota._firing import StoredSchedule, fireable_from_spec
from rota._planning import plan_slots
from rota.errors import NaiveDatetime, RotaError
from rota.schedule import Schedule

NOW = datetime(2026, 3, 29, 1, 30, tzinfo=UTC)  # Europe's spring-forward night


def _specs() -> list[Schedule]:
    return [
        Schedule("mail.send", kwargs={"user_id": 7}).daily_at("02:30").timezone("Europe/Berlin"),
        Schedule("mail.send", kwargs={"user_id": 8}).cron("H H * * *"),
        Schedule("mail.send", args=[1, "x"]).every_five_minutes().timezone("Asia/Kathmandu"),
        Schedule("mail.send").every(timedelta(seconds=90)).named("ninety"),
        Schedule("mail.send").once_at(datetime(2026, 3, 29, 1, 0, tzinfo=UTC)).named("one"),
        Schedule("mail.digest").hourly_at(15).retries(3).timeout(20).on_queue("mail").jitter(5),
        Schedule("mail.digest").hourly().catch_up("all", grace=timedelta(hours=3)).named("all"),
        Schedule("mail.report").named("child").hourly().after("parent-a", "parent-b"),
    ]


@pytest.mark.parametrize("schedule", _specs(), ids=lambda s: s.name)
def test_a_plain_spec_is_read_without_the_builder_and_plans_the_same_slots(
    schedule: Schedule,
) -> None:
    spec = schedule.to_spec()
    fast = fireable_from_spec(spec)
    full = Schedule.from_spec(spec)
    assert isinstance(fast, StoredSchedule)
    assert (fast.job, fast.args, dict(fast.kwargs)) == (full.job, full.args, full.kwargs)
    assert fast.trigger == full.trigger
    assert fast.policies == full.policies
    assert fast.after_names == full.after_names
    start = NOW - timedelta(hours=30)
    plans = [
        plan_slots(s.trigger, s.policies, start=start, after=None, now=NOW, allows=s.allows)
        for s in (fast, full)
    ]
    assert plans[0] == plans[1]
    assert plans[0].last_slot is not None  # the window held slots to compare


def test_a_spec_with_filters_goes_through_the_builder() -> None:
    schedule = Schedule("mail.send").hourly().between("08:00", "18:00")
    fast = fireable_from_spec(schedule.to_spec())
    assert isinstance(fast, Schedule)
    early = datetime(2026, 3, 30, 6, 0, tzinfo=UTC)
    midday = datetime(2026, 3, 30, 10, 0, tzinfo=UTC)
    assert (fast.allows(early), fast.allows(midday)) == (False, True)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"job": None}, "job name"),
        ({"trigger": {"type": "cron", "expr": "61 * * * *"}}, "61"),
        ({"trigger": {"type": "sundial"}}, "sundial"),
        ({"policies": {"overlap": "sometimes"}}, "overlap"),
        ({"after": "parent"}, "after"),
    ],
)
def test_a_malformed_spec_fails_as_schedule_from_spec_does(
    change: dict[str, Any], message: str
) -> None:
    spec = {**Schedule("mail.send").hourly().to_spec(), **change}
    with pytest.raises(RotaError) as full:
        Schedule.from_spec(spec)
    with pytest.raises(RotaError) as fast:
        fireable_from_spec(spec)
    assert type(fast.value) is type(full.value)
    assert str(fast.value) == str(full.value)
    assert message in str(fast.value)


def test_parent_names_the_builder_would_rewrite_go_through_it() -> None:
    spec = {**Schedule("mail.send").hourly().named("kid").to_spec(), "after": [" parent "]}
    fireable = fireable_from_spec(spec)
    assert isinstance(fireable, Schedule)
    assert fireable.after_names == ("parent",)


def test_a_naive_slot_is_refused() -> None:
    fast = fireable_from_spec(Schedule("mail.send").hourly().to_spec())
    with pytest.raises(NaiveDatetime):
        fast.allows(datetime(2026, 1, 1, 12, 0))
