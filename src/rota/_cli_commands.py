"""The ``rota`` command line's click group and its commands.

``rota.cli.main`` runs the plain ``rota run`` without click (cron starts it
every minute) and hands everything else to the ``cli`` group here. This
module imports only click, ``rota.errors``, the version and the table
helpers at the top; each command imports what it needs (``rota._cli_run``,
``rota._cli_views``). Commands wrap their body in ``@handle_errors``: a
``RotaError`` becomes one line on stderr (``error: <message>``) and the
error's exit code.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, NoReturn, ParamSpec, TypeVar

import click

from rota import __version__
from rota._cli_tables import format_offset
from rota.cli import error_line
from rota.errors import ConfigurationError, RotaError

if TYPE_CHECKING:
    from zoneinfo import ZoneInfo

    from rota.app import Rota
    from rota.runs import Run
    from rota.stores.base import Store

P = ParamSpec("P")
R = TypeVar("R")


def fail(error: RotaError) -> NoReturn:
    """Print ``error: <message>`` as one line on stderr and exit with the error's code."""
    click.echo(error_line(error), err=True)
    raise click.exceptions.Exit(error.exit_code)


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Decorate a command callback so any ``RotaError`` it raises goes through ``fail``."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return func(*args, **kwargs)
        except RotaError as error:
            fail(error)

    return wrapper


@dataclass(frozen=True, slots=True)
class Globals:
    """The group's options, handed to every command."""

    app: str | None
    store: str | None
    log_level: str | None


@click.group(name="rota", context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="rota")
@click.option(
    "--app",
    "app_ref",
    metavar="MODULE:ATTR",
    help="The Rota object, e.g. myapp.tasks:rota (default: ROTA_APP, else [tool.rota] app "
    "in pyproject.toml).",
)
@click.option(
    "--store",
    metavar="URL",
    help="Store URL, overriding Rota(store=...) and ROTA_STORE (e.g. sqlite:///rota.db).",
)
@click.option(
    "--log-level",
    type=click.Choice(["debug", "info", "warning", "error"], case_sensitive=False),
    help="Log to stderr at this level (default: info for work, scheduler and worker, "
    "warning otherwise).",
)
@click.pass_context
def cli(ctx: click.Context, app_ref: str | None, store: str | None, log_level: str | None) -> None:
    """rota: scheduled jobs for Python applications."""
    ctx.obj = Globals(app=app_ref, store=store, log_level=log_level)


def load_app(default_level: str = "warning", concurrency: int | None = None) -> Rota:
    """The app the global options name, with logging set up for the current command."""
    from rota._cli_pass import configure_logging, load

    options = click.get_current_context().find_object(Globals)
    assert options is not None
    configure_logging(options.log_level or default_level)
    return load(options.app, options.store, concurrency)


# -- rota next ---------------------------------------------------------------------------------


def parse_after(text: str | None, tz: ZoneInfo) -> datetime:
    """``--after``: ISO 8601; without an offset it is read in ``tz``; absent, now."""
    from rota._cli_define import parse_instant

    return datetime.now(UTC) if text is None else parse_instant(text, tz, "--after")


def format_slot(slot: datetime, after: datetime) -> tuple[str, str, str]:
    """The three columns of a ``rota next`` line: local time and weekday, offset, UTC."""
    local = f"{slot.isoformat(sep=' ')} ({slot:%a})"
    utc = f"{slot.astimezone(UTC):%Y-%m-%d %H:%M:%S} UTC"
    return local, format_offset(slot - after), utc


@cli.command("next")
@click.argument("expression")
@click.option("--tz", default="UTC", show_default=True, help="IANA timezone to read EXPRESSION in.")
@click.option(
    "-n",
    "--count",
    type=click.IntRange(min=1, max=10_000),
    default=10,
    show_default=True,
    help="How many slots to show.",
)
@click.option(
    "--after",
    metavar="ISO",
    help="Start from this instant instead of now; without an offset it is read in --tz.",
)
@click.option("--seed", metavar="NAME", help="Seed for H fields (a schedule's name).")
@handle_errors
def next_command(expression: str, tz: str, count: int, after: str | None, seed: str | None) -> None:
    """Show EXPRESSION in plain words and its next slots.

    Each line gives the slot in --tz with its weekday, how long from --after
    (default: now), and the same instant in UTC.
    """
    from rota.cron import Cron

    cron = Cron(expression, tz=tz, seed=seed)
    start = parse_after(after, cron.tz)
    rows = []
    for slot in cron.iter_after(start):
        rows.append(format_slot(slot, start))
        if len(rows) == count:
            break
    click.echo(cron.describe())
    width = max(len(offset) for _, offset, _ in rows)
    for local, offset, utc in rows:
        click.echo(f"{local}  {offset.ljust(width)}  = {utc}")


