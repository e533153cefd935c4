"""rota: scheduled jobs for Python applications.

Declare a schedule once; run it as a daemon, from cron, or as a queue,
with each slot firing exactly once however many instances run.
"""

from __future__ import annotations

from rota.cron import Cron
from rota.errors import (
    ConfigurationError,
    IllegalTransition,
    InvalidArguments,
    InvalidCron,
    InvalidSchedule,
    InvalidTimezone,
    JobNotFound,
    NaiveDatetime,
    RotaError,
    RunNotFound,
    ScheduleNotFound,
    StoreUnavailable,
)
from rota.schedule import Schedule
from rota.triggers import Interval, Once, Trigger

__version__ = "0.1.0.dev0"

__all__ = [
    "ConfigurationError",
    "Cron",
    "IllegalTransition",
    "Interval",
    "InvalidArguments",
    "InvalidCron",
    "InvalidSchedule",
    "InvalidTimezone",
    "JobNotFound",
    "NaiveDatetime",
    "Once",
    "RotaError",
    "RunNotFound",
    "Schedule",
    "ScheduleNotFound",
    "StoreUnavailable",
    "Trigger",
    "__version__",
]
