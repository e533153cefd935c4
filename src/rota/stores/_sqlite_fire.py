"""SQLite's ``fire_batches``: each batch written by a thread while the next is drawn.

Python's ``sqlite3`` lets go of the GIL inside ``sqlite3_step``, so SQLite's
own work on one batch (B-tree and index updates, WAL writes) can run on one
core while the scheduler plans the next batch in Python on the other. That
pays only if one step does a whole batch: a statement per row hands the GIL
back and forth per row, and each time the writer waits for the planning
thread to let go of it. So a batch travels as JSON text, encoded by the
drawing thread, and is written by one ``INSERT`` into a temporary view
whose trigger inserts the runs and advances the schedules (``fire_trigger``
in queries.sql): one statement, one transaction, one step.

A batch whose runs all go in and whose advances all apply (the usual case)
is done in that step. Otherwise the trigger aborts it, and the batch is
written again in a transaction that first reads which run ids exist and
which schedules are at their expected version: the results are exact.
"""

from __future__ import annotations

import sqlite3
import sys
import threading
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from rota.runs import Run
from rota.stores import _codec
from rota.stores.base import Advance

Result = tuple[list[bool], list[bool]]
"""One batch's ``fire`` result: (inserted, advanced)."""

RECOUNT = "rota: recount"
"""The message with which ``fire_trigger`` aborts a batch that did not all apply."""
SWITCH_INTERVAL = 0.0005
"""The interpreter's switch interval while batches are written, in seconds.

The writer needs the GIL three times per batch (when woken, after its step,
after resetting the statement); at the default 5 ms it would wait up to that
long each time for the planning thread, which holds the GIL while it
computes. Measured on 1,000-run ticks: 0.2 to 1 ms all do; 5 ms costs 15 to
20 ms a tick, 0.05 ms a little more switching."""

_INT64 = range(-(2**63), 2**63)
_PRIORITY, _MAX_ATTEMPTS, _ATTEMPT = (
    _codec.RUN_COLUMNS.index(column) for column in ("priority", "max_attempts", "attempt")
)


def setup_statements(queries: Mapping[str, str]) -> tuple[str, str]:
    """The statements that make ``fire_batch`` work on a connection (temporary
    objects: each connection makes its own)."""
    columns = _codec.RUN_COLUMNS
    values = ", ".join(f"json_extract(run, '$[{n}]')" for n in range(len(columns)))
    trigger = queries["fire_trigger"].format(columns=", ".join(columns), values=values)
    return queries["fire_view"], trigger


@dataclass(frozen=True, slots=True)
class Chunk:
    """One batch, encoded by the thread that drew it."""

    runs: int
    """How many runs the batch has."""
    firsts: Sequence[int]
    """The position of each run id's first run, in order: the runs sent (of a
    run id given twice, the first is inserted, or none)."""
    ids: list[str]
    """The ids of the runs sent."""
    runs_json: str | None
    advances: int
    advances_json: str | None

    def params(self, *, counted: bool) -> tuple[Any, ...]:
        """The parameters of ``fire_batch`` (with counts: all or abort)."""
        sent, advanced = (len(self.firsts), self.advances) if counted else (None, None)
        return self.runs_json, sent, self.advances_json, advanced

    def results(self, present: set[int], current: set[int] | None) -> Result:
        """Given the positions among the runs sent whose ids existed before, and
        among the advances of those that applied (None: all of them)."""
        inserted = [False] * self.runs
        for k, n in enumerate(self.firsts):
            inserted[n] = k not in present
        if current is None:
            return inserted, [True] * self.advances
        return inserted, [k in current for k in range(self.advances)]


def encode(runs: Sequence[Run], advances: Sequence[Advance]) -> Chunk | None:
    """The batch as JSON, or None when it needs ``fire``'s statement per row.

    Refuses what ``fire`` refuses (a naive datetime, arguments that are not
    JSON) before anything is written. None for a batch that names a schedule
    twice (each advance must see the version the one before left), holds an
    integer SQLite cannot store (``fire`` raises for it), a value JSON cannot
    carry (a float NaN) or a NUL character (SQLite's JSON functions end a
    string there; a JSON text with an escaped NUL in it counts too).
    """
    values = [_codec.run_values(run) for run in runs]
    rows = [_codec.advance_values(advance) for advance in advances]
    if len({row[0] for row in rows}) < len(rows):
        return None
    if not all(map(_fits, values)):
        return None
    ids = [v[0] for v in values]
    firsts: Sequence[int] = range(len(ids))
    if len(set(ids)) < len(ids):
        first: dict[str, int] = {}
        for n, run_id in enumerate(ids):
            first.setdefault(run_id, n)
        firsts = list(first.values())
        ids = list(first)
        values = [values[n] for n in firsts]
    try:
        runs_json = _codec.STRICT_ENCODE(values) if values else None
        advances_json = _codec.STRICT_ENCODE(rows) if rows else None
    except (TypeError, ValueError):  # a float NaN, say: fire binds it as SQLite would store it
        return None
    if "\\u0000" in (runs_json or "") or "\\u0000" in (advances_json or ""):
        return None
    return Chunk(len(runs), firsts, ids, runs_json, len(rows), advances_json)


