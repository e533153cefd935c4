"""``Rota.enqueue`` and ``Rota.enqueue_many``: runs put on their job's queue for
workers, checked first, stored a chunk per store call, executed by a worker."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pytest

from rota.app import Rota
from rota.errors import InvalidArguments, JobNotFound
from rota.runs import Run, RunState
from rota.stores.memory import MemoryStore
from rota.testing import make_test_rota

calls: list[tuple[Any, ...]] = []


def _app() -> Rota:
    app = make_test_rota()
    calls.clear()

    @app.job(name="add", queue="math", priority=5, retries=2, timeout=30)
    def add(a: int, b: int = 0) -> int:
        calls.append((a, b))
        return a + b

    @app.job(name="tick")
    def tick() -> None:
        calls.append(())

    return app


def _stored(app: Rota) -> list[Run]:
    return app.store.list_runs(limit=10_000)


def _drain(app: Rota) -> list[Run]:
    """What a worker executes now, the worker stopped after (its threads end)."""
    worker = app.worker()
    try:
        return worker.run_pending()
    finally:
        worker.stop()


def test_enqueue_queues_a_run_on_the_jobs_queue_and_executes_nothing() -> None:
    app = _app()
    run = app.enqueue("add", 1, b=2)
    assert calls == []
    assert run.state is RunState.QUEUED
    assert (run.job, run.queue, run.priority, run.manual) == ("add", "math", 5, True)
    assert (run.schedule, run.slot, run.host, run.attempt) == (None, None, None, 0)
    assert (run.options.max_attempts, run.options.timeout) == (3, 30)
    assert (run.args, dict(run.kwargs)) == ((1,), {"b": 2})
    assert run.created_at == run.available_at == app.clock.now()
    assert app.store.get_run(run.id) == run


def test_a_worker_executes_what_was_enqueued() -> None:
    app = _app()
    first = app.enqueue("add", 1, 2)
    rest = app.enqueue_many("add", [((n,), {"b": 10}) for n in range(5)])
    done = _drain(app)
    assert {r.id: r.state for r in done} == {r.id: RunState.SUCCEEDED for r in [first, *rest]}
    assert sorted(calls) == sorted([(1, 2), *((n, 10) for n in range(5))])
    assert app.store.get_run(first.id).result == 3  # type: ignore[union-attr]


def test_enqueue_by_function_and_the_run_is_json() -> None:
    app = make_test_rota()

    @app.job(queue="q")
    def echo(items: list[int], *, label: str) -> None: ...

    run = app.enqueue(echo, (1, 2), label="x")
    assert run.job.endswith("echo")
    assert run.queue == "q"
    assert run.args == ([1, 2],)  # as the store gives it back: JSON
    assert app.store.get_run(run.id) == run


def test_enqueue_many_keeps_the_order_of_calls() -> None:
    app = _app()
    runs = app.enqueue_many("add", [((n,), {}) for n in range(300)])
    assert [r.args for r in runs] == [(n,) for n in range(300)]
    assert len({r.id for r in runs}) == 300
    claimed = app.store.claim_runs(worker="w", now=app.clock.now(), limit=300, lease_seconds=9)
    assert [r.id for r in claimed] == [r.id for r in runs]


def test_enqueue_many_writes_one_insert_runs_per_chunk() -> None:
    class Counting(MemoryStore):
        sizes: list[int]

        def insert_runs(self, runs: Sequence[Run]) -> list[bool]:
            self.sizes.append(len(runs))
            return super().insert_runs(runs)

    store = Counting()
    store.sizes = []
    app = Rota(store=store)
    app.job(name="tick")(lambda: None)
    assert len(app.enqueue_many("tick", [((), {})] * 2500)) == 2500
    assert store.sizes == [1000, 1000, 500]
    app.enqueue_many("tick", [((), {})] * 5, chunk=2)
    assert store.sizes[3:] == [2, 2, 1]
    assert app.enqueue_many("tick", []) == []
    assert len(store.sizes) == 6
    assert len(_stored(app)) == 2505


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (lambda app: app.enqueue("add"), "missing a required argument"),
        (lambda app: app.enqueue("add", 1, 2, 3), "too many positional"),
        (lambda app: app.enqueue("add", 1, c=3), "unexpected keyword"),
        (lambda app: app.enqueue("add", object()), "not JSON-serializable"),
        (lambda app: app.enqueue("tick", 1), "too many positional"),
        (
            lambda app: app.enqueue_many("add", [((1,), {}), ((2,), {}), ((), {})]),
            "call 2 to enqueue_many",
        ),
        (lambda app: app.enqueue_many("add", [{"a": 1}]), "not an \\(args, kwargs\\) pair"),
        (lambda app: app.enqueue_many("add", [(1, {})]), "not an \\(args, kwargs\\) pair"),
        (lambda app: app.enqueue_many("add", [((1,), [])]), "not an \\(args, kwargs\\) pair"),
        (lambda app: app.enqueue_many("add", [((1,),)]), "not an \\(args, kwargs\\) pair"),
    ],
)
def test_bad_arguments_store_nothing(call: Any, message: str) -> None:
    app = _app()
    with pytest.raises(InvalidArguments, match=message):
        call(app)
    assert _stored(app) == []


def test_an_unknown_job_is_not_found_with_a_suggestion() -> None:
    app = _app()
    with pytest.raises(JobNotFound, match="did you mean 'add'"):
        app.enqueue("addd", 1)
    with pytest.raises(JobNotFound, match="no job or schedule named 'nothing'"):
        app.enqueue_many("nothing", [((), {})])
    with pytest.raises(JobNotFound):
        app.enqueue(42)  # type: ignore[arg-type]
    assert _stored(app) == []


def test_a_bad_chunk_is_refused() -> None:
    app = _app()
    with pytest.raises(ValueError, match="chunk"):
        app.enqueue_many("tick", [((), {})], chunk=0)
    assert _stored(app) == []


def test_enqueue_a_schedule_by_name_uses_its_job_arguments_and_placement() -> None:
    app = _app()
    app.schedule("add", 7, b=1).every(60).named("sevens").on_queue("nightly").priority(9)
    run = app.enqueue("sevens")
    assert (run.job, run.schedule, run.args, dict(run.kwargs)) == ("add", "sevens", (7,), {"b": 1})
    assert (run.queue, run.priority, run.manual, run.slot) == ("nightly", 9, True, None)
    given = app.enqueue("sevens", 100)
    assert (given.args, dict(given.kwargs)) == ((100,), {})
    _drain(app)
    assert sorted(calls) == [(7, 1), (100, 0)]


def test_enqueue_is_not_trigger() -> None:
    """trigger executes here on a private queue; enqueue leaves the run to workers."""
    app = _app()
    triggered = app.trigger("add", 2, 3)
    queued = app.enqueue("add", 2, 3)
    assert triggered.state is RunState.SUCCEEDED
    assert triggered.queue.startswith("manual:")
    assert queued.state is RunState.QUEUED
    assert queued.queue == "math"
    assert queued.options.max_attempts == 3 != triggered.options.max_attempts
