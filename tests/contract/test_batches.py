"""Contract: the batch methods (finish_runs, advance_schedules, active_runs_for,
get_runs) do what looping their single-item method does, item by item; and
per-host schedule records round-trip and filter."""

from __future__ import annotations

import os
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime

import pytest

from rota.errors import InvalidArguments, NaiveDatetime
from rota.runs import Run, RunState
from rota.stores.base import Advance, Outcome, ScheduleRecord, Store

from .support import LEASE, NOW, at, make_run, make_schedule, ok, start

Finish = tuple[str, str, Outcome]


def _claim_all(store: Store) -> dict[str, Run]:
    claimed = store.claim_runs(worker="w1", now=NOW, limit=1000, lease_seconds=LEASE)
    return {run.id: run for run in claimed}


def _token(runs: dict[str, Run], run_id: str) -> str:
    return runs[run_id].lease_token or ""


# -- finish_runs -------------------------------------------------------------

_SUFFIXES = ("ok", "failed", "retry-at", "retry-now", "released", "stolen", "timed-out")


def _finish_twin(store: Store, p: str) -> None:
    """The runs of the scenario, prefixed ``p``, to claim."""
    for suffix in _SUFFIXES:
        assert store.insert_run(make_run(f"{p}{suffix}", schedule=f"{p}s", max_attempts=3))


def _finishes(p: str, runs: dict[str, Run]) -> list[Finish]:
    def tok(suffix: str) -> str:
        return _token(runs, p + suffix)

    failed = Outcome(RunState.FAILED, error="boom", traceback="tb\n", log="out\n")
    return [
        (p + "ok", tok("ok"), ok(result={"x": [1, 2.5, None]}, log="done")),
        (p + "failed", tok("failed"), failed),
        (p + "retry-at", tok("retry-at"), Outcome(RunState.RETRYING, available_at=at(30))),
        (p + "retry-now", tok("retry-now"), Outcome(RunState.RETRYING, error="again")),
        (p + "released", tok("released"), Outcome(RunState.QUEUED)),
        (p + "stolen", "not-the-token", ok()),  # a lost lease: unchanged
        (p + "queued", "any", ok()),  # never claimed
        (p + "missing", "any", ok()),  # no such run
        (p + "ok", tok("ok"), Outcome(RunState.FAILED)),  # again: its lease is gone
        (p + "stolen", tok("stolen"), Outcome(RunState.CANCELLED)),  # again, rightly
        (p + "timed-out", tok("timed-out"), Outcome(RunState.TIMED_OUT, error="slow")),
    ]


def _as_twin(run: Run | None, p: str) -> Run | None:
    """``run`` with its prefix taken off id and schedule, to compare twins."""
    if run is None:
        return None
    return replace(run, id=run.id.removeprefix(p), schedule=(run.schedule or "").removeprefix(p))


def test_finish_runs_does_what_looping_finish_run_does(store: Store) -> None:
    _finish_twin(store, "a-")
    _finish_twin(store, "b-")
    runs = _claim_all(store)
    assert len(runs) == 2 * len(_SUFFIXES)
    store.insert_run(make_run("a-queued", schedule="a-s"))
    store.insert_run(make_run("b-queued", schedule="b-s"))

    batch = store.finish_runs(_finishes("a-", runs), now=at(5))
    looped = [store.finish_run(*item, now=at(5)) for item in _finishes("b-", runs)]

    assert batch == looped == [True] * 5 + [False] * 4 + [True, True]
    for suffix in (*_SUFFIXES, "queued", "missing"):
        a, b = store.get_run("a-" + suffix), store.get_run("b-" + suffix)
        assert _as_twin(a, "a-") == _as_twin(b, "b-"), suffix
    released = store.get_run("a-released")
    assert released is not None
    assert (released.state, released.attempt, released.available_at) == (
        RunState.QUEUED,
        0,
        at(5),
    )
    assert store.get_run("a-stolen").state is RunState.CANCELLED  # type: ignore[union-attr]
    active = {r.id for r in store.active_runs("a-s")}
    assert active == {"a-retry-at", "a-retry-now", "a-released", "a-queued"}
    # What finished is claimable again (and only that), in claim order.
    again = store.claim_runs(worker="w2", now=at(60), limit=100, lease_seconds=LEASE)
    assert {r.id for r in again} == active | {i.replace("a-", "b-", 1) for i in active}


def test_finish_runs_of_nothing(store: Store) -> None:
    assert store.finish_runs([], now=NOW) == []


