"""``rota schedules ...``, ``rota trigger`` and ``rota runs ...`` through the real CLI:
what each command stores and prints, and the bad input each refuses with one line,
exit code 2 and nothing stored."""

from __future__ import annotations

import json
import shlex
import subprocess
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from rota.runs import RunState
from rota.stores import open_store
from rota.stores.base import ScheduleRecord, Store

from ._servers import shared_store
from .support import Project, one_line_error

APP = """
rota = Rota()


@rota.job(name="greet")
def greet(ctx: RunContext, who: str, punctuation: str = "!") -> str:
    print(f"hello {who}{punctuation}")
    return f"hello {who}{punctuation}"


@rota.job(name="boom")
def boom() -> None:
    raise ValueError("kaboom")


rota.schedule(greet, who="code").daily_at("07:30").named("nightly")
"""


@pytest.fixture
def app_project(project: Project) -> Project:
    project.write_app(APP)
    return project


def sh(line: str) -> list[str]:
    """A command line's words, as a shell splits them."""
    return shlex.split(line)


def ok(done: subprocess.CompletedProcess[str]) -> str:
    assert done.returncode == 0, (done.returncode, done.stdout, done.stderr)
    return done.stdout


def as_json(done: subprocess.CompletedProcess[str]) -> Any:
    return json.loads(ok(done))


def record(project: Project, name: str) -> ScheduleRecord | None:
    with project.store() as store:
        return store.get_schedule(name)


def stored_names(project: Project) -> list[str]:
    with project.store() as store:
        return [r.name for r in store.list_schedules(include_retired=True)]


# -- add, list, show, edit ---------------------------------------------------------------------


def test_add_stores_what_the_options_say(app_project: Project) -> None:
    out = ok(
        app_project.rota(
            *sh(
                """schedules add berlin --job greet --kwargs '{"who": "eu"}'"""
                " --cron '30 7 * * 1-5' --tz Europe/Berlin --retries 2 --timeout 10m"
                " --queue mail --priority 5 --overlap allow --catch-up none"
            )
        )
    )
    assert out.startswith("schedule 'berlin' added: active, At 07:30 AM, Monday through Friday")
    assert "next due " in out
    added = record(app_project, "berlin")
    assert added is not None
    assert (added.source, added.job, added.paused) == ("dynamic", "greet", False)
    assert added.spec["kwargs"] == {"who": "eu"}
    assert added.spec["trigger"]["expr"] == "30 7 * * 1-5"
    assert added.spec["trigger"]["tz"] == "Europe/Berlin"
    policies = added.spec["policies"]
    assert (policies["retries"], policies["timeout"], policies["queue"]) == (2, 600.0, "mail")
    assert (policies["priority"], policies["overlap"], policies["catch_up"]) == (5, "allow", "none")

    interval = as_json(
        app_project.rota(
            *sh(
                """schedules add often --job greet --args '["bob", "?"]' --every 1h30m"""
                " --paused --json"
            )
        )
    )
    assert interval["state"] == "paused"
    assert interval["spec"]["args"] == ["bob", "?"]
    assert interval["spec"]["trigger"]["type"] == "interval"
    assert interval["spec"]["trigger"]["every"] == 5400

    at = datetime.now(UTC).replace(microsecond=0) + timedelta(days=3)
    once = as_json(
        app_project.rota(
            "schedules", "add", "once", "--job", "boom", "--at", at.isoformat(), "--json"
        )
    )
    assert once["when"] == "@once"
    assert once["next_due"] == at.isoformat()

    child = as_json(
        app_project.rota(
            *sh('schedules add child --job greet --kwargs \'{"who": "kid"}\' --after berlin --json')
        )
    )
    assert child["spec"]["after"] == ["berlin"]
    assert child["when"] == "30 7 * * 1-5"  # its parent's slots
    assert child["timezone"] == "Europe/Berlin"


