"""``rota trigger`` and ``rota runs retry | cancel | show``: one run at a time."""

from __future__ import annotations

import json
from datetime import UTC
from typing import TYPE_CHECKING, Any

import click

from rota._cli_commands import echo_outcome, handle_errors, load_app

if TYPE_CHECKING:
    from rota.app import Rota
    from rota.runs import Run

_JSON = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@click.command("trigger")
@click.argument("name")
@click.option("--args", "args_json", metavar="JSON", help="Positional arguments, a JSON array.")
@click.option("--kwargs", "kwargs_json", metavar="JSON", help="Keyword arguments, a JSON object.")
@click.option(
    "--enqueue",
    is_flag=True,
    help="Put the run on its queue for the workers instead of running it here.",
)
@handle_errors
def trigger_command(
    name: str, args_json: str | None, kwargs_json: str | None, enqueue: bool
) -> None:
    """Run job or schedule NAME now, outside its slots.

    A schedule runs its job with its arguments and options; --args/--kwargs
    replace the arguments. Without --enqueue it runs here and shows the
    outcome (exit 1 when the run failed); with --enqueue it is queued for
    `rota work` / `rota worker` and its run id printed.
    """
    from rota._cli_define import json_args, json_kwargs

    args, kwargs = json_args(args_json), json_kwargs(kwargs_json)
    app = load_app()
    if enqueue:
        run = app.enqueue(name, *args, **kwargs)
        click.echo(f"{run.id} queued on {run.queue!r} ({run.schedule or run.job})")
        return
    echo_outcome(app.trigger(name, *args, **kwargs))


@click.group("runs")
def runs_group() -> None:
    """Look at a run, retry it, or cancel it (run ids: `rota history`)."""


@runs_group.command("retry")
@click.argument("run_id")
@handle_errors
def retry_command(run_id: str) -> None:
    """Queue finished run RUN_ID again, attempts counted afresh.

    A failed, timed-out, cancelled, upstream-failed or succeeded run goes
    back on its queue; its checkpoint is kept. Skipped and missed runs never
    ran and cannot be retried. A manual run (``rota trigger``, ``rota test``)
    has a queue no worker serves: it runs again here, now (exit 1 if it fails).
    """
    from rota.runs import RunState

    run = load_app().retry_run(run_id)
    label = _label(run)
    if not run.state.is_terminal:
        click.echo(f"{label} queued again on {run.queue!r}")
        return
    click.echo(f"{label} ran again here: {run.state}{f' ({run.error})' if run.error else ''}")
    if run.state is not RunState.SUCCEEDED:
        raise click.exceptions.Exit(1)


@runs_group.command("cancel")
@click.argument("run_id")
@handle_errors
def cancel_command(run_id: str) -> None:
    """Cancel run RUN_ID: at once if it has not started, at its worker's next
    heartbeat if it is running. A finished run is left as it is."""
    from rota.runs import RunState

    app = load_app()
    run = found_run(app, run_id)
    label = _label(run)
    if run.state.is_terminal:
        click.echo(f"{label} already ended ({run.state}); nothing to cancel")
        return
    run = app.cancel_run(run_id)
    if run.state is RunState.CANCELLED:
        click.echo(f"{label} cancelled")
    elif run.state.is_terminal:
        click.echo(f"{label} ended ({run.state}) before it could be cancelled")
    else:
        click.echo(f"{label} is {run.state}: cancel requested, its worker stops it shortly")


@runs_group.command("show")
@click.argument("run_id")
@_JSON
@handle_errors
def show_command(run_id: str, as_json: bool) -> None:
    """Show run RUN_ID in full: state, timings, arguments, result, error, log."""
    run = found_run(load_app(), run_id)
    if as_json:
        click.echo(json.dumps(run_detail_json(run), indent=2, default=str))
    else:
        click.echo(run_detail(run))


def _label(run: Run) -> str:
    return f"run {run.id} ({run.schedule or run.job})"


def found_run(app: Rota, run_id: str) -> Run:
    """The stored run ``run_id``; ``RunNotFound`` naming where ids are shown otherwise."""
    from rota.errors import RunNotFound

    run = app.store.get_run(run_id)
    if run is None:
        raise RunNotFound(f"no run with id {run_id!r}; `rota history` shows run ids")
    return run


def run_detail_json(run: Run) -> dict[str, Any]:
    """Everything ``rota runs show --json`` prints: ``run_json`` and the rest of the run."""
    from rota._cli_views import run_json

    return {
        **run_json(run),
        "args": list(run.args),
        "kwargs": dict(run.kwargs),
        "queue": run.queue,
        "priority": run.priority,
        "host": run.host,
        "worker": run.worker,
        "parents": list(run.parents),
        "cancel_requested": run.cancel_requested,
        "progress": [run.progress_done, run.progress_total],
        "checkpoint": run.checkpoint,
        "traceback": run.traceback,
        "log": run.log,
    }


def run_detail(run: Run) -> str:
    """``rota runs show``: one ``key  value`` line each, then the traceback and the log."""
    from rota._cli_tables import NONE, format_duration, format_time

    progress = NONE
    if run.progress_done is not None:
        progress = f"{run.progress_done:g}" + (
            f"/{run.progress_total:g}" if run.progress_total is not None else ""
        )
    pairs = [
        ("run", run.id),
        ("schedule", run.schedule or NONE),
        ("job", run.job),
        ("state", str(run.state) + (" (cancel requested)" if run.cancel_requested else "")),
        ("slot", "manual" if run.manual else format_time(run.slot, UTC)),
        ("attempt", f"{run.attempt}/{run.options.max_attempts}"),
        ("queue", f"{run.queue} (priority {run.priority})"),
        ("args", json.dumps(list(run.args))),
        ("kwargs", json.dumps(dict(run.kwargs))),
        ("created", format_time(run.created_at, UTC)),
        ("started", format_time(run.started_at, UTC)),
        ("finished", format_time(run.finished_at, UTC)),
        ("duration", format_duration(run.duration)),
        ("worker", run.worker or NONE),
        ("after", ", ".join(run.parents) or NONE),
        ("progress", progress),
        ("result", NONE if run.result is None else json.dumps(run.result, default=str)),
        ("error", run.error or NONE),
    ]
    width = max(len(key) for key, _ in pairs)
    lines = [f"{key.ljust(width)}  {value}" for key, value in pairs]
    for title, text in (("traceback", run.traceback), ("log", run.log)):
        if text:
            lines += ["", f"{title}:", *(f"  {line}" for line in text.rstrip("\n").splitlines())]
    return "\n".join(lines)


__all__ = ["found_run", "run_detail", "run_detail_json", "runs_group", "trigger_command"]
