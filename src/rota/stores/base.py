"""The store contract: the one persistence and coordination boundary.

Everything above this module is written once; every backend (memory,
SQLite, PostgreSQL, Redis) implements exactly these methods, and one
contract test suite (tests/contract) runs unchanged against each of them.

Rules every backend follows:

* Every method is atomic: another process sees all of its effect or none.
* Nothing reads the clock: time arrives as ``now`` (aware UTC).
* Exactly-once is a constraint: ``insert_run`` inserts only if the id is
  absent; a lease is renewed, released or finished only by the holder of
  its token, never unconditionally.
* Records go in and come out as the frozen dataclasses ``Run`` and
  ``ScheduleRecord``; JSON fields round-trip unchanged.
"""

from __future__ import annotations

import threading
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import datetime
from enum import StrEnum
from typing import Any, Literal, NamedTuple, overload

from rota.runs import JSON, Run, RunState

ScheduleSource = Literal["code", "dynamic"]


@dataclass(frozen=True, slots=True)
class ScheduleRecord:
    """A schedule as the store keeps it.

    ``spec`` is ``Schedule.to_spec()``: job, arguments, trigger and policies
    as JSON, so any process can rebuild the schedule without the code that
    declared it. ``last_slot``/``next_due`` are the scheduler's progress;
    ``version`` increases on every write and guards compare-and-set.
    """

    name: str
    job: str
    spec: Mapping[str, JSON]
    created_at: datetime
    updated_at: datetime
    source: ScheduleSource = "code"
    paused: bool = False
    retired: bool = False
    last_slot: datetime | None = None
    next_due: datetime | None = None
    version: int = 0
    per_host: bool = False
    """An ``on_each_server`` schedule: ``list_schedules(per_host=True)`` finds
    it without reading every schedule (each host keeps its own progress)."""

    @property
    def active(self) -> bool:
        """Fires when due: neither paused nor retired."""
        return not (self.paused or self.retired)

    def evolve(self, **changes: Any) -> ScheduleRecord:
        return replace(self, **changes)


_RECORD_SETTERS = tuple(getattr(ScheduleRecord, f.name).__set__ for f in fields(ScheduleRecord))


def stored_record(
    name: str,
    job: str,
    spec: Mapping[str, JSON],
    created_at: datetime,
    updated_at: datetime,
    source: ScheduleSource,
    paused: bool,
    retired: bool,
    last_slot: datetime | None,
    next_due: datetime | None,
    version: int,
    per_host: bool,
) -> ScheduleRecord:
    """``ScheduleRecord(...)`` of a row a store read, at half the cost: a tick reads a
    thousand, and the frozen dataclass's ``__init__`` sets each field through
    ``object.__setattr__``; this calls each slot's own setter (exactly 12: a
    field added to ``ScheduleRecord`` must be added here too)."""
    (
        s_name,
        s_job,
        s_spec,
        s_created_at,
        s_updated_at,
        s_source,
        s_paused,
        s_retired,
        s_last_slot,
        s_next_due,
        s_version,
        s_per_host,
    ) = _RECORD_SETTERS
    record = object.__new__(ScheduleRecord)
    s_name(record, name)
    s_job(record, job)
    s_spec(record, spec)
    s_created_at(record, created_at)
    s_updated_at(record, updated_at)
    s_source(record, source)
    s_paused(record, paused)
    s_retired(record, retired)
    s_last_slot(record, last_slot)
    s_next_due(record, next_due)
    s_version(record, version)
    s_per_host(record, per_host)
    return record


@dataclass(frozen=True, slots=True)
class Advance:
    """One item of ``advance_schedules``: the arguments of one ``advance_schedule``."""

    name: str
    expected_version: int
    last_slot: datetime | None
    next_due: datetime | None


def _refuse_naive(advances: Sequence[Advance]) -> None:
    """``NaiveDatetime`` for the first naive datetime of ``advances``, before any write."""
    from rota.stores import _codec  # imports this module

    for a in advances:
        for value, what in ((a.last_slot, "last_slot"), (a.next_due, "next_due")):
            if value is not None:
                _codec.utc(value, what)


