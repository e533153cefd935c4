"""The PostgreSQL server of the contract suite, and an admin connection to it."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg import sql

SERVER_URL = os.environ.get("ROTA_TEST_POSTGRES_URL") or (
    "postgresql://postgres@127.0.0.1:5432/postgres"
)
"""Set by scripts/test (scripts/_services.sh); a missing server fails the tests."""


def new_schema() -> str:
    return f"rota_t_{uuid.uuid4().hex[:8]}"


def store_url(schema: str, **options: str) -> str:
    query = "&".join(f"{k}={v}" for k, v in {"schema": schema, **options}.items())
    return f"{SERVER_URL}{'&' if '?' in SERVER_URL else '?'}{query}"


@contextmanager
def admin() -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
    """A separate autocommit connection, as an operator's psql would be."""
    with psycopg.connect(SERVER_URL, autocommit=True) as conn:
        yield conn


def drop_schema(schema: str) -> None:
    with admin() as conn:
        conn.execute(sql.SQL("DROP SCHEMA IF EXISTS {} CASCADE").format(sql.Identifier(schema)))
