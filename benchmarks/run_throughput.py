"""End-to-end no-op runs per second in one process: claim, execute, finish, through a store.

Run: ``.venv/bin/python benchmarks/run_throughput.py [N]``. Inserts N queued
runs of a registered no-op job, then times ``Worker.run_pending()`` (what
``rota run`` uses) until every run succeeded; SQLite on a temporary file, and
the memory store for reference. Target: >= 2,000 runs/s on SQLite.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from rota.app import Rota
from rota.config import RotaConfig
from rota.runs import Run, RunState
from rota.stores.base import Store
from rota.stores.memory import MemoryStore
from rota.stores.sqlite import SQLiteStore
from rota.worker import WorkerConfig

REPEATS = 3
TARGET = 2_000.0


def noop() -> None:
    """The job: nothing, so what is measured is rota's own cost per run."""


def queued(count: int, tag: str) -> list[Run]:
    now = datetime.now(UTC)
    return [
        Run(id=f"{tag}-{i:07}", job="noop", state=RunState.QUEUED, created_at=now, available_at=now)
        for i in range(count)
    ]


def measure(store: Store, count: int, concurrency: int, tag: str) -> float:
    """Runs per second for ``count`` queued no-op runs drained by one worker."""
    config = RotaConfig(worker=WorkerConfig(concurrency=concurrency))
    app = Rota(store, config=config)
    app.job(name="noop")(noop)
    store.insert_runs(queued(count, tag))
    worker = app.worker()
    started = time.perf_counter()
    done = worker.run_pending()
    elapsed = time.perf_counter() - started
    worker.stop()
    assert len(done) == count, len(done)
    assert all(run.state is RunState.SUCCEEDED for run in done)
    return count / elapsed


def best_of(make: Callable[[], Store], count: int, concurrency: int) -> tuple[float, float]:
    rates = []
    for k in range(REPEATS):
        store = make()
        try:
            rates.append(measure(store, count, concurrency, f"r{k}"))
        finally:
            store.close()
    return max(rates), statistics.median(rates)


def main() -> None:
    count = int(sys.argv[1]) if len(sys.argv) > 1 else 5_000
    with tempfile.TemporaryDirectory() as tmp:
        paths = iter(range(1_000))

        def sqlite() -> Store:
            store = SQLiteStore(Path(tmp) / f"bench{next(paths)}.db")
            store.migrate()
            return store

        rows = [
            ("sqlite (file, WAL)", 1, *best_of(sqlite, count, 1)),
            ("sqlite (file, WAL)", 4, *best_of(sqlite, count, 4)),
            ("memory", 1, *best_of(MemoryStore, count, 1)),
            ("memory", 4, *best_of(MemoryStore, count, 4)),
        ]
    print(f"no-op runs, {count} per trial, best and median of {REPEATS}, one process")
    print(f"{'store':<20} {'concurrency':>11} {'best runs/s':>12} {'median runs/s':>14}")
    for label, concurrency, best, median in rows:
        print(f"{label:<20} {concurrency:>11} {best:>12,.0f} {median:>14,.0f}")
    sqlite_best = max(best for label, _, best, _ in rows if label.startswith("sqlite"))
    verdict = "meets" if sqlite_best >= TARGET else "MISSES"
    print(f"sqlite best {sqlite_best:,.0f}/s {verdict} the target of {TARGET:,.0f}/s")


if __name__ == "__main__":
    main()
