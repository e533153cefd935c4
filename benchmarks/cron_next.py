"""Cost per next-slot computation: rota against croniter, cronsim and APScheduler 3.

Run: ``.venv/bin/python benchmarks/cron_next.py``. Two modes per row:

* iteration: consecutive slots, each library in its fastest way (rota
  ``iter_after``/``next_after(prev)``, cronsim ``next()`` on one iterator,
  croniter ``get_next`` on one iterator, APScheduler ``get_next_fire_time(prev, prev)``);
* random: the first slot after each of a set of arbitrary instants (rota and
  APScheduler reuse their trigger; cronsim and croniter must build an iterator).

Prints microseconds per slot (best of several repeats) and ``fastest peer / rota``.
"""

from __future__ import annotations

import random
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from croniter import croniter
from cronsim import CronSim

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "src"))

from rota.cron import Cron

REPEATS = 7
ITERATIONS = 1000
RANDOM_QUERIES = 300


@dataclass(frozen=True)
class Row:
    label: str
    expr: str
    aps: dict[str, str] | None  # CronTrigger keywords; None when it cannot say it
    tz: str = "UTC"
    start: datetime = datetime(2024, 1, 1, tzinfo=UTC)
    iterations: int = ITERATIONS
    extra: dict[str, Any] = field(default_factory=dict)


def _rows() -> list[Row]:
    base = [
        ("simple", "*/5 * * * *", {"minute": "*/5"}),
        ("fixed daily", "30 2 * * *", {"minute": "30", "hour": "2"}),
        ("stepped", "*/7 9-17 * * *", {"minute": "*/7", "hour": "9-17"}),
        ("weekday", "0 9 * * mon-fri", {"minute": "0", "hour": "9", "day_of_week": "mon-fri"}),
        ("L", "0 0 L * *", {"minute": "0", "hour": "0", "day": "last"}),
        ("#", "0 12 * * 5#3", {"minute": "0", "hour": "12", "day": "3rd fri"}),
    ]
    rows = [Row(f"{label} UTC", expr, aps) for label, expr, aps in base]
    rows += [
        Row(f"{label} New_York", expr, aps, tz="America/New_York") for label, expr, aps in base
    ]
    march = datetime(2024, 3, 1, tzinfo=ZoneInfo("America/New_York"))
    rows.append(
        Row(
            "DST March NY",
            "30 2 * * *",
            {"minute": "30", "hour": "2"},
            "America/New_York",
            march,
            31,
        )
    )
    return rows


def _best(fn: Callable[[], None], calls: int) -> float:
    """Best-of-REPEATS microseconds per call."""
    best = float("inf")
    for _ in range(REPEATS):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best / calls * 1e6


