"""A run's captured log: bounded, keeping the tail.

A job that logs in a loop, or a shell command that prints a build log, must
not grow the stored run without limit; the end of the output is where the
error usually is, so the oldest bytes are dropped first and a note says how
many.

What a Python job prints, and what it logs through ordinary loggers, is
captured too. While a worker runs, ``sys.stdout`` and ``sys.stderr`` are
proxies that pass every write through and also copy it into the log of the
run whose job made it, found in the ``RUN_LOG`` context variable that the
worker sets around the call (an async job's task inherits it). Log records
are copied when they are created, by a wrapper around the log record
factory: adding a handler to the root logger instead would turn the
application's later ``logging.basicConfig()`` into a no-op.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable
from contextlib import suppress
from contextvars import ContextVar
from typing import Any, TextIO

_FORMAT = "%(asctime)s %(levelname)s %(message)s"


class LogBuffer:
    """Bytes appended from any thread, keeping at most ``limit`` of the newest."""

    def __init__(self, limit: int) -> None:
        self._limit = max(0, limit)
        self._chunks: deque[bytes] = deque()
        self._size = 0
        self._dropped = 0
        self._lock = threading.Lock()

    def write(self, data: bytes) -> None:
        if not data:
            return
        with self._lock:
            self._chunks.append(data)
            self._size += len(data)
            self._trim()

    def write_text(self, text: str) -> None:
        self.write(text.encode("utf-8", "replace"))

    def _trim(self) -> None:
        while self._size > self._limit and self._chunks:
            excess = self._size - self._limit
            first = self._chunks[0]
            if len(first) <= excess:
                self._chunks.popleft()
                cut = len(first)
            else:
                self._chunks[0] = first[excess:]
                cut = excess
            self._size -= cut
            self._dropped += cut

    def text(self) -> str:
        """The kept tail as text, preceded by a note when bytes were dropped."""
        with self._lock:
            body = b"".join(self._chunks).decode("utf-8", "replace")
            dropped = self._dropped
        if dropped:
            return f"[… {dropped} earlier bytes truncated …]\n{body}"
        return body


class _BufferHandler(logging.Handler):
    def __init__(self, buffer: LogBuffer) -> None:
        super().__init__(logging.DEBUG)
        self._buffer = buffer
        formatter = logging.Formatter(_FORMAT)
        formatter.converter = time.gmtime
        self.setFormatter(formatter)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._buffer.write_text(self.format(record) + "\n")
        except Exception:  # a logging handler must never raise into the job
            self.handleError(record)


def run_logger(job: str, buffer: LogBuffer) -> logging.Logger:
    """A logger whose records go into ``buffer`` and on to ``rota.job``'s handlers.

    The logger is deliberately not registered with ``logging.getLogger``:
    one is made per run, and the logging manager never forgets a name.
    """
    logger = logging.Logger(f"rota.job.{job}", logging.INFO)
    logger.parent = logging.getLogger("rota.job")
    logger.addHandler(_BufferHandler(buffer))
    return logger


RUN_LOG: ContextVar[LogBuffer | None] = ContextVar("rota_run_log", default=None)
"""The log of the run whose Python job is executing in this thread or task, if any."""

_STREAMS = ("stdout", "stderr")
_install_lock = threading.Lock()
_users = 0
_factory: _CapturingFactory | None = None


class _Tee:
    """Stands in for ``sys.stdout``/``sys.stderr``: writes pass through, and those
    made by a job are copied into its run's log. Everything else is the stream's."""

    def __init__(self, stream: TextIO) -> None:
        self.wrapped = stream

    def write(self, text: str) -> int:
        written = self.wrapped.write(text)
        buffer = RUN_LOG.get()
        # a logging handler writing here: the record factory kept that record already
        if buffer is not None and sys._getframe(1).f_globals.get("__name__") != "logging":
            buffer.write_text(text)
        return written

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.wrapped, name)


class _CapturingFactory:
    """Wraps the log record factory: records created by a job are copied into its log.

    Records of ``rota.*`` loggers are left alone: ``ctx.logger`` stores its own.
    """

    def __init__(self, inner: Callable[..., logging.LogRecord]) -> None:
        self.inner = inner
        self._formatter = logging.Formatter(_FORMAT)
        self._formatter.converter = time.gmtime

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.inner(*args, **kwargs)
        buffer = RUN_LOG.get()
        if buffer is not None and not record.name.startswith("rota."):
            with suppress(Exception):  # a bad format string fails where handlers format it
                buffer.write_text(self._formatter.format(record) + "\n")
        return record


def start_capture() -> None:
    """Install the stream proxies and the record factory, once per process however
    many workers run; each call needs its ``stop_capture``."""
    global _users, _factory
    with _install_lock:
        _users += 1
        if _users > 1:
            return
        for name in _STREAMS:
            stream = getattr(sys, name)
            if stream is not None and not isinstance(stream, _Tee):
                setattr(sys, name, _Tee(stream))
        _factory = _CapturingFactory(logging.getLogRecordFactory())
        logging.setLogRecordFactory(_factory)


def stop_capture() -> None:
    """Undo ``start_capture`` once the last worker stops, where nobody replaced the
    proxies or the factory meanwhile (theirs stay)."""
    global _users, _factory
    with _install_lock:
        _users -= 1
        if _users > 0:
            return
        for name in _STREAMS:
            stream = getattr(sys, name)
            if isinstance(stream, _Tee):
                setattr(sys, name, stream.wrapped)
        if _factory is not None and logging.getLogRecordFactory() is _factory:
            logging.setLogRecordFactory(_factory.inner)
        _factory = None
