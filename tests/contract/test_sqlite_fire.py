"""SQLite only: ``fire_batches`` writes each batch on a thread while the next is drawn.

What the contract suite (test_fire.py) cannot see: a batch is committed
while the caller still plans the next, results stay exact when a batch has
to be counted again, errors on either side leave nothing half-written and
no transaction open, and the process-wide switch interval comes back.
"""

from __future__ import annotations

import sqlite3
import sys
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

from rota.errors import NaiveDatetime, StoreUnavailable
from rota.runs import Run, RunOptions, RunState
from rota.stores import _sqlite_fire
from rota.stores.base import Advance, FireBatch
from rota.stores.sqlite import SQLiteStore

from .support import NOW, at, make_run, make_schedule

Results = list[tuple[list[bool], list[bool]]]


@pytest.fixture
def db(tmp_path: Path) -> Iterator[SQLiteStore]:
    before = set(threading.enumerate())
    store = SQLiteStore(tmp_path / "rota.db")
    store.migrate()
    yield store
    store.close()
    leaked = [t.name for t in threading.enumerate() if t not in before]
    assert not leaked, f"fire_batches leaked threads: {leaked}"


@pytest.fixture
def other(tmp_path: Path, db: SQLiteStore) -> Iterator[sqlite3.Connection]:
    """Another connection to the same file, as another process would have."""
    conn = sqlite3.connect(
        tmp_path / "rota.db", isolation_level=None, timeout=0.05, check_same_thread=False
    )
    yield conn
    conn.close()


def _schedules(store: SQLiteStore, *names: str) -> None:
    assert store.insert_schedules([make_schedule(name) for name in names]) == [True] * len(names)


def _fire(store: SQLiteStore, name: str, slot: float = 0.0, version: int = 1) -> FireBatch:
    """A run of schedule ``name`` and its advance, as a scheduler plans them."""
    return [make_run(f"{name}@{slot:g}", schedule=name)], [Advance(name, version, at(slot), at(60))]


def _within(seconds: float, call: Callable[[], Results]) -> Results:
    """``call()`` on a thread of its own, failing the test (not hanging it) after ``seconds``."""
    box: list[Any] = []

    def target() -> None:
        try:
            box.append(call())
        except BaseException as exc:  # passed on below
            box.append(exc)

    thread = threading.Thread(target=target, daemon=True)
    thread.start()
    thread.join(seconds)
    assert not thread.is_alive(), f"fire_batches did not return within {seconds} s"
    if isinstance(box[0], BaseException):
        raise box[0]
    result: Results = box[0]
    return result


def _eventually(check: Callable[[], bool], seconds: float = 5.0) -> bool:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.002)
    return True


def _visible(conn: sqlite3.Connection, run_id: str) -> bool:
    return conn.execute("SELECT 1 FROM rota_runs WHERE id = ?", (run_id,)).fetchone() is not None


def _version(conn: sqlite3.Connection, name: str) -> int:
    row = conn.execute("SELECT version FROM rota_schedules WHERE name = ?", (name,)).fetchone()
    return int(row[0])


# -- overlap --------------------------------------------------------------------------------------


def test_a_batch_is_committed_while_the_next_is_still_drawn(
    db: SQLiteStore, other: sqlite3.Connection
) -> None:
    _schedules(db, "a", "b")
    seen: list[tuple[bool, int]] = []

    def batches() -> Iterator[FireBatch]:
        yield _fire(db, "a")
        # Still drawing the second batch: the first is in the file for everyone.
        seen.append((_eventually(lambda: _visible(other, "a@0")), _version(other, "a")))
        yield _fire(db, "b")

    assert _within(10, lambda: db.fire_batches(batches())) == [([True], [True])] * 2
    assert seen == [(True, 2)]
    assert _visible(other, "b@0")
    assert _version(other, "b") == 2


def test_store_calls_while_a_batch_is_drawn_do_not_wait_for_the_end(db: SQLiteStore) -> None:
    """The scheduler reads and writes while it plans (per-host records, cancels, …):
    on the drawing thread, while the writer holds the connection for a batch."""
    _schedules(db, *(f"s{n}" for n in range(6)))
    assert db.insert_run(make_run("old", schedule="s0"))
    done: list[str] = []

    def batches() -> Iterator[FireBatch]:
        for n in range(6):
            name = f"s{n}"
            record = db.get_schedule(name)
            assert record is not None
            if n == 2:
                assert db.request_cancel("old", now=NOW).state is RunState.CANCELLED
                assert db.advance_schedule("s5", expected_version=1, last_slot=None, next_due=at(5))
                assert db.save_schedule(make_schedule("new"), expected_version=None) is not None
            done.append(name)
            yield _fire(db, name, version=record.version)

    results = _within(10, lambda: db.fire_batches(batches()))
    assert results == [([True], [True])] * 6
    assert done == [f"s{n}" for n in range(6)]
    s5 = db.get_schedule("s5")
    assert s5 is not None
    assert (s5.version, s5.next_due) == (3, at(60))  # the mid-draw advance, then the batch's
    assert db.get_schedule("new") is not None
    assert db.get_run("old").state is RunState.CANCELLED  # type: ignore[union-attr]


