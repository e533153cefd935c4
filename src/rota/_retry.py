"""Riding out a store outage: exponential backoff with jitter, and logging it once.

A scheduler or worker whose store restarts or drops its connections gets
``StoreUnavailable`` from every call until the server is back. The loops
then wait ``backoff(failures)`` between attempts (0.1 s doubling to a 5 s
cap, each delay drawn from its upper half so that many processes do not
retry in step) and carry on. ``Outage`` keeps one component's view of it:
the first failure logs ``store.unavailable`` (a warning), later ones only
at debug level, and the first success after it logs ``store.recovered``.
"""

from __future__ import annotations

import logging
import random
import threading
from collections.abc import Callable
from typing import TypeVar

from rota.clock import Clock
from rota.errors import StoreUnavailable

T = TypeVar("T")

INITIAL_DELAY = 0.1
"""Seconds before the first retry."""
MAX_DELAY = 5.0
"""The cap on the delay between two attempts."""


def backoff(
    failures: int,
    *,
    initial: float = INITIAL_DELAY,
    cap: float = MAX_DELAY,
    rng: random.Random | None = None,
) -> float:
    """Seconds to wait after ``failures`` consecutive failures (1 for the first).

    ``initial * 2 ** (failures - 1)``, capped at ``cap``, then scaled by a
    random factor in [0.5, 1] ("equal jitter"): never less than half the
    nominal delay, never more than the cap.
    """
    nominal = min(cap, initial * 2.0 ** min(max(failures, 1) - 1, 64))
    return nominal * (0.5 + 0.5 * (rng or random).random())


class Outage:
    """One component's (``who``: "scheduler", "worker w1") view of the store's availability.

    Thread-safe: a worker's loop, its monitor and its runners report to one
    ``Outage``, so an outage is logged once however many threads meet it.
    """

    def __init__(
        self,
        logger: logging.Logger,
        who: str,
        clock: Clock,
        *,
        initial: float = INITIAL_DELAY,
        cap: float = MAX_DELAY,
        rng: random.Random | None = None,
    ) -> None:
        self.log = logger
        self.who = who
        self.clock = clock
        self.initial = initial
        self.cap = cap
        self._rng = rng or random.Random()
        self._lock = threading.Lock()
        self._failures = 0
        self._since: float | None = None

    @property
    def down(self) -> bool:
        """Whether the last store call reported here failed."""
        return self._failures > 0

    def failed(self, error: StoreUnavailable, doing: str) -> float:
        """Record a failed store call (``doing``: what it was for); the seconds to wait."""
        with self._lock:
            self._failures += 1
            failures = self._failures
            if failures == 1:
                self._since = self.clock.monotonic()
            delay = backoff(failures, initial=self.initial, cap=self.cap, rng=self._rng)
        level = logging.WARNING if failures == 1 else logging.DEBUG
        self.log.log(
            level,
            "%s: store unavailable while %s (failure %d, retrying in %.1fs): %s",
            self.who,
            doing,
            failures,
            delay,
            error,
            extra={"event": "store.unavailable", "failures": failures},
        )
        return delay

    def succeeded(self) -> None:
        """Record a store call that worked; logs ``store.recovered`` after an outage."""
        if not self._failures:  # the common case, without the lock
            return
        with self._lock:
            failures, self._failures = self._failures, 0
            since, self._since = self._since, None
        if not failures:
            return
        elapsed = self.clock.monotonic() - (since if since is not None else self.clock.monotonic())
        self.log.info(
            "%s: store reachable again after %.1fs (%d failed attempts)",
            self.who,
            elapsed,
            failures,
            extra={"event": "store.recovered", "failures": failures},
        )

    def call(
        self,
        action: Callable[[], T],
        doing: str,
        *,
        halt: threading.Event,
        give_up_at: Callable[[], float],
    ) -> T:
        """``action()``, retried with backoff while it raises ``StoreUnavailable``.

        Gives up (re-raising the last ``StoreUnavailable``) once the clock's
        monotonic time passes ``give_up_at()`` (read after each failure, so
        the bound can move, as a lease renewed meanwhile does) or ``halt``
        is set. The first attempt is always made.
        """
        while True:
            try:
                result = action()
            except StoreUnavailable as error:
                delay = self.failed(error, doing)
                left = give_up_at() - self.clock.monotonic()
                if halt.is_set() or left <= 0:
                    raise
                self.clock.wait(halt, min(delay, left))
                continue
            self.succeeded()
            return result


__all__ = ["INITIAL_DELAY", "MAX_DELAY", "Outage", "backoff"]
