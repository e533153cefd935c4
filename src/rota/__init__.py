"""rota: scheduled jobs for Python applications.

Declare a schedule once; run it as a daemon, from cron, or as a queue,
with each slot firing exactly once however many instances run.

The public names are loaded on first use (PEP 562): ``import rota.cli``,
which cron starts every minute, pays only for the errors and the version.
``from rota import Rota`` works as usual, and type checkers see every name
through the ``TYPE_CHECKING`` imports below.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

from rota.errors import (
    ConfigurationError,
    DependencyCycle,
    IllegalTransition,
    InvalidArguments,
    InvalidCron,
    InvalidSchedule,
    InvalidTimezone,
    JobNotFound,
    JobTimeout,
    LeaseLost,
    NaiveDatetime,
    RotaError,
    RunCancelled,
    RunNotFound,
    ScheduleExists,
    ScheduleNotFound,
    StoreUnavailable,
)

if TYPE_CHECKING:
    from rota.app import Rota
    from rota.config import RotaConfig, SchedulerConfig
    from rota.context import RunContext
    from rota.cron import Cron
    from rota.runs import Run, RunState
    from rota.schedule import Schedule
    from rota.triggers import Interval, Once, Trigger
    from rota.worker import WorkerConfig

__version__ = "0.1.0.dev0"

# public name -> the module that defines it, imported on first access
_LAZY: dict[str, str] = {
    "Cron": "rota.cron",
    "Interval": "rota.triggers",
    "Once": "rota.triggers",
    "Rota": "rota.app",
    "RotaConfig": "rota.config",
    "Run": "rota.runs",
    "RunContext": "rota.context",
    "RunState": "rota.runs",
    "Schedule": "rota.schedule",
    "SchedulerConfig": "rota.config",
    "Trigger": "rota.triggers",
    "WorkerConfig": "rota.worker",
}


def __getattr__(name: str) -> object:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'rota' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_LAZY})


__all__ = [
    "ConfigurationError",
    "Cron",
    "DependencyCycle",
    "IllegalTransition",
    "Interval",
    "InvalidArguments",
    "InvalidCron",
    "InvalidSchedule",
    "InvalidTimezone",
    "JobNotFound",
    "JobTimeout",
    "LeaseLost",
    "NaiveDatetime",
    "Once",
    "Rota",
    "RotaConfig",
    "RotaError",
    "Run",
    "RunCancelled",
    "RunContext",
    "RunNotFound",
    "RunState",
    "Schedule",
    "ScheduleExists",
    "ScheduleNotFound",
    "SchedulerConfig",
    "StoreUnavailable",
    "Trigger",
    "WorkerConfig",
    "__version__",
]
