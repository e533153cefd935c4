"""Jobs in other processes: isolated sync jobs (killed at the deadline) and shell
commands (process group signalled on timeout and cancel)."""

from __future__ import annotations

import os
import signal
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from worker_harness import HEARTBEAT, Harness, alive, in_background, serve, wait_until

from rota.context import RunContext
from rota.errors import ConfigurationError
from rota.jobs import Job, job_from_callable, shell_job
from rota.runs import RunState
from rota.stores import open_store


@pytest.fixture
def h() -> Iterator[Harness]:
    yield from serve(lambda: Harness(open_store("memory://")))


# -- isolated jobs (module level: the child imports them by name) -----------


def isolated_sum(ctx: RunContext, a: int, b: int) -> dict[str, Any]:
    ctx.logger.info("adding in %d", os.getpid())
    ctx.checkpoint({"pid": os.getpid()})
    ctx.progress(1, 1)
    return {"sum": a + b, "attempt": ctx.attempt, "last": ctx.last_checkpoint}


def isolated_sleeper(ctx: RunContext) -> None:
    ctx.checkpoint({"pid": os.getpid()})
    time.sleep(60)


def isolated_boom() -> None:
    raise ValueError("child boom")


def isolated_bad_result() -> object:
    return object()


async def isolated_async(x: int) -> int:
    return x * 2


def test_an_isolated_job_runs_in_a_child_and_reports_back(h: Harness) -> None:
    run = h.queue(h.add(job_from_callable(isolated_sum, isolated=True)), 2, b=3)
    (stored,) = h.worker().run_pending()
    assert stored.id == run.id
    assert stored.state is RunState.SUCCEEDED, stored.error
    pid = stored.checkpoint["pid"]
    assert pid != os.getpid()
    assert stored.result == {"sum": 5, "attempt": 1, "last": {"pid": pid}}
    assert (stored.progress_done, stored.progress_total) == (1.0, 1.0)
    assert f"INFO adding in {pid}" in stored.log


def test_an_isolated_timeout_kills_the_child(h: Harness) -> None:
    run = h.queue(h.add(job_from_callable(isolated_sleeper, isolated=True, timeout=10)))
    pending = in_background(h.worker().run_pending)
    wait_until(lambda: h.get(run.id).checkpoint is not None, timeout=20.0, poll=0.005)
    pid = h.get(run.id).checkpoint["pid"]
    assert alive(pid)
    h.clock.advance(10)
    (stored,) = pending.result(timeout=20)
    assert stored.state is RunState.TIMED_OUT
    wait_until(lambda: not alive(pid), timeout=20.0, poll=0.005)


def test_an_isolated_cancel_kills_the_child(h: Harness) -> None:
    run = h.queue(h.add(job_from_callable(isolated_sleeper, isolated=True)))
    pending = in_background(h.worker().run_pending)
    wait_until(lambda: h.get(run.id).checkpoint is not None, timeout=20.0, poll=0.005)
    pid = h.get(run.id).checkpoint["pid"]
    h.store.request_cancel(run.id, now=h.clock.now())
    h.clock.advance(HEARTBEAT)
    (stored,) = pending.result(timeout=20)
    assert stored.state is RunState.CANCELLED
    wait_until(lambda: not alive(pid), timeout=20.0, poll=0.005)


@pytest.mark.parametrize(
    ("func", "state", "error"),
    [
        (isolated_boom, RunState.FAILED, "ValueError: child boom"),
        (isolated_bad_result, RunState.FAILED, "is not JSON-serializable: Object of type object"),
    ],
)
def test_isolated_failures_are_reported(
    h: Harness, func: Callable[..., Any], state: RunState, error: str
) -> None:
    h.queue(h.add(job_from_callable(func, isolated=True)))
    (stored,) = h.worker().run_pending()
    assert stored.state is state
    assert stored.error is not None
    assert error in stored.error


def test_an_isolated_async_job_runs_in_its_own_loop(h: Harness) -> None:
    h.queue(h.add(job_from_callable(isolated_async, isolated=True)), 21)
    (stored,) = h.worker().run_pending()
    assert (stored.state, stored.result) == (RunState.SUCCEEDED, 42)


