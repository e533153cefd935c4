"""``rota next``, run as a real command in a subprocess."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

from rota.cron import Cron

SRC = Path(__file__).resolve().parents[2] / "src"
SLOT_LINE = re.compile(
    r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d[+-]\d\d:\d\d \([A-Z][a-z]{2}\)  in (\d+[dhms] ?)+ *"
    r"  = \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC"
)


def rota(*args: str) -> subprocess.CompletedProcess[str]:
    """Run ``python -m rota ARGS`` from this checkout, installed or not."""
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(SRC), os.environ.get("PYTHONPATH", "")]),
    }
    return subprocess.run(
        [sys.executable, "-m", "rota", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )


def test_next_prints_description_then_slots() -> None:
    done = rota(
        "next", "30 7 * * *", "--tz", "Europe/Berlin", "--after", "2026-11-23T18:17:30", "-n", "3"
    )
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    lines = done.stdout.splitlines()
    assert lines[0] == Cron("30 7 * * *", tz="Europe/Berlin").describe()
    assert lines[1:] == [
        "2026-11-24 07:30:00+01:00 (Tue)  in 13h 12m 30s     = 2026-11-24 06:30:00 UTC",
        "2026-11-25 07:30:00+01:00 (Wed)  in 1d 13h 12m 30s  = 2026-11-25 06:30:00 UTC",
        "2026-11-26 07:30:00+01:00 (Thu)  in 2d 13h 12m 30s  = 2026-11-26 06:30:00 UTC",
    ]


def test_after_with_an_offset_is_taken_as_given() -> None:
    done = rota(
        "next",
        "30 7 * * *",
        "--tz",
        "Europe/Berlin",
        "--after",
        "2026-11-23T18:17:30+00:00",
        "--count",
        "1",
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[1].startswith("2026-11-24 07:30:00+01:00 (Tue)  in 12h 12m 30s")


def test_default_count_is_ten_from_now() -> None:
    done = rota("next", "*/5 * * * *")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert len(lines) == 11
    assert all(SLOT_LINE.fullmatch(line) for line in lines[1:]), lines


def test_seconds_and_seed() -> None:
    done = rota("next", "*/15 * * * * *", "--after", "2026-01-01T00:00:00Z", "-n", "2")
    assert done.returncode == 0, done.stderr
    assert [line.split("  ")[1].strip() for line in done.stdout.splitlines()[1:]] == [
        "in 15s",
        "in 30s",
    ]
    seeded = rota(
        "next", "H 3 * * *", "--seed", "nightly", "--after", "2026-01-01T00:00Z", "-n", "1"
    )
    assert seeded.returncode == 0, seeded.stderr
    expected = Cron("H 3 * * *", seed="nightly").next_after(datetime(2026, 1, 1, tzinfo=UTC))
    assert seeded.stdout.splitlines()[1].startswith(expected.isoformat(sep=" "))


def assert_one_line_error(done: subprocess.CompletedProcess[str], *parts: str) -> None:
    assert done.returncode == 2
    assert done.stdout == ""
    lines = done.stderr.splitlines()
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("error: ")
    for part in parts:
        assert part in lines[0]


def test_bad_expression_is_one_line_naming_the_bad_part() -> None:
    assert_one_line_error(rota("next", "61 * * * *"), "61", "minute")


def test_bad_timezone_is_one_line() -> None:
    assert_one_line_error(
        rota("next", "* * * * *", "--tz", "Europe/Berln"), "'Europe/Berln'", "Europe/Berlin"
    )


def test_bad_after_is_one_line() -> None:
    assert_one_line_error(rota("next", "* * * * *", "--after", "tomorrow"), "--after", "'tomorrow'")


def test_help_lists_next_and_version_works() -> None:
    done = rota("--help")
    assert done.returncode == 0
    assert "next" in done.stdout
    version = rota("--version")
    assert version.returncode == 0
    assert version.stdout.startswith("rota, version ")
