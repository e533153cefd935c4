"""huey: calling the task enqueues it, one at a time; the worker is
``huey_consumer bench_huey.huey -w 1 -k thread`` (one worker thread, blocking
BRPOP reads; huey has no burst mode, so it is stopped once the queue is empty)."""

from __future__ import annotations

from _common import REDIS_URL, tool
from huey import RedisHuey

huey = RedisHuey("bench", url=REDIS_URL)


@huey.task()  # type: ignore[untyped-decorator]
def noop() -> None:
    """The job: nothing."""


class HueyPeer:
    library = "huey"
    setting = "consumer, 1 worker thread"

    def reset(self) -> None:
        huey.storage.conn.flushdb()

    def enqueue(self, count: int) -> None:
        for _ in range(count):
            noop()

    def pending(self) -> int:
        return int(huey.pending_count())

    def succeeded(self) -> int | None:
        return None

    def worker_argv(self) -> list[str]:
        return [tool("huey_consumer"), "bench_huey.huey", "-w", "1", "-k", "thread", "-q"]

    def close(self) -> None:
        pass
