"""Row encoding shared by the stores: datetimes, JSON fields and named SQL.

Datetimes are stored as integer microseconds since the Unix epoch (UTC):
sortable, exact, and compared by the database without parsing. JSON fields
are stored as text; encoding them on the way in is also what refuses a value
that would not round-trip (a ``datetime`` argument, a set) before anything
is written.
"""

from __future__ import annotations

import functools
import importlib
import json
import os
import re
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from rota.errors import InvalidArguments, NaiveDatetime
from rota.runs import JSON, Run, RunOptions, RunState
from rota.stores.base import Advance, ScheduleRecord, stored_record


class Row(Protocol):
    """A result row read by column name (``sqlite3.Row``, a dict, …)."""

    def __getitem__(self, key: str, /) -> Any: ...


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICROSECOND = timedelta(microseconds=1)


def utc(dt: datetime, what: str) -> datetime:
    """``dt`` in UTC; ``NaiveDatetime`` naming ``what`` if it has no zone."""
    if dt.tzinfo is None:
        raise NaiveDatetime(what)
    return dt if dt.tzinfo is UTC else dt.astimezone(UTC)


def to_us(dt: datetime, what: str = "datetime") -> int:
    """Microseconds since the epoch for an aware datetime."""
    if dt.tzinfo is None:
        raise NaiveDatetime(what)
    return (dt - EPOCH) // _MICROSECOND


def opt_to_us(dt: datetime | None, what: str = "datetime") -> int | None:
    return None if dt is None else to_us(dt, what)


def from_us(us: int) -> datetime:
    return EPOCH + timedelta(microseconds=us)


def opt_from_us(us: int | None) -> datetime | None:
    return None if us is None else EPOCH + timedelta(microseconds=us)


STRICT_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False).encode
"""``dumps``'s encoder (what ``json.dumps`` with these options builds on every
call): for a caller that names the value only when encoding fails."""


def dumps(value: JSON, what: str) -> str:
    """Compact JSON text; ``InvalidArguments`` naming ``what`` if not JSON."""
    try:
        return STRICT_ENCODE(value)
    except (TypeError, ValueError) as exc:
        raise InvalidArguments(f"{what} must be JSON-serialisable: {exc}") from exc


_SCAN = json.JSONDecoder().raw_decode


def loads_spec(text: str) -> Any:
    """``json.loads(text)`` for a stored spec, without its per-call overhead (~1.5 of
    its ~7 µs for a spec: a tick decodes a thousand): text written by rota has no
    space around its one value; anything else takes the long way (and its errors)."""
    try:
        value, end = _SCAN(text)
    except ValueError:
        return json.loads(text)
    return value if end == len(text) else json.loads(text)


def loads(text: str | None) -> JSON:
    return None if text is None or text == "null" else json.loads(text)


def _loads_tuple(text: str) -> tuple[JSON, ...]:
    return () if text == "[]" else tuple(json.loads(text))


def _loads_dict(text: str) -> dict[str, JSON]:
    return {} if text == "{}" else dict(json.loads(text))


@functools.lru_cache(maxsize=256)
def _options(text: str) -> RunOptions:
    """Options decoded once per distinct text: most runs share a handful."""
    return RunOptions.from_json(json.loads(text))


_OPTIONS_TEXT: dict[int, tuple[RunOptions, str]] = {}
_OPTIONS_KEPT = 256


def options_text(options: RunOptions) -> str:
    """The JSON text of ``options``, encoded once per ``RunOptions`` object.

    A scheduler tick's runs share a handful of option objects (one per
    schedule policies and job), so most runs skip the encode. Keyed by
    identity, holding the object so its id cannot be reused meanwhile.
    """
    found = _OPTIONS_TEXT.get(id(options))
    if found is not None and found[0] is options:
        return found[1]
    text = dumps(options.to_json(), "options")
    if len(_OPTIONS_TEXT) >= _OPTIONS_KEPT:
        _OPTIONS_TEXT.clear()
    _OPTIONS_TEXT[id(options)] = (options, text)
    return text


def canonical(value: JSON, what: str) -> JSON:
    """``value`` as it comes back from JSON (tuples become lists, …): a private copy."""
    return json.loads(dumps(value, what))


# -- runs ------------------------------------------------------------------