# -- exact results --------------------------------------------------------------------------------


def test_a_run_id_given_twice_in_one_batch_is_inserted_by_its_first_run(db: SQLiteStore) -> None:
    _schedules(db, "a")
    first = make_run("x", job="tests.first")
    batch: FireBatch = ([first, make_run("y"), make_run("x", job="tests.again"), make_run("x")], [])
    assert db.fire_batches([batch, _fire(db, "a")]) == [
        ([True, True, False, False], []),
        ([True], [True]),
    ]
    assert db.get_run("x") == first


def test_a_run_id_of_an_earlier_batch_or_already_stored_is_not_inserted_again(
    db: SQLiteStore,
) -> None:
    _schedules(db, "a", "b", "c")
    stored = make_run("stored", job="tests.stored")
    assert db.insert_run(stored)
    x = make_run("x", job="tests.first")
    batches = [
        ([x, make_run("a@1", schedule="a")], [Advance("a", 1, NOW, at(60))]),
        # Counted, this batch would abort (two ids exist): counted again, exactly.
        (
            [make_run("x"), make_run("b@1"), make_run("stored"), make_run("c@1")],
            [Advance("b", 1, NOW, at(60)), Advance("c", 1, NOW, at(60))],
        ),
    ]
    assert db.fire_batches(batches) == [
        ([True, True], [True]),
        ([False, True, False, True], [True, True]),
    ]
    assert db.get_runs(["x", "stored"]) == [x, stored]
    assert {r.name: r.version for r in db.list_schedules()} == {"a": 2, "b": 2, "c": 2}


def test_a_stale_or_missing_schedule_leaves_the_rest_of_its_batch_applied(
    db: SQLiteStore,
) -> None:
    _schedules(db, "a", "b", "c")
    assert db.advance_schedule("b", expected_version=1, last_slot=None, next_due=at(5))
    runs = [make_run(f"{name}@1", schedule=name) for name in "abc"]
    advances = [Advance(name, 1, NOW, at(300)) for name in ("a", "b", "missing", "c")]
    assert db.fire_batches([(runs, advances)]) == [([True] * 3, [True, False, False, True])]
    versions = {r.name: (r.version, r.next_due) for r in db.list_schedules()}
    assert versions == {"a": (2, at(300)), "b": (2, at(5)), "c": (2, at(300))}
    assert db.get_schedule("missing") is None


def test_a_batch_naming_a_schedule_twice_goes_in_order_after_the_others(db: SQLiteStore) -> None:
    _schedules(db, "a", "b")
    batches = [
        _fire(db, "a"),
        ([make_run("r")], [Advance("b", 1, NOW, at(60)), Advance("b", 2, at(60), at(120))]),
        ([], [Advance("a", 2, at(60), at(90)), Advance("a", 2, at(60), at(99))]),
    ]
    assert db.fire_batches(batches) == [
        ([True], [True]),
        ([True], [True, True]),
        ([], [True, False]),  # the second "a" item saw the version the first one left
    ]
    a, b = db.get_schedule("a"), db.get_schedule("b")
    assert a is not None
    assert b is not None
    assert (a.version, a.next_due, b.version, b.next_due) == (3, at(90), 3, at(120))


