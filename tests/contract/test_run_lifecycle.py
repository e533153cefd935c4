"""Contract: inserting, claiming, leasing and finishing runs."""

from __future__ import annotations

from datetime import timedelta

import pytest

from rota.runs import RunState
from rota.stores.base import LeaseStatus, Outcome, Store

from .support import LEASE, NOW, at, claim_one, make_run, ok, start


def test_insert_run_inserts_only_if_absent(store: Store) -> None:
    run = make_run("r1")
    assert store.insert_run(run) is True
    assert store.insert_run(make_run("r1", schedule="other")) is False
    assert store.get_run("r1") == run


def test_insert_runs_reports_each(store: Store) -> None:
    assert store.insert_run(make_run("r2"))
    assert store.insert_runs([make_run("r1"), make_run("r2"), make_run("r3")]) == [
        True,
        False,
        True,
    ]


def test_get_run_of_unknown_id_is_none(store: Store) -> None:
    assert store.get_run("nope") is None


def test_claim_takes_available_runs_by_priority_then_available_at(store: Store) -> None:
    store.insert_runs(
        [
            make_run("late", available=-1),
            make_run("early", available=-5),
            make_run("urgent", available=0, priority=5),
            make_run("future", available=1, priority=9),
            make_run("b-tie", available=-3),
            make_run("a-tie", available=-3),
        ]
    )
    runs = store.claim_runs(worker="w", now=NOW, limit=10, lease_seconds=LEASE)
    assert [r.id for r in runs] == ["urgent", "early", "a-tie", "b-tie", "late"]


def test_claim_respects_limit(store: Store) -> None:
    store.insert_runs([make_run(f"r{i}", available=-i) for i in range(5)])
    first = store.claim_runs(worker="w", now=NOW, limit=2, lease_seconds=LEASE)
    assert [r.id for r in first] == ["r4", "r3"]
    rest = store.claim_runs(worker="w", now=NOW, limit=10, lease_seconds=LEASE)
    assert [r.id for r in rest] == ["r2", "r1", "r0"]
    assert store.claim_runs(worker="w", now=NOW, limit=10, lease_seconds=LEASE) == []


def test_claimed_run_is_running_with_a_fresh_lease(store: Store) -> None:
    store.insert_run(make_run("r1", available=-10))
    claimed = claim_one(store, worker="w7")
    assert claimed.state is RunState.RUNNING
    assert claimed.attempt == 1
    assert claimed.worker == "w7"
    assert claimed.started_at == NOW
    assert claimed.lease_expires_at == NOW + timedelta(seconds=LEASE)
    assert claimed.lease_token
    assert claimed.cancel_requested is False
    assert store.get_run("r1") == claimed


def test_claim_skips_waiting_and_finished_runs(store: Store) -> None:
    store.insert_runs(
        [
            make_run("waiting", state=RunState.WAITING),
            make_run("skipped", state=RunState.SKIPPED),
            make_run("missed", state=RunState.MISSED),
        ]
    )
    assert store.claim_runs(worker="w", now=at(60), limit=10, lease_seconds=LEASE) == []


def test_claim_filters_by_queue(store: Store) -> None:
    store.insert_runs(
        [make_run("a", queue="mail"), make_run("b", queue="default"), make_run("c", queue="io")]
    )
    got = store.claim_runs(
        worker="w", now=NOW, limit=10, lease_seconds=LEASE, queues=["io", "mail"]
    )
    assert sorted(r.id for r in got) == ["a", "c"]
    assert store.claim_runs(worker="w", now=NOW, limit=10, lease_seconds=LEASE, queues=[]) == []


def test_exclusive_run_waits_while_its_schedule_runs(store: Store) -> None:
    running = start(store, make_run("first", exclusive=True, available=-2))
    store.insert_runs([make_run("second", exclusive=True), make_run("other", schedule="t")])
    got = store.claim_runs(worker="w", now=NOW, limit=10, lease_seconds=LEASE)
    assert [r.id for r in got] == ["other"]
    assert store.finish_run("first", running.lease_token or "", ok(), now=NOW)
    assert claim_one(store).id == "second"


def test_one_claim_never_takes_two_exclusive_runs_of_one_schedule(store: Store) -> None:
    store.insert_runs(
        [
            make_run("x1", exclusive=True, available=-2),
            make_run("x2", exclusive=True, available=-1),
            make_run("y1", schedule="y", exclusive=True),
        ]
    )
    got = store.claim_runs(worker="w", now=NOW, limit=10, lease_seconds=LEASE)
    assert [r.id for r in got] == ["x1", "y1"]


