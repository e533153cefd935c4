"""Contract: cancelling, requeueing, listing and pruning runs."""

from __future__ import annotations

import pytest

from rota.errors import IllegalTransition, RunNotFound
from rota.runs import TERMINAL_STATES, RunState
from rota.stores.base import Outcome, Store

from .support import NOW, at, make_run, ok, start


@pytest.mark.parametrize("state", [RunState.WAITING, RunState.QUEUED, RunState.RETRYING])
def test_cancel_a_waiting_run_at_once(store: Store, state: RunState) -> None:
    store.insert_run(make_run("r1", state=state))
    cancelled = store.request_cancel("r1", now=at(3))
    assert (cancelled.state, cancelled.finished_at) == (RunState.CANCELLED, at(3))
    assert store.get_run("r1") == cancelled
    assert store.claim_runs(worker="w", now=at(9), limit=5, lease_seconds=1) == []


def test_cancel_a_running_run_asks_its_worker(store: Store) -> None:
    run = start(store, make_run("r1"))
    asked = store.request_cancel("r1", now=at(3))
    assert (asked.state, asked.cancel_requested) == (RunState.RUNNING, True)
    assert asked.lease_token == run.lease_token
    assert store.get_run("r1") == asked
    done = Outcome(state=RunState.CANCELLED)
    assert store.finish_run("r1", run.lease_token or "", done, now=at(4))
    assert store.get_run("r1").cancel_requested is False  # type: ignore[union-attr]


@pytest.mark.parametrize("state", sorted(TERMINAL_STATES))
def test_cancel_a_finished_run_changes_nothing(store: Store, state: RunState) -> None:
    run = make_run("r1", state=state, finished_at=NOW)
    store.insert_run(run)
    assert store.request_cancel("r1", now=at(3)) == run
    assert store.get_run("r1") == run


def test_cancel_an_unknown_run(store: Store) -> None:
    with pytest.raises(RunNotFound, match="nope"):
        store.request_cancel("nope", now=NOW)


def test_requeue_a_failed_run_counts_attempts_afresh(store: Store) -> None:
    run = start(store, make_run("r1", max_attempts=1))
    store.save_progress("r1", run.lease_token or "", checkpoint={"at": 3})
    store.finish_run(
        "r1", run.lease_token or "", Outcome(state=RunState.FAILED, error="x"), now=NOW
    )
    again = store.requeue_run("r1", now=at(60))
    assert (again.state, again.available_at, again.attempt) == (RunState.QUEUED, at(60), 0)
    assert again.finished_at is None
    assert again.error is None
    assert again.lease_token is None
    assert again.checkpoint == {"at": 3}
    assert store.get_run("r1") == again
    claimed = store.claim_runs(worker="w", now=at(60), limit=1, lease_seconds=1)
    assert [r.attempt for r in claimed] == [1]


@pytest.mark.parametrize(
    "state", [RunState.QUEUED, RunState.WAITING, RunState.RETRYING, RunState.SKIPPED]
)
def test_requeue_refuses_runs_that_are_not_retryable(store: Store, state: RunState) -> None:
    run = make_run("r1", state=state)
    store.insert_run(run)
    with pytest.raises(IllegalTransition, match="r1"):
        store.requeue_run("r1", now=NOW)
    assert store.get_run("r1") == run


def test_requeue_refuses_a_running_run(store: Store) -> None:
    run = start(store, make_run("r1"))
    with pytest.raises(IllegalTransition):
        store.requeue_run("r1", now=NOW)
    assert store.get_run("r1") == run


def test_requeue_an_unknown_run(store: Store) -> None:
    with pytest.raises(RunNotFound):
        store.requeue_run("nope", now=NOW)


def test_list_runs_newest_first_and_pages_by_before(store: Store) -> None:
    store.insert_runs([make_run(f"r{i}", created=i) for i in range(5)])
    store.insert_run(make_run("r3b", created=3))
    first = store.list_runs(limit=3)
    assert [r.id for r in first] == ["r4", "r3b", "r3"]
    last = first[-1]
    page = store.list_runs(limit=3, before=(last.created_at, last.id))
    assert [r.id for r in page] == ["r2", "r1", "r0"]
    assert store.list_runs(before=(at(0), "r0")) == []


def test_list_runs_filters_by_schedule_and_states(store: Store) -> None:
    store.insert_runs(
        [
            make_run("a", schedule="s", created=1),
            make_run("b", schedule="s", created=2, state=RunState.SKIPPED),
            make_run("c", schedule="t", created=3),
            make_run("d", schedule=None, created=4, manual=True),
        ]
    )
    assert [r.id for r in store.list_runs(schedule="s")] == ["b", "a"]
    assert [r.id for r in store.list_runs(states=[RunState.QUEUED])] == ["d", "c", "a"]
    assert [r.id for r in store.list_runs(schedule="s", states=[RunState.SKIPPED])] == ["b"]
    assert store.list_runs(states=[]) == []


def test_active_runs(store: Store) -> None:
    store.insert_runs(
        [
            make_run("queued", created=1),
            make_run("retrying", created=2, state=RunState.RETRYING),
            make_run("done", created=3, state=RunState.SUCCEEDED),
            make_run("waiting", created=4, state=RunState.WAITING),
            make_run("elsewhere", schedule="t"),
        ]
    )
    start(store, make_run("running", created=5, available=-9))
    ids = {r.id for r in store.active_runs("s")}
    assert ids == {"queued", "retrying", "running"}


def test_prune_keeps_the_newest_finished_runs_and_every_active_one(store: Store) -> None:
    store.insert_runs(
        [make_run(f"done{i}", created=i, state=RunState.SUCCEEDED) for i in range(6)]
        + [make_run("queued", created=-10), make_run("waiting", created=-9, state=RunState.WAITING)]
        + [make_run("other", schedule="t", created=-8, state=RunState.FAILED)]
    )
    start(store, make_run("running", created=-7, available=-100))
    assert store.prune_runs("s", keep=2) == 4
    left = {r.id for r in store.list_runs(limit=100)}
    assert left == {"done5", "done4", "queued", "waiting", "running", "other"}
    assert store.prune_runs("s", keep=2) == 0
    assert store.prune_runs("s", keep=0) == 2
    assert store.get_run("running") is not None


def test_finished_run_keeps_its_worker(store: Store) -> None:
    run = start(store, make_run("r1"))
    store.finish_run("r1", run.lease_token or "", ok(), now=at(1))
    assert store.get_run("r1").worker == "w1"  # type: ignore[union-attr]