def test_at_without_offset_is_read_in_tz(app_project: Project) -> None:
    shown = as_json(
        app_project.rota(
            *sh("schedules add local --job boom --at 2099-01-02T07:30 --tz Asia/Tokyo --json")
        )
    )
    assert shown["next_due"] == "2099-01-01T22:30:00+00:00"


def test_list_pages_through_stored_schedules_code_and_dynamic(app_project: Project) -> None:
    ok(app_project.rota("run"))  # syncs the code schedule
    for name in ("a1", "a2", "a3"):
        ok(app_project.rota("schedules", "add", name, "--job", "boom", "--every", "90"))
    ok(app_project.rota("schedules", "pause", "a2"))
    out = ok(app_project.rota("schedules", "list"))
    header, *rows = out.splitlines()
    assert header.split() == [
        "SCHEDULE", "SOURCE", "WHEN", "IN", "WORDS", "STATE", "NEXT", "DUE", "LAST", "SLOT",
    ]  # fmt: skip
    by_name = {row.split()[0]: row.split() for row in rows}
    assert list(by_name) == ["a1", "a2", "a3", "nightly"]
    assert by_name["a1"][1:3] == ["dynamic", "@every"]
    assert "paused" in by_name["a2"]
    assert by_name["nightly"][1:7] == ["code", "30", "7", "*", "*", "*"]
    assert "active" in by_name["nightly"]

    first = ok(app_project.rota("schedules", "list", "--limit", "2"))
    assert [line.split()[0] for line in first.splitlines()[1:3]] == ["a1", "a2"]
    assert first.splitlines()[-1] == "more: rota schedules list --after a2"
    rest = as_json(app_project.rota("schedules", "list", "--after", "a2", "--json"))
    assert [row["name"] for row in rest] == ["a3", "nightly"]
    assert rest[1]["source"] == "code"
    assert rest[1]["spec"]["kwargs"] == {"who": "code"}
    assert {row["state"] for row in rest} == {"active"}


def test_show_gives_definition_state_progress_and_last_runs(app_project: Project) -> None:
    ok(
        app_project.rota(
            *sh('schedules add hi --job greet --kwargs \'{"who": "ann"}\' --every 5m --retries 1')
        )
    )
    ok(app_project.rota("trigger", "hi"))
    text = ok(app_project.rota("schedules", "show", "hi"))
    lines = text.splitlines()
    assert lines[0].split() == ["schedule", "hi", "(dynamic)"]
    fields = {line.split()[0]: line for line in lines if line.strip()}
    assert '{"who": "ann"}' in fields["kwargs"]
    assert "@every 300s" in fields["when"]
    assert "every 5 minutes" in fields["when"]
    assert "retries=1" in fields["policies"]
    assert fields["state"].split() == ["state", "active"]
    assert "RUN" in fields  # the table of recent runs
    assert "succeeded" in text
    shown = as_json(app_project.rota("schedules", "show", "hi", "--json"))
    assert shown["spec"]["kwargs"] == {"who": "ann"}
    assert [run["state"] for run in shown["runs"]] == ["succeeded"]
    assert shown["runs"][0]["result"] == "hello ann!"


def test_edit_changes_what_is_given_and_keeps_the_rest(app_project: Project) -> None:
    ok(
        app_project.rota(
            *sh(
                """schedules add e --job greet --kwargs '{"who": "x"}' --cron '0 9 * * *'"""
                " --tz Europe/Paris --retries 3 --paused"
            )
        )
    )
    ok(app_project.rota("schedules", "edit", "e", "--cron", "15 10 * * *"))
    edited = record(app_project, "e")
    assert edited is not None
    assert edited.spec["trigger"]["expr"] == "15 10 * * *"
    assert edited.spec["trigger"]["tz"] == "Europe/Paris"  # kept
    assert edited.spec["kwargs"] == {"who": "x"}
    assert edited.spec["policies"]["retries"] == 3
    assert edited.paused  # pause state stays

    ok(app_project.rota("schedules", "edit", "e", "--tz", "America/New_York", "--timeout", "30"))
    edited = record(app_project, "e")
    assert edited is not None
    assert edited.spec["trigger"]["expr"] == "15 10 * * *"
    assert edited.spec["trigger"]["tz"] == "America/New_York"
    assert edited.spec["policies"]["timeout"] == 30.0
    assert edited.spec["policies"]["retries"] == 3

    changed = as_json(
        app_project.rota(
            *sh('schedules edit e --job greet --kwargs \'{"who": "y"}\' --every 2h --json')
        )
    )
    assert changed["spec"]["kwargs"] == {"who": "y"}
    assert changed["spec"]["trigger"] == {
        "type": "interval",
        "every": 7200,
        "anchor": "1970-01-01T00:00:00+00:00",
        "tz": "America/New_York",
    }
    assert changed["version"] == 4


