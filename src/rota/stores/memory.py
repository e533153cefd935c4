"""The in-process store: dicts behind one lock, for tests and single-process use.

``memory://`` is a fresh store; ``memory://name`` is the one store of that
name in this process (every ``open_store("memory://name")`` shares it until
it is closed), so an app and its test can meet without passing objects.
Nothing survives the process.
"""

from __future__ import annotations

import bisect
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, ClassVar

from rota.errors import ConfigurationError, StoreUnavailable
from rota.runs import ACTIVE_STATES, CLAIMABLE_STATES, JSON, TERMINAL_STATES, Run, RunState
from rota.stores import _codec, _rules
from rota.stores.base import (
    UNSET,
    DueSchedules,
    LeaseStatus,
    Outcome,
    ScheduleRecord,
    Store,
    check_finish_state,
)


class MemoryStore(Store):
    """The contract on dicts guarded by one ``threading.RLock``."""

    _registry: ClassVar[dict[str, MemoryStore]] = {}
    _registry_lock: ClassVar[threading.Lock] = threading.Lock()

    def __init__(self, name: str = "") -> None:
        super().__init__()
        self.name = name
        self.url = f"memory://{name}"
        self._lock = threading.RLock()
        self._closed = False
        self._runs: dict[str, Run] = {}
        self._claimable: list[tuple[int, datetime, str]] = []
        """Keys of the queued and retrying runs, kept sorted in claim order."""
        self._running: set[str] = set()
        self._waiting: set[str] = set()
        """Ids of the waiting runs: ``waiting_runs`` reads these, not every run."""
        self._active: dict[str | None, dict[str, Run]] = {}
        """The queued, running and retrying runs of each schedule, by id."""
        self._schedules: dict[str, ScheduleRecord] = {}
        self._names: list[str] = []
        """The keys of ``_schedules``, sorted: ``list_schedules`` pages through it."""

    @classmethod
    def from_url(cls, url: str) -> MemoryStore:
        """``memory://`` (fresh) or ``memory://name`` (shared per name in this process)."""
        scheme, _, rest = url.partition("://")
        if scheme.lower() != "memory" or "/" in rest or "?" in rest:
            raise ConfigurationError(f"not a memory store URL: {url!r} (use 'memory://[name]')")
        if not rest:
            return cls()
        with cls._registry_lock:
            store = cls._registry.get(rest)
            if store is None:
                store = cls._registry[rest] = cls(rest)
            return store

    # -- lifecycle -------------------------------------------------------

    def migrate(self) -> None:
        """Nothing to create."""
        with self._locked():
            pass

    def close(self) -> None:
        with self._lock:
            self._closed = True
        if self.name:
            with self._registry_lock:
                if self._registry.get(self.name) is self:
                    del self._registry[self.name]

    @contextmanager
    def _locked(self) -> Iterator[None]:
        with self._lock:
            if self._closed:
                raise StoreUnavailable(f"store {self.url!r} is closed")
            yield

    # -- schedules -------------------------------------------------------

    def get_schedule(self, name: str) -> ScheduleRecord | None:
        with self._locked():
            return self._schedules.get(name)

    def list_schedules(
        self,
        *,
        include_retired: bool = False,
        after: str | None = None,
        limit: int | None = None,
        per_host: bool | None = None,
    ) -> list[ScheduleRecord]:
        found: list[ScheduleRecord] = []
        if limit is not None and limit <= 0:
            if limit == 0:
                return found
            every = self.list_schedules(
                include_retired=include_retired, after=after, per_host=per_host
            )
            return every[:limit]  # as a slice reads a negative limit
        with self._locked():
            names = self._names
            start = 0 if after is None else bisect.bisect_right(names, after)
            for i in range(start, len(names)):
                s = self._schedules[names[i]]
                if (include_retired or not s.retired) and (
                    per_host is None or s.per_host == per_host
                ):
                    found.append(s)
                    if len(found) == limit:
                        break
        return found

    def save_schedule(
        self, record: ScheduleRecord, *, expected_version: int | None
    ) -> ScheduleRecord | None:
        record = _codec.normalize_schedule(record)
        with self._locked():
            current = self._schedules.get(record.name)
            current_version = None if current is None else current.version
            if current_version != expected_version:
                return None
            stored = record.evolve(version=(expected_version or 0) + 1)
            if current is None:
                bisect.insort(self._names, record.name)
            self._schedules[record.name] = stored
        self.notify()
        return stored

    def insert_schedules(self, records: Sequence[ScheduleRecord]) -> list[bool]:
        """Every record checked first, then all inserted under the lock at once."""
        normalized = [_codec.normalize_schedule(record) for record in records]
        inserted: list[bool] = []
        with self._locked():
            for record in normalized:
                new = record.name not in self._schedules
                if new:
                    bisect.insort(self._names, record.name)
                    self._schedules[record.name] = record.evolve(version=1)
                inserted.append(new)
        if any(inserted):
            self.notify()
        return inserted

    def advance_schedule(
        self,
        name: str,
        *,
        expected_version: int,
        last_slot: datetime | None,
        next_due: datetime | None,
    ) -> bool:
        last_slot = None if last_slot is None else _codec.utc(last_slot, "last_slot")
        next_due = None if next_due is None else _codec.utc(next_due, "next_due")
        with self._locked():
            current = self._schedules.get(name)
            if current is None or current.version != expected_version:
                return False
            self._schedules[name] = current.evolve(
                last_slot=last_slot, next_due=next_due, version=current.version + 1
            )
            return True

    def delete_schedule(self, name: str) -> bool:
        with self._locked():
            found = self._schedules.pop(name, None) is not None
            if found:
                del self._names[bisect.bisect_left(self._names, name)]
        if found:
            self.notify()
        return found

    def due_schedules(self, now: datetime, limit: int) -> list[ScheduleRecord]:
        now = _codec.utc(now, "now")
        with self._locked():
            due = [(d, s.name, s) for s in self._schedules.values() if (d := _due(s)) and d <= now]
        due.sort(key=lambda t: (t[0], t[1]))
        return [s for _, _, s in due[:limit]]

    def due_for_tick(self, now: datetime, limit: int) -> DueSchedules:
        with self._locked():  # one read: the flags are as the records were
            due = self.due_schedules(now, limit)
            busy = frozenset(s.name for s in due if self._active.get(s.name))
        return DueSchedules(due, busy)

    def next_due_at(self) -> datetime | None:
        with self._locked():
            return min(filter(None, map(_due, self._schedules.values())), default=None)

    # -- runs: creation --------------------------------------------------

    def insert_run(self, run: Run) -> bool:
        run = _private(run)
        with self._locked():
            if run.id in self._runs:
                return False
            self._put(run)
        self.notify()
        return True

    def _put(self, run: Run) -> None:
        """Store ``run`` and keep the claimable/running indexes in step."""
        old = self._runs.get(run.id)
        if old is not None:
            if old.state in CLAIMABLE_STATES:
                key = _claim_key(old)
                del self._claimable[bisect.bisect_left(self._claimable, key)]
            if old.state in ACTIVE_STATES:
                self._unindex_active(old)
        self._runs[run.id] = run
        self._running.discard(run.id)
        if run.state is RunState.WAITING:
            self._waiting.add(run.id)
        else:
            self._waiting.discard(run.id)
        if run.state in CLAIMABLE_STATES:
            bisect.insort(self._claimable, _claim_key(run))
        elif run.state is RunState.RUNNING:
            self._running.add(run.id)
        if run.state in ACTIVE_STATES:
            self._active.setdefault(run.schedule, {})[run.id] = run

    def _unindex_active(self, run: Run) -> None:
        runs = self._active[run.schedule]
        del runs[run.id]
        if not runs:
            del self._active[run.schedule]

    # -- runs: reading ---------------------------------------------------

    def get_run(self, run_id: str) -> Run | None:
        with self._locked():
            return self._runs.get(run_id)

    def list_runs(
        self,
        *,
        schedule: str | None = None,
        states: Sequence[RunState] | None = None,
        limit: int = 50,
        before: tuple[datetime, str] | None = None,
    ) -> list[Run]:
        wanted = None if states is None else frozenset(states)
        cursor = None if before is None else (_codec.utc(before[0], "before"), before[1])
        with self._locked():
            found = [
                r
                for r in self._runs.values()
                if (schedule is None or r.schedule == schedule)
                and (wanted is None or r.state in wanted)
                and (cursor is None or (r.created_at, r.id) < cursor)
            ]
        found.sort(key=lambda r: (r.created_at, r.id), reverse=True)
        return found[:limit]

    def active_runs(self, schedule: str) -> list[Run]:
        with self._locked():
            found = list(self._active.get(schedule, {}).values())
        found.sort(key=lambda r: (r.created_at, r.id))
        return found

    # -- runs: execution -------------------------------------------------

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
        now = _codec.utc(now, "now")
        expires = now + timedelta(seconds=lease_seconds)
        with self._locked():
            busy = {self._runs[i].schedule for i in self._running}
            claimed: list[Run] = []
            for run in self._candidates(now, queues, host):
                if len(claimed) >= limit:
                    break
                if run.options.exclusive and run.schedule is not None:
                    if run.schedule in busy:
                        continue
                    busy.add(run.schedule)
                elif run.schedule is not None:
                    busy.add(run.schedule)
                claimed.append(_rules.claimed(run, worker, now, expires, _rules.new_token()))
            for run in claimed:
                self._put(run)
        return claimed

    def _candidates(
        self, now: datetime, queues: Sequence[str] | None, host: str | None
    ) -> Iterator[Run]:
        """Claimable runs in claim order, lazily (the caller stops at its limit)."""
        for _, available_at, run_id in self._claimable:
            if available_at <= now:
                run = self._runs[run_id]
                if _wanted(run, queues, host):
                    yield run

    def renew_lease(
        self, run_id: str, token: str, *, now: datetime, lease_seconds: float
    ) -> LeaseStatus:
        now = _codec.utc(now, "now")
        with self._locked():
            run = self._held(run_id, token)
            if run is None:
                return LeaseStatus.LOST
            expires = now + timedelta(seconds=lease_seconds)
            self._put(_rules.updated(run, lease_expires_at=expires))
        return LeaseStatus.CANCEL_REQUESTED if run.cancel_requested else LeaseStatus.OK

    def _held(self, run_id: str, token: str) -> Run | None:
        run = self._runs.get(run_id)
        if run is None or run.state is not RunState.RUNNING or run.lease_token != token:
            return None
        return run

    def finish_run(self, run_id: str, token: str, outcome: Outcome, *, now: datetime) -> bool:
        check_finish_state(run_id, outcome)
        now = _codec.utc(now, "now")
        result = _codec.canonical(outcome.result, f"result of run {run_id!r}")
        with self._locked():
            run = self._held(run_id, token)
            if run is None:
                return False
            self._put(_rules.finished(run, outcome, result, now))
        self.notify()
        return True

    def save_progress(
        self,
        run_id: str,
        token: str,
        *,
        checkpoint: JSON = UNSET,
        done: float | None = None,
        total: float | None = None,
    ) -> bool:
        changes: dict[str, Any] = {}
        if checkpoint is not UNSET:
            changes["checkpoint"] = _codec.canonical(checkpoint, f"checkpoint of run {run_id!r}")
        if done is not None:
            changes["progress_done"] = done
        if total is not None:
            changes["progress_total"] = total
        with self._locked():
            run = self._held(run_id, token)
            if run is None:
                return False
            self._put(_rules.updated(run, **changes))
        return True

    def reclaim_expired(self, now: datetime) -> list[Run]:
        now = _codec.utc(now, "now")
        with self._locked():
            expired = [self._runs[i] for i in self._running]
            reclaimed = [
                _rules.reclaimed(r, now)
                for r in expired
                if r.lease_expires_at is not None and r.lease_expires_at < now
            ]
            for run in reclaimed:
                self._put(run)
        if reclaimed:
            self.notify()
        return sorted(reclaimed, key=lambda r: r.id)

    def next_available_at(
        self, queues: Sequence[str] | None = None, *, host: str | None = None
    ) -> datetime | None:
        with self._locked():
            runs = (self._runs[run_id] for _, _, run_id in self._claimable)
            return min((r.available_at for r in runs if _wanted(r, queues, host)), default=None)

    # -- runs: dependencies ----------------------------------------------

    def waiting_runs(self, ids: Sequence[str] | None = None, *, limit: int = 1000) -> list[Run]:
        wanted = None if ids is None else frozenset(ids)
        with self._locked():
            found = [
                run
                for run in map(self._runs.__getitem__, self._waiting)
                if wanted is None or run.id in wanted or not wanted.isdisjoint(run.parents)
            ]
        found.sort(key=lambda r: r.id)
        return found[: max(0, limit)]

    def release_waiting(
        self, run_id: str, state: RunState, *, now: datetime, error: str | None = None
    ) -> Run | None:
        state = _rules.release_state(state)
        now = _codec.utc(now, "now")
        with self._locked():
            run = self._runs.get(run_id)
            if run is None or run.state is not RunState.WAITING:
                return None
            moved = _rules.released(run, state, now, error)
            self._put(moved)
        if moved.state is RunState.QUEUED:
            self.notify()
        return moved

    # -- runs: control ---------------------------------------------------

    def request_cancel(self, run_id: str, *, now: datetime) -> Run:
        now = _codec.utc(now, "now")
        with self._locked():
            run = self._get(run_id)
            changed = _rules.cancelled(run, now)
            if changed is None:
                return run
            self._put(changed)
        self.notify()
        return changed

    def _get(self, run_id: str) -> Run:
        run = self._runs.get(run_id)
        if run is None:
            raise _rules.not_found(run_id)
        return run

    def requeue_run(self, run_id: str, *, now: datetime) -> Run:
        now = _codec.utc(now, "now")
        with self._locked():
            run = _rules.requeued(self._get(run_id), now)
            self._put(run)
        self.notify()
        return run

    def prune_runs(self, schedule: str, keep: int) -> int:
        with self._locked():
            done = [
                r
                for r in self._runs.values()
                if r.schedule == schedule and r.state in TERMINAL_STATES
            ]
            done.sort(key=lambda r: (r.created_at, r.id), reverse=True)
            doomed = done[max(0, keep) :]
            for run in doomed:  # terminal: in no index
                del self._runs[run.id]
        return len(doomed)


# -- helpers ---------------------------------------------------------------


def _claim_key(run: Run) -> tuple[int, datetime, str]:
    return (-run.priority, run.available_at, run.id)


def _wanted(run: Run, queues: Sequence[str] | None, host: str | None) -> bool:
    """Whether a claim of ``queues`` by ``host`` may take ``run`` (state and time aside)."""
    return (queues is None or run.queue in queues) and _rules.serves_host(run, host)


def _due(record: ScheduleRecord) -> datetime | None:
    return record.next_due if record.active else None


def _private(run: Run) -> Run:
    """A copy of ``run`` whose JSON fields belong to the store and round-trip as JSON does."""
    what = f"run {run.id!r}"
    return _rules.updated(
        run,
        args=tuple(_codec.canonical(list(run.args), f"arguments of {what}")),
        kwargs=_codec.canonical(dict(run.kwargs), f"keyword arguments of {what}"),
        result=_codec.canonical(run.result, f"result of {what}"),
        checkpoint=_codec.canonical(run.checkpoint, f"checkpoint of {what}"),
    )
