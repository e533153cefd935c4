"""Redis only: URL options, the one hash tag, TTLs and lazy index cleanup,
claim order against the memory store, wake-ups between store objects, and
connections killed by the server mid-test."""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import urlencode

import pytest
import redis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from redis.crc import key_slot

from rota.errors import ConfigurationError, StoreUnavailable
from rota.runs import Run, RunState
from rota.stores import _codec, _rules, open_store
from rota.stores._redis_codec import finish_fields, insert_batch, parse_url, run_fields
from rota.stores.base import Advance, Outcome, Store
from rota.stores.memory import MemoryStore
from rota.stores.redis import RedisStore

from .support import LEASE, NOW, at, make_run, make_schedule, ok, redis_stores, start

URL = os.environ.get("ROTA_TEST_REDIS_URL") or "redis://127.0.0.1:6379/0"


def _url(**query: str) -> str:
    return f"{URL}{'&' if '?' in URL else '?'}{urlencode(query)}"


def _keys(admin: redis.Redis, prefix: str) -> list[str]:
    return sorted(admin.scan_iter(match=f"{{{prefix}}}:*", count=1000))


def _drop(admin: redis.Redis, prefix: str) -> None:
    keys = _keys(admin, prefix)
    if keys:
        admin.unlink(*keys)


@pytest.fixture
def admin() -> Iterator[redis.Redis]:
    with redis.Redis.from_url(URL, decode_responses=True) as client:
        yield client


@pytest.fixture
def prefix(admin: redis.Redis) -> Iterator[str]:
    name = f"test-{uuid.uuid4().hex}"
    yield name
    _drop(admin, name)


@pytest.fixture
def make(prefix: str) -> Iterator[Callable[..., RedisStore]]:
    """Open (and afterwards close) stores on the test's prefix: one per 'process'."""
    with redis_stores(lambda **query: _url(prefix=prefix, **query)) as opener:
        yield opener


# -- URLs --------------------------------------------------------------------


def test_url_options() -> None:
    options = parse_url("redis://h:1/2?prefix=app.jobs&ttl_days=0.5&socket_timeout=3")
    assert (options.prefix, options.ttl_seconds, options.base) == ("app.jobs", 43200, "{app.jobs}:")
    assert options.client_url == "redis://h:1/2?socket_timeout=3"
    defaults = parse_url("rediss://h")
    assert (defaults.prefix, defaults.ttl_seconds) == ("rota", 30 * 86400)


@pytest.mark.parametrize(
    ("url", "bad"),
    [
        ("redis://h?prefix=a{b}", "prefix"),
        ("redis://h?prefix=", "prefix"),
        ("redis://h?ttl_days=-1", "ttl_days"),
        ("redis://h?ttl_days=soon", "ttl_days"),
        ("postgres://h", "not a Redis"),
    ],
)
def test_bad_urls_are_refused(url: str, bad: str) -> None:
    with pytest.raises(ConfigurationError, match=bad):
        parse_url(url)


def test_open_store_by_url(prefix: str) -> None:
    store = open_store(_url(prefix=prefix))
    try:
        assert isinstance(store, RedisStore)
        assert store.insert_run(make_run("r1"))
    finally:
        store.close()


def test_unreachable_server_is_unavailable_naming_it() -> None:
    store = RedisStore.from_url("redis://127.0.0.1:1/0?socket_connect_timeout=2")
    with pytest.raises(StoreUnavailable, match=r"127\.0\.0\.1:1"):
        store.migrate()
    store.close()


def test_a_newer_data_layout_is_refused(
    make: Callable[..., RedisStore], admin: redis.Redis
) -> None:
    store = make()
    admin.set(store.options.base + "schema", 99)
    with pytest.raises(StoreUnavailable, match="upgrade rota"):
        store.migrate()


# -- keys --------------------------------------------------------------------


def _workload(store: Store) -> None:
    store.save_schedule(make_schedule("s"), expected_version=None)
    store.save_schedule(make_schedule("gone", retired=True), expected_version=None)
    done = start(store, make_run("x", exclusive=True, available=-60))
    store.finish_run("x", done.lease_token or "", ok(), now=at(1))
    store.insert_runs([make_run(f"r{i}", queue=f"q{i % 2}", priority=i % 3) for i in range(6)])
    store.claim_runs(worker="w", now=NOW, limit=2, lease_seconds=LEASE)
    store.wait_for_activity(0)


