"""Contract: ``fire(runs, advances)`` is ``insert_runs(runs)`` then
``advance_schedules(advances)``: the same results, item by item, in order."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime

import pytest

from rota.errors import NaiveDatetime
from rota.runs import RunState
from rota.stores.base import Advance, FireBatch, Store

from .support import NOW, at, make_run, make_schedule


def _schedules(store: Store, *names: str) -> None:
    for name in names:
        assert store.save_schedule(make_schedule(name), expected_version=None) is not None


def test_results_come_back_in_order(store: Store) -> None:
    _schedules(store, "a", "b", "c")
    assert store.insert_run(make_run("old", schedule="b"))
    runs = [make_run("r2", schedule="c"), make_run("old", job="tests.other"), make_run("r1")]
    advances = [
        Advance("c", 1, NOW, at(60)),
        Advance("missing", 1, NOW, at(60)),
        Advance("a", 1, NOW, at(120)),
        Advance("b", 7, NOW, at(60)),
    ]
    assert store.fire(runs, advances) == ([True, False, True], [True, False, True, False])
    assert store.get_run("old") == make_run("old", schedule="b")
    assert store.get_runs(["r1", "r2"]) == [runs[2], runs[0]]
    versions = {name: store.get_schedule(name) for name in "abc"}
    assert {n: (r.version, r.next_due) for n, r in versions.items() if r} == {
        "a": (2, at(120)),
        "b": (1, at(0)),
        "c": (2, at(60)),
    }
    assert store.get_schedule("missing") is None


def test_a_run_id_given_twice_is_inserted_by_its_first_item(store: Store) -> None:
    first = make_run("x", job="tests.first")
    runs = [first, make_run("y"), make_run("x", job="tests.again"), make_run("x")]
    _schedules(store, "s")
    assert store.fire(runs, [Advance("s", 1, NOW, at(60))]) == (
        [True, True, False, False],
        [True],
    )
    assert store.get_run("x") == first


def test_a_stale_version_leaves_that_schedule_alone(store: Store) -> None:
    _schedules(store, "a", "b", "c")
    assert store.advance_schedule("b", expected_version=1, last_slot=at(-60), next_due=at(5))
    before = store.get_schedule("b")
    advances = [Advance(name, 1, NOW, at(300)) for name in "abc"]
    runs = [make_run(f"run-{name}", schedule=name) for name in "abc"]
    assert store.fire(runs, advances) == ([True, True, True], [True, False, True])
    assert store.get_schedule("b") == before
    assert [r.name for r in store.due_schedules(at(1000), 10)] == ["b", "a", "c"]


def test_a_name_given_twice_is_advanced_in_order(store: Store) -> None:
    _schedules(store, "a", "b")
    advances = [
        Advance("a", 1, NOW, at(60)),
        Advance("b", 1, NOW, at(60)),
        Advance("a", 2, at(60), at(120)),
        Advance("b", 1, at(60), at(120)),
        Advance("a", 3, at(120), None),
    ]
    assert store.fire([make_run("r")], advances) == ([True], [True, True, True, False, True])
    a, b = store.get_schedule("a"), store.get_schedule("b")
    assert a is not None
    assert b is not None
    assert (a.version, a.last_slot, a.next_due) == (4, at(120), None)
    assert (b.version, b.last_slot, b.next_due) == (2, NOW, at(60))


def test_the_runs_are_visible_and_claimable_after_the_call(store: Store) -> None:
    _schedules(store, "s")
    store.wait_for_activity(0)
    runs = [make_run(f"r{n}", available=n) for n in range(3)]
    missed = make_run("m", state=RunState.MISSED, finished_at=NOW)
    assert store.fire([*runs, missed], [Advance("s", 1, NOW, at(60))]) == ([True] * 4, [True])
    assert store.wait_for_activity(0.5) is True
    assert store.get_runs(["m", "r0", "r1", "r2"]) == [missed, *runs]
    assert [r.id for r in store.active_runs("s")] == ["r0", "r1", "r2"]
    claimed = store.claim_runs(worker="w", now=at(5), limit=10, lease_seconds=30)
    assert [r.id for r in claimed] == ["r0", "r1", "r2"]


def test_a_naive_datetime_is_refused_before_anything_is_written(store: Store) -> None:
    _schedules(store, "a", "b")
    naive = datetime(2030, 1, 1)
    advances = [Advance("a", 1, NOW, at(60)), Advance("b", 1, naive, at(60))]
    with pytest.raises(NaiveDatetime):
        store.fire([make_run("r")], advances)
    assert store.get_run("r") is None
    assert [(r.name, r.version) for r in store.list_schedules()] == [("a", 1), ("b", 1)]


def test_empty_inputs(store: Store) -> None:
    assert store.fire([], []) == ([], [])
    _schedules(store, "s")
    assert store.fire([make_run("r")], []) == ([True], [])
    assert store.fire([], [Advance("s", 1, NOW, at(60))]) == ([], [True])
    assert store.get_run("r") == make_run("r")
    assert store.fire([make_run("r")], [Advance("s", 1, NOW, None)]) == ([False], [False])


def test_a_large_batch(store: Store) -> None:
    names = [f"s{n:04}" for n in range(600)]
    assert store.insert_schedules([make_schedule(name) for name in names]) == [True] * 600
    runs = [make_run(f"{name}@1", schedule=name) for name in reversed(names)]
    advances = [Advance(name, 1 + (n % 7 == 0), NOW, at(60)) for n, name in enumerate(names)]
    inserted, advanced = store.fire(runs, advances)
    assert inserted == [True] * 600
    assert advanced == [n % 7 != 0 for n in range(600)]
    assert len(store.get_runs([r.id for r in runs])) == 600
    assert len(store.due_schedules(at(30), 1000)) == 600 // 7 + 1


def test_overlapping_fires_at_once_each_insert_once(store: Store) -> None:
    """Two schedulers firing the same slots, in opposite orders: no deadlock,
    every run inserted by one of them, every schedule advanced by one."""
    names = [f"s{n:02}" for n in range(40)]
    _schedules(store, *names)

    def fire(order: list[str]) -> tuple[list[bool], list[bool]]:
        runs = [make_run(f"{name}@1", schedule=name) for name in order]
        return store.fire(runs, [Advance(name, 1, NOW, at(60)) for name in order])

    with ThreadPoolExecutor(2) as pool:
        one, two = pool.map(fire, [names, names[::-1]])
    assert [a or b for a, b in zip(one[0], two[0][::-1], strict=True)] == [True] * 40
    assert not any(a and b for a, b in zip(one[0], two[0][::-1], strict=True))
    assert [a or b for a, b in zip(one[1], two[1][::-1], strict=True)] == [True] * 40
    assert all(r.version == 2 for r in store.list_schedules())


# -- fire_batches: fire, one batch at a time ------------------------------------------------------


def test_fire_batches_gives_each_batch_the_results_fire_would(store: Store) -> None:
    _schedules(store, "a", "b", "c")
    first = make_run("x", schedule="a")
    batches = [
        ([first, make_run("y", schedule="b")], [Advance("a", 1, NOW, at(60))]),
        ([], [Advance("b", 1, NOW, at(60)), Advance("a", 1, NOW, at(90))]),
        ([make_run("x", job="tests.again"), make_run("z", schedule="c")], []),
        (
            [make_run("w", schedule="c")],
            [Advance("c", 1, NOW, at(30)), Advance("a", 2, at(60), None)],
        ),
    ]
    assert store.fire_batches(iter(batches)) == [
        ([True, True], [True]),
        ([], [True, False]),  # the second "a" item saw the version the first one left
        ([False, True], []),  # "x" was inserted by the first batch
        ([True], [True, True]),
    ]
    assert store.get_run("x") == first
    a, c = store.get_schedule("a"), store.get_schedule("c")
    assert a is not None
    assert c is not None
    assert (a.version, a.last_slot, a.next_due) == (3, at(60), None)
    assert (c.version, c.next_due) == (2, at(30))
    assert store.fire_batches(iter([])) == []


def test_fire_batches_may_call_the_store_while_a_batch_is_drawn(store: Store) -> None:
    """The scheduler plans each batch as it is drawn, and planning may read or write."""
    _schedules(store, "a", "b")
    seen: list[int] = []

    def batches() -> Iterator[FireBatch]:
        for name in "ab":
            record = store.get_schedule(name)
            assert record is not None
            seen.append(len(store.get_runs(["ra", "rb"])))  # what earlier batches wrote
            assert store.save_schedule(make_schedule(f"{name}-new"), expected_version=None)
            yield (
                [make_run(f"r{name}", schedule=name)],
                [Advance(name, record.version, NOW, at(60))],
            )

    assert store.fire_batches(batches()) == [([True], [True]), ([True], [True])]
    assert seen[0] == 0
    assert {r.id for r in store.get_runs(["ra", "rb"])} == {"ra", "rb"}
    assert store.get_schedule("b-new") is not None


def test_fire_batches_passes_on_an_error_of_the_batches_and_stays_usable(store: Store) -> None:
    _schedules(store, "a")

    def batches() -> Iterator[FireBatch]:
        yield [make_run("r1", schedule="a")], [Advance("a", 1, NOW, at(60))]
        raise RuntimeError("planning broke")

    with pytest.raises(RuntimeError, match="planning broke"):
        store.fire_batches(batches())
    # Nothing is promised of the first batch, except that it is all or nothing.
    record = store.get_schedule("a")
    assert record is not None
    assert (record.version == 2) == (store.get_run("r1") is not None)
    assert store.fire([make_run("r2")], []) == ([True], [])


def test_fire_batches_refuses_a_naive_datetime_in_any_batch(store: Store) -> None:
    _schedules(store, "a")
    naive = datetime(2030, 1, 1, 12, 0)
    with pytest.raises(NaiveDatetime):
        store.fire_batches(iter([([], [Advance("a", 1, naive, at(60))])]))
    record = store.get_schedule("a")
    assert record is not None
    assert record.version == 1
