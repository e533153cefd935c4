"""``rota list``, ``history`` and ``test`` as a user sees them, and the errors they refuse with."""

from __future__ import annotations

import json
from pathlib import Path

from .support import Project, avoid_minute_edge, one_line_error

APP = """
rota = Rota()


@rota.job(name="greet")
def greet(ctx: RunContext, who: str) -> dict[str, str]:
    ctx.logger.info("greeting %s", who)
    return {"hello": who}


@rota.job(name="boom")
def boom() -> None:
    raise ValueError("kaboom")


rota.schedule(greet, who="world").daily_at("07:30").timezone("Europe/Berlin").named("greeting")
rota.schedule(boom).every_minute().named("boom")
rota.shell("echo from the shell").every_minute().named("echo")
"""


def test_list_shows_cron_words_timezone_next_due_and_last_run(project: Project) -> None:
    project.write_app(APP)
    avoid_minute_edge()
    assert project.rota("run").returncode == 0
    done = project.rota("list")
    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.splitlines()
    assert header.split() == [
        "SCHEDULE",
        "WHEN",
        "IN",
        "WORDS",
        "TIMEZONE",
        "NEXT",
        "DUE",
        "LAST",
        "RUN",
    ]
    by_name = {row.split()[0]: row for row in rows}
    assert list(by_name) == ["greeting", "boom", "echo"]
    greeting = by_name["greeting"]
    assert "30 7 * * *" in greeting
    assert "Europe/Berlin" in greeting
    assert "07:30:00+01:00" in greeting or "07:30:00+02:00" in greeting
    assert greeting.rstrip().endswith("never")
    assert "failed" in by_name["boom"]
    assert "* * * * *" in by_name["boom"]

    as_json = json.loads(project.rota("list", "--json").stdout)
    assert [row["name"] for row in as_json] == ["greeting", "boom", "echo"]
    assert as_json[1]["last_run"]["state"] == "failed"
    assert as_json[0]["timezone"] == "Europe/Berlin"
    assert as_json[0]["status"] == "active"


def test_history_shows_recent_runs(project: Project) -> None:
    project.write_app(APP)
    avoid_minute_edge()
    ran = project.rota("run")
    assert ran.returncode == 0, ran.stderr  # a failed job is not rota failing
    assert ran.stdout.startswith("rota run: 1 succeeded, 1 failed (boom) in "), ran.stdout
    done = project.rota("history")
    assert done.returncode == 0, done.stderr
    header, *rows = done.stdout.splitlines()
    assert header.split() == ["RUN", "SCHEDULE", "SLOT", "STATE", "ATTEMPT", "DURATION", "ERROR"]
    assert sorted(row.split()[1] for row in rows) == ["boom", "echo"]
    boom = next(row for row in rows if row.split()[1] == "boom")
    assert "failed" in boom
    assert "ValueError: kaboom" in boom
    assert "1/1" in boom

    only = project.rota("history", "boom", "--json")
    assert [run["state"] for run in json.loads(only.stdout)] == ["failed"]
    none = project.rota("history", "greeting")
    assert none.returncode == 0
    assert none.stdout == "no runs yet of 'greeting'\n"
    line = one_line_error(project.rota("history", "greting"))
    assert "unknown schedule 'greting'" in line
    assert "did you mean 'greeting'?" in line


def test_test_runs_a_schedule_now_and_shows_the_outcome(project: Project) -> None:
    project.write_app(APP)
    done = project.rota("test", "greeting")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("greeting: succeeded in ")
    assert lines[1] == 'result: {"hello": "world"}'
    assert any("greeting world" in line for line in lines[2:])

    shell = project.rota("test", "echo")
    assert shell.returncode == 0
    assert "  from the shell" in shell.stdout.splitlines()

    failed = project.rota("test", "boom")
    assert failed.returncode == 1
    assert failed.stdout.startswith("boom: failed in ")
    assert "ValueError: kaboom" in failed.stderr

    history = project.rota("history", "greeting")
    assert "manual" in history.stdout.splitlines()[1]


def test_unknown_name_is_one_line_with_a_suggestion(project: Project) -> None:
    project.write_app(APP)
    line = one_line_error(project.rota("test", "greetin"))
    assert "'greetin'" in line
    assert "did you mean 'greeting'?" in line


def test_bad_app_is_one_line_exit_2(project: Project) -> None:
    project.write_app(APP)
    missing = one_line_error(project.rota("--app", "nowhere:rota", "list", app=False))
    assert "cannot import module 'nowhere'" in missing
    attr = one_line_error(project.rota("--app", "tasks:rotaa", "list", app=False))
    assert "has no attribute 'rotaa'" in attr
    assert "did you mean 'rota'?" in attr
    shape = one_line_error(project.rota("--app", "tasks", "run", app=False))
    assert "expected 'pkg.module:attr'" in shape
    unset = one_line_error(project.rota("list", app=False))
    assert "no rota app configured" in unset
    from_env = project.rota("list", app=False, ROTA_APP="tasks:rota")
    assert from_env.returncode == 0, from_env.stderr


def test_store_that_cannot_be_opened_is_one_line(project: Project, tmp_path: Path) -> None:
    project.write_app(APP)
    url = f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'rota.db'}"
    line = one_line_error(project.rota("run", ROTA_STORE=url), code=3)
    assert f"directory '{tmp_path / 'no' / 'such' / 'dir'}' does not exist" in line
    flag = one_line_error(project.rota("--store", url, "list"), code=3)
    assert str(tmp_path / "no") in flag
    scheme = one_line_error(project.rota("--store", "sqlit:///x.db", "list"))
    assert "did you mean 'sqlite'?" in scheme
