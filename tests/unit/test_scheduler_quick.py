"""``Scheduler._quick``: the usual due schedule, stamped in one pass, as the general path would.

Two memory stores hold the same schedules; one scheduler takes the quick
lane where it can, the other never does. Ticked at the same instants
(minutes apart, across Europe's spring-forward night, with a downtime gap
for catch-up), both must leave the same runs and the same progress.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rota._firing import Fireable, fireable_from_spec
from rota.config import SchedulerConfig
from rota.jobs import JobRegistry, job_from_callable
from rota.runs import Run, RunState
from rota.schedule import Schedule
from rota.scheduler import Scheduler, TickReport, new_record
from rota.stores.base import ScheduleRecord
from rota.stores.memory import MemoryStore
from rota.testing import FakeClock

START = datetime(2026, 3, 28, 23, 0, tzinfo=UTC)  # two hours before Europe springs forward


def _schedules() -> list[Schedule]:
    return [
        Schedule("mail.send", kwargs={"user_id": 1}).every_minute(),
        Schedule("mail.send", kwargs={"user_id": 2}).every_five_minutes().overlap("allow"),
        Schedule("mail.send", kwargs={"user_id": 3})
        .daily_at("02:30")
        .timezone("Europe/Berlin")
        .overlap("allow"),
        Schedule("mail.send", kwargs={"user_id": 4})
        .cron("*/10 1-3 * * *")
        .timezone("Europe/Paris")
        .overlap("allow"),
        Schedule("mail.send", kwargs={"user_id": 5})
        .every_minute()
        .timezone("Asia/Kathmandu")
        .overlap("allow"),
        Schedule("mail.send", kwargs={"user_id": 6}).every_two_minutes().jitter(20),
        Schedule("mail.send", kwargs={"user_id": 7}).every_minute().between("00:00", "01:30"),
        Schedule("mail.send", kwargs={"user_id": 8})
        .every_minute()
        .catch_up("none")
        .overlap("allow"),
        Schedule("mail.send", kwargs={"user_id": 9})
        .every_minute()
        .catch_up("all", grace=timedelta(minutes=30))
        .overlap("allow"),
        Schedule("mail.digest").every_three_minutes().retries(2).timeout(9).on_queue("mail"),
        Schedule("mail.digest").every_minute().priority(5).overlap("replace").named("replace"),
        Schedule("mail.report").every_minute().after("mail.send[user_id=1]").named("child"),
        Schedule("mail.send").every(timedelta(seconds=90)).overlap("allow").named("ninety"),
        Schedule("mail.send").once_at(START + timedelta(minutes=20)).named("once"),
        Schedule("mail.send")
        .every_minute()
        .catch_up("latest", grace=20)
        .overlap("allow")
        .named("tight"),
        Schedule("mail.send").every_minute().environments("prod").named("prod-only"),
    ]


def _job(**kwargs: Any) -> None:
    """The job behind every schedule here."""


class _Counted:
    """Wraps ``Scheduler._quick`` to count what it fired and what it passed on."""

    def __init__(self, quick: Callable[..., Any]) -> None:
        self.quick = quick
        self.fired: set[str] = set()
        self.passed: set[str] = set()

    def __call__(
        self, record: ScheduleRecord, schedule: Fireable, now: datetime, active: Any
    ) -> Any:
        out = self.quick(record, schedule, now, active)
        (self.passed if out is None else self.fired).add(record.name)
        return out


def _scheduler(store: MemoryStore, *, quick: bool) -> tuple[Scheduler, _Counted | None]:
    jobs = JobRegistry()
    for name in ("mail.send", "mail.digest", "mail.report"):
        jobs.add(job_from_callable(_job, name=name, timeout=30))
    ticker = Scheduler(
        store,
        lambda record: fireable_from_spec(record.spec),
        config=SchedulerConfig(),
        clock=FakeClock(START),
        host="a",
        environment="test",
        jobs=jobs,
    )
    counted = None
    if quick:
        counted = _Counted(ticker._quick)
        ticker._quick = counted  # type: ignore[method-assign]
    else:
        ticker._quick = lambda record, schedule, now, active: None  # type: ignore[method-assign]
    return ticker, counted


def _instants() -> list[datetime]:
    """Every 47 s for three hours, but for a 40-minute downtime (catch-up)."""
    out = []
    at = START + timedelta(seconds=1)
    while at < START + timedelta(hours=3):
        if not START + timedelta(minutes=70) <= at < START + timedelta(minutes=110):
            out.append(at)
        at += timedelta(seconds=47)
    return out


def _state(store: MemoryStore) -> tuple[list[Run], list[tuple[Any, ...]]]:
    runs = sorted(store.list_runs(limit=100_000), key=lambda run: run.id)
    records = [
        (r.name, r.last_slot, r.next_due, r.version)
        for r in sorted(store.list_schedules(), key=lambda r: r.name)
    ]
    return runs, records


def _finish_some(store: MemoryStore, now: datetime) -> None:
    """Some runs of ``user_id`` 1 and ``replace`` end (cancelled), so that their next
    slots are usual again; the others stay queued (active: overlap decides)."""
    for run in store.list_runs(states=[RunState.QUEUED], limit=100_000):
        ours = run.schedule in ("mail.send[user_id=1]", "replace")
        if ours and run.slot is not None and run.slot.minute % 2 == 0:
            store.request_cancel(run.id, now=now)


@pytest.mark.parametrize("source", ["dynamic", "code"])
def test_the_quick_lane_leaves_what_the_general_path_leaves(source: str) -> None:
    stores = MemoryStore(), MemoryStore()
    for store in stores:
        for schedule in _schedules():
            record = new_record(schedule, START, source=source)
            assert store.save_schedule(record, expected_version=None) is not None
    quick, counted = _scheduler(stores[0], quick=True)
    general, _ = _scheduler(stores[1], quick=False)
    reports: list[tuple[TickReport, TickReport]] = []
    for now in _instants():
        reports.append((quick.tick(now), general.tick(now)))
        for store in stores:
            _finish_some(store, now)
    for a, b in reports:
        assert (a.due, a.fired, a.missed, a.skipped, a.cancelled, a.filtered, a.left) == (
            b.due,
            b.fired,
            b.missed,
            b.skipped,
            b.cancelled,
            b.filtered,
            b.left,
        )
        assert a.runs == b.runs
    assert _state(stores[0]) == _state(stores[1])
    runs = _state(stores[0])[0]
    states = {run.state for run in runs}
    assert {RunState.QUEUED, RunState.SKIPPED, RunState.MISSED, RunState.WAITING} <= states
    assert counted is not None
    # The quick lane fired the plain schedules and passed the others on.
    plain = {"mail.send[user_id=1]", "mail.send[user_id=3]", "mail.send[user_id=5]"}
    assert plain | {"ninety", "once", "tight", "mail.send[user_id=8]"} <= counted.fired
    assert {"tight", "mail.send[user_id=8]"} <= counted.passed  # late: missed
    assert "mail.send[user_id=6]" in counted.passed  # jitter
    assert "child" in counted.passed  # after
    assert "mail.send[user_id=7]" in counted.passed  # filter
    assert "prod-only" in counted.passed  # filter (environments)
    assert not {"mail.send[user_id=6]", "child", "mail.send[user_id=7]"} & counted.fired
    assert "mail.digest" in counted.passed  # overlap skip, with a run still queued


def test_a_run_from_the_quick_lane_equals_the_general_paths_run() -> None:
    schedule = Schedule("mail.send", args=[1, "x"], kwargs={"user_id": 7})
    schedule.every_minute().retries(3).on_queue("mail").priority(2).timeout(4)
    stores = MemoryStore(), MemoryStore()
    runs = []
    for store, use_quick in zip(stores, (True, False), strict=True):
        store.save_schedule(new_record(schedule, START), expected_version=None)
        ticker, counted = _scheduler(store, quick=use_quick)
        report = ticker.tick(START + timedelta(seconds=5))
        assert report.fired == 1
        if counted is not None:
            assert counted.fired == {schedule.name}
        runs.append(report.runs[0])
    assert runs[0] == runs[1]
    assert runs[0].kwargs == {"user_id": 7}
    assert runs[0].args == (1, "x")
    assert runs[0].kwargs is not runs[1].kwargs
    assert (runs[0].queue, runs[0].priority, runs[0].options.max_attempts) == ("mail", 2, 4)