def test_every_key_shares_the_prefix_hash_tag(
    make: Callable[..., RedisStore], admin: redis.Redis, prefix: str
) -> None:
    _workload(make())
    keys = _keys(admin, prefix)
    assert len(keys) > 10
    assert {key_slot(key.encode()) for key in keys} == {key_slot(f"{{{prefix}}}".encode())}
    strays = [k for k in admin.scan_iter(match=f"*{prefix}*", count=1000) if k not in keys]
    assert strays == []


def test_finished_runs_expire_and_a_requeued_run_does_not(
    make: Callable[..., RedisStore], admin: redis.Redis
) -> None:
    store = make(ttl_days="1")
    key = store.options.base + "run:r1"
    run = start(store, make_run("r1"))
    assert admin.ttl(key) == -1
    store.finish_run("r1", run.lease_token or "", Outcome(state=RunState.FAILED), now=at(1))
    assert 86000 < admin.ttl(key) <= 86400
    store.requeue_run("r1", now=at(2))
    assert admin.ttl(key) == -1
    store.insert_run(make_run("skipped", state=RunState.SKIPPED))
    assert admin.ttl(store.options.base + "run:skipped") > 0


def test_ttl_days_zero_keeps_finished_runs(
    make: Callable[..., RedisStore], admin: redis.Redis
) -> None:
    store = make(ttl_days="0")
    store.insert_run(make_run("r1", state=RunState.SUCCEEDED))
    assert admin.ttl(store.options.base + "run:r1") == -1


def test_index_entries_of_expired_runs_are_dropped_lazily(
    make: Callable[..., RedisStore], admin: redis.Redis
) -> None:
    store = make()
    base = store.options.base
    store.insert_runs([make_run(f"d{i}", created=i, state=RunState.SUCCEEDED) for i in range(3)])
    store.insert_run(make_run("live", created=9))
    admin.delete(base + "run:d0", base + "run:d1")  # as their TTL would
    assert [r.id for r in store.list_runs(schedule="s")] == ["live", "d2"]
    assert admin.zrange(base + "sched:s", 0, -1) == ["d2", "live"]
    assert store.prune_runs("s", keep=5) == 0
    assert admin.zrange(base + "runs", 0, -1) == ["d2", "live"]
    assert admin.zrange(base + "done:s", 0, -1) == ["d2"]


def test_indexes_are_empty_once_every_run_is_finished(
    make: Callable[..., RedisStore], admin: redis.Redis
) -> None:
    store = make()
    store.insert_runs(
        [make_run(f"r{i}", exclusive=i % 2 == 0, queue=f"q{i % 3}") for i in range(9)]
    )
    while runs := store.claim_runs(worker="w", now=NOW, limit=4, lease_seconds=LEASE):
        for run in runs:
            store.finish_run(run.id, run.lease_token or "", ok(), now=NOW)
    base = store.options.base
    for key in ("levels", "running", "running_sched", "active:s"):
        assert not admin.exists(base + key), key
    assert not list(admin.scan_iter(match=base.replace("{", "[{]") + "ready:*"))


# -- claims against the memory store --------------------------------------------