def _iteration(row: Row) -> dict[str, float | None]:
    n, tz = row.iterations, ZoneInfo(row.tz)
    start = row.start.astimezone(tz)
    cron = Cron(row.expr, tz=tz)
    loops = max(1, 1000 // n)

    def rota_next() -> None:
        for _ in range(loops):
            t = start
            for _ in range(n):
                t = cron.next_after(t)

    def rota_iter() -> None:
        for _ in range(loops):
            it: Iterator[datetime] = cron.iter_after(start)
            for _ in range(n):
                next(it)

    def cronsim_() -> None:
        for _ in range(loops):
            it = CronSim(row.expr, start)
            for _ in range(n):
                next(it)

    def croniter_() -> None:
        for _ in range(loops):
            it = croniter(row.expr, start)
            for _ in range(n):
                it.get_next(datetime)

    results: dict[str, float | None] = {
        "rota": min(_best(rota_next, n * loops), _best(rota_iter, n * loops)),
        "cronsim": _best(cronsim_, n * loops),
        "croniter": _best(croniter_, n * loops),
        "aps": None,
    }
    if row.aps is not None:
        trigger = CronTrigger(timezone=tz, **row.aps)

        def aps() -> None:
            for _ in range(loops):
                t = trigger.get_next_fire_time(None, start + timedelta(microseconds=1))
                for _ in range(n - 1):
                    t = trigger.get_next_fire_time(t, t)

        results["aps"] = _best(aps, n * loops)
    return results


def _random(row: Row) -> dict[str, float | None]:
    tz = ZoneInfo(row.tz)
    rng = random.Random(42)
    span = 10 * 365 * 86400
    instants = [row.start + timedelta(seconds=rng.randrange(span)) for _ in range(RANDOM_QUERIES)]
    local = [t.astimezone(tz) for t in instants]
    cron = Cron(row.expr, tz=tz)

    def rota() -> None:
        for t in instants:
            cron.next_after(t)

    def cronsim_() -> None:
        for t in local:
            next(CronSim(row.expr, t))

    def croniter_() -> None:
        for t in local:
            croniter(row.expr, t).get_next(datetime)

    results: dict[str, float | None] = {
        "rota": _best(rota, len(instants)),
        "cronsim": _best(cronsim_, len(instants)),
        "croniter": _best(croniter_, len(instants)),
        "aps": None,
    }
    if row.aps is not None:
        trigger = CronTrigger(timezone=tz, **row.aps)

        def aps() -> None:
            for t in local:
                trigger.get_next_fire_time(None, t)

        results["aps"] = _best(aps, len(instants))
    return results


def _check(row: Row) -> list[str]:
    """Disagreements with rota on the first slots (a peer that disagrees measures other work)."""
    tz = ZoneInfo(row.tz)
    start = row.start.astimezone(tz)
    n = min(row.iterations, 12)
    ours = [str(s) for s in _take(Cron(row.expr, tz=tz).iter_after(start), n)]
    sim = CronSim(row.expr, start)
    it = croniter(row.expr, start)
    peers = {
        "cronsim": [str(next(sim)) for _ in range(n)],
        "croniter": [str(it.get_next(datetime)) for _ in range(n)],
    }
    if row.aps is not None:
        trigger = CronTrigger(timezone=tz, **row.aps)
        t = trigger.get_next_fire_time(None, start + timedelta(microseconds=1))
        got = []
        for _ in range(n):
            got.append(str(t))
            t = trigger.get_next_fire_time(t, t)
        peers["aps"] = got
    notes = []
    for name, got in peers.items():
        diff = [(a, b) for a, b in zip(ours, got, strict=True) if a != b]
        if diff:
            notes.append(f"{row.label}: {name} gives {diff[0][1]} where rota gives {diff[0][0]}")
    return notes


def _take(it: Iterator[datetime], n: int) -> list[datetime]:
    return [next(it) for _ in range(n)]


def _cell(value: float | None) -> str:
    return "n/a" if value is None else f"{value:8.2f}"


def main() -> None:
    print(f"python {sys.version.split()[0]}; µs per slot, best of {REPEATS}")
    names = ("rota", "cronsim", "croniter", "aps", "peer/rota")
    header = f"{'row':<20} {'mode':<9} " + " ".join(f"{n:>8}" for n in names)
    print(header)
    print("-" * len(header))
    worst = float("inf")
    notes: list[str] = []
    for row in _rows():
        notes += _check(row)
        for mode, measure in (("iterate", _iteration), ("random", _random)):
            r = measure(row)
            peers = [v for k, v in r.items() if k != "rota" and v is not None]
            rota = r["rota"]
            assert rota is not None
            ratio = min(peers) / rota
            worst = min(worst, ratio)
            cells = " ".join(_cell(r[k]) for k in ("rota", "cronsim", "croniter", "aps"))
            print(f"{row.label:<20} {mode:<9} {cells} {ratio:8.1f}x")
    print(f"worst ratio: {worst:.1f}x")
    for note in notes:
        print("note:", note)


if __name__ == "__main__":
    main()
