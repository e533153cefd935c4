"""``after()``: resolving parents, refusing cycles, and giving children their parents' slots.

A child runs for slot t once its parents' runs for t succeeded, so it must
have the slots its parents have: a child declared without a frequency takes
its parents' trigger (they must share one), and one with a frequency must
name the same. Everything here is checked before anything is stored.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from rota.errors import ConfigurationError, DependencyCycle, InvalidSchedule, did_you_mean
from rota.jobs import default_job_name
from rota.schedule import Schedule

Lookup = Callable[[str], Schedule | None]
"""A schedule by name (code or store), or None when there is none."""


def link_code(declared: Mapping[str, Schedule], job_names: Callable[[Any], str | None]) -> None:
    """Resolve every code schedule's parents to names, refuse unknown parents and
    cycles, and give children their parents' trigger (parents first).

    ``job_names`` gives the registered job name of a function (None when it
    is not registered).
    """
    children = [s for s in declared.values() if s.after_refs]
    if not children:
        return
    by_job: dict[str, list[str]] = {}
    for schedule in declared.values():
        by_job.setdefault(schedule.job, []).append(schedule.name)
    for child in children:
        names = [_code_ref(child, ref, declared, by_job, job_names) for ref in child.after_refs]
        child.resolve_after(dict.fromkeys(names))  # a parent named twice counts once

    def parents_of(name: str) -> Sequence[str]:
        found = declared.get(name)
        return found.after_names if found is not None else ()

    done: set[str] = set()
    for child in children:
        _inherit_in_order(child.name, declared.get, parents_of, done)


def link_dynamic(schedule: Schedule, lookup: Lookup) -> None:
    """Check a schedule about to be stored at run time against the stored ones:
    its parents exist, no cycle comes back to it, and it takes their trigger."""
    if not schedule.after_refs:
        return
    names = list(dict.fromkeys(schedule.after_names))
    schedule.resolve_after(names)
    parents: list[Schedule] = []
    for name in names:
        parent = lookup(name)
        if parent is None:
            raise InvalidSchedule(
                f"schedule {schedule.name!r} runs after {name!r}, which does not exist"
            )
        parents.append(parent)
    cycle = _cycle_through(schedule.name, names, lambda n: _after_of(lookup, n))
    if cycle:
        raise DependencyCycle(f"dependency cycle: {' -> '.join(cycle)}")
    _inherit(schedule, parents)


def _code_ref(
    child: Schedule,
    ref: object,
    declared: Mapping[str, Schedule],
    by_job: Mapping[str, list[str]],
    job_names: Callable[[Any], str | None],
) -> str:
    if isinstance(ref, Schedule):
        if declared.get(ref.name) is not ref:
            raise ConfigurationError(
                f"schedule {child.name!r} runs after {ref.name!r}, which this app does not "
                "declare; declare it with rota.schedule(...) too"
            )
        return ref.name
    if isinstance(ref, str):
        if ref in declared:
            return ref
        name = ref
    else:
        name = job_names(ref) or default_job_name(ref)
    schedules = [s for s in by_job.get(name, []) if s != child.name]
    if len(schedules) == 1:
        return schedules[0]
    if len(schedules) > 1:
        raise ConfigurationError(
            f"schedule {child.name!r} runs after job {name!r}, which has "
            f"{len(schedules)} schedules ({', '.join(sorted(schedules))}); name one"
        )
    known = [*declared, *by_job]
    raise ConfigurationError(
        f"schedule {child.name!r} runs after {name!r}, which is no schedule"
        f"{did_you_mean(name, known)}"
    )


def _inherit_in_order(
    name: str, lookup: Lookup, parents_of: Callable[[str], Sequence[str]], done: set[str]
) -> None:
    """Give ``name`` (and first its ancestors) its parents' trigger; refuse cycles."""
    path: list[str] = []
    on_path: set[str] = set()

    def visit(current: str) -> None:
        if current in done:
            return
        if current in on_path:
            cycle = [*path[path.index(current) :], current]
            raise DependencyCycle(f"dependency cycle: {' -> '.join(cycle)}")
        path.append(current)
        on_path.add(current)
        for parent in parents_of(current):
            visit(parent)
        path.pop()
        on_path.discard(current)
        schedule = lookup(current)
        if schedule is not None and schedule.after_names:
            parents = [p for p in map(lookup, schedule.after_names) if p is not None]
            _inherit(schedule, parents)
        done.add(current)

    visit(name)


def _inherit(child: Schedule, parents: Sequence[Schedule]) -> None:
    """Give ``child`` its parents' trigger, or check that its own is the same."""
    for schedule in (child, *parents):
        if schedule.policies.on_each_server:
            raise InvalidSchedule(
                f"schedule {schedule.name!r} runs on each server, which after() does not "
                f"support (child {child.name!r})"
            )
    first, rest = parents[0], parents[1:]
    key = _slots_key(first)
    for other in rest:
        if _slots_key(other) != key:
            raise InvalidSchedule(
                f"schedule {child.name!r} runs after {first.name!r} ({first.describe()}) and "
                f"{other.name!r} ({other.describe()}), which fire at different times; "
                "parents of one schedule must share their slots"
            )
    if child.has_frequency and _slots_key(child) != key:
        raise InvalidSchedule(
            f"schedule {child.name!r} runs after {first.name!r}, so its slots are "
            f"{first.name!r}'s ({first.describe()}); drop its own frequency "
            f"({child.describe()}) or make it the same"
        )
    child.inherit_trigger(first.trigger)


def _slots_key(schedule: Schedule) -> Mapping[str, object]:
    """What decides a trigger's slots: its spec, without the cron seed unless ``H`` uses it."""
    spec = dict(schedule.trigger.to_spec())
    if spec.get("type") == "cron" and "H" not in str(spec.get("expr", "")):
        spec.pop("seed", None)
    return spec


def _after_of(lookup: Lookup, name: str) -> Sequence[str]:
    found = lookup(name)
    return found.after_names if found is not None else ()


def _cycle_through(
    start: str, parents: Iterable[str], parents_of: Callable[[str], Sequence[str]]
) -> list[str] | None:
    """A path from ``start`` through ``parents`` and their ancestors back to ``start``."""
    seen: set[str] = set()
    stack: list[tuple[str, list[str]]] = [(p, [start, p]) for p in parents]
    while stack:
        name, path = stack.pop()
        if name == start:
            return path
        if name in seen:
            continue
        seen.add(name)
        stack.extend((p, [*path, p]) for p in parents_of(name))
    return None
