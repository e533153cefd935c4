"""Planning: what one schedule's slots become at ``now``. Pure functions, no clock, no store.

The scheduler asks, for each due schedule, which slots of its window fire,
which are recorded as missed and which its filters drop; these functions
answer from the trigger, the policies and ``now`` alone, so every rule is
unit-tested with explicit instants.

The window of a due schedule is ``[next_due, now]``, less anything at or
before ``last_slot``. ``next_due`` is always the first slot that was not yet
considered: the first slot at or after the minute the schedule was first
stored (so the ``rota run`` that cron starts at 12:00:01 fires the 12:00
slot and invents nothing older), or, after a definition change, the first
slot of the new definition.

Scanning walks the window newest first with ``prev_before`` and stops when
its budgets are spent, so a schedule that fires every second and comes back
after a month of downtime costs a bounded number of steps, not millions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from rota._policies import Policies
from rota.jobs import Job
from rota.runs import JSON, Run, RunOptions, RunState, run_id_for, scheduled_run

if TYPE_CHECKING:
    from rota.triggers import Trigger

MIN_DEFAULT_GRACE = timedelta(seconds=10)
MAX_DEFAULT_GRACE = timedelta(days=1)
ON_TIME = timedelta(seconds=60)
"""``catch_up("none")`` fires a slot only if it is at most this late (less with a smaller grace)."""
_TICK = timedelta(microseconds=1)
_DEFAULTS = Policies()


def default_grace(trigger: Trigger) -> timedelta:
    """One period of ``trigger``, at least 10 seconds and at most one day.

    The floor keeps a schedule that fires every second from missing its
    slot whenever the loop is a moment late; the cap keeps a weekly job from
    firing six days late after an outage.
    """
    return min(max(trigger.period_hint(), MIN_DEFAULT_GRACE), MAX_DEFAULT_GRACE)


def grace_for(policies: Policies, trigger: Trigger) -> timedelta:
    """The schedule's grace: ``policies.grace`` when set, else ``default_grace``."""
    return policies.grace if policies.grace is not None else default_grace(trigger)


def floor_minute(dt: datetime) -> datetime:
    """The start of the UTC minute holding ``dt``."""
    return dt.astimezone(UTC).replace(second=0, microsecond=0)


def first_slot_from(trigger: Trigger, start: datetime) -> datetime | None:
    """The first slot at or after ``start``, in UTC; None when the trigger has ended."""
    slot = trigger.next_after(start - _TICK)
    return None if slot is None else slot.astimezone(UTC)


def next_slot_after(trigger: Trigger, dt: datetime) -> datetime | None:
    """The first slot strictly after ``dt``, in UTC; None when the trigger has ended."""
    slot = trigger.next_after(dt)
    return None if slot is None else slot.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Budget:
    """How much one plan may produce or look at."""

    max_missed: int = 100
    """Missed slots recorded as runs (the newest ones); older ones are only counted as 'more'."""
    scan_limit: int = 10_000
    """Slots looked at, newest first; older slots of the window are dropped unseen."""


_BUDGET = Budget()


@dataclass(frozen=True, slots=True)
class SlotPlan:
    """What happens to one schedule's window. Slots are aware UTC, oldest first."""

    fire: tuple[datetime, ...] = ()
    missed: tuple[datetime, ...] = ()
    filtered: int = 0
    """Slots a filter (``between``, ``when``, ``environments`` …) dropped: no run, not missed."""
    more_missed: bool = False
    """The window held older slots than were recorded (budget spent); they are dropped."""
    last_slot: datetime | None = None
    """The newest slot considered (the scheduler's new progress)."""
    next_due: datetime | None = None
    """When the schedule is next due; None when its trigger has ended."""


def window_slots(
    trigger: Trigger, *, start: datetime, after: datetime | None, now: datetime
) -> Iterator[datetime]:
    """Slots ``s`` with ``start <= s <= now`` and ``s > after``, newest first, in UTC."""
    slot = trigger.prev_before(now + _TICK)
    while slot is not None and slot >= start and (after is None or slot > after):
        yield slot.astimezone(UTC)
        if slot <= start and slot.tzinfo is not start.tzinfo:
            return  # ``start`` itself: every older slot is before it (see ``plan_slots``)
        slot = trigger.prev_before(slot)


def lone_slot(
    trigger: Trigger, start: datetime, now: datetime
) -> tuple[datetime | None, datetime | None] | None:
    """The usual window of a due schedule, read in two steps forward.

    For a UTC ``start`` at or before ``now`` (the scheduler's ``next_due``,
    a slot): ``(start, next_due)`` when the window ``[start, now]`` holds
    ``start`` alone; ``(None, next_due)`` when it holds no slot at all; None
    when the walk back from ``now`` must decide (more slots, or ``start`` is
    not a slot). Cheaper than the walk and a step forward, and the same: in
    UTC every comparison is by instant. (A start in the trigger's zone
    compares by wall time, which only the walk reproduces.)
    """
    first = trigger.next_after(start - _TICK)
    if first is None:
        return None, None
    first_utc = first.astimezone(UTC)  # in UTC, comparisons with ``now`` skip utcoffset
    if first_utc > now:
        return None, first_utc
    if first_utc != start:
        return None
    following = trigger.next_after(first)
    if following is None:  # ``start`` was the trigger's last slot
        return start, None
    following = following.astimezone(UTC)
    return None if following <= now else (start, following)


