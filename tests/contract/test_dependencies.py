"""Contract: runs that wait for their parents (``after``): waiting_runs,
release_waiting, and settle_waiting built on them."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from datetime import datetime
from typing import Any

import pytest

from rota.errors import NaiveDatetime
from rota.runs import Run, RunState
from rota.stores.base import Outcome, Store

from .support import LEASE, NOW, at, make_run, ok, start

W = RunState.WAITING


def _child(run_id: str, *parents: str, **changes: Any) -> Run:
    """A waiting run whose parents are ``parents``."""
    return make_run(run_id, state=W, schedule=f"child-{run_id}", parents=parents, **changes)


def _ended(run_id: str, state: RunState, **changes: Any) -> Run:
    """A parent run that already ended as ``state``."""
    return make_run(run_id, state=state, schedule=f"sched-{run_id}", finished_at=NOW, **changes)


def _insert(store: Store, *runs: Run) -> None:
    assert store.insert_runs(list(runs)) == [True] * len(runs)


def _ids(runs: list[Run]) -> list[str]:
    return [run.id for run in runs]


def _state(store: Store, run_id: str) -> RunState:
    run = store.get_run(run_id)
    assert run is not None, run_id
    return run.state


# -- waiting_runs --------------------------------------------------------------


def _family(store: Store) -> None:
    _insert(
        store,
        make_run("a"),
        _child("b", "a"),
        _child("c", "x"),
        _child("d", "a", "x"),
        make_run("e", parents=("a",)),  # queued: not waiting, whatever its parents
        _ended("f", RunState.UPSTREAM_FAILED, parents=("a",)),
        _child("g", "y", "b"),
    )


def test_waiting_runs_by_parent(store: Store) -> None:
    _family(store)
    assert _ids(store.waiting_runs(["a"])) == ["b", "d"]
    assert _ids(store.waiting_runs(["x"])) == ["c", "d"]
    assert _ids(store.waiting_runs(["b"])) == ["b", "g"]  # b itself, and g below it
    assert _ids(store.waiting_runs(["x", "a", "x"])) == ["b", "c", "d"]  # each run once


def test_waiting_runs_by_id(store: Store) -> None:
    _family(store)
    assert _ids(store.waiting_runs(["c"])) == ["c"]
    assert _ids(store.waiting_runs(["g", "c", "e", "f"])) == ["c", "g"]  # e, f not waiting
    assert store.waiting_runs(["nope"]) == []
    assert store.waiting_runs([]) == []


def test_waiting_runs_come_back_as_stored(store: Store) -> None:
    child = _child("b", "a", "z", kwargs={"n": [1, 2]}, priority=3, slot=at(-60))
    _insert(store, child)
    assert store.waiting_runs(["z"]) == [child]
    assert store.waiting_runs(["z"])[0].parents == ("a", "z")


def test_waiting_runs_without_ids_lists_every_waiting_run(store: Store) -> None:
    _family(store)
    assert _ids(store.waiting_runs()) == ["b", "c", "d", "g"]
    assert _ids(store.waiting_runs(None, limit=2)) == ["b", "c"]


def test_waiting_runs_stops_at_the_limit(store: Store) -> None:
    history = [_ended(f"h{i:03}", RunState.SUCCEEDED) for i in range(200)]
    children = [_child(f"k{i:03}", "p") for i in range(30)]
    _insert(store, make_run("p"), *history, *children, _child("other", "q"))
    assert _ids(store.waiting_runs(["p"], limit=10)) == [f"k{i:03}" for i in range(10)]
    assert _ids(store.waiting_runs(["p"])) == [f"k{i:03}" for i in range(30)]
    assert len(store.waiting_runs(limit=1000)) == 31
    assert store.waiting_runs(["p"], limit=0) == []


# -- release_waiting -----------------------------------------------------------


def test_release_to_queued_makes_the_run_claimable_and_notifies(store: Store) -> None:
    child = _child("b", "a", available=-100)
    _insert(store, child)
    store.wait_for_activity(0)
    released = store.release_waiting("b", RunState.QUEUED, now=at(5))
    assert released == replace(child, state=RunState.QUEUED, available_at=at(5))
    assert store.get_run("b") == released
    assert store.wait_for_activity(0.5) is True
    assert store.waiting_runs(["a"]) == []
    assert store.claim_runs(worker="w", now=at(4), limit=5, lease_seconds=LEASE) == []
    claimed = store.claim_runs(worker="w", now=at(5), limit=5, lease_seconds=LEASE)
    assert _ids(claimed) == ["b"]


def test_release_to_upstream_failed_finishes_the_run(store: Store) -> None:
    child = _child("b", "a")
    _insert(store, child)
    released = store.release_waiting(
        "b", RunState.UPSTREAM_FAILED, now=at(7), error="UpstreamFailed: a failed"
    )
    expected = replace(
        child,
        state=RunState.UPSTREAM_FAILED,
        finished_at=at(7),
        error="UpstreamFailed: a failed",
    )
    assert released == expected
    assert store.get_run("b") == expected
    assert store.claim_runs(worker="w", now=at(60), limit=5, lease_seconds=LEASE) == []
    assert store.waiting_runs() == []


def test_release_happens_once(store: Store) -> None:
    _insert(store, _child("b", "a"))
    first = store.release_waiting("b", RunState.QUEUED, now=at(1))
    assert first is not None
    assert store.release_waiting("b", RunState.QUEUED, now=at(2)) is None
    assert store.release_waiting("b", RunState.UPSTREAM_FAILED, now=at(3), error="x") is None
    assert store.get_run("b") == first


@pytest.mark.parametrize(
    "state",
    [
        RunState.QUEUED,
        RunState.RETRYING,
        RunState.SUCCEEDED,
        RunState.FAILED,
        RunState.CANCELLED,
        RunState.UPSTREAM_FAILED,
    ],
)
def test_release_refuses_a_run_that_is_not_waiting(store: Store, state: RunState) -> None:
    run = make_run("b", state=state, parents=("a",))
    _insert(store, run)
    assert store.release_waiting("b", RunState.QUEUED, now=at(5)) is None
    assert store.release_waiting("b", RunState.UPSTREAM_FAILED, now=at(5), error="e") is None
    assert store.get_run("b") == run


def test_release_refuses_a_running_run(store: Store) -> None:
    running = start(store, make_run("b", parents=("a",)))
    assert store.release_waiting("b", RunState.QUEUED, now=at(5)) is None
    assert store.get_run("b") == running


def test_release_of_an_unknown_run_is_none(store: Store) -> None:
    assert store.release_waiting("nope", RunState.QUEUED, now=NOW) is None
    assert store.release_waiting("nope", RunState.UPSTREAM_FAILED, now=NOW, error="e") is None
    assert store.get_run("nope") is None


@pytest.mark.parametrize(
    "state", [RunState.RUNNING, RunState.SUCCEEDED, RunState.CANCELLED, RunState.WAITING]
)
def test_release_to_another_state_raises(store: Store, state: RunState) -> None:
    child = _child("b", "a")
    _insert(store, child)
    with pytest.raises(ValueError, match=str(state)):
        store.release_waiting("b", state, now=at(5))
    with pytest.raises(ValueError, match=str(state)):
        store.release_waiting("nope", state, now=at(5))
    assert store.get_run("b") == child


def test_release_refuses_a_naive_now(store: Store) -> None:
    child = _child("b", "a")
    _insert(store, child)
    with pytest.raises(NaiveDatetime):
        store.release_waiting("b", RunState.QUEUED, now=datetime(2030, 1, 1))
    assert store.get_run("b") == child


# -- settle_waiting --------------------------------------------------------------


def test_settle_queues_a_run_whose_parents_all_succeeded(store: Store) -> None:
    _insert(
        store,
        _ended("a", RunState.SUCCEEDED),
        _ended("b", RunState.SUCCEEDED),
        _child("c", "a", "b"),
    )
    changed = store.settle_waiting(["a"], now=at(5))
    assert [(r.id, r.state, r.available_at) for r in changed] == [("c", RunState.QUEUED, at(5))]
    assert store.get_run("c") == changed[0]
    assert store.settle_waiting(["a", "b"], now=at(6)) == []  # decided once


def test_settle_by_the_waiting_runs_own_id(store: Store) -> None:
    _insert(store, _ended("a", RunState.SUCCEEDED), _child("c", "a"))
    assert [(r.id, r.state) for r in store.settle_waiting(["c"], now=at(5))] == [
        ("c", RunState.QUEUED)
    ]


def test_settle_everything_without_ids(store: Store) -> None:
    _insert(
        store,
        _ended("a", RunState.SUCCEEDED),
        _ended("f", RunState.TIMED_OUT),
        _child("c", "a"),
        _child("d", "f"),
        _child("e", "nope"),
    )
    changed = {r.id: r.state for r in store.settle_waiting(now=at(5))}
    assert changed == {"c": RunState.QUEUED, "d": RunState.UPSTREAM_FAILED}
    assert _ids(store.waiting_runs()) == ["e"]


@pytest.mark.parametrize(
    "ending",
    [
        RunState.FAILED,
        RunState.TIMED_OUT,
        RunState.CANCELLED,
        RunState.SKIPPED,
        RunState.MISSED,
        RunState.UPSTREAM_FAILED,
    ],
)
def test_settle_fails_the_children_of_a_parent_that_did_not_succeed(
    store: Store, ending: RunState
) -> None:
    _insert(store, _ended("a", ending), _child("b", "a"))
    (changed,) = store.settle_waiting(["a"], now=at(5))
    assert (changed.id, changed.state, changed.finished_at) == (
        "b",
        RunState.UPSTREAM_FAILED,
        at(5),
    )
    assert changed.error is not None
    assert "parent run a " in changed.error
    assert "'sched-a'" in changed.error
    assert f"ended {ending}" in changed.error
    assert store.get_run("b") == changed


def test_settle_cascades_upstream_failed_to_grandchildren(store: Store) -> None:
    _insert(
        store,
        _ended("a", RunState.FAILED),
        _child("b", "a"),
        _child("c", "b"),
        _child("d", "c"),
        _ended("ok", RunState.SUCCEEDED),
        _child("e", "ok", "c"),
        _child("unrelated", "elsewhere"),
    )
    changed = store.settle_waiting(["a"], now=at(5))
    assert sorted(_ids(changed)) == ["b", "c", "d", "e"]
    for run in changed:
        assert run.state is RunState.UPSTREAM_FAILED
        assert run.finished_at == at(5)
        assert store.get_run(run.id) == run
    errors = {run.id: run.error or "" for run in changed}
    assert "parent run a " in errors["b"]
    assert "ended failed" in errors["b"]
    assert "parent run b " in errors["c"]
    assert "ended upstream_failed" in errors["c"]
    assert "parent run c " in errors["d"]
    assert "parent run c " in errors["e"]
    assert _ids(store.waiting_runs()) == ["unrelated"]


def test_settle_keeps_waiting_while_a_parent_is_unfinished_or_absent(store: Store) -> None:
    start(store, make_run("running"))
    _insert(
        store,
        _ended("done", RunState.SUCCEEDED),
        make_run("queued", available=60),
        make_run("retrying", state=RunState.RETRYING, available=60),
        _child("upstream", "far"),
        _child("c1", "running"),
        _child("c2", "done", "running"),
        _child("c3", "done", "absent"),
        _child("c4", "queued", "retrying"),
        _child("c5", "done", "upstream"),  # its parent is itself waiting
    )
    before = store.waiting_runs()
    ids = ["running", "done", "absent", "queued", "retrying", "upstream"]
    assert store.settle_waiting(ids, now=at(5)) == []
    assert store.settle_waiting(now=at(5)) == []
    assert store.waiting_runs() == before
    assert _ids(before) == ["c1", "c2", "c3", "c4", "c5", "upstream"]


def test_settle_after_the_parent_finishes(store: Store) -> None:
    parent = start(store, make_run("a"))
    _insert(store, _child("b", "a"))
    assert store.settle_waiting(["a"], now=at(1)) == []
    assert store.finish_run("a", parent.lease_token or "", ok(), now=at(2))
    assert [(r.id, r.state) for r in store.settle_waiting(["a"], now=at(3))] == [
        ("b", RunState.QUEUED)
    ]
    assert store.settle_waiting(["a"], now=at(4)) == []


def test_settle_fan_in_one_parent_succeeded_the_other_failed(store: Store) -> None:
    a = start(store, make_run("a", schedule="sched-a"))
    c = start(store, make_run("c", schedule="sched-c"), now=at(1))
    _insert(store, _child("d", "a", "c"), _child("e", "a"), _child("f", "d"))
    assert store.finish_run("a", a.lease_token or "", ok(), now=at(2))
    assert [(r.id, r.state) for r in store.settle_waiting(["a"], now=at(3))] == [
        ("e", RunState.QUEUED)
    ]  # d still waits for c
    assert _state(store, "d") is RunState.WAITING
    failed = Outcome(RunState.FAILED, error="boom")
    assert store.finish_run("c", c.lease_token or "", failed, now=at(4))
    changed = {r.id: r for r in store.settle_waiting(["c"], now=at(5))}
    assert sorted(changed) == ["d", "f"]
    assert changed["d"].state is RunState.UPSTREAM_FAILED
    assert "parent run c " in (changed["d"].error or "")
    assert "'sched-c'" in (changed["d"].error or "")
    assert "ended failed" in (changed["d"].error or "")
    assert changed["f"].state is RunState.UPSTREAM_FAILED
    assert "parent run d " in (changed["f"].error or "")
    assert store.waiting_runs() == []


def test_fan_in_with_the_failed_parent_listed_first_or_second(store: Store) -> None:
    _insert(
        store,
        _ended("ok", RunState.SUCCEEDED),
        _ended("bad", RunState.CANCELLED),
        _child("x", "ok", "bad"),
        _child("y", "bad", "ok"),
        _child("z", "ok", "bad", "pending"),  # a failed parent decides at once
    )
    changed = {r.id: r for r in store.settle_waiting(["ok", "bad"], now=at(5))}
    assert sorted(changed) == ["x", "y", "z"]
    for run in changed.values():
        assert run.state is RunState.UPSTREAM_FAILED
        assert "parent run bad " in (run.error or "")


THREADS = 8


def test_concurrent_settles_release_each_run_exactly_once(store: Store) -> None:
    parents = [_ended(f"p{i}", RunState.SUCCEEDED) for i in range(4)]
    bad = _ended("bad", RunState.FAILED)
    children = [
        _child(f"c{i:02}", f"p{i % 4}", *(["bad"] if i % 5 == 0 else [])) for i in range(40)
    ]
    grandchildren = [_child(f"g{i:02}", f"c{i:02}") for i in range(0, 40, 5)]
    _insert(store, *parents, bad, *children, *grandchildren)
    ids = [run.id for run in [*parents, bad]]
    barrier = threading.Barrier(THREADS)

    def settle(i: int) -> list[Run]:
        barrier.wait(timeout=10)
        return store.settle_waiting(ids[i % len(ids) :] + ids[: i % len(ids)], now=at(5))

    with ThreadPoolExecutor(THREADS) as pool:
        results = list(pool.map(settle, range(THREADS)))
    changed = [run for runs in results for run in runs]
    expected = sorted(_ids(children) + _ids(grandchildren))
    assert sorted(_ids(changed)) == expected  # each once, by exactly one caller
    for run in changed:
        failed = run.id.startswith("g") or int(run.id[1:]) % 5 == 0
        want = RunState.UPSTREAM_FAILED if failed else RunState.QUEUED
        assert run.state is want, run
        assert store.get_run(run.id) == run
    assert store.waiting_runs() == []
