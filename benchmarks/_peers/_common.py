"""What every contender module shares: the servers, from the environment the
benchmark sets (a worker subprocess inherits it)."""

from __future__ import annotations

import os
import sys

REDIS_URL = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
"""A Redis database of its own: each trial starts with FLUSHDB on it."""
PG_URL = os.environ.get("BENCH_PG_URL", "postgresql://postgres@127.0.0.1:5432/rota_bench")
"""A PostgreSQL database of its own: dropped and created again for each trial."""
PYTHON = sys.executable


def tool(name: str) -> str:
    """A console script installed next to this interpreter (the venv's ``bin``)."""
    return os.path.join(os.path.dirname(sys.executable), name)
