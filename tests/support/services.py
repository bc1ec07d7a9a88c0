"""Real services for tests: a fresh PostgreSQL database and a dedicated Redis database per run."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import redis

PG_ADMIN_URL = os.environ.get("CONVSYNC_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_BASE_URL = os.environ.get("CONVSYNC_TEST_REDIS", "redis://127.0.0.1:6379")


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """Create a database for this run, yield its SQLAlchemy URL, drop it afterwards."""
    name = f"convsync_test_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    base = PG_ADMIN_URL.rsplit("/", 1)[0].replace("postgresql://", "postgresql+psycopg://")
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def dedicated_redis_database() -> Iterator[str]:
    """Claim a Redis database number no other test run holds, flush it, yield its URL.

    A claim is a key in database 0 with a TTL, so a crashed run frees its number.
    """
    control = redis.Redis.from_url(f"{REDIS_BASE_URL}/0")
    token = uuid.uuid4().hex
    for number in range(1, 16):
        if control.set(f"convsync:test-claim:{number}", token, nx=True, ex=3_600):
            break
    else:  # pragma: no cover - sixteen concurrent runs on one machine
        raise RuntimeError("no free Redis database for this test run")
    url = f"{REDIS_BASE_URL}/{number}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()
        if control.get(f"convsync:test-claim:{number}") == token.encode():
            control.delete(f"convsync:test-claim:{number}")
        control.close()


def without_convsync_environment(monkeypatch: object) -> None:
    """Drop CONVSYNC_* variables (session fixtures set them) for tests building Settings."""
    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    for key in list(os.environ):
        if key.startswith("CONVSYNC_"):
            monkeypatch.delenv(key)
