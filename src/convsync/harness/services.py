"""A throwaway PostgreSQL database and a claimed Redis database, for one run.

The test suite, `convsync bench` and anything else that runs convsync against the
machine's own PostgreSQL and Redis take their databases here, so runs going on at the
same time never share one: databases get a unique name and are dropped after, Redis
database numbers are claimed with a key (with a TTL, so a crashed run frees its number).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import redis
from sqlalchemy.engine import make_url

from convsync.domain.errors import ConfigurationError

# Database 0 holds the claims; numbers 1 to 15 are handed out.
CLAIM_KEY = "convsync:test-claim:{number}"
CLAIM_SECONDS = 3_600
REDIS_DATABASES = range(1, 16)


def hide_password(url: str) -> str:
    return make_url(url).render_as_string(hide_password=True)


def _first_line(error: Exception) -> str:
    text = str(error).strip()
    return text.splitlines()[0] if text else type(error).__name__


@contextmanager
def throwaway_database(admin_url: str, prefix: str) -> Iterator[str]:
    """Create a uniquely named database, yield its SQLAlchemy URL, drop it afterwards.

    `admin_url` is a libpq URL (`postgresql://user@host:port/db`) of a role that may
    create databases.
    """
    name = f"{prefix}_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    try:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as admin:
            admin.execute(f'CREATE DATABASE "{name}"')
    except psycopg.Error as error:
        raise ConfigurationError(
            f"cannot create a throwaway database at {hide_password(admin_url)}: "
            f"{_first_line(error)}"
        ) from None
    server = admin_url.rsplit("/", 1)[0].split("://", 1)[1]
    try:
        yield f"postgresql+psycopg://{server}/{name}"
    finally:
        with psycopg.connect(admin_url, autocommit=True, connect_timeout=10) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@contextmanager
def claimed_redis_database(base_url: str) -> Iterator[str]:
    """Claim a Redis database number no other run holds, flush it, yield its URL."""
    control = redis.Redis.from_url(f"{base_url}/0", socket_connect_timeout=10)
    token = uuid.uuid4().hex
    try:
        number = next(
            (
                n
                for n in REDIS_DATABASES
                if control.set(CLAIM_KEY.format(number=n), token, nx=True, ex=CLAIM_SECONDS)
            ),
            None,
        )
    except redis.RedisError as error:
        control.close()
        raise ConfigurationError(f"cannot reach Redis at {base_url}: {error}") from None
    if number is None:
        control.close()
        raise ConfigurationError(
            f"no free Redis database at {base_url}: all {len(REDIS_DATABASES)} are claimed"
        )
    url = f"{base_url}/{number}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        client.close()
        key = CLAIM_KEY.format(number=number)
        if control.get(key) == token.encode():
            control.delete(key)
        control.close()
