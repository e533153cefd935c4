"""The run record, its states and the legal transitions between them.

A run is one execution record for one slot of one schedule (or one manual
trigger). It is the unit that is stored, queued, leased, retried and shown.
Its id is derived from (schedule, slot[, host]) so that every scheduler
instance computes the same id and the store can insert it only if absent:
that is the whole of "exactly one run per slot".
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, datetime
from enum import StrEnum
from types import MappingProxyType
from typing import Any

from rota.errors import IllegalTransition, NaiveDatetime

JSON = Any
"""A value that survives ``json.dumps`` / ``json.loads`` unchanged."""
_NO_PINGS: Mapping[str, tuple[str, ...]] = MappingProxyType({})


class RunState(StrEnum):
    """Where a run is in its life. The string values are stored."""

    WAITING = "waiting"
    """Created, waiting for its parents' runs for the same slot (``after``)."""
    QUEUED = "queued"
    """Ready to be claimed once ``available_at`` has passed."""
    RUNNING = "running"
    """Claimed by a worker that holds its lease."""
    RETRYING = "retrying"
    """An attempt failed; claimable again at ``available_at`` (backoff)."""
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    TIMED_OUT = "timed_out"
    CANCELLED = "cancelled"
    SKIPPED = "skipped"
    """Not run: the schedule's previous run was still active (overlap skip)."""
    MISSED = "missed"
    """Not run: the slot passed while nothing was scheduling (catch-up policy)."""
    UPSTREAM_FAILED = "upstream_failed"
    """Not run: a parent's run for the same slot finally failed."""

    @property
    def is_terminal(self) -> bool:
        return self in TERMINAL_STATES

    @property
    def is_active(self) -> bool:
        return self in ACTIVE_STATES


TERMINAL_STATES = frozenset(
    {
        RunState.SUCCEEDED,
        RunState.FAILED,
        RunState.TIMED_OUT,
        RunState.CANCELLED,
        RunState.SKIPPED,
        RunState.MISSED,
        RunState.UPSTREAM_FAILED,
    }
)
ACTIVE_STATES = frozenset({RunState.QUEUED, RunState.RUNNING, RunState.RETRYING})
CLAIMABLE_STATES = frozenset({RunState.QUEUED, RunState.RETRYING})
INITIAL_STATES = frozenset({RunState.WAITING, RunState.QUEUED, RunState.SKIPPED, RunState.MISSED})

TRANSITIONS: Mapping[RunState, frozenset[RunState]] = {
    RunState.WAITING: frozenset({RunState.QUEUED, RunState.UPSTREAM_FAILED, RunState.CANCELLED}),
    RunState.QUEUED: frozenset({RunState.RUNNING, RunState.CANCELLED}),
    RunState.RETRYING: frozenset({RunState.RUNNING, RunState.CANCELLED}),
    RunState.RUNNING: frozenset(
        {
            RunState.SUCCEEDED,
            RunState.FAILED,
            RunState.TIMED_OUT,
            RunState.CANCELLED,
            RunState.RETRYING,
            RunState.QUEUED,  # released unstarted work on shutdown
        }
    ),
    # A finished run may be retried by an operator (``rota runs retry``).
    RunState.FAILED: frozenset({RunState.QUEUED}),
    RunState.TIMED_OUT: frozenset({RunState.QUEUED}),
    RunState.CANCELLED: frozenset({RunState.QUEUED}),
    RunState.UPSTREAM_FAILED: frozenset({RunState.QUEUED}),
    RunState.SUCCEEDED: frozenset({RunState.QUEUED}),
    RunState.SKIPPED: frozenset(),
    RunState.MISSED: frozenset(),
}


def check_transition(run_id: str, old: RunState, new: RunState) -> None:
    """Raise ``IllegalTransition`` unless ``old -> new`` is allowed."""
    if new not in TRANSITIONS[old]:
        allowed = ", ".join(sorted(TRANSITIONS[old])) or "nothing (final)"
        raise IllegalTransition(
            f"run {run_id!r} cannot go from {old} to {new} (allowed: {allowed})"
        )