def test_edit_after_gives_the_child_its_new_parents_slots(app_project: Project) -> None:
    ok(app_project.rota("schedules", "add", "p1", "--job", "boom", "--cron", "0 * * * *"))
    ok(app_project.rota("schedules", "add", "p2", "--job", "boom", "--cron", "30 2 * * *"))
    ok(app_project.rota("schedules", "add", "kid", "--job", "boom", "--after", "p1"))
    ok(app_project.rota("schedules", "edit", "kid", "--after", "p2"))
    kid = record(app_project, "kid")
    assert kid is not None
    assert kid.spec["after"] == ["p2"]
    assert kid.spec["trigger"]["expr"] == "30 2 * * *"


# -- pause, resume, remove ---------------------------------------------------------------------


def test_pause_resume_remove(app_project: Project) -> None:
    ok(app_project.rota("schedules", "add", "p", "--job", "boom", "--cron", "*/5 * * * *"))
    assert ok(app_project.rota("schedules", "pause", "p")).startswith("schedule 'p' paused")
    paused = record(app_project, "p")
    assert paused is not None
    assert paused.paused
    resumed = ok(app_project.rota("schedules", "resume", "p", "--from", "now"))
    assert resumed.startswith("schedule 'p' resumed from now: active")
    after = record(app_project, "p")
    assert after is not None
    assert not after.paused
    assert after.next_due is not None
    assert after.next_due >= datetime.now(UTC) - timedelta(minutes=1)

    assert app_project.rota("trigger", "p").returncode == 1  # leaves a (failed) run behind
    removed = ok(app_project.rota("schedules", "remove", "p"))
    assert removed == "schedule 'p' removed; its runs stay (rota history p)\n"
    assert record(app_project, "p") is None
    history = as_json(app_project.rota("history", "p", "--json"))
    assert [run["state"] for run in history] == ["failed"]


def test_code_schedules_pause_but_cannot_be_edited_or_removed(app_project: Project) -> None:
    ok(app_project.rota("run"))
    ok(app_project.rota("schedules", "pause", "nightly"))
    listed = ok(app_project.rota("list"))
    assert "paused" in next(line for line in listed.splitlines() if line.startswith("nightly"))
    assert as_json(app_project.rota("list", "--json"))[0]["paused"] is True
    line = one_line_error(app_project.rota("schedules", "edit", "nightly", "--every", "60"))
    assert "declared in code" in line
    line = one_line_error(app_project.rota("schedules", "remove", "nightly"))
    assert "delete it from the code" in line
    kept = record(app_project, "nightly")
    assert kept is not None
    assert kept.paused
    assert kept.spec["trigger"]["expr"] == "30 7 * * *"
    ok(app_project.rota("schedules", "resume", "nightly"))


# -- overdue -----------------------------------------------------------------------------------


def move_next_due(project: Project, name: str, ago: timedelta) -> None:
    """Put ``name``'s next slot ``ago`` in the past, as if no scheduler ran since."""
    with project.store() as store:
        current = store.get_schedule(name)
        assert current is not None
        late = current.evolve(next_due=datetime.now(UTC).replace(second=0, microsecond=0) - ago)
        assert store.save_schedule(late, expected_version=current.version) is not None


