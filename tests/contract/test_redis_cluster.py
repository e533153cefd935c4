"""Redis Cluster only: the ``?cluster=true`` URL, every key on the node that owns
the prefix's hash tag, sharded pub/sub wake-ups between store objects that
name different nodes, and an app's queue end to end. (The whole contract suite
runs on the cluster too: the ``redis-cluster`` store of ``conftest.py``.)

The cluster is the session's private one (``redis_cluster``): three masters
started with ``redis-server`` on free ports; a missing ``redis-server`` fails
these tests, it never skips them.
"""

from __future__ import annotations

import shutil
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rota.errors import ConfigurationError, StoreUnavailable
from rota.runs import RunState
from rota.stores import open_store
from rota.stores._redis_codec import parse_url
from rota.stores.redis import RedisStore

from .redis_cluster import LocalCluster, drop_prefix, keys_of, start_cluster
from .support import LEASE, NOW, at, make_run, make_schedule, ok, redis_stores, start


@pytest.fixture
def prefix(redis_cluster: LocalCluster) -> Iterator[str]:
    name = f"test-{uuid.uuid4().hex}"
    yield name
    drop_prefix(redis_cluster, name)


@pytest.fixture
def make(redis_cluster: LocalCluster, prefix: str) -> Iterator[Callable[..., RedisStore]]:
    """Open (and afterwards close) stores on the test's prefix, each naming node ``node``."""

    def url(node: int = 0, **query: str) -> str:
        return redis_cluster.url_at(node % len(redis_cluster.ports), prefix=prefix, **query)

    with redis_stores(url) as opener:
        yield opener


# -- URLs --------------------------------------------------------------------


def test_the_cluster_url_option() -> None:
    options = parse_url("redis://h:7000/0?cluster=true&prefix=p&socket_timeout=3")
    assert (options.cluster, options.prefix) == (True, "p")
    assert options.client_url == "redis://h:7000/0?socket_timeout=3"
    assert parse_url("rediss://h?cluster=yes").cluster
    assert not parse_url("redis://h?cluster=false").cluster
    assert not parse_url("redis://h/3").cluster


@pytest.mark.parametrize(
    ("url", "bad"),
    [
        ("redis://h?cluster=maybe", "cluster"),
        ("redis://h/2?cluster=true", "database"),
    ],
)
def test_bad_cluster_urls_are_refused(url: str, bad: str) -> None:
    with pytest.raises(ConfigurationError, match=bad):
        parse_url(url)


def test_open_store_by_cluster_url(redis_cluster: LocalCluster, prefix: str) -> None:
    store = open_store(redis_cluster.url_at(1, prefix=prefix))
    try:
        assert isinstance(store, RedisStore)
        assert store.options.cluster
        assert store.insert_run(make_run("r1"))
        assert store.get_run("r1") is not None
    finally:
        store.close()


def test_an_unreachable_cluster_is_unavailable_at_first_use_naming_it() -> None:
    store = RedisStore.from_url(
        "redis://127.0.0.1:1/0?cluster=true&socket_connect_timeout=1"
    )  # made without a connection: nothing raised yet
    try:
        with pytest.raises(StoreUnavailable, match=r"127\.0\.0\.1:1 \(cluster\)"):
            store.migrate()
    finally:
        store.close()


