"""Contract: schedules, compare-and-set and due lookups."""

from __future__ import annotations

from rota.runs import RunState
from rota.stores.base import Store

from .support import NOW, at, make_run, make_schedule, start


def test_save_schedule_inserts_with_version_one(store: Store) -> None:
    saved = store.save_schedule(make_schedule("s"), expected_version=None)
    assert saved is not None
    assert saved.version == 1
    assert store.get_schedule("s") == saved
    assert store.save_schedule(make_schedule("s"), expected_version=None) is None


def test_save_schedule_compares_and_sets(store: Store) -> None:
    saved = store.save_schedule(make_schedule("s"), expected_version=None)
    assert saved is not None
    edited = saved.evolve(paused=True, updated_at=at(5), spec={"x": [1, 2]})
    again = store.save_schedule(edited, expected_version=1)
    assert again == edited.evolve(version=2)
    assert store.get_schedule("s") == again
    assert store.save_schedule(edited, expected_version=1) is None
    assert store.get_schedule("s") == again


def test_save_schedule_with_a_version_needs_a_row(store: Store) -> None:
    assert store.save_schedule(make_schedule("s"), expected_version=0) is None
    assert store.save_schedule(make_schedule("s"), expected_version=3) is None
    assert store.get_schedule("s") is None


def test_advance_schedule_bumps_the_version(store: Store) -> None:
    store.save_schedule(make_schedule("s"), expected_version=None)
    assert store.advance_schedule("s", expected_version=1, last_slot=NOW, next_due=at(60))
    advanced = store.get_schedule("s")
    assert advanced is not None
    assert (advanced.version, advanced.last_slot, advanced.next_due) == (2, NOW, at(60))
    assert advanced.updated_at == NOW


def test_advance_schedule_conflict_changes_nothing(store: Store) -> None:
    store.save_schedule(make_schedule("s"), expected_version=None)
    assert store.advance_schedule("s", expected_version=1, last_slot=NOW, next_due=at(60))
    before = store.get_schedule("s")
    assert not store.advance_schedule("s", expected_version=1, last_slot=at(60), next_due=at(120))
    assert store.get_schedule("s") == before
    assert not store.advance_schedule("nope", expected_version=1, last_slot=None, next_due=None)


def test_advance_schedule_may_clear_next_due(store: Store) -> None:
    store.save_schedule(make_schedule("s"), expected_version=None)
    assert store.advance_schedule("s", expected_version=1, last_slot=NOW, next_due=None)
    assert store.get_schedule("s").next_due is None  # type: ignore[union-attr]
    assert store.next_due_at() is None


def test_due_schedules_earliest_first_within_limit(store: Store) -> None:
    for name, due in [("c", -10), ("a", -5), ("b", -10), ("future", 5), ("never", None)]:
        store.save_schedule(make_schedule(name, next_due=due), expected_version=None)
    assert [s.name for s in store.due_schedules(NOW, 10)] == ["b", "c", "a"]
    assert [s.name for s in store.due_schedules(NOW, 2)] == ["b", "c"]
    assert [s.name for s in store.due_schedules(at(5), 10)][-1] == "future"


def test_due_for_tick_reads_the_due_schedules_and_which_are_busy(store: Store) -> None:
    """``records`` are ``due_schedules``; ``busy``, where the backend tells, names
    exactly the due ones with a queued, retrying or running run."""
    for name in ["queued", "running", "retrying", "done", "waiting", "idle", "later"]:
        due = 5.0 if name == "later" else -1.0
        store.save_schedule(make_schedule(name, next_due=due), expected_version=None)
    start(store, make_run("r-running", schedule="running"))
    store.insert_runs(
        [
            make_run("r-queued", schedule="queued"),
            make_run("r-retrying", schedule="retrying", state=RunState.RETRYING, attempt=1),
            make_run("r-done", schedule="done", state=RunState.SUCCEEDED, finished_at=NOW),
            make_run("r-waiting", schedule="waiting", state=RunState.WAITING, parents=("x",)),
            make_run("r-later", schedule="later"),
        ]
    )
    found = store.due_for_tick(NOW, 10)
    expected = store.due_schedules(NOW, 10)
    assert len(found.records) == len(expected) == 6
    assert list(found.records) == expected
    assert list(found.records[1:4]) == expected[1:4]
    assert found.records[-1] == expected[-1]
    assert found.busy is None or found.busy == {"queued", "running", "retrying"}
    assert [s.name for s in store.due_for_tick(NOW, 2).records] == [s.name for s in expected[:2]]


def test_paused_and_retired_schedules_are_never_due(store: Store) -> None:
    store.save_schedule(make_schedule("paused", paused=True, next_due=-9), expected_version=None)
    store.save_schedule(make_schedule("retired", retired=True, next_due=-9), expected_version=None)
    store.save_schedule(make_schedule("live", next_due=7), expected_version=None)
    assert store.due_schedules(at(100), 10)[0].name == "live"
    assert len(store.due_schedules(at(100), 10)) == 1
    assert store.next_due_at() == at(7)


def test_next_due_at_of_nothing(store: Store) -> None:
    assert store.next_due_at() is None


def test_list_schedules_by_name_and_pages(store: Store) -> None:
    for name in ["b", "a", "d", "c"]:
        store.save_schedule(make_schedule(name, retired=name == "c"), expected_version=None)
    assert [s.name for s in store.list_schedules()] == ["a", "b", "d"]
    assert [s.name for s in store.list_schedules(include_retired=True)] == ["a", "b", "c", "d"]
    assert [s.name for s in store.list_schedules(after="a", limit=1)] == ["b"]
    assert [s.name for s in store.list_schedules(after="b", include_retired=True)] == ["c", "d"]


def test_delete_schedule_keeps_its_runs(store: Store) -> None:
    store.save_schedule(make_schedule("s"), expected_version=None)
    store.insert_run(make_run("r1", schedule="s"))
    assert store.delete_schedule("s") is True
    assert store.delete_schedule("s") is False
    assert store.get_schedule("s") is None
    assert store.get_run("r1") is not None
    assert store.save_schedule(make_schedule("s"), expected_version=None) is not None
