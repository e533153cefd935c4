"""``rota run`` started on many hosts at once: each slot runs once."""

from __future__ import annotations

from collections import Counter

from rota.runs import RunState

from .support import Project, avoid_minute_edge

PROCESSES = 8

APP = """
rota = Rota()


@rota.job(name="stamp")
def stamp(ctx: RunContext) -> int:
    mark("stamps.txt", f"{ctx.run_id} {ctx.slot.isoformat() if ctx.slot else '-'} {os.getpid()}")
    return os.getpid()


@rota.job(name="other")
def other(ctx: RunContext) -> None:
    mark("other.txt", ctx.run_id)


rota.schedule(stamp).every_minute().named("stamp")
rota.schedule(other).every_minute().named("other")
"""


def test_eight_concurrent_runs_fire_each_slot_once(project: Project) -> None:
    project.write_app(APP)
    avoid_minute_edge()
    children = [project.spawn("run") for _ in range(PROCESSES)]
    outputs = [child.communicate(timeout=60) for child in children]
    for child, (out, err) in zip(children, outputs, strict=True):
        assert child.returncode == 0, err
        assert out.startswith("rota run: "), out
        assert len(out.splitlines()) == 1, out

    runs = project.runs()
    per_slot = Counter((run.schedule, run.slot) for run in runs)
    assert set(per_slot.values()) == {1}, per_slot
    assert {run.schedule for run in runs} == {"stamp", "other"}
    assert all(run.state is RunState.SUCCEEDED and run.attempt == 1 for run in runs)
    stamps = project.lines("stamps.txt")
    assert sorted(line.split()[0] for line in stamps) == sorted(
        run.id for run in runs if run.schedule == "stamp"
    )
    assert len(project.lines("other.txt")) == len([r for r in runs if r.schedule == "other"])


def test_run_twice_in_a_minute_fires_once(project: Project) -> None:
    project.write_app(APP)
    avoid_minute_edge()
    first = project.rota("run")
    second = project.rota("run")
    assert first.returncode == 0, first.stderr
    assert first.stdout.startswith("rota run: 2 succeeded in "), first.stdout
    assert second.returncode == 0, second.stderr
    assert second.stdout.startswith("rota run: nothing due; next at "), second.stdout
    assert len(project.lines("stamps.txt")) == 1