def reads_forward(start: datetime, after: datetime | None, budget: Budget) -> bool:
    """Whether the window from ``start`` may be read forward (``lone_slot``): in UTC,
    as the scheduler passes it, nothing at or after ``start`` considered yet, and
    a scan allowed at all."""
    return (
        start.tzinfo is UTC
        and (after is None or (after.tzinfo is UTC and after < start))
        and budget.scan_limit > 0
    )


def on_time_slot(
    trigger: Trigger,
    policies: Policies,
    *,
    start: datetime,
    after: datetime | None,
    now: datetime,
    budget: Budget,
) -> tuple[datetime, datetime | None] | None:
    """``(start, next_due)`` when the window ``[start, now]`` is ``start`` alone and
    that slot fires, on time; None when ``plan_slots`` must decide. What
    ``plan_slots`` plans for such a window, for a schedule without filters,
    without building the plan: most of a busy tick's schedules."""
    if start > now or not reads_forward(start, after, budget):
        return None
    usual = lone_slot(trigger, start, now)
    if usual is None or usual[0] is None:
        return None
    limit, grace = fire_rules(trigger, policies)
    if limit <= 0 or (grace is not None and now - start > grace):
        return None
    return start, usual[1]


def plan_slots(
    trigger: Trigger,
    policies: Policies,
    *,
    start: datetime,
    after: datetime | None,
    now: datetime,
    allows: Callable[[datetime], bool],
    budget: Budget | None = None,
) -> SlotPlan:
    """Sort the window ``[start, now]`` (less ``<= after``) into fire, missed and filtered.

    ``latest``: the newest allowed slot fires if at most ``grace`` late;
    ``none``: likewise, within ``min(grace, 60 s)``; ``all``: each allowed
    slot fires, the newest ``catch_up_limit`` of them, within ``grace`` only
    when a grace was set explicitly. Every other allowed slot is missed.
    """
    if budget is None:
        budget = _BUDGET
    if start > now:
        return SlotPlan(last_slot=after, next_due=start)
    limit, grace = fire_rules(trigger, policies)
    scan_limit, max_missed = budget.scan_limit, budget.max_missed
    if reads_forward(start, after, budget):
        usual = lone_slot(trigger, start, now)
        if usual is not None:
            slot, next_due = usual
            if slot is None:  # no slot in the window at all
                return SlotPlan(last_slot=after, next_due=next_due)
            if not allows(slot):
                return SlotPlan(filtered=1, last_slot=slot, next_due=next_due)
            if limit > 0 and (grace is None or now - slot <= grace):
                return SlotPlan(fire=(slot,), last_slot=slot, next_due=next_due)
            if max_missed > 0:
                return SlotPlan(missed=(slot,), last_slot=slot, next_due=next_due)
            return SlotPlan(more_missed=True, last_slot=slot, next_due=next_due)
    fire: list[datetime] = []
    missed: list[datetime] = []
    newest: datetime | None = None
    filtered = 0
    more = False
    seen = 0
    start_tz = start.tzinfo
    # window_slots, inlined: the window of a due schedule usually holds one slot
    local = trigger.prev_before(now + _TICK)
    while local is not None and local >= start and (after is None or local > after):
        slot = local.astimezone(UTC)
        if newest is None:
            newest = slot
        if seen >= scan_limit:
            more = True  # older slots are left unseen
            break
        seen += 1
        if not allows(slot):
            filtered += 1
        elif len(fire) < limit and not missed and (grace is None or now - slot <= grace):
            fire.append(slot)
        elif len(missed) < max_missed:
            missed.append(slot)
        else:
            more = True  # once a slot is missed no older one can fire: stop counting
            break
        if local <= start and local.tzinfo is not start_tz:
            # ``local`` is ``start`` itself, so every older slot is before it. (Two
            # datetimes of one zone compare by wall time, fold ignored: an older slot
            # could compare equal, so that case takes the loop's own test.)
            break
        local = trigger.prev_before(local)
    fire.reverse()
    missed.reverse()
    return SlotPlan(
        fire=tuple(fire),
        missed=tuple(missed),
        filtered=filtered,
        more_missed=more,
        last_slot=newest or after,
        next_due=next_slot_after(trigger, now),
    )


def fire_rules(trigger: Trigger, policies: Policies) -> tuple[int, timedelta | None]:
    """(how many slots may fire, how late a slot may be; None: any)."""
    if policies.catch_up == "all":
        return policies.catch_up_limit, policies.grace
    grace = grace_for(policies, trigger)
    if policies.catch_up == "none":
        return 1, min(grace, ON_TIME)
    return 1, grace


# -- runs ----------------------------------------------------------------------------


