"""A pending push survives a SIGKILL: the worker holding an edit's push request dies,
the request dies with it, and beat's next tick still carries the edit to Salesforce.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session, sessionmaker

from convsync import api
from convsync.salesforce_emulator.testing import EmulatorHandle
from tests.support.beat import BeatProcess, beats, broker_app, fast_cadence, flush
from tests.support.observe import open_runs_per_link, runs, salesforce_side
from tests.support.scenario import (
    WEBINAR_IN_SALESFORCE,
    WEBINAR_STATUSES,
    eventually,
    salesforce_campaign,
)
from tests.support.workers import WorkerProcess

pytestmark = pytest.mark.e2e

# Long enough that the request is still waiting in the worker when the worker is killed.
PUSH_DELAY = 30


@pytest.fixture
def cluster(
    org: EmulatorHandle, redis_url: str, tmp_path: Path
) -> Iterator[Callable[..., BeatProcess]]:
    """Edits request their push 30 s on; beat, once the test starts it, ticks every 5 s."""
    with (
        fast_cadence(
            interval=5,
            lease=10,
            redis_url=redis_url,
            CONVSYNC_EDIT_PUSH_DELAY_SECONDS=str(PUSH_DELAY),
        ),
        beats(os.environ, tmp_path) as start_beat,
    ):
        yield start_beat
    flush(redis_url)  # the killed worker's unacked request must not reach another test


def held_push_requests() -> list[str]:
    """The push requests workers hold until their countdown ends (`inspect scheduled`)."""
    app = broker_app()
    try:
        scheduled = app.control.inspect(timeout=1.0).scheduled() or {}
    finally:
        app.close()
    return [
        entry["request"]["name"]
        for entries in scheduled.values()
        for entry in entries
        if entry["request"]["name"] == "convsync.sync.push_edits"
    ]


def test_an_edit_whose_push_request_died_with_its_worker_is_pushed_by_the_next_tick(
    org: EmulatorHandle,
    sessions: sessionmaker[Session],
    start_worker: Callable[..., WorkerProcess],
    cluster: Callable[..., BeatProcess],
) -> None:
    api.create_type("Webinar", WEBINAR_STATUSES)
    there = salesforce_campaign(
        org, "Spring SF", WEBINAR_IN_SALESFORCE, [("ann@example.com", "Invited")]
    )
    api.create_campaign("Spring", "Webinar", sync="existing", salesforce_campaign_id=there["id"])
    doomed = start_worker(name="doomed")
    eventually(lambda: [r.state for r in runs(sessions)] == ["succeeded"], timeout=90)

    api.set_member_status("Spring", "ann@example.com", "Attended")
    eventually(held_push_requests, timeout=30)
    doomed.kill_all()

    assert api.status("Spring")[0].pending_edits == 1  # the signal outlived the request
    start_worker(name="survivor")
    beat = cluster(wait=False)
    eventually(lambda: beat.sent("dispatch-due-syncs") >= 1, timeout=60)  # its first tick
    eventually(
        lambda: salesforce_side(org, there["id"]).members == {"ann@example.com": "Attended"},
        timeout=60,
    )
    eventually(lambda: not open_runs_per_link(sessions), timeout=60)
    assert [(r.kind, r.state) for r in runs(sessions)] == [
        ("initial", "succeeded"),
        ("scheduled", "succeeded"),
    ]
    assert api.status("Spring")[0].pending_edits == 0