def test_finish_runs_refuses_a_bad_outcome_before_writing(store: Store) -> None:
    first = start(store, make_run("r1"))
    store.insert_run(make_run("r2"))
    second = _claim_all(store)["r2"]
    good = ("r1", first.lease_token or "", ok())
    with pytest.raises(ValueError, match="r2"):
        store.finish_runs([good, ("r2", "t", Outcome(RunState.RUNNING))], now=NOW)
    with pytest.raises(InvalidArguments, match="r2"):
        store.finish_runs([good, ("r2", "t", ok(result={1, 2}))], now=NOW)
    assert store.get_run("r1").state is RunState.RUNNING  # type: ignore[union-attr]
    assert store.finish_runs([good, ("r2", second.lease_token or "", ok())], now=NOW) == [
        True,
        True,
    ]


def test_finish_runs_wakes_waiters(store: Store) -> None:
    run = start(store, make_run("r1", max_attempts=3))
    store.wait_for_activity(0)
    outcome = Outcome(RunState.RETRYING)
    assert store.finish_runs([("r1", run.lease_token or "", outcome)], now=NOW) == [True]
    assert store.wait_for_activity(0.5) is True


def test_finish_runs_keeps_an_exclusive_schedule_one_at_a_time(store: Store) -> None:
    first = start(store, make_run("r1", exclusive=True, created=0))
    store.insert_run(make_run("r2", exclusive=True, created=1))
    assert store.claim_runs(worker="w", now=NOW, limit=5, lease_seconds=LEASE) == []
    assert store.finish_runs([("r1", first.lease_token or "", ok())], now=NOW) == [True]
    assert [r.id for r in store.claim_runs(worker="w", now=NOW, limit=5, lease_seconds=LEASE)] == [
        "r2"
    ]


# -- advance_schedules -------------------------------------------------------


def _advance_twin(store: Store, p: str) -> list[Advance]:
    for name in ("a", "b", "c", "d"):
        store.save_schedule(make_schedule(p + name, next_due=0), expected_version=None)
    store.save_schedule(make_schedule(p + "paused", paused=True), expected_version=None)
    return [
        Advance(p + "a", 1, NOW, at(60)),
        Advance(p + "b", 5, NOW, at(60)),  # stale
        Advance(p + "missing", 1, NOW, at(60)),
        Advance(p + "a", 2, at(60), at(120)),  # sees the first item's version
        Advance(p + "a", 2, at(120), at(180)),  # and now it is stale
        Advance(p + "c", 1, None, None),  # no longer due
        Advance(p + "d", 1, at(-60), at(30)),
        Advance(p + "paused", 1, NOW, at(10)),  # advanced, never due
    ]


def _schedules_as_twin(store: Store, p: str) -> dict[str, ScheduleRecord]:
    return {
        r.name.removeprefix(p): r.evolve(name=r.name.removeprefix(p))
        for r in store.list_schedules(include_retired=True)
        if r.name.startswith(p)
    }


def test_advance_schedules_does_what_looping_advance_schedule_does(store: Store) -> None:
    batch = store.advance_schedules(_advance_twin(store, "a-"))
    looped = [
        store.advance_schedule(
            a.name, expected_version=a.expected_version, last_slot=a.last_slot, next_due=a.next_due
        )
        for a in _advance_twin(store, "b-")
    ]
    assert batch == looped == [True, False, False, True, False, True, True, True]
    assert _schedules_as_twin(store, "a-") == _schedules_as_twin(store, "b-")
    a = store.get_schedule("a-a")
    assert a is not None
    assert (a.version, a.last_slot, a.next_due) == (3, at(60), at(120))
    due = [r.name for r in store.due_schedules(at(1000), 100)]
    assert due == ["a-b", "b-b", "a-d", "b-d", "a-a", "b-a"]
    assert store.get_schedule("a-missing") is None


def test_advance_schedules_of_nothing(store: Store) -> None:
    assert store.advance_schedules([]) == []


def test_advance_schedules_refuses_a_naive_time_before_writing(store: Store) -> None:
    store.save_schedule(make_schedule("a"), expected_version=None)
    naive = datetime(2030, 1, 1)
    with pytest.raises(NaiveDatetime):
        store.advance_schedules([Advance("a", 1, NOW, at(60)), Advance("a", 2, naive, None)])
    assert store.get_schedule("a").version == 1  # type: ignore[union-attr]


