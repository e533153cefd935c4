"""Laravel's ``onSuccess``, ``onFailure``, ``pingBefore``, ``thenPing`` …, in snake_case.

The hook and ping half of the ``Schedule`` builder (``Schedule`` inherits
this mixin). Hooks are callables: they live on the code object only, and
only an app that declares the schedule calls them (``rota._hooks``). Pings
are URLs: a policy, stored with the schedule and copied into every run's
options, so a worker on any machine sends them without the schedule.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from typing import TYPE_CHECKING, Self

from rota._policies import PingEvent, Policies
from rota.errors import InvalidSchedule

if TYPE_CHECKING:
    from rota.runs import Run

Hook = Callable[["Run"], object]
"""A hook: called with the run as stored, its return value ignored."""
HOOK_EVENTS = ("success", "failure", "retry", "missed")


class HookMethods:
    """Hooks (callables by event) and pings (URLs by event) of one schedule."""

    policies: Policies
    _hooks: Mapping[str, tuple[Hook, ...]] = {}
    """Callables by event, in the order added; replaced, never changed, on each addition."""

    def on_success(self, fn: Hook) -> Self:
        """Call ``fn(run)`` after a run of this schedule succeeded (on a background thread,
        once the outcome is stored; an exception is logged and changes nothing)."""
        return self._hook("success", fn)

    def on_failure(self, fn: Hook) -> Self:
        """Call ``fn(run)`` after a run finally failed or timed out (no attempts left)."""
        return self._hook("failure", fn)

    def on_retry(self, fn: Hook) -> Self:
        """Call ``fn(run)`` after an attempt failed and the run is to be retried."""
        return self._hook("retry", fn)

    def on_missed(self, fn: Hook) -> Self:
        """Call ``fn(run)`` for each slot a scheduler recorded as missed (catch-up policy)."""
        return self._hook("missed", fn)

    def hooks_for(self, event: str) -> tuple[Hook, ...]:
        """The callables added for ``event`` (``success``, ``failure``, ``retry``, ``missed``).

        They need the code: they are not part of ``to_spec()``.
        """
        return self._hooks.get(event, ())

    def _hook(self, event: str, fn: Hook) -> Self:
        if not callable(fn):
            raise InvalidSchedule(f"on_{event}() needs a callable taking the run, not {fn!r}")
        self._hooks = {**self._hooks, event: (*self._hooks.get(event, ()), fn)}
        return self

    def ping_before(self, url: str) -> Self:
        """Request (GET) ``url`` right before each run starts, e.g. a healthchecks.io
        ``/start`` URL. The worker waits for it, a few seconds at most."""
        return self._ping("before", url)

    def then_ping(self, url: str) -> Self:
        """Request ``url`` after each run's final outcome, whatever it is."""
        return self._ping("after", url)

    def ping_on_success(self, url: str) -> Self:
        """Request ``url`` after a run succeeded."""
        return self._ping("success", url)

    def ping_on_failure(self, url: str) -> Self:
        """Request ``url`` after a run finally failed or timed out (for healthchecks.io,
        the check's ``/fail`` URL)."""
        return self._ping("failure", url)

    def _ping(self, event: PingEvent, url: str) -> Self:
        self.policies = replace(self.policies, pings=self.policies.pings.adding(event, url))
        return self
