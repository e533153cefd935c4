"""dramatiq: ``Actor.send()`` one at a time on the Redis broker; the worker is
``dramatiq bench_dramatiq --processes 1 --threads T`` (T worker threads in one
worker process, default middleware); no burst mode, so it is stopped once
every message is acknowledged."""

from __future__ import annotations

import os

import dramatiq
import redis
from _common import REDIS_URL, tool
from dramatiq.brokers.redis import RedisBroker

THREADS = int(os.environ.get("BENCH_DRAMATIQ_THREADS", "8"))

dramatiq.set_broker(RedisBroker(url=REDIS_URL))  # type: ignore[no-untyped-call]


@dramatiq.actor(queue_name="default")
def noop() -> None:
    """The job: nothing."""


class DramatiqPeer:
    library = "dramatiq"
    setting = f"1 process, {THREADS} threads"

    def __init__(self) -> None:
        self._redis = redis.Redis.from_url(REDIS_URL)

    def reset(self) -> None:
        self._redis.flushdb()

    def enqueue(self, count: int) -> None:
        for _ in range(count):
            noop.send()

    def pending(self) -> int:
        return int(self._redis.hlen("dramatiq:default.msgs"))

    def succeeded(self) -> int | None:
        return None

    def worker_argv(self) -> list[str]:
        return [
            tool("dramatiq"), "bench_dramatiq", "--processes", "1",
            "--threads", str(THREADS),
        ]  # fmt: skip

    def close(self) -> None:
        self._redis.close()
