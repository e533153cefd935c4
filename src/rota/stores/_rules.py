"""What the store operations do to a run, as pure functions.

The memory store applies them directly; the SQL stores use them where an
operation is not on the hot path (reclaim, cancel, requeue) so that every
backend agrees on the details: which fields a state change resets, what
the error of a lapsed lease says.
"""

from __future__ import annotations

import secrets
from dataclasses import replace
from datetime import datetime
from typing import Any

from rota.errors import IllegalTransition, RunNotFound
from rota.runs import JSON, Run, RunState, check_transition
from rota.stores import _codec
from rota.stores.base import Outcome, check_finish_state


def new_token() -> str:
    """A fresh, unguessable lease token."""
    return secrets.token_hex(16)


def updated(run: Run, **changes: Any) -> Run:
    """``run`` with ``changes``; the caller has already checked the transition."""
    return replace(run, **changes)


def not_found(run_id: str) -> RunNotFound:
    return RunNotFound(f"no run with id {run_id!r}")


def serves_host(run: Run, host: str | None) -> bool:
    """Whether a claim by ``host`` may take ``run``: a per-host run only by its own host."""
    return run.host is None or run.host == host


def claimed(run: Run, worker: str, now: datetime, expires: datetime, token: str) -> Run:
    """``run`` as ``claim_runs`` leaves it."""
    return updated(
        run,
        state=RunState.RUNNING,
        attempt=run.attempt + 1,
        lease_token=token,
        lease_expires_at=expires,
        started_at=now,
        worker=worker,
        cancel_requested=False,
    )


def finish_changes(outcome: Outcome, result: JSON, now: datetime) -> dict[str, Any]:
    """The fields ``finish_run`` sets (``attempt`` aside, see ``gives_back_attempt``)."""
    terminal = outcome.state.is_terminal
    available = outcome.available_at
    return {
        "state": outcome.state,
        "finished_at": now if terminal else None,
        "available_at": None
        if terminal
        else (now if available is None else _codec.utc(available, "available_at")),
        "lease_token": None,
        "lease_expires_at": None,
        "cancel_requested": False,
        "result": result,
        "error": outcome.error,
        "traceback": outcome.traceback,
        "log": outcome.log,
    }


def gives_back_attempt(outcome: Outcome) -> bool:
    """A released run (``QUEUED``) never started its work: its attempt does not count."""
    return outcome.state is RunState.QUEUED


def finished(run: Run, outcome: Outcome, result: JSON, now: datetime) -> Run:
    changes = finish_changes(outcome, result, now)
    if changes["available_at"] is None:
        del changes["available_at"]
    if gives_back_attempt(outcome):
        changes["attempt"] = max(0, run.attempt - 1)
    return updated(run, **changes)


def reclaimed(run: Run, now: datetime) -> Run:
    """A running run whose lease lapsed: retried, failed, or cancelled if asked to be."""
    expired_at = run.lease_expires_at.isoformat() if run.lease_expires_at else "?"
    error = f"lease expired at {expired_at} (worker {run.worker!r} stopped renewing it)"
    changes: dict[str, Any] = {"lease_token": None, "lease_expires_at": None, "error": error}
    if run.cancel_requested:
        changes.update(state=RunState.CANCELLED, finished_at=now)
    elif run.attempt < run.options.max_attempts:
        changes.update(state=RunState.RETRYING, available_at=now)
    else:
        changes.update(state=RunState.FAILED, finished_at=now)
    return updated(run, **changes)


def cancelled(run: Run, now: datetime) -> Run | None:
    """``run`` after ``request_cancel``, or None when it is finished (unchanged)."""
    if run.state is RunState.RUNNING:
        return None if run.cancel_requested else updated(run, cancel_requested=True)
    if run.state.is_terminal:
        return None
    return updated(run, state=RunState.CANCELLED, finished_at=now)


def requeued(run: Run, now: datetime) -> Run:
    """An operator retry: a fresh start (attempts, timings, outcome), keeping the checkpoint.

    ``IllegalTransition`` unless ``run`` is finished and may be queued again.
    """
    if not run.state.is_terminal:
        raise IllegalTransition(
            f"run {run.id!r} is {run.state}, not finished; only a finished run can be requeued"
        )
    check_transition(run.id, run.state, RunState.QUEUED)
    return updated(
        run,
        state=RunState.QUEUED,
        available_at=now,
        attempt=0,
        started_at=None,
        finished_at=None,
        worker=None,
        lease_token=None,
        lease_expires_at=None,
        cancel_requested=False,
        result=None,
        error=None,
        traceback=None,
        log="",
        progress_done=None,
        progress_total=None,
    )


def finish_params(run_id: str, token: str, outcome: Outcome, now: datetime) -> dict[str, Any]:
    """The parameters of a SQL ``finish_run`` (datetimes as given, text as given);
    refuses a bad outcome first. Backends adapt only their own encodings."""
    check_finish_state(run_id, outcome)
    changes = finish_changes(outcome, outcome.result, now)
    return {
        "id": run_id,
        "token": token,
        "state": outcome.state.value,
        "finished_at": changes["finished_at"],
        "available_at": changes["available_at"],
        "give_back": int(gives_back_attempt(outcome)),
        "result": _codec.dumps(outcome.result, f"result of run {run_id!r}"),
        "error": outcome.error,
        "traceback": outcome.traceback,
        "log": outcome.log,
    }


def settle_verdict(child: Run, parents: dict[str, Run]) -> tuple[RunState, str | None] | None:
    """Where the waiting ``child`` goes given its ``parents`` as stored (by id;
    absent ones are not stored yet): ``queued`` once all succeeded,
    ``upstream_failed`` (with the reason) once one ended otherwise, else None."""
    pending = False
    for parent_id in child.parents:
        parent = parents.get(parent_id)
        if parent is None or not parent.state.is_terminal:
            pending = True
        elif parent.state is not RunState.SUCCEEDED:
            name = parent.schedule or parent.job
            return RunState.UPSTREAM_FAILED, (
                f"UpstreamFailed: parent run {parent.id} of {name!r} ended {parent.state}"
            )
    return None if pending else (RunState.QUEUED, None)


def release_state(state: RunState) -> RunState:
    """``state`` if ``release_waiting`` takes it (queued, upstream_failed), else ``ValueError``."""
    if state not in (RunState.QUEUED, RunState.UPSTREAM_FAILED):
        raise ValueError(f"a waiting run is released as queued or upstream_failed, not {state}")
    return RunState(state)


def release_params(
    run_id: str, state: RunState, now: datetime, error: str | None
) -> dict[str, Any]:
    """The parameters of a SQL ``release_waiting`` (``now`` in UTC, text as given);
    refuses a bad ``state``, then a naive ``now``. Backends adapt only their own
    encodings."""
    state = release_state(state)
    now = _codec.utc(now, "now")
    queued = state is RunState.QUEUED
    return {
        "id": run_id,
        "state": state.value,
        "available_at": now if queued else None,
        "finished_at": None if queued else now,
        "set_error": not queued,
        "error": None if queued else error,
    }


def released(run: Run, state: RunState, now: datetime, error: str | None) -> Run:
    """``run`` (waiting) moved on by ``release_waiting``."""
    if state is RunState.QUEUED:
        return updated(run, state=state, available_at=now)
    return updated(run, state=release_state(state), finished_at=now, error=error)
