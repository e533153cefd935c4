"""open_store: every scheme, and a clear error for every bad URL."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import pytest

from rota.errors import ConfigurationError
from rota.stores import DEFAULT_STORE_URL, open_store
from rota.stores.memory import MemoryStore
from rota.stores.sqlite import SQLiteStore


def test_memory_url_opens_a_fresh_store_each_time() -> None:
    first, second = open_store("memory://"), open_store("memory://")
    assert isinstance(first, MemoryStore)
    assert first is not second
    first.close()
    second.close()


def test_named_memory_store_is_shared_until_closed() -> None:
    store = open_store("memory://shared-test")
    assert open_store("memory://shared-test") is store
    assert open_store("memory://other-test") is not store
    store.close()
    again = open_store("memory://shared-test")
    assert again is not store
    again.close()
    open_store("memory://other-test").close()


def test_sqlite_url_opens_a_migrated_store(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'rota.db'}")
    try:
        assert isinstance(store, SQLiteStore)
        assert store.path == tmp_path / "rota.db"
        assert store.get_run("r1") is None  # the schema exists
    finally:
        store.close()


def test_default_url_is_sqlite_in_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = open_store(DEFAULT_STORE_URL)
    store.close()
    assert (tmp_path / "rota.db").exists()


def test_missing_scheme() -> None:
    with pytest.raises(ConfigurationError, match=r"no scheme.*sqlite:///rota\.db"):
        open_store("rota.db")


def test_unknown_scheme_suggests_the_closest() -> None:
    with pytest.raises(ConfigurationError, match=r"'sqlit://'.*did you mean 'sqlite'\?"):
        open_store("sqlit:///rota.db")


def test_unknown_scheme_lists_the_known_ones() -> None:
    with pytest.raises(ConfigurationError, match=r"known: .*memory://.*sqlite://"):
        open_store("mongodb://localhost")


@pytest.mark.parametrize("url", ["postgresql://localhost/app", "redis://localhost:6379/0"])
def test_backend_missing_from_this_version(url: str, monkeypatch: pytest.MonkeyPatch) -> None:
    module = "rota.stores.postgres" if url.startswith("postgres") else "rota.stores.redis"
    monkeypatch.setitem(sys.modules, module, None)  # as if it did not ship
    with pytest.raises(ConfigurationError, match=r"not available in this version.*sqlite://"):
        open_store(url)


def test_driver_missing_gives_install_advice(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = importlib.import_module

    def import_module(name: str, package: str | None = None) -> ModuleType:
        if name == "rota.stores.postgres":  # as if it shipped, but psycopg is absent
            raise ModuleNotFoundError("No module named 'psycopg'", name="psycopg")
        return real_import(name, package)

    monkeypatch.setattr(importlib, "import_module", import_module)
    with pytest.raises(ConfigurationError, match=r"needs 'psycopg'.*rota\[postgres\]"):
        open_store("postgresql://localhost/app")


@pytest.mark.parametrize("url", ["memory://a/b", "memory://x?y=1"])
def test_bad_memory_urls(url: str) -> None:
    with pytest.raises(ConfigurationError, match="memory://"):
        open_store(url)


def test_in_memory_sqlite_is_refused_with_advice() -> None:
    with pytest.raises(ConfigurationError, match="use 'memory://'"):
        open_store("sqlite://:memory:")
