"""Pings: ping_before, then_ping, ping_on_success and ping_on_failure, against a real server."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import sys
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from rota import RunContext
from rota._planning import run_options
from rota._policies import Pings, Policies
from rota._sync import _same
from rota.app import Rota
from rota.errors import InvalidSchedule
from rota.jobs import job_from_callable
from rota.runs import Run, RunOptions, RunState
from rota.schedule import Schedule
from rota.scheduler import new_record
from rota.stores import open_store
from rota.testing import FakeClock, make_test_rota, run_due

START = datetime(2030, 1, 1, 12, tzinfo=UTC)
FIRST = START + timedelta(seconds=1)


class Monitor:
    """A local HTTP server that records the path of every request, in order, along
    with whatever the test notes in between (``note``)."""

    def __init__(self) -> None:
        self.events: list[str] = []
        self._lock = threading.Lock()
        monitor = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                monitor.note(f"GET {self.path}")
                status = 500 if self.path.startswith("/broken") else 200
                self.send_response(status)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"OK")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def url(self, path: str) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}{path}"

    def note(self, event: str) -> None:
        with self._lock:
            self.events.append(event)

    def requests(self) -> list[str]:
        with self._lock:
            return [e for e in self.events if e.startswith("GET ")]


@pytest.fixture
def monitor() -> Iterator[Monitor]:
    m = Monitor()
    m.thread.start()
    yield m
    m.server.shutdown()
    m.server.server_close()
    m.thread.join(10)


@pytest.fixture
def rota() -> Iterator[Rota]:
    app = make_test_rota(START)
    yield app
    app.close()


def closed_port_url() -> str:
    """A URL on 127.0.0.1 where nothing listens (connections are refused at once)."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/ping"


def all_pings(schedule: Schedule, monitor: Monitor) -> Schedule:
    return (
        schedule.ping_before(monitor.url("/start"))
        .then_ping(monitor.url("/after"))
        .ping_on_success(monitor.url("/success"))
        .ping_on_failure(monitor.url("/fail"))
    )


# -- what is requested, and when ---------------------------------------------------------


def test_ping_before_arrives_before_the_job_body_then_success_and_after(
    rota: Rota, monitor: Monitor
) -> None:
    @rota.job(name="body")
    def body() -> None:
        monitor.note("body")

    all_pings(rota.schedule(body).every_minute(), monitor)
    (run,) = run_due(rota, FIRST).runs  # the pass ends once its pings are sent
    assert run.state is RunState.SUCCEEDED
    assert monitor.events == ["GET /start", "body", "GET /success", "GET /after"]


def test_a_failed_run_pings_the_failure_and_after_urls(rota: Rota, monitor: Monitor) -> None:
    @rota.job(name="broken", retries=1, backoff=0)
    def broken() -> None:
        monitor.note("body")
        raise RuntimeError("no")

    all_pings(rota.schedule(broken).every_minute(), monitor)
    (run,) = run_due(rota, FIRST).runs
    assert run.state is RunState.FAILED
    # a retry sends nothing but the next attempt's ping_before
    assert monitor.events == ["GET /start", "body", "GET /start", "body", "GET /fail", "GET /after"]


def test_a_cancelled_run_only_sends_then_ping(rota: Rota, monitor: Monitor) -> None:
    @rota.job(name="cancelled")
    def cancelled() -> None: ...

    all_pings(rota.schedule(cancelled).every_minute(), monitor)
    rota.sync_schedules(FIRST)
    rota.scheduler.tick(FIRST)
    (held,) = rota.store.claim_runs(worker="dead", now=FIRST, limit=1, lease_seconds=30)
    rota.store.request_cancel(held.id, now=FIRST)
    clock = rota.clock
    assert isinstance(clock, FakeClock)
    clock.set(FIRST + timedelta(seconds=31))  # the lease lapses: taken back as cancelled
    rota.run_due(FIRST + timedelta(seconds=31))
    stored = rota.store.get_run(held.id)
    assert stored is not None
    assert stored.state is RunState.CANCELLED
    assert monitor.requests() == ["GET /after"]


def test_a_manual_trigger_of_a_schedule_pings_too(rota: Rota, monitor: Monitor) -> None:
    @rota.job(name="nightly")
    def nightly() -> None: ...

    rota.schedule(nightly).daily().named("night").then_ping(monitor.url("/after"))
    assert rota.trigger("night").state is RunState.SUCCEEDED
    assert monitor.requests() == ["GET /after"]
    rota.trigger(nightly)  # the job alone: not the schedule's run, no pings
    assert monitor.requests() == ["GET /after"]


