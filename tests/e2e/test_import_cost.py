"""What the command line imports: cron starts ``rota run`` every minute, so its path stays light.

``import rota.cli`` must load only click and a few rota modules. A ``rota run``
pass over SQLite, with 100 schedules and nothing due, must not load another
backend's driver nor the dashboard's stack.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from .support import Project

PROBE = """
import json, sys
from rota.cli import cli
if len(sys.argv) > 1:
    try:
        cli.main(sys.argv[1:], prog_name="rota")
    except SystemExit as exit:
        assert not exit.code, exit.code
print(json.dumps(sorted(sys.modules)))
"""

CLI_ROTA_MODULES = {"rota", "rota.cli", "rota.errors", "rota._cli_tables"}
THIRD_PARTY_ALLOWED = {"click", "tzdata"}
# never on the ``rota run`` path over SQLite
FORBIDDEN = {
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
}
# heavy standard modules that a pass with nothing to execute does not need
HEAVY_STDLIB = {"asyncio", "multiprocessing", "ssl", "concurrent.futures.process"}

APP = """
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


def third_party(modules: set[str]) -> set[str]:
    tops = {name.split(".")[0] for name in modules}
    return {top for top in tops if top not in sys.stdlib_module_names and not top.startswith("_")}


def test_import_rota_cli_loads_only_the_allowlist(project: Project) -> None:
    modules = imported(project)
    assert {m for m in modules if m.split(".")[0] == "rota"} == CLI_ROTA_MODULES
    assert third_party(modules) - {"rota", "sitecustomize"} <= THIRD_PARTY_ALLOWED
    assert not modules & (FORBIDDEN | HEAVY_STDLIB | {"sqlite3", "zoneinfo", "logging"})


def nothing_due_pass(project: Project) -> set[str]:
    project.write_app(APP)
    assert project.rota("run").returncode == 0  # the first pass syncs the 100 schedules
    return imported(project, "--app", project.app_ref, "run")


def test_rota_run_over_sqlite_loads_no_other_backend_nor_dashboard(project: Project) -> None:
    modules = nothing_due_pass(project)
    assert "rota.stores.sqlite" in modules
    assert not modules & FORBIDDEN
    assert third_party(modules) - {"rota", "tasks", "sitecustomize"} <= THIRD_PARTY_ALLOWED


@pytest.mark.xfail(
    strict=True,
    reason="rota.worker, rota._execution and rota._isolated import asyncio and "
    "multiprocessing at module level; rota.app imports rota.worker at module level",
)
def test_rota_run_with_nothing_due_loads_no_event_loop_nor_process_pool(
    project: Project,
) -> None:
    modules = nothing_due_pass(project)
    assert not modules & HEAVY_STDLIB, sorted(modules & HEAVY_STDLIB)
