"""Firing latency: from a slot's instant to its job starting, rota against APScheduler 3.

Run: ``.venv/bin/python benchmarks/firing_latency.py [SECONDS]``. Each
scheduler runs an every-second job for SECONDS (default 15) in this process,
one after the other: rota as ``rota work`` runs it (``Rota.start()``, the
scheduler loop and a worker pool, on a SQLite file and on the memory store),
then APScheduler 3's ``BackgroundScheduler`` with ``cron(second="*")``. The
job notes ``time.time()`` minus its slot. Target: rota p99 <= 10 ms.
"""

from __future__ import annotations

import math
import statistics
import sys
import tempfile
import threading
import time
from datetime import UTC
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from apscheduler.schedulers.background import BackgroundScheduler

from rota.app import Rota
from rota.context import RunContext
from rota.stores.base import Store
from rota.stores.memory import MemoryStore
from rota.stores.sqlite import SQLiteStore

TARGET_P99 = 0.010


def rota_latencies(store: Store, seconds: float) -> list[float]:
    samples: list[float] = []
    app = Rota(store)

    @app.job(name="tick")
    def tick(ctx: RunContext) -> None:
        assert ctx.slot is not None
        samples.append(time.time() - ctx.slot.timestamp())

    app.schedule(tick).every_second().named("tick").catch_up("none")
    app.start()
    try:
        time.sleep(seconds)
    finally:
        app.stop()
        store.close()
    return samples[1:]  # the first slot may be the current second, started late by design


def apscheduler_latencies(seconds: float) -> list[float]:
    samples: list[float] = []
    lock = threading.Lock()

    def tick() -> None:
        now = time.time()
        with lock:
            samples.append(now - math.floor(now))  # the slot is the whole second just passed

    scheduler = BackgroundScheduler(timezone=UTC)
    scheduler.add_job(tick, "cron", second="*")
    scheduler.start()
    try:
        time.sleep(seconds)
    finally:
        scheduler.shutdown(wait=True)
    return samples


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))
    return ordered[index]


def row(label: str, samples: list[float]) -> tuple[str, int, float, float, float, float]:
    ms = [s * 1000 for s in samples]
    return (
        label,
        len(ms),
        statistics.median(ms),
        percentile(ms, 0.99),
        max(ms),
        statistics.mean(ms),
    )


def main() -> None:
    seconds = float(sys.argv[1]) if len(sys.argv) > 1 else 15.0
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = SQLiteStore(Path(tmp) / "latency.db")
        sqlite.migrate()
        rows = [row("rota work, sqlite", rota_latencies(sqlite, seconds))]
    rows.append(row("rota work, memory", rota_latencies(MemoryStore(), seconds)))
    rows.append(row("APScheduler 3 cron", apscheduler_latencies(seconds)))
    print(f"firing latency of an every-second job over {seconds:g}s each, milliseconds")
    print(f"{'scheduler':<20} {'n':>4} {'p50':>8} {'p99':>8} {'max':>8} {'mean':>8}")
    for label, n, p50, p99, top, mean in rows:
        print(f"{label:<20} {n:>4} {p50:>8.2f} {p99:>8.2f} {top:>8.2f} {mean:>8.2f}")
    aps = rows[-1]
    for label, _, p50, p99, top, _ in rows[:-1]:
        print(
            f"{label} / APScheduler (above 1: rota is later): p50 {p50 / aps[2]:.2f}x, "
            f"p99 {p99 / aps[3]:.2f}x, max {top / aps[4]:.2f}x"
        )
    p99 = rows[0][3] / 1000
    verdict = "meets" if p99 <= TARGET_P99 else "MISSES"
    print(f"rota (sqlite) p99 {p99 * 1000:.2f} ms {verdict} the target of {TARGET_P99 * 1000:g} ms")


if __name__ == "__main__":
    main()