def test_every_run_field_is_written_as_fire_writes_it(db: SQLiteStore) -> None:
    nested: Any = {"text": 'Grüße, 東京 🚀 \\ " \n', "floats": [0.1, 1e-300, -0.0], "big": 2**62}
    full = Run(
        id="full",
        job="pkg.mod:fn",
        state=RunState.SKIPPED,
        created_at=NOW,
        available_at=at(7),
        schedule="sched",
        slot=at(-60),
        args=("a", 1.5, None),
        kwargs=nested,
        queue="q",
        priority=-(2**62),
        options=RunOptions(timeout=1.5, max_attempts=4, backoff=2.0, max_backoff=9, exclusive=True),
        host="web-1",
        manual=True,
        parents=("p1", "p2"),
        finished_at=at(1),
        result=nested,
        error="skipped: 'sched' was running",
        traceback="tb\n",
        log="line\n",
        checkpoint=[1, {"at": "x"}],
        progress_done=1 / 3,
        progress_total=0.1 + 0.2,
    )
    plain = make_run("plain", schedule=None)
    twins = [replace(run, id=f"twin-{run.id}") for run in (full, plain)]
    assert db.fire_batches([([full, plain], [])]) == [([True, True], [])]
    assert db.fire(twins, []) == ([True, True], [])
    for run, twin in zip((full, plain), twins, strict=True):
        assert db.get_run(run.id) == run
        assert db.get_run(twin.id) == replace(run, id=twin.id)


def test_a_nul_a_nan_or_an_integer_sqlite_cannot_hold_goes_through_fire(
    db: SQLiteStore,
) -> None:
    with_nul = make_run("nul", error="before\x00after", kwargs={"k": "a\x00b"})
    assert db.fire_batches([([with_nul], [])]) == [([True], [])]
    assert db.get_run("nul") == with_nul
    odd = make_run("nan", progress_done=float("nan"))  # stored as NULL, as fire stores it
    assert db.fire_batches([([odd], [])]) == [([True], [])]
    assert db.fire([replace(odd, id="nan-twin")], []) == ([True], [])
    stored, twin = db.get_run("nan"), db.get_run("nan-twin")
    assert stored is not None
    assert twin is not None
    assert stored == replace(twin, id="nan")
    assert stored.progress_done is None
    huge = make_run("huge", priority=2**63)
    with pytest.raises(OverflowError):
        db.fire([huge], [])
    with pytest.raises(OverflowError):
        db.fire_batches([([huge], [])])
    assert db.get_run("huge") is None


# -- errors ---------------------------------------------------------------------------------------


def _open_transaction(store: SQLiteStore) -> bool:
    with store._use() as conn:  # what no public method can show
        return conn.in_transaction


def test_an_error_while_drawing_keeps_the_batches_drawn_and_leaves_no_transaction(
    db: SQLiteStore, other: sqlite3.Connection
) -> None:
    _schedules(db, "a", "b")

    def batches() -> Iterator[FireBatch]:
        yield _fire(db, "a")
        yield [make_run("b@0", schedule="b")], [Advance("b", 1, NOW, at(60))]
        raise RuntimeError("planning broke")

    with pytest.raises(RuntimeError, match="planning broke"):
        _within(10, lambda: db.fire_batches(batches()))
    assert not _open_transaction(db)
    # Both batches drawn were written whole; another process can write at once.
    assert _visible(other, "a@0")
    assert _visible(other, "b@0")
    assert (_version(other, "a"), _version(other, "b")) == (2, 2)
    other.execute("INSERT INTO rota_migrations (version, name) VALUES (999, 'lock-check')")
    other.execute("DELETE FROM rota_migrations WHERE version = 999")
    assert db.fire_batches([_fire(db, "a", slot=60, version=2)]) == [([True], [True])]


def test_a_naive_datetime_refuses_its_batch_before_anything_of_it_is_written(
    db: SQLiteStore,
) -> None:
    _schedules(db, "a", "b")
    naive = datetime(2030, 1, 1, 12, 0)
    batches = [
        _fire(db, "a"),
        ([make_run("b@0", schedule="b")], [Advance("b", 1, naive, at(60))]),
    ]
    with pytest.raises(NaiveDatetime):
        db.fire_batches(batches)
    assert db.get_run("a@0") is not None  # the batch before it: written, whole
    assert db.get_run("b@0") is None
    b = db.get_schedule("b")
    assert b is not None
    assert b.version == 1
    assert not _open_transaction(db)


def test_a_write_that_fails_stops_the_batches_and_says_why(db: SQLiteStore) -> None:
    """The database turns read-only while batches are drawn (as a full disk or a
    revoked permission would make writes fail): the writer's error comes out as
    every other SQLite failure does, and no later batch is written."""
    _schedules(db, "a", "b", "c")
    drawn: list[str] = []

    def batches() -> Iterator[FireBatch]:
        yield _fire(db, "a")
        assert _eventually(lambda: db.get_run("a@0") is not None)
        with db._use() as conn:  # no public way to break the file
            conn.execute("PRAGMA query_only = ON")
        for name in "bc":
            drawn.append(name)
            yield _fire(db, name)

    with pytest.raises(StoreUnavailable, match="readonly"):
        _within(10, lambda: db.fire_batches(batches()))
    assert drawn == ["b"] or drawn == ["b", "c"]  # it stops drawing once it knows
    with db._use() as conn:
        conn.execute("PRAGMA query_only = OFF")
    assert not _open_transaction(db)
    assert [r.id for r in db.get_runs(["a@0", "b@0", "c@0"])] == ["a@0"]
    assert {r.name: r.version for r in db.list_schedules()} == {"a": 2, "b": 1, "c": 1}
    assert db.fire_batches([_fire(db, "b")]) == [([True], [True])]


