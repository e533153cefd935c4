"""``Rota.start`` in queue mode (only the scheduler, only the worker) and migrations
(``auto_migrate``, ``Rota.migrate``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest

from rota.app import Rota
from rota.config import RotaConfig
from rota.context import RunContext
from rota.errors import ConfigurationError, StoreUnavailable
from rota.runs import RunState
from rota.testing import FakeClock
from rota.worker import WorkerConfig

START = datetime(2030, 1, 1, 12, 0, 30, tzinfo=UTC)


def wait_for(condition: Callable[[], object], what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.005)


ran: list[str] = []


def tick(ctx: RunContext) -> None:
    ran.append(ctx.run_id)


@pytest.fixture
def app() -> Iterator[Rota]:
    ran.clear()
    config = RotaConfig(worker=WorkerConfig(idle_poll_seconds=0.01))
    made = Rota("memory://", clock=FakeClock(START), config=config)
    made.schedule(made.job(name="tick")(tick)).every_minute().named("tick")
    yield made
    made.close()


def test_scheduler_only_queues_and_executes_nothing(app: Rota) -> None:
    app.start(worker=False)
    wait_for(lambda: app.store.list_runs(schedule="tick"), "the first run")
    app.stop(timeout=5)
    [run] = app.store.list_runs(schedule="tick")
    assert run.state is RunState.QUEUED
    assert ran == []


def test_worker_only_executes_and_plans_nothing(app: Rota) -> None:
    app.start(scheduler=False)
    assert app.store.list_schedules() == []  # nothing synced
    run = app._manual_run("tick", (), {})  # a queued run, as if made elsewhere
    app.store.insert_run(run)
    wait_for(lambda: ran == [run.id], "the worker to execute it")
    app.stop(timeout=5)
    assert app.store.list_schedules() == []
    final = app.store.get_run(run.id)
    assert final is not None
    assert final.state is RunState.SUCCEEDED


def test_starting_neither_is_refused(app: Rota) -> None:
    with pytest.raises(ConfigurationError, match="the scheduler, the worker, or both"):
        app.start(scheduler=False, worker=False)


def test_without_auto_migrate_the_store_is_used_as_is_until_migrated(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path}/rota.db"
    app = Rota(url, config=RotaConfig(auto_migrate=False))
    try:
        with pytest.raises(StoreUnavailable, match="no such table"):
            app.store.list_schedules()
        assert app.migrate() is app.store
        assert app.store.list_schedules() == []
        app.migrate()  # idempotent
    finally:
        app.close()


@pytest.mark.parametrize(
    ("text", "expected"), [("", True), ("off", False), ("FALSE", False), ("1", True)]
)
def test_auto_migrate_defaults_to_the_environment(
    monkeypatch: pytest.MonkeyPatch, text: str, expected: bool
) -> None:
    monkeypatch.setenv("ROTA_AUTO_MIGRATE", text)
    assert RotaConfig().resolved_auto_migrate() is expected
    assert RotaConfig(auto_migrate=True).resolved_auto_migrate() is True


def test_a_bad_auto_migrate_setting_is_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ROTA_AUTO_MIGRATE", "maybe")
    with pytest.raises(ConfigurationError, match="ROTA_AUTO_MIGRATE='maybe'"):
        RotaConfig().resolved_auto_migrate()
    with pytest.raises(ConfigurationError, match="auto_migrate"):
        RotaConfig(auto_migrate="no")  # type: ignore[arg-type]