RUN_COLUMNS = (
    "id",
    "job",
    "state",
    "schedule",
    "slot",
    "created_at",
    "available_at",
    "queue",
    "priority",
    "exclusive",
    "max_attempts",
    "options",
    "args",
    "kwargs",
    "attempt",
    "host",
    "manual",
    "parents",
    "started_at",
    "finished_at",
    "worker",
    "lease_token",
    "lease_expires_at",
    "cancel_requested",
    "result",
    "error",
    "traceback",
    "log",
    "checkpoint",
    "progress_done",
    "progress_total",
)
"""The columns of a run row, in the order ``run_values`` gives them."""


def run_values(run: Run) -> tuple[Any, ...]:
    """The column values of ``run`` in ``RUN_COLUMNS`` order: what a positional
    insert binds (binding 31 values by name costs SQLite a third of an insert)."""
    args, kwargs, parents, result, checkpoint = (
        run.args,
        run.kwargs,
        run.parents,
        run.result,
        run.checkpoint,
    )
    options = run.options
    # Most runs have no arguments, parents, result or checkpoint: their text is
    # what ``dumps`` would give, without building the error messages or an encode.
    return (
        run.id,
        run.job,
        run.state.value,
        run.schedule,
        opt_to_us(run.slot),
        to_us(run.created_at),
        to_us(run.available_at),
        run.queue,
        run.priority,
        int(options.exclusive),
        options.max_attempts,
        options_text(options),
        dumps(list(args), f"arguments of run {run.id!r}") if args else "[]",
        dumps(dict(kwargs), f"keyword arguments of run {run.id!r}") if kwargs else "{}",
        run.attempt,
        run.host,
        int(run.manual),
        dumps(list(parents), "parents") if parents else "[]",
        opt_to_us(run.started_at),
        opt_to_us(run.finished_at),
        run.worker,
        run.lease_token,
        opt_to_us(run.lease_expires_at),
        int(run.cancel_requested),
        "null" if result is None else dumps(result, f"result of run {run.id!r}"),
        run.error,
        run.traceback,
        run.log,
        "null" if checkpoint is None else dumps(checkpoint, f"checkpoint of run {run.id!r}"),
        run.progress_done,
        run.progress_total,
    )


def run_to_row(run: Run) -> dict[str, Any]:
    """The column values of ``run`` for the SQL backends, by column name."""
    return dict(zip(RUN_COLUMNS, run_values(run), strict=True))


def row_to_run(row: Row) -> Run:
    """The ``Run`` a row written by ``run_to_row`` (and updated since) holds."""
    return Run(
        id=row["id"],
        job=row["job"],
        state=RunState(row["state"]),
        schedule=row["schedule"],
        slot=opt_from_us(row["slot"]),
        created_at=from_us(row["created_at"]),
        available_at=from_us(row["available_at"]),
        queue=row["queue"],
        priority=row["priority"],
        options=_options(row["options"]),
        args=_loads_tuple(row["args"]),
        kwargs=_loads_dict(row["kwargs"]),
        attempt=row["attempt"],
        host=row["host"],
        manual=bool(row["manual"]),
        parents=_loads_tuple(row["parents"]),
        started_at=opt_from_us(row["started_at"]),
        finished_at=opt_from_us(row["finished_at"]),
        worker=row["worker"],
        lease_token=row["lease_token"],
        lease_expires_at=opt_from_us(row["lease_expires_at"]),
        cancel_requested=bool(row["cancel_requested"]),
        result=loads(row["result"]),
        error=row["error"],
        traceback=row["traceback"],
        log=row["log"],
        checkpoint=loads(row["checkpoint"]),
        progress_done=row["progress_done"],
        progress_total=row["progress_total"],
    )


# -- schedules -------------------------------------------------------------


def schedule_to_row(record: ScheduleRecord) -> dict[str, Any]:
    what = f"schedule {record.name!r}"
    return {
        "name": record.name,
        "job": record.job,
        "spec": dumps(dict(record.spec), f"spec of {what}"),
        "created_at": to_us(record.created_at, f"created_at of {what}"),
        "updated_at": to_us(record.updated_at, f"updated_at of {what}"),
        "source": record.source,
        "paused": int(record.paused),
        "retired": int(record.retired),
        "last_slot": opt_to_us(record.last_slot, f"last_slot of {what}"),
        "next_due": opt_to_us(record.next_due, f"next_due of {what}"),
        "version": record.version,
        "per_host": int(record.per_host),
    }


