"""Run states, transitions, deterministic ids and validation."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from rota.errors import IllegalTransition, NaiveDatetime
from rota.runs import (
    ACTIVE_STATES,
    CLAIMABLE_STATES,
    TERMINAL_STATES,
    TRANSITIONS,
    Run,
    RunOptions,
    RunState,
    check_transition,
    manual_run_id,
    run_id_for,
    slot_key,
)

S = RunState
LEGAL = {
    (S.WAITING, S.QUEUED),
    (S.WAITING, S.UPSTREAM_FAILED),
    (S.WAITING, S.CANCELLED),
    (S.QUEUED, S.RUNNING),
    (S.QUEUED, S.CANCELLED),
    (S.RETRYING, S.RUNNING),
    (S.RETRYING, S.CANCELLED),
    (S.RUNNING, S.SUCCEEDED),
    (S.RUNNING, S.FAILED),
    (S.RUNNING, S.TIMED_OUT),
    (S.RUNNING, S.CANCELLED),
    (S.RUNNING, S.RETRYING),
    (S.RUNNING, S.QUEUED),
    (S.FAILED, S.QUEUED),
    (S.TIMED_OUT, S.QUEUED),
    (S.CANCELLED, S.QUEUED),
    (S.UPSTREAM_FAILED, S.QUEUED),
    (S.SUCCEEDED, S.QUEUED),
}
ALL_PAIRS = list(itertools.product(RunState, RunState))
SLOT = datetime(2030, 3, 30, 1, 30, tzinfo=UTC)


def test_every_state_has_a_transition_row() -> None:
    assert set(TRANSITIONS) == set(RunState)


@pytest.mark.parametrize(("old", "new"), sorted(LEGAL))
def test_legal_transition(old: RunState, new: RunState) -> None:
    check_transition("r", old, new)


@pytest.mark.parametrize(("old", "new"), sorted(set(ALL_PAIRS) - LEGAL))
def test_illegal_transition(old: RunState, new: RunState) -> None:
    with pytest.raises(IllegalTransition, match=f"'r' cannot go from {old} to {new}"):
        check_transition("r", old, new)


def test_final_states_say_so() -> None:
    with pytest.raises(IllegalTransition, match=r"allowed: nothing \(final\)"):
        check_transition("r", S.SKIPPED, S.QUEUED)


def test_state_groups() -> None:
    assert CLAIMABLE_STATES < ACTIVE_STATES
    assert not ACTIVE_STATES & TERMINAL_STATES
    assert {s for s in RunState if s.is_terminal} == TERMINAL_STATES
    assert {s for s in RunState if s.is_active} == ACTIVE_STATES
    assert S.WAITING not in ACTIVE_STATES | TERMINAL_STATES


def _run(**changes: object) -> Run:
    fields: dict[str, object] = {"created_at": SLOT, "available_at": SLOT} | changes
    return Run(id="r", job="j", state=S.QUEUED, **fields)  # type: ignore[arg-type]


def test_evolve_checks_the_transition() -> None:
    run = _run()
    assert run.evolve(state=S.RUNNING).state is S.RUNNING
    assert run.evolve(priority=3).priority == 3
    with pytest.raises(IllegalTransition):
        run.evolve(state=S.SUCCEEDED)


def test_run_datetimes_become_utc() -> None:
    tokyo = timezone(timedelta(hours=9))
    run = _run(created_at=SLOT.astimezone(tokyo), slot=SLOT.astimezone(tokyo))
    assert run.created_at.tzinfo is UTC
    assert run.slot is not None
    assert run.slot.tzinfo is UTC
    assert run.created_at == SLOT


@pytest.mark.parametrize("name", ["created_at", "available_at", "slot", "started_at"])
def test_run_refuses_naive_datetimes(name: str) -> None:
    with pytest.raises(NaiveDatetime, match=f"Run.{name} must be timezone-aware"):
        _run(**{name: datetime(2030, 1, 1)})


def test_duration() -> None:
    assert _run().duration is None
    run = _run(started_at=SLOT, finished_at=SLOT + timedelta(seconds=2.5))
    assert run.duration == 2.5


def test_run_id_is_deterministic() -> None:
    assert run_id_for("s", SLOT) == run_id_for("s", SLOT)
    assert run_id_for("s", SLOT) != run_id_for("t", SLOT)
    assert run_id_for("s", SLOT) != run_id_for("s", SLOT + timedelta(minutes=1))
    assert run_id_for("s", SLOT).startswith("r")


def test_run_id_pinned() -> None:
    # Changing this breaks exactly-once across a rolling upgrade: ids must not move.
    assert run_id_for("digest", datetime(2030, 1, 1, 7, 30, tzinfo=UTC)) == run_id_for(
        "digest", datetime(2030, 1, 1, 8, 30, tzinfo=timezone(timedelta(hours=1)))
    )
    assert len(run_id_for("digest", SLOT)) == 21


def test_run_id_is_the_same_for_one_instant_in_any_zone() -> None:
    berlin = SLOT.astimezone(ZoneInfo("Europe/Berlin"))
    new_york = SLOT.astimezone(ZoneInfo("America/New_York"))
    assert run_id_for("s", berlin) == run_id_for("s", new_york) == run_id_for("s", SLOT)


def test_run_id_depends_on_host() -> None:
    assert run_id_for("s", SLOT, "web-1") != run_id_for("s", SLOT, "web-2")
    assert run_id_for("s", SLOT, "web-1") != run_id_for("s", SLOT)
    assert run_id_for("s", SLOT, None) == run_id_for("s", SLOT, "")


def test_run_id_separates_schedule_from_host() -> None:
    assert run_id_for("a", SLOT, "b") != run_id_for("a\x00b", SLOT)


def test_run_id_refuses_a_naive_slot() -> None:
    with pytest.raises(NaiveDatetime, match="slot"):
        run_id_for("s", datetime(2030, 1, 1))


def test_slot_key() -> None:
    assert slot_key(SLOT) == "2030-03-30T01:30:00Z"
    assert slot_key(SLOT.replace(microsecond=5)) == "2030-03-30T01:30:00.000005Z"


def test_manual_run_ids_are_unique() -> None:
    ids = {manual_run_id() for _ in range(1000)}
    assert len(ids) == 1000
    assert all(i.startswith("m") for i in ids)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"timeout": 0}, "timeout must be positive"),
        ({"timeout": -1.5}, "timeout must be positive"),
        ({"max_attempts": 0}, "max_attempts must be at least 1"),
        ({"backoff": -1}, "must not be negative"),
        ({"max_backoff": -0.5}, "must not be negative"),
    ],
)
def test_run_options_validation(options: dict[str, float], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        RunOptions(**options)  # type: ignore[arg-type]


def test_run_options_json_round_trip_ignores_unknown_keys() -> None:
    options = RunOptions(timeout=3, max_attempts=2, exclusive=True)
    assert RunOptions.from_json(options.to_json()) == options
    assert RunOptions.from_json({**options.to_json(), "from_the_future": 1}) == options