def test_a_missing_redis_server_fails_the_cluster_tests(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("ROTA_TEST_REDIS_CLUSTER_URL", raising=False)
    monkeypatch.setattr(shutil, "which", lambda name: None)
    with pytest.raises(RuntimeError, match="redis-server not found"):
        start_cluster(tmp_path)


# -- keys --------------------------------------------------------------------


def test_every_key_lives_on_the_node_that_owns_the_hash_tag(
    make: Callable[..., RedisStore], redis_cluster: LocalCluster, prefix: str
) -> None:
    store = make()
    store.save_schedule(make_schedule("s"), expected_version=None)
    store.insert_schedules([make_schedule("t"), make_schedule("u", per_host=True)])
    done = start(store, make_run("x", exclusive=True, available=-60))
    store.finish_run("x", done.lease_token or "", ok(), now=at(1))
    store.insert_runs([make_run(f"r{i}", queue=f"q{i % 2}", priority=i % 3) for i in range(6)])
    store.insert_run(make_run("c", state=RunState.WAITING, parents=("r0",)))
    store.claim_runs(worker="w", now=NOW, limit=2, lease_seconds=LEASE)
    owner = keys_of(redis_cluster, prefix)
    assert len(owner) > 10
    everywhere = [keys_of(redis_cluster, prefix, node=n) for n in range(len(redis_cluster.ports))]
    assert sorted(k for keys in everywhere for k in keys) == owner


# -- wake-ups: sharded pub/sub -----------------------------------------------


def _waiting(store: RedisStore, timeout: float) -> tuple[threading.Thread, list[object]]:
    outcome: list[object] = []
    thread = threading.Thread(target=lambda: outcome.append(store.wait_for_activity(timeout)))
    thread.start()
    return thread, outcome


@pytest.mark.parametrize(
    "write",
    [
        pytest.param(lambda s: s.insert_run(make_run("r1")), id="insert"),
        pytest.param(lambda s: s.notify(), id="notify"),
        pytest.param(
            lambda s: s.save_schedule(make_schedule("s"), expected_version=None), id="schedule"
        ),
    ],
)
def test_a_write_through_another_node_wakes_a_waiter(
    make: Callable[..., RedisStore], write: Callable[[RedisStore], object]
) -> None:
    waiter, writer = make(node=1), make(node=2)
    waiter.wait_for_activity(0)  # subscribed (SSUBSCRIBE on the slot's node) from here on
    thread, outcome = _waiting(waiter, 5)
    started = time.monotonic()
    write(writer)
    thread.join(timeout=5)
    assert outcome == [True]
    assert time.monotonic() - started < 1.0


def test_other_prefixes_do_not_wake(
    make: Callable[..., RedisStore], redis_cluster: LocalCluster
) -> None:
    waiter = make()
    other_prefix = f"test-{uuid.uuid4().hex}"
    other = RedisStore.from_url(redis_cluster.url_at(1, prefix=other_prefix))
    try:
        waiter.wait_for_activity(0)
        other.insert_run(make_run("r1"))
        other.notify()
        assert waiter.wait_for_activity(0.3) is False
    finally:
        other.close()
        drop_prefix(redis_cluster, other_prefix)


def test_a_released_waiting_run_wakes_a_worker_elsewhere(
    make: Callable[..., RedisStore],
) -> None:
    waiter, writer = make(node=0), make(node=1)
    writer.insert_run(make_run("c", state=RunState.WAITING, parents=("p",)))
    waiter.wait_for_activity(0)
    waiter.wait_for_activity(0.2)  # the insert's wake-up, if it came late
    thread, outcome = _waiting(waiter, 5)
    assert writer.release_waiting("c", RunState.QUEUED, now=NOW) is not None
    thread.join(timeout=5)
    assert outcome == [True]
    [run] = waiter.claim_runs(worker="w", now=NOW, limit=5, lease_seconds=LEASE)
    assert run.id == "c"


# -- an app on the cluster ---------------------------------------------------


def test_an_app_enqueues_and_a_worker_drains_on_the_cluster(
    redis_cluster: LocalCluster, prefix: str
) -> None:
    from rota import Rota

    app = Rota(store=redis_cluster.url_at(2, prefix=prefix))
    done: list[int] = []

    @app.job(queue="numbers")
    def record(n: int) -> None:
        done.append(n)

    try:
        runs = app.enqueue_many(record, [((n,), {}) for n in range(50)])
        assert [r.state for r in runs] == [RunState.QUEUED] * 50
        worker = app.worker()
        try:
            finished = worker.run_pending()
        finally:
            worker.stop()
        assert sorted(done) == list(range(50))
        assert {r.id for r in finished} == {r.id for r in runs}
        assert {r.state for r in finished} == {RunState.SUCCEEDED}
    finally:
        app.close()
