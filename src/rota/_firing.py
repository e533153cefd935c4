"""What the scheduler needs of a schedule to fire it, read straight off a stored spec.

A tick may fire a thousand run-time schedules (the per-user reminder case),
each rebuilt from its stored spec. Rebuilding a full ``Schedule`` runs the
fluent builder (argument copies, name checks, expression rewriting) only to
read back the trigger, the policies and the parents: half a tick's Python.
``StoredSchedule`` takes those three from the spec directly. A spec it does
not read exactly as ``Schedule.from_spec`` would (filters, which the builder
folds into the trigger, or anything malformed) goes through
``Schedule.from_spec``, so both paths fire the same slots and fail alike.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from rota._policies import Policies
from rota.cron import Cron
from rota.errors import NaiveDatetime

if TYPE_CHECKING:
    from rota.triggers import Trigger


class Fireable(Protocol):
    """A schedule as the scheduler plans it: ``Schedule`` or ``StoredSchedule``."""

    @property
    def job(self) -> str: ...

    @property
    def args(self) -> tuple[Any, ...]: ...

    @property
    def kwargs(self) -> Mapping[str, Any]: ...

    @property
    def policies(self) -> Policies: ...

    @property
    def trigger(self) -> Trigger: ...

    @property
    def after_names(self) -> tuple[str, ...]: ...

    @property
    def filters(self) -> tuple[Any, ...]:
        """What ``allows`` checks besides the trigger: none means every slot passes."""
        ...

    def allows(self, slot: datetime, environment: str | None = None) -> bool: ...


class StoredSchedule:
    """A run-time schedule without filters, as its spec says: read-only, for planning."""

    __slots__ = ("after_names", "args", "job", "kwargs", "name", "policies", "trigger")
    filters: tuple[Any, ...] = ()

    def __init__(
        self,
        name: str,
        job: str,
        args: tuple[Any, ...],
        kwargs: Mapping[str, Any],
        trigger: Trigger,
        policies: Policies,
        after_names: tuple[str, ...],
    ) -> None:
        self.name = name
        self.job = job
        self.args = args
        self.kwargs = kwargs
        self.trigger = trigger
        self.policies = policies
        self.after_names = after_names

    def allows(self, slot: datetime, environment: str | None = None) -> bool:
        """No filter: every slot (``Schedule.allows`` without filters)."""
        if slot.tzinfo is None or slot.utcoffset() is None:
            raise NaiveDatetime("slot")
        return True

    def __repr__(self) -> str:
        return f"StoredSchedule({self.name!r}, {self.trigger!r})"


def fireable_from_spec(spec: Mapping[str, Any]) -> Fireable:
    """The schedule ``spec`` describes, as cheaply as it can be read; see the module."""
    fast = _read(spec)
    if fast is not None:
        return fast
    from rota.schedule import Schedule

    return Schedule.from_spec(spec)


def _read(spec: Mapping[str, Any]) -> StoredSchedule | None:
    """``StoredSchedule`` for the plain spec ``Schedule.to_spec`` writes, else None."""
    if type(spec) is not dict or spec.get("filters"):  # a spec read from a store is a dict
        return None
    job, name, trigger_spec = spec.get("job"), spec.get("name"), spec.get("trigger")
    args, kwargs = spec.get("args") or [], spec.get("kwargs") or {}
    after = spec.get("after") or []
    if not (
        type(job) is str
        and job
        and job.strip() == job
        and type(name) is str
        and name
        and type(trigger_spec) is dict
        and type(args) is list
        and type(kwargs) is dict
        and type(after) is list
        and (not after or all(_plain_parent(parent, name) for parent in after))
    ):
        return None
    try:
        if trigger_spec.get("type") == "cron" and "expr" in trigger_spec:
            # What ``trigger_from_spec`` ends in, without its checks of the spec's shape.
            trigger: Trigger = Cron(
                trigger_spec["expr"], trigger_spec.get("tz", "UTC"), trigger_spec.get("seed")
            )
        else:
            import rota.triggers  # not ``from … import``: a microsecond per call

            trigger = rota.triggers.trigger_from_spec(trigger_spec)
        policies = Policies.from_spec(spec.get("policies") or {})
    except Exception:  # Schedule.from_spec raises it again, worded as it words it
        return None
    return StoredSchedule(name, job, tuple(args), kwargs, trigger, policies, tuple(after))


def _plain_parent(parent: object, name: str) -> bool:
    """A parent name ``Schedule.after`` keeps as it is (else it strips or refuses it)."""
    return isinstance(parent, str) and bool(parent) and parent.strip() == parent and parent != name


__all__ = ["Fireable", "StoredSchedule", "fireable_from_spec"]
