"""The one error tree.

Every error rota raises on purpose is a ``RotaError``; each subclass also
inherits the builtin a caller would naturally catch (``InvalidCron`` is a
``ValueError``), and carries the exit code the CLI uses for it. Messages
name the bad part and, where one exists, the fix.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable


class RotaError(Exception):
    """Something rota refused or could not do."""

    exit_code: int = 1


class ConfigurationError(RotaError, ValueError):
    """The configuration (app path, store URL, option) is not usable."""

    exit_code = 2


class InvalidCron(RotaError, ValueError):
    """A cron expression that cannot be parsed, or that can never fire."""

    exit_code = 2


class InvalidTimezone(RotaError, ValueError):
    """A timezone name that is not an IANA zone."""

    exit_code = 2


class InvalidSchedule(RotaError, ValueError):
    """A schedule definition that contradicts itself or names nothing to run."""

    exit_code = 2


class InvalidArguments(RotaError, TypeError):
    """Arguments that do not fit the job's signature, or are not JSON."""

    exit_code = 2


class NaiveDatetime(RotaError, ValueError):
    """A naive datetime where rota needs an aware one."""

    exit_code = 2

    def __init__(self, what: str = "datetime") -> None:
        super().__init__(
            f"{what} must be timezone-aware; pass tzinfo (e.g. datetime.now(timezone.utc))"
        )


class JobNotFound(RotaError, LookupError):
    """A job name that is not registered."""

    exit_code = 2


class ScheduleNotFound(RotaError, LookupError):
    """A schedule name that is not known."""

    exit_code = 2


class ScheduleExists(RotaError, ValueError):
    """A schedule name that is already taken (in code or in the store)."""

    exit_code = 2


class DependencyCycle(InvalidSchedule):
    """``after()`` dependencies that lead back to where they started."""


class RunNotFound(RotaError, LookupError):
    """A run id that is not in the store."""

    exit_code = 2


class IllegalTransition(RotaError, RuntimeError):
    """A run state change that the run state machine does not allow."""


class StoreUnavailable(RotaError, ConnectionError):
    """The store cannot be opened or reached."""

    exit_code = 3


class LeaseLost(RotaError, RuntimeError):
    """A worker's lease on a run was taken back; its result is discarded."""


class JobTimeout(RotaError, TimeoutError):
    """A run exceeded its timeout."""


class RunCancelled(RotaError, RuntimeError):
    """A run was cancelled while it ran."""


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """A '; did you mean 'x'?' suffix, or '' when nothing is close."""
    close = difflib.get_close_matches(word, list(choices), n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""
