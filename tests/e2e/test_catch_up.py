"""``rota run`` that comes late fires the latest missed slot and records the rest as missed.

Lateness is real store state: the schedule is synced with the Python API at a
past instant (as if the first ``rota run`` had been hours ago), then the real
CLI runs now.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from rota.runs import RunState

from .support import Project, avoid_minute_edge

APP = """
rota = Rota()


@rota.job(name="hourly")
def hourly(ctx: RunContext) -> str:
    mark("hourly.txt", ctx.slot.isoformat() if ctx.slot else "-")
    return "ok"


rota.schedule(hourly).hourly().named("hourly")
"""


def hours_between(start: datetime, end: datetime) -> list[datetime]:
    """Every whole hour in ``[start, end]``."""
    first = start.replace(minute=0, second=0, microsecond=0)
    if first < start:
        first += timedelta(hours=1)
    count = int((end - first) / timedelta(hours=1)) + 1
    return [first + timedelta(hours=k) for k in range(max(count, 0))]


def test_late_run_fires_the_latest_slot_and_records_older_as_missed(
    project: Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    project.write_app(APP)
    monkeypatch.setenv("ROTA_STORE", project.store_url)
    avoid_minute_edge()
    stored_at = datetime.now(UTC) - timedelta(hours=5)
    seed = project.load_app()
    assert seed.sync_schedules(now=stored_at).created == ("hourly",)
    seed.close()

    done = project.rota("run")
    assert done.returncode == 0, done.stderr
    slots = hours_between(stored_at.replace(second=0, microsecond=0), datetime.now(UTC))
    assert done.stdout.startswith(f"rota run: 1 succeeded, {len(slots) - 1} missed in ")
    runs = sorted(project.runs("hourly"), key=lambda run: run.slot or run.created_at)
    assert [run.slot for run in runs] == slots
    assert [run.state for run in runs] == [RunState.MISSED] * (len(slots) - 1) + [
        RunState.SUCCEEDED
    ]
    assert project.lines("hourly.txt") == [slots[-1].isoformat()]

    again = project.rota("run")
    assert again.stdout.startswith("rota run: nothing due; next at "), again.stdout
    assert len(project.runs("hourly")) == len(slots)
