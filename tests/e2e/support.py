"""Helpers for end-to-end tests: an app module in ``tmp_path``, the real CLI in
subprocesses against a SQLite store there, and waiting with a deadline."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import textwrap
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TypeVar

from rota.app import Rota
from rota.runs import Run, RunState
from rota.stores import open_store
from rota.stores.base import Store

SRC = Path(__file__).resolve().parents[2] / "src"
T = TypeVar("T")

APP_HEADER = """\
from __future__ import annotations

import os
import time
from pathlib import Path

from rota import Rota, RotaConfig, RunContext, WorkerConfig

HERE = Path(__file__).resolve().parent


def mark(name: str, text: str) -> None:
    \"\"\"Append one line to HERE/name: the job's visible side effect.\"\"\"
    with open(HERE / name, "a", encoding="utf-8") as out:
        out.write(text + "\\n")
"""


def wait_until(
    condition: Callable[[], T | bool | None], *, timeout: float, what: str, every: float = 0.05
) -> T:
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value  # type: ignore[return-value]
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(every)


def avoid_minute_edge(margin: float = 4.0) -> None:
    """Wait out the end of the minute when fewer than ``margin`` seconds are left,
    so every process in a test plans the same minute."""
    now = datetime.now(UTC)
    left = 60 - (now.second + now.microsecond / 1e6)
    if left < margin:
        time.sleep(left + 0.05)


@dataclass
class Project:
    """A directory holding an app module and a SQLite store, and the CLI run in it."""

    root: Path
    module: str = "tasks"
    children: list[subprocess.Popen[str]] = field(default_factory=list)

    @property
    def store_url(self) -> str:
        return f"sqlite:///{self.root / 'rota.db'}"

    @property
    def app_ref(self) -> str:
        return f"{self.module}:rota"

    def write_app(self, body: str) -> Path:
        """Write ``tasks.py``: the common header (imports, ``mark``), then ``body``."""
        path = self.root / f"{self.module}.py"
        path.write_text(APP_HEADER + "\n\n" + textwrap.dedent(body), encoding="utf-8")
        return path

    def env(self, **extra: str) -> dict[str, str]:
        env = {key: value for key, value in os.environ.items() if not key.startswith("ROTA_")}
        path = [str(SRC), str(self.root), env.get("PYTHONPATH", "")]
        env.update(PYTHONPATH=os.pathsep.join(filter(None, path)), ROTA_STORE=self.store_url)
        env.update(extra)
        return env

    def command(self, args: Sequence[str], app: bool) -> list[str]:
        prefix = ["--app", self.app_ref] if app else []
        return [sys.executable, "-m", "rota", *prefix, *args]

    def rota(
        self, *args: str, app: bool = True, timeout: float = 30, **env: str
    ) -> subprocess.CompletedProcess[str]:
        """Run ``python -m rota [--app tasks:rota] ARGS`` in the project to its end."""
        return subprocess.run(
            self.command(args, app),
            cwd=self.root,
            env=self.env(**env),
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )

    def spawn(self, *args: str, app: bool = True, **env: str) -> subprocess.Popen[str]:
        """Start the CLI in the background; stopped (if still alive) by ``close``."""
        child = subprocess.Popen(
            self.command(args, app),
            cwd=self.root,
            env=self.env(**env),
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.children.append(child)
        return child

    @contextmanager
    def store(self) -> Iterator[Store]:
        opened = open_store(self.store_url)
        try:
            yield opened
        finally:
            opened.close()

    def runs(self, schedule: str | None = None) -> list[Run]:
        """Every run in the store (of ``schedule``), newest first."""
        with self.store() as store:
            return store.list_runs(schedule=schedule, limit=10_000)

    def run(self, run_id: str) -> Run | None:
        with self.store() as store:
            return store.get_run(run_id)

    def lines(self, name: str) -> list[str]:
        """The lines a job ``mark``-ed into ``name`` so far."""
        path = self.root / name
        return path.read_text(encoding="utf-8").splitlines() if path.exists() else []

    def load_app(self) -> Rota:
        """The app module imported in this process (under a unique name), for seeding."""
        path = self.root / f"{self.module}.py"
        spec = importlib.util.spec_from_file_location(f"e2e_{uuid.uuid4().hex}", path)
        assert spec is not None
        assert spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        app = module.rota
        assert isinstance(app, Rota)
        return app

    def close(self) -> None:
        for child in self.children:
            if child.poll() is None:
                child.kill()
            with suppress(subprocess.TimeoutExpired):
                child.communicate(timeout=10)


def terminate(child: subprocess.Popen[str], sig: int = signal.SIGTERM) -> None:
    child.send_signal(sig)


def states(runs: Sequence[Run]) -> list[RunState]:
    return [run.state for run in runs]


def one_line_error(done: subprocess.CompletedProcess[str], code: int = 2) -> str:
    """The single ``error: …`` line a refused command printed; checks the exit code."""
    assert done.returncode == code, (done.returncode, done.stdout, done.stderr)
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: "), lines[0]
    return lines[0]
