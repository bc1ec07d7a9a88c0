"""The ongoing cadence on real beat and worker processes: changes arrive within two
intervals, idle intervals write nothing and cost one query, one open run per campaign.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from convsync.salesforce_emulator.testing import EmulatorHandle, simple_salesforce_client
from tests.support.beat import BeatProcess, beats, fast_cadence, flush
from tests.support.observe import (
    conversion_members,
    conversion_stamps,
    log_events,
    open_runs_per_link,
    runs,
    salesforce_side,
    settled,
    write_calls,
)
from tests.support.scenario import cli, eventually, salesforce_campaign
from tests.support.workers import WorkerProcess

pytestmark = pytest.mark.e2e

INTERVAL = 2
LEASE = 10
# What a small run takes on a busy 2-core machine, beyond the wait for the tick.
ALLOWANCE = 4.0
WEBINAR = [("Invited", True, False), ("Registered", False, False), ("Attended", False, True)]


@dataclass
class Services:
    """One worker and one beat at a 2-second cadence, shared by this module's tests."""

    worker: WorkerProcess
    beat: BeatProcess
    start_beat: Callable[..., BeatProcess]


@pytest.fixture(scope="module")
def services(
    salesforce_env: dict[str, str], redis_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Services]:
    """Started once: each test still gets an empty database and a reset org (`org`)."""
    log_dir = tmp_path_factory.mktemp("cadence")
    with (
        fast_cadence(interval=INTERVAL, lease=LEASE, redis_url=redis_url),
        beats(os.environ, log_dir) as start_beat,
    ):
        beat = start_beat(wait=False)
        worker = WorkerProcess(os.environ, log_dir, name="cadence", concurrency=2)
        try:
            worker.wait_ready()
            beat.wait_ready()
            yield Services(worker, beat, start_beat)
        finally:
            worker.stop()
    flush(redis_url)


@pytest.fixture
def cadence(
    org: EmulatorHandle, sessions: sessionmaker[Session], services: Services
) -> Iterator[Services]:
    """The shared services on a clean org; the next test starts with no run in flight."""
    yield services
    org.admin.set_latency(0)
    eventually(lambda: not open_runs_per_link(sessions), timeout=90)


def quiet(sessions: sessionmaker[Session], worker: WorkerProcess) -> None:
    """Until a tick finds nothing left to move (see `settled`); a failed run fails at once."""

    def check() -> bool:
        failed = [(r.id, r.error) for r in runs(sessions) if r.state == "failed"]
        assert not failed, f"a run failed: {failed}"
        return settled(sessions, worker.log())

    eventually(check, timeout=90, interval=0.2)


def linked_campaign(
    org: EmulatorHandle, sessions: sessionmaker[Session], worker: WorkerProcess
) -> str:
    """'Cadence' linked to a Salesforce campaign, its initial sync done and settled."""
    cli("types", "create", "Webinar", "-s", "Invited", "-s", "Registered", "-s", "Attended")
    cli("campaigns", "create", "Cadence", "--type", "Webinar")
    cli("members", "add", "Cadence", "bob@example.com", "Invited")
    sf = salesforce_campaign(org, "Cadence SF", WEBINAR, [("ann@example.com", "Invited")])
    cli("link", "Cadence", "--salesforce-campaign", sf["id"])
    quiet(sessions, worker)
    assert conversion_members(sessions, "Cadence") == {
        "ann@example.com": "Invited",
        "bob@example.com": "Invited",
    }
    assert salesforce_side(org, sf["id"]).members == conversion_members(sessions, "Cadence")
    return str(sf["id"])


def test_changes_on_either_side_arrive_within_two_intervals(
    org: EmulatorHandle,
    sessions: sessionmaker[Session],
    cadence: Services,
    record_property: Callable[[str, object], None],
) -> None:
    worker = cadence.worker
    sf_id = linked_campaign(org, sessions, worker)
    ann = next(r["Id"] for r in salesforce_side(org, sf_id).rows if r["email"] == "ann@example.com")

    changed = time.monotonic()
    simple_salesforce_client(org).CampaignMember.update(ann, {"Status": "Attended"})
    eventually(
        lambda: conversion_members(sessions, "Cadence")["ann@example.com"] == "Attended",
        interval=0.1,
    )
    inbound = time.monotonic() - changed
    quiet(sessions, worker)

    changed = time.monotonic()
    cli("members", "set", "Cadence", "bob@example.com", "Registered")
    eventually(
        lambda: salesforce_side(org, sf_id).members["bob@example.com"] == "Registered",
        interval=0.1,
    )
    outbound = time.monotonic() - changed

    record_property("Salesforce → Conversion (s)", round(inbound, 1))
    record_property("Conversion → Salesforce (s)", round(outbound, 1))
    limit = 2 * INTERVAL + ALLOWANCE
    assert inbound <= limit, f"Salesforce → Conversion took {inbound:.1f}s"
    assert outbound <= limit, f"Conversion → Salesforce took {outbound:.1f}s"


