"""``rota run``'s pass from the command line: loading the app, logging, signals, the summary.

Both ``rota.cli.main`` (the plain ``rota run``, without click) and the click
command run through here, so they print the same thing; nothing here
imports click. ``rota work``'s loop lives in ``rota._cli_run``.
"""

from __future__ import annotations

import logging
import re
import signal
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from types import FrameType
from typing import TYPE_CHECKING

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


class EventFormatter(logging.Formatter):
    """The CLI's log lines, ending in ``[<event>]`` when the record names one
    (``extra={"event": "store.unavailable"}``), so that its stable name can be grepped."""

    def format(self, record: logging.LogRecord) -> str:
        text = super().format(record)
        event = getattr(record, "event", None)
        if not isinstance(event, str):
            return text
        first, newline, rest = text.partition("\n")  # after the message, before a traceback
        return f"{first} [{event}]{newline}{rest}"


def configure_logging(level: str) -> None:
    """Log to stderr at ``level``, unless the app configured logging itself.

    The level is set on the handler too: a run's logger passes every record on
    (its log is captured whole), and ``rota run`` from cron must stay quiet.
    """
    root = logging.getLogger()
    if root.handlers:
        return
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(EventFormatter(_LOG_FORMAT))
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


def redact(url: str) -> str:
    """``url`` with its password, if any, as ``***`` (``postgresql://user:***@host/db``)."""
    scheme, sep, rest = url.partition("://")
    netloc, slash, path = rest.partition("/")
    userinfo, at, host = netloc.rpartition("@")
    user, colon, _password = userinfo.partition(":")
    if sep and at and colon:
        url = f"{scheme}://{user}:***@{host}{slash}{path}"
    return re.sub(r"(?i)([?&]password=)[^&#]*", r"\1***", url)  # libpq's URL option


def _next(app: Rota) -> str:
    due = app.store.next_due_at()
    if due is None:
        return ""
    now = datetime.now(UTC)
    return f"; next at {format_time(due, UTC)} ({format_relative(due, now)})"


__all__ = [
    "EventFormatter",
    "Handler",
    "configure_logging",
    "handling",
    "load",
    "redact",
    "run_pass",
    "summarize",
]
