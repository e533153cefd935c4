"""Queue mode as a cluster (issue 4): 3 ``rota scheduler`` + 3 ``rota worker`` processes
on one store, one of each killed with SIGKILL part-way (and, in the restart tests, the
store's server also stopped for a second and started again), then every slot is checked.

Timeline (seconds after all six processes print their banner): ``KILL_AT`` a worker
that is mid-way through a 1.5 s ``tick5`` attempt and one scheduler are SIGKILLed;
``RESTART_AT`` (restart tests) the server stops (``pg_ctl stop -m fast`` / Redis
``SHUTDOWN``, so every connection is cut), stays down ``DOWN_FOR`` s and starts on
the same port; ``RUN_FOR`` the schedulers get SIGTERM; once every run in the
store is terminal the workers get SIGTERM.

What these tests prove, for each backend, when they pass:

* **no slot is lost, none is doubled**: for each schedule, every slot of the window
  (after all six processes are up, up to ``MARGIN`` before the schedulers are
  stopped) has exactly one run in the store, although three schedulers planned
  it at once, one of them died mid-way, and (restart tests) the store was gone
  for a second;
* **every run ends**: after the workers drain, every run the store holds is in a
  terminal state. Every run of ``tick1`` (overlap ``allow``) and ``tick5``
  (overlap ``queue``), both with catch-up ``all`` and a 30 s grace, ``succeeded``:
  they have no reason to be skipped or missed, and their job never fails (only
  slots from before the processes were up may be recorded ``missed``: a schedule
  counts from the start of the minute it was first stored in). ``tick2``, with
  the default policies (overlap ``skip``, catch-up ``latest``), may also end
  ``skipped``, and ``missed`` in the window only when the server was restarted;
  never ``failed``;
* **at-least-once, and no more than the leases allow**: the job appends a
  ``start`` and an ``end`` line per attempt it executes. Each (run, attempt) is
  started at most once (no two workers held one lease), no run has more starts
  than its final attempt number, no skipped or missed run was executed, each
  succeeded run ended at least once, and a run ended twice only if it was
  attempted again (final attempt > 1);
* **a killed worker's run comes back**: the killed attempt never ended; its run
  was taken back once its 2 s lease lapsed, executed again by another worker,
  and succeeded with a higher attempt number;
* the restart was seen: some process logged ``store.unavailable``, and all of
  them carried on;
* the surviving schedulers and all workers stop on SIGTERM with exit code 0.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from rota.runs import Run, RunState
from rota.stores import open_store

from ._servers import PrivatePostgres, PrivateRedis, shared_store
from .support import Project, wait_until

APP = """
import random

from rota import SchedulerConfig

config = RotaConfig(
    worker=WorkerConfig(lease_seconds=2.0, heartbeat_seconds=0.5),
    scheduler=SchedulerConfig(reclaim_interval=1.0),
)
rota = Rota(config=config)


@rota.job(name="tick")
def tick(ctx: RunContext, low: float, high: float) -> str:
    line = f"{ctx.schedule} {ctx.slot.isoformat()} {ctx.run_id} {ctx.attempt} {os.getpid()}"
    mark("runs.txt", f"start {line} {time.time():.3f}")
    time.sleep(random.uniform(low, high))
    mark("runs.txt", f"end {line} {time.time():.3f}")
    return ctx.run_id


# Every slot of these two must execute: no overlap skip, every missed slot caught up.
(rota.schedule(tick, low=0.05, high=0.3).every_second().named("tick1")
    .overlap("allow").catch_up("all", grace=30).retries(3))
(rota.schedule(tick, low=1.5, high=1.5).every_five_seconds().named("tick5")
    .overlap("queue").catch_up("all", grace=30).retries(3))
