"""A run's captured log: bounded, keeping the tail.

A job that logs in a loop, or a shell command that prints a build log, must
not grow the stored run without limit; the end of the output is where the
error usually is, so the oldest bytes are dropped first and a note says how
many.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque

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
