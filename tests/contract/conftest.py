"""The ``store`` fixture: every contract test runs once per backend.

A backend joins the suite by adding one factory to ``FACTORIES``; a factory
that cannot reach its server must fail, never skip.
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from functools import partial
from pathlib import Path
from typing import TypeAlias

import pytest

from rota.errors import StoreUnavailable
from rota.stores.base import Store

from .redis_cluster import LocalCluster, drop_prefix, running_cluster


def _memory(tmp_path: Path) -> Store:
    from rota.stores.memory import MemoryStore

    return MemoryStore.from_url("memory://")


def _sqlite(tmp_path: Path) -> Store:
    from rota.stores.sqlite import SQLiteStore

    return SQLiteStore.from_url(f"sqlite:///{tmp_path / 'rota.db'}")


@contextmanager
def _redis(tmp_path: Path) -> Iterator[Store]:
    """A key prefix of its own per test; its keys are dropped afterwards."""
    import redis

    from rota.stores.redis import RedisStore

    url = os.environ.get("ROTA_TEST_REDIS_URL") or "redis://127.0.0.1:6379/0"
    prefix = f"test-{uuid.uuid4().hex}"
    try:
        yield RedisStore.from_url(f"{url}{'&' if '?' in url else '?'}prefix={prefix}")
    finally:
        with redis.Redis.from_url(url) as admin:
            keys = list(admin.scan_iter(match=f"{{{prefix}}}:*", count=1000))
            if keys:
                admin.unlink(*keys)


@contextmanager
def _redis_cluster(cluster: LocalCluster, tmp_path: Path) -> Iterator[Store]:
    """As ``_redis``, on the session's private Redis Cluster (``redis_cluster``)."""
    from rota.stores.redis import RedisStore

    prefix = f"test-{uuid.uuid4().hex}"
    try:
        yield RedisStore.from_url(f"{cluster.url}&prefix={prefix}")
    finally:
        drop_prefix(cluster, prefix)


@contextmanager
def _postgres(tmp_path: Path) -> Iterator[Store]:
    """A schema of its own per test, dropped afterwards."""
    from rota.stores.postgres import PostgresStore

    from .pg_admin import drop_schema, new_schema, store_url

    schema = new_schema()
    try:
        yield PostgresStore.from_url(store_url(schema))
    finally:
        drop_schema(schema)


Made: TypeAlias = Store | AbstractContextManager[Store]
"""What a factory returns: the store, or a context manager that yields it and
cleans up (a test's keys, schema, …) on exit, after the store is closed."""


def _on_redis_cluster(tmp_path: Path) -> Made:
    """Listed for the parametrization: ``store_factory`` gives ``_redis_cluster``
    the session's cluster instead (the ``redis_cluster`` fixture)."""
    raise AssertionError("store_factory binds the redis-cluster factory to its cluster")


FACTORIES: dict[str, Callable[[Path], Made]] = {
    "memory": _memory,
    "postgres": _postgres,
    "redis": _redis,
    "redis-cluster": _on_redis_cluster,
    "sqlite": _sqlite,
}


@pytest.fixture(scope="session")
def redis_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalCluster]:
    """A private 3-master Redis Cluster (``redis_cluster.py``), started in a few
    seconds by the first test that needs it and stopped at the end of the session;
    a missing ``redis-server`` fails those tests."""
    with running_cluster(tmp_path_factory.mktemp("redis-cluster")) as cluster:
        yield cluster


@pytest.fixture(params=sorted(FACTORIES))
def store_factory(request: pytest.FixtureRequest) -> Callable[[Path], Made]:
    if request.param == "redis-cluster":
        return partial(_redis_cluster, request.getfixturevalue("redis_cluster"))
    return FACTORIES[request.param]


@pytest.fixture
def store(store_factory: Callable[[Path], Made], tmp_path: Path) -> Iterator[Store]:
    before = set(threading.enumerate())
    made = store_factory(tmp_path)
    with made if isinstance(made, AbstractContextManager) else nullcontext(made) as opened:
        opened.migrate()
        yield opened
        opened.close()
        with pytest.raises(StoreUnavailable):
            opened.get_run("any")
    # Only threads born during this test count: a timed-out sync job's thread
    # from an earlier test may end at any moment without being a leak here.
    leaked = [t.name for t in threading.enumerate() if t not in before]
    assert not leaked, f"the store leaked threads: {leaked}"
