"""Helpers for testing schedules without sleeping: a clock you move by hand."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from rota.errors import NaiveDatetime


class FakeClock:
    """A ``Clock`` that only moves when told to.

    ``wait`` never sleeps for the requested time: it returns as soon as the
    event is set or after a very short real pause, so loops driven by a fake
    clock stay responsive while the test moves time with ``advance``.
    """

    def __init__(self, start: datetime | None = None) -> None:
        start = start or datetime(2026, 1, 1, tzinfo=UTC)
        if start.tzinfo is None:
            raise NaiveDatetime("FakeClock start")
        self._now = start.astimezone(UTC)
        self._monotonic = 0.0
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def monotonic(self) -> float:
        with self._lock:
            return self._monotonic

    def wait(self, event: threading.Event, timeout: float | None) -> bool:
        return event.wait(0.001 if timeout is None else min(max(timeout, 0.0), 0.001))

    def advance(self, seconds: float | timedelta) -> datetime:
        """Move time forward; returns the new now."""
        delta = seconds if isinstance(seconds, timedelta) else timedelta(seconds=seconds)
        if delta < timedelta(0):
            raise ValueError("a clock does not go back; use set() to jump")
        with self._lock:
            self._now += delta
            self._monotonic += delta.total_seconds()
            return self._now

    def set(self, when: datetime) -> datetime:
        """Jump to ``when`` (forward or back, as a wall clock may)."""
        if when.tzinfo is None:
            raise NaiveDatetime("FakeClock.set")
        with self._lock:
            self._now = when.astimezone(UTC)
            return self._now


__all__ = ["FakeClock"]


# -- testing an app's schedules (rota.app) -------------------------------------------------
# Imported lazily so that ``from rota.testing import FakeClock`` stays light.

if TYPE_CHECKING:
    from rota.app import Rota, RunReport
    from rota.runs import Run
    from rota.schedule import Schedule


def make_test_rota(
    start: datetime | None = None,
    *,
    environment: str | None = None,
    host: str = "test-host",
) -> Rota:
    """A ``Rota`` on a fresh memory store and a ``FakeClock`` at ``start``.

    Declare jobs and schedules on it, then ``run_due(rota, now=...)``.
    """
    from rota.app import Rota
    from rota.stores.memory import MemoryStore

    return Rota(MemoryStore(), clock=FakeClock(start), environment=environment, host=host)


def isolate(app: Rota, start: datetime | None = None) -> FakeClock:
    """Point your own ``app`` at a fresh memory store and a ``FakeClock``; returns the clock.

    Call it before the app touches its store (it is opened on first use),
    for example in a fixture right after importing the module declaring it.
    """
    from rota.stores.memory import MemoryStore

    if app._store is not None or app._scheduler is not None:
        raise RuntimeError("isolate() must be called before the app opens its store")
    clock = FakeClock(start)
    app._store = MemoryStore()
    app.clock = clock
    return clock


def run_due(app: Rota, now: datetime | None = None) -> RunReport:
    """Move the app's ``FakeClock`` to ``now`` (if given) and run one ``rota run`` pass."""
    if now is not None:
        clock = app.clock
        if not isinstance(clock, FakeClock):
            raise TypeError("run_due(now=...) needs an app built with a FakeClock")
        clock.set(now)
    return app.run_due()


def runs_of(app: Rota, schedule: str | Schedule, *, limit: int = 1000) -> list[Run]:
    """The schedule's runs in the app's store, oldest slot first."""
    name = schedule if isinstance(schedule, str) else schedule.name
    runs = app.store.list_runs(schedule=name, limit=limit)
    return sorted(runs, key=lambda run: (run.slot or run.created_at, run.id))


def upcoming(schedule: Schedule, after: datetime, count: int = 5) -> list[datetime]:
    """The next ``count`` slots of ``schedule`` after ``after`` that its filters allow,
    in the schedule's timezone (environment filters are not applied)."""
    slots: list[datetime] = []
    slot: datetime | None = after
    for _ in range(count * 1000):
        slot = schedule.trigger.next_after(slot) if slot is not None else None
        if slot is None or len(slots) >= count:
            break
        if all(f.allows(slot.astimezone(schedule.tz), None) for f in _slot_filters(schedule)):
            slots.append(slot.astimezone(schedule.tz))
    return slots


def _slot_filters(schedule: Schedule) -> list[Any]:
    from rota._filters import Environments

    return [f for f in schedule.filters if not isinstance(f, Environments)]


__all__ += ["isolate", "make_test_rota", "run_due", "runs_of", "upcoming"]