# The default policies: a slot may be recorded skipped or missed, but never lost.
rota.schedule(tick, low=0.05, high=0.3).every_two_seconds().named("tick2").retries(3)
"""

SCHEDULES = ("tick1", "tick2", "tick5")
ALLOWED = {
    "tick1": {RunState.SUCCEEDED},
    "tick5": {RunState.SUCCEEDED},
    "tick2": {RunState.SUCCEEDED, RunState.SKIPPED, RunState.MISSED},
}
PROCESSES = 3
CONCURRENCY = 4
RUN_FOR = 14.0
"""Seconds from the moment all processes are up to stopping the schedulers."""
KILL_AT = 4.0
RESTART_AT = 7.5
DOWN_FOR = 1.0
"""Seconds the restarted server stays down."""
MARGIN = timedelta(seconds=1.5)
"""Slots this close to stopping the schedulers are not required to have a run."""


@dataclass(frozen=True)
class Line:
    """One line the job appended: ``start|end schedule slot run_id attempt pid time``."""

    kind: str
    schedule: str
    slot: datetime
    run_id: str
    attempt: int
    pid: int
    at: float

    @classmethod
    def parse(cls, text: str) -> Line:
        kind, schedule, slot, run_id, attempt, pid, at = text.split()
        return cls(
            kind, schedule, datetime.fromisoformat(slot), run_id, int(attempt), int(pid), float(at)
        )


@dataclass
class Cluster:
    """The processes of one test, each logging to its own file, and the store they share."""

    project: Project
    url: str
    schedulers: list[subprocess.Popen[str]] = field(default_factory=list)
    workers: list[subprocess.Popen[str]] = field(default_factory=list)
    logs: dict[int, Path] = field(default_factory=dict)

    def spawn(self, *args: str) -> subprocess.Popen[str]:
        # Output goes to files, not pipes: nobody reads a pipe while the test runs, and a
        # full pipe would block the process writing to it.
        root = self.project.root
        log = root / f"{args[0]}-{len(self.logs)}.log"
        command = [sys.executable, "-m", "rota", "--app", self.project.app_ref]
        with open(log, "w", encoding="utf-8") as out:
            child = subprocess.Popen(
                [*command, "--log-level", "info", *args],
                cwd=root,
                env=self.project.env(ROTA_STORE=self.url),
                stdout=out,
                stderr=subprocess.STDOUT,
                text=True,
            )
        self.project.children.append(child)
        self.logs[child.pid] = log
        return child

    def start(self) -> None:
        for _ in range(PROCESSES):
            self.schedulers.append(self.spawn("scheduler"))
            self.workers.append(self.spawn("worker", "--concurrency", str(CONCURRENCY)))

    def up(self, child: subprocess.Popen[str]) -> bool:
        assert child.poll() is None, f"exited {child.returncode}:\n{self.log(child)}"
        return "stop with Ctrl-C or SIGTERM" in self.log(child)  # the banner, once running

    def log(self, child: subprocess.Popen[str]) -> str:
        return self.logs[child.pid].read_text(encoding="utf-8", errors="replace")

    def logs_tail(self, lines: int = 40) -> str:
        parts = []
        for pid, path in self.logs.items():
            text = path.read_text(encoding="utf-8", errors="replace").splitlines()
            parts.append(f"--- {path.name} (pid {pid}) ---\n" + "\n".join(text[-lines:]))
        return "\n".join(parts)

    def lines(self) -> list[Line]:
        return [Line.parse(text) for text in self.project.lines("runs.txt")]

    def runs(self) -> list[Run]:
        """Every run in the store, paging through ``list_runs``."""
        found: list[Run] = []
        with closing(open_store(self.url)) as store:
            before: tuple[datetime, str] | None = None
            while True:
                page = store.list_runs(limit=500, before=before)
                found.extend(page)
                if len(page) < 500:
                    return found
                before = (page[-1].created_at, page[-1].id)

    def settled(self) -> bool:
        return all(run.state.is_terminal for run in self.runs())


@dataclass
class Scenario:
    """When things happened in one exercise of a cluster."""

    started: datetime
    stopped: datetime
    victim: Line
    victim_killed: float
    restarted: bool


def running_tick5(cluster: Cluster, workers: set[int]) -> Line | None:
    """A ``tick5`` attempt a live worker started < 0.8 s ago and has not ended."""
    lines = cluster.lines()
    ended = {(line.run_id, line.attempt) for line in lines if line.kind == "end"}
    for line in reversed(lines):
        fresh = time.time() - line.at < 0.8
        busy = (line.run_id, line.attempt) not in ended and line.pid in workers
        if line.kind == "start" and line.schedule == "tick5" and fresh and busy:
            return line
    return None


def sleep_until(start: float, offset: float) -> None:
    time.sleep(max(0.0, start + offset - time.monotonic()))


def exercise(cluster: Cluster, restart: Callable[[float], None] | None) -> Scenario:
    """Run the cluster, kill a scheduler and a busy worker, maybe restart the server,
    stop the schedulers, let the workers drain, stop them."""
    cluster.start()
    wait_until(
        lambda: all(cluster.up(child) for child in cluster.schedulers + cluster.workers),
        timeout=30,
        what="all processes to be up",
    )
    began = time.monotonic()
    started = datetime.now(UTC)

    sleep_until(began, KILL_AT)
    pids = {child.pid for child in cluster.workers}
    victim = wait_until(
        lambda: running_tick5(cluster, pids), timeout=8, what="a worker mid-way in a tick5 job"
    )
    worker = next(child for child in cluster.workers if child.pid == victim.pid)
    worker.send_signal(signal.SIGKILL)
    killed = time.time()
    cluster.schedulers[0].send_signal(signal.SIGKILL)
    for child in (worker, cluster.schedulers[0]):
        child.wait(timeout=5)

    if restart is not None:
        sleep_until(began, RESTART_AT)
        restart(DOWN_FOR)

    sleep_until(began, RUN_FOR)
    stopped = datetime.now(UTC)
    live_schedulers = cluster.schedulers[1:]
    live_workers = [child for child in cluster.workers if child is not worker]
    for child in live_schedulers:
        child.send_signal(signal.SIGTERM)
    for child in live_schedulers:
        assert child.wait(timeout=15) == 0, cluster.log(child)
    wait_until(cluster.settled, timeout=25, what="every run to end", every=0.25)
    for child in live_workers:
        child.send_signal(signal.SIGTERM)
    for child in live_workers:
        assert child.wait(timeout=15) == 0, cluster.log(child)
    return Scenario(started, stopped, victim, killed, restarted=restart is not None)


def expected_slots(cluster: Cluster, name: str, scenario: Scenario) -> list[datetime]:
    """The schedule's slots ``s`` with ``started < s <= stopped - MARGIN``, from its trigger."""
    schedule = next(s for s in cluster.project.load_app().schedules if s.name == name)
    slots = []
    slot = schedule.trigger.next_after(scenario.started)
    while slot is not None and slot <= scenario.stopped - MARGIN:
        slots.append(slot.astimezone(UTC))
        slot = schedule.trigger.next_after(slot)
    return slots


