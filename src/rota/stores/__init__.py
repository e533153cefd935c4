"""Stores by URL. Each backend module is imported only when its scheme is used,
so ``rota run`` on SQLite never imports psycopg or redis."""

from __future__ import annotations

import importlib
import importlib.util

from rota.errors import ConfigurationError, did_you_mean
from rota.stores.base import LeaseStatus, Outcome, ScheduleRecord, Store

DEFAULT_STORE_URL = "sqlite:///rota.db"

# scheme -> (module, class)
_BACKENDS: dict[str, tuple[str, str]] = {
    "memory": ("rota.stores.memory", "MemoryStore"),
    "sqlite": ("rota.stores.sqlite", "SQLiteStore"),
    "postgresql": ("rota.stores.postgres", "PostgresStore"),
    "postgres": ("rota.stores.postgres", "PostgresStore"),
    "redis": ("rota.stores.redis", "RedisStore"),
    "rediss": ("rota.stores.redis", "RedisStore"),
}


def _available() -> list[str]:
    """Schemes whose backend module ships with this version."""
    return [
        scheme
        for scheme, (module, _) in _BACKENDS.items()
        if importlib.util.find_spec(module) is not None
    ]


def open_store(url: str, *, migrate: bool = True) -> Store:
    """The store for ``url`` (``memory://``, ``sqlite:///rota.db``, …), migrated
    unless ``migrate`` is False (then call ``store.migrate()`` before using it)."""
    scheme, sep, _ = url.partition("://")
    if not sep:
        raise ConfigurationError(
            f"store URL {url!r} has no scheme; use e.g. 'sqlite:///rota.db' or 'memory://'"
        )
    backend = _BACKENDS.get(scheme.lower())
    if backend is None:
        known = ", ".join(sorted({f"{s}://" for s in _BACKENDS}))
        raise ConfigurationError(
            f"unknown store scheme {scheme + '://'!r} in {url!r}"
            f"{did_you_mean(scheme, _BACKENDS)} (known: {known})"
        )
    module_name, class_name = backend
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            available = ", ".join(f"{s}://" for s in _available())
            raise ConfigurationError(
                f"the {scheme}:// store is not available in this version of rota "
                f"(available: {available})"
            ) from exc
        if exc.name and not exc.name.startswith("rota"):
            extra = "postgres" if "postgres" in module_name else "redis"
            raise ConfigurationError(
                f"the {scheme}:// store needs {exc.name!r}: pip install 'rota[{extra}]'"
            ) from exc
        raise
    store: Store = getattr(module, class_name).from_url(url)
    if migrate:
        store.migrate()
    return store


__all__ = ["DEFAULT_STORE_URL", "LeaseStatus", "Outcome", "ScheduleRecord", "Store", "open_store"]