_RUN = st.fixed_dictionaries(
    {
        "queue": st.sampled_from(["a", "b", "c"]),
        "priority": st.sampled_from([-1, 0, 3]),
        "available": st.integers(-3, 2),
        "schedule": st.sampled_from([None, "s", "t"]),
        "exclusive": st.booleans(),
        "state": st.sampled_from([RunState.QUEUED, RunState.RETRYING, RunState.WAITING]),
    }
)
_CLAIM = st.tuples(
    st.integers(1, 5), st.none() | st.lists(st.sampled_from(["a", "b", "c"]), max_size=2)
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(runs=st.lists(_RUN, max_size=14), claims=st.lists(_CLAIM, min_size=1, max_size=5))
def test_claims_match_the_memory_store(
    admin: redis.Redis, runs: list[dict[str, Any]], claims: list[tuple[int, list[str] | None]]
) -> None:
    prefix = f"test-{uuid.uuid4().hex}"
    ours, oracle = RedisStore.from_url(_url(prefix=prefix)), MemoryStore()
    try:
        batch = [make_run(f"r{i:02}", **spec) for i, spec in enumerate(runs)]
        for store in (ours, oracle):
            store.insert_runs(batch)
        for limit, queues in claims:
            got, want = (
                store.claim_runs(worker="w", now=NOW, limit=limit, lease_seconds=1, queues=queues)
                for store in (ours, oracle)
            )
            assert [r.id for r in got] == [r.id for r in want]
            if got:  # finishing one frees its schedule for exclusive runs
                for store, run in ((ours, got[0]), (oracle, want[0])):
                    store.finish_run(run.id, run.lease_token or "", ok(), now=NOW)
        assert ours.next_available_at(["a"]) == oracle.next_available_at(["a"])
    finally:
        ours.close()
        _drop(admin, prefix)


def test_separate_clients_never_share_a_run(make: Callable[..., RedisStore]) -> None:
    stores = [make() for _ in range(4)]
    stores[0].insert_runs([make_run(f"r{i:03}", available=-i) for i in range(120)])
    barrier = threading.Barrier(len(stores))
    claimed: list[list[str]] = [[] for _ in stores]

    def drain(i: int) -> None:
        barrier.wait(timeout=10)
        while runs := stores[i].claim_runs(worker=f"w{i}", now=NOW, limit=2, lease_seconds=9):
            claimed[i] += [r.id for r in runs]

    threads = [threading.Thread(target=drain, args=(i,)) for i in range(len(stores))]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    assert sorted(run_id for ids in claimed for run_id in ids) == [f"r{i:03}" for i in range(120)]


# -- wake-ups ----------------------------------------------------------------


def _waiting(store: Store, timeout: float) -> tuple[threading.Thread, list[object]]:
    """A thread blocked in ``store.wait_for_activity``; the list gets its outcome."""
    outcome: list[object] = []

    def wait() -> None:
        try:
            outcome.append(store.wait_for_activity(timeout))
        except StoreUnavailable as exc:
            outcome.append(exc)

    thread = threading.Thread(target=wait)
    thread.start()
    return thread, outcome


def test_a_write_by_another_store_object_wakes_a_waiter(make: Callable[..., RedisStore]) -> None:
    writer, waiter = make(), make()
    waiter.wait_for_activity(0)  # subscribed from here on
    thread, outcome = _waiting(waiter, 5)
    started = time.monotonic()
    writer.insert_run(make_run("r1"))
    thread.join(timeout=5)
    assert outcome == [True]
    assert time.monotonic() - started < 1.0


def test_other_prefixes_do_not_wake(make: Callable[..., RedisStore]) -> None:
    waiter = make()
    other = RedisStore.from_url(_url(prefix=f"test-{uuid.uuid4().hex}"))
    try:
        waiter.wait_for_activity(0)
        other.notify()
        assert waiter.wait_for_activity(0.2) is False
    finally:
        other.close()


def test_notify_wakes_every_waiter_of_the_process(make: Callable[..., RedisStore]) -> None:
    store = make()
    waiters = [_waiting(store, 5) for _ in range(3)]
    time.sleep(0.05)  # let them block (the assertion does not depend on it)
    store.notify()
    for thread, outcome in waiters:
        thread.join(timeout=5)
        assert outcome == [True]


# -- connections killed by the server ----------------------------------------


def _kill(admin: redis.Redis, name: str) -> int:
    """Kill this test's connections only: others may share the server."""
    ids = [c["id"] for c in admin.client_list() if c.get("name") == name]
    for client_id in ids:
        admin.client_kill_filter(_id=client_id)
    return len(ids)


def test_idle_connections_killed_mid_test(
    make: Callable[..., RedisStore], admin: redis.Redis
) -> None:
    name = f"rota-{uuid.uuid4().hex[:8]}"
    store = make(client_name=name)
    store.insert_runs([make_run(f"r{i:02}", available=-i) for i in range(30)])
    failures = 0
    for step in range(30):
        if step % 5 == 2:
            assert _kill(admin, name) >= 1
        try:
            [run] = store.claim_runs(worker="w", now=NOW, limit=1, lease_seconds=LEASE)
            assert store.finish_run(run.id, run.lease_token or "", ok(), now=NOW)
        except StoreUnavailable:
            failures += 1
    assert failures <= 6  # at most one per kill; redis-py usually notices before sending
    left = store.claim_runs(worker="w", now=NOW, limit=99, lease_seconds=LEASE)
    for run in left:
        store.finish_run(run.id, run.lease_token or "", ok(), now=NOW)
    finished = store.list_runs(limit=99)
    assert sorted(r.id for r in finished) == [f"r{i:02}" for i in range(30)]
    assert {(r.state, r.attempt) for r in finished} == {(RunState.SUCCEEDED, 1)}


def test_a_claim_in_flight_when_killed_fails_once_and_loses_nothing(
    make: Callable[..., RedisStore], admin: redis.Redis
) -> None:
    name = f"rota-{uuid.uuid4().hex[:8]}"
    store = make(client_name=name)
    store.insert_run(make_run("r1"))
    outcome: list[object] = []

    def claim() -> None:
        try:
            outcome.append(store.claim_runs(worker="w", now=NOW, limit=1, lease_seconds=LEASE))
        except StoreUnavailable as exc:
            outcome.append(exc)

    admin.client_pause(2000, all=False)  # writes (and so scripts) wait: the claim is in flight
    try:
        thread = threading.Thread(target=claim)
        thread.start()
        deadline = time.monotonic() + 2
        while not any(c.get("name") == name and "b" in c["flags"] for c in admin.client_list()):
            assert time.monotonic() < deadline, "the claim never reached the server"
            time.sleep(0.01)
        _kill(admin, name)
    finally:
        admin.client_unpause()
    thread.join(timeout=5)
    assert len(outcome) == 1
    assert isinstance(outcome[0], StoreUnavailable)
    assert "127.0.0.1" in str(outcome[0]) or "localhost" in str(outcome[0])
    [run] = store.claim_runs(worker="w", now=NOW, limit=1, lease_seconds=LEASE)
    assert (run.id, run.attempt) == ("r1", 1)


def test_a_waiter_whose_connection_is_killed_fails_once_then_hears_again(
    make: Callable[..., RedisStore], admin: redis.Redis
) -> None:
    name = f"rota-{uuid.uuid4().hex[:8]}"
    waiter, writer = make(client_name=name), make()
    waiter.wait_for_activity(0)
    thread, outcome = _waiting(waiter, 5)
    time.sleep(0.05)
    assert _kill(admin, name) >= 1
    thread.join(timeout=5)
    assert len(outcome) == 1
    assert isinstance(outcome[0], StoreUnavailable)
    waiter.wait_for_activity(0)  # subscribed again
    thread, outcome = _waiting(waiter, 5)
    writer.insert_run(make_run("r1"))
    thread.join(timeout=5)
    assert outcome == [True]


def test_close_releases_every_connection(
    make: Callable[..., RedisStore], admin: redis.Redis
) -> None:
    name = f"rota-{uuid.uuid4().hex[:8]}"
    store = make(client_name=name)
    _workload(store)
    store.close()
    deadline = time.monotonic() + 2
    while any(c.get("name") == name for c in admin.client_list()):
        assert time.monotonic() < deadline, "connections left open after close()"
        time.sleep(0.01)
    with pytest.raises(StoreUnavailable, match="closed"):
        store.wait_for_activity(0)


# -- dependencies: the waiting indexes ----------------------------------------


def _waiting_keys(admin: redis.Redis, base: str) -> dict[str, list[str]]:
    """The ``waiting`` index and every ``waiters:<parent>`` index, by key (after the base)."""
    pattern = base.replace("{", "[{]") + "waiters:*"
    keys = [base + "waiting", *admin.scan_iter(match=pattern)]
    return {k[len(base) :]: list(map(str, admin.zrange(k, 0, -1))) for k in keys if admin.exists(k)}


def test_waiting_runs_are_indexed_by_parent_until_they_move_on(
    make: Callable[..., RedisStore], admin: redis.Redis
) -> None:
    store = make()
    base = store.options.base
    store.insert_runs(
        [
            make_run("c1", state=RunState.WAITING, parents=("p1", "p2")),
            make_run("c2", state=RunState.WAITING, parents=("p2",)),
            make_run("c3", state=RunState.WAITING, parents=("p3",)),
        ]
    )
    assert _waiting_keys(admin, base) == {
        "waiting": ["c1", "c2", "c3"],
        "waiters:p1": ["c1"],
        "waiters:p2": ["c1", "c2"],
        "waiters:p3": ["c3"],
    }
    assert [r.id for r in store.waiting_runs(["p2"])] == ["c1", "c2"]
    assert [r.id for r in store.waiting_runs(["c3", "p1"], limit=1)] == ["c1"]
    store.request_cancel("c1", now=NOW)  # a cancelled waiting run leaves every index
    assert store.release_waiting("c2", RunState.QUEUED, now=at(1)) is not None
    assert _waiting_keys(admin, base) == {"waiting": ["c3"], "waiters:p3": ["c3"]}
    assert store.waiting_runs(["p2"]) == []
    moved = store.release_waiting("c3", RunState.UPSTREAM_FAILED, now=at(2), error="up")
    assert moved is not None
    assert moved.error == "up"
    assert _waiting_keys(admin, base) == {}


def test_a_released_run_is_claimable_and_an_upstream_failed_one_expires(
    make: Callable[..., RedisStore], admin: redis.Redis
) -> None:
    store = make(ttl_days="1")
    base = store.options.base
    store.insert_runs(
        [
            make_run("q", state=RunState.WAITING, parents=("p",), queue="qq", priority=2),
            make_run("f", state=RunState.WAITING, parents=("p",)),
        ]
    )
    assert store.claim_runs(worker="w", now=at(5), limit=5, lease_seconds=LEASE) == []
    assert store.next_available_at() is None
    store.release_waiting("q", RunState.QUEUED, now=at(1))
    store.release_waiting("f", RunState.UPSTREAM_FAILED, now=at(1), error="parent failed")
    assert admin.zrange(base + "ready:2:qq", 0, -1) == ["q"]
    assert admin.zrange(base + "active:s", 0, -1) == ["q"]
    assert admin.zrange(base + "done:s", 0, -1) == ["f"]
    assert admin.ttl(base + "run:q") == -1
    assert 86000 < admin.ttl(base + "run:f") <= 86400
    assert store.next_available_at() == at(1)
    [claimed] = store.claim_runs(worker="w", now=at(5), limit=5, lease_seconds=LEASE)
    assert (claimed.id, claimed.attempt) == ("q", 1)


def test_releasing_a_run_wakes_another_store_object(make: Callable[..., RedisStore]) -> None:
    writer, waiter = make(), make()
    writer.insert_run(make_run("c", state=RunState.WAITING, parents=("p",)))
    waiter.wait_for_activity(0)  # subscribed, and the insert's wake-up taken
    waiter.wait_for_activity(0.2)
    thread, outcome = _waiting(waiter, 5)
    writer.release_waiting("c", RunState.QUEUED, now=NOW)
    thread.join(timeout=5)
    assert outcome == [True]


def test_insert_schedules_leaves_what_save_schedule_leaves(
    admin: redis.Redis, make: Callable[..., RedisStore]
) -> None:
    records = [
        make_schedule("a"),
        make_schedule("b", retired=True),
        make_schedule("c", per_host=True),
        make_schedule("d", per_host=True, retired=True, next_due=None),
        make_schedule("e", paused=True),
        make_schedule("a", next_due=99),  # a name given twice: the first wins
    ]
    looped, batched = make(), RedisStore.from_url(_url(prefix=f"test-{uuid.uuid4().hex}"))
    try:
        expected = [looped.save_schedule(r, expected_version=None) is not None for r in records]
        assert batched.insert_schedules(records) == expected == [True] * 5 + [False]
        assert batched.insert_schedules(records[:1]) == [False]

        def dump(store: RedisStore) -> dict[str, Any]:
            base = store.options.base
            out: dict[str, Any] = {}
            for key in _keys(admin, base[1:-2]):
                kind = admin.type(key)
                name = key[len(base) :]
                if kind == "hash":
                    out[name] = admin.hgetall(key)
                elif kind == "zset":
                    out[name] = admin.zrange(key, 0, -1, withscores=True)
            return out

        assert dump(batched) == dump(looped)
        assert batched.get_schedule("a") == looped.get_schedule("a")
    finally:
        batched.close()
        _drop(admin, batched.options.prefix)


# -- insert_runs: one round trip, a fast encoding -----------------------------

_OPTIONAL_AT = st.none() | st.just(NOW)


@settings(max_examples=200, deadline=None)
@given(
    run=st.builds(
        make_run,
        state=st.sampled_from(list(RunState)),
        schedule=st.none() | st.just("s"),
        slot=_OPTIONAL_AT,
        args=st.sampled_from([(), (1, "é", [2.5])]),
        kwargs=st.sampled_from([{}, {"a": (1, 2)}]),
        priority=st.integers(-3, 3),
        exclusive=st.booleans(),
        max_attempts=st.integers(1, 3),
        attempt=st.integers(0, 3),
        host=st.none() | st.just("h"),
        manual=st.booleans(),
        parents=st.sampled_from([(), ("p1", "p2")]),
        started_at=_OPTIONAL_AT,
        finished_at=_OPTIONAL_AT,
        worker=st.none() | st.just("w"),
        lease_token=st.none() | st.just("t"),
        lease_expires_at=_OPTIONAL_AT,
        cancel_requested=st.booleans(),
        result=st.sampled_from([None, 0, "x", {"k": [1]}]),
        error=st.none() | st.just("e"),
        traceback=st.none() | st.just("tb"),
        log=st.sampled_from(["", "line\n"]),
        checkpoint=st.sampled_from([None, [1]]),
        progress_done=st.none() | st.sampled_from([1.5, 2]),
        progress_total=st.none() | st.sampled_from([3, 3.25]),
    )
)
def test_the_insert_encoding_is_the_fields_of_the_run(run: Run) -> None:
    twin = run.evolve(id=run.id + "-2", slot=None, args=(), parents=("p",))
    assert _expand(insert_batch([run, twin, run])) == [
        _as_dict(run_fields(r)) for r in (run, twin, run)
    ]


def _as_dict(fields: list[str]) -> dict[str, str]:
    return dict(zip(fields[::2], fields[1::2], strict=True))


def _expand(batch: str) -> list[dict[str, str]]:
    """What ``insert_all`` (lua/_lib.lua) writes for each run of an insert batch:
    its own fields, then its shape's."""
    shapes, runs = json.loads(batch)
    out = []
    for place, run_id, schedule, slot, available_at, args, kwargs, parents in runs:
        fields = {"id": run_id, "available_at": available_at, "args": args, "kwargs": kwargs}
        fields["parents"] = parents
        if schedule is not False:
            fields["schedule"] = schedule
        if slot is not False:
            fields["slot"] = slot
        out.append(fields | _as_dict(shapes[place - 1]))
    return out


def test_runs_sharing_a_shape_or_not_are_stored_as_their_fields(
    make: Callable[..., RedisStore], admin: redis.Redis
) -> None:
    """The hashes a mixed batch leaves are each run's ``run_fields``: runs that share
    job, state, options and created_at share a shape in the batch; a started run,
    other options, another instant or state each make another."""
    store = make()
    runs = [
        make_run("a", slot=at(0), kwargs={"user": 1}),
        make_run("b", slot=at(60), kwargs={"user": 2}, available=60),
        make_run("c", schedule=None, args=(1, "é")),
        make_run("d", exclusive=True),
        make_run("e", created=5),
        make_run("f", state=RunState.WAITING, parents=("a", "b")),
        make_run("g", state=RunState.MISSED, slot=at(-60)),
        make_run(
            "h",
            state=RunState.RUNNING,
            worker="w",
            lease_token="t",
            started_at=at(1),
            lease_expires_at=at(30),
            attempt=1,
        ),
        make_run("i", host="h1", priority=2, queue="q"),
    ]
    shapes, _ = json.loads(insert_batch(runs))
    assert len(shapes) == 7  # a, b and c share one
    assert store.insert_runs([*runs, make_run("a", kwargs={"user": 9})]) == [True] * 9 + [False]
    base = store.options.base
    for run in runs:
        assert admin.hgetall(base + "run:" + run.id) == _as_dict(run_fields(run))
        assert store.get_run(run.id) == run


def test_insert_runs_is_one_command_per_call(
    make: Callable[..., RedisStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = make()
    store.insert_run(make_run("warm-up"))  # the script is in the server's cache from here on
    sent = _counting(store, monkeypatch)
    inserted = store.insert_runs([make_run(f"r{i:04}", args=(i,)) for i in range(1000)])
    assert inserted == [True] * 1000
    assert sent == ["EVALSHA"]
    assert store.insert_runs([make_run("r0000"), make_run("new")]) == [False, True]
    assert sent == ["EVALSHA"] * 2


def _counting(store: RedisStore, monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The commands ``store`` sends from here on, by name; its scripts are loaded
    first (a script the server has not seen yet adds a SCRIPT LOAD)."""
    client: Any = store._connected()
    for script in store._scripts.values():
        assert client.script_load(script.script) == script.sha
    sent: list[str] = []
    execute = client.execute_command

    def counting(*args: Any, **options: Any) -> Any:
        sent.append(str(args[0]))
        return execute(*args, **options)

    monkeypatch.setattr(client, "execute_command", counting)
    return sent


def test_a_batch_leaves_the_due_index_as_its_last_advance_of_each_schedule_says(
    make: Callable[..., RedisStore], admin: redis.Redis
) -> None:
    """advance_schedules changes ``due`` once per schedule, after the items: each
    schedule's last successful advance decides (due at its next_due, or not)."""
    store = make()
    for name in ("on-off", "off-on", "moved"):
        store.save_schedule(make_schedule(name, next_due=0), expected_version=None)
    flags = store.advance_schedules(
        [
            Advance("on-off", 1, at(0), at(60)),
            Advance("off-on", 1, at(0), None),
            Advance("moved", 1, at(0), at(60)),
            Advance("on-off", 2, at(60), None),
            Advance("off-on", 2, at(60), at(120)),
            Advance("moved", 2, at(60), at(90)),
            Advance("moved", 2, at(90), at(10)),  # stale: changes nothing
        ]
    )
    assert flags == [True] * 6 + [False]
    due = admin.zrange(store.options.base + "due", 0, -1, withscores=True)
    assert due == [("moved", _codec.to_us(at(90))), ("off-on", _codec.to_us(at(120)))]


def test_active_runs_for_names_of_any_text(make: Callable[..., RedisStore]) -> None:
    """The names go to the script as one JSON argument: any text comes back as is."""
    store = make()
    names = ['odd "name" é/\\', "1", "[]", "null", "with space"]
    store.insert_runs([make_run(f"r{n}", schedule=name) for n, name in enumerate(names)])
    found = store.active_runs_for([*names, "none"])
    assert {name: [r.id for r in runs] for name, runs in found.items()} == {
        **{name: [f"r{n}"] for n, name in enumerate(names)},
        "none": [],
    }


def test_fire_is_one_command(
    make: Callable[..., RedisStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = make()
    store.fire([make_run("warm-up")], [Advance("nobody", 1, None, None)])  # scripts cached
    records = [make_schedule(f"s{i}", next_due=float(i)) for i in range(3)]
    assert store.insert_schedules(records) == [True] * 3
    sent = _counting(store, monkeypatch)
    runs = [make_run(f"r{i}", schedule=f"s{i}") for i in range(3)]
    advances = [Advance(f"s{i}", 1, at(i), at(60 + i)) for i in range(3)]
    stale = Advance("s0", 1, at(0), at(99))  # s0 is at version 2 by then: refused
    assert store.fire([*runs, runs[0]], [*advances, stale]) == (
        [True, True, True, False],
        [True, True, True, False],
    )
    assert sent == ["EVALSHA"]
    assert [(r.name, r.version, r.next_due) for r in store.due_schedules(at(100), 10)] == [
        ("s0", 2, at(60)),
        ("s1", 2, at(61)),
        ("s2", 2, at(62)),
    ]


def test_due_schedules_reads_what_get_schedule_reads(make: Callable[..., RedisStore]) -> None:
    store = make()
    plain = make_schedule("plain", next_due=5.0)
    odd = make_schedule('odd "name" é/\\', next_due=1.0, last_slot=at(-60), per_host=True)
    for record in (plain, odd):
        assert store.save_schedule(record, expected_version=None) is not None
    due = store.due_schedules(at(10), 10)
    assert due == [store.get_schedule(odd.name), store.get_schedule("plain")]
    assert store.due_schedules(at(2), 10) == due[:1]
    assert store.due_schedules(at(10), 0) == []


def test_claims_and_finishes_are_one_command_each_and_settle_skips_unwaited_runs(
    make: Callable[..., RedisStore], monkeypatch: pytest.MonkeyPatch
) -> None:
    store = make()
    store.insert_runs([make_run(f"r{i}", schedule=None) for i in range(4)])
    store.insert_run(make_run("c", state=RunState.WAITING, parents=("r3",)))
    runs = store.claim_runs(worker="w", now=NOW, limit=4, lease_seconds=LEASE)
    assert len({run.lease_token for run in runs}) == 4
    assert all(len(run.lease_token or "") == 32 for run in runs)
    sent = _counting(store, monkeypatch)
    finishes = [(run.id, run.lease_token or "", ok()) for run in runs]
    assert store.finish_runs([*finishes, ("r0", "stale", ok())], now=at(1)) == [True] * 4 + [False]
    assert sent == ["EVALSHA"]
    # r0..r2: no run waited for them as they finished; r3 has a waiting child
    assert store.settle_waiting(["r0", "r1", "r2"], now=at(2)) == []
    assert sent == ["EVALSHA"]
    [child] = store.settle_waiting(["r3"], now=at(2))
    assert (child.id, child.state) == ("c", RunState.QUEUED)
    # a run waiting for r0, inserted after r0 ended: its inserter settles it
    store.insert_run(make_run("late", state=RunState.WAITING, parents=("r0",)))
    [late] = store.settle_waiting(["late"], now=at(3))
    assert late.state is RunState.QUEUED
    assert store.settle_waiting(["r0"], now=at(3)) == []  # looked up this time: nothing waits


# -- fire_batches: pipelined ------------------------------------------------------------------


def _fire_batch(name: str, store: Store) -> tuple[list[Run], list[Advance]]:
    record = store.get_schedule(name)
    assert record is not None
    return [make_run(f"run-{name}", schedule=name)], [Advance(name, record.version, NOW, at(60))]


def test_fire_batches_sends_a_batch_before_drawing_the_next(
    make: Callable[..., RedisStore],
) -> None:
    """Redis inserts batch 1 while batch 2 is still being planned."""
    store, other = make(), make()
    for name in "ab":
        assert store.save_schedule(make_schedule(name), expected_version=None)
    seen_while_drawing: list[bool] = []

    def batches() -> Iterator[tuple[list[Run], list[Advance]]]:
        yield _fire_batch("a", store)
        deadline = time.monotonic() + 5
        while other.get_run("run-a") is None and time.monotonic() < deadline:
            time.sleep(0.005)
        seen_while_drawing.append(other.get_run("run-a") is not None)
        yield _fire_batch("b", store)

    assert store.fire_batches(batches()) == [([True], [True]), ([True], [True])]
    assert seen_while_drawing == [True]


def test_fire_batches_loads_the_script_again_after_a_flush(
    make: Callable[..., RedisStore], admin: redis.Redis
) -> None:
    store = make()
    for name in "ab":
        assert store.save_schedule(make_schedule(name), expected_version=None)
    admin.script_flush()
    batches = iter([_fire_batch("a", store), _fire_batch("b", store)])
    assert store.fire_batches(batches) == [([True], [True]), ([True], [True])]
    assert [r.id for r in store.get_runs(["run-a", "run-b"])] == ["run-a", "run-b"]


@pytest.mark.parametrize(
    "outcome",
    [
        Outcome(RunState.SUCCEEDED, result={"n": 1}, log="done"),
        Outcome(RunState.FAILED, error="E: no", traceback="tb"),
        Outcome(RunState.RETRYING, error="E: again", available_at=at(30)),
        Outcome(RunState.QUEUED),
    ],
    ids=lambda o: str(o.state),
)
def test_a_finish_writes_every_field_the_shared_rules_change(outcome: Outcome) -> None:
    """``finish_fields`` spells out ``_rules.finish_changes`` for speed: a field added
    to the rules must be written here too."""
    _, sets, dels = finish_fields("r1", outcome, NOW)
    changes = _rules.finish_changes(outcome, outcome.result, NOW)
    if changes["available_at"] is None:  # kept as it is, as _rules.finished keeps it
        del changes["available_at"]
    assert set(sets[::2]) | set(dels) == set(changes)
