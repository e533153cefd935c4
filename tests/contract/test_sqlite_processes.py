"""SQLite across processes: 8 processes on one file, released at once, each
migrating, inserting the same 200 run ids and claiming until nothing is left.
Each id must be inserted exactly once and each run claimed exactly once."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import rota.stores.sqlite

PROCESSES = 8
RUNS = 200

CHILD = """
import json, random, sys
from datetime import UTC, datetime
from rota.runs import Run, RunState
from rota.stores.base import Outcome
from rota.stores.sqlite import SQLiteStore

path, seed, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
ids = [f"r{i:03}" for i in range(count)]
random.Random(seed).shuffle(ids)
now = datetime(2030, 1, 1, tzinfo=UTC)
sys.stdin.readline()  # the starting gun
store = SQLiteStore(path)
store.migrate()
inserted = [
    i for i in ids
    if store.insert_run(Run(id=i, job="j", state=RunState.QUEUED, created_at=now, available_at=now))
]
claimed = []
while runs := store.claim_runs(worker=str(seed), now=now, limit=3, lease_seconds=60):
    claimed += [run.id for run in runs]
    for run in runs:
        done = Outcome(state=RunState.SUCCEEDED)
        assert store.finish_run(run.id, run.lease_token, done, now=now)
store.close()
print(json.dumps({"inserted": inserted, "claimed": claimed}))
"""


def _env() -> dict[str, str]:
    src = str(Path(rota.stores.sqlite.__file__).resolve().parents[2])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [src, env.get("PYTHONPATH")]))
    return env


def test_processes_insert_and_claim_each_run_exactly_once(tmp_path: Path) -> None:
    db = str(tmp_path / "shared.db")
    children = [
        subprocess.Popen(
            [sys.executable, "-c", CHILD, db, str(seed), str(RUNS)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=_env(),
        )
        for seed in range(PROCESSES)
    ]
    try:
        for child in children:
            assert child.stdin is not None
            child.stdin.write("go\n")
            child.stdin.flush()
        reports = []
        for child in children:
            out, err = child.communicate(timeout=60)
            assert child.returncode == 0, err
            reports.append(json.loads(out))
    finally:
        for child in children:
            if child.poll() is None:
                child.kill()
                child.communicate()
    inserted = Counter(i for report in reports for i in report["inserted"])
    claimed = Counter(i for report in reports for i in report["claimed"])
    expected = {f"r{i:03}": 1 for i in range(RUNS)}
    assert dict(inserted) == expected
    assert dict(claimed) == expected
