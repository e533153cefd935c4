"""Jobs: what a run executes, found by a stable name.

A job is a Python callable (sync or ``async``) or a shell command, plus its
default policies. Runs refer to jobs by name only, so a worker on another
machine needs the same code registered, not the schedule that made the
run; the name must therefore be stable: ``module.qualname`` by default.
"""

from __future__ import annotations

import inspect
import json
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from rota.context import RunContext
from rota.errors import ConfigurationError, InvalidArguments, JobNotFound, did_you_mean
from rota.runs import RunOptions

_OPTION_KEYS = frozenset(
    {"timeout", "retries", "max_attempts", "backoff", "max_backoff", "isolated", "exclusive"}
)


@dataclass(frozen=True, slots=True)
class JobDefaults:
    """A job's own policies; a schedule's policies override them per schedule."""

    timeout: float | None = None
    """Seconds an attempt may run; None for no limit."""
    retries: int = 0
    """Attempts after the first one that failed or timed out."""
    backoff: float = 1.0
    """Delay before the first retry, doubled for each further one (with jitter)."""
    max_backoff: float = 300.0
    """Upper bound of the retry delay."""
    isolated: bool = False
    """Run sync jobs in a child process, so a timeout can kill them."""
    queue: str = "default"
    priority: int = 0
    """Higher runs first among the claimable runs of a queue."""

    def __post_init__(self) -> None:
        if self.timeout is not None and not self.timeout > 0:
            raise ConfigurationError(f"timeout must be positive seconds, got {self.timeout!r}")
        if self.retries < 0:
            raise ConfigurationError(f"retries must be 0 or more, got {self.retries!r}")
        if self.backoff < 0 or self.max_backoff < 0:
            raise ConfigurationError(
                f"backoff and max_backoff must not be negative, got {self.backoff!r}"
                f" and {self.max_backoff!r}"
            )
        if not self.queue:
            raise ConfigurationError("queue must be a non-empty name")

    @classmethod
    def build(cls, job: str, values: Mapping[str, Any]) -> JobDefaults:
        """``JobDefaults(**values)``, refusing unknown keys with a suggestion."""
        known = [f.name for f in fields(cls)]
        for key in values:
            if key not in known:
                raise ConfigurationError(
                    f"unknown option {key!r} for job {job!r}{did_you_mean(key, known)}"
                    f" (known: {', '.join(known)})"
                )
        return cls(**values)