def test_a_constraint_broken_by_a_batch_fails_as_fire_fails(db: SQLiteStore) -> None:
    _schedules(db, "a", "b", "c")
    broken = make_run("b@0", schedule="b", job=None)  # NOT NULL job
    with pytest.raises(sqlite3.IntegrityError, match=r"NOT NULL.*rota_runs\.job"):
        db.fire([broken], [])
    batches = [_fire(db, "a"), ([broken], [Advance("b", 1, NOW, at(60))]), _fire(db, "c")]
    with pytest.raises(sqlite3.IntegrityError, match=r"NOT NULL.*rota_runs\.job"):
        db.fire_batches(batches)
    # The batch before it is written; it and the batches after it are not.
    assert [r.id for r in db.get_runs(["a@0", "b@0", "c@0"])] == ["a@0"]
    assert {r.name: r.version for r in db.list_schedules()} == {"a": 2, "b": 1, "c": 1}
    assert not _open_transaction(db)


def test_a_write_lock_held_elsewhere_times_out_as_a_store_error(
    db: SQLiteStore, other: sqlite3.Connection
) -> None:
    _schedules(db, "a")
    with db._use() as conn:  # 30 s is the default
        conn.execute("PRAGMA busy_timeout = 50")
    other.execute("BEGIN IMMEDIATE")
    try:
        with pytest.raises(StoreUnavailable, match="locked"):
            _within(10, lambda: db.fire_batches([_fire(db, "a")]))
    finally:
        other.execute("ROLLBACK")
    assert not _open_transaction(db)
    assert db.fire_batches([_fire(db, "a")]) == [([True], [True])]


# -- the switch interval --------------------------------------------------------------------------


@pytest.fixture
def interval() -> Iterator[float]:
    """A switch interval of this test's own, above ``SWITCH_INTERVAL``; the
    interpreter's own is put back afterwards."""
    saved = sys.getswitchinterval()
    sys.setswitchinterval(0.004)
    try:
        yield sys.getswitchinterval()
    finally:
        sys.setswitchinterval(saved)


def test_the_switch_interval_is_lowered_meanwhile_and_put_back(
    db: SQLiteStore, interval: float
) -> None:
    _schedules(db, "a", "b")
    during: list[float] = []

    def batches(fail: bool) -> Iterator[FireBatch]:
        during.append(sys.getswitchinterval())
        yield _fire(db, "a") if not fail else _fire(db, "b")
        if fail:
            raise RuntimeError("planning broke")

    db.fire_batches(batches(fail=False))
    assert sys.getswitchinterval() == interval
    with pytest.raises(RuntimeError):
        db.fire_batches(batches(fail=True))
    assert sys.getswitchinterval() == interval
    assert during == [pytest.approx(_sqlite_fire.SWITCH_INTERVAL)] * 2


def test_an_interval_changed_meanwhile_is_left_as_it_was_set(
    db: SQLiteStore, interval: float
) -> None:
    _schedules(db, "a")

    def batches() -> Iterator[FireBatch]:
        sys.setswitchinterval(0.003)  # someone else's, while the batches are written
        yield _fire(db, "a")

    db.fire_batches(batches())
    assert sys.getswitchinterval() == pytest.approx(0.003)


def test_two_threads_firing_at_once_each_insert_once_and_restore_the_interval(
    db: SQLiteStore, interval: float
) -> None:
    names = [f"s{n:02}" for n in range(40)]
    _schedules(db, *names)

    def fire(order: list[str]) -> Results:
        return db.fire_batches([_fire(db, name) for name in order])

    results: list[Results] = []
    threads = [
        threading.Thread(target=lambda o=order: results.append(fire(o)))
        for order in (names, names[::-1])
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(results) == 2
    won = [flags for result in results for (flags, _) in result]
    assert sum(flag for flags in won for flag in flags) == 40
    assert all(r.version == 2 for r in db.list_schedules())
    assert sys.getswitchinterval() == interval
