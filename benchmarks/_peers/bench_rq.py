"""RQ: ``Queue.enqueue`` one job at a time; the worker is ``rq worker --burst``
with ``SimpleWorker`` (executes in the worker process: the default ``Worker``
forks a work horse per job, far slower for no-op jobs)."""

from __future__ import annotations

import redis
from _common import REDIS_URL, tool
from rq import Queue
from rq.registry import FailedJobRegistry, FinishedJobRegistry

QUEUE = "bench"


def noop() -> None:
    """The job: nothing."""


class RQPeer:
    library = "rq"
    setting = "SimpleWorker, --burst"

    def __init__(self) -> None:
        self._redis = redis.Redis.from_url(REDIS_URL)
        self._queue = Queue(QUEUE, connection=self._redis)
        self._count = 0

    def reset(self) -> None:
        self._redis.flushdb()

    def enqueue(self, count: int) -> None:
        self._count = count
        for _ in range(count):
            self._queue.enqueue(noop)

    def _ended(self) -> int:
        pipe = self._redis.pipeline(transaction=False)
        pipe.zcard(FinishedJobRegistry(queue=self._queue).key)
        pipe.zcard(FailedJobRegistry(queue=self._queue).key)
        return int(sum(pipe.execute()))

    def pending(self) -> int:
        return self._count - self._ended()

    def succeeded(self) -> int | None:
        return int(self._redis.zcard(FinishedJobRegistry(queue=self._queue).key))

    def worker_argv(self) -> list[str]:
        return [
            tool("rq"), "worker", "--burst", "--quiet", "--url", REDIS_URL,
            "--worker-class", "rq.worker.SimpleWorker", QUEUE,
        ]  # fmt: skip

    def close(self) -> None:
        self._redis.close()
