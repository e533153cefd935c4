"""From command-line options to a ``Schedule``: what ``rota schedules add`` and
``edit`` (and ``rota trigger``'s arguments) are made of.

Every option arrives as the text the user typed and is checked here, so a
bad one is one ``error:`` line naming the option (exit 2) before anything
is stored: JSON arguments, durations (``90``, ``30s``, ``10m``, ``1h30m``),
ISO 8601 instants, the choice of one trigger. What the options describe is
then checked in full by ``Rota.add_schedule``/``edit_schedule`` (job,
signature, cron expression, timezone, parents and cycles).
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from datetime import datetime, tzinfo
from typing import TYPE_CHECKING, Any

from rota.errors import ConfigurationError, InvalidArguments

if TYPE_CHECKING:
    from rota.app import Rota
    from rota.schedule import Schedule
    from rota.stores.base import ScheduleRecord

_DURATION_PART = re.compile(r"(\d+(?:\.\d+)?)([smhd])")
_DURATION = re.compile(rf"(?:{_DURATION_PART.pattern})+")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3_600, "d": 86_400}
_DEFAULT_CRON = "* * * * *"
"""A schedule without a frequency of its own: an ``after`` child takes its parents'."""


# -- single values --------------------------------------------------------------------------


def json_args(text: str | None, option: str = "--args") -> list[Any]:
    """``--args``: a JSON array of positional arguments (none when not given)."""
    if text is None:
        return []
    value = _json(text, option)
    if not isinstance(value, list):
        raise InvalidArguments(
            f"{option} must be a JSON array, e.g. '[42, \"eu\"]', not {_json_kind(value)}"
        )
    return value


def json_kwargs(text: str | None, option: str = "--kwargs") -> dict[str, Any]:
    """``--kwargs``: a JSON object of keyword arguments (none when not given)."""
    if text is None:
        return {}
    value = _json(text, option)
    if not isinstance(value, dict):
        raise InvalidArguments(
            f'{option} must be a JSON object, e.g. \'{{"region": "eu"}}\', not {_json_kind(value)}'
        )
    return value


def _json(text: str, option: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise InvalidArguments(
            f"{option} is not valid JSON ({exc.msg} at column {exc.colno}): {text!r}"
        ) from None


def _json_kind(value: Any) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), "a number")


def duration(text: str, option: str) -> float:
    """Seconds from ``90``, ``2.5``, ``30s``, ``10m``, ``1h``, ``1h30m``, ``2d``."""
    cleaned = text.strip().lower()
    seconds: float | None = None
    if _DURATION.fullmatch(cleaned):
        parts = _DURATION_PART.findall(cleaned)
        seconds = sum(float(n) * _UNIT_SECONDS[unit] for n, unit in parts)
    else:
        try:
            seconds = float(cleaned)
        except ValueError:
            seconds = None
    if seconds is None or not math.isfinite(seconds) or seconds <= 0:
        raise ConfigurationError(
            f"invalid {option} {text!r} (expected a positive number of seconds or a "
            "duration such as 30s, 10m, 1h, 1h30m, 2d)"
        )
    return seconds


def parse_instant(text: str, tz: tzinfo, option: str) -> datetime:
    """An ISO 8601 instant given to ``option``; without an offset it is read in ``tz``."""
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigurationError(
            f"invalid {option} {text!r} (expected ISO 8601, e.g. 2026-11-24T07:30 "
            "or 2026-11-24T07:30+01:00)"
        ) from None
    return at.replace(tzinfo=tz) if at.tzinfo is None else at


def instant(text: str, tz: str | None) -> datetime:
    """``--at``: ISO 8601; without an offset it is read in ``tz`` (default UTC)."""
    from rota._zones import zone

    return parse_instant(text, zone(tz or "UTC"), "--at")  # a bad --tz is named first


def comma_names(text: str) -> tuple[str, ...]:
    """``a, b,,a`` -> ``("a", "b")``: the names in order, each once, blanks dropped."""
    return tuple(dict.fromkeys(name.strip() for name in text.split(",") if name.strip()))


def parents(text: str | None) -> tuple[str, ...]:
    """``--after a,b``: the parent schedules' names, in order, each once."""
    if text is None:
        return ()
    names = comma_names(text)
    if not names:
        raise ConfigurationError("--after needs one or more schedule names, e.g. --after a,b")
    return names


# -- the options of add and edit ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class When:
    """``--cron``, ``--every``, ``--at`` (at most one) and ``--tz``."""

    cron: str | None = None
    every: str | None = None
    at: str | None = None
    tz: str | None = None

    def chosen(self) -> tuple[str, str] | None:
        """The one trigger option given, as (option, value); None when none is."""
        given = [
            (option, value)
            for option, value in (("--cron", self.cron), ("--every", self.every), ("--at", self.at))
            if value is not None
        ]
        if len(given) > 1:
            both = " and ".join(option for option, _ in given)
            raise ConfigurationError(f"give one of --cron, --every and --at, not {both}")
        return given[0] if given else None

    def apply(self, schedule: Schedule, tz: str | None) -> None:
        """Give ``schedule`` the chosen trigger, read in ``tz`` (default UTC)."""
        chosen = self.chosen()
        if tz is not None:
            schedule.timezone(tz)
        if chosen is None:
            return
        option, value = chosen
        if option == "--cron":
            schedule.cron(value)
        elif option == "--every":
            schedule.every(duration(value, "--every"))
        else:
            schedule.once_at(instant(value, tz))


