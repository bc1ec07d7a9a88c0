"""Shared fixtures: real PostgreSQL, real Redis, real worker processes.

Everything here is lazy: a unit test that asks for none of it starts nothing.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from psycopg.errors import DeadlockDetected
from sqlalchemy import text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from convsync.config import get_settings
from convsync.salesforce.usage import attribute_to
from convsync.salesforce_emulator.testing import EmulatorHandle, running_emulator
from convsync.store.tables import Base
from convsync.workers import root
from tests.support.services import dedicated_redis_database, fresh_postgres_database
from tests.support.workers import WorkerProcess


@pytest.fixture(scope="session")
def pg_url() -> Iterator[str]:
    with fresh_postgres_database() as url:
        yield url


TRUNCATE_ATTEMPTS = 5


@pytest.fixture(autouse=True)
def org_level_api_calls() -> None:
    """Calls count as org-level until a use case names its campaign: a worker resets
    this before every task, and each test here starts the same way (a run loaded
    in-process by an earlier test would otherwise lend it its campaign)."""
    attribute_to(None)


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    with dedicated_redis_database() as url:
        yield url


@pytest.fixture(scope="session")
def service_env(
    pg_url: str, redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, str]]:
    """CONVSYNC_* pointing at this run's database and Redis, for this process and children."""
    env = {
        "CONVSYNC_DATABASE_URL": pg_url,
        "CONVSYNC_BROKER_URL": redis_url,
        "CONVSYNC_RESULT_BACKEND": redis_url,
        "CONVSYNC_LOG_FORMAT": "json",
        # Pooled updates wait half a second, not two: the suite's runs are one at a time.
        "CONVSYNC_UPDATE_POOL_SECONDS": "0.5",
    }
    saved = {k: os.environ.get(k) for k in env}
    os.environ.update(env)
    get_settings.cache_clear()
    from convsync.store.migrate import upgrade

    adapters = root.build()
    upgrade(adapters.engine)
    root.reset(adapters)
    yield env
    root.reset(None)
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value
    get_settings.cache_clear()


@pytest.fixture
def sessions(service_env: dict[str, str]) -> Iterator[sessionmaker[Session]]:
    """A session factory on an empty (truncated) schema.

    A module's worker (or beat) may still be finishing a query of the test before: the
    TRUNCATE can then lose a deadlock against it, and simply goes again.
    """
    adapters = root.adapters()
    tables = ", ".join(t.name for t in reversed(Base.metadata.sorted_tables))
    for attempt in range(1, TRUNCATE_ATTEMPTS + 1):
        try:
            with adapters.engine.begin() as conn:
                conn.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
            break
        except OperationalError as error:
            if not isinstance(error.orig, DeadlockDetected) or attempt == TRUNCATE_ATTEMPTS:
                raise
    return adapters.sessions


@pytest.fixture
def start_worker(
    service_env: dict[str, str], tmp_path: Path
) -> Iterator[Callable[..., WorkerProcess]]:
    """Start real `convsync worker` processes; all are stopped at the end of the test."""
    started: list[WorkerProcess] = []

    def start(
        name: str = "w1",
        concurrency: int = 2,
        queues: str | None = None,
        extra_env: dict[str, str] | None = None,
    ) -> WorkerProcess:
        worker = WorkerProcess(
            {**service_env, **(extra_env or {})},
            tmp_path,
            name=name,
            concurrency=concurrency,
            queues=queues,
        )
        started.append(worker)
        worker.wait_ready()
        return worker

    yield start
    for worker in started:
        worker.stop()


@pytest.fixture(scope="session")
def emulator() -> Iterator[EmulatorHandle]:
    """The Salesforce emulator, over HTTPS on loopback, for the whole run."""
    with running_emulator() as handle:
        yield handle


@pytest.fixture(scope="session")
def salesforce_env(
    service_env: dict[str, str], emulator: EmulatorHandle
) -> Iterator[dict[str, str]]:
    """service_env plus the emulator's URL, CA and a login, for this process and workers."""
    env = {
        **service_env,
        "CONVSYNC_SALESFORCE_LOGIN_URL": emulator.url,
        "CONVSYNC_SALESFORCE_CA_BUNDLE": emulator.ca_file,
        "CONVSYNC_SALESFORCE_CLIENT_ID": "convsync-tests",
        "CONVSYNC_SALESFORCE_CLIENT_SECRET": "client-secret-for-tests",
        "CONVSYNC_SALESFORCE_USERNAME": "integration@example.com",
        "CONVSYNC_SALESFORCE_PASSWORD": "password-for-tests",
        "CONVSYNC_SALESFORCE_SECURITY_TOKEN": "token-for-tests",
    }
    added = {k: v for k, v in env.items() if k not in service_env}
    os.environ.update(added)
    get_settings.cache_clear()
    root.reset(root.build())
    yield env
    for key in added:
        os.environ.pop(key, None)
    get_settings.cache_clear()
    root.reset(root.build())


@pytest.fixture
def org(
    salesforce_env: dict[str, str], emulator: EmulatorHandle, sessions: sessionmaker[Session]
) -> EmulatorHandle:
    """A reset emulator and an empty database: a clean org and a clean Conversion."""
    emulator.admin.reset()
    root.adapters().forget_salesforce_access()  # a new org: its permissions are new too
    return emulator