def _fits(values: tuple[Any, ...]) -> bool:
    """Whether a run's integers that users choose fit SQLite's 64 bits (JSON would
    turn a bigger one into a float; ``fire`` raises ``OverflowError``)."""
    return (
        values[_PRIORITY] in _INT64
        and values[_MAX_ATTEMPTS] in _INT64
        and values[_ATTEMPT] in _INT64
    )


def write_counted(conn: sqlite3.Connection, chunk: Chunk, queries: Mapping[str, str]) -> bool:
    """Write ``chunk`` in one statement if every run goes in and every advance
    applies; else write nothing and return False."""
    try:
        conn.execute(queries["fire_batch"], chunk.params(counted=True))
    except sqlite3.IntegrityError as exc:
        if str(exc) != RECOUNT:
            raise
        return False
    return True


def write_checked(
    conn: sqlite3.Connection, chunk: Chunk, queries: Mapping[str, str]
) -> tuple[set[int], set[int]]:
    """Write ``chunk`` inside the caller's write transaction, having read which
    of its run ids exist and which of its schedules are at the expected version."""
    params = {"ids": _codec.STRICT_ENCODE(chunk.ids), "advances": chunk.advances_json or "[]"}
    present, current = conn.execute(queries["fire_present"], params).fetchone()
    conn.execute(queries["fire_batch"], chunk.params(counted=False))
    return set(_codec.loads(present) or ()), set(_codec.loads(current) or ())


class Writer:
    """A thread (started by the first ``submit``) that writes the chunks
    submitted, in order. After an error it writes nothing more."""

    def __init__(self, write: Callable[[Chunk], Result]) -> None:
        self._write = write
        self._queue: deque[tuple[int, Chunk]] = deque()
        self._changed = threading.Condition(threading.Lock())
        self._busy = False
        self._closing = False
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None
        self.results: dict[int, Result] = {}
        """Each written chunk's result, by the position given to ``submit``."""

    @property
    def failed(self) -> bool:
        return self._error is not None

    def raise_failure(self) -> None:
        """Raise the error that stopped the writer, if one did."""
        if self._error is not None:
            raise self._error

    def submit(self, at: int, chunk: Chunk) -> None:
        with self._changed:
            self._queue.append((at, chunk))
            self._changed.notify()
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="rota-sqlite-fire", daemon=True)
            self._thread.start()

    def drain(self) -> bool:
        """Wait until every chunk submitted is written; False if one failed."""
        with self._changed:
            while (self._queue or self._busy) and self._error is None:
                self._changed.wait()
            return self._error is None

    def close(self) -> None:
        """Write every chunk submitted (unless one failed), then end the thread."""
        with self._changed:
            self._closing = True
            self._changed.notify()
        if self._thread is not None:
            self._thread.join()

    def _run(self) -> None:
        while True:
            with self._changed:
                while not self._queue and not self._closing:
                    self._changed.wait()
                if not self._queue:
                    return
                at, chunk = self._queue.popleft()
                self._busy = True
            try:
                result = self._write(chunk)
            except BaseException as exc:
                with self._changed:
                    self._error = exc
                    self._queue.clear()
                    self._busy = False
                    self._changed.notify_all()
                return
            with self._changed:
                self.results[at] = result
                self._busy = False
                self._changed.notify_all()


_switching = threading.Lock()
_switch_users = 0
_switch_saved = _switch_set = 0.0


@contextmanager
def faster_switching() -> Iterator[None]:
    """The interpreter's switch interval at most ``SWITCH_INTERVAL`` meanwhile.

    Process-wide, so counted: the first of overlapping users lowers it, the
    last puts back what it was, unless someone else changed it meanwhile.
    """
    global _switch_users, _switch_saved, _switch_set
    with _switching:
        if _switch_users == 0:
            _switch_saved = sys.getswitchinterval()
            if _switch_saved > SWITCH_INTERVAL:
                sys.setswitchinterval(SWITCH_INTERVAL)
            _switch_set = sys.getswitchinterval()  # as the interpreter rounds it
        _switch_users += 1
    try:
        yield
    finally:
        with _switching:
            _switch_users -= 1
            if _switch_users == 0 and sys.getswitchinterval() == _switch_set:
                sys.setswitchinterval(_switch_saved)
