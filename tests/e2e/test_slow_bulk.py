"""A Bulk API 2.0 job that outlasts a chunk's lease, as in a busy org: the chunk keeps
its lease while the job runs, so no other worker writes it again (no duplicate Leads).
Real worker and beat processes (whose reconciler hands stalled chunks over).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from convsync.salesforce_emulator.testing import EmulatorHandle
from tests.support.beat import beats, fast_cadence, flush
from tests.support.scenario import (
    WEBINAR_IN_SALESFORCE,
    cli,
    conversion_type,
    finished_run,
    salesforce_campaign,
    salesforce_members,
)
from tests.support.workers import WorkerProcess

pytestmark = pytest.mark.e2e

LEASE = 5
PROCESSING = 3 * LEASE
PEOPLE = 250  # over the bulk threshold below: one chunk, written through Bulk API jobs


@pytest.fixture
def busy_org(
    org: EmulatorHandle,
    sessions: sessionmaker[Session],
    redis_url: str,
    start_worker: Callable[..., WorkerProcess],
    tmp_path: Path,
) -> Iterator[EmulatorHandle]:
    """A 5-second lease, a reconciler every 2 s, Bulk API jobs taking 15 s each."""
    cadence = fast_cadence(
        interval=2, lease=LEASE, redis_url=redis_url, CONVSYNC_BULK_THRESHOLD="200"
    )
    with cadence, beats(os.environ, tmp_path) as start_beat:
        worker = start_worker(name="busy", concurrency=2)
        start_beat()
        org.admin.set_bulk_processing(PROCESSING)
        yield org
        worker.kill_all()
    flush(redis_url)


def outbound_attempts(sessions: sessionmaker[Session]) -> list[int]:
    with sessions() as session:
        rows = session.execute(
            text("SELECT attempts FROM sync_chunks WHERE stage = 'outbound' ORDER BY number")
        )
        return [int(attempts) for (attempts,) in rows]


def test_a_bulk_job_longer_than_the_lease_creates_each_lead_once(
    busy_org: EmulatorHandle, sessions: sessionmaker[Session], tmp_path: Path
) -> None:
    emails = [f"person.{i:03}@slow-bulk.example.com" for i in range(PEOPLE)]
    people = tmp_path / "people.csv"
    people.write_text("email,status\n" + "".join(f"{e},Registered\n" for e in emails))
    conversion_type()
    cli("campaigns", "create", "Spring", "--type", "Webinar")
    cli("members", "import", "Spring", str(people))
    campaign = salesforce_campaign(busy_org, "Spring SF", WEBINAR_IN_SALESFORCE, [])
    started = time.monotonic()

    cli("link", "Spring", "--salesforce-campaign", campaign["id"])

    run = finished_run("Spring", timeout=6 * PROCESSING)
    assert run["state"] == "succeeded", run
    assert time.monotonic() - started > 2 * PROCESSING  # a Lead job, then a member job
    assert busy_org.admin.summary()["Lead"]["live"] == PEOPLE
    assert salesforce_members(busy_org, campaign["id"]) == dict.fromkeys(emails, "Registered")
    assert outbound_attempts(sessions) == [1]