def test_pings_need_no_schedule_only_the_runs_options(monitor: Monitor) -> None:
    """A worker that does not declare the schedule (another app, another machine)."""
    planner = make_test_rota(START)
    worker_app = Rota(planner.store, clock=planner.clock, host=planner.host)

    def remote() -> None: ...

    planner.job(name="remote")(remote)
    worker_app.job(name="remote")(remote)
    planner.schedule("remote").every_minute().ping_on_success(monitor.url("/success"))
    planner.sync_schedules(FIRST)
    planner.scheduler.tick(FIRST)
    worker = worker_app.worker()
    (run,) = worker.run_pending()
    worker.stop()
    assert run.state is RunState.SUCCEEDED
    assert monitor.requests() == ["GET /success"]
    planner.close()


# -- pings that fail ------------------------------------------------------------------------


def test_a_dead_url_is_logged_and_the_run_still_succeeds(
    rota: Rota, caplog: pytest.LogCaptureFixture
) -> None:
    ran: list[str] = []

    @rota.job(name="fine")
    def fine(ctx: RunContext) -> str:
        ran.append(ctx.run_id)
        return "ok"

    dead = closed_port_url()
    rota.schedule(fine).every_minute().ping_before(dead).then_ping(dead)
    with caplog.at_level(logging.WARNING, logger="rota.hooks"):
        (run,) = run_due(rota, FIRST).runs
    assert run.state is RunState.SUCCEEDED
    assert run.result == "ok"
    assert ran == [run.id]
    failed = [r for r in caplog.records if getattr(r, "event", "") == "ping.failed"]
    assert [getattr(r, "url", "") for r in failed] == [dead, dead]
    assert all(getattr(r, "run_id", "") == run.id for r in failed)


def test_an_error_answer_is_logged_once_and_not_retried(
    rota: Rota, monitor: Monitor, caplog: pytest.LogCaptureFixture
) -> None:
    @rota.job(name="fine")
    def fine() -> None: ...

    rota.schedule(fine).every_minute().then_ping(monitor.url("/broken"))
    with caplog.at_level(logging.WARNING, logger="rota.hooks"):
        (run,) = run_due(rota, FIRST).runs
    assert run.state is RunState.SUCCEEDED
    assert monitor.requests() == ["GET /broken"]
    assert "500" in caplog.text


# -- declaring and validating ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("ping_before", "ftp://example.com/x"),
        ("then_ping", "example.com/ping"),
        ("ping_on_success", "https://"),
        ("ping_on_failure", "http:///fail"),
        ("then_ping", " https://hc-ping.com/abc"),
        ("then_ping", "https://hc-ping.com/a b"),
        ("then_ping", "https://hc-ping.com:port/x"),
        ("ping_before", 42),
    ],
)
def test_an_invalid_url_is_refused_naming_it(method: str, url: object) -> None:
    schedule = Schedule("mymod.job")
    with pytest.raises(InvalidSchedule, match=rf"invalid URL .* for {method}\(\)"):
        getattr(schedule, method)(url)
    assert not schedule.policies.pings


def test_several_urls_per_event_keep_their_order() -> None:
    schedule = Schedule("mymod.job").then_ping("https://a.example/1").then_ping("http://b/2")
    assert schedule.policies.pings.after == ("https://a.example/1", "http://b/2")
    assert schedule.policies.pings.before == ()


# -- storing --------------------------------------------------------------------------------


def pinged() -> Schedule:
    return (
        Schedule("mymod.job")
        .hourly()
        .ping_before("https://hc-ping.com/uuid/start")
        .then_ping("https://hc-ping.com/uuid")
        .ping_on_failure("https://hc-ping.com/uuid/fail")
    )


def test_the_spec_keeps_the_pings_and_from_spec_rebuilds_them() -> None:
    spec = json.loads(json.dumps(pinged().to_spec()))
    assert spec["policies"]["pings"] == {
        "before": ["https://hc-ping.com/uuid/start"],
        "after": ["https://hc-ping.com/uuid"],
        "success": [],
        "failure": ["https://hc-ping.com/uuid/fail"],
    }
    rebuilt = Schedule.from_spec(spec)
    assert rebuilt.policies == pinged().policies
    assert rebuilt.to_spec() == spec


def test_a_schedule_without_pings_has_the_spec_it_had_before_pings() -> None:
    spec = Schedule("mymod.job").hourly().to_spec()
    assert "pings" not in spec
    assert set(spec["policies"]) == set(OLDER_POLICIES)
    stored_before = json.loads(json.dumps(spec))  # what older versions stored, key for key
    text = json.dumps(Schedule("mymod.job").hourly().to_spec(), sort_keys=True)
    assert _same(stored_before, text)  # sync finds it unchanged: no needless update
    assert Schedule.from_spec(stored_before).policies == Policies()


OLDER_POLICIES = (
    "overlap",
    "catch_up",
    "grace",
    "catch_up_limit",
    "timeout",
    "retries",
    "backoff",
    "max_backoff",
    "jitter",
    "on_each_server",
    "queue",
    "priority",
    "isolated",
)
"""The policies spec of every schedule stored before pings existed."""