SCHEDULE_COLUMNS = (
    "name",
    "job",
    "spec",
    "created_at",
    "updated_at",
    "source",
    "paused",
    "retired",
    "last_slot",
    "next_due",
    "version",
    "per_host",
)
"""The columns of a schedule row, in the order ``schedules_from_values`` reads them."""


def advance_values(advance: Advance) -> tuple[str, int, int | None, int | None]:
    """(name, expected version, last slot, next due) of ``advance``, times in
    microseconds, as every store's advance statements take them; refuses a
    naive datetime."""
    return (
        advance.name,
        advance.expected_version,
        opt_to_us(advance.last_slot, "last_slot"),
        opt_to_us(advance.next_due, "next_due"),
    )


class Instants(dict[int, datetime]):
    """Microseconds since the epoch as datetimes, each converted once (``from_us``
    costs a microsecond): the records a tick reads share a few instants."""

    def __missing__(self, us: int) -> datetime:
        dt = self[us] = from_us(us)
        return dt


def schedules_from_values(rows: Iterable[Sequence[Any]]) -> list[ScheduleRecord]:
    """The schedule of each row selected in ``SCHEDULE_COLUMNS`` order: a tick
    decodes a thousand, and reading columns by position skips a lookup per
    column."""
    at = Instants()
    return [schedule_from_values(row, at) for row in rows]


def schedule_from_values(row: Sequence[Any], at: Instants) -> ScheduleRecord:
    """One row of ``schedules_from_values`` (what follows its 12 columns is ignored),
    its instants through ``at``."""
    last, due = row[8], row[9]
    return stored_record(
        row[0],
        row[1],
        loads_spec(row[2]),
        at[row[3]],
        at[row[4]],
        row[5],
        bool(row[6]),
        bool(row[7]),
        None if last is None else at[last],
        None if due is None else at[due],
        row[10],
        bool(row[11]),
    )


def row_to_schedule(row: Row) -> ScheduleRecord:
    return ScheduleRecord(
        name=row["name"],
        job=row["job"],
        spec=json.loads(row["spec"]),
        created_at=from_us(row["created_at"]),
        updated_at=from_us(row["updated_at"]),
        source=row["source"],
        paused=bool(row["paused"]),
        retired=bool(row["retired"]),
        last_slot=opt_from_us(row["last_slot"]),
        next_due=opt_from_us(row["next_due"]),
        version=row["version"],
        per_host=bool(row["per_host"]),
    )


def normalize_schedule(record: ScheduleRecord) -> ScheduleRecord:
    """``record`` as a SQL backend would return it: UTC datetimes, a private JSON spec."""
    return row_to_schedule(schedule_to_row(record))


# -- named SQL -------------------------------------------------------------

_NAME = re.compile(r"^--\s*name:\s*(\w+)\s*$", re.MULTILINE)


def package_file(package: str, resource: str) -> str:
    """The path of ``resource`` (``"sql/sqlite/queries.sql"``) inside the imported ``package``.

    A plain path next to the package's ``__init__.py`` rather than
    ``importlib.resources``, whose import costs every ``rota run`` ~10 ms:
    the .sql files ship inside the package directory.
    """
    init = importlib.import_module(package).__file__
    assert init is not None, f"{package} is not a regular package"
    return os.path.join(os.path.dirname(init), *resource.split("/"))


def load_queries(package: str, resource: str) -> dict[str, str]:
    """The ``-- name: x`` blocks of a packaged .sql file, by name."""
    with open(package_file(package, resource), encoding="utf-8") as file:
        text = file.read()
    parts = _NAME.split(text)
    queries = {name: body.strip() for name, body in zip(parts[1::2], parts[2::2], strict=True)}
    if len(queries) != len(parts) // 2:
        raise RuntimeError(f"duplicate query name in {package}/{resource}")
    return queries


def split_statements(script: str, complete: Callable[[str], bool]) -> Iterator[str]:
    """The statements of ``script``, line by line until ``complete`` says one ends.

    Lets a migration run statement by statement inside the caller's
    transaction (``executescript`` would commit first).
    """
    buffer: list[str] = []
    for line in script.splitlines(keepends=True):
        buffer.append(line)
        text = "".join(buffer)
        if complete(text):
            if text.strip():
                yield text.strip()
            buffer = []
    rest = "".join(buffer)
    if rest.strip() and not all(
        ln.strip().startswith("--") or not ln.strip() for ln in rest.splitlines()
    ):
        raise ValueError(f"unterminated SQL statement: {rest.strip()[:60]!r}")
