"""Store servers for the queue-mode cluster tests.

``shared_store``: an isolated store on the servers the whole suite uses
(``ROTA_TEST_POSTGRES_URL`` / ``ROTA_TEST_REDIS_URL``, as the contract suite):
a schema or key prefix of its own, dropped afterwards. Those servers are never
restarted.

``PrivatePostgres`` / ``PrivateRedis``: a server of the test's own on a free
port, which a test may restart; stopped and deleted at teardown. Their
binaries are Debian's ``postgresql`` and ``redis-server`` packages, which
``scripts/_services.sh`` installs on a fresh machine; when they are missing
the test fails with a message saying so (it never skips).
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

SHARED_POSTGRES = os.environ.get("ROTA_TEST_POSTGRES_URL") or (
    "postgresql://postgres@127.0.0.1:5432/postgres"
)
SHARED_REDIS = os.environ.get("ROTA_TEST_REDIS_URL") or "redis://127.0.0.1:6379/0"

MISSING = "{what} not found; scripts/_services.sh installs it (apt-get install {package})"


def with_query(url: str, **options: str) -> str:
    query = "&".join(f"{key}={value}" for key, value in options.items())
    return f"{url}{'&' if '?' in url else '?'}{query}"


def free_port() -> int:
    """A TCP port nothing listens on at the moment (the kernel's pick)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


def port_open(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 30.0) -> None:
    """Poll ``condition`` until it is true; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(0.05)


# -- an isolated store on the shared servers ------------------------------------------------


def drop_postgres_schema(server: str, schema: str) -> None:
    import psycopg
    from psycopg import sql

    with psycopg.connect(server, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))


def drop_redis_prefix(server: str, prefix: str) -> None:
    import redis

    with redis.Redis.from_url(server) as admin:
        keys = list(admin.scan_iter(match=f"{{{prefix}}}:*", count=1000))
        if keys:
            admin.unlink(*keys)


@contextmanager
def postgres_store(server: str) -> Iterator[str]:
    """A store URL with a schema of its own on ``server``; the schema is dropped afterwards."""
    schema = f"rota_e2e_{uuid.uuid4().hex[:8]}"
    try:
        yield with_query(server, schema=schema)
    finally:
        drop_postgres_schema(server, schema)


@contextmanager
def redis_store(server: str) -> Iterator[str]:
    """A store URL with a key prefix of its own on ``server``; its keys are dropped afterwards."""
    prefix = f"e2e-{uuid.uuid4().hex}"
    try:
        yield with_query(server, prefix=prefix)
    finally:
        drop_redis_prefix(server, prefix)


@contextmanager
def shared_store(backend: str, tmp_path: Path) -> Iterator[str]:
    """A store URL for ``backend`` (``sqlite``, ``postgres``, ``redis``), cleaned up afterwards."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'rota.db'}"
    elif backend == "postgres":
        with postgres_store(SHARED_POSTGRES) as url:
            yield url
    elif backend == "redis":
        with redis_store(SHARED_REDIS) as url:
            yield url
    else:
        raise ValueError(f"unknown backend {backend!r}")


# -- private servers, which a test may restart ----------------------------------------------


def _run(*command: str) -> None:
    done = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
    if done.returncode != 0:
        raise AssertionError(f"{' '.join(command)} failed ({done.returncode}):\n{done.stderr}")


class PrivatePostgres:
    """A PostgreSQL cluster of its own (``initdb`` in a temporary directory, run as the
    ``postgres`` OS user since the tests run as root) on a free port."""

    def __init__(self) -> None:
        initdbs = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
        if not initdbs:
            raise AssertionError(MISSING.format(what="PostgreSQL's initdb", package="postgresql"))
        if shutil.which("runuser") is None or os.getuid() != 0:
            raise AssertionError("a private PostgreSQL needs root and runuser (to run as postgres)")
        self.bindir = Path(initdbs[-1]).parent
        self.port = free_port()
        # Not under pytest's tmp_path: its parents are private to root, and the server
        # runs as postgres. The socket directory's path must also stay short.
        self.data = Path(tempfile.mkdtemp(prefix="rota-e2e-pg-"))
        shutil.chown(self.data, "postgres", "postgres")
        self.url = f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def _ctl(self, *args: str) -> None:
        _run("runuser", "-u", "postgres", "--", str(self.bindir / "pg_ctl"), "-D", str(self.data),
             *args)  # fmt: skip

    def start(self) -> PrivatePostgres:
        _run("runuser", "-u", "postgres", "--", str(self.bindir / "initdb"), "-D", str(self.data),
             "-U", "postgres", "--auth=trust", "-E", "UTF8")  # fmt: skip
        self._start()
        return self

    def _start(self) -> None:
        options = (
            f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
            " -c max_connections=200"
        )
        self._ctl("-w", "-l", str(self.data / "log"), "-o", options, "start")

    def restart(self, down: float = 0.0) -> None:
        """``pg_ctl stop -m fast``, ``down`` s with no server, start again on the same
        port: every connection is cut, nothing committed is lost."""
        self._ctl("-w", "-m", "fast", "stop")
        time.sleep(down)
        self._start()

    def stop(self) -> None:
        with suppress(AssertionError, subprocess.TimeoutExpired):
            self._ctl("-w", "-m", "immediate", "stop")
        shutil.rmtree(self.data, ignore_errors=True)


class PrivateRedis:
    """A ``redis-server`` of its own on a free port, with an fsync-always append-only file.

    Without persistence a Redis restart is a wipe: every queued run, lease and
    schedule's progress would be gone, which no store can survive. With
    ``--appendonly yes --appendfsync always`` each acknowledged write is on disk
    before the reply, so a restart is a restart: what a production Redis
    holding a rota store must be configured to do.
    """

    def __init__(self) -> None:
        server = shutil.which("redis-server")
        if server is None or shutil.which("redis-cli") is None:
            raise AssertionError(MISSING.format(what="redis-server", package="redis-server"))
        self.server = server
        self.port = free_port()
        self.dir = Path(tempfile.mkdtemp(prefix="rota-e2e-redis-"))
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> PrivateRedis:
        _run(self.server, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "yes", "--appendfsync", "always", "--daemonize", "yes",
             "--dir", str(self.dir), "--pidfile", str(self.dir / "redis.pid"),
             "--logfile", str(self.dir / "redis.log"))  # fmt: skip
        wait_for(self._answers, f"redis-server on port {self.port} to answer")
        return self

    def _answers(self) -> bool:
        done = subprocess.run(
            ["redis-cli", "-p", str(self.port), "ping"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        )
        return done.stdout.strip() == "PONG"

    def _shutdown(self) -> None:
        # SHUTDOWN makes the server exit before it replies; redis-cli may then report
        # the lost connection, which is the expected outcome.
        subprocess.run(
            ["redis-cli", "-p", str(self.port), "shutdown", "nosave"],
            capture_output=True,
            timeout=10,
            check=False,
        )
        wait_for(lambda: not port_open(self.port), f"redis-server on port {self.port} to exit")

    def restart(self, down: float = 0.0) -> None:
        """Shut down (keeping the append-only file), stay down ``down`` s, start on the
        same port from that file."""
        self._shutdown()
        time.sleep(down)
        self.start()

    def stop(self) -> None:
        with suppress(AssertionError, subprocess.TimeoutExpired):
            self._shutdown()
        shutil.rmtree(self.dir, ignore_errors=True)