def problems(cluster: Cluster, scenario: Scenario) -> list[str]:
    """Everything the module docstring promises that did not hold."""
    runs = cluster.runs()
    lines = cluster.lines()
    found: list[str] = []
    by_slot: dict[tuple[str, datetime], list[Run]] = defaultdict(list)
    for run in runs:
        assert run.schedule is not None
        assert run.slot is not None
        by_slot[run.schedule, run.slot].append(run)
        # Before the window: a schedule counts from the start of the minute it was first
        # stored in, and catch-up 'all' with a 30 s grace records the older slots missed.
        early = run.slot <= scenario.started and run.state is RunState.MISSED
        if not run.state.is_terminal:
            found.append(f"not terminal: {run.schedule} {run.slot} {run.id} {run.state}")
        elif run.state not in ALLOWED[run.schedule] and not early:
            found.append(f"{run.state}: {run.schedule} {run.slot} {run.id} {run.error}")
    for name in SCHEDULES:
        slots = expected_slots(cluster, name, scenario)
        assert len(slots) >= 2, (name, slots)
        for slot in slots:
            count = len(by_slot.get((name, slot), []))
            if count != 1:
                found.append(f"{name} slot {slot.isoformat()}: {count} runs (expected 1)")
            # With two schedulers alive throughout, no slot of the window comes 2 s late.
            missed = [r for r in by_slot.get((name, slot), []) if r.state is RunState.MISSED]
            if missed and not scenario.restarted:
                found.append(f"{name} slot {slot.isoformat()} missed without an outage")
    found += execution_problems(runs, lines)
    found += victim_problems(runs, lines, scenario)
    return found


