"""Contract: insert_schedules does what looping save_schedule(expected_version=None)
does, item by item."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest

from rota.errors import NaiveDatetime
from rota.stores.base import ScheduleRecord, Store

from .support import NOW, at, make_schedule


def _names(records: list[ScheduleRecord]) -> list[str]:
    return [record.name for record in records]


def test_new_records_are_all_inserted_at_version_one(store: Store) -> None:
    records = [
        make_schedule("b", spec={"job": "j", "args": [1, [2, {"k": None}]]}, version=7),
        make_schedule("a", next_due=None, last_slot=at(-60), source="dynamic"),
        make_schedule("c", paused=True, per_host=True, updated_at=at(5)),
        make_schedule("d", retired=True, job="tests.other"),
    ]
    assert store.insert_schedules(records) == [True, True, True, True]
    for record in records:
        assert store.get_schedule(record.name) == record.evolve(version=1)
    listed = store.list_schedules(include_retired=True)
    assert listed == sorted((r.evolve(version=1) for r in records), key=lambda r: r.name)
    assert _names(store.list_schedules()) == ["a", "b", "c"]  # d is retired
    assert _names(store.list_schedules(per_host=True)) == ["c"]
    assert [r.name for r in store.due_schedules(at(1), 10)] == ["b"]  # a: no next_due; c paused


def test_an_inserted_record_is_compared_and_set_from_version_one(store: Store) -> None:
    assert store.insert_schedules([make_schedule("s")]) == [True]
    edited = make_schedule("s", paused=True)
    assert store.save_schedule(edited, expected_version=2) is None
    assert store.save_schedule(edited, expected_version=1) == edited.evolve(version=2)
    assert store.advance_schedule("s", expected_version=2, last_slot=NOW, next_due=at(60))


def test_existing_names_are_left_unchanged(store: Store) -> None:
    old = store.save_schedule(make_schedule("b", job="old"), expected_version=None)
    assert old is not None
    assert store.advance_schedule("b", expected_version=1, last_slot=NOW, next_due=at(60))
    before = store.get_schedule("b")
    assert before is not None
    assert before.version == 2
    batch = [make_schedule("a"), make_schedule("b", job="new", paused=True), make_schedule("c")]
    assert store.insert_schedules(batch) == [True, False, True]
    assert store.get_schedule("b") == before
    assert _names(store.list_schedules()) == ["a", "b", "c"]
    assert store.insert_schedules(batch) == [False, False, False]
    assert store.get_schedule("a") == batch[0].evolve(version=1)


def test_a_name_given_twice_is_inserted_by_its_first_item(store: Store) -> None:
    first, again = make_schedule("x", job="first"), make_schedule("x", job="again")
    batch = [first, make_schedule("y"), again, make_schedule("x", job="third")]
    assert store.insert_schedules(batch) == [True, True, False, False]
    assert store.get_schedule("x") == first.evolve(version=1)
    assert _names(store.list_schedules()) == ["x", "y"]


def test_a_stored_name_given_twice_is_refused_twice(store: Store) -> None:
    stored = store.save_schedule(make_schedule("x", job="stored"), expected_version=None)
    batch = [make_schedule("x", job="one"), make_schedule("x", job="two")]
    assert store.insert_schedules(batch) == [False, False]
    assert store.get_schedule("x") == stored


def test_an_empty_batch(store: Store) -> None:
    assert store.insert_schedules([]) == []
    assert store.list_schedules() == []


def test_inserting_notifies(store: Store) -> None:
    store.wait_for_activity(0)
    assert store.insert_schedules([make_schedule("s")]) == [True]
    assert store.wait_for_activity(0.5) is True


def test_a_naive_datetime_is_refused(store: Store) -> None:
    naive = make_schedule("n", created_at=datetime(2030, 1, 1))
    with pytest.raises(NaiveDatetime):
        store.insert_schedules([naive])
    assert store.get_schedule("n") is None


def test_a_large_batch(store: Store) -> None:
    records = [make_schedule(f"s{i:05}", next_due=float(i % 97)) for i in range(2000)]
    assert store.insert_schedules(records) == [True] * 2000
    listed = list(store.iter_schedules(page=700))
    assert listed == [r.evolve(version=1) for r in records]
    again = [*records[::-1], make_schedule("t")]
    assert store.insert_schedules(again) == [False] * 2000 + [True]
    assert store.get_schedule("s01234") == records[1234].evolve(version=1)


THREADS = 4


def test_concurrent_overlapping_batches_insert_each_name_once(store: Store) -> None:
    names = [f"s{i:03}" for i in range(300)]
    barrier = threading.Barrier(THREADS)

    def insert(i: int) -> dict[str, bool]:
        order = names[::-1] if i % 2 else names
        batch = [make_schedule(name, job=f"job{i}") for name in order]
        barrier.wait(timeout=10)
        return dict(zip(order, store.insert_schedules(batch), strict=True))

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(insert, range(THREADS)))
    for name in names:
        winners = [i for i, got in enumerate(results) if got[name]]
        assert len(winners) == 1, (name, winners)
        stored = store.get_schedule(name)
        assert stored is not None
        assert (stored.job, stored.version) == (f"job{winners[0]}", 1)
