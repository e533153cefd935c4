"""PostgreSQL plumbing for ``rota.stores.postgres``: the URL, the connection
pool, migrations, how rows are written and loaded, and error translation.

Imported only by the PostgreSQL store, so that ``import rota.stores`` never
imports psycopg.
"""

from __future__ import annotations

import math
import re
import struct
from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from importlib import resources
from typing import Any
from urllib.parse import parse_qsl, quote, urlencode, urlsplit, urlunsplit

import psycopg
from psycopg import abc, sql
from psycopg.adapt import Buffer, Loader
from psycopg.pq import Format
from psycopg.rows import dict_row
from psycopg_pool import ConnectionPool, PoolClosed

from rota.errors import ConfigurationError, StoreUnavailable
from rota.runs import Run
from rota.stores import _codec, _rules
from rota.stores.base import Advance, Outcome, ScheduleRecord, stored_record

DEFAULT_SCHEMA = "rota"
_SCHEMA = re.compile(r"^[a-z_][a-z0-9_]{0,57}$")
"""Lower-case, unquoted, short enough for the channel ``rota_<schema>``."""
_ROTA_OPTIONS = frozenset({"schema", "pool_min", "pool_max", "pool_timeout"})


@dataclass(frozen=True, slots=True)
class Settings:
    """What a ``postgresql://`` store URL says, rota's own query options apart."""

    conninfo: str
    """The URL for libpq, without rota's options."""
    schema: str = DEFAULT_SCHEMA
    pool_min: int = 1
    pool_max: int = 10
    pool_timeout: float = 10.0
    """Seconds a call waits for a pooled connection before ``StoreUnavailable``."""
    server: str = "localhost:5432"
    """``host:port`` for messages: never the password."""
    application_name: str | None = None
    """Set on every connection (``rota:<schema>``) unless the URL names one."""

    @property
    def connect_timeout(self) -> int:
        """For libpq, which takes whole seconds (and at least 2)."""
        return max(2, round(self.pool_timeout))

    @property
    def channel(self) -> str:
        return f"rota_{self.schema}"

    def connect_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {"autocommit": True}
        if self.application_name is not None:
            kwargs["application_name"] = self.application_name
        return kwargs


def _option(url: str, name: str, value: str, kind: type[int] | type[float]) -> Any:
    try:
        number = kind(value)
    except ValueError:
        number = 0
    if not 0 < number < math.inf:
        raise ConfigurationError(
            f"bad {name}={value!r} in PostgreSQL store URL {_redact(url)!r}: "
            f"expected a positive {kind.__name__}"
        )
    return number


def parse_url(url: str) -> Settings:
    """``postgresql://user:pw@host:port/db?schema=rota&pool_max=10&…`` as ``Settings``.

    ``schema`` (default ``rota``), ``pool_min``, ``pool_max`` and
    ``pool_timeout`` are rota's; every other parameter goes to libpq.
    """
    parts = urlsplit(url)
    if parts.scheme.lower() not in ("postgresql", "postgres"):
        raise ConfigurationError(f"not a PostgreSQL store URL: {_redact(url)!r}")
    query = parse_qsl(parts.query, keep_blank_values=True)
    ours = {k: v for k, v in query if k in _ROTA_OPTIONS}
    libpq = [(k, v) for k, v in query if k not in _ROTA_OPTIONS]
    schema = ours.get("schema", DEFAULT_SCHEMA)
    if not _SCHEMA.match(schema):
        raise ConfigurationError(
            f"bad schema={schema!r} in PostgreSQL store URL {_redact(url)!r}: use lower-case "
            "letters, digits and '_' (at most 58, not starting with a digit)"
        )
    pool_min = _option(url, "pool_min", ours.get("pool_min", "1"), int)
    pool_max = _option(url, "pool_max", ours.get("pool_max", "10"), int)
    if pool_min > pool_max:
        raise ConfigurationError(
            f"pool_min={pool_min} is more than pool_max={pool_max} in {_redact(url)!r}"
        )
    base = url.partition("?")[0]  # not urlunsplit: it turns postgresql:///db into postgresql:/db
    conninfo = f"{base}?{urlencode(libpq, quote_via=quote)}" if libpq else base
    try:
        params = psycopg.conninfo.conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError as exc:
        raise ConfigurationError(f"bad PostgreSQL store URL {_redact(url)!r}: {exc}") from exc
    return Settings(
        conninfo=conninfo,
        schema=schema,
        pool_min=pool_min,
        pool_max=pool_max,
        pool_timeout=_option(url, "pool_timeout", ours.get("pool_timeout", "10"), float),
        server=f"{params.get('host') or 'localhost'}:{params.get('port') or 5432}",
        application_name=None if "application_name" in params else f"rota:{schema}"[:63],
    )


