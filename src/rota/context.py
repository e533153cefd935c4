"""``RunContext``: what a running job knows about its run and how it talks back.

A job that declares a first parameter annotated ``RunContext`` (or named
``ctx``) receives one. It carries the run's identity, so the job can use
``ctx.run_id`` or ``ctx.slot`` as an idempotency key (runs are at least
once), and it is the job's only channel back to rota: checkpoints that
survive a retry, progress for the dashboard, a logger whose records are
kept with the run, and the flag that says "stop now".
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from datetime import datetime
from typing import Literal, Protocol

from rota.errors import InvalidArguments, JobTimeout, LeaseLost, RunCancelled
from rota.runs import JSON

StopReason = Literal["timeout", "cancel", "lease_lost", "shutdown"]


class ContextChannel(Protocol):
    """Where a context sends checkpoints and progress (the store, or a pipe)."""

    def checkpoint(self, value: JSON) -> None: ...

    def progress(self, done: float, total: float | None) -> None: ...


class StopSignal:
    """Set once, by a timeout, a cancel, a lost lease or a shutdown; first reason wins."""

    __slots__ = ("event", "message", "reason")

    def __init__(self) -> None:
        self.event = threading.Event()
        self.reason: StopReason | None = None
        self.message = ""

    def request(self, reason: StopReason, message: str) -> bool:
        """Ask the job to stop; False if it had already been asked."""
        if self.reason is not None:
            return False
        self.reason, self.message = reason, message
        self.event.set()
        return True

    def error(self) -> Exception:
        """The exception that ``check_stop`` raises for the reason given."""
        if self.reason == "timeout":
            return JobTimeout(self.message)
        if self.reason == "lease_lost":
            return LeaseLost(self.message)
        return RunCancelled(self.message)


class RunContext:
    """The running job's view of its run. Made by the worker; never build one yourself.

    Runs are executed at least once: a worker that dies mid-run is replaced
    and the run is tried again. Use ``run_id`` (or ``schedule`` + ``slot``)
    as the idempotency key for side effects, and ``checkpoint`` to resume
    instead of redoing work.
    """

    __slots__ = (
        "_channel",
        "_logger",
        "_make_logger",
        "_stop",
        "attempt",
        "job",
        "last_checkpoint",
        "run_id",
        "schedule",
        "slot",
    )

    def __init__(
        self,
        *,
        run_id: str,
        job: str,
        attempt: int,
        schedule: str | None,
        slot: datetime | None,
        last_checkpoint: JSON,
        channel: ContextChannel,
        stop: StopSignal,
        make_logger: Callable[[], logging.Logger],
    ) -> None:
        self.run_id = run_id
        """The run's id: stable across retries, the key for idempotent side effects."""
        self.job = job
        """The job's registered name."""
        self.attempt = attempt
        """1 for the first try, 2 for the first retry, …"""
        self.schedule = schedule
        """The schedule that created the run, or None for a manual run."""
        self.slot = slot
        """The scheduled instant (aware UTC) this run is for, or None for a manual run."""
        self.last_checkpoint = last_checkpoint
        """The latest value passed to ``checkpoint``, by this attempt or an earlier one."""
        self._channel = channel
        self._stop = stop
        self._make_logger = make_logger
        self._logger: logging.Logger | None = None

    @property
    def logger(self) -> logging.Logger:
        """A logger whose records (INFO and up) are stored with the run, bounded.

        Records also propagate to the ``rota.job`` logger, so the
        application's own logging configuration sees them.
        """
        if self._logger is None:
            self._logger = self._make_logger()
        return self._logger

    def checkpoint(self, value: JSON) -> None:
        """Persist ``value`` now; a retry of this run reads it as ``last_checkpoint``.

        ``value`` must be JSON-serializable. Raises ``LeaseLost`` when the
        run was taken from this worker (another attempt may be running).
        """
        try:
            json.dumps(value, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise InvalidArguments(
                f"checkpoint of job {self.job!r} is not JSON-serializable: {exc}"
            ) from None
        self._channel.checkpoint(value)
        self.last_checkpoint = value

    def progress(self, done: float, total: float | None = None) -> None:
        """Report how far the run is (``done`` of ``total`` units), for the dashboard.

        Cheap to call in a loop: writes are throttled, and the last value is
        always stored before the run finishes.
        """
        self._channel.progress(float(done), None if total is None else float(total))

    @property
    def stop_requested(self) -> bool:
        """True once the run timed out, was cancelled, lost its lease or the worker
        is shutting down. A sync thread cannot be killed: long jobs should
        check this (or call ``check_stop``) and return early."""
        return self._stop.event.is_set()

    def check_stop(self) -> None:
        """Raise ``JobTimeout``, ``RunCancelled`` or ``LeaseLost`` if asked to stop."""
        if self._stop.event.is_set():
            raise self._stop.error()

    def wait(self, seconds: float) -> bool:
        """Sleep up to ``seconds``, waking early when asked to stop; True if asked.

        Use it instead of ``time.sleep`` in polling loops, so a timeout or
        cancel takes effect at once: ``while not ctx.wait(5): poll()``.
        """
        return self._stop.event.wait(max(0.0, seconds))

    def __repr__(self) -> str:
        return f"<RunContext run_id={self.run_id!r} job={self.job!r} attempt={self.attempt}>"


__all__ = ["RunContext"]