# -- running -----------------------------------------------------------------------------------

_CONCURRENCY = click.option(
    "-c",
    "--concurrency",
    type=click.IntRange(min=1, max=1024),
    help="Jobs executing at once (default: the app's WorkerConfig.concurrency).",
)


@cli.command("run")
@_CONCURRENCY
@handle_errors
def run_command(concurrency: int | None) -> None:
    """Run what is due now, here, and exit (for crontab: `* * * * * rota run`).

    Syncs the app's schedules into the store, fires the slots that are due
    (and missed ones, per each schedule's catch-up policy) and executes them
    in this process. Sub-minute schedules keep it running until the end of
    the current minute. Any number of `rota run` at once fire each slot
    once. Prints a one-line summary; exits 0 even when jobs failed (see
    `rota history`), non-zero only when rota itself could not run.
    """
    from rota._cli_pass import run_pass

    click.echo(run_pass(load_app(concurrency=concurrency)))


_DRAIN = click.option(
    "--drain",
    type=click.FloatRange(min=0),
    metavar="SECONDS",
    help="On SIGTERM/SIGINT, how long running jobs may finish before their runs are released "
    "(default: the app's WorkerConfig.shutdown_timeout, 30s).",
)


@cli.command("work")
@_CONCURRENCY
@_DRAIN
@handle_errors
def work_command(concurrency: int | None, drain: float | None) -> None:
    """Run the scheduler and workers in this process until stopped.

    The first SIGTERM or Ctrl-C stops claiming, lets running jobs finish
    for up to --drain seconds, releases the runs still running back to the
    queue and exits 0. A second signal exits at once (their runs come back
    when their lease lapses).
    """
    from rota._cli_run import work

    work(load_app("info", concurrency), drain)


@cli.command("scheduler")
@handle_errors
def scheduler_command() -> None:
    """Turn due slots into queued runs until stopped; execute nothing.

    Syncs the app's schedules into the store, then plans: every slot that
    comes due (and missed ones, per catch-up policy) becomes a queued run
    for `rota worker` processes to execute. Run any number of them against
    one store: each slot still fires once. A store outage is logged and
    ridden out. SIGTERM or Ctrl-C stops it (exit 0); a second signal exits
    at once (exit 1).
    """
    from rota._cli_run import SCHEDULER, work

    work(load_app("info"), None, SCHEDULER)


def parse_queues(
    ctx: click.Context, param: click.Parameter, value: str | None
) -> tuple[str, ...] | None:
    """``--queues a,b``: the queue names, or None for all."""
    from rota._cli_define import comma_names

    if value is None:
        return None
    names = comma_names(value)
    if not names:
        raise click.BadParameter("name at least one queue, e.g. --queues default,reports")
    return names


@cli.command("worker")
@click.option(
    "-q",
    "--queues",
    metavar="A,B",
    callback=parse_queues,
    help="Only take runs from these queues, comma-separated (default: all). This host's "
    "per-host queues (QUEUE@host, for on_each_server schedules) are served too.",
)
@_CONCURRENCY
@_DRAIN
@handle_errors
def worker_command(
    queues: tuple[str, ...] | None, concurrency: int | None, drain: float | None
) -> None:
    """Claim and execute queued runs until stopped; plan nothing.

    Runs come from `rota scheduler` (or anything else that queues them).
    Run as many as the load needs, on any machines. The
    first SIGTERM or Ctrl-C stops claiming, lets running jobs finish for up
    to --drain seconds, releases the runs still running back to the queue
    and exits 0. A second signal exits at once (exit 1).
    """
    from rota._cli_run import WORKER, work

    app = load_app("info", concurrency)
    if queues is not None:
        app.config = replace(app.config, worker=replace(app.config.worker, queues=queues))
    work(app, drain, WORKER)