def test_overlapping_advance_batches_at_once_never_fail(store: Store) -> None:
    """Two schedulers advancing the same schedules in opposite orders."""
    names = [f"s{n:02}" for n in range(40)]
    for name in names:
        store.save_schedule(make_schedule(name), expected_version=None)
    errors: list[BaseException] = []

    def advance(order: list[str]) -> None:
        try:
            for step in range(15):
                versions = {r.name: r.version for r in store.list_schedules()}
                store.advance_schedules(
                    [Advance(n, versions[n], at(step), at(step + 1)) for n in order]
                )
        except BaseException as exc:  # pragma: no cover - the failure itself
            errors.append(exc)

    threads = [threading.Thread(target=advance, args=(order,)) for order in (names, names[::-1])]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert errors == []
    assert all(r.version > 1 for r in store.list_schedules())


# -- active_runs_for and get_runs --------------------------------------------


def _history(store: Store) -> None:
    store.insert_run(make_run("s1-running", schedule="s1", created=1))
    _claim_all(store)
    store.insert_run(make_run("s1-queued", schedule="s1", created=3))
    store.insert_run(make_run("s1-retrying", schedule="s1", state=RunState.RETRYING, created=2))
    store.insert_run(make_run("s1-waiting", schedule="s1", state=RunState.WAITING, created=2))
    store.insert_run(make_run("s1-later", schedule="s1", created=3, available=60))
    done = make_run("s1-done", schedule="s1", state=RunState.SUCCEEDED, finished_at=NOW)
    store.insert_run(done)
    store.insert_run(make_run("s2-done", schedule="s2", state=RunState.FAILED, finished_at=NOW))
    store.insert_run(make_run("s3-queued", schedule="s3"))
    store.insert_run(make_run("manual", schedule=None))


def test_active_runs_for_is_active_runs_of_each(store: Store) -> None:
    _history(store)
    names = ["s1", "s2", "s3", "nothing", "s1"]
    found = store.active_runs_for(names)
    assert set(found) == {"s1", "s2", "s3", "nothing"}
    assert found == {name: store.active_runs(name) for name in names}
    assert [r.id for r in found["s1"]] == ["s1-running", "s1-retrying", "s1-later", "s1-queued"]
    assert found["s2"] == found["nothing"] == []


def test_active_runs_for_nothing(store: Store) -> None:
    assert store.active_runs_for([]) == {}


def test_get_runs_in_the_order_asked(store: Store) -> None:
    _history(store)
    ids = ["s3-queued", "missing", "s1-running", "manual", "s3-queued"]
    got = store.get_runs(ids)
    assert got == [store.get_run(i) for i in ids if i != "missing"]
    assert [r.id for r in got] == ["s3-queued", "s1-running", "manual", "s3-queued"]
    assert store.get_runs([]) == []
    assert store.get_runs(["missing"]) == []


# -- per-host schedules ------------------------------------------------------


def test_per_host_round_trips(store: Store) -> None:
    record = make_schedule("p", next_due=None, per_host=True)
    saved = store.save_schedule(record, expected_version=None)
    assert saved is not None
    assert saved.per_host
    assert store.get_schedule("p") == saved
    assert store.advance_schedules([Advance("p", 1, NOW, None)]) == [True]
    assert store.get_schedule("p").per_host  # type: ignore[union-attr]
    assert make_schedule("plain").per_host is False
    assert store.save_schedule(make_schedule("plain"), expected_version=None).per_host is False  # type: ignore[union-attr]


def _names(records: list[ScheduleRecord]) -> list[str]:
    return [r.name for r in records]


def test_list_schedules_filters_by_per_host(store: Store) -> None:
    for name, per_host, retired in [
        ("a", True, False),
        ("b", False, False),
        ("c", True, True),
        ("d", True, False),
        ("e", False, False),
        ("f", False, True),
    ]:
        record = make_schedule(name, per_host=per_host, retired=retired)
        store.save_schedule(record, expected_version=None)

    assert _names(store.list_schedules()) == ["a", "b", "d", "e"]
    assert _names(store.list_schedules(per_host=None)) == ["a", "b", "d", "e"]
    assert _names(store.list_schedules(per_host=True)) == ["a", "d"]
    assert _names(store.list_schedules(per_host=True, include_retired=True)) == ["a", "c", "d"]
    assert _names(store.list_schedules(per_host=True, after="a", limit=1)) == ["d"]
    assert _names(store.list_schedules(per_host=True, limit=0)) == []
    assert _names(store.list_schedules(per_host=False)) == ["b", "e"]
    assert _names(store.list_schedules(per_host=False, include_retired=True)) == ["b", "e", "f"]
    assert _names(store.list_schedules(per_host=False, after="b", limit=1)) == ["e"]
    assert all(r.per_host for r in store.list_schedules(per_host=True, include_retired=True))

    a = store.get_schedule("a")
    assert a is not None
    store.save_schedule(a.evolve(per_host=False), expected_version=a.version)
    c = store.get_schedule("c")
    assert c is not None
    store.save_schedule(c.evolve(retired=False), expected_version=c.version)
    assert _names(store.list_schedules(per_host=True)) == ["c", "d"]
    assert store.delete_schedule("d")
    assert _names(store.list_schedules(per_host=True, include_retired=True)) == ["c"]
    assert _names(store.list_schedules(per_host=False)) == ["a", "b", "e"]


