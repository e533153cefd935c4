"""The command line's running parts: loading the app, ``rota run``'s pass, ``rota work``'s loop.

Signals: ``rota work`` stops on the first SIGTERM or SIGINT: no new claims,
running jobs get the drain timeout to finish, then their runs are released
back to the queue. A second signal exits at once; the runs still running
come back when their lease lapses. ``rota run`` on a signal finishes the
runs it started and does not wait for further sub-minute slots.
"""

from __future__ import annotations

import logging
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from types import FrameType
from typing import TYPE_CHECKING

import click

from rota._cli_tables import format_duration, format_relative, format_time
from rota.errors import ConfigurationError

if TYPE_CHECKING:
    from rota.app import Rota, RunReport

_LOG_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"
_SIGNALS = (signal.SIGTERM, signal.SIGINT)
# how ``rota run``'s summary orders states: what ran, how it ended, then what did not run
_ORDER = (
    "succeeded",
    "failed",
    "timed_out",
    "retrying",
    "cancelled",
    "running",
    "queued",
    "waiting",
    "skipped",
    "missed",
    "upstream_failed",
)
_FAILED = ("failed", "timed_out")
Handler = Callable[[int, FrameType | None], None]


def load(app_ref: str | None, store_url: str | None, concurrency: int | None = None) -> Rota:
    """The app named by ``--app`` (or ``ROTA_APP``, or pyproject), with ``--store`` and
    ``--concurrency`` applied."""
    from rota._appload import load_app

    app = load_app(app_ref)
    if store_url is not None:
        app.config = replace(app.config, store_url=store_url)
        if app.store.url != store_url:
            raise ConfigurationError(
                f"--store {store_url!r} cannot replace the Store object the app passes to "
                "Rota(store=...); pass a URL there, or drop --store"
            )
    if concurrency is not None:
        worker = replace(app.config.worker, concurrency=concurrency)
        app.config = replace(app.config, worker=worker)
    return app


def configure_logging(level: str) -> None:
    """Log to stderr at ``level``, unless the app configured logging itself.

    The level is set on the handler too: a run's logger passes every record on
    (its log is captured whole), and ``rota run`` from cron must stay quiet.
    """
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter(_LOG_FORMAT))
    handler.setLevel(level.upper())
    root.addHandler(handler)
    root.setLevel(level.upper())


@contextmanager
def handling(handler: Handler) -> Iterator[None]:
    """Install ``handler`` for SIGTERM and SIGINT; restore the previous ones after."""
    previous = {sig: signal.signal(sig, handler) for sig in _SIGNALS}
    try:
        yield
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


# -- rota run ----------------------------------------------------------------------------------


def run_pass(app: Rota) -> str:
    """One ``run_due`` pass; the one-line summary to print."""
    started = time.monotonic()
    with handling(lambda signum, frame: app.stop()):
        report = app.run_due()
    return summarize(app, report, time.monotonic() - started)


def summarize(app: Rota, report: RunReport, elapsed: float) -> str:
    """``rota run: 2 succeeded, 1 failed (nightly), 3 missed in 0.41s`` or ``nothing due``."""
    counts = report.counts()
    if not counts:
        return f"rota run: nothing due{_next(app)}"
    failed = sorted({run.schedule or run.job for run in report.failed})
    names = f" ({', '.join(failed[:3])}{', …' if len(failed) > 3 else ''})"
    parts = []
    for state in sorted(counts, key=_ORDER.index):
        parts.append(f"{counts[state]} {state}{names if state in _FAILED else ''}")
    return f"rota run: {', '.join(parts)} in {format_duration(elapsed)}"


def _next(app: Rota) -> str:
    due = app.store.next_due_at()
    if due is None:
        return ""
    now = datetime.now(UTC)
    return f"; next at {format_time(due, UTC)} ({format_relative(due, now)})"


# -- rota work ---------------------------------------------------------------------------------


class _Hurry(BaseException):
    """Raised in the main thread by a second signal: stop waiting for running jobs."""


class _Shutdown:
    """Counts SIGTERM/SIGINT: the first asks for a stop, the second hurries it."""

    def __init__(self) -> None:
        self.requested = threading.Event()
        self.signals = 0

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.signals += 1
        self.requested.set()
        if self.signals > 1:
            raise _Hurry


def work(app: Rota, drain: float | None) -> None:
    """Run the scheduler and a worker pool until SIGTERM/SIGINT, then drain and stop."""
    shutdown = _Shutdown()
    with handling(shutdown):
        try:
            _serve(app, shutdown, drain)
        except _Hurry:
            _exit_now(app)
    _exit_if_jobs_linger()


def _serve(app: Rota, shutdown: _Shutdown, drain: float | None) -> None:
    app.start()
    worker = app.config.worker
    click.echo(
        f"rota work: {len(app.schedules)} schedules, {len(app.jobs)} jobs, store "
        f"{app.store.url}, concurrency {worker.concurrency}; stop with Ctrl-C or SIGTERM",
        err=True,
    )
    while not shutdown.requested.wait(0.5):
        pass
    wait = worker.shutdown_timeout if drain is None else drain
    click.echo(
        f"rota work: stopping; running jobs get {wait:g}s to finish, then their runs are "
        "released (signal again to exit at once)",
        err=True,
    )
    app.stop(timeout=wait)
    app.close()
    click.echo("rota work: stopped", err=True)


def _exit_now(app: Rota) -> None:
    lease = app.config.worker.lease_seconds
    click.echo(
        "rota work: exiting at once; runs still running return to the queue when their "
        f"lease lapses (within {lease:g}s)",
        err=True,
    )
    _flush_and_exit(1)


def _exit_if_jobs_linger() -> None:
    """After a drain that timed out, jobs whose runs were released still run in threads
    that interpreter shutdown would join (the thread pool's exit hook); their results
    are discarded anyway, so exit now instead."""
    main = threading.main_thread()
    if any(t is not main and t.is_alive() for t in threading.enumerate()):
        _flush_and_exit(0)


def _flush_and_exit(code: int) -> None:
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


__all__ = ["configure_logging", "handling", "load", "run_pass", "summarize", "work"]
