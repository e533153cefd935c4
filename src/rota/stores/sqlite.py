"""The SQLite store: the default, embedded, for one host.

Safe for many threads (one connection behind a lock: SQLite takes one
writer at a time anyway, and a Python lock hands over faster than SQLite's
busy handler, which sleeps) and for many processes on one host (WAL, a
30 s busy timeout, claims under the write lock via ``BEGIN IMMEDIATE``).
Needs a local disk: file locking on network file systems is unreliable.

Exactly once: the run id is the primary key and runs are inserted with
``ON CONFLICT DO NOTHING``; a claim selects and updates inside one write
transaction, so no two connections ever claim the same run.
"""

from __future__ import annotations

import json
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from rota.errors import ConfigurationError, StoreUnavailable
from rota.runs import JSON, TERMINAL_STATES, Run, RunState
from rota.stores import _codec, _rules
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

if TYPE_CHECKING:
    from rota.stores._sqlite_fire import Chunk

BUSY_TIMEOUT = 30.0
"""Seconds a connection waits for another process's write lock before giving up."""
POLL_INTERVAL = 0.05
"""How often ``wait_for_activity`` checks for other processes' commits."""

_Q = _codec.load_queries("rota.stores", "sql/sqlite/queries.sql")
_INSERT_RUN = (
    f"INSERT INTO rota_runs ({', '.join(_codec.RUN_COLUMNS)}) "
    f"VALUES ({', '.join('?' * len(_codec.RUN_COLUMNS))}) ON CONFLICT (id) DO NOTHING"
)
"""``insert_run`` with positional parameters (``_codec.run_values``): binding 31 values
by name took a third of the statement's time."""
_MIGRATION_FILE = re.compile(r"^(\d{4})_(\w+)\.sql$")
_TERMINAL = json.dumps(sorted(TERMINAL_STATES))
CACHE_KIB = 32 * 1024
"""Page cache of each connection, in KiB: a tick's 1,000 random schedule
updates then find their pages in memory (SQLite's default is 2 MiB)."""
WAL_AUTOCHECKPOINT = 10_000
"""WAL pages (4 KiB each) after which a commit checkpoints: a safety net only.

The default (1,000 pages) makes the commit of every scheduler tick, which
writes ~1,500 pages, copy the WAL into the database and fsync it: half the
tick's time. Instead a store checkpoints when it is about to idle (see
``SQLiteStore.wait_for_activity``) and on close; this bound holds only for a
process that never idles (a long backlog)."""
WAL_SIZE_LIMIT = WAL_AUTOCHECKPOINT * 4096
"""Bytes the WAL file is truncated to once checkpointed (it is reused, not shrunk)."""
_SETUP = (
    f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT * 1000)}",
    "PRAGMA journal_mode = WAL",
    "PRAGMA synchronous = NORMAL",
    f"PRAGMA cache_size = -{CACHE_KIB}",
    f"PRAGMA wal_autocheckpoint = {WAL_AUTOCHECKPOINT}",
    f"PRAGMA journal_size_limit = {WAL_SIZE_LIMIT}",
)


def migrations() -> list[tuple[int, str, str]]:
    """``(version, name, sql)`` of every packaged migration, in order."""
    folder = _codec.package_file("rota.stores", "sql/sqlite")
    found = []
    for entry in os.scandir(folder):
        match = _MIGRATION_FILE.match(entry.name)
        if match:
            with open(entry.path, encoding="utf-8") as file:
                found.append((int(match[1]), match[2], file.read()))
    return sorted(found)