@dataclass(frozen=True, slots=True)
class RunOptions:
    """What a worker needs to execute a run, copied from job and schedule at creation.

    Copying makes a queued run self-contained: a worker on another machine
    needs only the registered job, not the schedule that created the run.
    """

    timeout: float | None = None
    max_attempts: int = 1
    backoff: float = 1.0
    max_backoff: float = 300.0
    isolated: bool = False
    exclusive: bool = False
    """True for overlap ``skip``/``queue``: never two runs of the schedule at once."""
    pings: Mapping[str, tuple[str, ...]] = field(default_factory=lambda: _NO_PINGS, hash=False)
    """URLs to request by event (``before``, ``after``, ``success``, ``failure``), from the
    schedule's ``ping_before`` and the like; only events that have URLs are present.
    Read-only (options are shared between runs), and left out of the hash."""

    def __post_init__(self) -> None:
        if self.pings is not _NO_PINGS:  # read-only; lists (JSON) become tuples
            if not all(isinstance(urls, list | tuple) for urls in self.pings.values()):
                raise ValueError(f"pings must map events to lists of URLs, got {self.pings!r}")
            pings = {str(event): tuple(urls) for event, urls in self.pings.items() if urls}
            object.__setattr__(self, "pings", MappingProxyType(pings) if pings else _NO_PINGS)
        if self.timeout is not None and self.timeout <= 0:
            raise ValueError(f"timeout must be positive, got {self.timeout}")
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if self.backoff < 0 or self.max_backoff < 0:
            raise ValueError(
                f"backoff and max_backoff must not be negative, got {self.backoff}, "
                f"{self.max_backoff}"
            )

    def to_json(self) -> dict[str, JSON]:
        data: dict[str, JSON] = {
            "timeout": self.timeout,
            "max_attempts": self.max_attempts,
            "backoff": self.backoff,
            "max_backoff": self.max_backoff,
            "isolated": self.isolated,
            "exclusive": self.exclusive,
        }
        if self.pings:  # left out when empty: the options of runs without pings are unchanged
            data["pings"] = {event: list(urls) for event, urls in self.pings.items()}
        return data

    @classmethod
    def from_json(cls, data: Mapping[str, JSON]) -> RunOptions:
        return cls(**{k: v for k, v in data.items() if k in cls.__dataclass_fields__})


def _utc(dt: datetime | None, what: str) -> datetime | None:
    return None if dt is None else _to_utc(dt, what)


def _to_utc(dt: datetime, what: str) -> datetime:
    if dt.tzinfo is None:
        raise NaiveDatetime(what)
    return dt.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Run:
    """One execution record. Every datetime is aware UTC (enforced)."""

    id: str
    job: str
    state: RunState
    created_at: datetime
    available_at: datetime
    schedule: str | None = None
    slot: datetime | None = None
    args: tuple[JSON, ...] = ()
    kwargs: Mapping[str, JSON] = field(default_factory=dict)
    queue: str = "default"
    priority: int = 0
    options: RunOptions = field(default_factory=RunOptions)
    attempt: int = 0
    host: str | None = None
    manual: bool = False
    parents: tuple[str, ...] = ()
    """Run ids this run waits for (``after``)."""
    started_at: datetime | None = None
    finished_at: datetime | None = None
    worker: str | None = None
    lease_token: str | None = None
    lease_expires_at: datetime | None = None
    cancel_requested: bool = False
    result: JSON = None
    error: str | None = None
    traceback: str | None = None
    log: str = ""
    checkpoint: JSON = None
    progress_done: float | None = None
    progress_total: float | None = None

    def __post_init__(self) -> None:
        # The common case, checked without a loop: every datetime already UTC.
        c, a, s = self.created_at, self.available_at, self.slot
        if (
            (c is None or c.tzinfo is UTC)
            and (a is None or a.tzinfo is UTC)
            and (s is None or s.tzinfo is UTC)
            and self.started_at is None
            and self.finished_at is None
            and self.lease_expires_at is None
        ):
            return
        for name in (
            "created_at",
            "available_at",
            "slot",
            "started_at",
            "finished_at",
            "lease_expires_at",
        ):
            value = getattr(self, name)
            if value is not None and value.tzinfo is not UTC:
                object.__setattr__(self, name, _utc(value, f"Run.{name}"))

    @property
    def duration(self) -> float | None:
        """Seconds from start to finish of the last attempt, if both are known."""
        if self.started_at is None or self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()

    def evolve(self, **changes: Any) -> Run:
        """A copy with ``changes``; a state change must be a legal transition."""
        new_state = changes.get("state")
        if new_state is not None and new_state != self.state:
            check_transition(self.id, self.state, RunState(new_state))
        return replace(self, **changes)


_SETTERS = tuple(getattr(Run, f.name).__set__ for f in fields(Run))
"""The slots' own setters, in field order: what ``scheduled_run`` fills a ``Run`` with
(it unpacks exactly 29: a field added to ``Run`` must be added there too)."""