@dataclass(frozen=True, slots=True)
class Job:
    """A registered job. Build with ``job_from_callable`` or ``shell_job``."""

    name: str
    func: Callable[..., Any] | None
    command: str | None
    is_async: bool
    takes_context: bool
    """The first parameter receives the ``RunContext``."""
    defaults: JobDefaults = field(default_factory=JobDefaults)
    _signature: inspect.Signature | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def __post_init__(self) -> None:
        if (self.func is None) == (self.command is None):
            raise ConfigurationError(f"job {self.name!r} needs exactly one of func and command")
        if self.func is not None:
            object.__setattr__(self, "_signature", _call_signature(self.func, self.takes_context))

    def check_arguments(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
        """Raise ``InvalidArguments`` unless a run with these arguments can be executed:
        they fit the signature (``ctx`` excluded) and are JSON-serializable."""
        problem = self.signature_problem(args, kwargs)
        if problem is not None:
            raise InvalidArguments(problem)
        for label, value in _labelled(self._signature, args, kwargs):
            try:
                json.dumps(value, allow_nan=False)
            except (TypeError, ValueError) as exc:
                raise InvalidArguments(
                    f"argument {label} of job {self.name!r} is not JSON-serializable: {exc}"
                ) from None

    def signature_problem(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> str | None:
        """Why ``args``/``kwargs`` do not fit the job, or None (what the worker checks)."""
        if self._signature is None:
            if args or kwargs:
                return f"shell job {self.name!r} takes no arguments"
            return None
        try:
            self._signature.bind(*args, **kwargs)
        except TypeError as exc:
            return f"invalid arguments for job {self.name!r}: {exc}"
        return None

    def options(self, **overrides: Any) -> RunOptions:
        """The ``RunOptions`` a run of this job gets: defaults, then ``overrides``.

        Keys: timeout, retries (or max_attempts), backoff, max_backoff,
        isolated, exclusive. A key given with None (timeout=None) overrides too.
        """
        for key in overrides:
            if key not in _OPTION_KEYS:
                raise ConfigurationError(
                    f"unknown run option {key!r} for job {self.name!r}"
                    f"{did_you_mean(key, _OPTION_KEYS)} (known: {', '.join(sorted(_OPTION_KEYS))})"
                )
        d = self.defaults
        retries = overrides.get("retries", d.retries)
        isolated = bool(overrides.get("isolated", d.isolated))
        if isolated and self.func is not None:
            _check_importable(self.name, self.func)
        try:
            return RunOptions(
                timeout=overrides.get("timeout", d.timeout),
                max_attempts=overrides.get("max_attempts", retries + 1),
                backoff=overrides.get("backoff", d.backoff),
                max_backoff=overrides.get("max_backoff", d.max_backoff),
                isolated=isolated,
                exclusive=bool(overrides.get("exclusive", False)),
            )
        except ValueError as exc:
            raise ConfigurationError(f"job {self.name!r}: {exc}") from None


def job_from_callable(func: Callable[..., Any], *, name: str | None = None, **defaults: Any) -> Job:
    """A job running ``func``; its name defaults to ``module.qualname``.

    ``defaults`` are ``JobDefaults`` fields (timeout, retries, backoff, …).
    ``isolated=True`` runs the job in a child process that imports it again
    by module and qualname, so it must be a module-level function.
    """
    if not callable(func):
        raise ConfigurationError(f"a job must be callable, got {func!r}")
    job_name = name or default_job_name(func)
    job_defaults = JobDefaults.build(job_name, defaults)
    if job_defaults.isolated:
        _check_importable(job_name, func)
    return Job(
        name=job_name,
        func=func,
        command=None,
        is_async=_is_async(func),
        takes_context=_takes_context(func),
        defaults=job_defaults,
    )


def shell_job(command: str, *, name: str | None = None, **defaults: Any) -> Job:
    """A job running ``command`` with ``/bin/sh -c``; named ``shell:<command>`` by default.

    A non-zero exit code fails the attempt; on timeout or cancel the whole
    process group gets SIGTERM, then SIGKILL.
    """
    if not command.strip():
        raise ConfigurationError("a shell job needs a command")
    job_name = name or f"shell:{command}"
    return Job(
        name=job_name,
        func=None,
        command=command,
        is_async=False,
        takes_context=False,
        defaults=JobDefaults.build(job_name, defaults),
    )


class JobRegistry:
    """The jobs a process can execute, by name."""

    def __init__(self) -> None:
        self._jobs: dict[str, Job] = {}

    def add(self, job: Job) -> Job:
        """Register ``job``; adding the same job again returns the one registered.

        Raises ``ConfigurationError`` when another job has the name already.
        """
        existing = self._jobs.get(job.name)
        if existing is None:
            self._jobs[job.name] = job
            return job
        if existing == job:
            return existing
        raise ConfigurationError(
            f"job name {job.name!r} is already taken by {_describe(existing)};"
            f" pass name=... to register {_describe(job)} under another name"
        )

    def get(self, name: str) -> Job:
        """The job named ``name``; ``JobNotFound`` with a suggestion otherwise."""
        try:
            return self._jobs[name]
        except KeyError:
            raise JobNotFound(f"unknown job {name!r}{self._suggest(name)}") from None

    def _suggest(self, name: str) -> str:
        by_suffix = [n for n in self._jobs if n.endswith(f".{name}")]
        if len(by_suffix) == 1:
            return f"; did you mean {by_suffix[0]!r}?"
        return did_you_mean(name, self._jobs)

    def names(self) -> list[str]:
        """Registered names, sorted."""
        return sorted(self._jobs)

    def __contains__(self, name: object) -> bool:
        return name in self._jobs

    def __iter__(self) -> Iterator[Job]:
        return iter(list(self._jobs.values()))

    def __len__(self) -> int:
        return len(self._jobs)


def _is_async(func: Callable[..., Any]) -> bool:
    return inspect.iscoroutinefunction(func) or inspect.iscoroutinefunction(
        getattr(func, "__call__", None)  # noqa: B004 - an instance with async __call__
    )


def _parameters(func: Callable[..., Any]) -> list[inspect.Parameter]:
    try:
        return list(inspect.signature(func).parameters.values())
    except (TypeError, ValueError):  # builtins without a signature: take anything
        return [
            inspect.Parameter("args", inspect.Parameter.VAR_POSITIONAL),
            inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD),
        ]


def _takes_context(func: Callable[..., Any]) -> bool:
    params = _parameters(func)
    if not params or params[0].kind not in (
        inspect.Parameter.POSITIONAL_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
    ):
        return False
    first = params[0]
    annotation = first.annotation
    if annotation is RunContext:
        return True
    if isinstance(annotation, str) and annotation.rpartition(".")[2] == "RunContext":
        return True
    return first.name == "ctx"


def _call_signature(func: Callable[..., Any], takes_context: bool) -> inspect.Signature:
    params = _parameters(func)
    return inspect.Signature(params[1:] if takes_context else params)


def _labelled(
    signature: inspect.Signature | None, args: Sequence[Any], kwargs: Mapping[str, Any]
) -> Iterator[tuple[str, Any]]:
    positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    params = [] if signature is None else signature.parameters.values()
    names = [p.name for p in params if p.kind in positional]
    for index, value in enumerate(args):
        yield (repr(names[index]) if index < len(names) else f"#{index + 1}"), value
    for key, value in kwargs.items():
        yield repr(key), value


def default_job_name(func: object) -> str:
    """``module.qualname``: the name a function's job gets unless given one."""
    return f"{getattr(func, '__module__', '?')}.{getattr(func, '__qualname__', repr(func))}"


def _check_importable(name: str, func: Callable[..., Any]) -> None:
    qualname = getattr(func, "__qualname__", "")
    if "<" in qualname or not getattr(func, "__module__", None):
        raise ConfigurationError(
            f"job {name!r} is isolated, so its child process imports it by module and"
            f" qualname; {qualname or func!r} is not importable: define it at module level"
        )


def _describe(job: Job) -> str:
    if job.command is not None:
        return f"shell command {job.command!r}"
    return default_job_name(job.func)


__all__ = [
    "Job",
    "JobDefaults",
    "JobRegistry",
    "default_job_name",
    "job_from_callable",
    "shell_job",
]
