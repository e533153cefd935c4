"""``rota schedules ...``: create, change, pause, resume, remove and look at stored schedules.

Each command is one call of the ``Rota`` API for schedules at run time
(``add_schedule``, ``edit_schedule`` …), so the CLI refuses exactly what
the API refuses, with the same one-line messages, before anything is
stored. Options arrive as text and are read by ``rota._cli_define``.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeVar

import click

from rota._cli_commands import handle_errors, load_app

if TYPE_CHECKING:
    from rota._cli_define import Definition
    from rota.app import Rota
    from rota.stores.base import ScheduleRecord

F = TypeVar("F", bound=Callable[..., Any])
_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON.")
_SHOW_RUNS = 5


@click.group("schedules")
def schedules_group() -> None:
    """Stored schedules: the code's and those created at run time.

    Schedules added here reference a registered job by name and take JSON
    arguments; running schedulers (`rota work`, `rota scheduler`) pick up
    every change within a second, with no restart.
    """


# -- options shared by add and edit -----------------------------------------------------------

_DEFINITION_OPTIONS = (
    click.option("--job", metavar="JOB", help="The registered job to run (its name)."),
    click.option("--cron", metavar="EXPR", help="Fire on this cron expression (in --tz)."),
    click.option(
        "--every",
        metavar="DURATION",
        help="Fire every DURATION: seconds (90) or 30s, 10m, 1h, 1h30m, 2d.",
    ),
    click.option(
        "--at",
        metavar="ISO",
        help="Fire once at this instant (ISO 8601; without an offset it is read in --tz).",
    ),
    click.option("--tz", metavar="ZONE", help="IANA timezone the trigger is read in (UTC)."),
    click.option("--args", "args_json", metavar="JSON", help="Positional arguments, a JSON array."),
    click.option(
        "--kwargs", "kwargs_json", metavar="JSON", help="Keyword arguments, a JSON object."
    ),
    click.option(
        "--after",
        metavar="A,B",
        help="Run for each slot once these schedules' runs for it succeeded (takes their slots).",
    ),
    click.option("--queue", metavar="Q", help="Put its runs on this queue."),
    click.option("--priority", type=int, metavar="N", help="Higher runs first on its queue."),
    click.option("--retries", type=int, metavar="N", help="Retry a failed run N times."),
    click.option("--timeout", metavar="DURATION", help="Stop a run after DURATION."),
    click.option("--overlap", metavar="MODE", help="skip, queue, allow or replace."),
    click.option("--catch-up", "catch_up", metavar="MODE", help="latest, all or none."),
)


def definition_options(func: F) -> F:
    """The options that describe a schedule, for ``add`` and ``edit``."""
    for option in reversed(_DEFINITION_OPTIONS):
        func = option(func)
    return func


def definition_from(options: dict[str, Any]) -> Definition:
    """The ``Definition`` the shared options describe."""
    from rota._cli_define import Definition, Policy, When

    return Definition(
        job=options["job"],
        args=options["args_json"],
        kwargs=options["kwargs_json"],
        after=options["after"],
        when=When(options["cron"], options["every"], options["at"], options["tz"]),
        policy=Policy(
            queue=options["queue"],
            priority=options["priority"],
            retries=options["retries"],
            timeout=options["timeout"],
            overlap=options["overlap"],
            catch_up=options["catch_up"],
        ),
    )


# -- changing ---------------------------------------------------------------------------------


@schedules_group.command("add")
@click.argument("name")
@definition_options
@click.option("--paused", is_flag=True, help="Store it paused (`rota schedules resume` starts it).")
@_JSON
@handle_errors
def add_command(name: str, paused: bool, as_json: bool, **options: Any) -> None:
    """Create schedule NAME of a registered job, at run time.

    Give the job (--job) and when it fires: --cron, --every or --at, or
    --after to run after other schedules (taking their slots). Everything is
    checked before anything is stored: the job, the arguments against its
    signature, the expression, the timezone, the parents and cycles.
    """
    from rota._cli_define import new_schedule

    app = load_app()
    record = app.add_schedule(new_schedule(app, name, definition_from(options)), paused=paused)
    report(app, record, "added", as_json)


@schedules_group.command("edit")
@click.argument("name")
@definition_options
@_JSON
@handle_errors
def edit_command(name: str, as_json: bool, **options: Any) -> None:
    """Change schedule NAME (created at run time); what is not given stays.

    History, progress and pause state stay. A new trigger counts from the
    current minute: no slot of it from before the change fires.
    """
    from rota._cli_define import edited_schedule

    app = load_app()
    current = app.get_schedule(name)
    record = app.edit_schedule(name, edited_schedule(current, definition_from(options)))
    report(app, record, "changed", as_json)


@schedules_group.command("pause")
@click.argument("name")
@_JSON
@handle_errors
def pause_command(name: str, as_json: bool) -> None:
    """Stop schedule NAME firing (code or run-time) until resumed."""
    app = load_app()
    report(app, app.pause_schedule(name), "paused", as_json)


@schedules_group.command("resume")
@click.argument("name")
@click.option(
    "--from",
    "start",
    type=click.Choice(["last", "now"]),
    default="last",
    show_default=True,
    help="last: from where it stopped, its catch-up policy deciding what the pause missed; "
    "now: nothing of the pause fires.",
)
@_JSON
@handle_errors
def resume_command(name: str, start: str, as_json: bool) -> None:
    """Fire schedule NAME again after `rota schedules pause`."""
    app = load_app()
    record = app.resume_schedule(name, start="now" if start == "now" else "last")
    report(app, record, f"resumed from {start}", as_json)


@schedules_group.command("remove")
@click.argument("name")
@handle_errors
def remove_command(name: str) -> None:
    """Delete schedule NAME (created at run time); its runs stay in `rota history`.

    Code schedules are deleted from the code instead: they are retired at
    the next start.
    """
    load_app().remove_schedule(name)
    click.echo(f"schedule {name!r} removed; its runs stay (rota history {name})")


def report(app: Rota, record: ScheduleRecord, what: str, as_json: bool) -> None:
    """What a changing command prints: one line, or the record as JSON."""
    from rota._cli_schedule_views import rebuild, schedule_json, state
    from rota._cli_tables import format_relative, format_time

    now = datetime.now(UTC)
    schedule = rebuild(app, record, app.declared())
    if as_json:
        click.echo(json.dumps(schedule_json(record, schedule, now), indent=2, default=str))
        return
    line = f"schedule {record.name!r} {what}: {state(record, schedule, now)}"
    if schedule is not None:
        line += f", {schedule.describe()}"
        if record.active and record.next_due is not None:
            due = format_time(record.next_due, schedule.tz)
            line += f"; next due {due} ({format_relative(record.next_due, now)})"
    click.echo(line)


# -- looking ----------------------------------------------------------------------------------


@schedules_group.command("list")
@click.option(
    "-n",
    "--limit",
    type=click.IntRange(min=1, max=10_000),
    default=100,
    show_default=True,
    help="How many schedules to show.",
)
@click.option("--after", "after_name", metavar="NAME", help="Start after this name (paging).")
@click.option("--all", "include_retired", is_flag=True, help="Include retired code schedules.")
@_JSON
@handle_errors
def list_command(limit: int, after_name: str | None, include_retired: bool, as_json: bool) -> None:
    """Show the stored schedules by name, a page at a time.

    STATE is active, paused, retired, or OVERDUE: a slot passed longer ago
    than its catch-up grace (at least 90 s) and no scheduler fired it.
    """
    from rota._cli_schedule_views import SCHEDULES_HEADERS, rebuild, schedule_cells, schedule_json
    from rota._cli_tables import render_table

    app = load_app()
    now = datetime.now(UTC)
    records = app.list_schedules(after=after_name, limit=limit + 1, include_retired=include_retired)
    more = len(records) > limit
    records = records[:limit]
    declared = app.declared()
    shown = [(record, rebuild(app, record, declared)) for record in records]
    if as_json:
        rows = [schedule_json(record, schedule, now) for record, schedule in shown]
        click.echo(json.dumps(rows, indent=2, default=str))
        return
    if not shown:
        click.echo("no schedules stored" + (f" after {after_name!r}" if after_name else ""))
        return
    cells = [schedule_cells(record, schedule, now) for record, schedule in shown]
    click.echo(render_table(SCHEDULES_HEADERS, cells))
    if more:
        click.echo(f"more: rota schedules list --after {records[-1].name}")


@schedules_group.command("show")
@click.argument("name")
@_JSON
@handle_errors
def show_command(name: str, as_json: bool) -> None:
    """Show schedule NAME in full: definition, state, progress and its last runs."""
    from rota._cli_schedule_views import detail_lines, rebuild, schedule_json, shown_zone
    from rota._cli_tables import render_table
    from rota._cli_views import HISTORY_HEADERS, history_cells, run_json

    app = load_app()
    now = datetime.now(UTC)
    record = app.get_schedule(name)
    schedule = rebuild(app, record, app.declared())
    runs = app.store.list_runs(schedule=name, limit=_SHOW_RUNS)
    if as_json:
        shown = {**schedule_json(record, schedule, now), "runs": [run_json(r) for r in runs]}
        click.echo(json.dumps(shown, indent=2, default=str))
        return
    click.echo("\n".join(detail_lines(record, schedule, now)))
    click.echo("")
    if not runs:
        click.echo("no runs yet")
        return
    tz = shown_zone(schedule)
    click.echo(render_table(HISTORY_HEADERS, [history_cells(run, tz) for run in runs]))


__all__ = ["schedules_group"]
