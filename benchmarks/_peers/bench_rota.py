"""rota: runs queued with ``Rota.enqueue_many`` (a thousand per store call); the worker is
``Worker.run_pending()`` (what ``rota run`` drains with) with concurrency 1,
which executes inline and claims 32 runs ahead while jobs are quick.

``python bench_rota.py STORE_URL [CONCURRENCY]`` is the worker process.
"""

from __future__ import annotations

import sqlite3
import sys
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from rota.app import Rota
from rota.config import RotaConfig
from rota.runs import RunState
from rota.stores import open_store
from rota.worker import WorkerConfig

if TYPE_CHECKING:
    import redis  # imported where used: a PostgreSQL or SQLite worker never loads it

_PENDING = ("queued", "retrying", "running")


def noop() -> None:
    """The job: nothing."""


class RotaPeer:
    library = "rota"

    def __init__(self, url: str, concurrency: int = 1) -> None:
        self.url = url
        self.concurrency = concurrency
        self.setting = f"run_pending, concurrency {concurrency}"
        self._redis: redis.Redis | None = None
        self._pg: object = None

    def reset(self) -> None:
        """The caller gives a fresh database (or file); create rota's schema in it."""
        open_store(self.url).close()

    def enqueue(self, count: int) -> None:
        """``Rota.enqueue_many``: rota's ordinary way to queue many calls (one
        ``insert_runs`` store call per thousand runs)."""
        app = Rota(store=self.url)
        app.job(name="noop")(noop)
        try:
            app.enqueue_many("noop", [((), {})] * count)
        finally:
            app.close()

    def pending(self) -> int:
        scheme = self.url.split("://", 1)[0]
        if scheme == "redis":
            if self._redis is None:
                import redis

                self._redis = redis.Redis.from_url(self.url.split("?", 1)[0])
            base = "{" + _prefix(self.url) + "}:"
            pipe = self._redis.pipeline(transaction=False)
            pipe.zcard(base + "ready:0:default")
            pipe.zcard(base + "running")
            return int(sum(pipe.execute()))
        if scheme == "sqlite":
            path = self.url.removeprefix("sqlite:///")
            with sqlite3.connect(path, timeout=5.0) as conn:
                (count,) = conn.execute(
                    "SELECT count(*) FROM rota_runs WHERE state IN (?, ?, ?)", _PENDING
                ).fetchone()
            conn.close()
            return int(count)
        return self._pg_count(
            f"SELECT count(*) FROM {_schema(self.url)}.runs WHERE state = ANY(%s)"
        )

    def succeeded(self) -> int | None:
        store = open_store(self.url)
        try:
            runs = store.list_runs(states=[RunState.SUCCEEDED], limit=1_000_000)
        finally:
            store.close()
        return len(runs)

    def _pg_count(self, query: str) -> int:
        import psycopg

        if self._pg is None:
            self._pg = psycopg.connect(self.url.split("?", 1)[0], autocommit=True)
        conn = self._pg
        assert isinstance(conn, psycopg.Connection)
        row = conn.execute(query, (list(_PENDING),)).fetchone()
        return int(row[0]) if row else 0

    def worker_argv(self) -> list[str]:
        return [sys.executable, __file__, self.url, str(self.concurrency)]

    def close(self) -> None:
        if self._redis is not None:
            self._redis.close()
            self._redis = None
        import psycopg

        if isinstance(self._pg, psycopg.Connection):
            self._pg.close()
        self._pg = None


def _query(url: str) -> dict[str, str]:
    query = urlsplit(url).query
    return dict(part.partition("=")[::2] for part in query.split("&") if part)


def _prefix(url: str) -> str:
    return _query(url).get("prefix", "rota")


def _schema(url: str) -> str:
    return _query(url).get("schema", "rota")


def work(url: str, concurrency: int) -> None:
    app = Rota(store=url, config=RotaConfig(worker=WorkerConfig(concurrency=concurrency)))
    app.job(name="noop")(noop)
    worker = app.worker()
    try:
        worker.run_pending(collect=False)  # drain only, as the peers' burst workers do
    finally:
        worker.stop()
        app.close()


if __name__ == "__main__":
    work(sys.argv[1], int(sys.argv[2]) if len(sys.argv) > 2 else 1)
