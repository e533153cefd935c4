"""Queue mode from the command line, on SQLite: ``rota scheduler`` only enqueues,
``rota worker`` only executes (``--queues`` filters), ``rota migrate`` prepares
the store; both loops stop on SIGTERM with exit code 0."""

from __future__ import annotations

import signal
import subprocess
from datetime import UTC, datetime

import pytest

from rota._cli_pass import redact
from rota.runs import Run, RunState, manual_run_id

from .support import Project, one_line_error, wait_until

APP = """
rota = Rota()


@rota.job(name="tick")
def tick(ctx: RunContext) -> str:
    mark("ticks.txt", ctx.run_id)
    return ctx.run_id


@rota.job(name="report", queue="reports")
def report(ctx: RunContext) -> str:
    mark("reports.txt", ctx.run_id)
    return ctx.run_id


rota.schedule(tick).every_second().overlap("allow").named("tick")
"""


def queue_runs(project: Project, job: str, count: int, queue: str = "default") -> list[str]:
    """Insert ``count`` queued runs of ``job`` on ``queue``, as a scheduler would."""
    now = datetime.now(UTC)
    runs = [
        Run(
            id=manual_run_id(),
            job=job,
            state=RunState.QUEUED,
            created_at=now,
            available_at=now,
            queue=queue,
        )
        for _ in range(count)
    ]
    with project.store() as store:
        assert all(store.insert_runs(runs))
    return [run.id for run in runs]


def finished(project: Project, ids: list[str]) -> list[Run] | None:
    runs = [project.run(run_id) for run_id in ids]
    done = [run for run in runs if run is not None and run.state.is_terminal]
    return done if len(done) == len(ids) else None


def stop(child: subprocess.Popen[str]) -> str:
    """SIGTERM; the child's stderr once it exited 0."""
    child.send_signal(signal.SIGTERM)
    _out, err = child.communicate(timeout=20)
    assert child.returncode == 0, err
    return str(err)


def test_scheduler_enqueues_due_runs_and_executes_none(project: Project) -> None:
    project.write_app(APP)
    child = project.spawn("scheduler")
    queued = wait_until(
        lambda: [r for r in project.runs("tick") if r.state is RunState.QUEUED][2:],
        timeout=20,
        what="three queued runs of the every-second schedule",
    )
    assert queued
    err = stop(child)
    assert project.lines("ticks.txt") == []
    assert {r.state for r in project.runs("tick")} <= {RunState.QUEUED, RunState.MISSED}
    assert "rota scheduler: 1 schedules, store sqlite:///" in err
    assert "rota scheduler: stopped" in err


def test_worker_executes_queued_runs_and_schedules_nothing(project: Project) -> None:
    project.write_app(APP)
    with project.store():
        pass  # the schema, made before the runs go in
    ids = queue_runs(project, "tick", 3)
    child = project.spawn("worker", "--concurrency", "2")
    runs = wait_until(lambda: finished(project, ids), timeout=20, what="the worker to run them")
    assert {r.state for r in runs} == {RunState.SUCCEEDED}
    assert sorted(project.lines("ticks.txt")) == sorted(ids)
    err = stop(child)
    with project.store() as store:
        assert store.list_schedules() == []  # a worker never syncs nor plans
    assert len(project.runs()) == 3
    assert "rota worker: 2 jobs, queues all, store sqlite:///" in err
    assert "concurrency 2" in err
    assert "rota worker: stopped" in err


def test_worker_takes_only_the_queues_it_is_given(project: Project) -> None:
    project.write_app(APP)
    with project.store():
        pass
    reports = queue_runs(project, "report", 2, queue="reports")
    ticks = queue_runs(project, "tick", 2)
    child = project.spawn("worker", "--queues", "reports, other")
    wait_until(lambda: finished(project, reports), timeout=20, what="the reports to run")
    err = stop(child)
    assert "queues reports, other" in err
    assert sorted(project.lines("reports.txt")) == sorted(reports)
    assert project.lines("ticks.txt") == []
    assert {r.state for r in project.runs() if r.id in ticks} == {RunState.QUEUED}


def test_worker_refuses_an_empty_queue_list(project: Project) -> None:
    project.write_app(APP)
    done = project.rota("worker", "--queues", " , ")
    assert done.returncode == 2
    assert "name at least one queue" in done.stderr


def test_migrate_prepares_the_store_once_auto_migration_is_off(project: Project) -> None:
    project.write_app(APP)
    refused = project.rota("list", ROTA_AUTO_MIGRATE="false")
    assert "no such table" in one_line_error(refused, code=3)

    first = project.rota("migrate", ROTA_AUTO_MIGRATE="false")
    again = project.rota("migrate", ROTA_AUTO_MIGRATE="false")
    assert first.returncode == again.returncode == 0, first.stderr + again.stderr
    assert first.stdout == again.stdout
    assert first.stdout.startswith(f"rota migrate: {project.store_url} is at schema version ")
    assert project.rota("list", ROTA_AUTO_MIGRATE="false").returncode == 0


def test_migrate_needs_no_app_when_given_a_store(project: Project) -> None:
    done = project.rota("--store", "memory://", "migrate", app=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout == "rota migrate: memory:// keeps no schema (nothing to migrate)\n"
    nothing = project.rota("migrate", app=False, ROTA_STORE="")
    assert "no rota app configured" in one_line_error(nothing)


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://app:s3cr:t@db:5432/rota", "postgresql://app:***@db:5432/rota"),
        ("redis://:hunter2@cache:6379/0?prefix=x", "redis://:***@cache:6379/0?prefix=x"),
        ("postgresql://db/rota?user=app&password=pw", "postgresql://db/rota?user=app&password=***"),
        ("postgresql://app@db/rota", "postgresql://app@db/rota"),
        ("sqlite:////var/lib/rota.db", "sqlite:////var/lib/rota.db"),
    ],
)
def test_banners_hide_the_store_password(url: str, shown: str) -> None:
    assert redact(url) == shown