def _redact(url: str) -> str:
    """``url`` with its password, if any, replaced by ``***``."""
    parts = urlsplit(url)
    if parts.password is None:
        return url
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


# -- rows --------------------------------------------------------------------

_MIGRATION_FILE = re.compile(r"^(\d{4})_(\w+)\.sql$")
_RUN_TIMES = ("slot", "created_at", "available_at", "started_at", "finished_at", "lease_expires_at")


def migrations() -> list[tuple[int, str, str]]:
    """``(version, name, sql)`` of every packaged migration, in order."""
    folder = resources.files("rota.stores").joinpath("sql/postgres")
    found = []
    for entry in folder.iterdir():
        match = _MIGRATION_FILE.match(entry.name)
        if match:
            found.append((int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    return sorted(found)


def free_text(value: str | None) -> str | None:
    """Free text for a ``text`` column, which cannot hold NUL: U+FFFD in its place."""
    return value.replace("\x00", "\ufffd") if value and "\x00" in value else value


def run_params(run: Run) -> dict[str, Any]:
    """The column values of ``run``: ``_codec``'s row, with PostgreSQL's own types."""
    row = _codec.run_to_row(run)
    for name in _RUN_TIMES:
        row[name] = getattr(run, name)
    row["exclusive"] = run.options.exclusive
    row["manual"] = run.manual
    row["cancel_requested"] = run.cancel_requested
    for name in ("error", "traceback", "log"):
        row[name] = free_text(row[name])
    return row


def schedule_params(record: ScheduleRecord) -> dict[str, Any]:
    row = _codec.schedule_to_row(record)  # also refuses naive datetimes, naming them
    for name in ("created_at", "updated_at", "last_slot", "next_due"):
        row[name] = getattr(record, name)
    row["paused"] = record.paused
    row["retired"] = record.retired
    row["per_host"] = record.per_host
    return row


def finish_params(run_id: str, token: str, outcome: Outcome, now: datetime) -> dict[str, Any]:
    """``_rules.finish_params`` with text PostgreSQL can hold (no NUL characters)."""
    params = _rules.finish_params(run_id, token, outcome, now)
    for name in ("error", "traceback", "log"):
        params[name] = free_text(params[name])
    return params


def aware(dt: datetime | None, what: str) -> datetime | None:
    return None if dt is None else _codec.utc(dt, what)


# -- batches as JSON -----------------------------------------------------------

_EPOCH = _codec.EPOCH
_MICROSECOND = timedelta(microseconds=1)


def _us(dt: datetime | None) -> int | None:
    """``_codec.opt_to_us`` for a run's datetimes (aware: ``Run`` sees to it)."""
    return None if dt is None else (dt - _EPOCH) // _MICROSECOND


def _float(value: float | None) -> str | None:
    """A double as text: ``float8in`` reads ``inf`` and ``nan``, which JSON cannot hold."""
    return None if value is None else repr(float(value))


def _run_row(run: Run) -> list[Any]:
    """The columns of ``run`` but its JSON ones, in the ``fire`` query's order:
    ``run_params``'s values, with timestamps in microseconds (a ``StrEnum`` state
    encodes as its value)."""
    options = run.options
    error, traceback, log = run.error, run.traceback, run.log
    return [
        run.id,
        run.job,
        run.state,
        run.schedule,
        _us(run.slot),
        _us(run.created_at),
        _us(run.available_at),
        run.queue,
        run.priority,
        options.exclusive,
        options.max_attempts,
        run.attempt,
        run.host,
        run.manual,
        _us(run.started_at),
        _us(run.finished_at),
        run.worker,
        run.lease_token,
        _us(run.lease_expires_at),
        run.cancel_requested,
        free_text(error) if error else error,
        free_text(traceback) if traceback else traceback,
        free_text(log) if log else log,
        _float(run.progress_done),
        _float(run.progress_total),
    ]


def _by_id(run: Run) -> str:
    return run.id


def runs_params(runs: Sequence[Run]) -> dict[str, str]:
    """``runs`` as the ``fire`` query's JSON documents, sorted by id (stably: of a
    repeated id the first comes first).

    ``runs``: one array per run, its columns but the JSON ones (``_run_row``),
    read as ``jsonb``. The JSON values go in one ``json`` array per column,
    each element nested as itself, not as a string: the server keeps each
    element's text exactly as written (``json_array_elements``), which is
    what ``_codec.dumps`` would give, with no encode per run. Options are
    already text (``options_text``, encoded once per options object), joined
    as they are.

    One C encode per document: psycopg would dump one binary array per column,
    element by element in Python (~20 ms for 1,000 runs; this, ~4 ms). A
    value that is not JSON raises ``InvalidArguments`` naming it, as
    ``_codec.run_to_row`` does (it is asked again, to say which).
    """
    ordered = sorted(runs, key=_by_id)
    try:
        return {
            "runs": _codec.dumps([_run_row(run) for run in ordered], "runs"),
            "options": f"[{','.join([_codec.options_text(run.options) for run in ordered])}]",
            "args": _codec.dumps([run.args for run in ordered], "runs"),
            "kwargs": _codec.dumps([_dict(run.kwargs) for run in ordered], "runs"),
            "parents": _codec.dumps([run.parents for run in ordered], "runs"),
            "results": _codec.dumps([run.result for run in ordered], "runs"),
            "checkpoints": _codec.dumps([run.checkpoint for run in ordered], "runs"),
        }
    except (TypeError, ValueError):
        for run in ordered:
            _codec.run_to_row(run)
        raise


def _dict(mapping: Mapping[str, Any]) -> dict[str, Any]:
    """A mapping the encoder takes (it takes ``dict`` alone), as ``run_to_row`` copies it."""
    return mapping if type(mapping) is dict else dict(mapping)


NO_RUNS = runs_params(())
"""``runs_params`` of no runs: every document an empty array."""


def advance_rows(advances: Sequence[Advance]) -> list[tuple[Any, ...]]:
    """The ``fire`` query's rows for ``advances`` (``_codec.advance_values``);
    refuses a naive datetime first."""
    return [_codec.advance_values(a) for a in advances]


def advances_json(rows: Sequence[Sequence[Any]]) -> str:
    """``advance_rows`` as the ``fire`` query's JSON document."""
    return _codec.dumps(rows, "advances")


def names_json(names: Iterable[str]) -> str:
    """Text keys as one JSON array: psycopg dumps a ``text[]`` element by element."""
    return _codec.dumps(list(names), "names")


# -- loading rows ------------------------------------------------------------

_PG_EPOCH_US = 946_684_800_000_000
"""2000-01-01 (PostgreSQL's epoch) in microseconds since the Unix epoch."""
_INT8 = struct.Struct("!q")


class MicrosecondsLoader(Loader):
    """A binary ``timestamptz`` as integer microseconds since the Unix epoch (UTC).

    The shape ``rota.stores._codec`` decodes, so the SQL stores share one row
    codec; exact, and independent of the session's time zone.
    """

    format = Format.BINARY

    def load(self, data: Buffer) -> int:
        value: int = _INT8.unpack(data)[0]
        return value + _PG_EPOCH_US


def schedule_from_tuple(row: Sequence[Any]) -> ScheduleRecord:
    """The ``ScheduleRecord`` of a due query's row (what follows its 12 columns is
    ignored).

    Read as a tuple, its timestamps by psycopg's own (C) ``timestamptz``
    loader, aware UTC since the session's time zone is UTC (see
    ``configure``), and its spec as text, parsed here: about half the cost of
    dict rows through ``MicrosecondsLoader`` and ``_codec``.
    """
    return stored_record(
        row[0],
        row[1],
        _codec.loads_spec(row[2]),
        row[3],
        row[4],
        row[5],
        row[6],
        row[7],
        row[8],
        row[9],
        row[10],
        row[11],
    )


def utc_loader() -> type[abc.Loader]:
    """psycopg's binary ``timestamptz`` loader (its C one when available): aware
    datetimes in the session's time zone."""
    loader = psycopg.adapters.get_loader(psycopg.postgres.types["timestamptz"].oid, Format.BINARY)
    assert loader is not None
    return loader


class JsonTextLoader(Loader):
    """A ``json`` value as its text, decoded by ``_codec`` exactly as SQLite's."""

    format = Format.BINARY

    def load(self, data: Buffer) -> str:
        return bytes(data).decode("utf-8")


def configure(schema: str) -> Any:
    """The pool's per-connection set-up: row loaders, the search path, and UTC
    as the time zone, in which psycopg's own loader gives aware UTC datetimes
    (``schedule_from_tuple``); nothing rota asks the server depends on it."""

    def setup(conn: psycopg.Connection[Any]) -> None:
        conn.adapters.register_loader("timestamptz", MicrosecondsLoader)
        conn.adapters.register_loader("json", JsonTextLoader)
        # One round trip: without parameters, psycopg sends both as one simple query.
        conn.execute(
            sql.SQL("SET search_path TO {}; SET TimeZone TO 'UTC'").format(sql.Identifier(schema))
        )

    return setup


def open_pool(settings: Settings) -> ConnectionPool[psycopg.Connection[Any]]:
    """A small pool, opened: ``StoreUnavailable`` naming the server if it cannot connect."""
    _probe(settings)
    pool: ConnectionPool[psycopg.Connection[Any]] = ConnectionPool(
        settings.conninfo,
        kwargs=settings.connect_kwargs() | {"row_factory": dict_row},
        min_size=settings.pool_min,
        max_size=settings.pool_max,
        open=False,
        configure=configure(settings.schema),
        timeout=settings.pool_timeout,
        name=f"rota:{settings.schema}",
    )
    try:
        pool.open(wait=True, timeout=settings.pool_timeout)
    except psycopg.OperationalError as exc:
        pool.close()
        raise StoreUnavailable(
            f"cannot connect to PostgreSQL at {settings.server}: {first_line(exc)}"
        ) from exc
    return pool


def _probe(settings: Settings) -> None:
    """Connect once, directly: fail at once with the server's reason (the pool
    would retry until its timeout, then say only that it timed out)."""
    try:
        psycopg.connect(
            settings.conninfo, connect_timeout=settings.connect_timeout, **settings.connect_kwargs()
        ).close()
    except psycopg.Error as exc:
        raise StoreUnavailable(
            f"cannot connect to PostgreSQL at {settings.server}: {first_line(exc)}"
        ) from exc


def first_line(exc: BaseException) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


@contextmanager
def translated(settings: Settings, pool: ConnectionPool[Any] | None) -> Iterator[None]:
    """psycopg's connection-level errors as ``StoreUnavailable`` naming the server."""
    try:
        yield
    except PoolClosed as exc:
        raise StoreUnavailable(f"PostgreSQL store at {settings.server} is closed") from exc
    except psycopg.OperationalError as exc:
        if pool is not None:
            # Drop every dead idle connection now (after a server restart they all
            # are), so that the next call gets a live one, not another error.
            with suppress(psycopg.Error):
                pool.check()
        raise StoreUnavailable(f"PostgreSQL at {settings.server}: {first_line(exc)}") from exc