FireBatch = tuple[Sequence[Run], Sequence[Advance]]
"""What ``Store.fire_batches`` fires at a time: ``fire``'s arguments."""


class DueSchedules(NamedTuple):
    """What a scheduler tick reads first (``Store.due_for_tick``)."""

    records: Sequence[ScheduleRecord]
    """What ``due_schedules`` returns, in its order. A backend may decode each
    record when it is first read, so that the tick plans its first schedules
    (and the server writes their runs) while the rest are still rows."""
    busy: frozenset[str] | None
    """Of the records' own names, those with a queued, retrying or running run
    as they were read; None when the backend did not look (the scheduler
    then asks ``active_runs_for`` about every record)."""


class DecodedOnRead(Sequence[ScheduleRecord]):
    """Records decoded from their rows when first read: ``DueSchedules.records`` of a
    backend whose rows cost more to decode than to fetch (a thousand specs to parse
    before a tick could plan its first schedule)."""

    __slots__ = ("_decode", "_done", "_rows")

    def __init__(self, rows: Sequence[Any], decode: Callable[[Any], ScheduleRecord]) -> None:
        self._rows = rows
        self._decode = decode
        self._done: list[ScheduleRecord | None] = [None] * len(rows)

    def __len__(self) -> int:
        return len(self._rows)

    @overload
    def __getitem__(self, index: int) -> ScheduleRecord: ...

    @overload
    def __getitem__(self, index: slice) -> list[ScheduleRecord]: ...

    def __getitem__(self, index: int | slice) -> ScheduleRecord | list[ScheduleRecord]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self._rows)))]
        record = self._done[index]
        if record is None:
            record = self._done[index] = self._decode(self._rows[index])
        return record


class LeaseStatus(StrEnum):
    """What a heartbeat learns about the lease it renews."""

    OK = "ok"
    CANCEL_REQUESTED = "cancel_requested"
    """Renewed, but an operator asked to cancel: stop the job."""
    LOST = "lost"
    """Not renewed: the token no longer owns the run (reclaimed, finished)."""


class _Unset:
    """Marker for 'argument not given' where None is a legal value."""

    def __repr__(self) -> str:
        return "UNSET"


UNSET: Any = _Unset()


@dataclass(frozen=True, slots=True)
class Outcome:
    """How an attempt ended, as the worker reports it to ``finish_run``."""

    state: RunState
    result: JSON = None
    error: str | None = None
    traceback: str | None = None
    log: str = ""
    available_at: datetime | None = None
    """For ``RETRYING`` and ``QUEUED`` (released): when it may be claimed again."""
    extra: Mapping[str, JSON] = field(default_factory=dict)


FINISH_STATES = frozenset(
    {
        RunState.SUCCEEDED,
        RunState.FAILED,
        RunState.TIMED_OUT,
        RunState.CANCELLED,
        RunState.RETRYING,
        RunState.QUEUED,
    }
)