def test_list_schedules_per_host_false_pages_past_many_per_host(store: Store) -> None:
    for n in range(250):
        store.save_schedule(make_schedule(f"h{n:03}", per_host=True), expected_version=None)
    store.save_schedule(make_schedule("z"), expected_version=None)
    assert _names(store.list_schedules(per_host=False, limit=1)) == ["z"]
    assert _names(store.list_schedules(per_host=False)) == ["z"]
    assert len(store.list_schedules(per_host=True)) == 250


# -- Redis: who is woken by a finish -----------------------------------------


@pytest.fixture
def redis_pair() -> Iterator[tuple[Store, Store, Callable[[], int]]]:
    """Two Redis stores on one fresh prefix (two 'processes'), and a counter of
    the PUBLISHes on its wake-up channel since the fixture began."""
    import redis

    from rota.stores.redis import RedisStore

    url = os.environ.get("ROTA_TEST_REDIS_URL") or "redis://127.0.0.1:6379/0"
    prefix = f"test-{uuid.uuid4().hex}"
    stores = [
        RedisStore.from_url(f"{url}{'&' if '?' in url else '?'}prefix={prefix}") for _ in (1, 2)
    ]
    admin = redis.Redis.from_url(url)
    sub = admin.pubsub()  # type: ignore[no-untyped-call]
    sub.subscribe(f"{{{prefix}}}:wakeup")
    assert sub.get_message(timeout=5) is not None  # the subscription is confirmed
    seen = [0]

    def published() -> int:
        while (message := sub.get_message(timeout=0.2)) is not None:
            seen[0] += message["type"] == "message"
        return seen[0]

    try:
        for store in stores:
            store.migrate()
        yield stores[0], stores[1], published
    finally:
        for store in stores:
            store.close()
        sub.close()
        keys = list(admin.scan_iter(match=f"{{{prefix}}}:*", count=1000))
        if keys:
            admin.unlink(*keys)
        admin.close()


def test_redis_finishes_publish_only_when_work_may_appear(
    redis_pair: tuple[Store, Store, Callable[[], int]],
) -> None:
    writer, _, published = redis_pair
    for n in range(3):
        writer.insert_run(make_run(f"r{n}", schedule=f"s{n}", max_attempts=3))
    runs = _claim_all(writer)
    base = published()
    # A run's end that frees nothing: no one else has work because of it.
    assert writer.finish_run("r0", _token(runs, "r0"), ok(), now=NOW)
    assert published() == base
    # Two runs to retry in one batch: one PUBLISH.
    retry = Outcome(RunState.RETRYING)
    items = [("r1", _token(runs, "r1"), retry), ("r2", _token(runs, "r2"), retry)]
    assert writer.finish_runs(items, now=NOW) == [True, True]
    assert published() == base + 1


def test_redis_a_finish_that_frees_an_exclusive_schedule_wakes_others(
    redis_pair: tuple[Store, Store, Callable[[], int]],
) -> None:
    writer, waiter, published = redis_pair
    first = start(writer, make_run("r1", exclusive=True))
    writer.insert_run(make_run("r2", exclusive=True, created=1))
    waiter.wait_for_activity(0)  # subscribed from here on
    base = published()
    woke: list[bool] = []
    thread = threading.Thread(target=lambda: woke.append(waiter.wait_for_activity(5)))
    thread.start()
    time.sleep(0.05)
    assert writer.finish_runs([("r1", first.lease_token or "", ok())], now=NOW) == [True]
    thread.join(timeout=5)
    assert woke == [True]
    assert published() == base + 1
