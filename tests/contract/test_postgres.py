"""PostgreSQL only: URLs, the schema and its migrations, claims across
connections, wake-ups across stores, lost connections, closing."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, TypeVar
from urllib.parse import urlsplit, urlunsplit

import pytest
from psycopg import sql

from rota.errors import ConfigurationError, InvalidArguments, StoreUnavailable
from rota.runs import Run, RunOptions, RunState
from rota.stores import open_store
from rota.stores._pg_conn import parse_url
from rota.stores.base import Advance
from rota.stores.postgres import PostgresStore, migrations

from .pg_admin import SERVER_URL, admin, drop_schema, new_schema, store_url
from .support import LEASE, NOW, at, make_run, make_schedule, ok, start

SERVER = parse_url(SERVER_URL).server
T = TypeVar("T")


@pytest.fixture
def schema() -> Iterator[str]:
    name = new_schema()
    yield name
    drop_schema(name)


@pytest.fixture
def pg(schema: str) -> Iterator[PostgresStore]:
    store = PostgresStore.from_url(store_url(schema))
    store.migrate()
    yield store
    store.close()


@pytest.fixture
def second(pg: PostgresStore, schema: str) -> Iterator[PostgresStore]:
    """Another store on the same schema, as another process would have."""
    store = PostgresStore.from_url(store_url(schema))
    yield store
    store.close()


def _together(count: int, work: Callable[[int], T]) -> list[T]:
    barrier = threading.Barrier(count)

    def go(i: int) -> T:
        barrier.wait(timeout=10)
        return work(i)

    with ThreadPoolExecutor(count) as pool:
        return list(pool.map(go, range(count)))


def _with_password(url: str, password: str) -> str:
    parts = urlsplit(url)
    user = parts.username or "postgres"
    netloc = f"{user}:{password}@{parts.hostname}:{parts.port or 5432}"
    return urlunsplit(parts._replace(netloc=netloc))


# -- URLs ----------------------------------------------------------------------


def test_url_options_are_rotas_and_the_rest_goes_to_libpq() -> None:
    settings = parse_url(
        "postgres://u:pw@db.example:6543/app?sslmode=disable&schema=jobs&pool_max=3"
        "&pool_min=2&pool_timeout=2.5"
    )
    assert (settings.schema, settings.pool_min, settings.pool_max) == ("jobs", 2, 3)
    assert settings.pool_timeout == 2.5
    assert settings.server == "db.example:6543"
    assert settings.conninfo == "postgres://u:pw@db.example:6543/app?sslmode=disable"
    assert settings.application_name == "rota:jobs"
    assert settings.channel == "rota_jobs"


def test_url_defaults() -> None:
    settings = parse_url("postgresql:///app")
    assert (settings.schema, settings.pool_min, settings.pool_max) == ("rota", 1, 10)
    assert settings.server == "localhost:5432"


def test_an_application_name_in_the_url_is_kept() -> None:
    settings = parse_url("postgresql://h/app?application_name=mine")
    assert settings.application_name is None
    assert "application_name=mine" in settings.conninfo


@pytest.mark.parametrize(
    ("query", "complaint"),
    [
        ("schema=Jobs", "bad schema='Jobs'"),
        ("schema=a-b", "bad schema"),
        ("schema=" + "x" * 59, "at most 58"),
        ("pool_max=0", "bad pool_max='0'"),
        ("pool_max=many", "positive int"),
        ("pool_timeout=-1", "bad pool_timeout"),
        ("pool_timeout=nan", "bad pool_timeout"),
        ("pool_min=5&pool_max=2", "pool_min=5 is more than pool_max=2"),
    ],
)
def test_bad_url_options_are_refused_without_the_password(query: str, complaint: str) -> None:
    with pytest.raises(ConfigurationError, match=complaint) as caught:
        parse_url(f"postgresql://u:s3cret@h/app?{query}")
    assert "s3cret" not in str(caught.value)


def test_libpq_options_reach_the_server(schema: str) -> None:
    store = PostgresStore.from_url(store_url(schema, options="-c%20lock_timeout%3D1234"))
    try:
        with store._connection() as conn:
            assert conn.execute("SHOW lock_timeout").fetchone() == {"lock_timeout": "1234ms"}
    finally:
        store.close()


def test_open_store_by_either_scheme(schema: str) -> None:
    for url in (store_url(schema), store_url(schema).replace("postgresql://", "postgres://", 1)):
        store = open_store(url)
        try:
            assert isinstance(store, PostgresStore)
            assert store.url == url
            assert store.insert_run(make_run(url[:12])) is True
        finally:
            store.close()


def test_importing_rota_stores_does_not_import_psycopg() -> None:
    code = "import sys, rota.stores; print(any(m.startswith('psycopg') for m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


def test_an_unreachable_server_is_named_without_the_password() -> None:
    url = "postgresql://rota:s3cret@127.0.0.1:1/rota?pool_timeout=1"
    started = time.monotonic()
    with pytest.raises(StoreUnavailable, match=r"PostgreSQL at 127\.0\.0\.1:1\b") as caught:
        PostgresStore.from_url(url)
    assert "s3cret" not in str(caught.value)
    assert time.monotonic() - started < 5


# -- the schema ----------------------------------------------------------------


def test_everything_lives_in_the_stores_schema(pg: PostgresStore, schema: str) -> None:
    with admin() as conn:
        tables = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = %s", [schema]
        ).fetchall()
        types = dict(
            conn.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_schema = %s AND table_name = 'runs'",
                [schema],
            ).fetchall()
        )
    assert sorted(t for (t,) in tables) == ["rota_migrations", "runs", "schedules"]
    assert types["created_at"] == "timestamp with time zone"
    assert types["kwargs"] == "json"
    assert types["exclusive"] == "boolean"


def test_stored_values_are_plain_sql(pg: PostgresStore, schema: str) -> None:
    slot = datetime(2030, 6, 1, 9, 30, 15, 123456, tzinfo=UTC)
    pg.insert_run(make_run("r1", slot=slot, kwargs={"region": "eu", "n": [1, 2]}))
    with admin() as conn:
        row = conn.execute(
            f"SELECT slot, kwargs->>'region', kwargs->'n'->>1, exclusive FROM {schema}.runs"
        ).fetchone()
    assert row == (slot, "eu", "2", False)


def test_schemas_are_separate(pg: PostgresStore) -> None:
    other_schema = new_schema()
    other = PostgresStore.from_url(store_url(other_schema))
    try:
        other.migrate()
        pg.wait_for_activity(0)
        assert other.insert_run(make_run("r1"))
        assert pg.get_run("r1") is None
        assert pg.insert_run(make_run("r1"))
        assert pg.wait_for_activity(0) is True  # its own insert
        assert pg.wait_for_activity(0.1) is False  # not the other schema's
    finally:
        other.close()
        drop_schema(other_schema)


@pytest.mark.parametrize(
    "when",
    [
        datetime(1970, 1, 1, tzinfo=UTC),
        datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        datetime(1900, 2, 28, 1, 2, 3, 4, tzinfo=UTC),
        datetime(2000, 1, 1, tzinfo=UTC),
        datetime(2999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
    ],
)
def test_timestamps_are_exact_to_the_microsecond(pg: PostgresStore, when: datetime) -> None:
    run = make_run("r1", slot=when, created_at=when)
    pg.insert_runs([run])
    assert pg.get_run("r1") == run


def test_a_repeated_id_in_one_batch_is_inserted_once(pg: PostgresStore) -> None:
    first, again = make_run("r1", job="first"), make_run("r1", job="again")
    assert pg.insert_runs([first, make_run("r2"), again]) == [True, True, False]
    assert pg.get_run("r1") == first


def test_nul_in_free_text_becomes_a_replacement_character(pg: PostgresStore) -> None:
    run = start(pg, make_run("r1"))
    outcome = ok(log="bin\x00ary\n", error="e\x00", result={"s": "\x00"})
    assert pg.finish_run(run.id, run.lease_token or "", outcome, now=NOW)
    done = pg.get_run(run.id)
    assert done is not None
    assert (done.log, done.error, done.result) == ("bin\ufffdary\n", "e\ufffd", {"s": "\x00"})


# -- batches: fire and insert_runs send JSON documents -------------------------

_ODD: dict[str, Any] = {
    "nul": "a\x00b",
    "quotes": 'say "hi" \\ \'',
    "unicode": "é✓\u2028😀",
    "zero": -0.0,
    "floats": [0.1, 1e300, 5e-324, 1.0],
    "big": 10**30,
    "nested": [{"b": 1, "a": [None, True, {}]}],
    "": [],
}
"""Values that a JSON or text encoding could get wrong."""


def _odd_runs(prefix: str) -> list[Run]:
    full = Run(
        id=f"{prefix}full",
        job="pkg.mod:fn",
        state=RunState.RUNNING,
        created_at=datetime(1, 1, 1, tzinfo=UTC),
        available_at=datetime(9999, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        schedule="s '\"\\",
        slot=datetime(1969, 12, 31, 23, 59, 59, 999999, tzinfo=UTC),
        args=("x", (1, 2), _ODD),
        kwargs=MappingProxyType({"k": _ODD}),
        queue="q✓",
        priority=-(2**31),
        options=RunOptions(timeout=1.5, max_attempts=4, exclusive=True, pings={"after": ("u",)}),
        attempt=2**31 - 1,
        host="web-1",
        manual=True,
        parents=("p1", "p\x002"),
        started_at=NOW,
        finished_at=at(1),
        worker="w",
        lease_token="t",
        lease_expires_at=at(30),
        cancel_requested=True,
        result=_ODD,
        error="e\x00",
        traceback="tb\x00",
        log="l\x00g\n",
        checkpoint=[_ODD],
        progress_done=float("inf"),
        progress_total=-0.0,
    )
    odd_floats = make_run(f"{prefix}nan", progress_done=float("nan"), progress_total=-1e-300)
    missed = make_run(f"{prefix}missed", state=RunState.MISSED, finished_at=NOW, result=0)
    return [full, odd_floats, missed, make_run(f"{prefix}plain", schedule=None)]


def _stored(schema: str, run_id: str) -> list[str | None]:
    """Every column of a stored run but its id, as PostgreSQL prints it."""
    with admin() as conn:
        columns = [
            row[0]
            for row in conn.execute(
                "SELECT column_name FROM information_schema.columns WHERE table_schema = %s "
                "AND table_name = 'runs' AND column_name <> 'id' ORDER BY ordinal_position",
                [schema],
            )
        ]
        query = sql.SQL("SELECT {} FROM {}.runs WHERE id = %s").format(
            sql.SQL(", ").join(sql.SQL("{}::text").format(sql.Identifier(c)) for c in columns),
            sql.Identifier(schema),
        )
        row = conn.execute(query, [run_id]).fetchone()
    assert row is not None
    return list(row)


def test_a_batch_stores_exactly_what_one_insert_stores(pg: PostgresStore, schema: str) -> None:
    """``insert_runs`` and ``fire`` (JSON documents) store every column as
    ``insert_run`` (one value per parameter) does, to the byte."""
    for run in _odd_runs("one-"):
        assert pg.insert_run(run)
    assert pg.insert_runs(_odd_runs("batch-")) == [True] * 4
    pg.insert_schedules([make_schedule("s")])
    assert pg.fire(_odd_runs("fire-"), [Advance("s", 1, NOW, at(60))]) == ([True] * 4, [True])
    for run in _odd_runs(""):
        one = _stored(schema, f"one-{run.id}")
        assert _stored(schema, f"batch-{run.id}") == one
        assert _stored(schema, f"fire-{run.id}") == one
    full, _, missed, plain = _odd_runs("batch-")
    assert pg.get_runs([full.id, missed.id, plain.id]) == [
        full.evolve(
            args=("x", [1, 2], _ODD),
            kwargs={"k": _ODD},
            error="e\ufffd",
            traceback="tb\ufffd",
            log="l\ufffdg\n",
        ),
        missed,
        plain,
    ]


def test_a_batch_with_a_value_that_is_not_json_writes_nothing(pg: PostgresStore) -> None:
    pg.insert_schedules([make_schedule("s")])
    runs = [make_run("r1"), make_run("r2", kwargs={"x": {1, 2}})]
    with pytest.raises(InvalidArguments, match="r2"):
        pg.fire(runs, [Advance("s", 1, NOW, at(60))])
    with pytest.raises(InvalidArguments, match="r3"):
        pg.insert_runs([make_run("r1"), make_run("r3", result=float("nan"))])
    assert pg.get_runs(["r1", "r2", "r3"]) == []
    assert [r.version for r in pg.list_schedules()] == [1]


def test_active_runs_for_takes_any_name(pg: PostgresStore) -> None:
    names = ['q"uote', "back\\slash", "é✓😀", "[1]", "", "a,b", "{x}"]
    for n, name in enumerate(names):
        assert pg.insert_run(make_run(f"r{n}", schedule=name))
    found = pg.active_runs_for([*names, "none"])
    expected = {name: [f"r{n}"] for n, name in enumerate(names)}
    assert {name: [r.id for r in runs] for name, runs in found.items()} == expected | {"none": []}


def test_due_schedules_come_back_in_utc_whatever_the_time_zone(schema: str) -> None:
    store = PostgresStore.from_url(store_url(schema, options="-c%20TimeZone%3DAsia/Kathmandu"))
    try:
        store.migrate()
        record = make_schedule("s", last_slot=datetime(1, 1, 1, tzinfo=UTC), spec=_ODD)
        assert store.save_schedule(record, expected_version=None) is not None
        (due,) = store.due_schedules(at(10), 10)
        assert due == store.get_schedule("s") == record.evolve(version=1)
        for value in (due.created_at, due.updated_at, due.last_slot, due.next_due):
            assert value is not None
            assert value.tzinfo is UTC
    finally:
        store.close()


def test_a_spec_written_by_hand_with_spaces_still_reads(pg: PostgresStore, schema: str) -> None:
    assert pg.save_schedule(make_schedule("s"), expected_version=None) is not None
    with admin() as conn:
        conn.execute(
            sql.SQL("UPDATE {}.schedules SET spec = %s").format(sql.Identifier(schema)),
            ['  {"job": "tests.job",\n "n": [1, 2.5]} '],
        )
    (due,) = pg.due_schedules(at(10), 10)
    assert due.spec == {"job": "tests.job", "n": [1, 2.5]} == pg.get_schedule("s").spec  # type: ignore[union-attr]


# -- migrations ----------------------------------------------------------------


def _catalog(schema: str) -> dict[str, list[Any]]:
    """What a schema holds, with its own name taken out so that two compare."""
    queries = {
        "columns": "SELECT table_name, column_name, ordinal_position, data_type, is_nullable, "
        "column_default, collation_name FROM information_schema.columns "
        "WHERE table_schema = %(s)s ORDER BY 1, 3",
        "indexes": "SELECT tablename, indexname, replace(indexdef, %(s)s || '.', '') "
        "FROM pg_indexes WHERE schemaname = %(s)s ORDER BY 1, 2",
        "constraints": "SELECT c.relname, k.conname, pg_get_constraintdef(k.oid) "
        "FROM pg_constraint k JOIN pg_class c ON c.oid = k.conrelid "
        "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE n.nspname = %(s)s ORDER BY 1, 2",
        "routines": "SELECT routine_name, data_type, routine_definition "
        "FROM information_schema.routines WHERE routine_schema = %(s)s ORDER BY 1",
        "migrations": "SELECT version, name FROM {}.rota_migrations ORDER BY 1",
    }
    with admin() as conn:
        return {
            key: conn.execute(query.replace("{}", schema), {"s": schema}).fetchall()
            for key, query in queries.items()
        }


def test_migrating_step_by_step_equals_creating_fresh(pg: PostgresStore, schema: str) -> None:
    stepped_schema = new_schema()
    try:
        for version, _, _ in migrations():
            stepped = PostgresStore.from_url(store_url(stepped_schema))
            stepped.migrate(target=version)
            stepped.close()
        stepped = PostgresStore.from_url(store_url(stepped_schema))
        stepped.migrate()
        stepped.close()
        fresh = _catalog(schema)
        assert _catalog(stepped_schema) == fresh
        assert {name for _, name, _ in fresh["indexes"]} >= {
            "runs_active",
            "runs_claim",
            "schedules_due",
        }
        assert {name for name, _, _ in fresh["routines"]} == {
            "claim_runs",
            "due_schedules",
            "from_unix_us",
            "notify_waiters",
        }
    finally:
        drop_schema(stepped_schema)


def test_migrations_are_numbered_from_one_without_gaps() -> None:
    versions = [version for version, _, _ in migrations()]
    assert versions == list(range(1, len(versions) + 1))


def test_migrate_is_idempotent_and_keeps_data(pg: PostgresStore) -> None:
    pg.insert_run(make_run("r1"))
    pg.migrate()
    pg.migrate()
    assert pg.get_run("r1") is not None


def test_many_stores_migrating_at_once_apply_each_migration_once(schema: str) -> None:
    stores = [PostgresStore.from_url(store_url(schema)) for _ in range(6)]
    try:
        _together(len(stores), lambda i: stores[i].migrate())
        assert stores[0].insert_run(make_run("r1"))
    finally:
        for store in stores:
            store.close()
    assert len(_catalog(schema)["migrations"]) == len(migrations())


def test_a_newer_schema_is_refused(pg: PostgresStore, schema: str) -> None:
    with admin() as conn:
        conn.execute(
            f"INSERT INTO {schema}.rota_migrations (version, name) VALUES (9999, 'future')"
        )
    with pytest.raises(StoreUnavailable, match="upgrade rota"):
        pg.migrate()


# -- claims across connections -------------------------------------------------


def _running_per_schedule(schema: str) -> int:
    with admin() as conn:
        row = conn.execute(
            f"SELECT coalesce(max(n), 0) FROM (SELECT count(*) AS n FROM {schema}.runs "
            "WHERE state = 'running' GROUP BY schedule) AS running"
        ).fetchone()
    assert row is not None
    return int(row[0])


def test_exclusive_runs_stay_one_at_a_time_across_stores(pg: PostgresStore, schema: str) -> None:
    runs = [
        make_run(f"{s}-{n}", schedule=s, exclusive=True, available=-n)
        for s in ("a", "b", "c", "d", "e")
        for n in range(6)
    ]
    pg.insert_runs(runs)
    stores = [PostgresStore.from_url(store_url(schema)) for _ in range(6)]
    done: list[str] = []
    try:
        while len(done) < len(runs):
            claimed = _together(
                len(stores),
                lambda i: stores[i].claim_runs(
                    worker=f"w{i}", now=NOW, limit=3, lease_seconds=LEASE
                ),
            )
            assert _running_per_schedule(schema) <= 1
            taken = [run for batch in claimed for run in batch]
            assert len({run.schedule for run in taken}) == len(taken)
            for run in taken:
                assert pg.finish_run(run.id, run.lease_token or "", ok(), now=NOW)
            done += [run.id for run in taken]
    finally:
        for store in stores:
            store.close()
    assert sorted(done) == sorted(run.id for run in runs)


def test_a_reclaim_and_a_finish_racing_leave_one_outcome(pg: PostgresStore) -> None:
    late = at(LEASE + 60)
    for n in range(10):
        run = start(pg, make_run(f"r{n}", max_attempts=2))

        def race(i: int, run: Run = run) -> object:
            if i == 0:
                return pg.finish_run(run.id, run.lease_token or "", ok(), now=late)
            return pg.reclaim_expired(late)

        finished, reclaimed = _together(2, race)
        assert bool(finished) != bool(reclaimed)
        expected = RunState.SUCCEEDED if finished else RunState.RETRYING
        assert pg.get_run(run.id).state is expected  # type: ignore[union-attr]


# -- wake-ups ------------------------------------------------------------------


def test_another_stores_write_wakes_a_waiter(pg: PostgresStore, second: PostgresStore) -> None:
    pg.wait_for_activity(0)
    woke: list[bool] = []
    waiter = threading.Thread(target=lambda: woke.append(pg.wait_for_activity(10)))
    waiter.start()
    time.sleep(0.05)  # let it block (waking sooner would pass too, only less tellingly)
    started = time.monotonic()
    second.insert_run(make_run("r1"))
    waiter.join(timeout=10)
    assert woke == [True]
    assert time.monotonic() - started < 2
    assert pg.wait_for_activity(0.05) is False


def _insert(s: PostgresStore) -> Callable[[], object]:
    return lambda: s.insert_runs([make_run("r1")])


def _save(s: PostgresStore) -> Callable[[], object]:
    return lambda: s.save_schedule(make_schedule("s"), expected_version=None)


def _delete(s: PostgresStore) -> Callable[[], object]:
    s.save_schedule(make_schedule("s"), expected_version=None)
    return lambda: s.delete_schedule("s")


def _finish(s: PostgresStore) -> Callable[[], object]:
    run = start(s, make_run("r1"))
    return lambda: s.finish_run("r1", run.lease_token or "", ok(), now=NOW)


def _reclaim(s: PostgresStore) -> Callable[[], object]:
    start(s, make_run("r1"))
    return lambda: s.reclaim_expired(at(LEASE + 1))


def _cancel(s: PostgresStore) -> Callable[[], object]:
    s.insert_run(make_run("r1"))
    return lambda: s.request_cancel("r1", now=NOW)


def _requeue(s: PostgresStore) -> Callable[[], object]:
    s.insert_run(make_run("r1", state=RunState.FAILED, finished_at=NOW))
    return lambda: s.requeue_run("r1", now=NOW)


def _notify(s: PostgresStore) -> Callable[[], object]:
    return s.notify


@pytest.mark.parametrize(
    "prepare", [_insert, _save, _delete, _finish, _reclaim, _cancel, _requeue, _notify]
)
def test_writes_that_give_work_wake_other_stores(
    pg: PostgresStore,
    second: PostgresStore,
    prepare: Callable[[PostgresStore], Callable[[], object]],
) -> None:
    write = prepare(second)
    pg.wait_for_activity(0)
    _drain(pg)
    write()
    assert pg.wait_for_activity(5) is True


def _drain(store: PostgresStore) -> None:
    while store.wait_for_activity(0.05):
        pass


def test_a_store_does_not_wake_twice_for_its_own_write(pg: PostgresStore) -> None:
    pg.wait_for_activity(0)
    pg.insert_run(make_run("r1"))
    assert pg.wait_for_activity(1) is True
    assert pg.wait_for_activity(0.2) is False  # its own NOTIFY came back, and was ignored


def test_closing_wakes_and_ends_a_waiter(schema: str) -> None:
    store = PostgresStore.from_url(store_url(schema))
    store.migrate()
    store.wait_for_activity(0)
    result: list[object] = []

    def wait() -> None:
        try:
            result.append(store.wait_for_activity(30))
        except StoreUnavailable as exc:
            result.append(exc)

    waiter = threading.Thread(target=wait)
    waiter.start()
    time.sleep(0.05)
    started = time.monotonic()
    store.close()
    waiter.join(timeout=5)
    assert time.monotonic() - started < 2
    assert not waiter.is_alive()
    assert len(result) == 1


# -- lost connections and closing ---------------------------------------------


def _terminate(schema: str) -> int:
    """Kill every server connection of the stores on ``schema``, as an operator might."""
    name = f"rota:{schema}"
    with admin() as conn:
        row = conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE application_name = %s",
            [name],
        ).fetchone()
        deadline = time.monotonic() + 10
        while conn.execute(
            "SELECT 1 FROM pg_stat_activity WHERE application_name = %s", [name]
        ).fetchone():
            assert time.monotonic() < deadline, "backends did not end"
            time.sleep(0.01)
    assert row is not None
    return int(row[0])


def _at_most_one_failure(call: Callable[[], T]) -> T:
    try:
        return call()
    except StoreUnavailable as exc:
        message = str(exc)
        assert SERVER in message
        assert "s3cret" not in message
        return call()


def test_a_lost_connection_costs_one_call_at_most(schema: str) -> None:
    store = PostgresStore.from_url(_with_password(store_url(schema), "s3cret"))
    try:
        store.migrate()
        store.insert_run(make_run("r1"))
        _together(4, lambda i: store.get_run("r1"))  # a few pooled connections
        store.wait_for_activity(0)  # and the listener
        assert _terminate(schema) >= 2
        assert _at_most_one_failure(lambda: store.get_run("r1")) is not None
        assert _at_most_one_failure(lambda: store.insert_run(make_run("r2"))) is True
        assert [r.id for r in store.claim_runs(worker="w", now=NOW, limit=5, lease_seconds=1)] == [
            "r1",
            "r2",
        ]
        _at_most_one_failure(lambda: _drain(store))
        other = PostgresStore.from_url(store_url(schema))
        try:
            other.insert_run(make_run("r3"))
        finally:
            other.close()
        assert store.wait_for_activity(5) is True  # listening again
    finally:
        store.close()


def test_after_close_every_call_is_refused(schema: str) -> None:
    before = set(threading.enumerate())
    store = PostgresStore.from_url(store_url(schema))
    store.migrate()
    store.wait_for_activity(0)
    store.close()
    store.close()
    calls: list[Callable[[], object]] = [
        lambda: store.get_run("r1"),
        lambda: store.insert_run(make_run("r1")),
        lambda: store.insert_runs([make_run("r1")]),
        lambda: store.claim_runs(worker="w", now=NOW, limit=1, lease_seconds=1),
        lambda: store.wait_for_activity(0),
        store.notify,
        store.migrate,
    ]
    for call in calls:
        with pytest.raises(StoreUnavailable, match="closed"):
            call()
    assert set(threading.enumerate()) <= before
    assert _connections(schema) == 0


def _connections(schema: str) -> int:
    """Server connections of the stores on ``schema``, once closed ones have gone."""
    with admin() as conn:
        deadline = time.monotonic() + 5
        while True:
            row = conn.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE application_name = %s",
                [f"rota:{schema}"],
            ).fetchone()
            assert row is not None
            if row[0] == 0 or time.monotonic() > deadline:
                return int(row[0])
            time.sleep(0.01)


def test_batches_of_one_ids_in_any_order_do_not_deadlock(pg: PostgresStore, schema: str) -> None:
    stores = [pg, *(PostgresStore.from_url(store_url(schema)) for _ in range(3))]
    try:
        for round_ in range(5):
            runs = [make_run(f"r{round_}-{i:03}") for i in range(300)]
            orders = [runs, runs[::-1], runs[::2] + runs[1::2], runs[1::2] + runs[::2]]

            def insert(i: int, orders: list[list[Run]] = orders) -> list[bool]:
                return stores[i].insert_runs(orders[i])

            results = _together(4, insert)
            assert sum(sum(inserted) for inserted in results) == len(runs)
    finally:
        for store in stores[1:]:
            store.close()


def test_a_role_without_create_on_the_database_uses_a_schema_made_for_it(schema: str) -> None:
    role = f"{schema}_user"
    with admin() as conn:
        conn.execute(sql.SQL("CREATE ROLE {} LOGIN").format(sql.Identifier(role)))
        conn.execute(
            sql.SQL("CREATE SCHEMA {} AUTHORIZATION {}").format(
                sql.Identifier(schema), sql.Identifier(role)
            )
        )
        row = conn.execute(
            "SELECT has_database_privilege(%s, current_database(), 'CREATE')", [role]
        ).fetchone()
        assert row == (False,)
    parts = urlsplit(store_url(schema))
    url = urlunsplit(parts._replace(netloc=f"{role}@{parts.hostname}:{parts.port or 5432}"))
    try:
        store = open_store(url)
        try:
            assert store.insert_run(make_run("r1"))
        finally:
            store.close()
        stranger = PostgresStore.from_url(url.replace(f"schema={schema}", "schema=not_made"))
        try:
            with pytest.raises(StoreUnavailable, match=r"'not_made'.*create the schema"):
                stranger.migrate()
        finally:
            stranger.close()
    finally:
        drop_schema(schema)
        with admin() as conn:
            conn.execute(sql.SQL("DROP ROLE {}").format(sql.Identifier(role)))


# -- fire_batches: pipelined ------------------------------------------------------------------


def _fire_batch(name: str, store: PostgresStore) -> tuple[list[Run], list[Advance]]:
    record = store.get_schedule(name)
    assert record is not None
    return [make_run(f"run-{name}", schedule=name)], [Advance(name, record.version, NOW, at(60))]


def test_fire_batches_sends_a_batch_before_drawing_the_next(
    pg: PostgresStore, second: PostgresStore
) -> None:
    """The server runs and commits batch 1 (another process sees its run) while
    batch 2 is still being planned."""
    for name in "ab":
        assert pg.save_schedule(make_schedule(name), expected_version=None)
    seen_while_drawing: list[bool] = []

    def batches() -> Iterator[tuple[list[Run], list[Advance]]]:
        yield _fire_batch("a", pg)
        deadline = time.monotonic() + 5
        while second.get_run("run-a") is None and time.monotonic() < deadline:
            time.sleep(0.005)
        seen_while_drawing.append(second.get_run("run-a") is not None)
        yield _fire_batch("b", pg)

    assert pg.fire_batches(batches()) == [([True], [True]), ([True], [True])]
    assert seen_while_drawing == [True]


def test_fire_batches_writes_a_batch_while_the_one_before_waits(
    pg: PostgresStore, second: PostgresStore, schema: str
) -> None:
    """Two lanes: batch 2 commits while batch 1 still waits for a schedule another
    transaction has locked, and batch 1 commits once that lock is released."""
    for name in "ab":
        assert pg.save_schedule(make_schedule(name), expected_version=None)
    seen: list[bool] = []
    with admin() as blocker:
        blocker.execute(sql.SQL("SET search_path TO {}").format(sql.Identifier(schema)))
        blocker.execute("BEGIN")
        blocker.execute("SELECT 1 FROM schedules WHERE name = 'a' FOR UPDATE")

        def batches() -> Iterator[tuple[list[Run], list[Advance]]]:
            yield _fire_batch("a", pg)
            yield _fire_batch("b", pg)
            deadline = time.monotonic() + 5
            while second.get_run("run-b") is None and time.monotonic() < deadline:
                time.sleep(0.005)
            seen.append(second.get_run("run-b") is not None)
            seen.append(second.get_run("run-a") is None)  # batch 1: still waiting
            blocker.execute("ROLLBACK")

        assert pg.fire_batches(batches()) == [([True], [True]), ([True], [True])]
    assert seen == [True, True]
    assert second.get_run("run-a") is not None


def test_fire_batches_puts_a_batch_behind_a_pending_one_it_shares_a_name_with(
    pg: PostgresStore,
) -> None:
    """Batch 3 advances what batch 1 advances: it runs after batch 1, as ``fire``
    one after the other would, though batch 1 has many runs to insert first and
    the other lane is free (batch 2 is small)."""
    for name in "abc":
        assert pg.save_schedule(make_schedule(name), expected_version=None)
    many = [make_run(f"run-{n}", schedule="a") for n in range(2000)]
    batches = [
        (many, [Advance("a", 1, NOW, at(60))]),
        ([make_run("run-b", schedule="b")], [Advance("b", 1, NOW, at(60))]),
        ([make_run("run-c", schedule="c")], [Advance("a", 1, NOW, at(90))]),
        ([make_run("run-0", schedule="c")], [Advance("c", 1, NOW, at(60))]),
    ]
    assert pg.fire_batches(iter(batches)) == [
        ([True] * 2000, [True]),
        ([True], [True]),
        ([True], [False]),  # batch 1 left version 2
        ([False], [True]),  # batch 1 inserted run-0
    ]
    record = pg.get_schedule("a")
    assert record is not None
    assert (record.version, record.next_due) == (2, at(60))


@pytest.mark.parametrize("pool_max", ["1", "2"])
def test_fire_batches_with_a_small_pool_leaves_a_connection_for_drawing(
    schema: str, pool_max: str
) -> None:
    """Drawing a batch may use the store (``_fire_batch`` reads a schedule): a pool
    of two keeps one lane, a pool of one draws every batch first. Taking the
    pool's last connection for a lane would wait for itself (a timeout)."""
    store = PostgresStore.from_url(store_url(schema, pool_max=pool_max))
    try:
        store.migrate()
        for name in "abc":
            assert store.save_schedule(make_schedule(name), expected_version=None)

        def batches() -> Iterator[tuple[list[Run], list[Advance]]]:
            for name in "abc":
                yield _fire_batch(name, store)

        assert store.fire_batches(batches()) == [([True], [True])] * 3
    finally:
        store.close()


def test_fire_batches_with_a_name_twice_in_a_batch_keeps_the_order(pg: PostgresStore) -> None:
    for name in "ab":
        assert pg.save_schedule(make_schedule(name), expected_version=None)
    twice = [Advance("a", 2, at(60), at(120)), Advance("a", 3, at(120), None)]
    batches = [
        _fire_batch("a", pg),
        ([make_run("run-x", schedule="a")], twice),
        _fire_batch("b", pg),
    ]
    assert pg.fire_batches(iter(batches)) == [
        ([True], [True]),
        ([True], [True, True]),
        ([True], [True]),
    ]
    record = pg.get_schedule("a")
    assert record is not None
    assert (record.version, record.last_slot, record.next_due) == (4, at(120), None)
