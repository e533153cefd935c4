"""Executing one attempt of a held run, in the way its job's kind needs.

Sync functions are called in the current thread, async ones awaited on the
worker's event loop, isolated ones run in a child process, shell commands
in their own process group. Whatever happens is turned into an ``Outcome``;
deciding and recording it is the worker's part.

``asyncio``, ``multiprocessing`` (with ``ssl`` and more behind them) and
``subprocess`` are imported only once an async, isolated or shell job runs:
``rota run`` executing sync jobs, or nothing, does without them.
"""

from __future__ import annotations

import random
import sys
import threading
from concurrent.futures import CancelledError
from typing import TYPE_CHECKING, Any

from rota import _execution as ex_
from rota._execution import Execution
from rota._logcapture import RUN_LOG
from rota.clock import Clock
from rota.errors import JobNotFound
from rota.jobs import Job, JobRegistry
from rota.stores.base import Outcome

if TYPE_CHECKING:
    import asyncio

_LOOP_CLOSE_TIMEOUT = 5.0
"""Real seconds ``close()`` waits for the event loop's thread (and ``to_thread``'s pool)."""


class Attempts:
    """Runs attempts for one worker: its jobs, clock, jitter and event loop.

    The event loop and its thread start with the first async job.
    """

    def __init__(self, jobs: JobRegistry, clock: Clock, rng: random.Random) -> None:
        self.jobs = jobs
        self.clock = clock
        self._rng = rng
        self._lock = threading.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread: threading.Thread | None = None

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
            value = self._call(execution, job)
        except CancelledError:
            return self._cancelled(execution)
        except (Exception, SystemExit) as exc:
            error, tb = ex_.describe_exception(exc)
            return self.failed(execution, error, tb)
        except BaseException as exc:
            if not _is_asyncio_cancel(exc):
                raise
            return self._cancelled(execution)
        return ex_.success(run.job, value, execution.log.text())

    def _call(self, execution: Execution, job: Job) -> Any:
        """Call a Python job; what it prints meanwhile goes to its log (and an async
        job's task inherits that, as tasks copy the context they are created in)."""
        run, ctx = execution.run, execution.context()
        token = RUN_LOG.set(execution.log)
        try:
            if job.is_async:
                coro = ex_.call_async(job, ctx, run)
                return ex_.run_on_loop(execution, self._event_loop(), coro)
            return ex_.call_sync(job, ctx, run)
        finally:
            RUN_LOG.reset(token)

    def _cancelled(self, execution: Execution) -> Outcome:
        return self.failed(execution, "RunCancelled: the job's task was cancelled")

    def _shell(self, execution: Execution, command: str) -> Outcome:
        from rota import _shell  # subprocess: only once a shell job runs

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
        from rota import _isolated, _shell  # multiprocessing: only once an isolated job runs

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

    # -- the event loop of async jobs -------------------------------------

    def _event_loop(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                import asyncio

                loop = asyncio.new_event_loop()
                thread = threading.Thread(
                    target=loop.run_forever, name="rota-worker-loop", daemon=True
                )
                thread.start()
                self._loop, self._loop_thread = loop, thread
            return self._loop

    def close(self) -> None:
        """Stop the event loop, if one was started; tasks still running are dropped."""
        with self._lock:
            loop, thread = self._loop, self._loop_thread
        if loop is None or thread is None:
            return
        import asyncio

        try:  # asyncio.to_thread's pool, if a job used it
            drained = asyncio.run_coroutine_threadsafe(loop.shutdown_default_executor(), loop)
            drained.result(timeout=_LOOP_CLOSE_TIMEOUT)
        except Exception:
            pass
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=_LOOP_CLOSE_TIMEOUT)
        if not thread.is_alive():
            loop.close()


def _is_asyncio_cancel(exc: BaseException) -> bool:
    """True for ``asyncio.CancelledError``, without importing asyncio to find out."""
    asyncio = sys.modules.get("asyncio")
    return asyncio is not None and isinstance(exc, asyncio.CancelledError)