def queue_for(queue: str, host: str | None) -> str:
    """The queue a run goes on: ``queue``, or ``queue@host`` for a per-host run."""
    return queue if host is None else f"{queue}@{host}"


def jitter_delay(run_id: str, jitter: float) -> timedelta:
    """A delay in ``[0, jitter]`` seconds, spread evenly and derived from the run id.

    Derived rather than drawn, so every scheduler computes the same
    ``available_at`` for the same run and planning stays a pure function.
    """
    if jitter <= 0:
        return timedelta(0)
    digest = hashlib.blake2b(run_id.encode(), digest_size=8).digest()
    fraction = int.from_bytes(digest, "big") / float(2**64 - 1)
    return timedelta(seconds=jitter * fraction)


def policy_overrides(policies: Policies) -> dict[str, Any]:
    """The run options a schedule sets: every policy not left at its default.

    A policy still at its default leaves the job's own value alone, so
    ``@rota.job(timeout=60)`` holds unless the schedule says otherwise.
    """
    changes: dict[str, Any] = {"exclusive": policies.overlap in ("skip", "queue")}
    for name in ("timeout", "retries", "backoff", "max_backoff"):
        if getattr(policies, name) != getattr(_DEFAULTS, name):
            changes[name] = getattr(policies, name)
    if policies.isolated:
        changes["isolated"] = True
    return changes


def run_options(policies: Policies, job: Job | None = None) -> RunOptions:
    """The job's defaults (none when ``job`` is unknown here) overridden by the schedule's,
    with the schedule's pings copied in (a worker anywhere sends them without the schedule)."""
    overrides = policy_overrides(policies)
    if job is not None:
        options = job.options(**overrides)
    else:
        retries = overrides.pop("retries", 0)
        options = RunOptions(max_attempts=retries + 1, **overrides)
    return replace(options, pings=policies.pings.by_event()) if policies.pings else options


def placement(policies: Policies, job: Job | None = None) -> tuple[str, int]:
    """(queue, priority): the schedule's when it set them, else the job's defaults."""
    queue, priority = policies.queue, policies.priority
    if job is not None:
        if queue == _DEFAULTS.queue:
            queue = job.defaults.queue
        if priority == _DEFAULTS.priority:
            priority = job.defaults.priority
    return queue, priority


@dataclass(frozen=True, slots=True)
class RunTemplate:
    """Everything a schedule's runs share; ``make`` stamps one out for a slot."""

    schedule: str
    job: str
    args: tuple[JSON, ...]
    kwargs: Mapping[str, JSON]
    options: RunOptions
    queue: str = "default"
    priority: int = 0
    jitter: float = 0.0
    host: str | None = None
    """Set for ``on_each_server`` schedules: part of the id, and of the queue."""
    after: tuple[str, ...] = ()
    """Parent schedules (``after``): a run to queue waits for their runs of its slot."""

    def make(self, slot: datetime, state: RunState, now: datetime, error: str | None = None) -> Run:
        """The run for ``slot``: queued (after its jitter), waiting for its parents'
        runs of the slot (``after``), or, for a final state, finished now."""
        run_id = run_id_for(self.schedule, slot, self.host)
        available = slot
        parents: tuple[str, ...] = ()
        if state is RunState.QUEUED and self.after:
            state = RunState.WAITING
            parents = tuple(run_id_for(parent, slot) for parent in self.after)
        elif state is RunState.QUEUED and self.jitter > 0:
            available = slot + jitter_delay(run_id, self.jitter)
        return scheduled_run(
            run_id,
            self.job,
            state,
            now,
            available,
            self.schedule,
            slot,
            self.args,
            dict(self.kwargs),
            queue_for(self.queue, self.host),
            self.priority,
            self.options,
            self.host,
            parents,
            error,
        )


@dataclass(frozen=True, slots=True)
class OverlapDecision:
    """What the overlap policy makes of a tick's new runs, given the runs still active."""

    insert: tuple[Run, ...]
    cancel: tuple[str, ...] = ()


def apply_overlap(
    mode: str, new: list[Run], active: list[Run], *, now: datetime
) -> OverlapDecision:
    """Apply ``skip`` / ``queue`` / ``allow`` / ``replace`` to ``new`` queued runs.

    ``active`` are the schedule's runs that were already queued or running
    before this tick (runs sharing an id with a new one do not count: that is
    the same slot inserted by another scheduler). Under ``skip`` the new runs
    are recorded as skipped; ``replace`` cancels the active ones.
    """
    new_ids = {run.id for run in new}
    others = [run for run in active if run.id not in new_ids]
    if not others or mode in ("queue", "allow"):
        return OverlapDecision(tuple(new))
    if mode == "replace":
        return OverlapDecision(tuple(new), tuple(run.id for run in others))
    reason = f"skipped: run {others[0].id} of this schedule was still {others[0].state}"
    skipped = tuple(
        replace(run, state=RunState.SKIPPED, finished_at=now, error=reason) for run in new
    )
    return OverlapDecision(skipped)
