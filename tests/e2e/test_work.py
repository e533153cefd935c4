"""``rota work``: a killed worker's run comes back after its lease; SIGTERM drains."""

from __future__ import annotations

import signal
import subprocess
import threading
import time
from datetime import UTC, datetime

from rota.runs import Run, RunState

from .support import Project, avoid_minute_edge, wait_until

SHORT_LEASE = """
config = RotaConfig(worker=WorkerConfig(lease_seconds=1.0, heartbeat_seconds=0.3))
rota = Rota(config=config)


@rota.job(name="slow", retries=1)
def slow(ctx: RunContext) -> int:
    mark("attempts.txt", f"{ctx.run_id} {ctx.attempt}")
    if ctx.attempt == 1:
        time.sleep(60)  # killed long before this ends
    return ctx.attempt


rota.schedule(slow).every_minute().named("slow")
"""


def started_run(project: Project, count: int = 1) -> Run | None:
    """The run whose job marked ``count`` attempts, once it did."""
    lines = project.lines("attempts.txt")
    if len(lines) < count:
        return None
    return project.run(lines[0].split()[0])


def test_killed_worker_run_is_retried_after_its_lease_lapses(project: Project) -> None:
    project.write_app(SHORT_LEASE)
    avoid_minute_edge(10)
    first = project.spawn("work")
    run = wait_until(lambda: started_run(project), timeout=15, what="attempt 1 to start")
    assert run.state is RunState.RUNNING
    assert run.attempt == 1

    first.send_signal(signal.SIGKILL)
    first.wait(timeout=5)
    wait_until(
        lambda: (
            (r := project.run(run.id)) is not None
            and r.lease_expires_at is not None
            and r.lease_expires_at < datetime.now(UTC)
        ),
        timeout=5,
        what="the dead worker's lease to lapse",
    )

    second = project.spawn("work")
    done = wait_until(
        lambda: (r := project.run(run.id)) is not None and r.state.is_terminal and r,
        timeout=15,
        what="the second worker to finish the run",
    )
    assert done.state is RunState.SUCCEEDED, done
    assert done.attempt == 2
    assert done.result == 2
    assert done.worker != run.worker
    assert project.lines("attempts.txt") == [f"{run.id} 1", f"{run.id} 2"]
    second.send_signal(signal.SIGTERM)
    assert second.wait(timeout=15) == 0


DRAIN = """
rota = Rota()


@rota.job(name="busy")
def busy(ctx: RunContext, seconds: float) -> str:
    mark("busy.txt", f"start {ctx.run_id}")
    time.sleep(seconds)
    mark("busy.txt", f"end {ctx.run_id}")
    return "done"


rota.schedule(busy, seconds=float(os.environ["BUSY_SECONDS"])).every_minute().named("busy")
"""


def start_busy(project: Project, seconds: float, *args: str) -> tuple[str, float]:
    """Start ``rota work``, wait for the busy job to start, send SIGTERM; (run id, when)."""
    avoid_minute_edge(10)
    child = project.spawn("work", *args, BUSY_SECONDS=str(seconds))
    line = wait_until(lambda: project.lines("busy.txt"), timeout=15, what="the job to start")[0]
    child.send_signal(signal.SIGTERM)
    return line.split()[1], time.monotonic()


def test_sigterm_lets_the_running_job_finish_then_exits_0(project: Project) -> None:
    project.write_app(DRAIN)
    run_id, sent = start_busy(project, 1.0)
    child = project.children[0]
    _out, err = child.communicate(timeout=15)
    assert child.returncode == 0, err
    assert time.monotonic() - sent < 10
    run = project.run(run_id)
    assert run is not None
    assert run.state is RunState.SUCCEEDED, run
    assert project.lines("busy.txt") == [f"start {run_id}", f"end {run_id}"]
    assert "rota work: stopping" in err
    assert "rota work: stopped" in err


def test_sigterm_releases_runs_still_running_after_the_drain(project: Project) -> None:
    project.write_app(DRAIN)
    run_id, sent = start_busy(project, 30.0, "--drain", "0.5")
    child = project.children[0]
    _out, err = child.communicate(timeout=15)
    assert child.returncode == 0, err
    assert time.monotonic() - sent < 8
    run = project.run(run_id)
    assert run is not None
    assert run.state is RunState.QUEUED, run
    assert run.attempt == 0  # released unstarted attempts are given back
    assert project.lines("busy.txt") == [f"start {run_id}"]


def read_stderr_until(child: subprocess.Popen[str], text: str, timeout: float) -> str:
    """The child's stderr up to and including the first line that contains ``text``."""
    lines: list[str] = []

    def read() -> None:
        assert child.stderr is not None
        for line in child.stderr:
            lines.append(line)
            if text in line:
                return

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    assert not reader.is_alive(), f"no {text!r} on stderr in {timeout}s: {''.join(lines)}"
    return "".join(lines)


def test_second_signal_releases_the_running_run_and_exits_1(project: Project) -> None:
    project.write_app(DRAIN)
    run_id, _sent = start_busy(project, 30.0)
    child = project.children[0]
    head = read_stderr_until(child, "rota work: stopping", timeout=10)
    hurried = time.monotonic()
    child.send_signal(signal.SIGINT)  # a different signal, so the two cannot merge
    _out, err = child.communicate(timeout=15)
    err = head + err
    assert child.returncode == 1, err
    assert time.monotonic() - hurried < 3  # the drain would have lasted 30s
    assert "exiting now" in err
    run = project.run(run_id)
    assert run is not None
    assert run.state is RunState.QUEUED, run  # for the next worker at once, not after the lease
    assert run.lease_token is None
    assert project.lines("busy.txt") == [f"start {run_id}"]


def test_two_quick_signals_still_release_the_running_run(project: Project) -> None:
    project.write_app(DRAIN)
    run_id, _sent = start_busy(project, 30.0)
    child = project.children[0]
    child.send_signal(signal.SIGINT)
    _out, err = child.communicate(timeout=15)
    assert child.returncode == 1, err
    run = project.run(run_id)
    assert run is not None
    assert run.state is RunState.QUEUED, run