def execution_problems(runs: list[Run], lines: list[Line]) -> list[str]:
    found: list[str] = []
    starts = Counter((line.run_id, line.attempt) for line in lines if line.kind == "start")
    for (run_id, attempt), count in starts.items():
        if count > 1:
            found.append(f"run {run_id} attempt {attempt} started {count} times")
    per_run: dict[str, list[Line]] = defaultdict(list)
    for line in lines:
        per_run[line.run_id].append(line)
    known = {run.id: run for run in runs}
    for run_id in per_run.keys() - known.keys():
        found.append(f"run {run_id} executed but not in the store")
    for run in runs:
        mine = per_run.get(run.id, [])
        started = [line for line in mine if line.kind == "start"]
        ended = [line for line in mine if line.kind == "end"]
        if len(started) > run.attempt or any(line.attempt > run.attempt for line in started):
            found.append(f"run {run.id}: started {len(started)}x, final attempt {run.attempt}")
        if run.state is RunState.SUCCEEDED and not ended:
            found.append(f"run {run.id} succeeded without its job ending")
        if run.state in (RunState.SKIPPED, RunState.MISSED) and started:
            found.append(f"run {run.id} is {run.state} but its job ran")
        if len(ended) > 1 and run.attempt <= 1:
            found.append(f"run {run.id} ended {len(ended)}x with final attempt {run.attempt}")
    return found


def victim_problems(runs: list[Run], lines: list[Line], scenario: Scenario) -> list[str]:
    """The killed worker's tick5 run was executed again elsewhere and succeeded."""
    victim = scenario.victim
    run = next((r for r in runs if r.id == victim.run_id), None)
    if run is None:
        return [f"the killed worker's run {victim.run_id} is not in the store"]
    found = []
    if run.state is not RunState.SUCCEEDED or run.attempt <= victim.attempt:
        found.append(f"the killed worker's run ended {run.state} at attempt {run.attempt}")
    mine = [line for line in lines if line.run_id == run.id]
    if any(line.kind == "end" and line.attempt == victim.attempt for line in mine):
        found.append(f"the killed attempt of {run.id} ended: the worker was not killed mid-job")
    if any(line.pid == victim.pid and line.at > scenario.victim_killed for line in lines):
        found.append("the killed worker wrote after it was killed")
    return found


def summary(cluster: Cluster, scenario: Scenario) -> str:
    """Counts worth seeing with ``pytest -s``: runs by schedule and state, re-executions."""
    states = Counter(f"{run.schedule}:{run.state}" for run in cluster.runs())
    retried = Counter(line.run_id for line in cluster.lines() if line.kind == "start")
    again = sorted(run_id for run_id, count in retried.items() if count > 1)
    window = (scenario.stopped - scenario.started).total_seconds()
    return (
        f"window {window:.1f}s; runs {dict(sorted(states.items()))}; killed worker's run "
        f"{scenario.victim.run_id} (attempt {scenario.victim.attempt}); executed again: {again}"
    )


def check(cluster: Cluster, scenario: Scenario) -> None:
    print(summary(cluster, scenario))
    found = problems(cluster, scenario)
    if scenario.restarted and "[store.unavailable]" not in cluster.logs_tail(lines=10_000):
        found.append("no process noticed the server's restart (no store.unavailable logged)")
    assert not found, "\n".join(found[:50]) + "\n" + cluster.logs_tail()


# -- the tests --------------------------------------------------------------------------------


@pytest.mark.parametrize("backend", ["sqlite", "postgres", "redis"])
def test_killed_scheduler_and_worker_lose_no_slot(
    backend: str, project: Project, tmp_path: Path
) -> None:
    project.write_app(APP)
    with shared_store(backend, tmp_path) as url:
        cluster = Cluster(project, url)
        try:
            scenario = exercise(cluster, restart=None)
            check(cluster, scenario)
        finally:
            project.close()


@pytest.mark.parametrize("backend", ["postgres", "redis"])
def test_server_restart_loses_no_slot(backend: str, project: Project) -> None:
    project.write_app(APP)
    server = PrivatePostgres() if backend == "postgres" else PrivateRedis()
    server.start()
    try:
        url = server.url + ("?schema=rota_e2e" if backend == "postgres" else "?prefix=e2e")
        cluster = Cluster(project, url)
        try:
            scenario = exercise(cluster, restart=server.restart)
            check(cluster, scenario)
        finally:
            project.close()  # before the server goes: no process may outlive it
    finally:
        server.stop()
