"""Executing one attempt of a held run, in the way its job's kind needs.

Sync functions are called in the current thread, async ones awaited on the
worker's event loop, isolated ones run in a child process, shell commands
in their own process group. Whatever happens is turned into an ``Outcome``;
deciding and recording it is the worker's part.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import random
from collections.abc import Callable

from rota import _execution as ex_
from rota import _isolated, _shell
from rota._execution import Execution
from rota.clock import Clock
from rota.errors import JobNotFound
from rota.jobs import Job, JobRegistry
from rota.stores.base import Outcome


class Attempts:
    """Runs attempts for one worker: its jobs, clock, jitter and event loop."""

    def __init__(
        self,
        jobs: JobRegistry,
        clock: Clock,
        rng: random.Random,
        event_loop: Callable[[], asyncio.AbstractEventLoop],
    ) -> None:
        self.jobs = jobs
        self.clock = clock
        self._rng = rng
        self._event_loop = event_loop

    def execute(self, execution: Execution) -> Outcome:
        run, job = execution.run, execution.job
        if job is None:
            try:
                job = self.jobs.get(run.job)
            except JobNotFound as exc:
                return ex_.refused(str(exc))
        problem = job.signature_problem(run.args, run.kwargs)
        if problem is not None:
            return ex_.refused(problem)
        try:
            if job.command is not None:
                return self._shell(execution, job.command)
            if run.options.isolated:
                return self._isolated(execution, job)
            ctx = execution.context()
            if job.is_async:
                coro = ex_.call_async(job, ctx, run)
                value = ex_.run_on_loop(execution, self._event_loop(), coro)
            else:
                value = ex_.call_sync(job, ctx, run)
        except (asyncio.CancelledError, concurrent.futures.CancelledError):
            return self.failed(execution, "RunCancelled: the job's task was cancelled")
        except (Exception, SystemExit) as exc:
            error, tb = ex_.describe_exception(exc)
            return self.failed(execution, error, tb)
        return ex_.success(run.job, value, execution.log.text())

    def _shell(self, execution: Execution, command: str) -> Outcome:
        proc = _shell.start(command, execution.run)
        execution.set_killer(lambda: _shell.terminate_group(proc))
        try:
            code = _shell.collect(proc, execution.log)
        finally:
            execution.set_killer(None)
        if code == 0:
            return ex_.success(execution.run.job, None, execution.log.text())
        return self.failed(execution, _shell.describe_exit(code))

    def _isolated(self, execution: Execution, job: Job) -> Outcome:
        child = _isolated.run_isolated(execution, job)
        if child.kind == "ok":
            return ex_.success(job.name, child.value, execution.log.text())
        if child.kind == "bad_result":
            return ex_.refused(child.error, execution.log.text())
        if child.kind == "died":
            code = child.exitcode or 0
            what = _shell.describe_exit(code).replace("command", "isolated process")
            return self.failed(execution, f"isolated process ended without a result ({what})")
        return self.failed(execution, child.error, child.traceback)

    def failed(self, execution: Execution, error: str, tb: str | None = None) -> Outcome:
        return ex_.attempt_failed(
            execution.run,
            error,
            log=execution.log.text(),
            now=self.clock.now(),
            rng=self._rng,
            traceback_text=tb,
        )