def test_a_local_function_cannot_be_isolated() -> None:
    def local() -> None: ...

    with pytest.raises(ConfigurationError, match="define it at module level"):
        job_from_callable(local, isolated=True)
    with pytest.raises(ConfigurationError, match="define it at module level"):
        job_from_callable(local).options(isolated=True)


# -- shell jobs ------------------------------------------------------------------


def test_a_shell_command_succeeds_with_its_output_in_the_log(h: Harness) -> None:
    run = h.queue(h.add(shell_job('echo "hello from $ROTA_RUN_ID"; echo oops >&2')))
    (stored,) = h.worker().run_pending()
    assert stored.state is RunState.SUCCEEDED
    assert stored.log == f"hello from {run.id}\noops\n"


def test_a_failing_shell_command_retries_then_fails(h: Harness) -> None:
    run = h.queue(h.add(shell_job("echo partial; exit 3", retries=1, backoff=0)))
    (stored,) = h.worker().run_pending()
    assert stored.id == run.id
    assert (stored.state, stored.attempt, stored.error) == (RunState.FAILED, 2, "exit code 3")
    assert stored.log == "partial\n"


def test_shell_output_is_bounded_to_its_tail(h: Harness) -> None:
    h.queue(h.add(shell_job("seq 1 20000")))
    (stored,) = h.worker(max_log_bytes=100).run_pending()
    note, _, body = stored.log.partition("\n")
    assert "truncated" in note
    assert body.endswith("19999\n20000\n")
    assert len(body) <= 100


def _shell_with_child(tmp_path: Path, **defaults: Any) -> tuple[Job, Path]:
    pidfile = tmp_path / "child.pid"
    command = f"sleep 30 & echo $! > {pidfile}.tmp; mv {pidfile}.tmp {pidfile}; wait"
    return shell_job(command, **defaults), pidfile


def test_a_shell_timeout_kills_the_process_group(h: Harness, tmp_path: Path) -> None:
    job, pidfile = _shell_with_child(tmp_path, timeout=5)
    h.queue(h.add(job))
    pending = in_background(h.worker().run_pending)
    wait_until(pidfile.exists, timeout=20.0, poll=0.005)
    pid = int(pidfile.read_text())
    assert alive(pid)
    h.clock.advance(5)
    (stored,) = pending.result(timeout=20)
    assert stored.state is RunState.TIMED_OUT
    assert stored.error == f"JobTimeout: job {job.name!r} exceeded its timeout of 5s"
    wait_until(lambda: not alive(pid), timeout=20.0, poll=0.005)


def test_a_shell_cancel_kills_the_process_group(h: Harness, tmp_path: Path) -> None:
    job, pidfile = _shell_with_child(tmp_path)
    run = h.queue(h.add(job))
    pending = in_background(h.worker().run_pending)
    wait_until(pidfile.exists, timeout=20.0, poll=0.005)
    pid = int(pidfile.read_text())
    h.store.request_cancel(run.id, now=h.clock.now())
    h.clock.advance(HEARTBEAT)
    (stored,) = pending.result(timeout=20)
    assert stored.state is RunState.CANCELLED
    wait_until(lambda: not alive(pid), timeout=20.0, poll=0.005)


def test_a_shell_command_that_ignores_sigterm_is_killed(
    h: Harness, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from rota import _shell

    monkeypatch.setattr(_shell, "KILL_GRACE", 0.1)
    ready = tmp_path / "ready"
    h.queue(
        h.add(shell_job(f"trap '' TERM; touch {ready}; while :; do sleep 0.05; done", timeout=1))
    )
    pending = in_background(h.worker().run_pending)
    wait_until(ready.exists, timeout=20.0, poll=0.005)
    h.clock.advance(1)
    (stored,) = pending.result(timeout=20)
    assert stored.state is RunState.TIMED_OUT


def test_a_background_child_holding_the_pipe_does_not_hold_the_run(h: Harness) -> None:
    h.queue(h.add(shell_job("sleep 30 & echo $!")))
    (stored,) = in_background(h.worker().run_pending).result(timeout=10)
    pid = int(stored.log)
    try:
        assert stored.state is RunState.SUCCEEDED
        assert alive(pid)  # left alone: only a timeout or cancel signals the group
    finally:
        os.kill(pid, signal.SIGKILL)
