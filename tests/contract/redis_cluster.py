"""A private Redis Cluster for the tests: three masters, no replicas, on free ports.

``start_cluster(folder)`` starts three ``redis-server --cluster-enabled yes``
processes (no persistence) with their files in ``folder``, joins them with
``redis-cli --cluster create`` and waits until every node says
``cluster_state:ok``; ``stop()`` ends them. A missing ``redis-server`` or
``redis-cli`` is an error, never a skip. ``ROTA_TEST_REDIS_CLUSTER_URL`` names
a running cluster to use instead (``redis://host:port/0?cluster=true``).
"""

from __future__ import annotations

import os
import random
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path
from typing import Any

import redis
from redis.cluster import RedisCluster

HOST = "127.0.0.1"
BUS_OFFSET = 10000
"""A node's cluster bus listens on its port + 10000: both must be free."""
STARTUP_TIMEOUT = 20.0
_CREATE_OPTIONS = ("--cluster-replicas", "0", "--cluster-yes")


@dataclass
class LocalCluster:
    """The cluster's nodes, and the processes this harness started (none for an
    outside cluster)."""

    ports: list[int]
    host: str = HOST
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)

    @property
    def url(self) -> str:
        """A store URL naming the first node (the client finds the others)."""
        return self.url_at(0)

    _admin: RedisCluster | None = None

    def url_at(self, node: int = 0, **query: str) -> str:
        """A store URL naming node ``node`` (any node leads the client to the others)."""
        extra = "".join(f"&{k}={v}" for k, v in query.items())
        return f"redis://{self.host}:{self.ports[node]}/0?cluster=true{extra}"

    @property
    def admin(self) -> RedisCluster:
        """One cluster client for the tests' own reads and clean-ups (making one
        costs tens of milliseconds: it reads the cluster's layout and commands)."""
        if self._admin is None:
            self._admin = RedisCluster(host=self.host, port=self.ports[0], decode_responses=True)
        return self._admin

    def stop(self) -> None:
        if self._admin is not None:
            self._admin.close()
            self._admin = None
        for process in self.processes:
            process.terminate()
        for process in self.processes:
            try:
                process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)
        self.processes.clear()


def _tool(name: str) -> str:
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(
            f"{name} not found on PATH: the Redis Cluster tests start a cluster of their "
            "own and need redis-server and redis-cli (apt-get install redis-server)"
        )
    return found


def _free(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        try:
            sock.bind((HOST, port))
        except OSError:
            return False
    return True


def _free_ports(count: int) -> list[int]:
    """``count`` ports that are free, and whose cluster bus ports are free too."""
    picked: list[int] = []
    candidates = random.sample(range(20000, 30000), 400)
    for port in candidates:
        if port not in picked and _free(port) and _free(port + BUS_OFFSET):
            picked.append(port)
            if len(picked) == count:
                return picked
    raise RuntimeError(f"found no {count} free ports (and bus ports) for a Redis Cluster")


def _wait(condition: str, check: Callable[[], object], deadline: float) -> None:
    while True:
        with suppress(redis.RedisError, OSError):
            if check():
                return
        if time.monotonic() > deadline:
            raise RuntimeError(f"the private Redis Cluster never got {condition}")
        time.sleep(0.02)


def _cluster_ok(node: redis.Redis) -> bool:
    info = node.cluster("INFO")  # parsed by redis-py into a dict
    return bool(info.get("cluster_state") == "ok")


def start_cluster(folder: Path, masters: int = 3) -> LocalCluster:
    """Start, join and wait for a ``masters``-node cluster with its files in ``folder``."""
    outside = os.environ.get("ROTA_TEST_REDIS_CLUSTER_URL")
    if outside:
        client: Any = RedisCluster.from_url(outside.split("?", 1)[0])  # partly untyped
        primaries = client.get_primaries()
        client.close()
        return LocalCluster([node.port for node in primaries], primaries[0].host)
    server, cli = _tool("redis-server"), _tool("redis-cli")
    ports = _free_ports(masters)
    cluster = LocalCluster(ports)
    deadline = time.monotonic() + STARTUP_TIMEOUT
    try:
        for port in ports:
            command = [
                server,
                "--port", str(port),
                "--bind", HOST,
                "--dir", str(folder),
                "--cluster-enabled", "yes",
                "--cluster-config-file", f"nodes-{port}.conf",
                "--cluster-node-timeout", "5000",
                "--save", "",
                "--appendonly", "no",
                "--logfile", f"redis-{port}.log",
            ]  # fmt: skip
            cluster.processes.append(subprocess.Popen(command, stdout=subprocess.DEVNULL))
        for port in ports:
            with redis.Redis(host=HOST, port=port, socket_timeout=1) as node:
                _wait(f"node {port} answering", node.ping, deadline)
        created = subprocess.run(
            [cli, "--cluster", "create", *(f"{HOST}:{p}" for p in ports), *_CREATE_OPTIONS],
            capture_output=True,
            text=True,
            timeout=STARTUP_TIMEOUT,
            check=False,
        )
        if created.returncode != 0:
            raise RuntimeError(f"redis-cli --cluster create failed:\n{created.stdout}")
        for port in ports:
            with redis.Redis(host=HOST, port=port, socket_timeout=1) as node:
                _wait(f"cluster_state:ok on node {port}", partial(_cluster_ok, node), deadline)
    except BaseException:
        cluster.stop()
        raise
    return cluster


@contextmanager
def running_cluster(folder: Path) -> Iterator[LocalCluster]:
    cluster = start_cluster(folder)
    try:
        yield cluster
    finally:
        cluster.stop()


def drop_prefix(cluster: LocalCluster, prefix: str) -> None:
    """Delete every key of ``prefix``: they all live on the node that owns its hash tag."""
    keys = keys_of(cluster, prefix)
    if keys:
        cluster.admin.unlink(*keys)


def keys_of(cluster: LocalCluster, prefix: str, *, node: int | None = None) -> list[str]:
    """The keys of ``prefix`` on the node that owns its hash tag, or on node ``node``."""
    admin: Any = cluster.admin  # RedisCluster's node lookups are not typed
    if node is None:
        owner = admin.get_node_from_key(f"{{{prefix}}}:")
    else:
        owner = admin.get_node(host=cluster.host, port=cluster.ports[node])
    found = admin.get_redis_connection(owner).scan_iter(match=f"{{{prefix}}}:*", count=1000)
    return sorted(found)
