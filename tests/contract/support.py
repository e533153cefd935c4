"""Builders shared by the contract tests."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from rota.runs import Run, RunOptions, RunState, manual_run_id
from rota.stores.base import Outcome, ScheduleRecord, Store

if TYPE_CHECKING:
    from rota.stores.redis import RedisStore

NOW = datetime(2030, 1, 1, 12, 0, tzinfo=UTC)
LEASE = 30.0


def at(seconds: float) -> datetime:
    """``NOW`` shifted by ``seconds``."""
    return NOW + timedelta(seconds=seconds)


def make_run(
    run_id: str | None = None,
    *,
    state: RunState = RunState.QUEUED,
    schedule: str | None = "s",
    available: float = 0.0,
    created: float = 0.0,
    exclusive: bool = False,
    max_attempts: int = 1,
    **changes: Any,
) -> Run:
    """A queued run available at ``NOW + available`` unless told otherwise."""
    fields: dict[str, Any] = {
        "job": "tests.job",
        "created_at": at(created),
        "available_at": at(available),
        "schedule": schedule,
        "options": RunOptions(exclusive=exclusive, max_attempts=max_attempts),
    }
    return Run(id=run_id or manual_run_id(), state=state, **(fields | changes))


def make_schedule(
    name: str = "s", *, next_due: float | None = 0.0, **changes: Any
) -> ScheduleRecord:
    fields: dict[str, Any] = {
        "job": "tests.job",
        "spec": {"job": "tests.job", "trigger": {"cron": "* * * * *"}},
        "created_at": NOW,
        "updated_at": NOW,
        "next_due": None if next_due is None else at(next_due),
    }
    return ScheduleRecord(name=name, **(fields | changes))


def claim_one(store: Store, *, now: datetime = NOW, worker: str = "w1") -> Run:
    """Claim exactly one run and return it."""
    runs = store.claim_runs(worker=worker, now=now, limit=1, lease_seconds=LEASE)
    assert len(runs) == 1, runs
    return runs[0]


def start(store: Store, run: Run, *, now: datetime = NOW) -> Run:
    """Insert ``run`` and claim it; the running run."""
    assert store.insert_run(run)
    claimed = claim_one(store, now=now)
    assert claimed.id == run.id
    return claimed


def ok(**changes: Any) -> Outcome:
    return Outcome(state=RunState.SUCCEEDED, **changes)


@contextmanager
def redis_stores(url: Callable[..., str]) -> Iterator[Callable[..., RedisStore]]:
    """An opener of migrated Redis stores at ``url(*args, **query)`` (one per
    'process'), every one closed on exit."""
    from rota.stores.redis import RedisStore

    stores: list[RedisStore] = []

    def opener(*args: Any, **query: str) -> RedisStore:
        store = RedisStore.from_url(url(*args, **query))
        store.migrate()
        stores.append(store)
        return store

    try:
        yield opener
    finally:
        for store in stores:
            store.close()
