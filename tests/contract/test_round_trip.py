"""Contract: what goes in comes out: JSON fields and aware UTC datetimes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest

from rota.errors import InvalidArguments, NaiveDatetime
from rota.runs import Run, RunOptions, RunState
from rota.stores.base import Outcome, Store

from .support import NOW, at, claim_one, make_run, make_schedule, start

NESTED: Any = {
    "unicode": 'Grüße, 東京 🚀 \u0000 \\ "',
    "floats": [0.1, 1e-300, 1.7976931348623157e308, -0.0, 3.0],
    "ints": [0, -1, 2**62],
    "nested": {"a": [{"b": [None, True, False, ""]}], "": {}},
}


def test_json_fields_round_trip(store: Store) -> None:
    run = make_run("r1", args=(1, "two", [3.5], {"x": None}), kwargs=dict(NESTED))
    store.insert_run(run)
    got = store.get_run("r1")
    assert got == make_run("r1", args=(1, "two", [3.5], {"x": None}), kwargs=NESTED)
    assert got is not None
    assert repr(got.kwargs["floats"]) == repr(NESTED["floats"])


def test_result_and_checkpoint_round_trip(store: Store) -> None:
    run = start(store, make_run("r1"))
    token = run.lease_token or ""
    store.save_progress("r1", token, checkpoint=NESTED, done=0.5, total=1.25)
    store.finish_run("r1", token, Outcome(state=RunState.SUCCEEDED, result=NESTED), now=at(1))
    got = store.get_run("r1")
    assert got is not None
    assert (got.result, got.checkpoint) == (NESTED, NESTED)
    assert (got.progress_done, got.progress_total) == (0.5, 1.25)


def test_every_run_field_round_trips(store: Store) -> None:
    run = Run(
        id="full",
        job="pkg.mod:fn",
        state=RunState.QUEUED,
        created_at=NOW,
        available_at=NOW,
        schedule="sched",
        slot=at(-60),
        args=("a",),
        kwargs={"k": 1},
        queue="q",
        priority=-3,
        options=RunOptions(
            timeout=1.5, max_attempts=4, backoff=2.0, max_backoff=9, isolated=True, exclusive=True
        ),
        host="web-1",
        manual=True,
        parents=("p1", "p2"),
        log="line\n",
        error="old",
    )
    store.insert_run(run)
    assert store.get_run("full") == run


def test_datetimes_come_back_aware_utc_and_equal(store: Store) -> None:
    tokyo = timezone(timedelta(hours=9))
    slot = datetime(2030, 6, 1, 9, 0, 0, 123456, tzinfo=tokyo)
    store.insert_run(make_run("r1", slot=slot))
    got = store.get_run("r1")
    assert got is not None
    assert got.slot == slot
    assert got.slot is not None
    assert got.slot.tzinfo is UTC
    assert str(got.slot) == "2030-06-01 00:00:00.123456+00:00"
    claimed = claim_one(store, now=NOW.astimezone(tokyo))
    assert claimed.started_at is not None
    assert claimed.started_at.tzinfo is UTC
    assert claimed.started_at == NOW


def test_schedule_round_trips_with_utc_datetimes(store: Store) -> None:
    plus2 = timezone(timedelta(hours=2))
    record = make_schedule(
        "s", spec=NESTED, source="dynamic", last_slot=datetime(2030, 1, 1, 14, tzinfo=plus2)
    )
    saved = store.save_schedule(record, expected_version=None)
    got = store.get_schedule("s")
    assert got == saved == record.evolve(version=1)
    assert got is not None
    for value in (got.created_at, got.updated_at, got.last_slot, got.next_due):
        assert value is not None
        assert value.tzinfo is UTC


def test_stored_json_is_a_private_copy(store: Store) -> None:
    kwargs: dict[str, Any] = {"items": [1]}
    store.insert_run(make_run("r1", kwargs=kwargs))
    kwargs["items"].append(2)
    assert store.get_run("r1").kwargs == {"items": [1]}  # type: ignore[union-attr]


def test_non_json_arguments_are_refused_before_anything_is_stored(store: Store) -> None:
    with pytest.raises(InvalidArguments, match="r1"):
        store.insert_run(make_run("r1", kwargs={"when": NOW}))
    with pytest.raises(InvalidArguments):
        store.insert_run(make_run("r1", args=(float("nan"),)))
    assert store.get_run("r1") is None


def test_naive_now_is_refused(store: Store) -> None:
    with pytest.raises(NaiveDatetime):
        store.claim_runs(worker="w", now=datetime(2030, 1, 1), limit=1, lease_seconds=1)
    with pytest.raises(NaiveDatetime):
        store.due_schedules(datetime(2030, 1, 1), 1)
