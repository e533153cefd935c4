"""Contract: a per-host run (``host`` set, from ``on_each_server``) goes only
to a claim by its own host; a run with no host goes to any claim.

A caller passing ``host=None`` gets no per-host run at all, whatever queues
it names: it does not say where it runs, so it cannot take work pinned to
a machine. ``next_available_at`` follows the same rules.
"""

from __future__ import annotations

from collections import Counter
from datetime import datetime
from typing import Any

from rota.runs import Run, RunState
from rota.stores.base import Outcome, Store

from .support import LEASE, NOW, at, make_run, ok
from .test_concurrency import THREADS, _together


def hosted(run_id: str, host: str, **changes: Any) -> Run:
    """A run of ``host``'s own, on its ``<queue>@<host>`` queue as the scheduler makes it."""
    return make_run(run_id, host=host, queue=f"default@{host}", **changes)


def claim(
    store: Store,
    host: str | None,
    *,
    limit: int = 10,
    now: datetime = NOW,
    queues: list[str] | None = None,
) -> list[str]:
    runs = store.claim_runs(
        worker=f"w-{host}", now=now, limit=limit, lease_seconds=LEASE, queues=queues, host=host
    )
    return [run.id for run in runs]


def test_a_per_host_run_goes_only_to_its_host(store: Store) -> None:
    store.insert_run(hosted("backup@a", "a"))
    assert claim(store, "b") == []
    assert claim(store, None) == []
    assert claim(store, "a") == ["backup@a"]
    got = store.get_run("backup@a")
    assert got is not None
    assert (got.state, got.worker, got.host) == (RunState.RUNNING, "w-a", "a")


def test_a_run_without_host_goes_to_anyone(store: Store) -> None:
    store.insert_runs([make_run("r1", available=-2), make_run("r2", available=-1), make_run("r3")])
    assert claim(store, None, limit=1) == ["r1"]
    assert claim(store, "a", limit=1) == ["r2"]
    assert claim(store, "b", limit=1) == ["r3"]


def test_host_none_gets_no_per_host_run_even_naming_its_queue(store: Store) -> None:
    store.insert_runs([hosted("h", "a"), make_run("any", queue="default@a")])
    assert claim(store, None, queues=["default@a"]) == ["any"]
    assert claim(store, "b", queues=["default@a"]) == []
    assert claim(store, "a", queues=["default@a"]) == ["h"]


def test_the_host_rule_is_by_the_runs_host_not_its_queue(store: Store) -> None:
    store.insert_runs(
        [make_run("pinned", host="a", queue="default"), make_run("free", queue="default@a")]
    )
    assert claim(store, "b") == ["free"]
    assert claim(store, "a") == ["pinned"]


def test_a_claim_skips_other_hosts_runs_and_keeps_claim_order(store: Store) -> None:
    store.insert_runs(
        [
            hosted("b-urgent", "b", priority=9),
            hosted("a-urgent", "a", priority=5),
            make_run("free-old", available=-5),
            hosted("b-old", "b", available=-9),
            hosted("a-new", "a", available=-1),
            make_run("free-new", available=0),
        ]
    )
    assert claim(store, "a", limit=3) == ["a-urgent", "free-old", "a-new"]
    assert claim(store, "a") == ["free-new"]
    assert claim(store, "b") == ["b-urgent", "b-old"]
    assert claim(store, "a") == claim(store, "b") == claim(store, None) == []


def test_the_limit_counts_only_what_is_taken(store: Store) -> None:
    store.insert_runs([hosted(f"b{i}", "b", available=-10 + i) for i in range(5)])
    store.insert_runs([hosted("a0", "a"), make_run("free")])
    assert claim(store, "a", limit=2) == ["a0", "free"]


def test_host_and_queues_filter_together(store: Store) -> None:
    store.insert_runs(
        [
            hosted("a-default", "a", available=-3),
            make_run("a-io", host="a", queue="io@a", available=-2),
            hosted("b-default", "b", available=-1),
            make_run("mail", queue="mail"),
            make_run("io", queue="io"),
        ]
    )
    assert claim(store, "a", queues=["io", "io@a", "io@b"]) == ["a-io", "io"]
    assert claim(store, "a", queues=["default@b", "mail"]) == ["mail"]
    assert claim(store, "a", queues=[]) == []
    assert claim(store, "b", queues=["default@a", "default@b"]) == ["b-default"]
    assert claim(store, "a", queues=["default@a"]) == ["a-default"]


