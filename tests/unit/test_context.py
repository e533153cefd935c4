"""RunContext and the bounded log buffer, without a worker."""

from __future__ import annotations

import logging
import threading
import time

import pytest

from rota._logcapture import LogBuffer, run_logger
from rota.context import RunContext, StopReason, StopSignal
from rota.errors import InvalidArguments, JobTimeout, LeaseLost, RunCancelled
from rota.runs import JSON


class Recorder:
    def __init__(self) -> None:
        self.checkpoints: list[JSON] = []
        self.progress_calls: list[tuple[float, float | None]] = []

    def checkpoint(self, value: JSON) -> None:
        self.checkpoints.append(value)

    def progress(self, done: float, total: float | None) -> None:
        self.progress_calls.append((done, total))


def make_context(
    channel: Recorder, stop: StopSignal | None = None, buffer: LogBuffer | None = None
) -> RunContext:
    log = buffer or LogBuffer(1024)
    return RunContext(
        run_id="r1",
        job="jobs.sync",
        attempt=2,
        schedule="nightly",
        slot=None,
        last_checkpoint={"page": 1},
        channel=channel,
        stop=stop or StopSignal(),
        make_logger=lambda: run_logger("jobs.sync", log),
    )


def test_a_checkpoint_is_sent_and_remembered() -> None:
    channel = Recorder()
    ctx = make_context(channel)
    assert ctx.last_checkpoint == {"page": 1}
    ctx.checkpoint({"page": 2, "ids": [1, 2]})
    assert channel.checkpoints == [{"page": 2, "ids": [1, 2]}]
    assert ctx.last_checkpoint == {"page": 2, "ids": [1, 2]}


@pytest.mark.parametrize("value", [{1, 2}, object(), float("inf")])
def test_a_checkpoint_must_be_json(value: object) -> None:
    channel = Recorder()
    ctx = make_context(channel)
    with pytest.raises(InvalidArguments, match=r"checkpoint of job 'jobs\.sync' is not JSON"):
        ctx.checkpoint(value)
    assert channel.checkpoints == []
    assert ctx.last_checkpoint == {"page": 1}


def test_progress_is_sent_as_floats() -> None:
    channel = Recorder()
    ctx = make_context(channel)
    ctx.progress(3, 10)
    ctx.progress(4)
    assert channel.progress_calls == [(3.0, 10.0), (4.0, None)]


@pytest.mark.parametrize(
    ("reason", "error"),
    [
        ("timeout", JobTimeout),
        ("cancel", RunCancelled),
        ("shutdown", RunCancelled),
        ("lease_lost", LeaseLost),
    ],
)
def test_check_stop_raises_for_the_reason(reason: StopReason, error: type[Exception]) -> None:
    stop = StopSignal()
    ctx = make_context(Recorder(), stop)
    ctx.check_stop()
    assert not stop.event.is_set()
    assert stop.request(reason, "because")
    assert not stop.request("cancel", "too late: the first reason wins")
    assert ctx.stop_requested
    with pytest.raises(error, match="because"):
        ctx.check_stop()


def test_wait_wakes_when_asked_to_stop() -> None:
    stop = StopSignal()
    ctx = make_context(Recorder(), stop)
    assert ctx.wait(0) is False
    timer = threading.Timer(0.01, stop.request, ("cancel", "now"))
    timer.start()
    started = time.monotonic()
    assert ctx.wait(30) is True
    assert time.monotonic() - started < 10
    timer.join()


def test_the_logger_captures_info_and_up_and_propagates(
    caplog: pytest.LogCaptureFixture,
) -> None:
    buffer = LogBuffer(1024)
    ctx = make_context(Recorder(), buffer=buffer)
    assert ctx.logger is ctx.logger
    with caplog.at_level(logging.INFO, logger="rota.job"):
        ctx.logger.info("fetched %d rows", 12)
        ctx.logger.debug("hidden")
    assert buffer.text().endswith(" INFO fetched 12 rows\n")
    assert "hidden" not in buffer.text()
    assert [r.getMessage() for r in caplog.records] == ["fetched 12 rows"]
    assert (
        "rota.job.jobs.sync" not in logging.Logger.manager.loggerDict
    )  # one per run: unregistered


def test_the_repr_names_the_run() -> None:
    assert repr(make_context(Recorder())) == "<RunContext run_id='r1' job='jobs.sync' attempt=2>"


def test_a_log_buffer_keeps_the_tail_and_notes_the_cut() -> None:
    buffer = LogBuffer(10)
    buffer.write(b"0123456789")
    assert buffer.text() == "0123456789"
    buffer.write(b"abc")
    buffer.write(b"")
    assert buffer.text() == "[… 3 earlier bytes truncated …]\n3456789abc"
    buffer.write(b"X" * 25)
    assert buffer.text() == "[… 28 earlier bytes truncated …]\nXXXXXXXXXX"


def test_a_log_buffer_survives_cut_multibyte_text() -> None:
    buffer = LogBuffer(5)
    buffer.write_text("héllo wörld")
    assert buffer.text().endswith("\ufffdrld") or buffer.text().endswith("örld")


def test_a_zero_log_buffer_keeps_nothing() -> None:
    buffer = LogBuffer(0)
    buffer.write(b"abc")
    assert buffer.text() == "[… 3 earlier bytes truncated …]\n"
