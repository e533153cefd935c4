"""The PostgreSQL store: processes on any number of machines, one database.

All of rota's tables live in one schema (``?schema=``, default ``rota``),
reached through a small psycopg connection pool (``?pool_max=``, default 10).

Exactly once: the run id is the primary key and runs are inserted with
``ON CONFLICT (id) DO NOTHING``; a claim locks each run it takes with
``FOR UPDATE SKIP LOCKED``, so no two claims ever take the same run, and an
exclusive run is taken only under its schedule's advisory lock (see the
``claim_runs`` function in ``sql/postgres/0002_claim_host.sql``). Leases are
renewed and released only ``WHERE lease_token = <the holder's token>``.

Wake-ups cross processes with ``NOTIFY rota_<schema>``, sent by the very
statement that makes work appear; ``wait_for_activity`` listens on one
dedicated connection, opened on first use. No thread of its own.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import ExitStack, contextmanager
from datetime import datetime, timedelta
from typing import Any

import psycopg
from psycopg import sql
from psycopg.rows import tuple_row

from rota.errors import StoreUnavailable
from rota.runs import JSON, TERMINAL_STATES, Run, RunState
from rota.stores import _codec, _pg_conn, _rules
from rota.stores._pg_conn import (
    NO_RUNS,
    Settings,
    advance_rows,
    advances_json,
    aware,
    finish_params,
    free_text,
    migrations,
    names_json,
    open_pool,
    parse_url,
    run_params,
    runs_params,
    schedule_from_tuple,
    schedule_params,
    translated,
    utc_loader,
)
from rota.stores._pg_fire import LANES, Lanes, firsts_in
from rota.stores._pg_wake import Wakeups
from rota.stores.base import (
    UNSET,
    Advance,
    DecodedOnRead,
    DueSchedules,
    FireBatch,
    LeaseStatus,
    Outcome,
    ScheduleRecord,
    Store,
)

__all__ = ["PostgresStore", "migrations"]

Connection = psycopg.Connection[dict[str, Any]]

_Q = {
    name: text.encode()
    for name, text in _codec.load_queries("rota.stores", "sql/postgres/queries.sql").items()
}
_TERMINAL = sorted(str(state) for state in TERMINAL_STATES)
_UTC_LOADER = utc_loader()


class PostgresStore(Store):
    """The contract on PostgreSQL (13 or newer; tested on 15)."""

    def __init__(self, url: str) -> None:
        super().__init__()
        self.url = url
        self.settings: Settings = parse_url(url)
        self._pool = open_pool(self.settings)
        self._wakeups = Wakeups(self.settings, self._activity)
        self._me = self._wakeups.me
        """This store's signature on its notifications (its listener skips them)."""
        self._close_lock = threading.Lock()
        self._closed = False

    @classmethod
    def from_url(cls, url: str) -> PostgresStore:
        """``postgresql://user:password@host:port/db?schema=rota&pool_max=10``."""
        return cls(url)

    def __repr__(self) -> str:
        return f"<PostgresStore {self.settings.server} schema={self.settings.schema}>"

    # -- plumbing --------------------------------------------------------

    @contextmanager
    def _connection(self) -> Iterator[Connection]:
        """A pooled autocommit connection; connection errors become ``StoreUnavailable``."""
        with translated(self.settings, self._pool), self._pool.connection() as conn:
            yield conn

    @contextmanager
    def _transaction(self) -> Iterator[Connection]:
        with self._connection() as conn, conn.transaction():
            yield conn

    def _rows(self, query: str, params: dict[str, Any]) -> list[dict[str, Any]]:
        with self._connection() as conn:
            return conn.execute(_Q[query], params, binary=True).fetchall()

    def _one(self, query: str, params: dict[str, Any]) -> dict[str, Any] | None:
        rows = self._rows(query, params)
        return rows[0] if rows else None

    def _count(self, query: str, params: dict[str, Any]) -> int:
        with self._connection() as conn:
            return conn.execute(_Q[query], params, binary=True).rowcount

    def _woken_here(self) -> None:
        """Wake this process's waiters (the statement already told the others)."""
        self._wakeups.here()

    # -- lifecycle -------------------------------------------------------

    def migrate(self, *, target: int | None = None) -> None:
        """Create the schema and apply the packaged migrations not yet applied
        (up to ``target``), all in one transaction.

        Serialised by a transaction-scoped advisory lock on the schema's name:
        of many processes migrating at once, one applies each migration and the
        others then find it applied.
        """
        known = migrations()
        try:
            self._migrate(known, target)
        except psycopg.errors.InsufficientPrivilege as exc:
            raise StoreUnavailable(
                f"cannot migrate PostgreSQL schema {self.settings.schema!r} at "
                f"{self.settings.server}: {_pg_conn.first_line(exc)} (create the schema for "
                "this role, or grant it CREATE on the database)"
            ) from exc

    def _migrate(self, known: list[tuple[int, str, str]], target: int | None) -> None:
        schema = sql.Identifier(self.settings.schema)
        with self._transaction() as conn:
            conn.execute(
                "SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))",
                [f"rota.migrate.{self.settings.schema}"],
            )
            # Not CREATE SCHEMA IF NOT EXISTS: that needs CREATE on the database
            # even when the schema exists (made by a DBA for a less trusted role).
            if not conn.execute(_Q["schema_exists"], {"name": self.settings.schema}).fetchone():
                conn.execute(sql.SQL("CREATE SCHEMA {}").format(schema))
            conn.execute(sql.SQL("SET LOCAL search_path TO {}").format(schema))
            conn.execute(
                "CREATE TABLE IF NOT EXISTS rota_migrations "
                "(version integer PRIMARY KEY, name text NOT NULL)"
            )
            applied = {row["version"] for row in conn.execute(_Q["applied_migrations"])}
            self._refuse_newer(applied, known)
            for version, name, script in known:
                if version in applied or (target is not None and version > target):
                    continue
                conn.execute(script.encode())
                conn.execute(_Q["record_migration"], {"version": version, "name": name})

    def _refuse_newer(self, applied: set[int], known: list[tuple[int, str, str]]) -> None:
        newest = max((v for v, _, _ in known), default=0)
        if applied and max(applied) > newest:
            raise StoreUnavailable(
                f"PostgreSQL schema {self.settings.schema!r} at {self.settings.server} has "
                f"version {max(applied)}, newer than this rota knows ({newest}); upgrade rota"
            )

    def close(self) -> None:
        """Close the pool and the listening connection; idempotent."""
        with self._close_lock:
            if self._closed:
                return
            self._closed = True
        self._wakeups.close()
        self._pool.close()

    # -- schedules -------------------------------------------------------

    def get_schedule(self, name: str) -> ScheduleRecord | None:
        row = self._one("get_schedule", {"name": name})
        return None if row is None else _codec.row_to_schedule(row)

    def list_schedules(
        self,
        *,
        include_retired: bool = False,
        after: str | None = None,
        limit: int | None = None,
        per_host: bool | None = None,
    ) -> list[ScheduleRecord]:
        params = {
            "include_retired": include_retired,
            "after": after,
            "limit": limit,
            "per_host": per_host,
        }
        query = "list_per_host_schedules" if per_host else "list_schedules"
        return [_codec.row_to_schedule(row) for row in self._rows(query, params)]

    def save_schedule(
        self, record: ScheduleRecord, *, expected_version: int | None
    ) -> ScheduleRecord | None:
        params = schedule_params(record) | {"me": self._me}
        if expected_version is None:
            row = self._one("insert_schedule", params)
        else:
            row = self._one("update_schedule", params | {"expected_version": expected_version})
        if row is None:
            return None
        self._woken_here()
        return _codec.row_to_schedule(_codec.schedule_to_row(record) | {"version": row["version"]})

    def insert_schedules(self, records: Sequence[ScheduleRecord]) -> list[bool]:
        """One statement (``INSERT … SELECT FROM unnest … ON CONFLICT DO NOTHING``),
        one notification.

        Of a name given more than once only the first item is sent (the later
        ones find it taken); rows go in sorted by name, so that concurrent
        batches sharing names wait for each other in one order (no deadlock).
        """
        firsts: dict[str, dict[str, Any]] = {}
        for record in records:
            row = schedule_params(record)  # refuses a naive datetime before any write
            firsts.setdefault(record.name, row)
        if not firsts:
            return []
        rows = [firsts[name] for name in sorted(firsts)]
        columns = [col for col in rows[0] if col != "version"]
        params: dict[str, Any] = {col: [row[col] for row in rows] for col in columns}
        got = self._one("insert_schedules", params | {"me": self._me})
        inserted = firsts_in([r.name for r in records], got["names"] if got else ())
        if any(inserted):
            self._woken_here()
        return inserted

    def advance_schedule(
        self,
        name: str,
        *,
        expected_version: int,
        last_slot: datetime | None,
        next_due: datetime | None,
    ) -> bool:
        params = {
            "name": name,
            "expected_version": expected_version,
            "last_slot": aware(last_slot, "last_slot"),
            "next_due": aware(next_due, "next_due"),
        }
        return self._count("advance_schedule", params) == 1

    def advance_schedules(self, advances: Sequence[Advance]) -> list[bool]:
        """The ``fire`` statement with no runs: its rows locked in name order.

        A name given more than once is advanced in rounds, each in the same
        transaction, so that every item sees what the one before it did.
        """
        return self.fire((), advances)[1]

    def _batched(
        self, query: str, key: str, returned: str, rows: list[dict[str, Any]]
    ) -> list[bool]:
        """Run a batch statement over ``rows`` (one array per column); True per
        row whose ``key`` comes back in the array column ``returned``.

        The statements take distinct keys: a key repeated goes into a later
        round, in the same transaction, as if the items ran one by one.
        """
        keys = [row[key] for row in rows]
        rounds = _rounds(keys)
        done = [False] * len(rows)
        with self._transaction() if len(rounds) > 1 else self._connection() as conn:
            for members in rounds:
                params: dict[str, Any] = {col: [rows[n][col] for n in members] for col in rows[0]}
                got = conn.execute(_Q[query], params | {"me": self._me}, binary=True).fetchone()
                _mark(done, keys, members, got[returned] if got else None)
        return done

    def delete_schedule(self, name: str) -> bool:
        deleted = self._one("delete_schedule", {"name": name, "me": self._me}) is not None
        if deleted:
            self._woken_here()
        return deleted

    def due_schedules(self, now: datetime, limit: int) -> list[ScheduleRecord]:
        return [schedule_from_tuple(row) for row in self._due_rows("due_schedules", now, limit)]

    def due_for_tick(self, now: datetime, limit: int) -> DueSchedules:
        """One statement: the due rows with a flag each for active runs. Their
        specs are parsed as the scheduler reads each chunk (``DecodedOnRead``), so
        it plans and sends its first chunk without waiting for the other rows'."""
        rows = self._due_rows("due_for_tick", now, limit)
        busy = frozenset(row[0] for row in rows if row[12])
        return DueSchedules(DecodedOnRead(rows, schedule_from_tuple), busy)

    def _due_rows(self, query: str, now: datetime, limit: int) -> list[tuple[Any, ...]]:
        """The rows of a due query as tuples, for ``schedule_from_tuple``: a tick reads
        a thousand of them."""
        params = {"now": _codec.utc(now, "now"), "limit": limit}
        with self._connection() as conn:
            cursor = conn.cursor(row_factory=tuple_row)
            cursor.adapters.register_loader("timestamptz", _UTC_LOADER)
            return cursor.execute(_Q[query], params, binary=True).fetchall()

    def next_due_at(self) -> datetime | None:
        row = self._one("next_due_at", {})
        return None if row is None else _codec.opt_from_us(row["min"])

    # -- runs: creation --------------------------------------------------

    def insert_run(self, run: Run) -> bool:
        inserted = self._one("insert_run", run_params(run) | {"me": self._me}) is not None
        if inserted:
            self._woken_here()
        return inserted

    def insert_runs(self, runs: Sequence[Run]) -> list[bool]:
        """The ``fire`` statement with no advances.

        Rows go in sorted by id: concurrent batches that share ids (two
        schedulers planning the same slots) then wait for each other in one
        order, never in a cycle (a deadlock). The sort is stable, so of a
        repeated id the first is the one inserted.
        """
        return self.fire(runs, ())[0]

    def fire(
        self, runs: Sequence[Run], advances: Sequence[Advance]
    ) -> tuple[list[bool], list[bool]]:
        """``insert_runs`` and ``advance_schedules`` in one statement (the ``fire``
        query): one round trip, one transaction, one commit.

        The lists go as JSON documents (``runs_params``, ``advances_json``).
        Every row is encoded (a naive datetime refused) before anything is
        sent. Locks are taken as the two calls take them, runs by id, then
        schedules by name. A name given more than once is advanced in later
        rounds (the same statement, with no runs), in the same transaction.
        """
        if not runs and not advances:
            return [], []
        rows = advance_rows(advances)
        names = [row[0] for row in rows]
        rounds = _rounds(names) or [[]]
        params = runs_params(runs) | {"me": self._me}
        advanced = [False] * len(rows)
        ids: Iterable[str] = ()
        with self._transaction() if len(rounds) > 1 else self._connection() as conn:
            for members in rounds:
                params["advances"] = advances_json([rows[n] for n in members])
                got = conn.execute(_Q["fire"], params, binary=True).fetchone()
                assert got is not None  # aggregates: always one row
                _mark(advanced, names, members, got["names"])
                if got["ids"]:
                    ids = got["ids"]
                params |= NO_RUNS  # the runs go in the first round only
        inserted = firsts_in([run.id for run in runs], ids)
        if any(inserted):
            self._woken_here()
        return inserted, advanced

    def fire_batches(self, batches: Iterable[FireBatch]) -> list[tuple[list[bool], list[bool]]]:
        """Each batch's ``fire`` statement is sent in pipeline mode, in a transaction
        of its own, as soon as it is drawn, on one of two connections
        (``_pg_fire``), and the results read once every batch is out: the server
        writes two batches at once while the scheduler plans the next. (A sync
        point per batch would wait for its results; ``BEGIN``/``COMMIT`` do not.)
        A batch that names a schedule twice (several statements) goes through
        ``fire`` after what was sent before it. Drawing may need a connection of
        its own: with a pool of two, one lane; of one, ``Store.fire_batches``."""
        if self.settings.pool_max < 2:
            return super().fire_batches(batches)
        with ExitStack() as stack:
            lanes = Lanes(stack, self._connection, min(LANES, self.settings.pool_max - 1))
            for runs, advances in batches:
                rows = advance_rows(advances)
                names = [row[0] for row in rows]
                if len(set(names)) < len(names):
                    lanes.settle()
                    lanes.results.append(self.fire(runs, advances))
                    continue
                params = runs_params(runs) | {"me": self._me}
                params["advances"] = advances_json(rows)
                lanes.send(_Q["fire"], params, [run.id for run in runs], names)
            results = lanes.settle()
        if any(flag for inserted, _ in results for flag in inserted):
            self._woken_here()
        return results

    # -- runs: reading ---------------------------------------------------

    def get_run(self, run_id: str) -> Run | None:
        row = self._one("get_run", {"id": run_id})
        return None if row is None else _codec.row_to_run(row)

    def list_runs(
        self,
        *,
        schedule: str | None = None,
        states: Sequence[RunState] | None = None,
        limit: int = 50,
        before: tuple[datetime, str] | None = None,
    ) -> list[Run]:
        params = {
            "schedule": schedule,
            "states": None if states is None else [str(s) for s in states],
            "before_at": None if before is None else _codec.utc(before[0], "before"),
            "before_id": None if before is None else before[1],
            "limit": limit,
        }
        return [_codec.row_to_run(row) for row in self._rows("list_runs", params)]

    def active_runs(self, schedule: str) -> list[Run]:
        return [_codec.row_to_run(r) for r in self._rows("active_runs", {"schedule": schedule})]

    def active_runs_for(self, schedules: Sequence[str]) -> dict[str, list[Run]]:
        """One statement (``schedule = ANY``) for every schedule."""
        found: dict[str, list[Run]] = {name: [] for name in schedules}
        if found:
            for row in self._rows("active_runs_for", {"schedules": names_json(found)}):
                found[row["schedule"]].append(_codec.row_to_run(row))
        return found

    def get_runs(self, ids: Sequence[str]) -> list[Run]:
        """One statement (``id = ANY``); the runs come back in the order of ``ids``."""
        if not ids:
            return []
        rows = self._rows("get_runs", {"ids": list(dict.fromkeys(ids))})
        by_id = {row["id"]: row for row in rows}
        return [_codec.row_to_run(by_id[i]) for i in ids if i in by_id]

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
        if limit <= 0:
            return []
        params = {
            "worker": worker,
            "now": now,
            "expires": now + timedelta(seconds=lease_seconds),
            "limit": limit,
            "queues": None if queues is None else list(queues),
            "host": host,
        }
        return [_codec.row_to_run(row) for row in self._rows("claim_runs", params)]

    def renew_lease(
        self, run_id: str, token: str, *, now: datetime, lease_seconds: float
    ) -> LeaseStatus:
        expires = _codec.utc(now, "now") + timedelta(seconds=lease_seconds)
        row = self._one("renew_lease", {"id": run_id, "token": token, "expires": expires})
        if row is None:
            return LeaseStatus.LOST
        return LeaseStatus.CANCEL_REQUESTED if row["cancel_requested"] else LeaseStatus.OK

    def finish_run(self, run_id: str, token: str, outcome: Outcome, *, now: datetime) -> bool:
        params = finish_params(run_id, token, outcome, _codec.utc(now, "now"))
        finished = self._one("finish_run", params | {"me": self._me}) is not None
        if finished:
            self._woken_here()
        return finished

    def finish_runs(
        self, finishes: Sequence[tuple[str, str, Outcome]], *, now: datetime
    ) -> list[bool]:
        """One statement (``UPDATE … FROM unnest``), each row checked against its
        own token, one notification; all-or-nothing (a run id given more than
        once is finished in rounds, all in one transaction).
        """
        now = _codec.utc(now, "now")
        rows = [finish_params(run_id, token, outcome, now) for run_id, token, outcome in finishes]
        if not rows:
            return []
        finished = self._batched("finish_runs", "id", "ids", rows)
        if any(finished):
            self._woken_here()
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
        params = {
            "id": run_id,
            "token": token,
            "set_checkpoint": checkpoint is not UNSET,
            "checkpoint": None
            if checkpoint is UNSET
            else _codec.dumps(checkpoint, f"checkpoint of run {run_id!r}"),
            "done": None if done is None else float(done),
            "total": None if total is None else float(total),
        }
        return self._count("save_progress", params) == 1

    def reclaim_expired(self, now: datetime) -> list[Run]:
        now = _codec.utc(now, "now")
        with self._transaction() as conn:
            rows = conn.execute(_Q["expired_runs"], {"now": now}, binary=True).fetchall()
            reclaimed = [_rules.reclaimed(_codec.row_to_run(row), now) for row in rows]
            if reclaimed:
                with conn.cursor() as cursor:
                    cursor.executemany(_Q["update_run"], [run_params(r) for r in reclaimed])
                conn.execute(_Q["notify"], {"me": self._me})
        if reclaimed:
            self._woken_here()
        return reclaimed

    def next_available_at(
        self, queues: Sequence[str] | None = None, *, host: str | None = None
    ) -> datetime | None:
        params = {"queues": None if queues is None else list(queues), "host": host}
        row = self._one("next_available_at", params)
        return None if row is None else _codec.opt_from_us(row["min"])

    # -- runs: dependencies ----------------------------------------------

    def waiting_runs(self, ids: Sequence[str] | None = None, *, limit: int = 1000) -> list[Run]:
        """Read from the partial index of waiting runs, parents matched in SQL."""
        if limit <= 0 or (ids is not None and not ids):
            return []
        params = {"ids": None if ids is None else list(dict.fromkeys(ids)), "limit": limit}
        return [_codec.row_to_run(row) for row in self._rows("waiting_runs", params)]

    def release_waiting(
        self, run_id: str, state: RunState, *, now: datetime, error: str | None = None
    ) -> Run | None:
        """One ``UPDATE … WHERE state = 'waiting'``: a compare-and-set; the
        statement itself notifies other processes when it queues the run."""
        params = _rules.release_params(run_id, state, now, error)
        params["error"] = free_text(params["error"])
        row = self._one("release_waiting", params | {"me": self._me})
        if row is None:
            return None
        run = _codec.row_to_run(row)
        if run.state is RunState.QUEUED:
            self._woken_here()
        return run

    # -- runs: control ---------------------------------------------------

    def request_cancel(self, run_id: str, *, now: datetime) -> Run:
        now = _codec.utc(now, "now")
        with self._transaction() as conn:
            run = self._get_for_update(conn, run_id)
            changed = _rules.cancelled(run, now)
            if changed is None:
                return run
            self._update(conn, changed)
        self._woken_here()
        return changed

    def requeue_run(self, run_id: str, *, now: datetime) -> Run:
        now = _codec.utc(now, "now")
        with self._transaction() as conn:
            run = _rules.requeued(self._get_for_update(conn, run_id), now)
            self._update(conn, run)
        self._woken_here()
        return run

    @staticmethod
    def _get_for_update(conn: Connection, run_id: str) -> Run:
        row = conn.execute(_Q["get_run_for_update"], {"id": run_id}, binary=True).fetchone()
        if row is None:
            raise _rules.not_found(run_id)
        return _codec.row_to_run(row)

    def _update(self, conn: Connection, run: Run) -> None:
        conn.execute(_Q["update_run"], run_params(run))
        conn.execute(_Q["notify"], {"me": self._me})

    def prune_runs(self, schedule: str, keep: int) -> int:
        params = {"schedule": schedule, "keep": max(0, keep), "terminal": _TERMINAL}
        return self._count("prune_runs", params)

    # -- wake-ups --------------------------------------------------------

    def notify(self) -> None:
        """Wake waiters here at once, and in every process through ``NOTIFY``."""
        self._wakeups.here()
        with self._connection() as conn:
            conn.execute(_Q["notify"], {"me": self._wakeups.me})

    def wait_for_activity(self, timeout: float) -> bool:
        """Wake on ``notify`` in this process or a notification from any other.

        The listening connection is opened on the first wait. One thread at a
        time listens; another waiting meanwhile sees only this process's wake-ups.
        """
        return self._wakeups.wait(timeout)


def _rounds(keys: Sequence[str]) -> list[list[int]]:
    """Item indexes in rounds of distinct keys: a key's k-th item goes in round k."""
    rounds: list[list[int]] = []
    seen: dict[str, int] = {}
    for n, key in enumerate(keys):
        k = seen[key] = seen.get(key, -1) + 1
        if k == len(rounds):
            rounds.append([])
        rounds[k].append(n)
    return rounds


def _mark(
    done: list[bool], keys: list[str], members: list[int], returned: Iterable[str] | None
) -> None:
    """``done[n]``: whether ``keys[n]`` (for each ``n`` of ``members``) came back."""
    hit = set(returned or ())
    for n in members:
        done[n] = keys[n] in hit
