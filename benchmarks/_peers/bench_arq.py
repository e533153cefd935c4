"""arq: ``ArqRedis.enqueue_job`` one job at a time (awaited in turn); the
worker is ``arq bench_arq.WorkerSettings --burst``, one process, its default
``max_jobs=10`` coroutines, with ``poll_delay`` cut from 0.5 s to 0: arq
sleeps ``poll_delay`` after every read of up to ``queue_read_limit`` ids,
which at the defaults caps it near 200 jobs/s."""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

import redis
from _common import REDIS_URL, tool
from arq.connections import ArqRedis, RedisSettings, create_pool
from arq.constants import default_queue_name

SETTINGS = RedisSettings.from_dsn(REDIS_URL)


async def noop(ctx: dict[str, Any]) -> None:
    """The job: nothing."""


class WorkerSettings:
    functions: ClassVar[list[Any]] = [noop]
    redis_settings = SETTINGS
    poll_delay = 0.0
    handle_signals = False


class ArqPeer:
    library = "arq"
    setting = "burst, max_jobs 10, poll_delay 0"

    def __init__(self) -> None:
        self._redis = redis.Redis.from_url(REDIS_URL)

    def reset(self) -> None:
        self._redis.flushdb()

    def enqueue(self, count: int) -> None:
        async def go() -> None:
            pool: ArqRedis = await create_pool(SETTINGS)
            try:
                for _ in range(count):
                    await pool.enqueue_job("noop")
            finally:
                await pool.aclose()

        asyncio.run(go())

    def pending(self) -> int:
        return int(self._redis.zcard(default_queue_name))

    def succeeded(self) -> int | None:
        return None

    def worker_argv(self) -> list[str]:
        return [tool("arq"), "--burst", "bench_arq.WorkerSettings"]

    def close(self) -> None:
        self._redis.close()