class Store(ABC):
    """The contract. Subclasses must be safe to share between threads."""

    url: str = ""

    def __init__(self) -> None:
        self._activity = threading.Event()

    # -- lifecycle -------------------------------------------------------

    @abstractmethod
    def migrate(self) -> None:
        """Create or upgrade the schema to the current version; idempotent.

        Safe to call from many processes at once: exactly one applies each
        migration, the others wait for it.
        """

    @abstractmethod
    def close(self) -> None:
        """Release connections and threads. The store is unusable after."""

    # -- schedules -------------------------------------------------------

    @abstractmethod
    def get_schedule(self, name: str) -> ScheduleRecord | None:
        """The stored schedule named ``name``, or None."""

    @abstractmethod
    def list_schedules(
        self,
        *,
        include_retired: bool = False,
        after: str | None = None,
        limit: int | None = None,
        per_host: bool | None = None,
    ) -> list[ScheduleRecord]:
        """Schedules ordered by name, those with name > ``after``, at most ``limit``.

        ``per_host`` True lists only the records with ``per_host`` set (read
        from an index of their own: cheap however many other schedules
        there are), False only the others, None (default) all.
        """

    def iter_schedules(
        self, *, include_retired: bool = False, per_host: bool | None = None, page: int = 500
    ) -> Iterator[ScheduleRecord]:
        """Every schedule ``list_schedules`` would list, by name, fetched ``page`` at a time
        so a million schedules are never in memory at once."""
        after: str | None = None
        while True:
            batch = self.list_schedules(
                include_retired=include_retired, after=after, limit=page, per_host=per_host
            )
            yield from batch
            if len(batch) < page:
                return
            after = batch[-1].name

    @abstractmethod
    def save_schedule(
        self, record: ScheduleRecord, *, expected_version: int | None
    ) -> ScheduleRecord | None:
        """Write ``record`` if the stored version is ``expected_version``.

        ``expected_version=None`` means "must not exist yet" (insert).
        On success returns the record as stored, with ``version`` one more
        than before (1 for an insert); on conflict returns None and changes
        nothing.
        """

    @abstractmethod
    def advance_schedule(
        self,
        name: str,
        *,
        expected_version: int,
        last_slot: datetime | None,
        next_due: datetime | None,
    ) -> bool:
        """Record the scheduler's progress if the version still matches.

        Bumps the version. False (and no change) when another writer got
        there first; the runs already inserted stay correct either way,
        because their ids are deterministic.
        """

    def advance_schedules(self, advances: Sequence[Advance]) -> list[bool]:
        """``advance_schedule`` for each item, in order: one result per item.

        Each item is its own compare-and-set, exactly as if the calls were made
        one after another (an item whose name came earlier in the batch sees
        the version that earlier item left); a conflict on one item changes
        nothing of it and does not stop the others. The batch as a whole need
        not be atomic: another process may see some items advanced before the
        rest. A naive datetime raises ``NaiveDatetime`` before anything is
        written. Backends do it in one round trip; this default loops.
        """
        _refuse_naive(advances)
        return [
            self.advance_schedule(
                a.name,
                expected_version=a.expected_version,
                last_slot=a.last_slot,
                next_due=a.next_due,
            )
            for a in advances
        ]

    def insert_schedules(self, records: Sequence[ScheduleRecord]) -> list[bool]:
        """Insert each record whose name is not stored yet: one result per item,
        True where it was inserted (as ``version`` 1), False where a schedule of
        that name exists (that one unchanged). A name given twice is inserted by
        its first item. Each item is its own insert-if-absent; the batch as a
        whole need not be atomic. Backends do it in one transaction or round
        trip (adding 100,000 schedules is a few batches, not 100,000 writes);
        this default loops over ``save_schedule``.
        """
        return [
            r is not None for r in (self.save_schedule(x, expected_version=None) for x in records)
        ]

    @abstractmethod
    def delete_schedule(self, name: str) -> bool:
        """Remove the schedule (its runs stay, as history). False if absent."""

    @abstractmethod
    def due_schedules(self, now: datetime, limit: int) -> list[ScheduleRecord]:
        """Active schedules with ``next_due <= now``, earliest first, at most ``limit``."""

    def due_for_tick(self, now: datetime, limit: int) -> DueSchedules:
        """``due_schedules``, and which of them have active runs where a backend
        can tell in the same read: a tick then asks ``active_runs_for`` only
        about those (usually none), one round trip less. This default does
        not look (``busy`` is None)."""
        return DueSchedules(self.due_schedules(now, limit), None)

    @abstractmethod
    def next_due_at(self) -> datetime | None:
        """The earliest ``next_due`` of any active schedule, or None."""

    # -- runs: creation --------------------------------------------------

    @abstractmethod
    def insert_run(self, run: Run) -> bool:
        """Insert ``run`` only if no run with its id exists. True if inserted.

        This is the exactly-once guarantee: concurrent inserts of one id
        from any number of processes leave exactly one row and return True
        to exactly one caller.
        """

    def insert_runs(self, runs: Sequence[Run]) -> list[bool]:
        """``insert_run`` for each, in order; backends may batch it."""
        return [self.insert_run(run) for run in runs]

    def fire(
        self, runs: Sequence[Run], advances: Sequence[Advance]
    ) -> tuple[list[bool], list[bool]]:
        """``insert_runs(runs)``, then ``advance_schedules(advances)``: a scheduler tick's writes.

        Exactly those two calls' results and guarantees; a backend may make
        them one transaction or one round trip (a tick's latency is mostly
        its commits). The runs are never visible after the advances: a
        process dying in between leaves the schedule due, and the next tick
        plans the same slots and inserts nothing twice (the run ids are
        deterministic). A naive datetime raises ``NaiveDatetime`` before
        anything is written.
        """
        _refuse_naive(advances)
        return self.insert_runs(runs), self.advance_schedules(advances)

    def fire_batches(self, batches: Iterable[FireBatch]) -> list[tuple[list[bool], list[bool]]]:
        """``fire`` for each (runs, advances) batch that ``batches`` yields, in order:
        one result per batch, as if ``fire`` were called for each in turn.

        ``batches`` may be a generator that plans each batch as it is drawn,
        and drawing one may call other methods of this store. A backend with a
        server sends each batch before it draws the next, so the server's work
        on one overlaps the caller's on the next. Each batch is all or nothing
        as ``fire`` is; batches need not be atomic together. This default
        draws every batch, then fires them all as one batch.
        """
        drawn = [(list(runs), list(advances)) for runs, advances in batches]
        runs = [run for batch in drawn for run in batch[0]]
        advances = [advance for batch in drawn for advance in batch[1]]
        inserted, advanced = self.fire(runs, advances) if runs or advances else ([], [])
        results: list[tuple[list[bool], list[bool]]] = []
        r = a = 0
        for batch_runs, batch_advances in drawn:
            results.append(
                (inserted[r : r + len(batch_runs)], advanced[a : a + len(batch_advances)])
            )
            r += len(batch_runs)
            a += len(batch_advances)
        return results

    # -- runs: reading ---------------------------------------------------

    @abstractmethod
    def get_run(self, run_id: str) -> Run | None:
        """The run with this id, or None."""

    @abstractmethod
    def list_runs(
        self,
        *,
        schedule: str | None = None,
        states: Sequence[RunState] | None = None,
        limit: int = 50,
        before: tuple[datetime, str] | None = None,
    ) -> list[Run]:
        """Runs newest first by ``(created_at, id)``, strictly before ``before``."""

    def get_runs(self, ids: Sequence[str]) -> list[Run]:
        """The runs with these ids that exist, in the order of ``ids`` (an id
        given twice comes back twice). Backends read them in one round trip;
        this default loops over ``get_run``.
        """
        found = (self.get_run(run_id) for run_id in ids)
        return [run for run in found if run is not None]

    @abstractmethod
    def active_runs(self, schedule: str) -> list[Run]:
        """The schedule's queued, retrying and running runs (for overlap)."""

    def active_runs_for(self, schedules: Sequence[str]) -> dict[str, list[Run]]:
        """``active_runs`` of each named schedule: every name is a key, its value
        what ``active_runs(name)`` returns (same runs, same order; an empty
        list when none). Backends read them in one round trip; this default
        loops.
        """
        return {name: self.active_runs(name) for name in schedules}

    # -- runs: execution -------------------------------------------------

    @abstractmethod
    def claim_runs(
        self,
        *,
        worker: str,
        now: datetime,
        limit: int,
        lease_seconds: float,
        queues: Sequence[str] | None = None,
        host: str | None = None,
    ) -> list[Run]:
        """Atomically take up to ``limit`` claimable runs for ``worker``.

        Claimable: state queued or retrying, ``available_at <= now``, queue
        in ``queues`` (all when None), meant for ``host`` (see below), and,
        for ``options.exclusive`` runs, no other run of the same schedule
        running (nor another run of that schedule taken in the same claim).
        Order: priority descending, then ``available_at``, then id.

        Host: a run whose ``host`` is set (an ``on_each_server`` run) must
        execute on that host, so it is claimable only by a caller passing
        that same ``host``; a run with no host is claimable by anyone. A
        caller passing ``host=None`` therefore never gets a per-host run,
        whatever ``queues`` it names: a worker that does not say where it
        runs cannot take work pinned to a machine. The host check is part
        of the claim's atomic step, like the others.
        Each claimed run becomes running with ``attempt + 1``, a fresh
        ``lease_token``, ``lease_expires_at = now + lease_seconds``,
        ``started_at = now``, ``worker``, and ``cancel_requested`` false.
        No run is ever returned to two callers.
        """

    @abstractmethod
    def renew_lease(
        self, run_id: str, token: str, *, now: datetime, lease_seconds: float
    ) -> LeaseStatus:
        """Extend the lease to ``now + lease_seconds`` if ``token`` holds it."""

    @abstractmethod
    def finish_run(self, run_id: str, token: str, outcome: Outcome, *, now: datetime) -> bool:
        """End the attempt held by ``token``; False (nothing changed) if not held.

        ``outcome.state`` is one of ``FINISH_STATES`` (else ``ValueError``).
        A terminal state sets ``finished_at = now``; ``RETRYING``/``QUEUED``
        make the run claimable at ``outcome.available_at`` (``now`` when
        None). ``QUEUED`` (work released unstarted, e.g. on shutdown) also
        gives the attempt back: ``attempt`` goes down by one. The lease and
        ``cancel_requested`` are cleared either way, ``worker`` is kept, and
        result, error, traceback and log are stored.
        """

    def finish_runs(
        self, finishes: Sequence[tuple[str, str, Outcome]], *, now: datetime
    ) -> list[bool]:
        """``finish_run(run_id, token, outcome, now=now)`` for each item, in order.

        One result per item: True where the token held the run and the attempt
        ended, False (that run unchanged) where it did not. Each item is
        atomic and checked on its own, exactly as if the calls were made one
        after another (a run listed twice is finished by the first item whose
        token holds it, and the later ones find its lease gone); a lost lease
        on one item does not stop the others. The batch as a whole need not be
        atomic: another process may see some runs finished before the rest.

        Every outcome is checked before anything is written: a state not in
        ``FINISH_STATES`` raises ``ValueError``, a result that is not JSON
        ``InvalidArguments``, and then no run of the batch has changed.

        Waiters are woken at most once per batch (backends that override
        this); this default loops over ``finish_run``.
        """
        from rota.stores import _codec  # imports this module

        for run_id, _, outcome in finishes:
            check_finish_state(run_id, outcome)
            _codec.dumps(outcome.result, f"result of run {run_id!r}")
        return [
            self.finish_run(run_id, token, outcome, now=now) for run_id, token, outcome in finishes
        ]

    @abstractmethod
    def save_progress(
        self,
        run_id: str,
        token: str,
        *,
        checkpoint: JSON = UNSET,
        done: float | None = None,
        total: float | None = None,
    ) -> bool:
        """Store a checkpoint and/or progress if ``token`` holds the lease.

        A checkpoint survives retries: the next attempt reads it back.
        """

    @abstractmethod
    def reclaim_expired(self, now: datetime) -> list[Run]:
        """Take back running runs whose lease expired before ``now``.

        Each becomes ``CANCELLED`` if a cancel was requested, else
        ``RETRYING`` (available now) if it has attempts left
        (``attempt < options.max_attempts``), else ``FAILED``; the error says
        the lease expired. Returns the runs as they are after the change.
        Safe to call from every process.
        """

    @abstractmethod
    def next_available_at(
        self, queues: Sequence[str] | None = None, *, host: str | None = None
    ) -> datetime | None:
        """The earliest ``available_at`` of a queued or retrying run that a
        ``claim_runs(queues=queues, host=host)`` could take once available
        (the same queue and host rules; exclusivity aside), or None.

        Another host's per-host run never counts: it must not keep a worker
        or a ``rota run`` pass of this host waiting.
        """

    # -- runs: dependencies ----------------------------------------------

    @abstractmethod
    def waiting_runs(self, ids: Sequence[str] | None = None, *, limit: int = 1000) -> list[Run]:
        """Runs in state ``waiting`` that are among ``ids`` or list one of ``ids``
        in their ``parents``; with ``ids=None``, every waiting run. By id, at
        most ``limit``. (Waiting runs are few: a child's run between its
        creation and its parents' end.)
        """

    @abstractmethod
    def release_waiting(
        self, run_id: str, state: RunState, *, now: datetime, error: str | None = None
    ) -> Run | None:
        """Move a ``waiting`` run on, if it is still waiting: to ``queued``
        (``available_at = now``) or to ``upstream_failed`` (``finished_at = now``,
        ``error`` stored). Returns the run as stored after the change, or None
        when it is absent or no longer waiting (nothing changed). Any other
        ``state`` raises ``ValueError``. Notifies waiters when a run is queued.
        """

    def settle_waiting(self, ids: Sequence[str] | None = None, *, now: datetime) -> list[Run]:
        """Decide the waiting runs among or below ``ids`` (all, when None).

        A waiting run whose parents have all ``succeeded`` becomes ``queued``;
        one with a parent that ended any other way (failed, timed out,
        cancelled, skipped, missed, upstream_failed) becomes
        ``upstream_failed``, and so, in turn, do the waiting runs below it.
        A parent not yet ended, or not yet stored, keeps it waiting. Call it
        with the ids of runs that just ended, or of waiting runs just
        inserted; every decision is a compare-and-set (``release_waiting``), so
        any number of processes may call it at once. Returns the runs changed.
        """
        from rota.stores._rules import settle_verdict  # imports this module

        changed: list[Run] = []
        frontier: Sequence[str] | None = ids
        while frontier is None or frontier:
            candidates = self.waiting_runs(frontier)
            parents = sorted({p for run in candidates for p in run.parents})
            states = {run.id: run for run in self.get_runs(parents)} if parents else {}
            failed: list[str] = []
            for child in candidates:
                verdict = settle_verdict(child, states)
                if verdict is None:
                    continue
                state, error = verdict
                moved = self.release_waiting(child.id, state, now=now, error=error)
                if moved is not None:
                    changed.append(moved)
                    if moved.state is RunState.UPSTREAM_FAILED:
                        failed.append(moved.id)
            frontier = failed
        return changed

    # -- runs: control ---------------------------------------------------

    @abstractmethod
    def request_cancel(self, run_id: str, *, now: datetime) -> Run:
        """Cancel a run: waiting/queued/retrying become cancelled at once; a
        running one gets ``cancel_requested`` (its worker stops it at the
        next heartbeat). A finished run is returned unchanged.
        Raises ``RunNotFound``.
        """

    @abstractmethod
    def requeue_run(self, run_id: str, *, now: datetime) -> Run:
        """Queue a finished run again (operator retry), available at ``now``,
        with attempts counted afresh (``attempt = 0``), timings, worker,
        result, error, traceback, log and progress cleared; the checkpoint is
        kept. Raises ``RunNotFound``, or ``IllegalTransition`` when the run is
        not in a terminal state, or is skipped/missed (which never ran).
        """

    @abstractmethod
    def prune_runs(self, schedule: str, keep: int) -> int:
        """Delete the schedule's terminal runs beyond the newest ``keep``
        terminal ones (by ``(created_at, id)``); returns how many. Active and
        waiting runs are never pruned, nor counted.
        """

    # -- wake-ups --------------------------------------------------------

    def notify(self) -> None:
        """Tell waiters in this process (and, where the backend can, in
        others) that schedules or runs changed.

        Backends call it themselves after a write that gives someone new
        work: a run inserted, finished, reclaimed, cancelled or requeued, a
        schedule saved or deleted (not after claims, renewals or progress).
        A backend may tell other processes of a finish only when it leaves
        something to claim (a run to retry or released, an exclusive
        schedule freed), as the Redis store does; a batch wakes them at most
        once.
        """
        self._activity.set()

    def wait_for_activity(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds for a ``notify``; True if woken.

        The default sees only this process; backends that can hear other
        processes (LISTEN/NOTIFY, pub/sub, SQLite's data_version) override it.
        """
        woke = self._activity.wait(max(0.0, timeout))
        self._activity.clear()
        return woke


def check_finish_state(run_id: str, outcome: Outcome) -> None:
    """Refuse an outcome state that ``finish_run`` does not take."""
    if outcome.state not in FINISH_STATES:
        allowed = ", ".join(sorted(FINISH_STATES))
        raise ValueError(f"cannot finish run {run_id!r} as {outcome.state} (allowed: {allowed})")
