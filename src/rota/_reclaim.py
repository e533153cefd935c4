"""What follows a run's end outside its own worker: lapsed leases taken back, the hooks
told, the runs waiting for it (``after``) settled. One routine for the worker, the
scheduler loop and a ``rota run`` pass, which all take back lapsed leases."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from rota.errors import StoreUnavailable
from rota.runs import Run
from rota.stores.base import Store

if TYPE_CHECKING:
    from rota._hooks import Hooks

log = logging.getLogger("rota.worker")


def reclaim_lapsed(store: Store, now: datetime, hooks: Hooks | None) -> list[Run]:
    """``store.reclaim_expired(now)``, each run logged, then ``follow_up``. Raises what
    ``reclaim_expired`` raises (the caller knows how it handles an outage)."""
    reclaimed = store.reclaim_expired(now)
    for run in reclaimed:
        log.warning(
            "run %s of %s: lease expired, now %s",
            run.id,
            run.job,
            run.state,
            extra={"event": "run.reclaimed", "run_id": run.id},
        )
    follow_up(store, reclaimed, now, hooks)
    return reclaimed


def follow_up(
    store: Store,
    runs: Sequence[Run],
    now: datetime,
    hooks: Hooks | None,
    *,
    ended: Sequence[str] | None = None,
) -> None:
    """Hand ``runs`` (as stored) to the hooks, then settle the runs waiting below
    those that ended (``ended``: their ids, when the caller knows them better than
    ``runs`` tell). Neither ever raises: a hook is advisory, and a waiting run
    left undecided is caught by the scheduler's sweep."""
    if hooks is not None and runs:
        try:
            hooks.ended([run for run in runs if hooks.wants(run)])
        except Exception:
            log.exception("dispatching hooks failed", extra={"event": "hook.error"})
    ids = [run.id for run in runs if run.state.is_terminal] if ended is None else list(ended)
    settle(store, ids, now)


def settle(store: Store, ids: list[str], now: datetime) -> None:
    """``store.settle_waiting(ids)``: the children of runs that just ended are queued or
    fail. Failing here only delays them: the scheduler's sweep catches up."""
    if not ids:
        return
    try:
        store.settle_waiting(ids, now=now)
    except StoreUnavailable as error:
        log.warning(
            "runs waiting for %d ended run(s) not settled, the store is unavailable: %s",
            len(ids),
            error,
            extra={"event": "run.settle_deferred", "run_ids": ids},
        )
    except Exception:
        log.exception(
            "settling the runs waiting for %d ended run(s) failed",
            len(ids),
            extra={"event": "worker.error", "run_ids": ids},
        )
