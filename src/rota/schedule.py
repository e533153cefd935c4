"""The fluent schedule builder: Laravel's scheduler, in snake_case.

A ``Schedule`` names a job (by its registered name), its JSON arguments, a
trigger and policies. Frequency methods splice one field of a cron
expression that starts as ``* * * * *``, exactly as Laravel's
``ManagesFrequencies`` does, so they compose in any order
(``weekdays().daily_at("7:30")`` is ``30 7 * * 1-5``); ``every`` and
``once_at`` choose an ``Interval`` or ``Once`` trigger instead. Filters
(``between``, ``when``, ``environments`` …) are checked at each slot by
``allows``. Every method validates its input and raises ``InvalidSchedule``
naming the bad part.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, Self
from zoneinfo import ZoneInfo

from rota._filters import (
    Between,
    Callback,
    Condition,
    Days,
    Environments,
    Filter,
    filter_from_spec,
    parse_clock,
)
from rota._frequencies import Frequencies, Kind
from rota._hook_methods import HookMethods
from rota._policies import (
    CATCH_UP_MODES,
    OVERLAP_MODES,
    CatchUp,
    Overlap,
    Policies,
    check_choice,
    to_timedelta,
)
from rota._zones import zone
from rota.errors import DependencyCycle, InvalidArguments, InvalidSchedule, NaiveDatetime

# rota.triggers (and with it the cron engine) loads when a trigger is first
# needed: declaring a schedule with the frequency methods does not compile it.
if TYPE_CHECKING:
    from rota.triggers import Trigger

__all__ = ["Policies", "Schedule"]

_PLAIN = re.compile(r"[A-Za-z_][A-Za-z0-9_.\-]*")
_SHORT_NAME = 40


class _NotPlain(Exception):
    """A value ``_plain_copy`` leaves to the JSON round trip."""


_INT_BOUND = 1 << 63  # larger ints take the JSON path (its digit limit applies)
_PLAIN_DEPTH = 32  # deeper values (or a cycle) take the JSON path, which names the problem


def _plain_copy(value: Any, depth: int = 0) -> Any:
    """``json.loads(json.dumps(value))`` for values that are exactly JSON already.

    Exact ``str``, ``bool``, ``None``, (not huge) ``int``, finite ``float``,
    ``list`` and ``dict`` with ``str`` keys come back unchanged by the round
    trip; these are copied directly. Anything else (a tuple, an int key, a
    subclass, NaN …) raises ``_NotPlain`` for the JSON path to convert or refuse.
    """
    kind = type(value)
    if kind is str or kind is bool or value is None:
        return value
    if kind is int:
        if -_INT_BOUND < value < _INT_BOUND:
            return value
    elif kind is float:
        if value - value == 0.0:  # finite: inf - inf and nan - nan are nan
            return value
    elif depth < _PLAIN_DEPTH:
        if kind is list:
            return [_plain_copy(item, depth + 1) for item in value]
        if kind is dict:
            copy = {}
            for key, item in value.items():
                if type(key) is not str:
                    raise _NotPlain
                copy[key] = _plain_copy(item, depth + 1)
            return copy
    raise _NotPlain


def _json_copy(value: Any, what: str) -> Any:
    try:
        return _plain_copy(value)
    except _NotPlain:
        pass
    try:
        return json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as exc:
        raise InvalidArguments(f"{what} is not JSON-serializable: {exc}") from None


def _render(value: Any) -> str:
    if (
        isinstance(value, str)
        and _PLAIN.fullmatch(value)
        and value not in ("true", "false", "null")
    ):
        return value
    return json.dumps(value, sort_keys=True, separators=(",", ":"))


def derive_name(job: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> str:
    """The default schedule name: ``job``, ``job[a,k=v]`` when short, else ``job[#hash]``.

    Strings that look like identifiers are shown bare, everything else as
    compact JSON, keyword arguments sorted, so the name is stable and two
    schedules of one job with different arguments get different names.
    """
    if not args and not kwargs:
        return job
    parts = [_render(a) for a in args]
    parts += [f"{k}={_render(v)}" for k, v in sorted(kwargs.items())]
    inner = ",".join(parts)
    if len(inner) <= _SHORT_NAME and all(_PLAIN.fullmatch(k) for k in kwargs):
        return f"{job}[{inner}]"
    import hashlib  # here: declaring schedules need not load OpenSSL

    canonical = json.dumps([list(args), kwargs], sort_keys=True, separators=(",", ":"))
    return f"{job}[#{hashlib.sha256(canonical.encode()).hexdigest()[:10]}]"


class Schedule(Frequencies, HookMethods):
    """A job, its arguments, a trigger, filters and policies, built fluently.

    ``Schedule("mymod.send_digest", kwargs={"region": "eu"}).daily_at("07:30")``
    Every builder method returns the schedule itself.
    """

    def __init__(
        self,
        job: str,
        args: Iterable[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
        *,
        policies: Policies | None = None,
    ) -> None:
        if not isinstance(job, str) or not job.strip():
            raise InvalidSchedule(f"a schedule needs a job name, got {job!r}")
        if isinstance(args, str | bytes | Mapping):
            raise InvalidArguments(f"args must be a tuple or list, not {type(args).__name__}")
        if kwargs is not None and not isinstance(kwargs, Mapping):
            raise InvalidArguments(f"kwargs must be a dict, not {type(kwargs).__name__}")
        self.job: str = job.strip()
        self.args: tuple[Any, ...] = tuple(
            _json_copy(a, f"argument {i} of {job}") for i, a in enumerate(args)
        )
        self.kwargs: dict[str, Any] = self._check_kwargs(kwargs or {})
        self.policies: Policies = policies if policies is not None else Policies()
        self._init_frequencies()
        self._every: timedelta | None = None
        self._anchor: datetime | None = None
        self._at: datetime | None = None
        self._tz: ZoneInfo = ZoneInfo("UTC")
        self._filters: list[Filter] = []
        self._name: str | None = None
        self._description: str | None = None
        self._trigger: Trigger | None = None
        self._seed: str | None = None
        """The cron seed (``H``) when not the name: an ``after`` child's inherited trigger."""
        self._after: list[str | Schedule | Callable[..., Any]] = []

    def _check_kwargs(self, kwargs: Mapping[str, Any]) -> dict[str, Any]:
        for key in kwargs:
            if not isinstance(key, str):
                raise InvalidArguments(f"keyword argument names must be strings, got {key!r}")
        return {
            k: _json_copy(v, f"keyword argument {k!r} of {self.job}") for k, v in kwargs.items()
        }

    # -- what the schedule is --------------------------------------------------------------

    @property
    def name(self) -> str:
        """The stable name: ``named(...)``, else derived from the job and its arguments."""
        return self._name or derive_name(self.job, self.args, self.kwargs)

    @property
    def tz(self) -> ZoneInfo:
        """The timezone slots are computed and filters evaluated in (default UTC)."""
        return self._tz

    @property
    def trigger(self) -> Trigger:
        """The compiled trigger: a ``Cron`` (tz, seed = name), an ``Interval`` or a ``Once``."""
        if self._trigger is None:
            self._trigger = self._compile()
        return self._trigger

    def _compile(self) -> Trigger:
        from rota.triggers import Cron, Interval, Once

        if self._kind == "interval":
            assert self._every is not None
            return Interval(self._every, anchor=self._anchor, tz=self._tz)
        if self._kind == "once":
            assert self._at is not None
            return Once(self._at, tz=self._tz)
        expression = self.expression
        assert expression is not None
        return Cron(expression, tz=self._tz, seed=self._seed or self.name)

    @property
    def filters(self) -> tuple[Filter, ...]:
        """Every filter ``allows`` checks, in the order they were added."""
        days = () if self._kind == "cron" or self._days is None else (Days(self._days),)
        return (*days, *self._filters)

    def allows(self, slot: datetime, environment: str | None = None) -> bool:
        """Whether every filter passes at ``slot`` (seen in the schedule's timezone)."""
        if slot.tzinfo is None or slot.utcoffset() is None:
            raise NaiveDatetime("slot")
        if not self._filters and (self._kind == "cron" or self._days is None):
            return True  # no filter: the common case skips the conversion
        local = slot.astimezone(self._tz)
        return all(f.allows(local, environment) for f in self.filters)

    def describe(self) -> str:
        """The ``description(...)`` text, else the trigger and filters in plain words."""
        if self._description is not None:
            return self._description
        extra = [f.describe() for f in self.filters]
        return "; ".join([self.trigger.describe(), *extra])

    def __repr__(self) -> str:
        return f"Schedule({self.name!r}, {self.trigger.describe()!r})"

    # -- triggers and the timezone -------------------------------------------------------------

    def cron(self, expression: str) -> Self:
        """Use this cron expression (5 fields, 6 with seconds first, or ``@daily`` …)."""
        if not isinstance(expression, str):
            raise InvalidSchedule(f"cron() needs a string, not {type(expression).__name__}")
        from rota.cron import Cron

        Cron(expression, tz=self._tz, seed=self.name)  # validates; raises InvalidCron
        return self._set_cron(expression)

    def _set_cron(self, expression: str) -> Self:
        """``cron(expression)`` once the expression is known to be valid."""
        if self._kind != "cron":
            raise InvalidSchedule(f"cron() cannot be combined with {self._kind_method()}")
        self._time_set_by = "cron"
        parts = expression.split()
        if len(parts) == 1:
            self._macro, self._seconds, self._fields = parts[0], None, ["*"] * 5
        else:
            self._macro = None
            self._seconds = parts[0] if len(parts) == 6 else None
            self._fields = parts[-5:]
        self._days = None
        return self._changed()

    def _switch(self, kind: Kind, where: str) -> None:
        if self._time_set_by is not None:
            raise InvalidSchedule(
                f"{where}() cannot be combined with {self._time_set_by}(); use one or the other"
            )
        if self._kind not in ("cron", kind):
            raise InvalidSchedule(f"{where}() cannot be combined with {self._kind_method()}")
        self._kind = kind

    def every(self, interval: float | timedelta, *, anchor: datetime | None = None) -> Self:
        """An ``Interval`` trigger: every ``interval`` (seconds or timedelta, >= 1 s)."""
        from rota.triggers import Interval

        trigger = Interval(interval, anchor=anchor)  # validates
        self._switch("interval", "every")
        self._every = trigger.every
        self._anchor = anchor
        return self._changed()

    def once_at(self, at: datetime) -> Self:
        """A ``Once`` trigger: a single slot at ``at`` (aware)."""
        from rota.triggers import Once

        Once(at)  # validates
        self._switch("once", "once_at")
        self._at = at
        return self._changed()

    def timezone(self, tz: str | ZoneInfo) -> Self:
        """The IANA timezone slots are computed and filters evaluated in."""
        self._tz = zone(tz)
        return self._changed()

    # -- filters -------------------------------------------------------------------------------

    def between(self, start: str, end: str) -> Self:
        """Only slots from ``start`` to ``end`` (``"HH:MM"``, inclusive; may wrap midnight)."""
        return self._filter(Between(parse_clock(start, "between"), parse_clock(end, "between")))

    def unless_between(self, start: str, end: str) -> Self:
        """No slots from ``start`` to ``end`` (``"HH:MM"``, inclusive; may wrap midnight)."""
        window = Between(
            parse_clock(start, "unless_between"), parse_clock(end, "unless_between"), negate=True
        )
        return self._filter(window)

    def when(self, condition: Condition) -> Self:
        """Only slots where ``condition`` holds: a bool, or a callable of no args or of the slot."""
        return self._filter(Callback(condition))

    def skip(self, condition: Condition) -> Self:
        """No slots where ``condition`` holds: a bool, or a callable of no args or of the slot."""
        return self._filter(Callback(condition, skip=True))

    def environments(self, *names: str | Iterable[str]) -> Self:
        """Only when the application's environment is one of ``names`` (replaces earlier calls)."""
        flat: list[str] = []
        for n in names:
            flat.extend([n] if isinstance(n, str) else n)
        if not flat or not all(isinstance(n, str) and n.strip() for n in flat):
            raise InvalidSchedule(f"environments() needs one or more names, got {flat!r}")
        self._filters = [f for f in self._filters if not isinstance(f, Environments)]
        return self._filter(Environments(tuple(n.strip() for n in flat)))

    def _filter(self, f: Filter) -> Self:
        self._filters.append(f)
        return self

    # -- name, description and policies ------------------------------------------------------

    def named(self, name: str) -> Self:
        """Set the schedule's stable name (also the seed of ``H`` in cron expressions)."""
        if not isinstance(name, str) or not name.strip() or name != name.strip():
            raise InvalidSchedule(
                f"invalid schedule name {name!r} (must be non-empty, without outer spaces)"
            )
        self._name = name
        return self._changed()

    def description(self, text: str) -> Self:
        """A human description, shown by ``describe()`` and ``rota list``."""
        if not isinstance(text, str):
            raise InvalidSchedule(f"description must be a string, not {type(text).__name__}")
        self._description = text
        return self

    def _policy(self, **changes: Any) -> Self:
        self.policies = replace(self.policies, **changes)
        return self

    def without_overlapping(self) -> Self:
        """Skip a slot while the previous run still runs (``overlap("skip")``)."""
        return self._policy(overlap="skip")

    def overlap(self, mode: Overlap) -> Self:
        """When a slot comes during a run: ``skip``, ``queue``, ``allow`` or ``replace``."""
        return self._policy(overlap=check_choice(mode, OVERLAP_MODES, "overlap mode"))

    def catch_up(
        self,
        mode: CatchUp,
        *,
        grace: float | timedelta | None = None,
        limit: int | None = None,
    ) -> Self:
        """Missed slots: ``latest``, ``all`` (at most ``limit``) or ``none``, within ``grace``."""
        changes: dict[str, Any] = {"catch_up": check_choice(mode, CATCH_UP_MODES, "catch-up mode")}
        if grace is not None:
            changes["grace"] = to_timedelta(grace, "grace")
        if limit is not None:
            changes["catch_up_limit"] = limit
        return self._policy(**changes)

    def timeout(self, seconds: float) -> Self:
        """Stop a run after ``seconds``."""
        return self._policy(timeout=seconds)

    def retries(
        self, n: int, *, backoff: float | None = None, max_backoff: float | None = None
    ) -> Self:
        """Retry a failed run ``n`` times, ``backoff * 2 ** (k - 1)`` s apart, capped."""
        changes: dict[str, Any] = {"retries": n}
        if backoff is not None:
            changes["backoff"] = backoff
        if max_backoff is not None:
            changes["max_backoff"] = max_backoff
        return self._policy(**changes)

    def jitter(self, seconds: float) -> Self:
        """Delay each run's start by up to ``seconds`` at random."""
        return self._policy(jitter=seconds)

    def on_each_server(self) -> Self:
        """One run per slot on every host, instead of one in all."""
        return self._policy(on_each_server=True)

    def on_queue(self, name: str) -> Self:
        """Put runs on queue ``name``."""
        return self._policy(queue=name)

    def priority(self, n: int) -> Self:
        """Higher runs first among due runs on the same queue."""
        return self._policy(priority=n)

    def isolated(self) -> Self:
        """Run in a child process."""
        return self._policy(isolated=True)

    # -- dependencies ----------------------------------------------------------------------------

    def after(self, *parents: str | Schedule | Callable[..., Any]) -> Self:
        """Run for slot t once every parent's run for slot t has succeeded.

        A parent is a schedule, its name, or a job function (or name) with
        exactly one schedule. The schedule takes its slots from its parents
        (give it no frequency of its own, or the same one); a parent whose run
        for t ends any other way marks this run ``upstream_failed``. Cycles
        and unknown parents are refused when the app's schedules are stored.
        """
        if not parents:
            raise InvalidSchedule("after() needs at least one parent schedule")
        for parent in parents:
            if isinstance(parent, str):
                if not parent.strip():
                    raise InvalidSchedule("after() got an empty schedule name")
            elif not (isinstance(parent, Schedule) or callable(parent)):
                raise InvalidSchedule(
                    f"after() takes schedules, schedule names or job functions, not {parent!r}"
                )
            if parent is self or parent == self._name:
                raise DependencyCycle(f"schedule {self.name!r} cannot run after itself")
        self._after.extend(p.strip() if isinstance(p, str) else p for p in parents)
        return self

    @property
    def after_refs(self) -> tuple[str | Schedule | Callable[..., Any], ...]:
        """The parents as given to ``after()`` (the app resolves functions to schedules)."""
        return tuple(self._after)

    @property
    def after_names(self) -> tuple[str, ...]:
        """The parents' names (a function counts by its job's default name)."""
        return tuple(_parent_name(p) for p in self._after)

    def resolve_after(self, names: Iterable[str]) -> None:
        """Replace the parents by their schedule names (the app does this once it knows them)."""
        self._after = list(names)

    @property
    def has_frequency(self) -> bool:
        """Whether a frequency was chosen: anything but the default ``* * * * *``."""
        return self._kind != "cron" or self.expression != "* * * * *"

    def inherit_trigger(self, trigger: Trigger) -> None:
        """Take a parent's trigger as this schedule's own (an ``after`` child's slots)."""
        self._load_trigger(trigger)

    # -- storage ---------------------------------------------------------------------------------

    def to_spec(self) -> dict[str, Any]:
        """A JSON-able dict; callables (``when``/``skip``) are left out and flagged."""
        stored = [spec for f in self.filters if (spec := f.to_spec()) is not None]
        return {
            "name": self.name,
            "job": self.job,
            "args": list(self.args),
            "kwargs": dict(self.kwargs),
            "description": self._description,
            "trigger": self._trigger_spec(),
            "policies": self.policies.to_spec(),
            "filters": stored,
            "has_callable_filters": len(stored) < len(self.filters),
            **({"after": list(self.after_names)} if self._after else {}),
        }

    def _trigger_spec(self) -> dict[str, Any]:
        """``self.trigger.to_spec()``; for a cron trigger, without compiling the expression.

        ``rota run`` compares the specs of every declared schedule with the
        store's on each pass, and compiling hundreds of expressions (loading
        the cron engine) would cost more than the whole comparison. This is
        exactly ``Cron.to_spec()`` of the trigger ``_compile`` builds.
        """
        expression = self.expression
        if self._trigger is not None or expression is None:
            return self.trigger.to_spec()
        seed = self._seed or self.name
        return {"type": "cron", "expr": expression, "tz": self._tz.key, "seed": seed}

    @classmethod
    def from_spec(cls, spec: Mapping[str, Any]) -> Schedule:
        """Rebuild from ``to_spec()``; a bad spec raises ``InvalidSchedule`` naming the key."""
        if not isinstance(spec, Mapping):
            raise InvalidSchedule(f"schedule spec must be a dict, not {type(spec).__name__}")
        for key in ("job", "trigger"):
            if key not in spec:
                raise InvalidSchedule(f"schedule spec is missing key {key!r}")
        policies = Policies.from_spec(spec.get("policies") or {})
        s = cls(spec["job"], spec.get("args") or (), spec.get("kwargs"), policies=policies)
        if spec.get("name"):
            s.named(spec["name"])
        if spec.get("description") is not None:
            s.description(spec["description"])
        from rota.triggers import trigger_from_spec

        s._load_trigger(trigger_from_spec(spec["trigger"]))
        for f in spec.get("filters") or ():
            s._load_filter(filter_from_spec(f))
        after = spec.get("after") or ()
        if not isinstance(after, list | tuple) or not all(isinstance(a, str) for a in after):
            raise InvalidSchedule(
                f"schedule spec key 'after' must be a list of names, not {after!r}"
            )
        if after:
            s.after(*after)
        return s

    def _load_trigger(self, trigger: Trigger) -> None:
        """Take ``trigger`` (just built from a spec, so valid) as the schedule's own.

        It also becomes the compiled trigger when it equals what ``_compile``
        would build (the usual case: a cron spec is seeded with the schedule's
        name), so the expression is not compiled again.
        """
        from rota.triggers import Cron, Interval, Once

        self.timezone(trigger.tz)
        if isinstance(trigger, Cron):
            self._set_cron(trigger.expression)
            self._seed = None if trigger.seed == self.name else trigger.seed
            if trigger.expression == self.expression:
                self._trigger = trigger
        elif isinstance(trigger, Interval):
            self._switch("interval", "every")
            self._every = trigger.every
            self._anchor = trigger.anchor
            self._trigger = trigger  # _compile: Interval(every, anchor, tz), all three as here
        elif isinstance(trigger, Once):
            self._switch("once", "once_at")
            self._at = trigger.at
            self._trigger = trigger  # _compile: Once(at, tz), both as here
        else:
            raise InvalidSchedule(f"cannot rebuild a schedule around {trigger!r}")

    def _load_filter(self, f: Filter) -> None:
        if isinstance(f, Days):
            self._set_days(sorted(f.days), "days")
        else:
            self._filter(f)


def _parent_name(parent: str | Schedule | Callable[..., Any]) -> str:
    if isinstance(parent, str):
        return parent
    if isinstance(parent, Schedule):
        return parent.name
    from rota.jobs import default_job_name

    return default_job_name(parent)