def test_another_hosts_exclusive_run_does_not_block_a_claim(store: Store) -> None:
    """Passed over, it is not taken: this claim's own exclusive run of the
    same schedule right behind it is still claimable."""
    store.insert_runs(
        [
            hosted("x@b", "b", exclusive=True, available=-2),
            hosted("x@a", "a", exclusive=True, available=-1),
        ]
    )
    assert claim(store, "a") == ["x@a"]


def test_exclusive_rules_still_hold_within_a_host(store: Store) -> None:
    store.insert_runs(
        [
            hosted("x1", "a", exclusive=True, available=-3),
            hosted("x2", "a", exclusive=True, available=-2),
            hosted("y1", "a", schedule="y", exclusive=True, available=-1),
        ]
    )
    assert claim(store, "a") == ["x1", "y1"]
    assert claim(store, "a") == []  # x2 waits while x1 runs
    x1 = store.get_run("x1")
    assert x1 is not None
    assert x1.lease_token is not None
    assert store.finish_run("x1", x1.lease_token, ok(), now=NOW)
    assert claim(store, "b") == claim(store, None) == []
    assert claim(store, "a") == ["x2"]


def test_a_per_host_run_stays_pinned_through_retries_and_releases(store: Store) -> None:
    store.insert_run(hosted("r", "a", max_attempts=5))
    for outcome in (
        Outcome(state=RunState.RETRYING, error="boom"),
        Outcome(state=RunState.QUEUED),
    ):
        (taken,) = store.claim_runs(worker="w-a", now=NOW, limit=1, lease_seconds=LEASE, host="a")
        assert store.finish_run("r", taken.lease_token or "", outcome, now=NOW)
        assert claim(store, "b") == claim(store, None) == []
    assert claim(store, "a") == ["r"]
    # A lapsed lease brings it back for its own host only, too.
    reclaimed = store.reclaim_expired(at(LEASE + 1))
    assert [(r.id, r.state, r.host) for r in reclaimed] == [("r", RunState.RETRYING, "a")]
    assert claim(store, "b", now=at(LEASE + 1)) == []
    assert claim(store, "a", now=at(LEASE + 1)) == ["r"]


def test_next_available_at_follows_the_host_rule(store: Store) -> None:
    store.insert_runs(
        [
            hosted("b-soon", "b", available=10),
            hosted("a-later", "a", available=20),
            make_run("free-last", available=30),
        ]
    )
    assert store.next_available_at(host="b") == at(10)
    assert store.next_available_at(host="a") == at(20)
    assert store.next_available_at(host="c") == at(30)
    assert store.next_available_at() == at(30)
    assert store.next_available_at(["default@b"], host="a") is None
    assert store.next_available_at(["default@b"], host="b") == at(10)
    assert store.next_available_at(["default@a", "default"], host="a") == at(20)
    assert store.next_available_at(["default@a"]) is None


def test_next_available_at_looks_past_other_hosts_runs_of_one_queue(store: Store) -> None:
    """Many runs of another host ahead of one of ours, all on one queue."""
    store.insert_runs(
        [make_run(f"b{i:03}", host="b", available=i) for i in range(150)]
        + [make_run("a", host="a", available=500), make_run("free", available=600)]
    )
    assert store.next_available_at(host="a") == at(500)
    assert store.next_available_at(["default"], host="a") == at(500)
    assert store.next_available_at(["default"]) == at(600)
    assert store.next_available_at(["default"], host="b") == at(0)


def test_concurrent_claims_of_many_hosts_each_take_only_their_own(store: Store) -> None:
    hosts = [f"h{i}" for i in range(THREADS)]
    runs = [hosted(f"{h}-{n:02}", h, available=-n) for h in hosts for n in range(12)]
    runs += [make_run(f"free-{n:02}", available=-n) for n in range(40)]
    store.insert_runs(runs)

    def drain(i: int) -> list[Run]:
        mine: list[Run] = []
        while got := store.claim_runs(
            worker=hosts[i], now=NOW, limit=3, lease_seconds=LEASE, host=hosts[i]
        ):
            mine += got
        return mine

    claimed = [run for batch in _together(drain) for run in batch]
    counts = Counter(run.id for run in claimed)
    assert sorted(counts) == sorted(run.id for run in runs)
    assert set(counts.values()) == {1}
    for run in claimed:
        if run.host is not None:
            assert run.worker == run.host, run
    for run in runs:
        stored = store.get_run(run.id)
        assert stored is not None
        assert stored.state is RunState.RUNNING
        assert run.host is None or stored.worker == run.host
