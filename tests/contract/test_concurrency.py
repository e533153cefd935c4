"""Contract: the exactly-once guarantees hold under threads sharing one store."""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from rota.stores.base import Store

from .support import LEASE, NOW, make_run

THREADS = 8
T = TypeVar("T")


def _together(work: Callable[[int], T]) -> list[T]:
    """Run ``work(i)`` in ``THREADS`` threads released at the same moment."""
    barrier = threading.Barrier(THREADS)

    def go(i: int) -> T:
        barrier.wait(timeout=10)
        return work(i)

    with ThreadPoolExecutor(THREADS) as pool:
        return list(pool.map(go, range(THREADS)))


def test_concurrent_inserts_of_one_id_succeed_once(store: Store) -> None:
    for n in range(20):

        def insert(i: int, n: int = n) -> bool:
            return store.insert_run(make_run(f"r{n}", job=f"j{i}"))

        assert sorted(_together(insert)) == [False] * (THREADS - 1) + [True]


def test_concurrent_claims_never_share_a_run(store: Store) -> None:
    store.insert_runs([make_run(f"r{i:03}", available=-i) for i in range(200)])

    def drain(i: int) -> list[str]:
        mine: list[str] = []
        while runs := store.claim_runs(worker=f"w{i}", now=NOW, limit=3, lease_seconds=LEASE):
            mine += [r.id for r in runs]
        return mine

    claimed = [run_id for ids in _together(drain) for run_id in ids]
    assert sorted(claimed) == [f"r{i:03}" for i in range(200)]


def test_concurrent_exclusive_claims_run_one_at_a_time(store: Store) -> None:
    store.insert_runs([make_run(f"x{i}", exclusive=True, available=-i) for i in range(8)])
    claimed = _together(
        lambda i: store.claim_runs(worker=f"w{i}", now=NOW, limit=2, lease_seconds=LEASE)
    )
    assert sum(len(runs) for runs in claimed) == 1
