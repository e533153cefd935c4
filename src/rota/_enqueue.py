"""``Rota.enqueue`` and ``enqueue_many``: runs put on a job's queue for the workers.

Every call is checked before any run is stored, then the runs go in with one
``insert_runs`` per chunk: one round trip each.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from rota.errors import InvalidArguments
from rota.runs import Run, RunState

if TYPE_CHECKING:
    from rota.app import Rota


def enqueue_runs(
    app: Rota,
    job: Callable[..., Any] | str,
    calls: Iterable[tuple[Sequence[Any], Mapping[str, Any]]],
    *,
    chunk: int,
    many: bool,
) -> list[Run]:
    """The runs of ``Rota.enqueue``/``enqueue_many``, checked, then inserted ``chunk``
    per store call."""
    from rota._planning import placement, run_options

    if chunk < 1:
        raise ValueError(f"chunk must be at least 1, got {chunk}")
    schedule = app._schedule_named(job) if isinstance(job, str) else None
    found = app._job_for(schedule.job if schedule is not None else job)
    if schedule is not None:
        options = run_options(schedule.policies, found)
        queue, priority = placement(schedule.policies, found)
        default_args, default_kwargs = schedule.args, dict(schedule.kwargs)
    else:
        options = found.options()
        queue, priority = found.defaults.queue, found.defaults.priority
        default_args, default_kwargs = (), {}
    # Ids that sort in call order (a random base, then a counter): the claim
    # order's last key is the id, and every run of the call has one ``now``.
    base, now = "m" + secrets.token_hex(8), app.clock.now()
    runs: list[Run] = []
    defaults: Any = None
    for n, call in enumerate(calls):
        args, kwargs = call if isinstance(call, tuple | list) and len(call) == 2 else ("", ())
        if (
            not isinstance(args, Sequence)
            or isinstance(args, str | bytes)
            or not isinstance(kwargs, Mapping)
        ):
            raise InvalidArguments(
                f"call {n} to enqueue_many of {found.name!r} is not an (args, kwargs) "
                f"pair: {call!r}"
            )
        try:
            if args or kwargs:
                found.check_arguments(args, kwargs)
                # As the store gives them back: JSON lists and objects.
                args, kwargs = json.loads(json.dumps([list(args), kwargs]))
            else:  # the defaults (none, or the schedule's), checked once
                if defaults is None:
                    found.check_arguments(default_args, default_kwargs)
                    defaults = json.loads(json.dumps([list(default_args), default_kwargs]))
                args, kwargs = defaults
        except InvalidArguments as exc:
            if not many:
                raise
            raise InvalidArguments(f"call {n} to enqueue_many: {exc}") from None
        runs.append(
            Run(
                id=f"{base}{n:08x}",
                job=found.name,
                state=RunState.QUEUED,
                created_at=now,
                available_at=now,
                schedule=schedule.name if schedule is not None else None,
                args=tuple(args),
                kwargs=dict(kwargs),
                queue=queue,
                priority=priority,
                options=options,
                manual=True,
            )
        )
    store = app.store
    for start in range(0, len(runs), chunk):
        store.insert_runs(runs[start : start + chunk])
    return runs
