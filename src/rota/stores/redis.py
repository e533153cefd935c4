"""The Redis store: the contract on one Redis 6.2+ server, or a Redis Cluster (7.0+).

Every key starts with the hash tag ``{prefix}:`` (``?prefix=`` in the URL,
default ``rota``), so all of a store's keys live in one cluster slot and
every multi-key step is one Lua script (``stores/lua/*.lua``) that Redis
runs atomically. ``?cluster=true`` makes the client redis-py's
``RedisCluster`` (the URL names any node; the client finds the one that owns
the slot), and wake-ups then go by sharded pub/sub (``SPUBLISH`` and
``SSUBSCRIBE`` on that node) instead of ``PUBLISH``, which a cluster would
broadcast to every node. The scripts get time as an argument, never ``TIME``.

Keys under ``{p}:``:

======================  =======  =================================================
``run:<id>``            hash     a run (columns as in the SQL stores, plus ``rev``)
``runs``                zset     every run id by ``created_at``
``sched:<s>``           zset     schedule ``s``'s run ids by ``created_at``
``active:<s>``          zset     its queued, retrying and running runs
``done:<s>``            zset     its finished runs (what ``prune_runs`` trims)
``ready:<pr>:<q>``      zset     claimable runs of queue ``q``, priority ``pr``, by ``available_at``
``levels``              zset     ``<pr>:<q>`` of every ready zset, by priority
``running``             zset     running run ids by lease expiry
``running_sched``       hash     schedule -> number of its running runs (``exclusive``)
``waiting``             zset     waiting run ids (score 0: by id)
``waiters:<run>``       zset     the waiting runs that list run ``<run>`` among their parents
``schedule:<name>``     hash     a schedule
``schedules``           zset     every schedule name (lexicographic, for paging)
``schedules:live``      zset     the names of schedules not retired
``schedules:per_host``  zset     the names of per-host (``on_each_server``) schedules
``…:per_host:live``     zset     those of them not retired
``due``                 zset     active schedules by ``next_due``
``schema``              string   the data layout version
``wakeup``              channel  PUBLISHed (SPUBLISHed) by every write that gives someone work
======================  =======  =================================================

A finish PUBLISHes only when it may give a worker something to claim: a run
to retry or released, or a schedule's last running run ended while others
of the schedule wait (an exclusive one may start now).

Finished runs get a TTL (``?ttl_days=``, default 30; 0 for none) besides
``prune_runs``. Index entries of an expired run are dropped lazily: when a
read meets them, and from the oldest end of the run indexes on each
``prune_runs``.

A lost connection raises ``StoreUnavailable`` naming the server; commands
are not retried (a write whose reply was lost may have happened), and the
next call reconnects.
"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import Any, TypeAlias, cast
from urllib.parse import urlsplit

import redis
import redis.cluster
from redis.backoff import NoBackoff
from redis.commands.core import Script
from redis.retry import Retry

from rota.errors import StoreUnavailable
from rota.runs import JSON, Run, RunState
from rota.stores import _codec, _rules
from rota.stores import _redis_codec as rc
from rota.stores._redis_wakeup import Sharded, Subscription, Wakeups
from rota.stores.base import (
    UNSET,
    Advance,
    DueSchedules,
    FireBatch,
    LeaseStatus,
    Outcome,
    ScheduleRecord,
    Store,
)

SCHEMA_VERSION = 1
CAS_ATTEMPTS = 50
"""Compare-and-set retries of cancel/requeue against concurrent writers."""
_UNWAITED_MAX = 100_000
"""Finished runs remembered as waited for by none, at most (then forgotten at once)."""
SCHEDULE_BATCH = 1000
"""Schedules per ``insert_schedules`` script: bigger batches are several calls,
so that no one script keeps the server from other clients for long."""
_SCRIPTS = (
    "insert_runs",
    "claim_runs",
    "renew_lease",
    "finish_run",
    "finish_runs",
    "save_progress",
    "update_runs",
    "prune_runs",
    "list_runs",
    "read_index",
    "next_available",
    "save_schedule",
    "advance_schedule",
    "advance_schedules",
    "active_runs_for",
    "get_runs",
    "delete_schedule",
    "insert_schedules",
    "waiting_runs",
    "release_waiting",
    "fire",
    "due_schedules",
)
_Errors = (
    redis.ConnectionError,
    redis.TimeoutError,
    redis.ReadOnlyError,
    redis.exceptions.ClusterError,  # CLUSTERDOWN, redirections that never ended
    redis.exceptions.RedisClusterException,  # no node reachable, a slot not covered
    OSError,
)
Client: TypeAlias = "redis.Redis | redis.cluster.RedisCluster"
_UNAVAILABLE = frozenset(
    {"OOM", "BUSY", "LOADING", "MASTERDOWN", "MISCONF", "NOREPLICAS", "CLUSTERDOWN", "TRYAGAIN"}
)
"""Error codes of a server that cannot serve now (any other error is a bug: raised as is)."""


class RedisStore(Store):
    """The contract on one Redis database (or Redis Cluster), under one key prefix."""

    def __init__(self, url: str, **client_options: Any) -> None:
        """``client_options`` go to ``redis.Redis.from_url`` (``RedisCluster.from_url``
        with ``?cluster=true``; the URL's own win)."""
        super().__init__()
        self.url = url
        self.options = rc.parse_url(url)
        self._client_options = {
            "retry": Retry(NoBackoff(), 0),
            "decode_responses": True,
        } | client_options
        self._base = self.options.base
        self._client: Client | None = None
        self._scripts: dict[str, Script] = {}
        self._connecting = threading.Lock()
        self._unwaited: set[str] = set()
        """Runs this store finished while no run waited for them (``settle_waiting``)."""
        if self.options.cluster:
            # RedisCluster reads the cluster's layout as it is made: made on first
            # use instead, so that an unreachable cluster is StoreUnavailable there.
            parts = urlsplit(self.options.client_url)
            self.where = f"{parts.hostname or 'localhost'}:{parts.port or 6379} (cluster)"
        else:
            client = cast("redis.Redis", self._connected())
            kwargs = client.connection_pool.connection_kwargs
            self.where = f"{kwargs.get('host', 'localhost')}:{kwargs.get('port', 6379)}"
        self._wakeups = Wakeups(self._subscription, self._base + "wakeup")
        self._closed = threading.Event()

    @classmethod
    def from_url(cls, url: str) -> RedisStore:
        """``redis://[user:pass@]host[:port][/db][?prefix=rota&ttl_days=30&cluster=false&…]``."""
        return cls(url)

    # -- plumbing --------------------------------------------------------

    def _connected(self) -> Client:
        """The client (made on first use for a cluster) with the scripts registered on it."""
        client = self._client
        if client is not None:
            return client
        with self._connecting:
            if self._client is None:
                url, options = self.options.client_url, self._client_options
                made: Client
                if self.options.cluster:
                    from redis.cluster import RedisCluster

                    made = RedisCluster.from_url(url, **options)
                else:
                    made = redis.Redis.from_url(url, **options)
                sharded = self.options.cluster
                self._scripts = {
                    name: made.register_script(rc.script_text(name, sharded=sharded))
                    for name in _SCRIPTS
                }
                self._client = made
            return self._client

    @contextmanager
    def _guard(self) -> Iterator[None]:
        """Connection trouble (and use after ``close``) becomes ``StoreUnavailable``."""
        if self._closed.is_set():
            raise StoreUnavailable(f"Redis store {self.where} ({self._base}) is closed")
        try:
            yield
        except _Errors as exc:
            raise StoreUnavailable(f"Redis store at {self.where}: {exc}") from exc
        except redis.ResponseError as exc:
            if str(exc).split(" ", 1)[0] not in _UNAVAILABLE:
                raise
            raise StoreUnavailable(f"Redis store at {self.where}: {exc}") from exc

    def _call(self, command: str, *args: Any, **kwargs: Any) -> Any:
        """The client's method ``command`` with these arguments."""
        with self._guard():
            return getattr(self._connected(), command)(*args, **kwargs)

    def _run(self, script: str, *args: Any) -> Any:
        """Run a script: ARGV is ``_argv(*args)``."""
        with self._guard():
            self._connected()
            return self._scripts[script](keys=[self._base + "runs"], args=self._argv(*args))

    def _argv(self, *args: Any) -> list[Any]:
        """A script's ARGV: the key base, the TTL, then ``args`` (see ``lua/_lib.lua``)."""
        return [self._base, self.options.ttl_seconds, *args]

    def _subscription(self) -> Subscription:
        client: Any = self._connected()  # RedisCluster.pubsub is not typed
        pubsub = client.pubsub()
        return Sharded(pubsub) if self.options.cluster else cast("Subscription", pubsub)

    def _runs(self, reply: str) -> list[Run]:
        return [rc.run_from_hash(fields)[0] for fields in rc.records(reply)]

    # -- lifecycle -------------------------------------------------------

    def migrate(self) -> None:
        """Record the data layout version; refuse one newer than this rota knows.

        Redis has no schema to create: keys appear as records are written.
        """
        key = self._base + "schema"
        self._call("set", key, SCHEMA_VERSION, nx=True)
        found = int(self._call("get", key) or SCHEMA_VERSION)
        if found > SCHEMA_VERSION:
            raise StoreUnavailable(
                f"Redis store {self.where} ({self._base}) has data layout version {found}, "
                f"newer than this rota knows ({SCHEMA_VERSION}); upgrade rota"
            )

    def close(self) -> None:
        self._closed.set()
        try:
            self._wakeups.close()
        finally:
            if self._client is not None:
                self._client.close()

    # -- schedules -------------------------------------------------------

    def get_schedule(self, name: str) -> ScheduleRecord | None:
        fields = self._call("hgetall", self._base + "schedule:" + name)
        return rc.schedule_from_hash(fields) if fields else None

    def list_schedules(
        self,
        *,
        include_retired: bool = False,
        after: str | None = None,
        limit: int | None = None,
        per_host: bool | None = None,
    ) -> list[ScheduleRecord]:
        index = "schedules" if include_retired else "schedules:live"
        if per_host:
            index = "schedules:per_host" + ("" if include_retired else ":live")
        low = "-" if after is None else "(" + after
        count = -1 if limit is None else max(0, limit)
        if count == 0:
            return []
        if per_host is False:
            return self._shared_schedules(index, low, count)
        return self._schedules(index, low, "+", "BYLEX", count)

    def _shared_schedules(self, index: str, low: str, count: int) -> list[ScheduleRecord]:
        """``list_schedules(per_host=False)``: pages of the index, per-host ones left out."""
        found: list[ScheduleRecord] = []
        page = 500 if count < 0 else max(count, 100)
        while count < 0 or len(found) < count:
            got = self._schedules(index, low, "+", "BYLEX", page)
            found += [record for record in got if not record.per_host]
            if len(got) < page:
                break
            low = "(" + got[-1].name
        return found if count < 0 else found[:count]

    def _schedules(
        self, index: str, low: Any, high: Any, by: str, count: int
    ) -> list[ScheduleRecord]:
        replies = self._run("read_index", index, "schedule:", low, high, by, count)
        return [rc.schedule_from_hash(fields) for fields in rc.records(replies)]

    def save_schedule(
        self, record: ScheduleRecord, *, expected_version: int | None
    ) -> ScheduleRecord | None:
        expected = "" if expected_version is None else expected_version
        version = self._run("save_schedule", record.name, expected, *rc.schedule_args(record))
        if version is None:
            return None
        self._wakeups.bump()
        return _codec.normalize_schedule(record).evolve(version=int(version))

    def insert_schedules(self, records: Sequence[ScheduleRecord]) -> list[bool]:
        """One script call per ``SCHEDULE_BATCH`` records (one for any usual batch);
        each item an insert-if-absent, in order (a name given twice: the first wins).
        Every record is encoded before anything is written."""
        items = [[r.name, *rc.schedule_parts(r)] for r in records]
        inserted: list[bool] = []
        for start in range(0, len(items), SCHEDULE_BATCH):
            batch = rc.encode(items[start : start + SCHEDULE_BATCH])
            inserted += [bool(flag) for flag in self._run("insert_schedules", batch)]
        if any(inserted):
            self._wakeups.bump()
        return inserted

    def advance_schedule(
        self,
        name: str,
        *,
        expected_version: int,
        last_slot: datetime | None,
        next_due: datetime | None,
    ) -> bool:
        last = _codec.opt_to_us(last_slot, "last_slot")
        due = _codec.opt_to_us(next_due, "next_due")
        return bool(
            self._run(
                "advance_schedule",
                name,
                expected_version,
                "" if last is None else last,
                "" if due is None else due,
            )
        )

    def advance_schedules(self, advances: Sequence[Advance]) -> list[bool]:
        """One script call; its items in order, each a compare-and-set."""
        if not advances:
            return []
        return _flags(self._run("advance_schedules", rc.advance_batch(advances)))

    def delete_schedule(self, name: str) -> bool:
        deleted = bool(self._run("delete_schedule", name))
        if deleted:
            self._wakeups.bump()
        return deleted

    def due_schedules(self, now: datetime, limit: int) -> list[ScheduleRecord]:
        return list(self.due_for_tick(now, limit).records)

    def due_for_tick(self, now: datetime, limit: int) -> DueSchedules:
        """One script call, whose reply holds the specs as stored and, per schedule,
        whether it has active runs. The specs are parsed at once, as one JSON
        array: on Redis that beat parsing each chunk's as the scheduler reaches
        it (measured)."""
        now_us = _codec.to_us(now, "now")
        if limit <= 0:
            return DueSchedules([], frozenset())
        return DueSchedules(*rc.due_and_busy(self._run("due_schedules", now_us, limit)))

    def next_due_at(self) -> datetime | None:
        first = self._call("zrange", self._base + "due", 0, 0, withscores=True)
        return _codec.from_us(int(first[0][1])) if first else None

    # -- runs: creation --------------------------------------------------

    def insert_run(self, run: Run) -> bool:
        return self.insert_runs([run])[0]

    def insert_runs(self, runs: Sequence[Run]) -> list[bool]:
        if not runs:
            return []
        inserted = _flags(self._run("insert_runs", rc.insert_batch(runs)))
        if any(inserted):
            self._wakeups.bump()
        return inserted

    def fire(
        self, runs: Sequence[Run], advances: Sequence[Advance]
    ) -> tuple[list[bool], list[bool]]:
        """One script call (one round trip), atomic: the runs inserted, then the
        schedules advanced, each as ``insert_runs`` and ``advance_schedules`` do."""
        if not runs or not advances:
            return super().fire(runs, advances)
        reply = self._run("fire", rc.insert_batch(runs), rc.advance_batch(advances))
        inserted, advanced = _flags(reply[0]), _flags(reply[1])
        if any(inserted):
            self._wakeups.bump()
        return inserted, advanced

    def fire_batches(self, batches: Iterable[FireBatch]) -> list[tuple[list[bool], list[bool]]]:
        """Each batch's ``fire`` script is sent as soon as it is drawn, and the
        replies are read once every batch is out: Redis runs one batch while the
        scheduler plans the next. On a cluster, ``Store.fire_batches``."""
        if self.options.cluster:
            return super().fire_batches(batches)
        results: list[tuple[list[bool], list[bool]]] = []
        with self._guard():
            client = cast("redis.Redis", self._connected())
            fire, key = self._scripts["fire"], self._base + "runs"
            pool = client.connection_pool
            conn: Any = pool.get_connection()  # redis-py's Connection is untyped
            sent: list[tuple[int, list[Any]]] = []  # (result index, ARGV) awaiting a reply

            def collect() -> None:
                for at, argv in sent:
                    try:
                        reply = conn.read_response()
                    except redis.exceptions.NoScriptError:  # the script cache was emptied
                        reply = fire(keys=[key], args=argv)
                    results[at] = (_flags(reply[0]), _flags(reply[1]))
                sent.clear()

            try:
                for runs, advances in batches:
                    if not runs or not advances:  # in order: after what was sent
                        collect()
                        results.append(self.fire(runs, advances))
                        continue
                    argv = self._argv(rc.insert_batch(runs), rc.advance_batch(advances))
                    conn.send_command("EVALSHA", fire.sha, 1, key, *argv)
                    sent.append((len(results), argv))
                    results.append(([], []))
                collect()
            except BaseException:
                conn.disconnect()  # replies may be left unread on it
                raise
            finally:
                pool.release(conn)
        if any(flag for inserted, _ in results for flag in inserted):
            self._wakeups.bump()
        return results

    # -- runs: reading ---------------------------------------------------

    def get_run(self, run_id: str) -> Run | None:
        fields = self._call("hgetall", self._base + "run:" + run_id)
        return rc.run_from_hash(fields)[0] if fields else None

    def _get_with_rev(self, run_id: str) -> tuple[Run, str]:
        fields = self._call("hgetall", self._base + "run:" + run_id)
        if not fields:
            raise _rules.not_found(run_id)
        return rc.run_from_hash(fields)

    def list_runs(
        self,
        *,
        schedule: str | None = None,
        states: Sequence[RunState] | None = None,
        limit: int = 50,
        before: tuple[datetime, str] | None = None,
    ) -> list[Run]:
        if limit <= 0 or (states is not None and not states):
            return []
        wanted = ["*"] if states is None else [str(RunState(s)) for s in states]
        replies = self._run(
            "list_runs",
            "" if schedule is None else "sched:" + schedule,
            limit,
            "" if before is None else _codec.to_us(before[0], "before"),
            "" if before is None else before[1],
            *rc.counted(wanted),
        )
        return self._runs(replies)

    def active_runs(self, schedule: str) -> list[Run]:
        return self._runs(
            self._run("read_index", "active:" + schedule, "run:", 0, -1, "BYRANK", -1)
        )

    def active_runs_for(self, schedules: Sequence[str]) -> dict[str, list[Run]]:
        """One script call for every schedule, their names as one JSON argument."""
        found: dict[str, list[Run]] = {name: [] for name in schedules}
        if found:
            for run in self._runs(self._run("active_runs_for", rc.encode(list(found)))):
                if run.schedule in found:
                    found[run.schedule].append(run)
        return found

    def get_runs(self, ids: Sequence[str]) -> list[Run]:
        """One script call; the runs come back in the order of ``ids``."""
        if not ids:
            return []
        by_id = {run.id: run for run in self._runs(self._run("get_runs", *dict.fromkeys(ids)))}
        return [by_id[i] for i in ids if i in by_id]

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
        now_us = _codec.to_us(now, "now")
        if limit <= 0 or (queues is not None and not queues):
            return []
        expires = now_us + round(lease_seconds * 1_000_000)
        filters = _claim_filter(queues, host)
        prefix = secrets.token_hex(12)  # each run's token: this, then its place (8 hex digits)
        replies = self._run("claim_runs", now_us, expires, worker, limit, *filters, prefix)
        return self._runs(replies)

    def renew_lease(
        self, run_id: str, token: str, *, now: datetime, lease_seconds: float
    ) -> LeaseStatus:
        expires = _codec.to_us(now + timedelta(seconds=lease_seconds), "now")
        flag = self._run("renew_lease", run_id, token, expires)
        if flag is None:
            return LeaseStatus.LOST
        return LeaseStatus.CANCEL_REQUESTED if flag == "1" else LeaseStatus.OK

    def finish_run(self, run_id: str, token: str, outcome: Outcome, *, now: datetime) -> bool:
        args = rc.finish_args(run_id, outcome, now)
        return self._finished([run_id], self._run("finish_run", run_id, token, *args))[0]

    def finish_runs(
        self, finishes: Sequence[tuple[str, str, Outcome]], *, now: datetime
    ) -> list[bool]:
        """One script call: its items in order, each checked against its own
        token; all-or-nothing (one script). Other processes are woken (one
        PUBLISH) only when some finish may give a worker something to claim:
        a run to retry or released, or a schedule's last running run ended
        while others of the schedule wait.
        """
        batch: list[list[str | list[str]]] = []
        for run_id, token, outcome in finishes:
            give_back, sets, dels = rc.finish_fields(run_id, outcome, now)
            batch.append([run_id, token, give_back, sets, dels])
        if not batch:
            return []
        flags = self._run("finish_runs", rc.encode(batch))
        return self._finished([run_id for run_id, _, _ in finishes], flags)

    def _finished(self, ids: list[str], flags: str) -> list[bool]:
        """What the finish scripts' flags say, per run; remembers the runs that no
        run waited for as they finished (``settle_waiting`` skips them)."""
        finished = [flag != "0" for flag in flags]
        unwaited = self._unwaited
        if len(unwaited) > _UNWAITED_MAX:
            unwaited.clear()  # only a shortcut: forgetting costs a lookup later
        unwaited.update(run_id for run_id, flag in zip(ids, flags, strict=True) if flag == "1")
        if any(finished):
            self._wakeups.bump()
        return finished

    def save_progress(
        self,
        run_id: str,
        token: str,
        *,
        checkpoint: JSON = UNSET,
        done: float | None = None,
        total: float | None = None,
    ) -> bool:
        row: dict[str, Any] = {"progress_done": done, "progress_total": total}
        if checkpoint is not UNSET:
            row["checkpoint"] = _codec.dumps(checkpoint, f"checkpoint of run {run_id!r}")
        sets, _ = rc.to_fields(row)
        return bool(self._run("save_progress", run_id, token, *rc.counted(sets)))

    def reclaim_expired(self, now: datetime) -> list[Run]:
        now = _codec.utc(now, "now")
        before = f"({_codec.to_us(now)}"
        replies = self._run("read_index", "running", "run:", "-inf", before, "BYSCORE", -1)
        expired = [rc.run_from_hash(fields) for fields in rc.records(replies)]
        changes = [(run, rev, _rules.reclaimed(run, now)) for run, rev in expired]
        written = self._update(changes) if changes else []
        back = [new for (_, _, new), ok in zip(changes, written, strict=True) if ok]
        if back:
            self._wakeups.bump()
        return sorted(back, key=lambda r: r.id)

    def _update(self, changes: Sequence[tuple[Run, str, Run]]) -> list[bool]:
        """Compare-and-set each ``(old, rev, new)``; True where nothing changed it since."""
        args: list[Any] = []
        for old, rev, new in changes:
            sets, dels = rc.to_fields(_codec.run_to_row(new))
            args += (old.id, rev, *rc.counted(sets), *rc.counted(dels))
        return [bool(flag) for flag in self._run("update_runs", *args)]

    def next_available_at(
        self, queues: Sequence[str] | None = None, *, host: str | None = None
    ) -> datetime | None:
        if queues is not None and not queues:
            return None
        found = self._run("next_available", *_claim_filter(queues, host))
        return None if found is None else _codec.from_us(int(found))

    # -- runs: dependencies ----------------------------------------------

    def waiting_runs(self, ids: Sequence[str] | None = None, *, limit: int = 1000) -> list[Run]:
        """One script call, reading the ``waiting`` and ``waiters:<parent>`` indexes."""
        if limit <= 0 or (ids is not None and not ids):
            return []
        some = ["0"] if ids is None else ["1"]
        wanted = [] if ids is None else list(dict.fromkeys(ids))
        return self._runs(self._run("waiting_runs", *some, limit, *wanted))

    def settle_waiting(self, ids: Sequence[str] | None = None, *, now: datetime) -> list[Run]:
        """The contract's settle, without a round trip for runs that this store just
        finished while no run waited for them (the finish script tells).

        Skipping them is safe: a run inserted later to wait for one of them is
        settled by whoever inserts it (the parent has ended by then), and an
        id is skipped once only (a later call for it looks it up).
        """
        if ids is not None:
            ids = [run_id for run_id in ids if not self._skip_settle(run_id)]
            if not ids:
                return []
        return super().settle_waiting(ids, now=now)

    def _skip_settle(self, run_id: str) -> bool:
        if run_id in self._unwaited:
            self._unwaited.discard(run_id)
            return True
        return False

    def release_waiting(
        self, run_id: str, state: RunState, *, now: datetime, error: str | None = None
    ) -> Run | None:
        """One script: a compare-and-set on the run's state, which moves it between
        indexes as every other transition does (a queued run becomes claimable, an
        ``upstream_failed`` one gets its TTL) and PUBLISHes when it queues it."""
        state = _rules.release_state(state)
        now_us = _codec.to_us(now, "now")
        given = ["0", ""] if error is None else ["1", error]
        reply = self._run("release_waiting", run_id, str(state), now_us, *given)
        if reply is None:
            return None
        [run] = self._runs(reply)
        if run.state is RunState.QUEUED:
            self._wakeups.bump()
        return run

    # -- runs: control ---------------------------------------------------

    def request_cancel(self, run_id: str, *, now: datetime) -> Run:
        now = _codec.utc(now, "now")
        return self._change(run_id, lambda run: _rules.cancelled(run, now))

    def requeue_run(self, run_id: str, *, now: datetime) -> Run:
        now = _codec.utc(now, "now")
        return self._change(run_id, lambda run: _rules.requeued(run, now))

    def _change(self, run_id: str, change: Callable[[Run], Run | None]) -> Run:
        """Read, change (None: leave as is) and compare-and-set until no one interferes."""
        for _ in range(CAS_ATTEMPTS):
            run, rev = self._get_with_rev(run_id)
            new = change(run)
            if new is None:
                return run
            if self._update([(run, rev, new)])[0]:
                self._wakeups.bump()
                return new
        raise StoreUnavailable(
            f"Redis store at {self.where}: run {run_id!r} kept changing; gave up after "
            f"{CAS_ATTEMPTS} attempts"
        )

    def prune_runs(self, schedule: str, keep: int) -> int:
        return int(self._run("prune_runs", schedule, max(0, keep)))

    # -- wake-ups --------------------------------------------------------

    def notify(self) -> None:
        """Wake waiters here and, through ``PUBLISH {prefix}:wakeup``, in other processes."""
        self._wakeups.bump()
        publish = "spublish" if self.options.cluster else "publish"
        self._call(publish, self._base + "wakeup", "")

    def wait_for_activity(self, timeout: float) -> bool:
        """Wake on a notify in this process or a write by any process using this prefix."""
        with self._guard():
            return self._wakeups.wait(timeout)


def _flags(text: str) -> list[bool]:
    """A script's one character per item, ``'1'`` or ``'0'``, as booleans."""
    return [flag == "1" for flag in text]


def _claim_filter(queues: Sequence[str] | None, host: str | None) -> list[str]:
    """The host and queue arguments of the claim scripts: the host as a list of
    none or one, then ``-1`` for every queue or the queues, counted."""
    hosts = rc.counted([] if host is None else [host])
    return hosts + (["-1"] if queues is None else rc.counted(list(queues)))
