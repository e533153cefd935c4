"""What the command line imports: cron starts ``rota run`` every minute, so its path stays light.

``import rota.cli`` loads no click (the plain ``rota run`` does without it)
and only two rota modules. A ``rota run`` pass over SQLite, with 100
schedules and nothing due, loads exactly the rota modules and the standard
library modules allowed below: no click, no other backend's driver, no
dashboard, no event loop, process pool, TLS or worker. Loading something new
on that path means adding it here, on purpose.
"""

from __future__ import annotations

import json
import subprocess
import sys

from .support import Project

PROBE = """
import json, sys
if len(sys.argv) > 1:
    from rota.cli import main
    try:
        main()
    except SystemExit as exit:
        assert not exit.code, exit.code
else:
    import rota.cli
print(json.dumps(sorted(sys.modules)))
"""

CLI_ROTA_MODULES = {"rota", "rota.cli", "rota.errors"}
# ``rota run`` with nothing due: the app and its declarations, the store, sync and one tick
RUN_ROTA_MODULES = {
    "rota",
    "rota._appload",
    "rota._cli_pass",
    "rota._cli_tables",
    "rota._dynamic",  # Rota's run-time schedule methods (a mixin; nothing runs)
    "rota._filters",
    "rota._frequencies",
    "rota._hook_methods",  # Schedule's on_failure, then_ping …: declaring them
    "rota._hooks",  # the scheduler's on_missed dispatch (no thread, no HTTP until used)
    "rota._reclaim",  # lapsed leases taken back, their hooks and waiting children
    "rota._planning",
    "rota._policies",
    "rota._sync",
    "rota._zones",
    "rota.app",
    "rota.cli",
    "rota.clock",
    "rota.config",
    "rota.context",
    "rota.errors",
    "rota.jobs",
    "rota.runs",
    "rota.schedule",
    "rota.scheduler",
    "rota.stores",
    "rota.stores._codec",
    "rota.stores._rules",
    "rota.stores.base",
    "rota.stores.sqlite",
}
# the standard library ``rota run`` needs beyond what the interpreter itself loads at start:
# typing and dataclasses (which loads inspect), logging, dates and zones, JSON, SQLite,
# paths, signals, threads (the store's lock), secrets (lease tokens), gc (built in: the
# scheduler pauses the collector during a tick) and their own imports
RUN_STDLIB = {
    "__future__",
    "ast",
    "atexit",
    "base64",
    "binascii",
    "bisect",
    "collections",
    "contextlib",
    "copy",
    "dataclasses",
    "datetime",
    "difflib",
    "dis",
    "enum",
    "errno",
    "fnmatch",
    "functools",
    "gc",
    "hashlib",
    "heapq",
    "hmac",
    "importlib",
    "inspect",
    "ipaddress",
    "json",
    "keyword",
    "linecache",
    "logging",
    "math",
    "ntpath",
    "opcode",
    "operator",
    "pathlib",
    "random",
    "re",
    "reprlib",
    "secrets",
    "signal",
    "sqlite3",
    "string",
    "struct",
    "sysconfig",
    "textwrap",
    "threading",
    "token",
    "tokenize",
    "traceback",
    "types",
    "typing",
    "urllib",
    "warnings",
    "weakref",
    "zoneinfo",
}
# never on the ``rota run`` path over SQLite
FORBIDDEN = {
    "click",
    "psycopg",
    "psycopg_pool",
    "redis",
    "starlette",
    "jinja2",
    "uvicorn",
    "prometheus_client",
    "rota.stores.postgres",
    "rota.stores.redis",
    "rota.web",
    "rota.worker",
    "rota.cron",
    "tomllib",
}
# heavy standard modules that a pass with nothing to execute does not need
HEAVY_STDLIB = {
    "asyncio",
    "multiprocessing",
    "ssl",
    "socket",
    "subprocess",
    "concurrent.futures",
    "uuid",
    "platform",
    "importlib.resources",
}

# written without the e2e header, which imports more of rota (WorkerConfig, RunContext)
APP = """
from rota import Rota

rota = Rota()


@rota.job(name="noop")
def noop(n: int) -> None: ...


for i in range(100):
    rota.schedule(noop, i).yearly_on(12, 31, "23:59").named(f"s{i:03}")
"""


def imported(project: Project, *args: str) -> set[str]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *args],
        cwd=project.root,
        env=project.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    modules: list[str] = json.loads(done.stdout.splitlines()[-1])
    return set(modules)


def at_start(project: Project) -> set[str]:
    """What the interpreter has loaded before running any code (site, encodings, …)."""
    done = subprocess.run(
        [sys.executable, "-c", "import json, sys; print(json.dumps(sorted(sys.modules)))"],
        cwd=project.root,
        env=project.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    modules: list[str] = json.loads(done.stdout)
    return {m for m in modules if m.split(".")[0] != "json"}


def stdlib(modules: set[str]) -> set[str]:
    """The public standard library packages among ``modules`` (C accelerators left out)."""
    tops = {m.split(".")[0] for m in modules}
    return {top for top in tops if top in sys.stdlib_module_names and not top.startswith("_")}


def third_party(modules: set[str]) -> set[str]:
    tops = {name.split(".")[0] for name in modules}
    return {top for top in tops if top not in sys.stdlib_module_names and not top.startswith("_")}


def test_import_rota_cli_loads_only_the_allowlist(project: Project) -> None:
    modules = imported(project)
    assert {m for m in modules if m.split(".")[0] == "rota"} == CLI_ROTA_MODULES
    assert third_party(modules) - {"rota", "sitecustomize"} == set()
    assert not modules & (FORBIDDEN | HEAVY_STDLIB | {"sqlite3", "zoneinfo", "logging"})


def nothing_due_pass(project: Project) -> set[str]:
    (project.root / f"{project.module}.py").write_text(APP, encoding="utf-8")
    assert project.rota("run").returncode == 0  # the first pass syncs the 100 schedules
    return imported(project, "--app", project.app_ref, "run")


def test_rota_run_over_sqlite_loads_no_other_backend_nor_dashboard(project: Project) -> None:
    modules = nothing_due_pass(project)
    assert "rota.stores.sqlite" in modules
    assert not modules & FORBIDDEN, sorted(modules & FORBIDDEN)
    assert third_party(modules) - {"rota", "tasks", "sitecustomize"} <= {"tzdata"}


def test_rota_run_with_nothing_due_loads_no_event_loop_nor_process_pool(
    project: Project,
) -> None:
    modules = nothing_due_pass(project)
    assert not modules & HEAVY_STDLIB, sorted(modules & HEAVY_STDLIB)


def test_rota_run_with_nothing_due_loads_only_the_allowlist(project: Project) -> None:
    modules = nothing_due_pass(project)
    assert {m for m in modules if m.split(".")[0] == "rota"} == RUN_ROTA_MODULES
    extra = stdlib(modules) - stdlib(at_start(project)) - RUN_STDLIB
    assert not extra, f"new standard modules on the rota run path: {sorted(extra)}"
