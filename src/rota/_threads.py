"""The threads a worker runs sync jobs in: reused, and never joined at exit.

``concurrent.futures.ThreadPoolExecutor`` joins its threads when the
interpreter exits. A worker whose drain timed out has released the runs of
jobs still running (a thread cannot be killed) and discarded their results,
so waiting for those jobs would only hold up the exit: these threads are
daemons. Idle threads are kept for the next task and end on ``close()``.

``Batcher`` collects the outcomes a worker writes a batch at a time.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from collections.abc import Callable
from queue import SimpleQueue
from typing import Generic, TypeVar

log = logging.getLogger("rota.worker")
T = TypeVar("T")


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


class Batcher(Generic[T]):
    """Collects items for ``write``, which takes them a list at a time.

    Whoever adds items decides when to ``flush`` (a worker: once its local
    queue has drained, or enough outcomes are waiting), in its own thread or,
    with ``flush_soon``, in the timer thread while it goes on; the timer thread
    flushes whatever has waited ``max_delay`` real seconds meanwhile, so an
    item never waits behind a job that turned out slow. The timer uses the
    real clock, never an injected one: the delay is milliseconds and a fake
    clock would never let it pass. The thread starts with the first item
    and ends on ``stop()``; a later ``add`` starts it again.

    ``write`` is called outside the lock, by the flushing thread; batches
    flushed by two threads at once are disjoint.
    """

    def __init__(self, write: Callable[[list[T]], None], *, max_delay: float, name: str) -> None:
        self._write = write
        self._max_delay = max_delay
        self._name = name
        self._lock = threading.Lock()
        self._changed = threading.Condition(self._lock)
        self._items: list[T] = []
        self._since = 0.0
        self._writing = 0
        self._timer: threading.Thread | None = None

    @property
    def waiting(self) -> int:
        """How many items wait for a flush."""
        return len(self._items)

    def add(self, item: T) -> int:
        """Queue ``item`` for the next flush; how many items now wait."""
        with self._changed:
            if not self._items:
                self._since = time.monotonic()
                if self._timer is None:  # started under the lock: stop() may join it at once
                    self._timer = threading.Thread(target=self._serve, name=self._name, daemon=True)
                    self._timer.start()
                else:
                    self._changed.notify_all()
            self._items.append(item)
            return len(self._items)

    def flush(self) -> None:
        """Write the waiting items now, in this thread (nothing when none wait)."""
        with self._changed:
            items, self._items = self._items, []
            if not items:
                return
            self._writing += 1
        try:
            self._write(items)
        finally:
            with self._changed:
                self._writing -= 1
                self._changed.notify_all()

    def flush_soon(self) -> None:
        """Have the timer thread write the waiting items now, while this thread goes on."""
        with self._changed:
            if self._items:  # then the timer runs (or a stop() is about to flush them)
                self._since = -math.inf
                self._changed.notify_all()

    def drain(self) -> None:
        """Flush, then wait until no other thread is writing a batch either."""
        self.flush()
        with self._changed:
            while self._writing:
                self._changed.wait()

    def stop(self) -> None:
        """Flush what waits and end the timer thread (after the batch it writes, if any)."""
        with self._changed:
            timer, self._timer = self._timer, None  # ends it: it serves while it is the timer
            self._changed.notify_all()
        self.flush()
        if timer is not None and timer is not threading.current_thread():
            timer.join()

    def _serve(self) -> None:
        while True:
            with self._changed:
                while True:
                    if self._timer is not threading.current_thread():
                        return
                    if self._items:
                        left = self._since + self._max_delay - time.monotonic()
                        if left <= 0:
                            break
                        self._changed.wait(left)
                    else:
                        self._changed.wait()
            try:
                self.flush()
            except Exception:  # write handles its own errors; keep the timer anyway
                log.exception("worker thread error", extra={"event": "worker.error"})
