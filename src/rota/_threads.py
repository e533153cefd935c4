"""The threads a worker runs sync jobs in: reused, and never joined at exit.

``concurrent.futures.ThreadPoolExecutor`` joins its threads when the
interpreter exits. A worker whose drain timed out has released the runs of
jobs still running (a thread cannot be killed) and discarded their results,
so waiting for those jobs would only hold up the exit: these threads are
daemons. Idle threads are kept for the next task and end on ``close()``.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from queue import SimpleQueue

log = logging.getLogger("rota.worker")


class DaemonThreads:
    """Runs submitted callables on daemon threads, starting one when none is idle."""

    def __init__(self, prefix: str) -> None:
        self._prefix = prefix
        self._tasks: SimpleQueue[Callable[[], object] | None] = SimpleQueue()
        self._idle = threading.Semaphore(0)
        self._lock = threading.Lock()
        self._started = 0
        self._closed = False

    def submit(self, task: Callable[[], object]) -> None:
        """Run ``task`` on an idle thread, or on a new one."""
        with self._lock:
            if self._closed:
                raise RuntimeError("these threads were closed")
            self._tasks.put(task)
            if self._idle.acquire(blocking=False):
                return
            self._started += 1
            name = f"{self._prefix}_{self._started}"
        threading.Thread(target=self._serve, name=name, daemon=True).start()

    def close(self) -> None:
        """End idle threads now and busy ones after their task; tasks not started
        yet still run first. Does not wait."""
        with self._lock:
            self._closed = True
        self._tasks.put(None)

    def _serve(self) -> None:
        while (task := self._tasks.get()) is not None:
            try:
                task()
            except Exception:  # tasks handle their own errors; keep the thread anyway
                log.exception("worker thread error", extra={"event": "worker.error"})
            self._idle.release()
        self._tasks.put(None)  # pass the end on to the next thread
