"""Schedules created at run time: add 100,000 through the Python API, list them, page them.

Run: ``.venv/bin/python benchmarks/dynamic_schedules.py [--count N] [--stores LIST]``.

The per-user reminder case again: ``--count`` (default 100,000) schedules of
one registered job, ``send(ctx, user_id)``, each ``daily_at`` a time in one
of 12 timezones, named ``reminder-<i>``. For each store (SQLite, PostgreSQL;
Redis with ``--stores``) the script times, on a fresh store:

* **add**: ``Rota.add_schedules`` in batches of 1,000 (every schedule checked
  against the job's signature and compiled before it is stored; one
  ``insert_schedules`` call per batch);
* **list all**: ``Rota.list_schedules`` page after page (500 a page) to the end;
* **page**: one page of 50 from the middle (``after=`` a name), median of 20;
* **get**: ``Rota.get_schedule`` of one name, median of 200.

The peer, measured in the same run on the same database: APScheduler 3's
``SQLAlchemyJobStore`` (``add_job`` with a ``CronTrigger``, one job per call, as
its API offers; ``get_jobs`` to list everything; ``lookup_job``). APScheduler has
no paging, so its "page" column is empty. Its add is measured on
``--peer-count`` (default 5,000) jobs and reported per schedule, like rota's.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/14"
ZONES = (
    "UTC",
    "Europe/London",
    "Europe/Berlin",
    "Europe/Moscow",
    "Asia/Kolkata",
    "Asia/Tokyo",
    "Australia/Sydney",
    "Pacific/Auckland",
    "America/Sao_Paulo",
    "America/New_York",
    "America/Chicago",
    "America/Los_Angeles",
)
BATCH = 1000
PAGE = 500


def send(ctx: Any, user_id: int) -> None:
    """The reminder job (never run here)."""


@dataclass
class Row:
    system: str
    store: str
    count: int
    add_s: float
    list_s: float
    page_ms: float | None
    get_ms: float

    @property
    def add_rate(self) -> float:
        return self.count / self.add_s


@contextmanager
def store_url(kind: str) -> Iterator[str]:
    """A fresh, empty store of ``kind``, removed afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory(prefix="rota-dyn-") as folder:
            yield f"sqlite:///{Path(folder) / 'rota.db'}"
    elif kind == "postgres":
        import psycopg

        schema = f"bench_{uuid.uuid4().hex[:12]}"
        try:
            yield f"{PG_URL}?schema={schema}"
        finally:
            with psycopg.connect(PG_URL, autocommit=True) as conn:
                conn.execute(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
    elif kind == "redis":
        import redis

        prefix = f"bench-{uuid.uuid4().hex[:12]}"
        try:
            yield f"{REDIS_URL}?prefix={prefix}"
        finally:
            with redis.Redis.from_url(REDIS_URL) as admin:
                keys = list(admin.scan_iter(match=f"{{{prefix}}}:*", count=5000))
                for start in range(0, len(keys), 5000):
                    admin.unlink(*keys[start : start + 5000])
    else:
        raise SystemExit(f"unknown store {kind!r}")


def timed(action: Callable[[], Any]) -> float:
    start = time.perf_counter()
    action()
    return time.perf_counter() - start


def median_ms(action: Callable[[], Any], times: int) -> float:
    return statistics.median(timed(action) for _ in range(times)) * 1000


def bench_rota(kind: str, count: int) -> Row:
    from rota import Rota

    with store_url(kind) as url:
        app = Rota(url)
        app.job(name="reminders.send")(send)
        app.migrate()

        def schedules(start: int, stop: int) -> Iterator[Any]:
            for i in range(start, stop):
                hour, minute = divmod(i % (24 * 60), 60)
                yield (
                    app.new_schedule("reminders.send", user_id=i)
                    .named(f"reminder-{i:07d}")
                    .daily_at(f"{hour}:{minute:02d}")
                    .timezone(ZONES[i % len(ZONES)])
                )

        def add() -> None:
            for start in range(0, count, BATCH):
                app.add_schedules(schedules(start, min(start + BATCH, count)))

        add_s = timed(add)

        def list_all() -> None:
            seen, after = 0, None
            while True:
                page = app.list_schedules(after=after, limit=PAGE)
                seen += len(page)
                if len(page) < PAGE:
                    break
                after = page[-1].name
            assert seen == count, (seen, count)

        list_s = timed(list_all)
        middle = f"reminder-{count // 2:07d}"
        page_ms = median_ms(lambda: app.list_schedules(after=middle, limit=50), 20)
        get_ms = median_ms(lambda: app.get_schedule(middle), 200)
        app.close()
    return Row("rota", kind, count, add_s, list_s, page_ms, get_ms)


def bench_apscheduler(kind: str, count: int) -> Row:
    from apscheduler.jobstores.sqlalchemy import SQLAlchemyJobStore
    from apscheduler.schedulers.background import BackgroundScheduler
    from apscheduler.triggers.cron import CronTrigger

    with store_url(kind) as url:
        if kind == "sqlite":
            jobstore = SQLAlchemyJobStore(url=url)
        elif kind == "postgres":
            base, _, schema = url.partition("?schema=")
            _create_schema(base, schema)
            engine_url = base.replace("postgresql://", "postgresql+psycopg://", 1)
            jobstore = SQLAlchemyJobStore(url=engine_url, tableschema=schema)
        else:
            raise SystemExit("APScheduler has no Redis job store of this kind here")
        scheduler = BackgroundScheduler(jobstores={"default": jobstore}, timezone="UTC")
        scheduler.start(paused=True)

        def add() -> None:
            for i in range(count):
                hour, minute = divmod(i % (24 * 60), 60)
                trigger = CronTrigger(hour=hour, minute=minute, timezone=ZONES[i % len(ZONES)])
                scheduler.add_job(send, trigger, args=(None, i), id=f"reminder-{i:07d}")

        add_s = timed(add)
        list_s = timed(lambda: scheduler.get_jobs())
        middle = f"reminder-{count // 2:07d}"
        get_ms = median_ms(lambda: scheduler.get_job(middle), 200)
        scheduler.shutdown(wait=False)
    return Row("APScheduler 3", kind, count, add_s, list_s, None, get_ms)


def _create_schema(url: str, schema: str) -> None:
    import psycopg

    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--peer-count", type=int, default=5_000)
    parser.add_argument("--stores", default="sqlite,postgres")
    parser.add_argument("--no-peers", action="store_true")
    args = parser.parse_args()
    rows: list[Row] = []
    for kind in args.stores.split(","):
        rows.append(bench_rota(kind, args.count))
        print(f"  measured rota on {kind}", file=sys.stderr)
        if not args.no_peers and kind in ("sqlite", "postgres"):
            rows.append(bench_apscheduler(kind, args.peer_count))
            print(f"  measured APScheduler on {kind}", file=sys.stderr)
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    print(f"\nDynamic schedules ({stamp}); add in batches of {BATCH}, list in pages of {PAGE}\n")
    print(
        "| system | store | schedules | add (s) | adds/s | list all (s) "
        "| page of 50 (ms) | get (ms) |"
    )
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: |")
    for row in rows:
        page = "—" if row.page_ms is None else f"{row.page_ms:.2f}"
        print(
            f"| {row.system} | {row.store} | {row.count:,} | {row.add_s:.2f} | "
            f"{row.add_rate:,.0f} | {row.list_s:.2f} | {page} | {row.get_ms:.2f} |"
        )
    print()
    for kind in args.stores.split(","):
        ours = next((r for r in rows if r.system == "rota" and r.store == kind), None)
        peer = next((r for r in rows if r.system != "rota" and r.store == kind), None)
        if ours and peer:
            per_list = (peer.list_s / peer.count) / (ours.list_s / ours.count)
            print(
                f"{kind}: rota adds {ours.add_rate / peer.add_rate:.1f}x as many schedules per "
                f"second as APScheduler, lists {per_list:.1f}x faster per schedule, "
                f"gets one {peer.get_ms / ours.get_ms:.1f}x faster"
            )


if __name__ == "__main__":
    main()
