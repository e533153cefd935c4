"""Scale: a million stored schedules, one scheduler tick that fires 1,000 of them.

Run: ``.venv/bin/python benchmarks/scale.py [--count N | --quick] [--stores LIST]``.

The per-user reminder case: ``--count`` (default 1,000,000; ``--quick``
50,000) dynamic schedules of one registered job, ``reminders.send`` with
``kwargs={"user_id": i}``, each a ``daily_at``, ``weekdays().at``, every-N-
minutes or ``hourly_at`` schedule in one of 50 IANA timezones. For each store
the script

1. **loads** them: the first ``--contract`` (default 10,000) through
   ``Store.save_schedule`` (the contract, one call each), to measure that rate
   and extrapolate it to the full count; the rest with the backend's bulk path
   (``COPY`` on PostgreSQL, pipelined ``HSET``/``ZADD`` on Redis, one
   ``executemany`` transaction on SQLite), writing exactly the rows the store
   writes, through its own codec (``rota.stores._codec.schedule_to_row``,
   ``_pg_conn.schedule_params``, ``_redis_codec.to_fields``). Every schedule
   has fired before: ``last_slot`` is its latest slot at or before the tick
   instant ``T`` and ``next_due`` its first slot after ``T``;
2. starts a **separate scheduler process** (``--child``: it imports only what
   its store needs), which, ``--rounds`` times (default 7), makes 1,000 fresh
   schedules, spread over the whole set, due at ``T`` with
   ``Store.advance_schedule`` (untimed) and times ``Scheduler.tick(T)``, which
   must fire all 1,000. One more round runs with every store call, ``resolve``
   and ``plan`` timed (a breakdown), and with ``--profile`` one under cProfile;
3. measures the scheduler process's RSS (``VmRSS``/``VmHWM`` of
   ``/proc/self/status``): the store holds the schedules, the process must not;
4. times ``Scheduler.discover`` (what ``run_forever`` does at start and every
   ``discover_interval``: a scan of every schedule for ``on_each_server`` ones),
   then runs ``Scheduler.run_forever`` in a thread with nothing due (its
   start-up discover skipped: timed just before) and, once its first pass is
   over, counts the process's CPU seconds, the loop's ticks
   and the loop thread's voluntary context switches (its wake-ups) over
   ``--idle`` seconds (default 10);
5. cleans up: drops the PostgreSQL schema, deletes its Redis keys (its own
   prefix, in db 14), removes the SQLite file.

Issue 4's bar: a tick that fires 1,000 due slots in <= 100 ms, the scheduler
under 150 MB RSS, no CPU spent while nothing is due. The memory store
(``--stores memory``) keeps the schedules in the scheduler's own process, so
its RSS is not comparable; it shows the pure Python cost of a tick.
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import io
import json
import os
import pstats
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import wraps
from pathlib import Path
from typing import Any

from rota.schedule import Schedule, derive_name
from rota.stores import _codec
from rota.stores.base import ScheduleRecord, Store

JOB = "reminders.send"
T = datetime(2030, 1, 9, 12, 0, tzinfo=UTC)
"""The tick instant: a Wednesday noon UTC, so weekday schedules fired within a day in every zone."""
CREATED = T - timedelta(days=7)
DUE_PER_TICK = 1000
TARGET_TICK = 0.100
TARGET_RSS_MB = 150.0
PG_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
REDIS_URL = "redis://127.0.0.1:6379/14"

ZONES = (
    "UTC",
    "Europe/London",
    "Europe/Dublin",
    "Europe/Lisbon",
    "Europe/Paris",
    "Europe/Berlin",
    "Europe/Madrid",
    "Europe/Rome",
    "Europe/Warsaw",
    "Europe/Athens",
    "Europe/Helsinki",
    "Europe/Istanbul",
    "Europe/Moscow",
    "Africa/Cairo",
    "Africa/Lagos",
    "Africa/Johannesburg",
    "Africa/Nairobi",
    "Asia/Dubai",
    "Asia/Tehran",
    "Asia/Karachi",
    "Asia/Kolkata",
    "Asia/Kathmandu",
    "Asia/Dhaka",
    "Asia/Bangkok",
    "Asia/Jakarta",
    "Asia/Shanghai",
    "Asia/Singapore",
    "Asia/Manila",
    "Asia/Seoul",
    "Asia/Tokyo",
    "Australia/Perth",
    "Australia/Adelaide",
    "Australia/Sydney",
    "Australia/Lord_Howe",
    "Pacific/Auckland",
    "Pacific/Chatham",
    "Pacific/Kiritimati",
    "Pacific/Honolulu",
    "America/Anchorage",
    "America/Los_Angeles",
    "America/Denver",
    "America/Phoenix",
    "America/Chicago",
    "America/Mexico_City",
    "America/New_York",
    "America/Toronto",
    "America/Bogota",
    "America/Caracas",
    "America/Sao_Paulo",
    "America/St_Johns",
)
assert len(ZONES) == 50

Recipe = tuple[str, str]
"""(kind, argument): what ``build`` calls on the schedule."""
_EVERY = (
    "every_five_minutes",
    "every_ten_minutes",
    "every_fifteen_minutes",
    "every_thirty_minutes",
)


# -- the schedules ------------------------------------------------------------------------------


def recipe_for(i: int) -> tuple[Recipe, str]:
    """User ``i``'s reminder, derived from ``i`` alone: (recipe, timezone)."""
    h = (i * 2654435761 + 40503) % (1 << 32)
    zone = ZONES[h % 50]
    h //= 50
    kind = h % 20
    h //= 20
    hour, minute = divmod(h % 288 * 5, 60)  # times in 5-minute steps, as a settings page offers
    at = f"{hour:02d}:{minute:02d}"
    if kind < 12:
        return ("daily_at", at), zone
    if kind < 17:
        return ("weekdays_at", at), zone
    if kind < 19:
        return (_EVERY[(h // 288) % 4], ""), zone
    return ("hourly_at", str(minute)), zone


def build(i: int) -> Schedule:
    """User ``i``'s reminder through the public fluent API."""
    (kind, arg), zone = recipe_for(i)
    s = Schedule(JOB, kwargs={"user_id": i})
    if kind == "daily_at":
        s.daily_at(arg)
    elif kind == "weekdays_at":
        s.weekdays().at(arg)
    elif kind == "hourly_at":
        s.hourly_at(int(arg))
    else:
        getattr(s, kind)()
    return s.timezone(zone)


@dataclass
class Template:
    """What every schedule of one (recipe, zone) shares: its spec but name and kwargs, and slots."""

    spec: dict[str, Any]
    previous: datetime
    """The latest slot at or before ``T``."""
    following: datetime
    """The first slot after ``T``."""


class Catalog:
    """Schedule records by user index, built from one template per (recipe, zone).

    Building each ``Schedule`` (and compiling its cron expression) would cost
    about as much as storing it; the records are the same (``verify`` checks
    a sample against the public API).
    """

    def __init__(self) -> None:
        self._templates: dict[tuple[Recipe, str], Template] = {}

    def template(self, i: int) -> Template:
        key = recipe_for(i)
        found = self._templates.get(key)
        if found is None:
            schedule = build(i)
            trigger = schedule.trigger
            previous = trigger.prev_before(T + timedelta(microseconds=1))
            following = trigger.next_after(T)
            assert previous is not None
            assert following is not None
            spec = schedule.to_spec()
            found = self._templates[key] = Template(
                spec, previous.astimezone(UTC), following.astimezone(UTC)
            )
        return found

    def template_of(self, record: ScheduleRecord) -> Template:
        kwargs = record.spec["kwargs"]
        assert isinstance(kwargs, dict)
        return self.template(int(kwargs["user_id"]))

    def record(self, i: int) -> ScheduleRecord:
        t = self.template(i)
        name = derive_name(JOB, (), {"user_id": i})
        spec = dict(t.spec)
        spec["name"] = name
        spec["kwargs"] = {"user_id": i}
        spec["trigger"] = {**t.spec["trigger"], "seed": name}
        return ScheduleRecord(
            name=name,
            job=JOB,
            spec=spec,
            created_at=CREATED,
            updated_at=CREATED,
            source="dynamic",
            last_slot=t.previous,
            next_due=t.following,
            version=1,
        )

    def records(self, start: int, stop: int) -> Iterator[ScheduleRecord]:
        for i in range(start, stop):
            yield self.record(i)

    def verify(self, count: int, sample: int = 500) -> None:
        """The template records equal what the public API builds, for a sample of users."""
        from rota.scheduler import new_record

        step = max(1, count // sample)
        for i in range(0, count, step):
            schedule = build(i)
            mine = self.record(i)
            assert mine.spec == schedule.to_spec(), (i, mine.spec, schedule.to_spec())
            assert mine.name == schedule.name
            assert schedule.trigger.next_after(T) == mine.next_due
            assert new_record(schedule, CREATED).created_at == CREATED


def due_block(k: int, count: int) -> list[int]:
    """The users made due in round ``k``: 1,000 spread evenly over all ``count``."""
    stride = count // DUE_PER_TICK
    return [k + stride * j for j in range(DUE_PER_TICK)]


def due_plan(catalog: Catalog, count: int, rounds: int) -> list[list[tuple[str, int]]]:
    """For each round, its users' (name, latest slot at or before ``T`` in µs since the epoch).

    Worked out here and handed to the scheduler process, which then holds no catalog.
    """
    from rota.stores._codec import to_us

    plan = []
    for k in range(rounds):
        block = [catalog.record(i) for i in due_block(k, count)]
        plan.append([(r.name, to_us(catalog.template_of(r).previous)) for r in block])
    return plan


# -- loading ------------------------------------------------------------------------------------


@dataclass
class LoadResult:
    count: int
    contract_count: int
    contract_seconds: float
    bulk_count: int = 0
    bulk_seconds: float = 0.0
    note: str = ""

    @property
    def contract_rate(self) -> float:
        return self.contract_count / self.contract_seconds if self.contract_seconds else 0.0

    @property
    def bulk_rate(self) -> float:
        return self.bulk_count / self.bulk_seconds if self.bulk_seconds else 0.0


def load_contract(store: Store, catalog: Catalog, count: int) -> float:
    """Save users ``0..count-1`` one ``save_schedule`` each; seconds taken."""
    records = list(catalog.records(0, count))
    started = time.perf_counter()
    for record in records:
        assert store.save_schedule(record, expected_version=None) is not None
    return time.perf_counter() - started


Bulk = Callable[[Sequence[ScheduleRecord]], None]


def load_bulk(
    write: Bulk, catalog: Catalog, start: int, count: int, budget: float, chunk: int = 20_000
) -> tuple[int, float]:
    """Users ``start..count-1`` in chunks through ``write``; stops once ``budget`` s are spent.

    Returns (how many were written, seconds spent writing). Building the
    records (templates, names, specs) is not counted: an application has them.
    """
    started = time.perf_counter()
    writing = 0.0
    done = start
    while done < count:
        stop = min(count, done + chunk)
        records = list(catalog.records(done, stop))
        began = time.perf_counter()
        write(records)
        writing += time.perf_counter() - began
        done = stop
        rate = (done - start) / writing
        print(f"  {done:>9,} stored ({rate:,.0f}/s writing)", end="\r", flush=True)
        if time.perf_counter() - started > budget and done < count:
            print(f"\n  load budget of {budget:.0f} s spent: stopping at {done:,}", flush=True)
            break
    print(" " * 60, end="\r")
    return done - start, writing


_SCHEDULE_COLUMNS = _codec.SCHEDULE_COLUMNS


class Backend:
    """One store under test: its URL, how to bulk-write schedules, and how to clean up."""

    name = ""
    url = ""

    def open(self) -> Store:
        from rota.stores import open_store

        return open_store(self.url)

    def bulk(self) -> tuple[Bulk, Callable[[], None]]:
        """A writer of schedule rows, and what to call once all are written."""
        raise NotImplementedError

    def cleanup(self) -> None:
        raise NotImplementedError


class SQLiteBackend(Backend):
    name = "sqlite"

    def __init__(self) -> None:
        self.folder = tempfile.mkdtemp(prefix="rota-scale-")
        self.path = Path(self.folder) / "rota.db"
        self.url = f"sqlite:///{self.path}"

    def bulk(self) -> tuple[Bulk, Callable[[], None]]:
        from rota.stores._codec import schedule_to_row

        conn = sqlite3.connect(self.path, isolation_level=None)
        conn.execute("PRAGMA journal_mode = WAL")
        conn.execute("PRAGMA synchronous = NORMAL")
        columns = ", ".join(_SCHEDULE_COLUMNS)
        values = ", ".join(f":{c}" for c in _SCHEDULE_COLUMNS)
        insert = f"INSERT INTO rota_schedules ({columns}) VALUES ({values})"

        def write(records: Sequence[ScheduleRecord]) -> None:
            with conn:
                conn.execute("BEGIN")
                conn.executemany(insert, [schedule_to_row(r) for r in records])

        def finish() -> None:
            conn.execute("ANALYZE")
            conn.close()

        return write, finish

    def cleanup(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.remove(f"{self.path}{suffix}")
        with contextlib.suppress(OSError):
            os.rmdir(self.folder)


class PostgresBackend(Backend):
    name = "postgres"

    def __init__(self) -> None:
        self.schema = f"rota_scale_{os.getpid()}"
        self.url = f"{PG_URL}?schema={self.schema}"

    def bulk(self) -> tuple[Bulk, Callable[[], None]]:
        import psycopg
        from psycopg import sql

        from rota.stores._pg_conn import schedule_params

        conn = psycopg.connect(PG_URL, autocommit=True)
        conn.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(self.schema)))
        copy = sql.SQL("COPY schedules ({}) FROM STDIN").format(
            sql.SQL(", ").join(sql.Identifier(c) for c in _SCHEDULE_COLUMNS)
        )

        def write(records: Sequence[ScheduleRecord]) -> None:
            with conn.transaction(), conn.cursor() as cur, cur.copy(copy) as out:
                for record in records:
                    params = schedule_params(record)
                    out.write_row([params[c] for c in _SCHEDULE_COLUMNS])

        def finish() -> None:
            conn.execute("ANALYZE schedules")
            conn.close()

        return write, finish

    def cleanup(self) -> None:
        import psycopg
        from psycopg import sql

        with psycopg.connect(PG_URL, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(self.schema))
            )


class RedisBackend(Backend):
    name = "redis"

    def __init__(self) -> None:
        self.prefix = f"rota-scale-{os.getpid()}"
        self.url = f"{REDIS_URL}?prefix={self.prefix}"

    def bulk(self) -> tuple[Bulk, Callable[[], None]]:
        import redis

        from rota.stores import _codec
        from rota.stores import _redis_codec as rc

        base = rc.parse_url(self.url).base
        client = redis.Redis.from_url(REDIS_URL, decode_responses=True)

        def write(records: Sequence[ScheduleRecord]) -> None:
            # What save_schedule.lua writes for a new, active schedule.
            pipe = client.pipeline(transaction=False)
            names: dict[str, int] = {}
            due: dict[str, int] = {}
            for record in records:
                row = _codec.schedule_to_row(record)
                sets, dels = rc.to_fields(row)
                assert not dels or set(dels) <= {"last_slot", "next_due"}
                pipe.hset(base + "schedule:" + record.name, items=sets)
                names[record.name] = 0
                if row["next_due"] is not None:
                    due[record.name] = row["next_due"]
            pipe.zadd(base + "schedules", names)
            pipe.zadd(base + "schedules:live", names)
            pipe.zadd(base + "due", due)
            pipe.execute()

        return write, client.close

    def cleanup(self) -> None:
        import redis

        from rota.stores import _redis_codec as rc

        base = rc.parse_url(self.url).base
        client = redis.Redis.from_url(REDIS_URL)
        pattern = base.replace("[", "\\[").replace("]", "\\]") + "*"
        batch: list[bytes] = []
        for key in client.scan_iter(match=pattern, count=10_000):
            assert key.startswith(base.encode())
            batch.append(key)
            if len(batch) >= 10_000:
                client.unlink(*batch)
                batch = []
        if batch:
            client.unlink(*batch)
        client.close()


class MemoryBackend(Backend):
    """Loaded by the scheduler process itself: the store lives there."""

    name = "memory"
    url = "memory://"

    def cleanup(self) -> None:
        pass


BACKENDS: dict[str, type[Backend]] = {
    "sqlite": SQLiteBackend,
    "postgres": PostgresBackend,
    "redis": RedisBackend,
    "memory": MemoryBackend,
}


def load(
    backend: Backend, catalog: Catalog, count: int, contract: int, budget: float
) -> LoadResult:
    store = backend.open()
    try:
        contract = min(contract, count)
        seconds = load_contract(store, catalog, contract)
    finally:
        store.close()
    result = LoadResult(count=contract, contract_count=contract, contract_seconds=seconds)
    print(
        f"  save_schedule: {contract:,} in {seconds:.1f} s ({result.contract_rate:,.0f}/s; "
        f"{count:,} would take {count / result.contract_rate:,.0f} s)",
        flush=True,
    )
    if contract < count:
        write, finish = backend.bulk()
        try:
            result.bulk_count, result.bulk_seconds = load_bulk(
                write, catalog, contract, count, budget
            )
            started = time.perf_counter()
            finish()
            result.bulk_seconds += time.perf_counter() - started
        finally:
            with contextlib.suppress(Exception):
                finish()
        result.count = contract + result.bulk_count
        if result.count < count:
            result.note = f"load budget spent: ran at {result.count:,} of {count:,}"
        print(
            f"  bulk: {result.bulk_count:,} in {result.bulk_seconds:.1f} s "
            f"({result.bulk_rate:,.0f}/s)",
            flush=True,
        )
    return result


# -- the scheduler process ----------------------------------------------------------------------


def proc_status(path: str = "/proc/self/status") -> dict[str, int]:
    """Numeric fields of a /proc status file (kB for memory fields)."""
    out: dict[str, int] = {}
    with open(path, encoding="ascii") as f:
        for line in f:
            key, _, value = line.partition(":")
            parts = value.split()
            if parts and parts[0].isdigit():
                out[key] = int(parts[0])
    return out


def host_loop_ms() -> float:
    """A fixed pure-Python loop (2,000,000 additions), best of 3, in ms: how fast the
    host runs Python at the moment. A shared VM's speed drifts by tens of percent
    between runs; this says by how much (lower is faster)."""
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        total = 0
        for i in range(2_000_000):
            total += i
        best = min(best, time.perf_counter() - started)
    return best * 1000


def rss_mb() -> tuple[float, float]:
    """(VmRSS, VmHWM) of this process in MB."""
    status = proc_status()
    return status["VmRSS"] / 1024, status["VmHWM"] / 1024


@dataclass
class Breakdown:
    """Seconds and calls per timed step of one tick."""

    seconds: dict[str, float] = field(default_factory=dict)
    calls: dict[str, int] = field(default_factory=dict)
    _undo: list[Callable[[], None]] = field(default_factory=list)

    def wrap(self, owner: Any, name: str, label: str | None = None) -> None:
        original = getattr(owner, name)
        key = label or name
        if isinstance(owner, type) or name in vars(owner):
            self._undo.append(lambda: setattr(owner, name, original))
        else:  # a method: drop the instance attribute that shadows it
            self._undo.append(lambda: delattr(owner, name))

        @wraps(original)
        def timed(*args: Any, **kwargs: Any) -> Any:
            started = time.perf_counter()
            try:
                return original(*args, **kwargs)
            finally:
                self.seconds[key] = self.seconds.get(key, 0.0) + time.perf_counter() - started
                self.calls[key] = self.calls.get(key, 0) + 1

        setattr(owner, name, timed)

    def unwrap(self) -> None:
        while self._undo:
            self._undo.pop()()


_STORE_CALLS = (
    "due_for_tick",
    "due_schedules",
    "active_runs",
    "active_runs_for",
    "fire",
    "fire_batches",
    "settle_waiting",
    "advance_schedule",
    "prune_runs",
    "get_schedule",
    "notify",
)


def child(args: argparse.Namespace) -> None:
    """The scheduler process: ticks, breakdown, profile, RSS, discover, idle. JSON on stdout."""
    import logging

    from rota.app import Rota
    from rota.context import RunContext
    from rota.stores import open_store
    from rota.stores._codec import from_us

    logging.basicConfig(level=logging.WARNING)
    base_rss = rss_mb()[0]
    store = open_store(args.url)
    out: dict[str, Any] = {"base_rss": base_rss}
    if args.url.startswith("memory:"):
        out["load_seconds"] = load_contract(store, Catalog(), args.count)
    with open(args.due, encoding="utf-8") as f:
        plan: list[list[tuple[str, int]]] = json.load(f)
    app = Rota(store=store)

    @app.job(name=JOB)
    def send(ctx: RunContext, user_id: int) -> None:
        """The reminder; never run here (no worker)."""

    scheduler = app.scheduler

    def make_due(k: int) -> None:
        for name, previous in plan[k]:
            assert store.advance_schedule(
                name, expected_version=1, last_slot=None, next_due=from_us(previous)
            ), f"{name} was not at version 1"

    def tick(k: int, *, before: Callable[[], None] | None = None) -> float:
        make_due(k)
        store.wait_for_activity(0.001)  # the loop idles between ticks (SQLite checkpoints then)
        if before is not None:
            before()
        started, cpu = time.perf_counter(), time.process_time()
        report = scheduler.tick(T)
        elapsed = time.perf_counter() - started
        cpu_ticks.append(time.process_time() - cpu)
        assert report.due == DUE_PER_TICK, report
        assert report.fired == DUE_PER_TICK, report
        return elapsed

    cpu_ticks: list[float] = []
    tick(0)  # warm-up: imports, pools, statement preparation
    out["host_ms"] = host_loop_ms()
    out["ticks"] = [tick(k) for k in range(1, args.rounds + 1)]
    out["tick_cpu"] = cpu_ticks[1:]  # this process's CPU: steadier than wall time on a busy machine
    out["rss_after_ticks"] = rss_mb()[0]

    breakdown = Breakdown()

    def instrument() -> None:
        for name in _STORE_CALLS:
            if hasattr(store, name):  # an older rota, compared side by side, may lack one
                breakdown.wrap(store, name)
        breakdown.wrap(scheduler, "resolve", "resolve (read the spec)")
        breakdown.wrap(scheduler, "plan", "plan (incl. cron compile)")
        breakdown.wrap(scheduler, "_template", "run template")
        breakdown.wrap(Schedule, "_compile", "cron compile (Schedule._compile)")

    try:
        out["breakdown_total"] = tick(args.rounds + 1, before=instrument)
    finally:
        breakdown.unwrap()
    out["breakdown"] = {"seconds": breakdown.seconds, "calls": breakdown.calls}

    if args.profile:
        make_due(args.rounds + 2)
        profile = cProfile.Profile()
        profile.enable()
        scheduler.tick(T)
        profile.disable()
        text = io.StringIO()
        stats = pstats.Stats(profile, stream=text)
        stats.sort_stats("tottime").print_stats(22)
        stats.sort_stats("cumulative").print_stats(30)
        out["profile"] = text.getvalue()

    started, cpu = time.perf_counter(), time.process_time()
    scheduler.discover(T)
    out["discover"] = (time.perf_counter() - started, time.process_time() - cpu)

    out["idle"] = idle(scheduler, args.idle)
    out["rss_end"], out["rss_peak"] = rss_mb()
    app.close()
    print(json.dumps(out))


def idle(scheduler: Any, seconds: float) -> dict[str, float]:
    """CPU seconds, ticks and loop wake-ups of ``run_forever`` with nothing due."""
    stop = threading.Event()
    first = threading.Event()
    ticks = [0]
    original_tick = scheduler.tick

    def counted_tick(now: datetime | None = None) -> Any:
        report = original_tick(now)
        ticks[0] += 1
        first.set()
        return report

    scheduler.tick = counted_tick
    # The loop starts with a discover pass, timed on its own before: skip that one.
    original_discover = scheduler.discover
    discovers = [0]

    def later_discover(now: datetime | None = None) -> None:
        discovers[0] += 1
        if discovers[0] > 1:
            original_discover(now)

    scheduler.discover = later_discover
    tid: list[int] = []

    def loop() -> None:
        tid.append(threading.get_native_id())
        scheduler.run_forever(stop)

    thread = threading.Thread(target=loop, daemon=True)
    thread.start()
    started_at = time.perf_counter()
    first.wait(600)
    first_pass = time.perf_counter() - started_at
    time.sleep(0.5)  # let the first sleep begin
    task = f"/proc/self/task/{tid[0]}/status"
    switches = proc_status(task)["voluntary_ctxt_switches"]
    n, cpu, wall = ticks[0], time.process_time(), time.perf_counter()
    time.sleep(seconds)
    cpu = time.process_time() - cpu
    wall = time.perf_counter() - wall
    n = ticks[0] - n
    switches = proc_status(task)["voluntary_ctxt_switches"] - switches
    stop.set()
    scheduler.store.notify()
    thread.join(10)
    del scheduler.tick
    del scheduler.discover
    return {
        "first_pass": first_pass,
        "cpu": cpu,
        "wall": wall,
        "ticks_per_s": n / wall,
        "wakeups_per_s": switches / wall,
    }


def run_child(args: argparse.Namespace, url: str, count: int, catalog: Catalog) -> dict[str, Any]:
    with tempfile.NamedTemporaryFile("w", suffix=".json", delete=False) as f:
        json.dump(due_plan(catalog, count, args.rounds + 3), f)
    command = [
        sys.executable,
        __file__,
        "--child",
        "--url",
        url,
        "--count",
        str(count),
        "--rounds",
        str(args.rounds),
        "--idle",
        str(args.idle),
        "--due",
        f.name,
    ]
    if args.profile:
        command.append("--profile")
    try:
        done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=True)
    finally:
        os.remove(f.name)
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


# -- report -------------------------------------------------------------------------------------


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def print_results(results: list[tuple[str, LoadResult, dict[str, Any]]]) -> None:
    print("\nload: the first schedules through Store.save_schedule, the rest in bulk")
    print(
        f"{'store':<9} {'schedules':>10} {'save_schedule/s':>16} {'-> 1M (est.)':>13} "
        f"{'bulk/s':>9} {'bulk s':>8}"
    )
    for name, loaded, _ in results:
        est = 1_000_000 / loaded.contract_rate if loaded.contract_rate else 0.0
        print(
            f"{name:<9} {loaded.count:>10,} {loaded.contract_rate:>16,.0f} {est:>11,.0f} s "
            f"{loaded.bulk_rate:>9,.0f} {loaded.bulk_seconds:>8.1f}"
            + (f"  ({loaded.note})" if loaded.note else "")
        )
    print(
        f"\nscheduler process: tick(T) firing {DUE_PER_TICK:,} due, ms; RSS MB; "
        "idle = run_forever with nothing due"
    )
    print(
        f"{'store':<9} {'schedules':>10} {'median':>7} {'max':>7} {'rss':>6} {'peak':>6} "
        f"{'idle cpu s':>10} {'ticks/s':>7} {'wakes/s':>7} {'discover s':>10} {'(cpu s)':>7} "
        f"{'host ms':>7}"
    )
    for name, loaded, r in results:
        idle = r["idle"]
        print(
            f"{name:<9} {loaded.count:>10,} {ms(statistics.median(r['ticks'])):>7} "
            f"{ms(max(r['ticks'])):>7} {r['rss_after_ticks']:>6.0f} {r['rss_peak']:>6.0f} "
            f"{idle['cpu']:>4.2f}/{idle['wall']:<4.0f}s {idle['ticks_per_s']:>7.1f} "
            f"{idle['wakeups_per_s']:>7.1f} {r['discover'][0]:>10.1f} {r['discover'][1]:>7.1f} "
            f"{r['host_ms']:>7.0f}"
        )
    print(
        "host ms: a fixed pure-Python loop (host_loop_ms) timed just before the ticks; "
        "the host's speed then (lower is faster)"
    )
    print("\nwhere one tick's time goes (one instrumented tick), ms [calls]")
    for name, _, r in results:
        seconds, calls = r["breakdown"]["seconds"], r["breakdown"]["calls"]
        parts = [
            f"{k} {ms(v)} [{calls[k]}]" for k, v in sorted(seconds.items(), key=lambda x: -x[1])
        ]
        print(f"{name:<9} total {ms(r['breakdown_total'])}: " + ", ".join(parts))
    print()
    for name, loaded, r in results:
        median = statistics.median(r["ticks"])
        tick_ok = median <= TARGET_TICK
        rss_ok = r["rss_peak"] <= TARGET_RSS_MB
        print(
            f"{name} ({loaded.count:,} schedules): tick median {ms(median)} ms "
            f"{'meets' if tick_ok else 'MISSES'} the target of {ms(TARGET_TICK)} ms; "
            f"peak RSS {r['rss_peak']:.0f} MB {'meets' if rss_ok else 'MISSES'} "
            f"the target of {TARGET_RSS_MB:.0f} MB; idle CPU {r['idle']['cpu']:.2f} s "
            f"over {r['idle']['wall']:.0f} s, plus discover {r['discover'][1]:.1f} CPU s "
            "every discover_interval (60 s)"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=1_000_000)
    parser.add_argument("--quick", action="store_true", help="50,000 schedules")
    parser.add_argument("--stores", default="sqlite,postgres,redis")
    parser.add_argument("--contract", type=int, default=10_000, help="schedules saved one by one")
    parser.add_argument("--rounds", type=int, default=7, help="timed ticks")
    parser.add_argument("--idle", type=float, default=10.0, help="idle seconds measured")
    parser.add_argument("--budget", type=float, default=300.0, help="bulk load seconds per store")
    parser.add_argument("--profile", action="store_true", help="cProfile one tick (to stderr)")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--url", help=argparse.SUPPRESS)
    parser.add_argument("--due", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args)
        return
    count = 50_000 if args.quick else args.count
    if count // DUE_PER_TICK < args.rounds + 3:
        parser.error(f"--count must be at least {(args.rounds + 3) * DUE_PER_TICK}")
    catalog = Catalog()
    catalog.verify(count)
    results: list[tuple[str, LoadResult, dict[str, Any]]] = []
    for name in args.stores.split(","):
        backend = BACKENDS[name.strip()]()
        print(f"{backend.name}: {count:,} schedules", flush=True)
        try:
            if isinstance(backend, MemoryBackend):
                loaded = LoadResult(count=count, contract_count=0, contract_seconds=0.0)
                result = run_child(args, backend.url, count, catalog)
                loaded.contract_count, loaded.contract_seconds = count, result["load_seconds"]
            else:
                loaded = load(backend, catalog, count, args.contract, args.budget)
                result = run_child(args, backend.url, loaded.count, catalog)
        finally:
            backend.cleanup()
        if args.profile:
            print(f"--- {backend.name}: cProfile of one tick ---\n{result['profile']}", flush=True)
        results.append((backend.name, loaded, result))
    print_results(results)


if __name__ == "__main__":
    main()
