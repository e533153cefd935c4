"""Calling hooks and sending pings once a run's outcome is stored, off the worker's path.

Events: ``success`` (succeeded), ``failure`` (finally failed or timed out),
``retry`` (an attempt failed, the run is retried), ``missed`` (a scheduler
recorded a slot as missed); a cancelled run only sends its ``after`` pings.
For each run, the schedule's hooks come first, then the app's, then the
pings (``success`` or ``failure``, then ``after``), in the order added.

Everything but ``ping_before`` runs on one background daemon thread fed by
a bounded queue: the worker hands a run over and moves on. When the queue
is full the run's hooks are dropped with a warning (``hook.dropped``); a
hook that raises is logged (``hook.error``) and changes nothing; a ping
that fails is logged (``ping.failed``) and not retried. ``flush`` waits,
bounded, for what is queued: a worker's ``stop()`` calls it, so a one-shot
``rota run`` does not exit before its hooks ran. ``urllib.request`` loads
with the first ping, never on import.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from functools import partial
from typing import TYPE_CHECKING

from rota._hook_methods import HOOK_EVENTS, Hook
from rota.errors import ConfigurationError, RotaError
from rota.runs import Run, RunState

if TYPE_CHECKING:
    from rota.schedule import Schedule

log = logging.getLogger("rota.hooks")

Lookup = Callable[[str], "Schedule | None"]
"""The code schedule of a name, whose hooks apply to its runs (None: none declared here)."""

_HOOK_OF: dict[RunState, str] = {
    RunState.SUCCEEDED: "success",
    RunState.FAILED: "failure",
    RunState.TIMED_OUT: "failure",
    RunState.RETRYING: "retry",
    RunState.MISSED: "missed",
}
_PINGS_OF: dict[RunState, tuple[str, ...]] = {
    RunState.SUCCEEDED: ("success", "after"),
    RunState.FAILED: ("failure", "after"),
    RunState.TIMED_OUT: ("failure", "after"),
    RunState.CANCELLED: ("after",),
}
QUEUE_SIZE = 1000
"""Runs whose hooks may wait for the background thread at once; more are dropped."""
PING_TIMEOUT = 5.0
"""Seconds one ping may take."""
FLUSH_TIMEOUT = 10.0
"""Seconds ``flush`` waits for queued hooks and pings, at most."""
_IDLE = 2.0
"""Real seconds the background thread waits for work before it ends (a new one starts)."""


def _no_schedule(name: str) -> Schedule | None:
    return None


def ping(url: str, *, timeout: float = PING_TIMEOUT, run: Run | None = None) -> bool:
    """GET ``url`` (healthchecks.io style); True on a 2xx/3xx answer. Failures are
    logged as ``ping.failed`` warnings and never raised or retried."""
    import urllib.request  # here: importing rota, or a pass with nothing to run, loads no HTTP

    run_id = run.id if run is not None else None
    request = urllib.request.Request(url, headers={"User-Agent": "rota"})
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            response.read(1024)
    except Exception as exc:
        log.warning(
            "ping %s for run %s failed: %s",
            url,
            run_id,
            exc,
            extra={"event": "ping.failed", "url": url, "run_id": run_id},
        )
        return False
    log.debug("pinged %s", url, extra={"event": "ping.sent", "url": url, "run_id": run_id})
    return True


class Hooks:
    """The app's hooks, the hooks of its code schedules (found with ``lookup``) and
    every run's pings (in its options), called on one background thread."""

    def __init__(
        self,
        lookup: Lookup = _no_schedule,
        *,
        queue_size: int = QUEUE_SIZE,
        ping_timeout: float = PING_TIMEOUT,
        flush_timeout: float = FLUSH_TIMEOUT,
    ) -> None:
        self._lookup = lookup
        self._app: dict[str, tuple[Hook, ...]] = {}
        self.ping_timeout = ping_timeout
        self.flush_timeout = flush_timeout
        self._queue = _Queue(queue_size)

    def add(self, event: str, fn: Hook) -> None:
        """Call ``fn(run)`` on ``event`` for every run (the app's own hooks)."""
        if event not in HOOK_EVENTS:
            known = ", ".join(HOOK_EVENTS)
            raise ConfigurationError(f"unknown hook event {event!r} (known: {known})")
        if not callable(fn):
            raise ConfigurationError(f"on_{event}() needs a callable taking the run, not {fn!r}")
        self._app = {**self._app, event: (*self._app.get(event, ()), fn)}

    def wants(self, run: Run) -> bool:
        """Whether ``run``'s outcomes have anything to call or send (cheap)."""
        return bool(run.options.pings or self._app or self._schedule_hooks(run))

    def ended(self, runs: Iterable[Run]) -> None:
        """Queue the hooks and pings of ``runs``, as stored after an attempt or a reclaim."""
        for run in runs:
            hooks = self._hooks(run, _HOOK_OF.get(run.state))
            pings = run.options.pings
            urls = [url for event in _PINGS_OF.get(run.state, ()) for url in pings.get(event, ())]
            if hooks or urls:
                self._queue.put(partial(self._call, run, hooks, urls), run)

    def missed(self, runs: Iterable[Run]) -> None:
        """Queue the ``missed`` hooks of ``runs`` (missed runs a tick inserted)."""
        self.ended(run for run in runs if run.state is RunState.MISSED)

    def before(self, run: Run) -> None:
        """Send ``run``'s ``before`` pings now, one after another (each bounded)."""
        for url in run.options.pings.get("before", ()):
            ping(url, timeout=self.ping_timeout, run=run)

    def flush(self, timeout: float | None = None) -> bool:
        """Wait (at most ``timeout`` real seconds, default ``flush_timeout``) until every
        queued hook and ping is done; False if some were still waiting."""
        return self._queue.join(self.flush_timeout if timeout is None else timeout)

    def _hooks(self, run: Run, event: str | None) -> tuple[Hook, ...]:
        if event is None:
            return ()
        schedule = self._schedule(run)
        own = schedule.hooks_for(event) if schedule is not None else ()
        return (*own, *self._app.get(event, ()))

    def _schedule_hooks(self, run: Run) -> bool:
        schedule = self._schedule(run)
        return schedule is not None and any(schedule.hooks_for(e) for e in HOOK_EVENTS)

    def _schedule(self, run: Run) -> Schedule | None:
        if run.schedule is None:
            return None
        try:
            return self._lookup(run.schedule)
        except RotaError:  # the app's schedules do not load (two of one name): its own hooks only
            return None
        except Exception:
            log.exception(
                "finding the hooks of schedule %r failed",
                run.schedule,
                extra={"event": "hook.error", "run_id": run.id},
            )
            return None

    def _call(self, run: Run, hooks: Sequence[Hook], urls: Sequence[str]) -> None:
        for hook in hooks:
            try:
                hook(run)
            except BaseException:  # a hook's sys.exit() must not end the thread either
                name = getattr(hook, "__qualname__", repr(hook))
                log.exception(
                    "hook %s for run %s (%s) failed",
                    name,
                    run.id,
                    run.state,
                    extra={"event": "hook.error", "run_id": run.id, "hook": name},
                )
        for url in urls:
            ping(url, timeout=self.ping_timeout, run=run)


