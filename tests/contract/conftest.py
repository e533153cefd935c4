"""The ``store`` fixture: every contract test runs once per backend.

A backend joins the suite by adding one factory to ``FACTORIES``; a factory
that cannot reach its server must fail, never skip.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rota.errors import StoreUnavailable
from rota.stores.base import Store


def _memory(tmp_path: Path) -> Store:
    from rota.stores.memory import MemoryStore

    return MemoryStore.from_url("memory://")


def _sqlite(tmp_path: Path) -> Store:
    from rota.stores.sqlite import SQLiteStore

    return SQLiteStore.from_url(f"sqlite:///{tmp_path / 'rota.db'}")


FACTORIES: dict[str, Callable[[Path], Store]] = {
    "memory": _memory,
    "sqlite": _sqlite,
}


@pytest.fixture(params=sorted(FACTORIES))
def store_factory(request: pytest.FixtureRequest) -> Callable[[Path], Store]:
    return FACTORIES[request.param]


@pytest.fixture
def store(store_factory: Callable[[Path], Store], tmp_path: Path) -> Iterator[Store]:
    threads = threading.active_count()
    opened = store_factory(tmp_path)
    opened.migrate()
    yield opened
    opened.close()
    with pytest.raises(StoreUnavailable):
        opened.get_run("any")
    assert threading.active_count() == threads, "the store leaked a thread"
