"""How a schedule's runs behave: overlap, catch-up, retries, placement.

``Policies`` is a frozen dataclass validated at construction, so an illegal
combination cannot be built; ``rota.schedule`` re-exports it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace
from datetime import timedelta
from typing import TYPE_CHECKING, Any, Literal, get_args

from rota.errors import InvalidSchedule, did_you_mean

if TYPE_CHECKING:
    from rota.triggers import Trigger

Overlap = Literal["skip", "queue", "allow", "replace"]
CatchUp = Literal["latest", "all", "none"]
OVERLAP_MODES: tuple[str, ...] = get_args(Overlap)
CATCH_UP_MODES: tuple[str, ...] = get_args(CatchUp)
MAX_DEFAULT_GRACE = timedelta(days=1)


def check_choice(value: object, allowed: tuple[str, ...], what: str) -> str:
    """``value`` if it is one of ``allowed``, else ``InvalidSchedule`` listing them."""
    if isinstance(value, str) and value in allowed:
        return value
    hint = did_you_mean(value, allowed) if isinstance(value, str) else ""
    raise InvalidSchedule(f"unknown {what} {value!r}{hint} (allowed: {', '.join(allowed)})")


def _number(value: object, what: str, *, minimum: float, strict: bool = False) -> None:
    ok = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if ok and (value > minimum if strict else value >= minimum):  # type: ignore[operator]
        return
    bound = f"> {minimum:g}" if strict else f">= {minimum:g}"
    raise InvalidSchedule(f"invalid {what} {value!r} (must be a number {bound})")


def _integer(value: object, what: str, *, minimum: int | None) -> None:
    is_int = isinstance(value, int) and not isinstance(value, bool)
    if is_int and (minimum is None or value >= minimum):  # type: ignore[operator]
        return
    bound = "" if minimum is None else f" >= {minimum}"
    raise InvalidSchedule(f"invalid {what} {value!r} (must be an integer{bound})")


def to_timedelta(value: float | timedelta, what: str) -> timedelta:
    """Seconds or a timedelta, as a timedelta >= 0."""
    if isinstance(value, timedelta):
        if value >= timedelta(0):
            return value
        raise InvalidSchedule(f"invalid {what} {value!r} (must not be negative)")
    _number(value, what, minimum=0)
    return timedelta(seconds=value)


PingEvent = Literal["before", "after", "success", "failure"]
PING_EVENTS: tuple[str, ...] = get_args(PingEvent)
PING_METHODS = {
    "before": "ping_before",
    "after": "then_ping",
    "success": "ping_on_success",
    "failure": "ping_on_failure",
}
"""The ``Schedule`` method that adds a URL of each ping event, for error messages."""


def check_ping_url(url: object, where: str) -> str:
    """``url`` if it is an absolute ``http``/``https`` URL with a host, else ``InvalidSchedule``."""
    if isinstance(url, str) and url == url.strip() and url.isprintable() and " " not in url:
        from urllib.parse import urlsplit  # loaded by pathlib already; nothing new on import

        try:
            parts = urlsplit(url)
            ok = parts.scheme in ("http", "https") and bool(parts.hostname)
            _ = parts.port  # a port that is not a number raises ValueError
        except ValueError:
            ok = False
        if ok:
            return url
    raise InvalidSchedule(
        f"invalid URL {url!r} for {where}() (must be an http:// or https:// URL with a host)"
    )


@dataclass(frozen=True)
class Pings:
    """URLs a worker requests (GET) around a schedule's runs, healthchecks.io style.

    ``before``: right before a run starts; ``after``: after its final outcome,
    whatever it is; ``success`` / ``failure``: after it succeeded / finally
    failed or timed out. Every URL is checked at construction.
    """

    before: tuple[str, ...] = ()
    after: tuple[str, ...] = ()
    success: tuple[str, ...] = ()
    failure: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        for event in PING_EVENTS:
            urls = getattr(self, event)
            if isinstance(urls, str) or not isinstance(urls, tuple | list):
                raise InvalidSchedule(f"pings {event!r} must be a list of URLs, not {urls!r}")
            checked = tuple(check_ping_url(url, PING_METHODS[event]) for url in urls)
            object.__setattr__(self, event, checked)

    def __bool__(self) -> bool:
        return bool(self.before or self.after or self.success or self.failure)

    def adding(self, event: PingEvent, url: str) -> Pings:
        """A copy with ``url`` added to ``event``'s URLs (after those already there)."""
        urls: tuple[str, ...] = getattr(self, event)
        return replace(self, **{event: (*urls, check_ping_url(url, PING_METHODS[event]))})

    def by_event(self) -> dict[str, tuple[str, ...]]:
        """The events that have URLs, each with its URLs (what ``RunOptions.pings`` holds)."""
        return {event: urls for event in PING_EVENTS if (urls := getattr(self, event))}

    def to_spec(self) -> dict[str, list[str]]:
        """Every event with its list of URLs (empty lists kept, so the keys never vary)."""
        return {event: list(getattr(self, event)) for event in PING_EVENTS}

    @classmethod
    def from_spec(cls, spec: object) -> Pings:
        """Rebuild from ``to_spec()`` (missing events are empty); bad input raises
        ``InvalidSchedule`` naming the key or the URL."""
        if not isinstance(spec, dict):
            raise InvalidSchedule(f"pings spec must be a dict, not {type(spec).__name__}")
        for key in spec:
            if key not in PING_EVENTS:
                hint = did_you_mean(str(key), PING_EVENTS)
                raise InvalidSchedule(f"unknown ping event {key!r} in spec{hint}")
        return cls(**{event: spec.get(event) or () for event in PING_EVENTS})


NO_PINGS = Pings()