def test_a_bad_pings_spec_names_the_problem() -> None:
    spec = Schedule("mymod.job").hourly().to_spec()
    spec["policies"]["pings"] = {"afterwards": ["https://x.example"]}
    with pytest.raises(InvalidSchedule, match=r"unknown ping event 'afterwards'.*'after'"):
        Schedule.from_spec(spec)
    spec["policies"]["pings"] = {"after": "https://x.example"}
    with pytest.raises(InvalidSchedule, match="must be a list of URLs"):
        Schedule.from_spec(spec)
    spec["policies"]["pings"] = {"after": ["gopher://x"]}
    with pytest.raises(InvalidSchedule, match="invalid URL 'gopher://x' for then_ping"):
        Schedule.from_spec(spec)


def test_pings_survive_a_real_sqlite_store(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'rota.db'}")
    try:
        schedule = pinged().named("pinged")
        store.save_schedule(new_record(schedule, START), expected_version=None)
        record = store.get_schedule("pinged")
        assert record is not None
        assert Schedule.from_spec(record.spec).policies.pings == schedule.policies.pings
        options = run_options(schedule.policies)
        run = Run(
            id="r1",
            job="mymod.job",
            state=RunState.QUEUED,
            created_at=START,
            available_at=START,
            options=options,
        )
        assert store.insert_run(run)
        (claimed,) = store.claim_runs(worker="w", now=START, limit=1, lease_seconds=30)
        assert claimed.options.pings == {
            "before": ("https://hc-ping.com/uuid/start",),
            "after": ("https://hc-ping.com/uuid",),
            "failure": ("https://hc-ping.com/uuid/fail",),
        }
        assert claimed.options == options
    finally:
        store.close()


def test_an_unchanged_pinged_schedule_syncs_as_unchanged(tmp_path: Path) -> None:
    app = Rota(f"sqlite:///{tmp_path / 'rota.db'}", clock=FakeClock(START))
    app.job(name="mymod.job")(lambda: None)
    app.schedule("mymod.job").hourly().then_ping("https://hc-ping.com/uuid")
    try:
        assert app.sync_schedules(FIRST).created == ("mymod.job",)
        assert app.sync_schedules(FIRST).unchanged == ("mymod.job",)
    finally:
        app.close()


# -- run options ----------------------------------------------------------------------------


def test_run_options_json_round_trip_keeps_the_pings() -> None:
    options = RunOptions(
        timeout=5, pings={"after": ("https://a.example/x",), "failure": ("http://b/fail",)}
    )
    data = json.loads(json.dumps(options.to_json()))
    assert data["pings"] == {"after": ["https://a.example/x"], "failure": ["http://b/fail"]}
    assert RunOptions.from_json(data) == options
    assert hash(options) == hash(RunOptions(timeout=5))  # still hashable (pings left out)
    with pytest.raises(TypeError):
        options.pings["after"] = ()  # type: ignore[index]  # shared between runs: read-only


def test_run_options_without_pings_are_stored_as_before() -> None:
    assert "pings" not in RunOptions().to_json()
    assert RunOptions.from_json(RunOptions().to_json()) == RunOptions()
    with pytest.raises(ValueError, match="pings must map events to lists of URLs"):
        RunOptions(pings={"after": "https://a.example"})  # type: ignore[dict-item]


def test_run_options_copy_the_schedules_pings_over_the_jobs_defaults() -> None:
    job = job_from_callable(lambda: None, name="j", timeout=30)
    policies = Schedule("j").then_ping("https://a.example/x").policies
    with_job = run_options(policies, job)
    assert with_job.timeout == 30
    assert with_job.pings == {"after": ("https://a.example/x",)}
    assert run_options(policies).pings == {"after": ("https://a.example/x",)}
    assert run_options(Policies(), job).pings == {}


def test_pings_compare_by_their_urls() -> None:
    assert Pings(after=("https://a.example",)) == Pings().adding("after", "https://a.example")
    assert not Pings()
    assert Pings(success=["https://a.example"]) == Pings(success=("https://a.example",))  # type: ignore[arg-type]


# -- import cost ----------------------------------------------------------------------------

PROBE = """
import json, sys
from datetime import UTC, datetime
from rota import Rota

app = Rota("sqlite:///" + sys.argv[1])

@app.job(name="noop")
def noop() -> None: ...

app.schedule(noop).yearly().ping_before("https://hc-ping.com/u/start").then_ping(
    "https://hc-ping.com/u"
).on_failure(print)
app.on_failure(print)
app.run_due(datetime(2030, 6, 1, 12, 0, 30, tzinfo=UTC))  # stores it: nothing due
app.run_due(datetime(2030, 6, 1, 12, 1, 30, tzinfo=UTC))
print(json.dumps(sorted(sys.modules)))
"""


def test_declaring_pings_and_a_pass_with_nothing_due_load_no_http(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(tmp_path / "rota.db")],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    modules = set(json.loads(done.stdout.splitlines()[-1]))
    assert "rota._hooks" in modules
    heavy = {"urllib.request", "http", "http.client", "ssl", "socket", "rota.worker"}
    assert not modules & heavy, sorted(modules & heavy)
