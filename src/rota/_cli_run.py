"""The command line's ``rota work`` loop (``rota run``'s pass lives in ``rota._cli_pass``).

Signals: ``rota work`` stops on the first SIGTERM or SIGINT: no new claims,
running jobs get the drain timeout to finish, then their runs are released
back to the queue. A second signal cuts the drain short: running jobs are
asked to stop (async tasks cancelled, processes killed), their runs released
at once, and the process exits 1. ``rota run`` on a signal finishes the
runs it started and does not wait for further sub-minute slots.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from types import FrameType
from typing import TYPE_CHECKING

import click

from rota._cli_pass import configure_logging, handling, load, run_pass, summarize

if TYPE_CHECKING:
    from rota.app import Rota

_POLL = 0.05
"""Seconds between the main thread's looks at the signal count while it waits."""
_HURRY_SECONDS = 2.0
"""Real seconds a second signal waits for running jobs' runs to be released."""


# -- rota work ---------------------------------------------------------------------------------


class _Shutdown:
    """Counts SIGTERM/SIGINT. The handler only counts: it runs between two bytecodes
    of the main thread, which may hold any lock at that moment."""

    def __init__(self) -> None:
        self.signals = 0

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.signals += 1


def work(app: Rota, drain: float | None) -> None:
    """Run the scheduler and a worker pool until SIGTERM/SIGINT, then drain and stop."""
    shutdown = _Shutdown()
    with handling(shutdown):
        app.start()
        worker = app.config.worker
        click.echo(
            f"rota work: {len(app.schedules)} schedules, {len(app.jobs)} jobs, store "
            f"{app.store.url}, concurrency {worker.concurrency}; stop with Ctrl-C or SIGTERM",
            err=True,
        )
        _until(lambda: shutdown.signals > 0)
        wait = worker.shutdown_timeout if drain is None else drain
        click.echo(
            f"rota work: stopping; running jobs get {wait:g}s to finish, then their runs are "
            "released (signal again to release them now and exit)",
            err=True,
        )
        stopping = _Background(lambda: app.stop(timeout=wait))
        _until(lambda: stopping.done or shutdown.signals > 1)
        if not stopping.done:
            _hurry(app)
        stopping.result()
        app.close()
    click.echo("rota work: stopped", err=True)


def _until(condition: Callable[[], bool]) -> None:
    while not condition():
        time.sleep(_POLL)


class _Background:
    """A call on a daemon thread, so that the main thread stays free for signals."""

    def __init__(self, call: Callable[[], None]) -> None:
        self._call = call
        self._error: BaseException | None = None
        self._thread = threading.Thread(target=self._main, name="rota-stop", daemon=True)
        self._thread.start()

    def _main(self) -> None:
        try:
            self._call()
        except BaseException as exc:
            self._error = exc

    @property
    def done(self) -> bool:
        return not self._thread.is_alive()

    def join(self, timeout: float) -> bool:
        self._thread.join(timeout)
        return self.done

    def result(self) -> None:
        if self._error is not None:
            raise self._error


def _hurry(app: Rota) -> None:
    """The second signal: stop the running jobs, release their runs, exit 1 (bounded)."""
    click.echo(
        "rota work: exiting now; stopping the running jobs and releasing their runs", err=True
    )
    hurried = _Background(lambda: app.stop(timeout=0))
    if not hurried.join(_HURRY_SECONDS):
        lease = app.config.worker.lease_seconds
        click.echo(
            f"rota work: releasing took over {_HURRY_SECONDS:g}s; runs not released return "
            f"to the queue when their lease lapses (within {lease:g}s)",
            err=True,
        )
    _flush_and_exit(1)


def _flush_and_exit(code: int) -> None:
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


__all__ = ["configure_logging", "handling", "load", "run_pass", "summarize", "work"]