def scheduled_run(
    run_id: str,
    job: str,
    state: RunState,
    now: datetime,
    available_at: datetime,
    schedule: str,
    slot: datetime,
    args: tuple[JSON, ...],
    kwargs: Mapping[str, JSON],
    queue: str,
    priority: int,
    options: RunOptions,
    host: str | None,
    parents: tuple[str, ...],
    error: str | None,
) -> Run:
    """``Run(...)`` of a run a scheduler just planned (created now, attempt 0, finished
    now when ``state`` is final), built at a third of the cost: a tick builds a
    thousand, and the frozen dataclass's ``__init__`` sets its 29 fields one
    ``object.__setattr__`` call at a time. Here each slot's own setter is
    called, unrolled (a loop over them cost a third more). Datetimes are
    checked (and converted to UTC) as ``Run.__post_init__`` does."""
    if now.tzinfo is not UTC:
        now = _to_utc(now, "Run.created_at")
    if available_at.tzinfo is not UTC:
        available_at = _to_utc(available_at, "Run.available_at")
    if slot.tzinfo is not UTC:
        slot = _to_utc(slot, "Run.slot")
    (
        s_id,
        s_job,
        s_state,
        s_created_at,
        s_available_at,
        s_schedule,
        s_slot,
        s_args,
        s_kwargs,
        s_queue,
        s_priority,
        s_options,
        s_attempt,
        s_host,
        s_manual,
        s_parents,
        s_started_at,
        s_finished_at,
        s_worker,
        s_lease_token,
        s_lease_expires_at,
        s_cancel_requested,
        s_result,
        s_error,
        s_traceback,
        s_log,
        s_checkpoint,
        s_progress_done,
        s_progress_total,
    ) = _SETTERS
    run = object.__new__(Run)
    s_id(run, run_id)
    s_job(run, job)
    s_state(run, state)
    s_created_at(run, now)
    s_available_at(run, available_at)
    s_schedule(run, schedule)
    s_slot(run, slot)
    s_args(run, args)
    s_kwargs(run, kwargs)
    s_queue(run, queue)
    s_priority(run, priority)
    s_options(run, options)
    s_attempt(run, 0)
    s_host(run, host)
    s_manual(run, False)
    s_parents(run, parents)
    s_started_at(run, None)
    s_finished_at(run, now if state.is_terminal else None)
    s_worker(run, None)
    s_lease_token(run, None)
    s_lease_expires_at(run, None)
    s_cancel_requested(run, False)
    s_result(run, None)
    s_error(run, error)
    s_traceback(run, None)
    s_log(run, "")
    s_checkpoint(run, None)
    s_progress_done(run, None)
    s_progress_total(run, None)
    return run


_SLOT_KEYS: dict[datetime, str] = {}
_SLOT_KEYS_KEPT = 4096


def slot_key(slot: datetime) -> str:
    """The canonical text of a slot: UTC, second precision or finer, 'Z' suffix.

    Kept for the last few thousand UTC slots: a tick's runs share a few
    slots, and a dictionary lookup costs a fifth of formatting one.
    """
    if slot.tzinfo is UTC:
        found = _SLOT_KEYS.get(slot)
        if found is None:
            found = _format_slot(slot)
            if len(_SLOT_KEYS) >= _SLOT_KEYS_KEPT:
                _SLOT_KEYS.clear()
            _SLOT_KEYS[slot] = found
        return found
    return _format_slot(slot.astimezone(UTC))


def _format_slot(utc: datetime) -> str:
    if utc.year < 1000:  # strftime's %Y does not pad to four digits everywhere
        fmt = "%Y-%m-%dT%H:%M:%S.%fZ" if utc.microsecond else "%Y-%m-%dT%H:%M:%SZ"
        return utc.strftime(fmt)
    # What strftime gives, from the C isoformat: "...+00:00" in UTC.
    return utc.isoformat()[:-6] + "Z"


def run_id_for(schedule: str, slot: datetime, host: str | None = None) -> str:
    """The deterministic id of ``schedule``'s run for ``slot`` (and ``host``).

    Every instance of every mode computes the same id for the same slot;
    the store's insert-if-absent on this id is what makes a slot fire once.
    """
    if slot.tzinfo is None:
        raise NaiveDatetime("slot")
    import hashlib  # here: declaring an app need not load OpenSSL

    key = f"{schedule}\x00{slot_key(slot)}\x00{host or ''}"
    return "r" + hashlib.blake2b(key.encode(), digest_size=10).hexdigest()


def manual_run_id() -> str:
    """A fresh id for a run that no slot produced (``rota trigger``, tests)."""
    import uuid  # here: it loads ``platform``, which nothing else on ``rota run`` needs

    return "m" + uuid.uuid4().hex[:20]
