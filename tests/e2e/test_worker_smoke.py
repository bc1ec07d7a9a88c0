"""A real worker consumes a task from real Redis and writes to real PostgreSQL."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable

import pytest
from sqlalchemy.orm import Session, sessionmaker

from convsync.store import heartbeats
from convsync.workers.app import app
from tests.support.workers import WorkerProcess

pytestmark = pytest.mark.e2e


def test_worker_consumes_from_redis_and_writes_to_postgres(
    sessions: sessionmaker[Session], start_worker: Callable[..., WorkerProcess]
) -> None:
    start_worker()
    token = uuid.uuid4().hex
    app.send_task("convsync.system.ping", kwargs={"token": token})
    deadline = time.monotonic() + 30
    seen = None
    while seen is None and time.monotonic() < deadline:
        with sessions() as session:
            seen = heartbeats.seen_at(session, token)
        time.sleep(0.2)
    assert seen is not None