def test_a_slot_no_scheduler_fired_is_shown_overdue(app_project: Project) -> None:
    ok(app_project.rota("run"))
    ok(app_project.rota("schedules", "add", "late", "--job", "boom", "--cron", "*/5 * * * *"))
    ok(app_project.rota("schedules", "add", "recent", "--job", "boom", "--cron", "0 * * * *"))
    ok(app_project.rota("schedules", "add", "asleep", "--job", "boom", "--every", "60"))
    move_next_due(app_project, "late", timedelta(minutes=30))  # grace 5 min: overdue
    move_next_due(app_project, "recent", timedelta(minutes=30))  # grace 1 h: not yet
    move_next_due(app_project, "asleep", timedelta(minutes=30))
    move_next_due(app_project, "nightly", timedelta(days=2))  # grace 1 day: overdue
    ok(app_project.rota("schedules", "pause", "asleep"))  # paused: never overdue

    rows = {row["name"]: row for row in as_json(app_project.rota("schedules", "list", "--json"))}
    assert {name: row["state"] for name, row in rows.items()} == {
        "asleep": "paused",
        "late": "overdue",
        "nightly": "overdue",
        "recent": "active",
    }
    assert [name for name, row in rows.items() if row["overdue"]] == ["late", "nightly"]
    table = ok(app_project.rota("schedules", "list"))
    assert "OVERDUE" in next(line for line in table.splitlines() if line.startswith("late"))

    listed = {row["name"]: row for row in as_json(app_project.rota("list", "--json"))}
    assert [name for name, row in listed.items() if row["overdue"]] == ["nightly", "late"]
    text = ok(app_project.rota("list")).splitlines()
    assert "OVERDUE" in next(line for line in text if line.startswith("nightly"))
    assert "OVERDUE" not in next(line for line in text if line.startswith("recent"))
    assert "paused" in next(line for line in text if line.startswith("asleep"))
    shown = ok(app_project.rota("schedules", "show", "late"))
    assert "state      overdue" in shown


# -- trigger and runs --------------------------------------------------------------------------


def test_trigger_runs_here_or_enqueues(app_project: Project) -> None:
    out = ok(app_project.rota("trigger", "greet", "--kwargs", '{"who": "cli"}'))
    assert "hello cli!" in out.splitlines()  # what the job printed passes through
    assert any(line.startswith("greet: succeeded in ") for line in out.splitlines())
    assert 'result: "hello cli!"' in out
    ok(app_project.rota("run"))
    out = ok(app_project.rota("trigger", "nightly", "--args", '["again", "?"]'))
    assert 'result: "hello again?"' in out

    failed = app_project.rota("trigger", "boom")
    assert failed.returncode == 1
    assert failed.stdout.startswith("boom: failed in ")
    assert "ValueError: kaboom" in failed.stderr

    queued = ok(app_project.rota("trigger", "nightly", "--enqueue"))
    run_id = queued.split()[0]
    assert queued == f"{run_id} queued on 'default' (nightly)\n"
    run = app_project.run(run_id)
    assert run is not None
    assert (run.state, run.queue, run.schedule, run.host) == (
        RunState.QUEUED,
        "default",
        "nightly",
        None,
    )
    assert dict(run.kwargs) == {"who": "code"}
    ok(app_project.rota("run"))  # any worker takes it
    done = app_project.run(run_id)
    assert done is not None
    assert done.state is RunState.SUCCEEDED


def test_runs_show_retry_cancel(app_project: Project) -> None:
    failed = app_project.rota("trigger", "boom")
    run_id = failed.stdout.split("(run ")[1].split(",")[0]
    text = ok(app_project.rota("runs", "show", run_id))
    assert text.splitlines()[0].split() == ["run", run_id]
    assert "state     failed" in text
    assert "ValueError: kaboom" in text
    assert "traceback:" in text
    shown = as_json(app_project.rota("runs", "show", run_id, "--json"))
    assert (shown["id"], shown["state"], shown["attempt"]) == (run_id, "failed", 1)
    assert "ValueError" in shown["traceback"]

    # a manual run has a queue of its own, which no worker serves: it runs again here
    retried = app_project.rota("runs", "retry", run_id)
    assert retried.returncode == 1, retried.stderr
    assert retried.stdout == f"run {run_id} (boom) ran again here: failed (ValueError: kaboom)\n"
    run = app_project.run(run_id)
    assert run is not None
    assert (run.state, run.attempt) == (RunState.FAILED, 1)
    again = ok(app_project.rota("runs", "cancel", run_id))
    assert "already ended (failed)" in again


