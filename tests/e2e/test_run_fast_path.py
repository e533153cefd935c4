"""The plain ``rota run`` skips click (``rota.cli.main``); it must say and exit exactly as
the click command does. Each case runs both ways in the same project and compares."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

from rota.cli import PlainRun, parse_plain_run

from .support import Project, avoid_minute_edge

# the click group itself, bypassing ``main``'s plain path; argv as ``python -m rota`` gets it
CLICK = "import sys; from rota._cli_commands import cli; cli.main(sys.argv[1:], prog_name='rota')"

APP = """
rota = Rota()


@rota.job(name="greet")
def greet(who: str) -> None:
    mark("greeted", who)


@rota.job(name="boom")
def boom() -> None:
    raise ValueError("kaboom")


rota.schedule(greet, who="world").every_minute().named("greeting")
rota.schedule(boom).every_minute().named("boom")
"""

EMPTY_APP = """
rota = Rota()
"""


def both(project: Project, *args: str, **env: str) -> tuple[Done, Done]:
    """``rota ARGS`` through ``main`` (the plain path), then through the click group."""
    plain = _run(project, [sys.executable, "-m", "rota", *args], env)
    click = _run(project, [sys.executable, "-c", CLICK, *args], env)
    return plain, click


Done = tuple[int, str, str]


def _run(project: Project, command: list[str], env: dict[str, str]) -> Done:
    done = subprocess.run(
        command,
        cwd=project.root,
        env=project.env(**env),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return done.returncode, done.stdout, done.stderr


def test_nothing_due_prints_the_same_line(project: Project) -> None:
    project.write_app(EMPTY_APP)
    plain, click = both(project, "--app", project.app_ref, "run")
    assert plain == click == (0, "rota run: nothing due\n", "")


def test_a_pass_that_ran_jobs_prints_the_same_summary(tmp_path: Path) -> None:
    one, two = Project(tmp_path / "plain"), Project(tmp_path / "click")
    args = ("--app", one.app_ref, "--log-level", "ERROR", "run", "-c1")
    for project in (one, two):
        project.root.mkdir()
        project.write_app(APP)
    avoid_minute_edge()
    plain = _run(one, [sys.executable, "-m", "rota", *args], {})
    click = _run(two, [sys.executable, "-c", CLICK, *args], {})
    assert plain[0] == click[0] == 0
    summary = "rota run: 1 succeeded, 1 failed (boom)\n"
    assert _untimed(plain[1]) == _untimed(click[1]) == summary
    # the failed run is logged at ERROR on both paths, with the same lines
    assert _unstamped(plain[2]) == _unstamped(click[2])
    assert "kaboom" in plain[2]
    assert one.lines("greeted") == two.lines("greeted") == ["world"]


def _untimed(summary: str) -> str:
    """The summary line without its duration (`` in 0.41s``)."""
    return re.sub(r" in \d\S*(?=\n)", "", summary)


def _unstamped(log: str) -> str:
    """Log lines without their timestamps, run ids and durations."""
    log = re.sub(r"^\d{4}-\d\d-\d\d \S+ ", "", log, flags=re.MULTILINE)
    log = re.sub(r"\br[0-9a-f]{20}\b", "RUN", log)
    return re.sub(r"\d+(\.\d+)?(ms|s)\b", "T", log)


def test_a_bad_app_is_the_same_error_line_and_exit_code(project: Project) -> None:
    project.write_app(APP)
    for args in (
        ("--app", "tasks:rotaa", "run"),
        ("--app=nowhere:rota", "run"),
        ("--app", "tasks", "run"),
        ("run",),
    ):
        plain, click = both(project, *args)
        assert plain == click, args
        assert plain[0] == 2, (args, plain)
        assert plain[2].startswith("error: "), plain


def test_an_unreachable_store_is_the_same_error_line_and_exit_code(
    project: Project, tmp_path: Path
) -> None:
    project.write_app(APP)
    url = f"sqlite:///{tmp_path / 'no' / 'such' / 'dir' / 'rota.db'}"
    for args, env in (
        (("--app", project.app_ref, "--store", url, "run"), {}),
        (("--app", project.app_ref, "run"), {"ROTA_STORE": url}),
        (("--app", project.app_ref, "--store", "sqlit:///x.db", "run"), {}),
    ):
        plain, click = both(project, *args, **env)
        assert plain == click, args
        assert plain[0] in (2, 3), plain
        assert plain[2].count("\n") == 1
        assert plain[2].startswith("error: "), plain


def test_what_the_plain_path_does_not_take_goes_to_click(project: Project) -> None:
    project.write_app(EMPTY_APP)
    for args in (
        ("--app", project.app_ref, "run", "-c", "0"),
        ("--app", project.app_ref, "run", "--help"),
        ("--app", project.app_ref, "--log-level", "loud", "run"),
        ("--app", project.app_ref, "run", "--bogus"),
        ("--help",),
    ):
        plain, click = both(project, *args)
        assert plain == click, args


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["run"], PlainRun()),
        (["--app", "a:b", "run"], PlainRun(app="a:b")),
        (["--app=a:b", "--store", "memory://", "run"], PlainRun("a:b", "memory://")),
        (["--log-level", "DEBUG", "run"], PlainRun(log_level="debug")),
        (["--log-level=warning", "run", "-c", "8"], PlainRun(log_level="warning", concurrency=8)),
        (["run", "-c3"], PlainRun(concurrency=3)),
        (["run", "--concurrency", "1024"], PlainRun(concurrency=1024)),
        (["run", "--concurrency=2"], PlainRun(concurrency=2)),
        (["--app", "run", "run"], PlainRun(app="run")),
    ],
)
def test_plain_spellings_are_parsed_as_click_would(args: list[str], expected: PlainRun) -> None:
    assert parse_plain_run(args) == expected


@pytest.mark.parametrize(
    "args",
    [
        [],
        ["list"],
        ["--help"],
        ["run", "--help"],
        ["run", "-h"],
        ["--version"],
        ["--app", "a:b"],
        ["--app"],
        ["--app", "--store", "run"],
        ["--app=", "run"],
        ["--app", "a:b", "--app", "c:d", "run"],
        ["--ap", "a:b", "run"],
        ["--log-level", "verbose", "run"],
        ["run", "-c", "0"],
        ["run", "-c", "1025"],
        ["run", "-c", "+4"],
        ["run", "-c", "٣"],
        ["run", "-c"],
        ["run", "--drain", "3"],
        ["run", "extra"],
        ["run", "--", "-c", "2"],
    ],
)
def test_anything_else_is_left_to_click(args: list[str]) -> None:
    assert parse_plain_run(args) is None
