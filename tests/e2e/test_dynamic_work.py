"""Schedules changed from the command line while ``rota work`` runs: a running
scheduler picks up ``rota schedules add``, ``pause``, ``resume`` and ``remove``
within a second or two, with no restart; a code schedule deleted from the app
module is retired when ``rota work`` restarts, its history kept.

Checks of "it fired" wait for the run with a deadline. Checks of "nothing
fired" need real time to pass: they watch a bounded window (``QUIET``) and
then judge every run by its slot, so a slow machine cannot make them pass
wrongly, only take the window's length.
"""

from __future__ import annotations

import json
import signal
import subprocess
import time
from collections.abc import Iterator
from contextlib import closing, contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from rota.runs import Run, RunState
from rota.stores import open_store
from rota.stores.base import Store

from ._servers import shared_store
from .support import Project, wait_until

APP = """
rota = Rota()


@rota.job(name="tick")
def tick(ctx: RunContext) -> None:
    return None


rota.schedule(tick).every_second().overlap("allow").named("alive")
"""
WITH_CODE_SCHEDULE = APP + 'rota.schedule(tick).every_second().named("coded")\n'

PICKUP = 2.0
"""Seconds from a change's command returning to the scheduler acting on it."""
SETTLE = timedelta(seconds=1)
"""A tick that began before a change may still fire slots up to the change's moment."""
QUIET = 3.5
"""Seconds watched for runs that must not come: the window between a pause and a resume,
less ``SETTLE`` at each end, then holds at least one whole second, so one slot at least."""


def now() -> datetime:
    return datetime.now(UTC)


def runs_of(store: Store, schedule: str) -> list[Run]:
    """The schedule's runs by slot."""
    runs = store.list_runs(schedule=schedule, limit=10_000)
    return sorted(runs, key=lambda run: run.slot or run.created_at)


def slots_after(
    store: Store, schedule: str, start: datetime, end: datetime | None = None
) -> list[Run]:
    """The schedule's runs for slots after ``start`` (and before ``end``), by slot."""
    return [
        run
        for run in runs_of(store, schedule)
        if run.slot is not None and start < run.slot and (end is None or run.slot < end)
    ]


@contextmanager
def working(project: Project, url: str) -> Iterator[Store]:
    """``rota work`` on ``url`` in the background, once its scheduler fires; the store
    to watch. Stopped with SIGTERM afterwards, which must exit 0."""
    with closing(open_store(url)) as store:
        started = now()
        child = project.spawn("--log-level", "warning", "work", ROTA_STORE=url)
        wait_until(
            lambda: slots_after(store, "alive", started) or child.poll() is not None,
            timeout=30,
            what="rota work to start firing",
        )
        assert child.poll() is None, child.communicate()
        yield store
        child.send_signal(signal.SIGTERM)
        _out, err = child.communicate(timeout=20)
        assert child.returncode == 0, err


def cli(project: Project, url: str, *args: str) -> subprocess.CompletedProcess[str]:
    done = project.rota(*args, ROTA_STORE=url)
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done


def add_fast(project: Project, url: str, store: Store) -> None:
    """``rota schedules add`` of an every-second schedule, then its first run within PICKUP s."""
    added = now()
    cli(project, url, "schedules", "add", "fast", "--job", "tick", "--every", "1")
    returned = time.monotonic()
    wait_until(
        lambda: slots_after(store, "fast", added - SETTLE),
        timeout=PICKUP,
        what=f"the added schedule to fire within {PICKUP}s",
    )
    assert time.monotonic() - returned <= PICKUP


def test_add_pause_resume_remove_while_rota_work_runs(project: Project) -> None:
    project.write_app(APP)
    url = project.store_url
    with working(project, url) as store:
        add_fast(project, url, store)

        # pause: once it took effect, no slot of it fires
        cli(project, url, "schedules", "pause", "fast")
        paused = now()
        time.sleep(QUIET)
        assert slots_after(store, "fast", paused + SETTLE) == []

        # resume --from now: firing again at once, and nothing of the pause, not even missed
        resumed = now()
        cli(project, url, "schedules", "resume", "fast", "--from", "now")
        wait_until(
            lambda: slots_after(store, "fast", resumed - SETTLE),
            timeout=PICKUP,
            what="the resumed schedule to fire",
        )
        assert slots_after(store, "fast", paused + SETTLE, resumed - SETTLE) == []

        # resume --from last: the pause's slots are caught up per policy (latest): the older
        # ones recorded missed, the latest fired
        cli(project, url, "schedules", "pause", "fast")
        paused = now()
        time.sleep(QUIET)
        resumed = now()
        cli(project, url, "schedules", "resume", "fast", "--from", "last")
        fired = wait_until(
            lambda: [
                r
                for r in slots_after(store, "fast", resumed - SETTLE)
                if r.state is not RunState.MISSED
            ],
            timeout=PICKUP,
            what="the caught-up schedule to fire",
        )
        missed = slots_after(store, "fast", paused + SETTLE, resumed - SETTLE)
        assert missed, runs_of(store, "fast")
        assert {r.state for r in missed} == {RunState.MISSED}, missed
        assert fired[0].slot is not None
        assert missed[-1].slot is not None
        assert fired[0].slot > missed[-1].slot

        # remove: it stops; its runs stay
        cli(project, url, "schedules", "remove", "fast")
        removed = now()
        time.sleep(QUIET)
        assert slots_after(store, "fast", removed + SETTLE) == []
        assert store.get_schedule("fast") is None
        history = json.loads(cli(project, url, "history", "fast", "-n", "1000", "--json").stdout)
        assert len(history) == len(runs_of(store, "fast")) >= 3
        assert {"succeeded", "missed"} <= {run["state"] for run in history}


def test_code_schedule_deleted_from_the_module_is_retired_at_restart(project: Project) -> None:
    project.write_app(WITH_CODE_SCHEDULE)
    url = project.store_url
    with working(project, url) as store:
        wait_until(lambda: runs_of(store, "coded"), timeout=10, what="the code schedule to fire")
    stopped = now()

    project.write_app(APP)  # the schedule is deleted from the code
    with working(project, url) as store:
        record = store.get_schedule("coded")
        assert record is not None
        assert record.retired
        time.sleep(QUIET)
        assert slots_after(store, "coded", stopped) == []
        kept = runs_of(store, "coded")
    assert kept
    history = json.loads(cli(project, url, "history", "coded", "--json").stdout)
    assert {run["id"] for run in history} <= {run.id for run in kept}
    listed = json.loads(cli(project, url, "schedules", "list", "--json").stdout)
    assert [row["name"] for row in listed] == ["alive"]
    every = json.loads(cli(project, url, "schedules", "list", "--all", "--json").stdout)
    assert {row["name"]: row["state"] for row in every} == {"alive": "active", "coded": "retired"}


@pytest.mark.parametrize("backend", ["postgres", "redis"])
def test_an_added_schedule_fires_within_two_seconds(
    project: Project, tmp_path: Path, backend: str
) -> None:
    project.write_app(APP)
    with shared_store(backend, tmp_path) as url, working(project, url) as store:
        add_fast(project, url, store)
        cli(project, url, "schedules", "pause", "fast")
        paused = now()
        time.sleep(QUIET)
        assert slots_after(store, "fast", paused + SETTLE) == []