def test_non_exclusive_runs_of_one_schedule_run_together(store: Store) -> None:
    store.insert_runs([make_run("a1"), make_run("a2")])
    assert len(store.claim_runs(worker="w", now=NOW, limit=10, lease_seconds=LEASE)) == 2


def test_renew_lease_with_the_right_token(store: Store) -> None:
    run = start(store, make_run("r1"))
    status = store.renew_lease("r1", run.lease_token or "", now=at(20), lease_seconds=60)
    assert status is LeaseStatus.OK
    assert store.get_run("r1").lease_expires_at == at(80)  # type: ignore[union-attr]


def test_renew_lease_with_a_wrong_token_is_lost_and_changes_nothing(store: Store) -> None:
    run = start(store, make_run("r1"))
    assert store.renew_lease("r1", "not-mine", now=at(20), lease_seconds=60) is LeaseStatus.LOST
    assert store.renew_lease("nope", "x", now=at(20), lease_seconds=60) is LeaseStatus.LOST
    assert store.get_run("r1") == run


def test_renew_lease_reports_cancel_request(store: Store) -> None:
    run = start(store, make_run("r1"))
    store.request_cancel("r1", now=at(1))
    status = store.renew_lease("r1", run.lease_token or "", now=at(2), lease_seconds=LEASE)
    assert status is LeaseStatus.CANCEL_REQUESTED


def test_renew_after_finish_is_lost(store: Store) -> None:
    run = start(store, make_run("r1"))
    token = run.lease_token or ""
    assert store.finish_run("r1", token, ok(), now=at(1))
    assert store.renew_lease("r1", token, now=at(2), lease_seconds=LEASE) is LeaseStatus.LOST


@pytest.mark.parametrize(
    "state", [RunState.SUCCEEDED, RunState.FAILED, RunState.TIMED_OUT, RunState.CANCELLED]
)
def test_finish_in_a_terminal_state(store: Store, state: RunState) -> None:
    run = start(store, make_run("r1"))
    outcome = Outcome(state=state, result={"n": 1}, error="e", traceback="tb", log="hello\n")
    assert store.finish_run("r1", run.lease_token or "", outcome, now=at(5))
    done = store.get_run("r1")
    assert done is not None
    assert (done.state, done.finished_at, done.started_at) == (state, at(5), NOW)
    assert (done.result, done.error, done.traceback, done.log) == ({"n": 1}, "e", "tb", "hello\n")
    assert done.lease_token is None
    assert done.lease_expires_at is None
    assert done.duration == 5.0


def test_finish_with_a_wrong_token_changes_nothing(store: Store) -> None:
    run = start(store, make_run("r1"))
    assert store.finish_run("r1", "stolen", ok(result=1), now=at(1)) is False
    assert store.finish_run("nope", "stolen", ok(), now=at(1)) is False
    assert store.get_run("r1") == run


def test_finish_twice_is_refused(store: Store) -> None:
    run = start(store, make_run("r1"))
    assert store.finish_run("r1", run.lease_token or "", ok(result=1), now=at(1))
    assert store.finish_run("r1", run.lease_token or "", ok(result=2), now=at(2)) is False
    assert store.get_run("r1").result == 1  # type: ignore[union-attr]


@pytest.mark.parametrize("state", [RunState.SKIPPED, RunState.WAITING, RunState.RUNNING])
def test_finish_refuses_states_an_attempt_cannot_end_in(store: Store, state: RunState) -> None:
    run = start(store, make_run("r1"))
    with pytest.raises(ValueError, match="cannot finish"):
        store.finish_run("r1", run.lease_token or "", Outcome(state=state), now=at(1))
    assert store.get_run("r1") == run


def test_retrying_run_becomes_claimable_at_available_at(store: Store) -> None:
    run = start(store, make_run("r1", max_attempts=3))
    outcome = Outcome(state=RunState.RETRYING, error="boom", available_at=at(10))
    assert store.finish_run("r1", run.lease_token or "", outcome, now=at(1))
    retrying = store.get_run("r1")
    assert retrying is not None
    assert (retrying.state, retrying.available_at, retrying.error) == (
        RunState.RETRYING,
        at(10),
        "boom",
    )
    assert retrying.finished_at is None
    assert store.claim_runs(worker="w", now=at(9), limit=1, lease_seconds=LEASE) == []
    again = claim_one(store, now=at(10))
    assert (again.id, again.attempt, again.started_at) == ("r1", 2, at(10))
    assert again.lease_token != run.lease_token


