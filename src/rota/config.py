"""Settings, grouped in frozen objects. Every field has the default a newcomer wants.

``Rota(config=RotaConfig(...))`` takes them all at once; the common ones
(``store``, ``environment``, ``host``) are also keywords of ``Rota``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, overload

from rota.errors import ConfigurationError

if TYPE_CHECKING:
    from rota.worker import WorkerConfig

DEFAULT_ENVIRONMENT = "production"
_FLAGS = {"1": True, "true": True, "yes": True, "on": True}
_FLAGS |= {"0": False, "false": False, "no": False, "off": False}


@dataclass(frozen=True, slots=True)
class SchedulerConfig:
    """How the scheduler loop turns due slots into runs."""

    batch_size: int = 1000
    """Due schedules read per tick; a full batch makes the loop tick again at once."""
    max_missed_records: int = 100
    """Missed slots recorded (as ``missed`` runs) per schedule and tick; older ones are dropped."""
    scan_limit: int = 10_000
    """Slots looked at per schedule and tick, so long downtime costs bounded work."""
    max_wait: float = 1.0
    """Longest sleep between ticks in seconds: how soon a change made elsewhere is seen."""
    reclaim_interval: float = 5.0
    """Seconds between passes that take back runs whose worker's lease lapsed."""
    discover_interval: float = 60.0
    """Seconds between scans for ``on_each_server`` schedules created at run time."""
    keep_runs: int = 1000
    """Finished runs kept per schedule; older ones are pruned."""

    def __post_init__(self) -> None:
        for name in ("batch_size", "scan_limit", "keep_runs"):
            _check(name, getattr(self, name), minimum=1)
        _check("max_missed_records", self.max_missed_records, minimum=0)
        for name in ("max_wait", "reclaim_interval", "discover_interval"):
            _check(name, getattr(self, name), minimum=0.001)


def _check(name: str, value: float, *, minimum: float) -> None:
    if isinstance(value, bool) or not isinstance(value, int | float) or value < minimum:
        raise ConfigurationError(f"invalid {name} {value!r} (must be a number >= {minimum:g})")


class _WorkerField:
    """``RotaConfig.worker``: the ``WorkerConfig`` given, else ``WorkerConfig()``, made on
    first read. Declaring an app (and a ``rota run`` with nothing due) then never
    imports ``rota.worker``, which only a process that executes runs needs."""

    @overload
    def __get__(self, config: None, owner: type[RotaConfig]) -> _WorkerField: ...

    @overload
    def __get__(self, config: RotaConfig, owner: type[RotaConfig]) -> WorkerConfig: ...

    def __get__(
        self, config: RotaConfig | None, owner: type[RotaConfig]
    ) -> WorkerConfig | _WorkerField:
        if config is None:
            return self  # the dataclass default, which means "not given"
        given: WorkerConfig | None = config.__dict__["_worker"]
        if given is None:
            from rota.worker import WorkerConfig

            given = config.__dict__["_worker"] = WorkerConfig()
        return given

    def __set__(self, config: RotaConfig, value: WorkerConfig | _WorkerField) -> None:
        config.__dict__["_worker"] = None if isinstance(value, _WorkerField) else value


def default_host() -> str:
    """This machine's name, as ``on_each_server`` runs and worker names use it."""
    if hasattr(os, "uname"):  # what gethostname() returns, without importing socket
        return os.uname().nodename or "localhost"
    import socket

    return socket.gethostname() or "localhost"


@dataclass(frozen=True)
class RotaConfig:
    """Everything ``Rota`` needs beyond its jobs and schedules.

    ``store_url`` None means: ``ROTA_STORE``, else ``sqlite:///rota.db``;
    ``environment`` None means ``ROTA_ENV``, else ``"production"``; ``host``
    None means the machine's host name. ``keep_runs`` finished runs are kept
    per schedule (history), older ones pruned. ``auto_migrate`` None means
    ``ROTA_AUTO_MIGRATE`` (``false``/``0``/``no``/``off`` or
    ``true``/``1``/``yes``/``on``), else True: the store's schema is created or
    upgraded when the app first opens it; turn it off to migrate only with
    ``rota migrate`` (``Rota.migrate()``), e.g. as a release step.
    """

    store_url: str | None = None
    environment: str | None = None
    host: str | None = None
    worker: _WorkerField = _WorkerField()
    scheduler: SchedulerConfig = field(default_factory=SchedulerConfig)
    keep_runs: int = 1000
    auto_migrate: bool | None = None

    def __post_init__(self) -> None:
        _check("keep_runs", self.keep_runs, minimum=1)
        if self.auto_migrate is not None and not isinstance(self.auto_migrate, bool):
            raise ConfigurationError(
                f"invalid auto_migrate {self.auto_migrate!r} (must be True, False or None)"
            )
        for name in ("store_url", "environment", "host"):
            value = getattr(self, name)
            if value is not None and (not isinstance(value, str) or not value.strip()):
                raise ConfigurationError(f"invalid {name} {value!r} (must be a non-empty string)")

    def evolve(self, **changes: Any) -> RotaConfig:
        """``dataclasses.replace(self, **changes)``, keeping the default ``worker`` unmade."""
        if "worker" not in changes and self.__dict__["_worker"] is None:
            changes["worker"] = RotaConfig.worker
        return replace(self, **changes)

    def resolved_store_url(self) -> str:
        """``store_url``, else ``ROTA_STORE``, else ``sqlite:///rota.db``."""
        from rota.stores import DEFAULT_STORE_URL

        return self.store_url or os.environ.get("ROTA_STORE") or DEFAULT_STORE_URL

    def resolved_environment(self) -> str:
        """``environment``, else ``ROTA_ENV``, else ``"production"``."""
        return self.environment or os.environ.get("ROTA_ENV") or DEFAULT_ENVIRONMENT

    def resolved_host(self) -> str:
        """``host``, else the machine's host name."""
        return self.host or default_host()

    def resolved_auto_migrate(self) -> bool:
        """``auto_migrate``, else ``ROTA_AUTO_MIGRATE``, else True."""
        if self.auto_migrate is not None:
            return self.auto_migrate
        text = os.environ.get("ROTA_AUTO_MIGRATE", "").strip().casefold()
        if not text:
            return True
        if text in _FLAGS:
            return _FLAGS[text]
        raise ConfigurationError(
            f"invalid ROTA_AUTO_MIGRATE={text!r} (use true/false, 1/0, yes/no or on/off)"
        )


__all__ = ["DEFAULT_ENVIRONMENT", "RotaConfig", "SchedulerConfig", "default_host"]