def test_idle_intervals_write_nothing_and_cost_one_query_per_tick(
    org: EmulatorHandle,
    sessions: sessionmaker[Session],
    cadence: Services,
    record_property: Callable[[str, object], None],
) -> None:
    worker, beat = cadence.worker, cadence.beat
    sf_id = linked_campaign(org, sessions, worker)
    ann = next(r["Id"] for r in salesforce_side(org, sf_id).rows if r["email"] == "ann@example.com")
    simple_salesforce_client(org).CampaignMember.update(ann, {"Status": "Attended"})
    cli("members", "set", "Cadence", "bob@example.com", "Registered")
    eventually(
        lambda: (
            salesforce_side(org, sf_id).members
            == conversion_members(sessions, "Cadence")
            == {"ann@example.com": "Attended", "bob@example.com": "Registered"}
        )
    )
    eventually(lambda: not open_runs_per_link(sessions))

    # Three idle intervals: whatever runs they start (reading back the sync's own
    # writes), nothing is written on either side.
    org.admin.reset_counters()
    stamps = conversion_stamps(sessions, "Cadence")
    earlier_runs = len(runs(sessions))
    ticks = len(log_events(worker.log(), "tick"))
    eventually(lambda: len(log_events(worker.log(), "tick")) >= ticks + 3, timeout=60)
    eventually(lambda: not open_runs_per_link(sessions))
    assert write_calls(org) == {}
    assert conversion_stamps(sessions, "Cadence") == stamps
    later = runs(sessions)[earlier_runs:]
    assert [r for r in later if set(r.counts) - {"read"}] == [], "a run moved members"

    # Then a steady state: ticks that start no run cost one aggregate query each.
    quiet(sessions, worker)
    org.admin.reset_counters()
    first = len(log_events(worker.log(), "tick"))
    eventually(lambda: len(log_events(worker.log(), "tick")) >= first + 3, timeout=60)
    calls = org.admin.counters()
    window = log_events(worker.log(), "tick")[first:]
    assert all(t["started"] == 0 for t in window), window
    record_property("idle API calls / ticks", f"{calls['total']} / {len(window)}")
    assert calls["total"] <= 2 * len(window), calls
    # One aggregate on queryAll (so removals count), no other endpoint.
    assert set(calls["by_endpoint"]) == {"queryAll"}, calls
    assert beat.sent("dispatch-due-syncs") >= len(window)


def test_one_open_run_per_campaign_while_two_beats_tick_and_sync_joins_it(
    org: EmulatorHandle,
    sessions: sessionmaker[Session],
    cadence: Services,
) -> None:
    worker = cadence.worker
    cli("types", "create", "Webinar", "-s", "Invited", "-s", "Registered", "-s", "Attended")
    cli("campaigns", "create", "Lease", "--type", "Webinar")
    cli("members", "add", "Lease", "bob@example.com", "Registered")
    seeded = org.admin.seed(
        campaigns=[
            {
                "Name": "Lease SF",
                "statuses": [
                    {"Label": label, "IsDefault": default, "HasResponded": responded}
                    for label, default, responded in WEBINAR
                ],
                "generate_members": 5_000,
                "member_status": "Invited",
            }
        ]
    )
    sf_id = seeded["campaigns"][0]["id"]
    beat_a, beat_b = cadence.beat, cadence.start_beat("second-beat")
    org.admin.set_latency(300)  # a run that stays open for several intervals

    cli("link", "Lease", "--salesforce-campaign", sf_id)
    [run] = runs(sessions)
    log_start = len(worker.log())
    sent = beat_a.sent("dispatch-due-syncs"), beat_b.sent("dispatch-due-syncs")
    joined = cli("sync", "Lease")
    most_open, log_end = 0, log_start
    while True:
        seen = len(worker.log())  # ticks logged so far all ran while the run was open
        if runs(sessions)[0].state not in ("queued", "running"):
            break
        most_open = max([most_open, *open_runs_per_link(sessions).values()])
        log_end = seen
        time.sleep(0.1)
    window = log_events(worker.log()[log_start:log_end], "tick")
    org.admin.set_latency(0)
    beat_b.stop()

    assert f"joined the open run {run.id}" in joined
    assert most_open == 1
    assert beat_a.sent("dispatch-due-syncs") > sent[0]
    assert beat_b.sent("dispatch-due-syncs") > sent[1]
    assert len(window) >= 2, "the run ended before beat ticked twice"
    assert all(t["busy"] == 1 and t["started"] == 0 for t in window), window
    first = runs(sessions)[0]
    assert first.state == "succeeded", first.error
    assert first.finished_at is not None
    assert [
        r.id for r in runs(sessions) if first.started_at <= r.started_at <= first.finished_at
    ] == [first.id]
    with sessions() as session:
        index = session.scalar(
            text("SELECT indexdef FROM pg_indexes WHERE indexname = 'uq_run_one_open_per_link'")
        )
    assert index is not None
    assert "UNIQUE" in index
    assert "queued" in index
    assert "running" in index
