"""SQLite only: URLs, opening errors, migrations, other processes' commits."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from rota.errors import ConfigurationError, StoreUnavailable
from rota.stores.sqlite import SQLiteStore, migrations, path_from_url

from .support import make_run


@pytest.fixture
def db(tmp_path: Path) -> Iterator[SQLiteStore]:
    store = SQLiteStore(tmp_path / "rota.db")
    store.migrate()
    yield store
    store.close()


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///rota.db", "rota.db"),
        ("sqlite:///data/rota.db", "data/rota.db"),
        ("sqlite:////var/lib/rota.db", "/var/lib/rota.db"),
        ("SQLITE:///x.db", "x.db"),
    ],
)
def test_url_forms(url: str, path: str) -> None:
    assert path_from_url(url) == Path(path)


@pytest.mark.parametrize(
    ("url", "advice"),
    [
        ("sqlite://:memory:", "memory://"),
        ("sqlite:///:memory:", "memory://"),
        ("sqlite://", "names no file"),
        ("sqlite://host/rota.db", "no host"),
        ("sqlite:///rota.db?mode=ro", "no options"),
    ],
)
def test_unusable_urls_are_refused_with_advice(url: str, advice: str) -> None:
    with pytest.raises(ConfigurationError, match=advice):
        path_from_url(url)


def test_relative_url_is_relative_to_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    store = SQLiteStore.from_url("sqlite:///here.db")
    store.close()
    assert store.path == tmp_path / "here.db"
    assert store.url == "sqlite:///here.db"


def _listing(folder: Path) -> list[str]:
    return sorted(p.name for p in folder.iterdir())


def test_missing_directory(tmp_path: Path) -> None:
    target = tmp_path / "nope" / "rota.db"
    with pytest.raises(StoreUnavailable, match=r"nope.*does not exist"):
        SQLiteStore(target)
    assert _listing(tmp_path) == []


def test_a_directory_given_as_the_file(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable, match="is a directory"):
        SQLiteStore(tmp_path)


def test_a_file_that_is_not_a_database(tmp_path: Path) -> None:
    junk = tmp_path / "notes.txt"
    junk.write_text("hello, this is not SQLite\n" * 100)
    with pytest.raises(StoreUnavailable, match=r"notes\.txt.*not a database"):
        SQLiteStore(junk)
    assert _listing(tmp_path) == ["notes.txt"]
    assert junk.read_text().startswith("hello")


def test_permission_denied(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Simulated: the suite may run as root, which no file mode stops.
    monkeypatch.setattr(os, "access", lambda *args, **kwargs: False)
    with pytest.raises(StoreUnavailable, match=r"rota\.db.*permission denied"):
        SQLiteStore(tmp_path / "rota.db")
    assert _listing(tmp_path) == []


def test_wal_mode_and_busy_timeout(db: SQLiteStore, tmp_path: Path) -> None:
    conn = sqlite3.connect(tmp_path / "rota.db")
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    finally:
        conn.close()


def _schema(path: Path) -> list[tuple[str, str, str]]:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("SELECT type, name, sql FROM sqlite_master ORDER BY type, name")
        return [(t, n, " ".join((s or "").split())) for t, n, s in rows]
    finally:
        conn.close()


def test_migrating_step_by_step_equals_creating_fresh(tmp_path: Path) -> None:
    fresh = SQLiteStore(tmp_path / "fresh.db")
    fresh.migrate()
    fresh.close()
    stepped = SQLiteStore(tmp_path / "stepped.db")
    for version, _, _ in migrations():
        stepped.migrate(target=version)
        stepped.close()
        stepped = SQLiteStore(tmp_path / "stepped.db")
    stepped.migrate()
    stepped.close()
    assert _schema(tmp_path / "stepped.db") == _schema(tmp_path / "fresh.db")
    assert any(name == "rota_runs" for _, name, _ in _schema(tmp_path / "fresh.db"))


def test_migrations_are_numbered_from_one_without_gaps() -> None:
    versions = [version for version, _, _ in migrations()]
    assert versions == list(range(1, len(versions) + 1))


def test_migrate_is_idempotent_and_keeps_data(db: SQLiteStore) -> None:
    db.insert_run(make_run("r1"))
    db.migrate()
    db.migrate()
    assert db.get_run("r1") is not None


def test_a_newer_schema_is_refused(db: SQLiteStore) -> None:
    assert db._conn is not None
    db._conn.execute("INSERT INTO rota_migrations (version, name) VALUES (9999, 'future')")
    with pytest.raises(StoreUnavailable, match="upgrade rota"):
        db.migrate()


def test_unmigrated_database_says_so(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "raw.db")
    try:
        with pytest.raises(StoreUnavailable, match="no such table"):
            store.get_run("r1")
    finally:
        store.close()


def test_two_stores_on_one_file_see_each_other(db: SQLiteStore, tmp_path: Path) -> None:
    other = SQLiteStore(tmp_path / "rota.db")
    try:
        assert other.insert_run(make_run("r1"))
        assert db.insert_run(make_run("r1")) is False
        assert db.get_run("r1") == other.get_run("r1")
    finally:
        other.close()


def test_wait_notices_a_commit_by_another_connection(db: SQLiteStore, tmp_path: Path) -> None:
    db.wait_for_activity(0)
    assert db.wait_for_activity(0.06) is False
    other = SQLiteStore(tmp_path / "rota.db")
    try:
        other.insert_run(make_run("r1"))
        assert db.wait_for_activity(0.2) is True
        assert db.wait_for_activity(0.06) is False
    finally:
        other.close()
