"""Dependencies across processes (issue 5): 2 ``rota scheduler`` + 2 ``rota worker``
processes on one store run the graph a -> b -> c and (a, c) -> d every second for a
few seconds, with a and b failing on some slots. Afterwards, slot by slot, every
child's run is what its parents' runs say it must be:

* b succeeded if a succeeded (and b's own slot is not one where it fails), failed if
  it failed itself, ``upstream_failed`` if a failed;
* c succeeded exactly when b succeeded, else ``upstream_failed``;
* d (fan-in) succeeded exactly when a and c both succeeded, else ``upstream_failed``;
* every child run started after all its parents' runs for the slot finished, and each
  slot has exactly one run per schedule.
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections import defaultdict
from contextlib import closing
from datetime import datetime
from pathlib import Path

import pytest

from rota.runs import Run, RunState
from rota.stores import open_store

from ._servers import shared_store
from .support import Project, wait_until

APP = """
from rota import Schedule, SchedulerConfig

rota = Rota(config=RotaConfig(scheduler=SchedulerConfig(reclaim_interval=0.5)))


def fails(name: str, second: int) -> bool:
    return (name == "a" and second % 4 == 1) or (name == "b" and second % 5 == 2)


@rota.job(name="step")
def step(ctx: RunContext, name: str) -> str:
    if fails(name, ctx.slot.second):
        raise RuntimeError(f"{name} fails at {ctx.slot:%S}")
    return name


def node(name: str) -> Schedule:
    return rota.schedule(step, name).named(name).overlap("allow").catch_up("all", grace=30)


a = node("a").every_second()
b = node("b").after(a)
c = node("c").after(b)
d = node("d").after(a, c)
"""

RUN_FOR = 5.0
OK, FAILED, UP = RunState.SUCCEEDED, RunState.FAILED, RunState.UPSTREAM_FAILED


def expected(slot: datetime) -> dict[str, RunState]:
    a = FAILED if slot.second % 4 == 1 else OK
    b = UP if a is not OK else (FAILED if slot.second % 5 == 2 else OK)
    c = OK if b is OK else UP
    d = OK if a is OK and c is OK else UP
    return {"a": a, "b": b, "c": c, "d": d}


def all_runs(url: str) -> list[Run]:
    with closing(open_store(url)) as store:
        return store.list_runs(limit=10_000)


@pytest.mark.parametrize("backend", ["sqlite", "postgres", "redis"])
def test_a_graph_of_schedules_across_processes(
    project: Project, tmp_path: Path, backend: str
) -> None:
    project.write_app(APP)
    with shared_store(backend, tmp_path) as url:
        logs: list[Path] = []
        children: list[subprocess.Popen[str]] = []
        for index, args in enumerate([["scheduler"], ["worker"]] * 2):
            log = tmp_path / f"{args[0]}-{index}.log"
            logs.append(log)
            with open(log, "w", encoding="utf-8") as out:
                child = subprocess.Popen(
                    [sys.executable, "-m", "rota", "--app", project.app_ref, *args],
                    cwd=project.root,
                    env=project.env(ROTA_STORE=url),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    text=True,
                )
            project.children.append(child)
            children.append(child)

        def tail() -> str:
            return "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in logs)

        time.sleep(RUN_FOR)
        for child in children[::2]:  # the schedulers
            child.terminate()
        for child in children[::2]:
            assert child.wait(timeout=15) == 0, tail()
        try:
            wait_until(
                lambda: all(run.state.is_terminal for run in all_runs(url)),
                timeout=20,
                what="every run to end",
            )
        except AssertionError:
            still = [(r.schedule, r.slot, r.state) for r in all_runs(url)]
            still = [item for item in still if not item[2].is_terminal]
            raise AssertionError(f"runs still open: {still}\n{tail()}") from None
        for child in children[1::2]:
            child.terminate()
        for child in children[1::2]:
            assert child.wait(timeout=15) == 0, tail()

        runs = all_runs(url)
        by_slot: dict[datetime, dict[str, list[Run]]] = defaultdict(lambda: defaultdict(list))
        for run in runs:
            assert run.slot is not None
            assert run.schedule is not None
            by_slot[run.slot][run.schedule].append(run)
        judged = [slot for slot, group in by_slot.items() if group.get("a")]
        assert len(judged) >= 3, tail()
        outcomes: set[RunState] = set()
        for slot in sorted(judged):
            group = by_slot[slot]
            got = {}
            for name in "abcd":
                assert len(group[name]) == 1, (slot, name, group[name])
                got[name] = group[name][0].state
            assert got == expected(slot), (slot, got, tail())
            outcomes.update(got.values())
            for name, parents in (("b", "a"), ("c", "b"), ("d", "ac")):
                kid = group[name][0]
                assert kid.parents == tuple(group[p][0].id for p in parents)
                if kid.state is OK:
                    assert kid.started_at is not None
                    for parent in parents:
                        finished = group[parent][0].finished_at
                        assert finished is not None
                        assert kid.started_at >= finished
        assert outcomes == {OK, FAILED, UP}, outcomes  # the run saw every kind of slot