def path_from_url(url: str) -> Path:
    """The database file of ``sqlite:///relative.db`` or ``sqlite:////abs/path.db``."""
    parts = urlsplit(url)
    if parts.scheme.lower() != "sqlite":
        raise ConfigurationError(f"not a SQLite store URL: {url!r}")
    if ":memory:" in url or "mode=memory" in url:
        raise ConfigurationError(
            f"SQLite store URL {url!r} names an in-memory database, which other connections "
            "and processes cannot see: use 'memory://' instead"
        )
    if parts.netloc or parts.query or parts.fragment:
        raise ConfigurationError(
            f"bad SQLite store URL {url!r}: use 'sqlite:///relative/path.db' "
            "or 'sqlite:////absolute/path.db' (no host, no options)"
        )
    path = parts.path[1:] if parts.path.startswith("/") else parts.path
    if not path:
        raise ConfigurationError(
            f"SQLite store URL {url!r} names no file; use e.g. 'sqlite:///rota.db'"
        )
    return Path(path)


def _refuse_unusable(path: Path) -> None:
    """``StoreUnavailable`` naming ``path`` and why, before anything is created."""

    def fail(reason: str) -> StoreUnavailable:
        return StoreUnavailable(f"cannot open SQLite store {str(path)!r}: {reason}")

    parent = path.parent
    if path.is_dir():
        raise fail("it is a directory; name a file inside it, e.g. 'rota.db'")
    if not parent.exists():
        raise fail(f"directory {str(parent)!r} does not exist; create it first")
    if not parent.is_dir():
        raise fail(f"{str(parent)!r} is not a directory")
    if path.exists() and not os.access(path, os.R_OK | os.W_OK):
        raise fail("permission denied (the file must be readable and writable)")
    if not os.access(parent, os.W_OK | os.X_OK):
        # SQLite creates the -wal and -shm files next to the database.
        raise fail(f"permission denied: cannot create files in {str(parent)!r}")


def _execute_when_free(conn: sqlite3.Connection, statement: str, deadline: float) -> None:
    """``statement``, retried while the database is locked, until ``deadline``.

    Opening a new database while other processes open it too, SQLite can
    answer "database is locked" at once, without waiting in its busy
    handler (one of them is switching the file to WAL): several schedulers
    and workers started together on a fresh file must all get in.
    """
    delay = 0.001
    while True:
        try:
            conn.execute(statement).fetchall()
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() >= deadline:
                raise
        time.sleep(delay)
        delay = min(delay * 2, 0.05)


def connect(path: Path) -> sqlite3.Connection:
    """An autocommit connection in WAL mode, or ``StoreUnavailable``; never half a file."""
    _refuse_unusable(path)
    existed = path.exists()
    conn = None
    try:
        conn = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT, isolation_level=None, check_same_thread=False
        )
        conn.row_factory = sqlite3.Row
        deadline = time.monotonic() + BUSY_TIMEOUT
        for statement in (*_SETUP, "SELECT count(*) FROM sqlite_master"):
            _execute_when_free(conn, statement, deadline)
    except sqlite3.Error as exc:
        if conn is not None:
            conn.close()
        if not existed:
            for leftover in (path, path.with_name(path.name + "-wal")):
                with suppress(OSError):
                    leftover.unlink()
        raise StoreUnavailable(f"cannot open SQLite store {str(path)!r}: {exc}") from exc
    return conn