@cli.command("migrate")
@handle_errors
def migrate_command() -> None:
    """Create or upgrade the store's schema and print its version.

    Safe to repeat and to run from many places at once. The store is the
    app's (`--app`, `ROTA_APP`, pyproject) or, when no app is configured,
    `--store` / `ROTA_STORE`. Apps open with auto-migration on unless
    `RotaConfig(auto_migrate=False)` or `ROTA_AUTO_MIGRATE=false` turns it
    off; then run this once per release, before the new version starts.
    """
    from rota._cli_pass import redact

    store = migrated_store()
    try:
        version = schema_version(store)
        where = redact(store.url)
        if version is None:
            click.echo(f"rota migrate: {where} keeps no schema (nothing to migrate)")
        else:
            click.echo(f"rota migrate: {where} is at schema version {version}")
    finally:
        store.close()


def migrated_store() -> Store:
    """The store of the configured app, migrated; without an app, ``--store``/``ROTA_STORE``."""
    import os

    from rota._appload import find_app_ref

    options = click.get_current_context().find_object(Globals)
    assert options is not None
    try:
        find_app_ref(options.app)
    except ConfigurationError:
        url = options.store or os.environ.get("ROTA_STORE")
        if not url:
            raise
        from rota._cli_pass import configure_logging
        from rota.app import Rota

        configure_logging(options.log_level or "warning")
        return Rota(store=url).migrate()
    return load_app().migrate()


def schema_version(store: Store) -> int | None:
    """The schema version a just-migrated ``store`` is at: the newest its backend
    knows (``migrate`` refuses a newer one); None for a store without a schema."""
    import sys

    backend = sys.modules[type(store).__module__]
    migrations = getattr(backend, "migrations", None)
    if callable(migrations):
        return max((version for version, _, _ in migrations()), default=0)
    version = getattr(backend, "SCHEMA_VERSION", None)
    return version if isinstance(version, int) else None


@cli.command("test")
@click.argument("name")
@handle_errors
def test_command(name: str) -> None:
    """Run schedule or job NAME now, here, and show the outcome.

    Exits 0 when the run succeeded, 1 when it failed.
    """
    echo_outcome(load_app().trigger(name))


def echo_outcome(run: Run) -> None:
    """Print a run made here: its outcome on stdout, a failure on stderr too (then exit 1)."""
    from rota._cli_views import outcome_report

    out, err = outcome_report(run)
    click.echo(out)
    if err is not None:
        click.echo(err, err=True)
        raise click.exceptions.Exit(1)


# -- looking -----------------------------------------------------------------------------------

_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")


@cli.command("list")
@_JSON
@handle_errors
def list_command(as_json: bool) -> None:
    """Show the schedules, when they fire, and their last run.

    Times are in each schedule's timezone. Read-only: nothing is synced.
    """
    from rota._cli_tables import render_table
    from rota._cli_views import LIST_HEADERS, schedule_rows

    now = datetime.now(UTC)
    rows = schedule_rows(load_app(), now)
    if as_json:
        click.echo(json.dumps([row.to_json() for row in rows], indent=2, default=str))
    elif not rows:
        click.echo("no schedules (declare some on the app, or create them at run time)")
    else:
        click.echo(render_table(LIST_HEADERS, [row.cells(now) for row in rows]))


@cli.command("history")
@click.argument("name", required=False)
@click.option(
    "-n",
    "--limit",
    type=click.IntRange(min=1, max=10_000),
    default=20,
    show_default=True,
    help="How many runs to show.",
)
@click.option("--state", "states", multiple=True, metavar="STATE", help="Only runs in STATE.")
@_JSON
@handle_errors
def history_command(name: str | None, limit: int, states: tuple[str, ...], as_json: bool) -> None:
    """Show recent runs (of schedule NAME), newest first.

    Slots are shown in the schedule's timezone; manual runs (`rota test`)
    show when they were made.
    """
    from rota._cli_tables import render_table
    from rota._cli_views import (
        HISTORY_HEADERS,
        history,
        history_cells,
        parse_states,
        run_json,
        zones,
    )

    app = load_app()
    runs = history(app, name, limit, parse_states(states))
    if as_json:
        click.echo(json.dumps([run_json(run) for run in runs], indent=2, default=str))
        return
    if not runs:
        click.echo("no runs yet" + (f" of {name!r}" if name else ""))
        return
    tz = zones(app)
    rows = [history_cells(run, tz.get(run.schedule or "", UTC)) for run in runs]
    click.echo(render_table(HISTORY_HEADERS, rows))


# -- schedules and runs at run time (their own modules, which import this one) ----------------

from rota._cli_runs import runs_group, trigger_command  # noqa: E402
from rota._cli_schedules import schedules_group  # noqa: E402

cli.add_command(schedules_group)
cli.add_command(runs_group)
cli.add_command(trigger_command)
