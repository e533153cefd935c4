"""Isolated jobs: one child process per attempt, killed at the deadline.

A thread cannot be killed, so a sync job that must not outlive its timeout
runs in a child process. The child is started by ``multiprocessing``
(forkserver where available, else spawn: never a bare fork of a process
that has threads), imports the job again by ``module`` + ``qualname`` (so
the job must be a module-level function), gets its arguments as JSON and
sends everything back over a pipe: log records, checkpoints, progress and
finally the result or the error. Checkpoints and progress thus work as in
a thread; ``ctx.stop_requested`` stays false in the child, because a stop
kills it instead.
"""

from __future__ import annotations

import importlib
import inspect
import json
import logging
import multiprocessing
import threading
import time
import traceback
from dataclasses import dataclass
from datetime import datetime
from multiprocessing.connection import Connection, wait
from multiprocessing.context import BaseContext
from typing import Any

from rota._execution import Execution
from rota._logcapture import _FORMAT
from rota.context import RunContext, StopSignal
from rota.errors import LeaseLost
from rota.jobs import Job
from rota.runs import JSON

_context: BaseContext | None = None


def _mp_context() -> BaseContext:
    global _context
    if _context is None:
        methods = multiprocessing.get_all_start_methods()
        _context = multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")
    return _context


@dataclass(frozen=True, slots=True)
class ChildResult:
    """How the child ended: ``ok`` (value), ``error`` / ``bad_result`` (message,
    traceback) or ``died`` (exit code, no message)."""

    kind: str
    value: JSON = None
    error: str = ""
    traceback: str | None = None
    exitcode: int | None = None


def run_isolated(ex: Execution, job: Job) -> ChildResult:
    """Run ``job`` for ``ex`` in a child process and relay its messages until it ends."""
    func = job.func
    assert func is not None
    run = ex.run
    payload = {
        "module": func.__module__,
        "qualname": func.__qualname__,
        "takes_context": job.takes_context,
        "args": json.dumps(list(run.args)),
        "kwargs": json.dumps(dict(run.kwargs)),
        "run_id": run.id,
        "job": run.job,
        "attempt": run.attempt,
        "schedule": run.schedule,
        "slot": None if run.slot is None else run.slot.isoformat(),
        "checkpoint": json.dumps(run.checkpoint),
    }
    reader, writer = _mp_context().Pipe(duplex=False)
    process = _mp_context().Process(  # type: ignore[attr-defined]
        target=child_main, args=(payload, writer), name=f"rota-{run.id}"
    )
    process.start()
    writer.close()
    ex.set_killer(process.kill)
    try:
        return _relay(ex, reader, process)
    finally:
        ex.set_killer(None)
        reader.close()
        process.join()
        process.close()


def _relay(ex: Execution, reader: Connection, process: Any) -> ChildResult:
    result: ChildResult | None = None
    sentinel = process.sentinel
    while result is None:
        ready = wait([reader, sentinel])
        if reader in ready:
            try:
                message = reader.recv()
            except EOFError:
                break
            result = _handle(ex, message)
        elif sentinel in ready and not reader.poll():
            break
    process.join()
    return result or ChildResult(kind="died", exitcode=process.exitcode)


def _handle(ex: Execution, message: tuple[Any, ...]) -> ChildResult | None:
    kind = message[0]
    if kind == "log":
        ex.log.write_text(message[1])
    elif kind == "checkpoint":
        try:
            ex.channel.checkpoint(json.loads(message[1]))
        except LeaseLost as exc:
            ex.request_stop("lease_lost", str(exc))
    elif kind == "progress":
        ex.channel.progress(message[1], message[2])
    elif kind == "ok":
        return ChildResult(kind="ok", value=json.loads(message[1]))
    else:
        return ChildResult(kind=kind, error=message[1], traceback=message[2])
    return None


# -- in the child ----------------------------------------------------------


class _PipeChannel:
    def __init__(self, conn: Connection, lock: threading.Lock) -> None:
        self._conn, self._lock = conn, lock

    def send(self, *message: Any) -> None:
        with self._lock:
            self._conn.send(message)

    def checkpoint(self, value: JSON) -> None:
        self.send("checkpoint", json.dumps(value))

    def progress(self, done: float, total: float | None) -> None:
        self.send("progress", done, total)


class _PipeHandler(logging.Handler):
    def __init__(self, channel: _PipeChannel) -> None:
        super().__init__(logging.DEBUG)
        self._channel = channel
        formatter = logging.Formatter(_FORMAT)
        formatter.converter = time.gmtime
        self.setFormatter(formatter)

    def emit(self, record: logging.LogRecord) -> None:
        try:
            self._channel.send("log", self.format(record) + "\n")
        except Exception:
            self.handleError(record)


def child_main(payload: dict[str, Any], conn: Connection) -> None:
    """The child's entry point: import, call, report. Runs in the child only."""
    channel = _PipeChannel(conn, threading.Lock())
    try:
        func = _resolve(payload["module"], payload["qualname"])
        args = json.loads(payload["args"])
        kwargs = json.loads(payload["kwargs"])
        if payload["takes_context"]:
            args.insert(0, _child_context(payload, channel))
        value = func(*args, **kwargs)
        if inspect.isawaitable(value):
            import asyncio

            value = asyncio.run(_await(value))
    except BaseException as exc:
        tb = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        channel.send("error", f"{type(exc).__name__}: {exc}", tb)
        return
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as exc:
        channel.send(
            "bad_result", f"result of job {payload['job']!r} is not JSON-serializable: {exc}", None
        )
        return
    channel.send("ok", text)


async def _await(awaitable: Any) -> Any:
    return await awaitable


def _resolve(module_name: str, qualname: str) -> Any:
    target: Any = importlib.import_module(module_name)
    for part in qualname.split("."):
        target = getattr(target, part)
    return target


def _child_context(payload: dict[str, Any], channel: _PipeChannel) -> RunContext:
    job = payload["job"]

    def make_logger() -> logging.Logger:
        logger = logging.Logger(f"rota.job.{job}", logging.INFO)
        logger.addHandler(_PipeHandler(channel))
        return logger

    slot = payload["slot"]
    return RunContext(
        run_id=payload["run_id"],
        job=job,
        attempt=payload["attempt"],
        schedule=payload["schedule"],
        slot=None if slot is None else datetime.fromisoformat(slot),
        last_checkpoint=json.loads(payload["checkpoint"]),
        channel=channel,
        stop=StopSignal(),
        make_logger=make_logger,
    )