def test_released_run_is_queued_again_with_its_attempt_given_back(store: Store) -> None:
    run = start(store, make_run("r1"))
    outcome = Outcome(state=RunState.QUEUED)
    assert store.finish_run("r1", run.lease_token or "", outcome, now=at(3))
    released = store.get_run("r1")
    assert released is not None
    assert (released.state, released.available_at, released.attempt) == (RunState.QUEUED, at(3), 0)
    assert claim_one(store, now=at(3)).attempt == 1


def test_reclaim_expired_retries_when_attempts_remain(store: Store) -> None:
    start(store, make_run("r1", max_attempts=2))
    assert store.reclaim_expired(at(LEASE)) == []  # expired *before* now only
    [back] = store.reclaim_expired(at(LEASE + 1))
    assert (back.id, back.state, back.available_at) == ("r1", RunState.RETRYING, at(LEASE + 1))
    assert back.lease_token is None
    assert "lease expired" in (back.error or "")
    assert store.get_run("r1") == back
    assert claim_one(store, now=at(LEASE + 1)).attempt == 2


def test_reclaim_expired_fails_the_last_attempt(store: Store) -> None:
    start(store, make_run("r1", max_attempts=1))
    [back] = store.reclaim_expired(at(LEASE + 1))
    assert (back.state, back.finished_at) == (RunState.FAILED, at(LEASE + 1))
    assert store.reclaim_expired(at(LEASE + 2)) == []


def test_reclaim_expired_cancels_a_run_whose_cancel_was_requested(store: Store) -> None:
    start(store, make_run("r1", max_attempts=3))
    store.request_cancel("r1", now=at(1))
    [back] = store.reclaim_expired(at(LEASE + 1))
    assert back.state is RunState.CANCELLED


def test_reclaim_leaves_renewed_leases_alone(store: Store) -> None:
    run = start(store, make_run("r1"))
    store.renew_lease("r1", run.lease_token or "", now=at(20), lease_seconds=LEASE)
    assert store.reclaim_expired(at(LEASE + 1)) == []
    assert store.renew_lease("r1", run.lease_token or "", now=at(21), lease_seconds=LEASE) is (
        LeaseStatus.OK
    )


def test_reclaimed_lease_token_is_dead(store: Store) -> None:
    run = start(store, make_run("r1", max_attempts=2))
    store.reclaim_expired(at(LEASE + 1))
    token = run.lease_token or ""
    assert store.renew_lease("r1", token, now=at(50), lease_seconds=1) is LeaseStatus.LOST
    assert store.finish_run("r1", token, ok(), now=at(50)) is False


def test_checkpoint_and_progress_survive_a_retry(store: Store) -> None:
    run = start(store, make_run("r1", max_attempts=2))
    token = run.lease_token or ""
    assert store.save_progress("r1", token, checkpoint={"page": 7}, done=7, total=10)
    assert store.save_progress("r1", token, done=8)
    saved = store.get_run("r1")
    assert saved is not None
    assert (saved.checkpoint, saved.progress_done, saved.progress_total) == ({"page": 7}, 8, 10)
    store.finish_run("r1", token, Outcome(state=RunState.RETRYING), now=at(1))
    again = claim_one(store, now=at(1))
    assert again.checkpoint == {"page": 7}


def test_checkpoint_may_be_reset_to_none(store: Store) -> None:
    run = start(store, make_run("r1"))
    token = run.lease_token or ""
    store.save_progress("r1", token, checkpoint=[1])
    assert store.save_progress("r1", token, checkpoint=None)
    assert store.get_run("r1").checkpoint is None  # type: ignore[union-attr]


def test_save_progress_needs_the_lease(store: Store) -> None:
    run = start(store, make_run("r1"))
    assert store.save_progress("r1", "stolen", checkpoint=1) is False
    assert store.save_progress("nope", "stolen", checkpoint=1) is False
    assert store.get_run("r1") == run


def test_next_available_at(store: Store) -> None:
    assert store.next_available_at() is None
    store.insert_runs(
        [
            make_run("a", available=30, queue="mail"),
            make_run("b", available=10),
            make_run("c", available=-99, state=RunState.WAITING),
        ]
    )
    assert store.next_available_at() == at(10)
    assert store.next_available_at(["mail"]) == at(30)
    assert store.next_available_at(["none"]) is None
    claim_one(store, now=at(10))
    assert store.next_available_at() == at(30)
