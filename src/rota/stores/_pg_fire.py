"""PostgreSQL's writer for a busy tick: each batch's ``fire`` statement goes out
as soon as the batch is drawn, on one of two pipelined connections (lanes).

Why two: the server takes about as long to write a batch (its runs with five
index entries each, its schedules locked and advanced) as the scheduler takes
to plan one. On one connection the batches queue behind each other on one
server core; on two, the server writes two at once while the scheduler plans
the next. Why not more: the scheduler plans on one core, and a 2-core server
would only share its cores three ways.

Order: the statements of a lane run one after the other, each batch in a
transaction of its own. A batch that names a run id or a schedule that a
pending batch names goes on that batch's lane, behind it; one that shares
names with both lanes waits until both are done. Every batch therefore gets
the results ``fire`` would give it run after the batches before it, and two
batches of one tick never wait for each other's locks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from contextlib import AbstractContextManager, ExitStack
from typing import Any

import psycopg

Connection = psycopg.Connection[dict[str, Any]]
Cursor = psycopg.Cursor[dict[str, Any]]
Results = list[tuple[list[bool], list[bool]]]

LANES = 2
"""Connections a tick's batches are spread over (fewer when the pool is small)."""


class _Lane:
    """One pipelined connection and what was sent on it since it was last settled."""

    __slots__ = ("conn", "ids", "names", "pipeline", "rows", "sent")

    def __init__(self, conn: Connection, pipeline: psycopg.Pipeline) -> None:
        self.conn = conn
        self.pipeline = pipeline
        self.sent: list[tuple[int, Cursor, list[str], list[str]]] = []
        self.ids: set[str] = set()
        self.names: set[str] = set()
        self.rows = 0
        """Runs and advances sent and not settled: how far behind the server is here."""

    def holds(self, ids: Sequence[str], names: Sequence[str]) -> bool:
        return not (self.ids.isdisjoint(ids) and self.names.isdisjoint(names))

    def send(
        self, query: bytes, params: dict[str, Any], at: int, ids: list[str], names: list[str]
    ) -> None:
        # A transaction per batch, as fire's: one spanning batches would lock runs
        # and schedules in an order other schedulers' batches may cross.
        self.conn.execute("BEGIN")
        cursor = self.conn.cursor()
        cursor.execute(query, params, binary=True)  # sent: the server starts
        self.conn.execute("COMMIT")
        self.sent.append((at, cursor, ids, names))
        self.ids.update(ids)
        self.names.update(names)
        self.rows += len(ids) + len(names)

    def settle(self, results: Results) -> None:
        """Wait for every statement sent here; their results go to ``results`` at
        their places."""
        if not self.sent:
            return
        self.pipeline.sync()
        for at, cursor, ids, names in self.sent:
            got = cursor.fetchone()
            assert got is not None  # aggregates: always one row
            advanced = set(got["names"] or ())
            results[at] = (firsts_in(ids, got["ids"] or ()), [name in advanced for name in names])
        self.sent.clear()
        self.ids.clear()
        self.names.clear()
        self.rows = 0


class Lanes:
    """Up to ``count`` lanes, each opened when a batch first needs it: a connection
    from ``connection`` and its pipeline, both held until ``stack`` closes."""

    def __init__(
        self,
        stack: ExitStack,
        connection: Callable[[], AbstractContextManager[Connection]],
        count: int,
    ) -> None:
        self._stack = stack
        self._connection = connection
        self._count = count
        self._lanes: list[_Lane] = []
        self.results: Results = []

    def send(self, query: bytes, params: dict[str, Any], ids: list[str], names: list[str]) -> None:
        """Send one batch's statement on the lane it must follow, else the least busy."""
        lane = self._lane_for(ids, names)
        lane.send(query, params, len(self.results), ids, names)
        self.results.append(([], []))

    def settle(self) -> Results:
        """Wait for every lane; the results of every batch sent so far."""
        for lane in self._lanes:
            lane.settle(self.results)
        return self.results

    def _lane_for(self, ids: list[str], names: list[str]) -> _Lane:
        holding = [lane for lane in self._lanes if lane.holds(ids, names)]
        if len(holding) == 1:
            return holding[0]
        if holding:  # behind two lanes at once: after both
            self.settle()
        if len(self._lanes) < self._count and all(lane.sent for lane in self._lanes):
            conn = self._stack.enter_context(self._connection())
            self._lanes.append(_Lane(conn, self._stack.enter_context(conn.pipeline())))
            return self._lanes[-1]
        return min(self._lanes, key=lambda lane: lane.rows)


def firsts_in(keys: Sequence[str], stored: Iterable[str]) -> list[bool]:
    """For each of ``keys`` (in order), whether the statement inserted it: a key the
    statement returned counts once, for its first item (a repeated one is inserted
    at most once)."""
    new = set(stored)
    inserted = []
    for key in keys:
        inserted.append(key in new)
        new.discard(key)
    return inserted
