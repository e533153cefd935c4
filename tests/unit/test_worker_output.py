"""What a Python job prints or logs through ordinary loggers lands in its run's log,
and still reaches the real streams and handlers."""

from __future__ import annotations

import asyncio
import logging
import sys
import threading
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from rota.context import RunContext
from rota.jobs import JobRegistry, job_from_callable
from rota.runs import Run, RunState, manual_run_id
from rota.stores import open_store
from rota.stores.base import Store
from rota.testing import FakeClock
from rota.worker import Worker, WorkerConfig


@pytest.fixture
def store() -> Iterator[Store]:
    store = open_store("memory://")
    yield store
    store.close()


def run_one(store: Store, func: Callable[..., Any], concurrency: int = 1) -> Run:
    """Queue one run of ``func``, execute it with ``run_pending``; the stored run."""
    jobs = JobRegistry()
    job = jobs.add(job_from_callable(func))
    now = datetime(2030, 1, 1, 12, tzinfo=UTC)
    run = Run(
        id=manual_run_id(),
        job=job.name,
        state=RunState.QUEUED,
        created_at=now,
        available_at=now,
        options=job.options(),
    )
    assert store.insert_run(run)
    config = WorkerConfig(concurrency=concurrency)
    worker = Worker(store, jobs, config=config, clock=FakeClock(now))
    try:
        (stored,) = worker.run_pending()
    finally:
        worker.stop()
    return stored


def printer() -> None:
    print("to stdout")
    print("to stderr", file=sys.stderr)


@pytest.mark.parametrize("concurrency", [1, 2], ids=["inline", "thread"])
def test_print_goes_to_the_run_log_and_through(
    store: Store, concurrency: int, capsys: pytest.CaptureFixture[str]
) -> None:
    stored = run_one(store, printer, concurrency)
    assert stored.state is RunState.SUCCEEDED
    assert stored.log == "to stdout\nto stderr\n"
    out, err = capsys.readouterr()
    assert (out, err) == ("to stdout\n", "to stderr\n")


def test_an_async_job_prints_into_its_log(store: Store) -> None:
    async def async_printer() -> None:
        print("before")
        await asyncio.sleep(0)
        await asyncio.gather(asyncio.create_task(_child_task()))
        print("after")

    stored = run_one(store, async_printer)
    assert stored.log == "before\nchild task\nafter\n"


async def _child_task() -> None:
    print("child task")


def test_other_threads_output_is_not_captured(
    store: Store, capsys: pytest.CaptureFixture[str]
) -> None:
    def job_with_a_thread() -> None:
        print("mine")
        # a thread the job starts has a fresh context: its output is not the run's
        thread = threading.Thread(target=print, args=("someone else's",))
        thread.start()
        thread.join()

    stored = run_one(store, job_with_a_thread)
    assert stored.log == "mine\n"
    assert capsys.readouterr().out == "mine\nsomeone else's\n"


def test_the_streams_are_restored_after_the_worker(store: Store) -> None:
    before = sys.stdout, sys.stderr
    run_one(store, printer)
    assert (sys.stdout, sys.stderr) == before
    print("not captured anywhere")


def test_records_of_ordinary_loggers_are_kept_once(
    store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    def logging_job(ctx: RunContext) -> None:
        logging.getLogger("app.sub").warning("disk %s%% full", 91)
        ctx.logger.info("through ctx")
        logging.getLogger("app.sub").debug("below the level: not created, not kept")

    caplog.set_level(logging.INFO)
    stored = run_one(store, logging_job)
    lines = (stored.log or "").splitlines()
    assert [line.split(" ", 2)[2] for line in lines] == [
        "WARNING disk 91% full",
        "INFO through ctx",
    ]
    assert "disk 91% full" in caplog.messages  # the application's handlers still see it


def test_a_log_handler_on_the_proxy_does_not_duplicate_records(store: Store) -> None:
    def job() -> None:
        # a handler made while the proxy is installed writes through it
        stream_handler = logging.StreamHandler(sys.stderr)
        logger = logging.getLogger("app.dup")
        logger.addHandler(stream_handler)
        try:
            logger.warning("once")
        finally:
            logger.removeHandler(stream_handler)

    stored = run_one(store, job)
    assert [line.split(" ", 2)[2] for line in (stored.log or "").splitlines()] == ["WARNING once"]


def test_a_buffer_keeps_only_the_tail_of_prints(store: Store) -> None:
    def chatty() -> None:
        for i in range(10_000):
            print(f"line {i}")

    jobs_log = run_one(store, chatty).log or ""
    assert jobs_log.endswith("line 9999\n")
    assert len(jobs_log.encode()) < 64 * 1024 + 100