class SQLiteStore(Store):
    """The contract on one SQLite file (WAL mode)."""

    def __init__(self, path: str | os.PathLike[str], *, url: str | None = None) -> None:
        super().__init__()
        self.path = Path(path).absolute()
        self.url = url or f"sqlite:///{self.path}"
        self._lock = threading.RLock()
        self._conn: sqlite3.Connection | None = connect(self.path)
        self._data_version = self._read_data_version()
        self._checkpoint_lock = threading.Lock()
        self._checkpointer: sqlite3.Connection | None = None
        """Opened on the first checkpoint: checkpoints never hold ``_lock``."""
        self._checkpointed_changes = 0
        """``total_changes`` of ``_conn`` at the last checkpoint."""
        self._fire_ready = False
        """Whether ``_conn`` has the temporary objects ``fire_batches`` writes with."""

    @classmethod
    def from_url(cls, url: str) -> SQLiteStore:
        """``sqlite:///relative.db`` (to the working directory) or ``sqlite:////abs.db``."""
        return cls(path_from_url(url), url=url)

    # -- plumbing --------------------------------------------------------

    @contextmanager
    def _use(self) -> Iterator[sqlite3.Connection]:
        """The connection, held exclusively; SQLite errors become ``StoreUnavailable``."""
        with self._lock:
            if self._conn is None:
                raise StoreUnavailable(f"store {self.url!r} is closed")
            try:
                yield self._conn
            except sqlite3.OperationalError as exc:
                raise StoreUnavailable(f"SQLite store {str(self.path)!r}: {exc}") from exc
            except sqlite3.DatabaseError as exc:
                if type(exc) is not sqlite3.DatabaseError:
                    raise
                raise StoreUnavailable(f"SQLite store {str(self.path)!r}: {exc}") from exc

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: the database's one write lock, taken up front."""
        with self._use() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _one(self, query: str, params: dict[str, Any]) -> sqlite3.Row | None:
        with self._use() as conn:
            # fetchall: an UPDATE … RETURNING only completes once fully stepped.
            rows: list[sqlite3.Row] = conn.execute(_Q[query], params).fetchall()
            return rows[0] if rows else None

    def _all(self, query: str, params: dict[str, Any]) -> list[sqlite3.Row]:
        with self._use() as conn:
            return conn.execute(_Q[query], params).fetchall()

    def _change(self, query: str, params: dict[str, Any]) -> int:
        with self._use() as conn:
            return conn.execute(_Q[query], params).rowcount

    def _write_each(self, query: str, rows: Sequence[dict[str, Any]]) -> list[bool]:
        """``_each`` in one write transaction; one wake-up if any row changed."""
        if not rows:
            return []
        with self._write() as conn:
            changed = _each(conn, _Q[query], rows)
        if any(changed):
            self.notify()
        return changed

    # -- lifecycle -------------------------------------------------------

    def migrate(self, *, target: int | None = None) -> None:
        """Apply the packaged migrations not yet applied (up to ``target``).

        Runs under the write lock: of many processes migrating at once, one
        applies each migration and the others then find it applied.
        """
        known = migrations()
        with self._write() as conn:
            conn.execute(_Q["create_migrations"])
            applied = {row[0] for row in conn.execute(_Q["applied_migrations"])}
            newest = max((v for v, _, _ in known), default=0)
            if applied and max(applied) > newest:
                raise StoreUnavailable(
                    f"SQLite store {str(self.path)!r} has schema version {max(applied)}, "
                    f"newer than this rota knows ({newest}); upgrade rota"
                )
            for version, name, sql in known:
                if version in applied or (target is not None and version > target):
                    continue
                for statement in _codec.split_statements(sql, sqlite3.complete_statement):
                    conn.execute(statement)
                conn.execute(_Q["record_migration"], {"version": version, "name": name})

    def close(self) -> None:
        """Checkpoint what this store wrote (see ``checkpoint``), then close."""
        self.checkpoint()
        with self._lock:
            conn, self._conn = self._conn, None
        with self._checkpoint_lock:
            checkpointer, self._checkpointer = self._checkpointer, None
        for each in (checkpointer, conn):
            if each is not None:
                each.close()

    def checkpoint(self) -> None:
        """Copy the WAL into the database (PASSIVE: never waits for, nor blocks,
        readers or writers) if this store has written since the last time.

        Durability is the WAL's either way: a checkpoint only moves committed
        pages into the database file, so that the WAL stays small (readers
        search it) and can be reused. Done off the hot path, on a connection
        of its own: when the store is about to idle and on close. Best
        effort: a busy or failing checkpoint is left to the next one (or to
        ``WAL_AUTOCHECKPOINT``).
        """
        with self._lock:
            if self._conn is None:
                return
            changes = self._conn.total_changes
        if changes == self._checkpointed_changes:
            return
        with self._checkpoint_lock, suppress(sqlite3.Error, StoreUnavailable):
            if self._checkpointer is None:
                self._checkpointer = connect(self.path)
                self._checkpointer.execute("PRAGMA cache_size = -256")
            self._checkpointer.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
            self._checkpointed_changes = changes

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
            "limit": -1 if limit is None else limit,
            "per_host": None if per_host is None else int(per_host),
        }
        query = "list_per_host_schedules" if per_host else "list_schedules"
        return [_codec.row_to_schedule(row) for row in self._all(query, params)]

    def save_schedule(
        self, record: ScheduleRecord, *, expected_version: int | None
    ) -> ScheduleRecord | None:
        row = _codec.schedule_to_row(record)
        if expected_version is None:
            changed = self._change("insert_schedule", row)
        else:
            changed = self._change("update_schedule", row | {"expected_version": expected_version})
        if not changed:
            return None
        self.notify()
        return _codec.row_to_schedule(row | {"version": (expected_version or 0) + 1})

    def insert_schedules(self, records: Sequence[ScheduleRecord]) -> list[bool]:
        """One write transaction, one insert-if-absent per item, in order (so
        of a name given twice the first is inserted); one wake-up."""
        return self._write_each("insert_schedule", [_codec.schedule_to_row(r) for r in records])

    def advance_schedule(
        self,
        name: str,
        *,
        expected_version: int,
        last_slot: datetime | None,
        next_due: datetime | None,
    ) -> bool:
        params = _advance_params(Advance(name, expected_version, last_slot, next_due))
        return self._change("advance_schedule", params) == 1

    def advance_schedules(self, advances: Sequence[Advance]) -> list[bool]:
        """One write transaction, one compare-and-set per item, in order."""
        rows = [_advance_params(a) for a in advances]
        if not rows:
            return []
        with self._write() as conn:
            return _each(conn, _Q["advance_schedule"], rows)

    def delete_schedule(self, name: str) -> bool:
        deleted = self._change("delete_schedule", {"name": name}) == 1
        if deleted:
            self.notify()
        return deleted

    def due_schedules(self, now: datetime, limit: int) -> list[ScheduleRecord]:
        params = {"now": _codec.to_us(now, "now"), "limit": limit}
        return _codec.schedules_from_values(self._all("due_schedules", params))

    def due_for_tick(self, now: datetime, limit: int) -> DueSchedules:
        """One statement: the due rows, each flagged for active runs; decoded as
        the scheduler reads each chunk, so the writer thread starts on the first
        chunk while the others are still rows."""
        params = {"now": _codec.to_us(now, "now"), "limit": limit}
        rows = self._all("due_for_tick", params)
        at = _codec.Instants()
        return DueSchedules(
            DecodedOnRead(rows, lambda row: _codec.schedule_from_values(row, at)),
            frozenset(row[0] for row in rows if row[12]),
        )

    def next_due_at(self) -> datetime | None:
        row = self._one("next_due_at", {})
        return None if row is None else _codec.opt_from_us(row[0])

    # -- runs: creation --------------------------------------------------

    def insert_run(self, run: Run) -> bool:
        with self._use() as conn:
            inserted = conn.execute(_INSERT_RUN, _codec.run_values(run)).rowcount == 1
        if inserted:
            self.notify()
        return inserted

    def insert_runs(self, runs: Sequence[Run]) -> list[bool]:
        """One write transaction (see ``fire``)."""
        return self.fire(runs, ())[0]

    def fire(
        self, runs: Sequence[Run], advances: Sequence[Advance]
    ) -> tuple[list[bool], list[bool]]:
        """The runs inserted and the schedules advanced in one write transaction:
        one commit for the tick, and no moment where another process sees the
        one without the other. Every row is encoded (and a naive datetime
        refused) before the transaction begins."""
        run_rows = [_codec.run_values(run) for run in runs]
        advance_rows = [_advance_params(a) for a in advances]
        if not run_rows and not advance_rows:
            return [], []
        with self._write() as conn:
            inserted = _each(conn, _INSERT_RUN, run_rows)
            advanced = _each(conn, _Q["advance_schedule"], advance_rows)
        if any(inserted):
            self.notify()
        return inserted, advanced

    def fire_batches(self, batches: Iterable[FireBatch]) -> list[tuple[list[bool], list[bool]]]:
        """Each batch is written by a thread of this call's, in a transaction of its
        own, as soon as it is drawn: SQLite writes one batch while the caller plans
        the next (see ``rota.stores._sqlite_fire``). A batch that names a schedule
        twice goes through ``fire`` once the batches before it are written.

        If drawing a batch raises, the batches drawn before it are written, then
        the error propagates; if writing one fails, no later batch is written
        and that error propagates. No transaction is left open either way.
        """
        # Imported here: a ``rota run`` with nothing due never loads it.
        from rota.stores import _sqlite_fire as _fire

        results: list[tuple[list[bool], list[bool]]] = []
        writer = _fire.Writer(self._fire_chunk)
        with _fire.faster_switching():
            try:
                for runs, advances in batches:
                    if writer.failed:
                        break
                    chunk = _fire.encode(runs, advances) if runs or advances else None
                    if chunk is not None:
                        writer.submit(len(results), chunk)
                        results.append(([], []))
                        continue
                    if not writer.drain():  # in order: after the batches before it
                        break
                    results.append(self.fire(runs, advances))
            finally:
                writer.close()
        writer.raise_failure()
        for at, result in writer.results.items():
            results[at] = result
        if any(flag for inserted, _ in results for flag in inserted):
            self.notify()
        return results

    def _fire_chunk(self, chunk: Chunk) -> tuple[list[bool], list[bool]]:
        """Write one batch of ``fire_batches`` (on its writer thread)."""
        from rota.stores import _sqlite_fire as _fire

        with self._use() as conn:
            if not self._fire_ready:
                for statement in _fire.setup_statements(_Q):
                    conn.execute(statement)
                self._fire_ready = True
            if _fire.write_counted(conn, chunk, _Q):
                return chunk.results(set(), None)
        with self._write() as conn:
            present, current = _fire.write_checked(conn, chunk, _Q)
        return chunk.results(present, current)

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
            "states": None if states is None else json.dumps([str(s) for s in states]),
            "before_at": None if before is None else _codec.to_us(before[0], "before"),
            "before_id": None if before is None else before[1],
            "limit": limit,
        }
        return [_codec.row_to_run(row) for row in self._all("list_runs", params)]

    def active_runs(self, schedule: str) -> list[Run]:
        return [_codec.row_to_run(r) for r in self._all("active_runs", {"schedule": schedule})]

    def active_runs_for(self, schedules: Sequence[str]) -> dict[str, list[Run]]:
        """One query for every schedule."""
        found: dict[str, list[Run]] = {name: [] for name in schedules}
        if found:
            params = {"schedules": json.dumps(list(found))}
            for row in self._all("active_runs_for", params):
                found[row["schedule"]].append(_codec.row_to_run(row))
        return found

    def get_runs(self, ids: Sequence[str]) -> list[Run]:
        """One query; the runs come back in the order of ``ids``."""
        if not ids:
            return []
        rows = self._all("get_runs", {"ids": json.dumps(list(dict.fromkeys(ids)))})
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
        now_us = _codec.to_us(now, "now")
        params = {
            "now": now_us,
            "expires": now_us + round(lease_seconds * 1_000_000),
            "worker": worker,
        }
        if limit <= 0:
            return []
        with self._write() as conn:
            ids = self._pick(conn, now_us, limit, queues, host)
            claim = _Q["claim_run"]
            rows = [
                conn.execute(claim, params | {"id": i, "token": _rules.new_token()}).fetchall()[0]
                for i in ids
            ]
        return [_codec.row_to_run(row) for row in rows]

    @staticmethod
    def _pick(
        conn: sqlite3.Connection,
        now_us: int,
        limit: int,
        queues: Sequence[str] | None,
        host: str | None,
    ) -> list[str]:
        """Ids to claim, in claim order.

        The query leaves out exclusive runs whose schedule is running; here
        an exclusive run is also left out when this claim already took a run
        of its schedule.
        """
        params = {"now": now_us, **_claim_filter(queues, host)}
        cursor = conn.execute(_Q["claim_candidates"], params)
        taken: set[str] = set()
        picked: list[str] = []
        try:
            for run_id, schedule, exclusive in cursor:
                if schedule is not None:
                    if exclusive and schedule in taken:
                        continue
                    taken.add(schedule)
                picked.append(run_id)
                if len(picked) >= limit:
                    break
        finally:
            cursor.close()
        return picked

    def renew_lease(
        self, run_id: str, token: str, *, now: datetime, lease_seconds: float
    ) -> LeaseStatus:
        expires = _codec.to_us(now + timedelta(seconds=lease_seconds), "now")
        row = self._one("renew_lease", {"id": run_id, "token": token, "expires": expires})
        if row is None:
            return LeaseStatus.LOST
        return LeaseStatus.CANCEL_REQUESTED if row[0] else LeaseStatus.OK

    def finish_run(self, run_id: str, token: str, outcome: Outcome, *, now: datetime) -> bool:
        params = _finish_params(run_id, token, outcome, now)
        finished = self._change("finish_run", params) == 1
        if finished:
            self.notify()
        return finished

    def finish_runs(
        self, finishes: Sequence[tuple[str, str, Outcome]], *, now: datetime
    ) -> list[bool]:
        """One write transaction, one token-checked update per item, in order;
        one wake-up for the batch. All-or-nothing: the batch commits as one."""
        rows = [_finish_params(run_id, token, outcome, now) for run_id, token, outcome in finishes]
        return self._write_each("finish_run", rows)

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
            "done": done,
            "total": total,
        }
        return self._change("save_progress", params) == 1

    def reclaim_expired(self, now: datetime) -> list[Run]:
        params = {"now": _codec.to_us(now, "now")}
        with self._write() as conn:
            expired = [_codec.row_to_run(r) for r in conn.execute(_Q["expired_runs"], params)]
            reclaimed = [_rules.reclaimed(run, _codec.utc(now, "now")) for run in expired]
            for run in reclaimed:
                conn.execute(_Q["update_run"], _codec.run_to_row(run))
        if reclaimed:
            self.notify()
        return reclaimed

    def next_available_at(
        self, queues: Sequence[str] | None = None, *, host: str | None = None
    ) -> datetime | None:
        row = self._one("next_available_at", _claim_filter(queues, host))
        return None if row is None else _codec.opt_from_us(row[0])

    # -- runs: dependencies ----------------------------------------------

    def waiting_runs(self, ids: Sequence[str] | None = None, *, limit: int = 1000) -> list[Run]:
        """Read from the partial index of waiting runs, parents matched in SQL."""
        if limit <= 0 or (ids is not None and not ids):
            return []
        if ids is None:
            rows = self._all("all_waiting_runs", {"limit": limit})
        else:
            params = {"ids": json.dumps(list(dict.fromkeys(ids))), "limit": limit}
            rows = self._all("waiting_runs", params)
        return [_codec.row_to_run(row) for row in rows]

    def release_waiting(
        self, run_id: str, state: RunState, *, now: datetime, error: str | None = None
    ) -> Run | None:
        """One ``UPDATE … WHERE state = 'waiting'``: a compare-and-set."""
        params = _rules.release_params(run_id, state, now, error)
        params["available_at"] = _codec.opt_to_us(params["available_at"])
        params["finished_at"] = _codec.opt_to_us(params["finished_at"])
        row = self._one("release_waiting", params)
        if row is None:
            return None
        run = _codec.row_to_run(row)
        if run.state is RunState.QUEUED:
            self.notify()
        return run

    # -- runs: control ---------------------------------------------------

    def request_cancel(self, run_id: str, *, now: datetime) -> Run:
        now = _codec.utc(now, "now")
        with self._write() as conn:
            run = self._get_for_update(conn, run_id)
            changed = _rules.cancelled(run, now)
            if changed is None:
                return run
            conn.execute(_Q["update_run"], _codec.run_to_row(changed))
        self.notify()
        return changed

    def requeue_run(self, run_id: str, *, now: datetime) -> Run:
        now = _codec.utc(now, "now")
        with self._write() as conn:
            run = _rules.requeued(self._get_for_update(conn, run_id), now)
            conn.execute(_Q["update_run"], _codec.run_to_row(run))
        self.notify()
        return run

    @staticmethod
    def _get_for_update(conn: sqlite3.Connection, run_id: str) -> Run:
        row = conn.execute(_Q["get_run"], {"id": run_id}).fetchone()
        if row is None:
            raise _rules.not_found(run_id)
        return _codec.row_to_run(row)

    def prune_runs(self, schedule: str, keep: int) -> int:
        params = {"schedule": schedule, "keep": max(0, keep), "terminal": _TERMINAL}
        return self._change("prune_runs", params)

    # -- wake-ups --------------------------------------------------------

    def wait_for_activity(self, timeout: float) -> bool:
        """Wake on ``notify`` in this process, or on a commit by any other process.

        Other processes are noticed by polling ``PRAGMA data_version`` every
        ``POLL_INTERVAL`` seconds: one cheap read, no file-system watching.
        A caller about to sleep is idle: the time for a ``checkpoint`` of what
        it wrote, which would otherwise fall on some later commit (a tick's).
        """
        deadline = time.monotonic() + max(0.0, timeout)
        if timeout > 0:
            self.checkpoint()
        while True:
            remaining = deadline - time.monotonic()
            if self._activity.wait(max(0.0, min(POLL_INTERVAL, remaining))):
                self._activity.clear()
                return True
            if self._others_committed():
                return True
            if remaining <= POLL_INTERVAL:
                return False

    def _read_data_version(self) -> int:
        with self._use() as conn:
            version: int = conn.execute("PRAGMA data_version").fetchone()[0]
            return version

    def _others_committed(self) -> bool:
        version = self._read_data_version()
        changed, self._data_version = version != self._data_version, version
        return changed


