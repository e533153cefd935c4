"""procrastinate: ``Task.defer()`` one at a time (sync API, one open app);
the worker is ``App.run_worker(wait=False)`` in one process (drains the
queue, then exits), at concurrency C (default 4: faster than 1 here; 10 was slower).

``python bench_procrastinate.py [CONCURRENCY]`` is the worker process.
"""

from __future__ import annotations

import os
import sys

import procrastinate
import psycopg
from _common import PG_URL

CONCURRENCY = int(os.environ.get("BENCH_PROCRASTINATE_CONCURRENCY", "4"))

app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=PG_URL))


@app.task(name="noop")
def noop() -> None:
    """The job: nothing."""


class ProcrastinatePeer:
    library = "procrastinate"
    setting = f"run_worker(wait=False), concurrency {CONCURRENCY}"

    def __init__(self) -> None:
        self._conn: psycopg.Connection[tuple[int]] | None = None

    def reset(self) -> None:
        """The caller gives a fresh database; install procrastinate's schema in it."""
        with app.open():
            app.schema_manager.apply_schema()

    def enqueue(self, count: int) -> None:
        with app.open():
            for _ in range(count):
                noop.defer()

    def _count(self, status: tuple[str, ...]) -> int:
        if self._conn is None:
            self._conn = psycopg.connect(PG_URL, autocommit=True)
        row = self._conn.execute(
            "SELECT count(*) FROM procrastinate_jobs WHERE status::text = ANY(%s)", (list(status),)
        ).fetchone()
        return int(row[0]) if row else 0

    def pending(self) -> int:
        return self._count(("todo", "doing"))

    def succeeded(self) -> int | None:
        return self._count(("succeeded",))

    def worker_argv(self) -> list[str]:
        return [sys.executable, __file__]

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None


if __name__ == "__main__":
    app.run_worker(wait=False, concurrency=CONCURRENCY, install_signal_handlers=False)
