"""The command line's long-running loops: ``rota work``, ``rota scheduler`` and
``rota worker`` (``rota run``'s pass lives in ``rota._cli_pass``).

Signals: they stop on the first SIGTERM or SIGINT: no new claims (and no
more planning), running jobs get the drain timeout to finish, then their
runs are released back to the queue; exit 0. A second signal cuts the
drain short: running jobs are asked to stop (async tasks cancelled,
processes killed), their runs released at once, and the process exits 1.
``rota run`` on a signal finishes the runs it started and does not wait for
further sub-minute slots.
"""

from __future__ import annotations

import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import FrameType
from typing import TYPE_CHECKING

import click

from rota._cli_pass import configure_logging, handling, load, redact, run_pass, summarize

if TYPE_CHECKING:
    from rota.app import Rota

_POLL = 0.05
"""Seconds between the main thread's looks at the signal count while it waits."""
_HURRY_SECONDS = 2.0
"""Real seconds a second signal waits for running jobs' runs to be released."""


# -- rota work, rota scheduler, rota worker ----------------------------------------------------


@dataclass(frozen=True, slots=True)
class Mode:
    """Which loops a command runs in this process."""

    name: str
    scheduler: bool
    worker: bool


WORK = Mode("work", scheduler=True, worker=True)
SCHEDULER = Mode("scheduler", scheduler=True, worker=False)
WORKER = Mode("worker", scheduler=False, worker=True)


class _Shutdown:
    """Counts SIGTERM/SIGINT. The handler only counts: it runs between two bytecodes
    of the main thread, which may hold any lock at that moment."""

    def __init__(self) -> None:
        self.signals = 0

    def __call__(self, signum: int, frame: FrameType | None) -> None:
        self.signals += 1


def work(app: Rota, drain: float | None, mode: Mode = WORK) -> None:
    """Run ``mode``'s loops until SIGTERM/SIGINT, then drain and stop."""
    shutdown = _Shutdown()
    with handling(shutdown):
        app.start(scheduler=mode.scheduler, worker=mode.worker)
        click.echo(f"rota {mode.name}: {banner(app, mode)}; stop with Ctrl-C or SIGTERM", err=True)
        _until(lambda: shutdown.signals > 0)
        wait = _drain_seconds(app, drain) if mode.worker else None
        if wait is not None:
            click.echo(
                f"rota {mode.name}: stopping; running jobs get {wait:g}s to finish, then their "
                "runs are released (signal again to release them now and exit)",
                err=True,
            )
        else:
            click.echo(f"rota {mode.name}: stopping (signal again to exit now)", err=True)
        stopping = _Background(lambda: app.stop(timeout=wait))
        _until(lambda: stopping.done or shutdown.signals > 1)
        if not stopping.done:
            _hurry(app, mode)
        stopping.result()
        app.close()
    click.echo(f"rota {mode.name}: stopped", err=True)


def _drain_seconds(app: Rota, drain: float | None) -> float:
    return app.config.worker.shutdown_timeout if drain is None else drain


def banner(app: Rota, mode: Mode) -> str:
    """What the start line says: what runs here, against which store (password hidden)."""
    parts = []
    if mode.scheduler:
        parts.append(f"{len(app.schedules)} schedules")
    if mode.worker:
        queues = app.config.worker.queues
        parts.append(f"{len(app.jobs)} jobs")
        if not mode.scheduler:
            parts.append(f"queues {', '.join(queues) if queues else 'all'}")
    parts.append(f"store {redact(app.store.url)}")
    if mode.worker:
        parts.append(f"concurrency {app.config.worker.concurrency}")
    else:
        parts.append(f"host {app.host}")
    return ", ".join(parts)


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


def _hurry(app: Rota, mode: Mode) -> None:
    """The second signal: stop the running jobs, release their runs, exit 1 (bounded)."""
    what = "stopping the running jobs and releasing their runs" if mode.worker else "stopping"
    click.echo(f"rota {mode.name}: exiting now; {what}", err=True)
    hurried = _Background(lambda: app.stop(timeout=0))
    if not hurried.join(_HURRY_SECONDS) and mode.worker:
        lease = app.config.worker.lease_seconds
        click.echo(
            f"rota {mode.name}: releasing took over {_HURRY_SECONDS:g}s; runs not released "
            f"return to the queue when their lease lapses (within {lease:g}s)",
            err=True,
        )
    _flush_and_exit(1)


def _flush_and_exit(code: int) -> None:
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


__all__ = [
    "SCHEDULER",
    "WORK",
    "WORKER",
    "Mode",
    "banner",
    "configure_logging",
    "handling",
    "load",
    "run_pass",
    "summarize",
    "work",
]