class _Queue:
    """A bounded queue of calls served by one daemon thread, started when work comes
    and ended after ``_IDLE`` seconds without any."""

    def __init__(self, size: int) -> None:
        self._size = size
        self._items: deque[Callable[[], None]] = deque()
        self._cond = threading.Condition()
        self._busy = False
        self._thread: threading.Thread | None = None

    def put(self, item: Callable[[], None], run: Run) -> bool:
        """Queue ``item``; False (and a ``hook.dropped`` warning) when the queue is full."""
        with self._cond:
            if len(self._items) >= self._size:
                full = True
            else:
                full = False
                self._items.append(item)
                if self._thread is None:
                    self._thread = threading.Thread(target=self._serve, name="rota-hooks")
                    self._thread.daemon = True
                    self._thread.start()
                self._cond.notify_all()
        if full:
            log.warning(
                "hooks and pings of run %s (%s) dropped: %d are waiting already",
                run.id,
                run.state,
                self._size,
                extra={"event": "hook.dropped", "run_id": run.id},
            )
        return not full

    def join(self, timeout: float) -> bool:
        """Wait until nothing is queued or running, at most ``timeout`` real seconds."""
        with self._cond:
            if self._thread is threading.current_thread():  # a hook that stops a worker
                return not self._items
            return self._cond.wait_for(lambda: not self._items and not self._busy, timeout)

    def _serve(self) -> None:
        while True:
            with self._cond:
                self._busy = False
                self._cond.notify_all()
                deadline = time.monotonic() + _IDLE
                while not self._items:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        self._thread = None
                        return
                    self._cond.wait(left)
                item = self._items.popleft()
                self._busy = True
            try:
                item()
            except Exception:  # ``_call`` logs per hook; this is a bug in rota
                log.exception("calling hooks failed", extra={"event": "hook.error"})
