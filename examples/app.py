"""A small rota app to run and watch: ``./scripts/example``.

Or by hand, from the repository root:

    rota --app examples.app:rota work        # scheduler + workers, until Ctrl-C
    rota --app examples.app:rota list        # in another terminal: the schedules
    rota --app examples.app:rota history     # ... and the runs, newest first
    rota --app examples.app:rota test heartbeat   # run one now and see the outcome
    rota --app examples.app:rota schedules add nudge --job examples.app.heartbeat --every 10s
    rota --app examples.app:rota schedules pause nudge   # ... and resume, remove

Every schedule below fires within a minute of starting.
"""

from __future__ import annotations

import asyncio
import os
import platform
from datetime import UTC, datetime

from rota import Rota, Run, RunContext

# The store, by URL, relative to the working directory (run from the repository root).
# Rota() alone would use ROTA_STORE, else sqlite:///rota.db. Opened on first use, not here.
rota = Rota("sqlite:///examples/rota.db")


# A job is a plain function; `ctx` (a RunContext) tells it which run this is.
@rota.job
def heartbeat(ctx: RunContext) -> dict[str, object]:
    # ctx.logger's records are kept with the run (`rota history`, the dashboard).
    ctx.logger.info("beat for slot %s", ctx.slot)
    # The return value is stored as the run's result; it must be JSON.
    return {"slot": ctx.slot.isoformat() if ctx.slot else None, "pid": os.getpid()}


# Every five seconds (a six-field cron: `*/5 * * * * *`), named so the CLI can say `heartbeat`.
rota.schedule(heartbeat).every_five_seconds().named("heartbeat")


# `@rota.cron` registers and schedules in one go: every minute, read in Berlin time.
@rota.cron("*/1 * * * *", tz="Europe/Berlin", name="report")
def report(ctx: RunContext) -> str:
    # ctx.run_id is stable across retries: use it as an idempotency key.
    ctx.logger.info("minutely report %s on %s", ctx.run_id, platform.node())
    return f"report for {ctx.slot}"


# A shell command is a job too: its output is captured, a non-zero exit fails the run.
rota.shell("echo disk at $(date -u +%H:%M:%S); df -h .").every_thirty_seconds().named("disk")


# A flaky job: fails on attempts 1 and 2, succeeds on attempt 3.
@rota.job(retries=2, backoff=1.0, max_backoff=2.0)  # 3 attempts, ~1s then ~2s apart
def flaky(ctx: RunContext) -> int:
    if ctx.attempt < 3:
        raise RuntimeError(f"attempt {ctx.attempt} failed on purpose; rota will retry")
    return ctx.attempt


rota.schedule(flaky).every_minute().named("flaky")


# Async jobs run on an event loop the worker owns; a timeout cancels them.
@rota.job(timeout=10)
async def fetch(ctx: RunContext, url: str) -> dict[str, str]:
    await asyncio.sleep(0.2)  # stands in for an HTTP call
    return {"url": url, "fetched_at": datetime.now(UTC).isoformat()}


# Arguments are JSON, checked against the signature when the schedule is declared.
rota.schedule(fetch, url="https://example.org/feed").every_fifteen_seconds().named("fetch")


# Dependencies: `summarize` runs for a slot once `fetch`'s run for that slot succeeded
# (it takes fetch's slots; a failed fetch would mark it `upstream_failed`).
@rota.job
def summarize(ctx: RunContext) -> str:
    return f"summary of the fetch for {ctx.slot}"


rota.schedule(summarize).after("fetch").named("summarize")


# Hooks: called for every run of every schedule, off the worker's path.
@rota.on_failure
def tell_someone(run: Run) -> None:
    print(f"[hook] {run.schedule or run.job} failed: {run.error}")  # page someone, or Sentry
