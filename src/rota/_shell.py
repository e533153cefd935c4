"""Shell jobs: ``/bin/sh -c command`` in its own process group, output captured.

The command gets a new session so that a timeout or cancel can signal the
whole group: ``sh -c 'pg_dump … | gzip'`` leaves no orphan behind. The
group gets SIGTERM, then SIGKILL after ``KILL_GRACE`` seconds.
"""

from __future__ import annotations

import contextlib
import os
import select
import signal
import subprocess
import threading

from rota._logcapture import LogBuffer
from rota.runs import Run, slot_key

KILL_GRACE = 2.0
"""Real seconds between SIGTERM and SIGKILL of a stopped command's process group."""

_READ_TIMEOUT = 0.1


def start(command: str, run: Run) -> subprocess.Popen[bytes]:
    env = dict(os.environ)
    env.update(
        ROTA_RUN_ID=run.id,
        ROTA_JOB=run.job,
        ROTA_ATTEMPT=str(run.attempt),
        ROTA_SCHEDULE=run.schedule or "",
        ROTA_SLOT="" if run.slot is None else slot_key(run.slot),
    )
    return subprocess.Popen(
        command,
        shell=True,
        start_new_session=True,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env=env,
    )


def collect(proc: subprocess.Popen[bytes], log: LogBuffer) -> int:
    """Copy the output into ``log`` until the shell exits; its return code.

    Stops reading once the shell itself has exited and nothing is left in
    the pipe, even if a background child still holds the pipe open.
    """
    assert proc.stdout is not None
    fd = proc.stdout.fileno()
    try:
        while True:
            readable, _, _ = select.select([fd], [], [], _READ_TIMEOUT)
            if readable:
                data = os.read(fd, 65536)
                if not data:
                    break
                log.write(data)
            elif proc.poll() is not None:
                break
    finally:
        proc.stdout.close()
    return proc.wait()


def terminate_group(proc: subprocess.Popen[bytes]) -> None:
    """SIGTERM the command's process group now, SIGKILL it after the grace."""
    _signal_group(proc.pid, signal.SIGTERM)
    timer = threading.Timer(KILL_GRACE, _signal_group, (proc.pid, signal.SIGKILL))
    timer.daemon = True
    timer.start()


def _signal_group(pgid: int, signum: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pgid, signum)


def describe_exit(code: int) -> str:
    if code < 0:
        try:
            name = signal.Signals(-code).name
        except ValueError:
            name = f"signal {-code}"
        return f"command killed by {name}"
    return f"exit code {code}"