@dataclass(frozen=True, slots=True)
class Policy:
    """``--queue``, ``--priority``, ``--retries``, ``--timeout``, ``--overlap``, ``--catch-up``."""

    queue: str | None = None
    priority: int | None = None
    retries: int | None = None
    timeout: str | None = None
    overlap: str | None = None
    catch_up: str | None = None

    def apply(self, schedule: Schedule) -> None:
        """Set the given policies on ``schedule``; the others stay as they are."""
        if self.queue is not None:
            schedule.on_queue(self.queue)
        if self.priority is not None:
            schedule.priority(self.priority)
        if self.retries is not None:
            schedule.retries(self.retries)
        if self.timeout is not None:
            schedule.timeout(duration(self.timeout, "--timeout"))
        if self.overlap is not None:
            schedule.overlap(self.overlap)  # type: ignore[arg-type]  # checked: one line if bad
        if self.catch_up is not None:
            schedule.catch_up(self.catch_up)  # type: ignore[arg-type]


@dataclass(frozen=True, slots=True)
class Definition:
    """Everything ``rota schedules add``/``edit`` can say about a schedule (None: not given)."""

    job: str | None = None
    args: str | None = None
    kwargs: str | None = None
    after: str | None = None
    when: When = When()
    policy: Policy = Policy()


def new_schedule(app: Rota, name: str, definition: Definition) -> Schedule:
    """The schedule ``rota schedules add NAME`` describes, built with ``app.new_schedule``."""
    if definition.job is None:
        names = app.jobs.names()
        known = ", ".join(names[:10]) + (", …" if len(names) > 10 else "") or "none registered"
        raise ConfigurationError(f"give the job to run: --job JOB (the app's jobs: {known})")
    args = json_args(definition.args)
    kwargs = json_kwargs(definition.kwargs)
    after = parents(definition.after)
    if definition.when.chosen() is None and not after:
        raise ConfigurationError(
            "say when it fires: --cron EXPR, --every SECONDS or --at ISO (or --after PARENTS "
            "to run after other schedules)"
        )
    schedule = app.new_schedule(definition.job, *args, **kwargs).named(name)
    definition.when.apply(schedule, definition.when.tz)
    if after:
        schedule.after(*after)
    definition.policy.apply(schedule)
    return schedule


def edited_schedule(record: ScheduleRecord, definition: Definition) -> Schedule:
    """The stored schedule ``record`` with what ``definition`` gives changed, the rest kept.

    A new trigger option (or ``--tz``) replaces the trigger, in the stored
    timezone unless ``--tz`` is given; new parents (``--after``) without a
    trigger option give it its new parents' slots.
    """
    from rota.schedule import Schedule

    spec = dict(record.spec)
    if definition.job is not None:
        spec["job"] = definition.job
    if definition.args is not None:
        spec["args"] = json_args(definition.args)
    if definition.kwargs is not None:
        spec["kwargs"] = json_kwargs(definition.kwargs)
    after = parents(definition.after)
    if after:
        spec["after"] = list(after)
    when = definition.when
    if when.chosen() is not None or when.tz is not None:
        spec["trigger"] = _trigger_spec(record, spec, when)
    elif after:
        spec["trigger"] = _probe(record, spec).cron(_DEFAULT_CRON).to_spec()["trigger"]
    schedule = Schedule.from_spec(spec)
    definition.policy.apply(schedule)
    return schedule


def _trigger_spec(record: ScheduleRecord, spec: dict[str, Any], when: When) -> Any:
    """The stored trigger with ``when`` applied: a new one, or the old one in a new zone."""
    from rota.schedule import Schedule

    old = Schedule.from_spec(record.spec)
    probe = _probe(record, spec)
    tz = when.tz if when.tz is not None else old.tz.key
    if when.chosen() is None:
        probe.inherit_trigger(old.trigger)
    when.apply(probe, tz)
    return probe.to_spec()["trigger"]


def _probe(record: ScheduleRecord, spec: dict[str, Any]) -> Schedule:
    """A bare schedule of the same name, to build a trigger on (``H`` is seeded by name)."""
    from rota.schedule import Schedule

    return Schedule(str(spec.get("job") or record.job)).named(record.name)


__all__ = [
    "Definition",
    "Policy",
    "When",
    "comma_names",
    "duration",
    "edited_schedule",
    "instant",
    "json_args",
    "json_kwargs",
    "new_schedule",
    "parents",
    "parse_instant",
]
