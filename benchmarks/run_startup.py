"""Start-up cost of ``rota run`` with nothing due, against the interpreter starting.

Run: ``.venv/bin/python benchmarks/run_startup.py [REPEATS]``. Writes an app
with 100 schedules due far in the future into a temporary directory, syncs
them with one ``rota run``, then times REPEATS (default 10) more ``rota
--app … run`` subprocesses (each a full pass: load the app, open SQLite, sync,
tick, nothing to execute) beside ``python -c pass`` and the lighter steps in
between. Prints medians and the ratio to ``python -c pass``; target <= 3x.

Bytecode is cached (in the temporary directory, whatever
``PYTHONDONTWRITEBYTECODE`` says) as it is for an installed package: without
it every run would compile rota's sources again. The "floor" row imports the
standard modules a pass over SQLite cannot do without.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

SRC = Path(__file__).resolve().parents[1] / "src"
TARGET = 3.0
FLOOR = "sqlite3, zoneinfo, json, logging, dataclasses"

APP = """
from rota import Rota

rota = Rota()


@rota.job(name="noop")
def noop(n: int) -> None: ...


for i in range(100):
    rota.schedule(noop, i).yearly_on(12, 31, "23:59").named(f"s{i:03}")
"""


def timed(command: list[str], cwd: Path, env: dict[str, str], repeats: int) -> float:
    """Median wall seconds of ``command`` run ``repeats`` times (after one warm-up)."""
    samples = []
    for k in range(repeats + 1):
        started = time.perf_counter()
        subprocess.run(command, cwd=cwd, env=env, check=True, capture_output=True)
        if k:
            samples.append(time.perf_counter() - started)
    return statistics.median(samples)


def main() -> None:
    repeats = int(sys.argv[1]) if len(sys.argv) > 1 else 10
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        (root / "tasks.py").write_text(textwrap.dedent(APP), encoding="utf-8")
        env = dict(os.environ)
        env.update(
            PYTHONPATH=os.pathsep.join([str(SRC), str(root)]),
            ROTA_STORE=f"sqlite:///{root / 'rota.db'}",
            PYTHONPYCACHEPREFIX=str(root / "pycache"),
        )
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        py = sys.executable
        rota_run = [py, "-m", "rota", "--app", "tasks:rota", "run"]
        subprocess.run(rota_run, cwd=root, env=env, check=True, capture_output=True)
        rows = [
            ("python -c pass", timed([py, "-c", "pass"], root, env, repeats)),
            ("floor: import " + FLOOR, timed([py, "-c", f"import {FLOOR}"], root, env, repeats)),
            ("python -c 'import click'", timed([py, "-c", "import click"], root, env, repeats)),
            (
                "python -c 'import rota.cli'",
                timed([py, "-c", "import rota.cli"], root, env, repeats),
            ),
            ("rota --help", timed([py, "-m", "rota", "--help"], root, env, repeats)),
            (
                "import the app (rota.app + 100 schedules)",
                timed([py, "-c", "import tasks"], root, env, repeats),
            ),
            ("rota --app tasks:rota run", timed(rota_run, root, env, repeats)),
        ]
    base = rows[0][1]
    print(f"median wall time of {repeats} runs, 100 schedules, nothing due, SQLite")
    print(f"{'command':<62} {'ms':>8} {'x pass':>7}")
    for label, seconds in rows:
        print(f"{label:<62} {seconds * 1000:>8.1f} {seconds / base:>7.1f}")
    ratio = rows[-1][1] / base
    verdict = "meets" if ratio <= TARGET else "MISSES"
    print(f"rota run / python -c pass = {ratio:.1f}x {verdict} the target of {TARGET:g}x")


if __name__ == "__main__":
    main()
