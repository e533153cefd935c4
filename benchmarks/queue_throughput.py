"""Queue throughput: no-op jobs enqueued, then drained by one worker process,
rota against the job queues on the same server, in the same run.

Run: ``.venv/bin/python benchmarks/queue_throughput.py [-n N] [--trials 3]
[--only rota,rq,...]``. Needs PostgreSQL at ``BENCH_PG_ADMIN_URL`` (default
``postgresql://postgres@127.0.0.1:5432/postgres``; the benchmark creates and
drops its own database ``rota_bench``) and Redis at ``BENCH_REDIS_URL``
(default ``redis://127.0.0.1:6379/15``: a database of its own, FLUSHDB'd
before each trial and at the end). The peers come with the ``bench`` extra
(arq separately, see ``pyproject.toml``). Issue 4's target: rota's execute
rate >= 2x the fastest peer's on each server.

Method, the same for every library, one after the other on the same machine
and servers:

- **Contenders.** Redis: rota, RQ, arq, huey, Celery, dramatiq. PostgreSQL:
  rota, procrastinate. SQLite: rota alone, for reference. Each one's setting
  (its fastest sane single-process configuration) is in the table and in the
  docstring of its module under ``benchmarks/_peers/``.
- **Enqueue.** N jobs of a no-op function from this process, in each
  library's ordinary way. The peers: one call at a time (``enqueue``,
  ``delay``, ``send``, ``defer`` ...). rota: ``Rota.enqueue_many("noop",
  [((), {})] * N)``, its ordinary way to queue many calls, which checks them all
  and then stores them with one ``insert_runs`` per 1,000 (one round trip
  each). Of the peers, rq (``Queue.enqueue_many``) and procrastinate
  (``batch_defer``) have batch calls too, which this benchmark does not use;
  huey, dramatiq, arq and Celery send one message per call.
- **Execute.** Then ONE worker process (a subprocess: the library's own worker
  command or API; rota: ``Worker.run_pending()`` with concurrency 1, as
  ``rota run`` drains). This process polls the server for the number of jobs
  not yet finished every 5 ms (Redis) or 10 ms (PostgreSQL, SQLite). The
  *execute* rate counts from the first poll that sees a job finished to the
  poll that sees none left: the worker's steady rate, without its start-up
  (import, connect). *End to end* is N over enqueue time plus the time from
  spawning the worker to the last job finished, start-up included. Workers
  run from compiled bytecode, as installed libraries do: one temporary
  ``PYTHONPYCACHEPREFIX`` for all of them, filled by the warm-up trial.
- **Trials.** A warm-up trial of N/10 jobs, not counted, then ``--trials``
  trials of N, each on an empty server (fresh database, FLUSHDB). The table
  shows the best trial's rates (the least disturbed on a shared machine) and
  the median execute rate; the ratio is rota's best execute rate over the
  fastest peer's best.
- **Checks.** A worker that writes a traceback or an error, a trial past its
  deadline, or (where the library records it) fewer successes than N fails
  the benchmark rather than reporting a rate.
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Protocol

import psutil
import psycopg
import redis

PEERS_DIR = Path(__file__).resolve().parent / "_peers"
sys.path.insert(0, str(PEERS_DIR))

PG_ADMIN_URL = os.environ.get("BENCH_PG_ADMIN_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
PG_DATABASE = "rota_bench"
PG_URL = PG_ADMIN_URL.rsplit("/", 1)[0] + "/" + PG_DATABASE
REDIS_URL = os.environ.setdefault("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
os.environ["BENCH_PG_URL"] = PG_URL
TARGET = 2.0
POLL = {"redis": 0.005, "postgresql": 0.010, "sqlite": 0.010}
ERROR_MARKS = ("Traceback", "ERROR", "CRITICAL")


class Contender(Protocol):
    """One library set up against one server (modules in ``benchmarks/_peers``)."""

    library: str
    setting: str

    def reset(self) -> None: ...
    def enqueue(self, count: int) -> None: ...
    def pending(self) -> int: ...
    def succeeded(self) -> int | None: ...
    def worker_argv(self) -> list[str]: ...
    def close(self) -> None: ...


@dataclass(frozen=True)
class Entry:
    library: str
    server: str
    """``redis``, ``postgresql`` or ``sqlite``."""
    make: Callable[[], Contender]
    fresh: Callable[[], contextlib.AbstractContextManager[None]]
    """A context in which the server is empty."""


@dataclass(frozen=True)
class Trial:
    enqueue_s: float
    execute_rate: float
    startup_s: float
    """Spawn to first job seen finished."""
    total_s: float
    """Spawn to last job seen finished."""

    def enqueue_rate(self, count: int) -> float:
        return count / self.enqueue_s

    def end_to_end_rate(self, count: int) -> float:
        return count / (self.enqueue_s + self.total_s)


@dataclass(frozen=True)
class Result:
    server: str
    library: str
    setting: str
    count: int
    trials: list[Trial]

    @property
    def best(self) -> Trial:
        return max(self.trials, key=lambda t: t.execute_rate)

    @property
    def median_execute(self) -> float:
        return statistics.median(t.execute_rate for t in self.trials)


# -- servers ---------------------------------------------------------------------------------


@contextlib.contextmanager
def fresh_redis() -> Iterator[None]:
    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.flushdb()
        yield
        client.flushdb()
    finally:
        client.close()


def _recreate_database(drop_only: bool = False) -> None:
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f"DROP DATABASE IF EXISTS {PG_DATABASE} WITH (FORCE)")
        if not drop_only:
            conn.execute(f"CREATE DATABASE {PG_DATABASE}")


@contextlib.contextmanager
def fresh_postgres() -> Iterator[None]:
    _recreate_database()
    try:
        yield
    finally:
        _recreate_database(drop_only=True)


@contextlib.contextmanager
def fresh_sqlite(path: Path) -> Iterator[None]:
    for suffix in ("", "-wal", "-shm"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    yield


def entries(sqlite_path: Path) -> list[Entry]:
    def peer(module: str, cls: str) -> Callable[[], Contender]:
        def make() -> Contender:
            made: Contender = getattr(importlib.import_module(module), cls)()
            return made

        return make

    def rota(url: str) -> Callable[[], Contender]:
        def make() -> Contender:
            made: Contender = importlib.import_module("bench_rota").RotaPeer(url)
            return made

        return make

    return [
        Entry("rota", "redis", rota(f"{REDIS_URL}?prefix=bench"), fresh_redis),
        Entry("rq", "redis", peer("bench_rq", "RQPeer"), fresh_redis),
        Entry("arq", "redis", peer("bench_arq", "ArqPeer"), fresh_redis),
        Entry("huey", "redis", peer("bench_huey", "HueyPeer"), fresh_redis),
        Entry("celery", "redis", peer("bench_celery", "CeleryPeer"), fresh_redis),
        Entry("dramatiq", "redis", peer("bench_dramatiq", "DramatiqPeer"), fresh_redis),
        Entry("rota", "postgresql", rota(f"{PG_URL}?schema=rota_bench"), fresh_postgres),
        Entry(
            "procrastinate",
            "postgresql",
            peer("bench_procrastinate", "ProcrastinatePeer"),
            fresh_postgres,
        ),
        Entry(
            "rota", "sqlite", rota(f"sqlite:///{sqlite_path}"), lambda: fresh_sqlite(sqlite_path)
        ),
    ]


# -- one trial -------------------------------------------------------------------------------


def stop(proc: subprocess.Popen[bytes]) -> None:
    """End the worker we started (its own session: its children too)."""
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGKILL)  # strays (dramatiq's worker child)


def check_log(label: str, log: IO[bytes]) -> None:
    log.seek(0)
    text = log.read().decode(errors="replace")
    if any(mark in text for mark in ERROR_MARKS):
        raise RuntimeError(f"{label}: the worker reported an error:\n{text[-3000:]}")


def trial(entry: Entry, count: int) -> tuple[str, str, Trial]:
    with entry.fresh():
        contender = entry.make()
        label = f"{contender.library} on {entry.server}"
        try:
            contender.reset()
            started = time.perf_counter()
            contender.enqueue(count)
            enqueue_s = time.perf_counter() - started
            if (left := contender.pending()) != count:
                raise RuntimeError(f"{label}: {left} pending after enqueuing {count}")
            result = drain(entry, contender, count, enqueue_s, label)
            done = contender.succeeded()
            if done is not None and done != count:
                raise RuntimeError(f"{label}: {done} of {count} succeeded")
        finally:
            contender.close()
    return contender.library, contender.setting, result


_BYTECODE = tempfile.TemporaryDirectory(prefix="rota-bench-bytecode-")
"""Where worker processes keep compiled bytecode (``PYTHONPYCACHEPREFIX``)."""


def worker_env() -> dict[str, str]:
    """The worker's environment: the peers' modules on the path, and bytecode cached.

    An installed library runs from compiled bytecode; a worker started with
    ``PYTHONDONTWRITEBYTECODE`` (or from a source tree nobody compiled)
    recompiles every module it imports on each start. Every library's worker
    writes to and reads from one temporary cache instead, which the warm-up
    trial fills, so no contender's start-up includes compiling itself.
    """
    env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
    return env | {
        "PYTHONPATH": str(PEERS_DIR),
        "PYTHONUNBUFFERED": "1",
        "PYTHONPYCACHEPREFIX": _BYTECODE.name,
    }


def drain(entry: Entry, contender: Contender, count: int, enqueue_s: float, label: str) -> Trial:
    poll = POLL[entry.server]
    env = worker_env()
    with tempfile.TemporaryFile() as log:
        spawned = time.perf_counter()
        proc = subprocess.Popen(
            contender.worker_argv(),
            cwd=PEERS_DIR,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        try:
            first: tuple[float, int] | None = None
            deadline = spawned + 30 + count / 50
            while True:
                left = contender.pending()
                now = time.perf_counter()
                if first is None and left < count:
                    first = (now, left)
                if left == 0:
                    break
                if now > deadline:
                    raise RuntimeError(f"{label}: {left} of {count} still pending at the deadline")
                if proc.poll() is not None and contender.pending() > 0:
                    check_log(label, log)
                    raise RuntimeError(f"{label}: the worker exited with {left} pending")
                time.sleep(poll)
            if proc.poll() is None and contender.library in {"rota", "rq", "arq", "procrastinate"}:
                proc.wait(60)  # the burst workers exit by themselves: let them, then check
        finally:
            stop(proc)
        check_log(label, log)
    assert first is not None
    seen_at, left_then = first
    if now - seen_at <= 0 or left_then == 0:
        raise RuntimeError(f"{label}: drained within one poll; raise -n")
    return Trial(enqueue_s, left_then / (now - seen_at), seen_at - spawned, now - spawned)


def measure(entry: Entry, count: int, trials: int) -> Result:
    trial(entry, max(100, count // 10))  # warm-up: caches, JIT-free but page cache and server
    runs = [trial(entry, count) for _ in range(trials)]
    library, setting = runs[0][0], runs[0][1]
    result = Result(entry.server, library, setting, count, [t for _, _, t in runs])
    best = result.best
    print(
        f"  {entry.server:<10} {library:<13} execute {best.execute_rate:>8,.0f}/s best, "
        f"{result.median_execute:>8,.0f}/s median; enqueue {best.enqueue_rate(count):>7,.0f}/s",
        file=sys.stderr,
        flush=True,
    )
    return result


# -- report ----------------------------------------------------------------------------------


def table(results: list[Result], count: int, trials: int) -> list[str]:
    lines = [
        f"no-op jobs, N={count:,} per trial, best of {trials} trials (execute median too);"
        " one worker process",
        f"{'server':<11}{'library':<14}{'setting':<36}{'enqueue/s':>10}{'execute/s':>11}"
        f"{'(median)':>10}{'start s':>8}{'end-to-end/s':>13}{'rota/peer':>10}",
    ]
    verdicts = []
    for server in ("redis", "postgresql", "sqlite"):
        rows = [r for r in results if r.server == server]
        peers = [r for r in rows if r.library != "rota"]
        fastest = max(peers, key=lambda r: r.best.execute_rate) if peers else None
        for r in rows:
            best = r.best
            ratio = ""
            if r.library == "rota" and fastest is not None:
                ratio = f"{best.execute_rate / fastest.best.execute_rate:.2f}x"
            lines.append(
                f"{server:<11}{r.library:<14}{r.setting:<36}{best.enqueue_rate(count):>10,.0f}"
                f"{best.execute_rate:>11,.0f}{r.median_execute:>10,.0f}{best.startup_s:>8.2f}"
                f"{best.end_to_end_rate(count):>13,.0f}{ratio:>10}".rstrip()
            )
        ours = [r for r in rows if r.library == "rota"]
        if fastest is not None and ours:
            times = ours[0].best.execute_rate / fastest.best.execute_rate
            e2e = ours[0].best.end_to_end_rate(count) / fastest.best.end_to_end_rate(count)
            verdict = "meets" if times >= TARGET else "MISSES"
            verdicts.append(
                f"{server}: rota executes {times:.2f}x the fastest peer ({fastest.library}),"
                f" {verdict} the target of {TARGET:.0f}x; end to end {e2e:.2f}x"
            )
    return [*lines, *verdicts]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0] if __doc__ else "")
    parser.add_argument("-n", "--count", type=int, default=2_000, help="jobs per trial")
    parser.add_argument("--trials", type=int, default=3)
    parser.add_argument("--only", default="", help="comma-separated libraries, e.g. rota,rq")
    args = parser.parse_args()
    only = {name.strip() for name in args.only.split(",") if name.strip()}
    load = os.getloadavg()[0]
    print(
        f"{psutil.cpu_count()} cores, load average {load:.2f} at start; "
        f"Redis {REDIS_URL}, PostgreSQL {PG_URL}",
        file=sys.stderr,
    )
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for entry in entries(Path(tmp) / "bench.db"):
            if only and entry.library not in only:
                continue
            results.append(measure(entry, args.count, args.trials))
    for line in table(results, args.count, args.trials):
        print(line)


if __name__ == "__main__":
    main()
