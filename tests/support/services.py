"""Real services for tests: a fresh PostgreSQL database and a dedicated Redis database per run.

The harness is the product's own (`convsync.harness`), shared with `convsync bench`.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager

from convsync.harness.services import claimed_redis_database, throwaway_database

PG_ADMIN_URL = os.environ.get("CONVSYNC_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/test")
REDIS_BASE_URL = os.environ.get("CONVSYNC_TEST_REDIS", "redis://127.0.0.1:6379")


@contextmanager
def fresh_postgres_database() -> Iterator[str]:
    """Create a database for this run, yield its SQLAlchemy URL, drop it afterwards."""
    with throwaway_database(PG_ADMIN_URL, "convsync_test") as url:
        yield url


@contextmanager
def dedicated_redis_database() -> Iterator[str]:
    """Claim a Redis database number no other test run (or bench) holds; yield its URL."""
    with claimed_redis_database(REDIS_BASE_URL) as url:
        yield url


def without_convsync_environment(monkeypatch: object) -> None:
    """Drop CONVSYNC_* variables (session fixtures set them) for tests building Settings."""
    import pytest

    assert isinstance(monkeypatch, pytest.MonkeyPatch)
    for key in list(os.environ):
        if key.startswith("CONVSYNC_"):
            monkeypatch.delenv(key)