@dataclass(frozen=True)
class Policies:
    """What happens around a schedule's runs. Every field has the default a newcomer wants."""

    overlap: Overlap = "skip"
    """A slot comes while the previous run still runs: skip it, queue it, run both, replace."""
    catch_up: CatchUp = "latest"
    """Slots missed while nothing ran: fire the latest one, all of them (bounded), none."""
    grace: timedelta | None = None
    """How late a missed slot may still fire; None: one period, capped at one day."""
    catch_up_limit: int = 100
    """At most this many missed slots fire under ``catch_up="all"``."""
    timeout: float | None = None
    """Seconds a run may take; None: no limit."""
    retries: int = 0
    """Further attempts after a failed one."""
    backoff: float = 1.0
    """Base delay in seconds before retry n: ``backoff * 2 ** (n - 1)``."""
    max_backoff: float = 300.0
    """Cap on the retry delay, in seconds."""
    jitter: float = 0.0
    """Up to this many seconds of random delay before a run starts."""
    on_each_server: bool = False
    """One run per slot per host instead of one run per slot."""
    queue: str = "default"
    """The queue runs are put on."""
    priority: int = 0
    """Higher runs first among due runs on a queue."""
    isolated: bool = False
    """Run in a child process (so a timed-out sync job can be killed)."""
    pings: Pings = NO_PINGS
    """URLs requested around each run (``ping_before``, ``then_ping`` …); see ``Pings``."""

    def __post_init__(self) -> None:
        check_choice(self.overlap, OVERLAP_MODES, "overlap mode")
        check_choice(self.catch_up, CATCH_UP_MODES, "catch-up mode")
        if self.grace is not None:  # seconds are accepted too, and kept as a timedelta
            object.__setattr__(self, "grace", to_timedelta(self.grace, "grace"))
        _integer(self.catch_up_limit, "catch_up_limit", minimum=1)
        if self.timeout is not None:
            _number(self.timeout, "timeout", minimum=0, strict=True)
        _integer(self.retries, "retries", minimum=0)
        _number(self.backoff, "backoff", minimum=0)
        _number(self.max_backoff, "max_backoff", minimum=0)
        _number(self.jitter, "jitter", minimum=0)
        self._check_rest()

    def _check_rest(self) -> None:
        for name in ("on_each_server", "isolated"):
            if not isinstance(getattr(self, name), bool):
                raise InvalidSchedule(f"invalid {name} {getattr(self, name)!r} (must be a bool)")
        if not isinstance(self.queue, str) or not self.queue.strip():
            raise InvalidSchedule(f"invalid queue {self.queue!r} (must be a non-empty name)")
        _integer(self.priority, "priority", minimum=None)
        if not isinstance(self.pings, Pings):
            raise InvalidSchedule(f"invalid pings {self.pings!r} (must be a Pings)")

    def effective_grace(self, trigger: Trigger) -> timedelta:
        """``grace``, or by default one period of ``trigger`` capped at one day."""
        if self.grace is not None:
            return self.grace
        return min(trigger.period_hint(), MAX_DEFAULT_GRACE)

    def retry_delay(self, attempt: int) -> float:
        """Seconds to wait before retry ``attempt`` (1 = the first retry), before jitter."""
        if attempt < 1:
            return 0.0
        return float(min(self.backoff * 2.0 ** min(attempt - 1, 64), self.max_backoff))

    def to_spec(self) -> dict[str, Any]:
        """A JSON-able dict (``grace`` in seconds); ``pings`` only when there are some,
        so that the spec of a schedule without pings is what it was before pings."""
        # every other field is a scalar: a shallow copy is ``asdict`` without its deep copies
        spec = {name: getattr(self, name) for name in _SCALARS}
        spec["grace"] = None if self.grace is None else self.grace.total_seconds()
        if self.pings:
            spec["pings"] = self.pings.to_spec()
        return spec

    @classmethod
    def from_spec(cls, spec: dict[str, Any]) -> Policies:
        """Rebuild from ``to_spec()``; unknown keys raise ``InvalidSchedule``.

        Equal specs give one shared instance (``Policies`` is frozen): nearly
        every stored schedule has the same policies, so the validation runs
        once per distinct spec, not once per schedule loaded.
        """
        if not isinstance(spec, dict):
            raise InvalidSchedule(f"policies spec must be a dict, not {type(spec).__name__}")
        values = tuple(spec.values())
        # the types are part of the key: 1, 1.0 and True are equal but not the same policy
        key = (tuple(spec), values, tuple(map(type, values)))
        try:
            found = _FROM_SPEC.get(key)
        except TypeError:  # an unhashable value: not a valid spec, let the checks say why
            return cls._from_spec(spec)
        if found is None:
            found = cls._from_spec(spec)
            if len(_FROM_SPEC) >= _FROM_SPEC_SIZE:
                _FROM_SPEC.clear()
            _FROM_SPEC[key] = found
        return found

    @classmethod
    def _from_spec(cls, spec: dict[str, Any]) -> Policies:
        known = {f.name for f in fields(cls)}
        for key in spec:
            if key not in known:
                hint = did_you_mean(str(key), known)
                raise InvalidSchedule(f"unknown policy {key!r} in spec{hint}")
        values = dict(spec)
        if values.get("grace") is not None:
            values["grace"] = to_timedelta(values["grace"], "grace")
        if "pings" in values:
            values["pings"] = Pings.from_spec(values["pings"])
        return cls(**values)


_SCALARS = tuple(f.name for f in fields(Policies) if f.name != "pings")
_FROM_SPEC: dict[tuple[tuple[Any, ...], ...], Policies] = {}
_FROM_SPEC_SIZE = 1024