def _finish_params(run_id: str, token: str, outcome: Outcome, now: datetime) -> dict[str, Any]:
    """``_rules.finish_params`` with SQLite's integer-microsecond datetimes."""
    params = _rules.finish_params(run_id, token, outcome, now)
    params["finished_at"] = _codec.opt_to_us(params["finished_at"])
    params["available_at"] = _codec.opt_to_us(params["available_at"])
    return params


def _advance_params(advance: Advance) -> dict[str, Any]:
    """The parameters of the ``advance_schedule`` query; refuses a naive datetime first."""
    return dict(zip(_ADVANCE_PARAMS, _codec.advance_values(advance), strict=True))


_ADVANCE_PARAMS = ("name", "expected_version", "last_slot", "next_due")


def _each(
    conn: sqlite3.Connection, statement: str, rows: Sequence[Mapping[str, Any] | Sequence[Any]]
) -> list[bool]:
    """``statement`` for each row, in order: whether each changed a row (of an
    insert-if-absent given a key twice, the first wins; an update is a
    compare-and-set each).

    A statement per row, as measured: for ``advance_schedule`` it was faster
    than one ``UPDATE … FROM (VALUES …)`` (that materializes the values, then
    updates in a second pass); likewise for inserting runs (``fire``), where
    SQLite's own work (a record and five index entries per run) dominates.
    """
    return [conn.execute(statement, row).rowcount == 1 for row in rows]


def _claim_filter(queues: Sequence[str] | None, host: str | None) -> dict[str, Any]:
    """The ``:queues`` and ``:host`` parameters of the claim queries."""
    return {"queues": None if queues is None else json.dumps(list(queues)), "host": host}