def test_runs_retry_and_cancel_a_scheduled_run(app_project: Project) -> None:
    queued = app_project.rota("trigger", "boom", "--enqueue")
    run_id = ok(queued).split()[0]
    ok(app_project.rota("run"))
    failed = app_project.run(run_id)
    assert failed is not None
    assert failed.state is RunState.FAILED
    retried = ok(app_project.rota("runs", "retry", run_id))
    assert retried == f"run {run_id} (boom) queued again on 'default'\n"
    run = app_project.run(run_id)
    assert run is not None
    assert (run.state, run.attempt) == (RunState.QUEUED, 0)

    assert ok(app_project.rota("runs", "cancel", run_id)) == f"run {run_id} (boom) cancelled\n"
    run = app_project.run(run_id)
    assert run is not None
    assert run.state is RunState.CANCELLED
    again = ok(app_project.rota("runs", "cancel", run_id))
    assert "already ended (cancelled)" in again


# -- bad input: one line, exit 2, nothing stored -----------------------------------------------

ADD = ("schedules", "add", "bad", "--job")
BAD_ADDS = {
    "unknown job": ((*ADD, "gret", "--every", "60"), "unknown job 'gret'; did you mean 'greet'?"),
    "arguments": (
        (*ADD, "greet", "--kwargs", '{"who": "x", "whom": 1}', "--every", "60"),
        "unexpected keyword argument 'whom'",
    ),
    "missing argument": ((*ADD, "greet", "--every", "60"), "who"),
    "bad json": (
        (*ADD, "greet", "--args", '["x",', "--every", "60"),
        "--args is not valid JSON",
    ),
    "json not array": ((*ADD, "greet", "--args", '{"who": 1}', "--every", "60"), "JSON array"),
    "json not object": ((*ADD, "greet", "--kwargs", '["x"]', "--every", "60"), "JSON object"),
    "cron": (
        (*ADD, "boom", "--cron", "61 * * * *"),
        "invalid minute '61' in '61 * * * *' (allowed 0-59)",
    ),
    "timezone": (
        (*ADD, "boom", "--cron", "0 7 * * *", "--tz", "Europe/Berln"),
        "did you mean 'Europe/Berlin'?",
    ),
    "duration": ((*ADD, "boom", "--every", "5 minutes"), "invalid --every '5 minutes'"),
    "at": ((*ADD, "boom", "--at", "tomorrow"), "invalid --at 'tomorrow'"),
    "two triggers": (
        (*ADD, "boom", "--cron", "* * * * *", "--every", "5"),
        "not --cron and --every",
    ),
    "no trigger": ((*ADD, "boom"), "say when it fires"),
    "no job": (("schedules", "add", "bad", "--every", "5"), "--job"),
    "overlap": ((*ADD, "boom", "--every", "5", "--overlap", "sometimes"), "overlap mode"),
    "retries": ((*ADD, "boom", "--every", "5", "--retries", "-1"), "retries"),
    "unknown parent": ((*ADD, "boom", "--after", "nightlyy"), "'nightlyy'"),
    "itself": ((*ADD, "boom", "--after", "bad"), "cannot run after itself"),
    "code name": (
        ("schedules", "add", "nightly", "--job", "boom", "--every", "5"),
        "declared in code",
    ),
}


