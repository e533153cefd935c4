"""Celery: ``Task.delay()`` one at a time, no result backend (the default);
the worker is ``celery worker --pool solo`` (executes in the worker process;
prefork with concurrency 1 adds a child and a pipe per task) without gossip,
mingle and heartbeat, at the default prefetch (4 per process)."""

from __future__ import annotations

import os

import redis
from _common import REDIS_URL, tool
from celery import Celery

PREFETCH = int(os.environ.get("BENCH_CELERY_PREFETCH", "4"))

app = Celery("bench_celery", broker=REDIS_URL)
app.conf.update(
    task_ignore_result=True,
    broker_connection_retry_on_startup=True,
    worker_prefetch_multiplier=PREFETCH,
    worker_hijack_root_logger=False,
)


@app.task(name="noop")  # type: ignore[untyped-decorator]
def noop() -> None:
    """The job: nothing."""


class CeleryPeer:
    library = "celery"
    setting = f"--pool solo, prefetch {PREFETCH}"

    def __init__(self) -> None:
        self._redis = redis.Redis.from_url(REDIS_URL)

    def reset(self) -> None:
        self._redis.flushdb()

    def enqueue(self, count: int) -> None:
        for _ in range(count):
            noop.delay()

    def pending(self) -> int:
        pipe = self._redis.pipeline(transaction=False)
        pipe.llen("celery")
        pipe.hlen("unacked")
        return int(sum(pipe.execute()))

    def succeeded(self) -> int | None:
        return None

    def worker_argv(self) -> list[str]:
        return [
            tool("celery"), "-A", "bench_celery", "worker", "--pool", "solo",
            "--without-gossip", "--without-mingle", "--without-heartbeat",
            "--loglevel", "WARNING",
        ]  # fmt: skip

    def close(self) -> None:
        self._redis.close()
