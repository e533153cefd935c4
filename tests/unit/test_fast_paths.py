"""The fast paths of ``slot_key`` and ``Run.__post_init__`` agree with the general ones."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from rota.runs import Run, RunOptions, RunState, slot_key

PLUS_2 = timezone(timedelta(hours=2))


@pytest.mark.parametrize(
    "slot",
    [
        datetime(2026, 11, 23, 9, 30, tzinfo=UTC),
        datetime(2026, 1, 2, 3, 4, 5, 6, tzinfo=UTC),
        datetime(2026, 1, 1, 1, 0, tzinfo=PLUS_2),
        datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(1000, 1, 1, tzinfo=UTC),
        datetime(999, 12, 31, 23, 59, 59, 5, tzinfo=UTC),
    ],
)
def test_slot_key_is_what_strftime_gives(slot: datetime) -> None:
    utc = slot.astimezone(UTC)
    fmt = "%Y-%m-%dT%H:%M:%S.%fZ" if utc.microsecond else "%Y-%m-%dT%H:%M:%SZ"
    assert slot_key(slot) == utc.strftime(fmt)


def test_slot_keys_kept_stay_right_and_bounded() -> None:
    from rota import runs

    start = datetime(2026, 3, 29, 0, 0, tzinfo=UTC)
    slots = [start + timedelta(seconds=k) for k in range(runs._SLOT_KEYS_KEPT + 10)]
    first = [slot_key(slot) for slot in slots]
    again = [slot_key(slot) for slot in reversed(slots)]
    assert first == again[::-1] == [s.strftime("%Y-%m-%dT%H:%M:%SZ") for s in slots]
    assert len(runs._SLOT_KEYS) <= runs._SLOT_KEYS_KEPT
    # An equal instant in another zone, after its UTC twin was kept: the same key.
    assert slot_key(start.astimezone(PLUS_2)) == "2026-03-29T00:00:00Z"


def _run(**changes: object) -> Run:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    fields: dict[str, object] = {
        "id": "r1",
        "job": "j",
        "state": RunState.QUEUED,
        "created_at": at,
        "available_at": at,
        "slot": at,
        "options": RunOptions(),
    }
    fields.update(changes)
    return Run(**fields)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "name", ["created_at", "available_at", "slot", "started_at", "finished_at", "lease_expires_at"]
)
def test_run_converts_each_datetime_to_utc(name: str) -> None:
    local = datetime(2026, 1, 1, 3, 0, tzinfo=PLUS_2)
    run = _run(**{name: local})
    value = getattr(run, name)
    assert value.tzinfo is UTC
    assert value == local


def test_run_keeps_utc_datetimes_as_given() -> None:
    at = datetime(2026, 1, 1, tzinfo=UTC)
    run = _run(created_at=at, slot=None)
    assert run.created_at is at
    assert run.slot is None