@pytest.mark.parametrize("case", list(BAD_ADDS), ids=list(BAD_ADDS))
def test_bad_add_is_one_line_exit_2_and_stores_nothing(app_project: Project, case: str) -> None:
    ok(app_project.rota("run"))  # the store holds the code schedule
    args, expected = BAD_ADDS[case]
    line = one_line_error(app_project.rota(*args))
    assert expected in line, line
    assert stored_names(app_project) == ["nightly"]


def test_bad_changes_are_one_line_exit_2_and_change_nothing(app_project: Project) -> None:
    ok(app_project.rota("schedules", "add", "a", "--job", "boom", "--every", "60"))
    ok(app_project.rota("schedules", "add", "b", "--job", "boom", "--after", "a"))
    before = record(app_project, "a")
    cycle = one_line_error(app_project.rota("schedules", "edit", "a", "--after", "b"))
    assert "dependency cycle: a -> b -> a" in cycle
    for args, expected in [
        (("schedules", "edit", "a", "--every", "0"), "invalid --every '0'"),
        (("schedules", "edit", "a", "--cron", "* * * * * * *"), "7 fields"),
        (("schedules", "edit", "a", "--tz", "Mars/Base"), "'Mars/Base'"),
        (("schedules", "edit", "a", "--kwargs", "{nope}"), "--kwargs is not valid JSON"),
        (("schedules", "edit", "a", "--job", "greet"), "who"),
        (("schedules", "edit", "a", "--cron", "0 * * * *", "--at", "2099-01-01"), "not --cron"),
    ]:
        line = one_line_error(app_project.rota(*args))
        assert expected in line, (args, line)
    assert record(app_project, "a") == before

    for command in ("edit", "pause", "resume", "remove", "show"):
        extra = ("--every", "5") if command == "edit" else ()
        line = one_line_error(app_project.rota("schedules", command, "aa", *extra))
        assert "no schedule named 'aa'" in line, line
    assert stored_names(app_project) == ["a", "b"]

    for command in ("show", "retry", "cancel"):
        line = one_line_error(app_project.rota("runs", command, "r-nope"))
        assert "'r-nope'" in line, line

    for args, expected in [
        (("trigger", "gret"), "did you mean 'greet'?"),
        (("trigger", "greet", "--kwargs", "{"), "--kwargs is not valid JSON"),
        (("trigger", "greet", "--kwargs", '{"who": 1, "whom": 1}'), "'whom'"),
        (("trigger", "greet", "--args", '"x"', "--enqueue"), "not a string"),
    ]:
        line = one_line_error(app_project.rota(*args))
        assert expected in line, (args, line)
    with app_project.store() as store:
        assert store.list_runs(limit=10) == []


# -- the same on PostgreSQL and Redis ----------------------------------------------------------


@pytest.fixture
def backend_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with shared_store(request.param, tmp_path) as url:
        yield url


def open_url(url: str) -> closing[Store]:
    return closing(open_store(url))


@pytest.mark.parametrize("backend_url", ["sqlite", "postgres", "redis"], indirect=True)
def test_add_pause_resume_remove_on_every_store(app_project: Project, backend_url: str) -> None:
    def rota(*args: str) -> subprocess.CompletedProcess[str]:
        return app_project.rota("--store", backend_url, *args)

    ok(
        rota(
            "schedules", "add", "s", "--job", "greet", "--kwargs", '{"who": "db"}', "--every", "60"
        )
    )
    with open_url(backend_url) as store:
        added = store.get_schedule("s")
    assert added is not None
    assert added.spec["kwargs"] == {"who": "db"}
    ok(rota("schedules", "pause", "s"))
    assert as_json(rota("schedules", "show", "s", "--json"))["state"] == "paused"
    ok(rota("schedules", "resume", "s", "--from", "now"))
    assert [row["state"] for row in as_json(rota("schedules", "list", "--json"))] == ["active"]
    one_line_error(rota("schedules", "add", "t", "--job", "greet", "--every", "60"))
    ok(rota("schedules", "remove", "s"))
    with open_url(backend_url) as store:
        assert store.list_schedules(include_retired=True) == []
