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
