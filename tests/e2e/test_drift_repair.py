"""Drift repair: a whole compare of a campaign's live Salesforce members with what the
sync last saw finds what the incremental read cannot, and settles it by the conflict
rule. It runs by itself when the delete log no longer reaches the bookmark, on demand
(`convsync sync --full`) and on a schedule (`CONVSYNC_FULL_SYNC_INTERVAL_SECONDS`).
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import update
from sqlalchemy.orm import Session, sessionmaker

from convsync.salesforce.soql import parse_datetime
from convsync.salesforce_emulator.testing import EmulatorHandle, simple_salesforce_client
from convsync.store.tables import LinkRow
from convsync.sync import schedule
from convsync.tasks.dispatch import sync_context
from tests.support.scenario import (
    cli,
    delete_salesforce_member,
    eventually,
    link_status,
    linked_spring,
    members_here,
    salesforce_members,
    set_salesforce_status,
    succeeded_run,
    sync_now,
)

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("worker")]

ANN_AND_BOB = {"ann@example.com": "Registered", "bob@example.com": "Invited"}


def latest_date_covered(org: EmulatorHandle) -> datetime:
    now = datetime.now(UTC)
    answer = simple_salesforce_client(org).CampaignMember.deleted(now - timedelta(minutes=2), now)
    covered = parse_datetime(answer["latestDateCovered"])
    assert covered is not None
    return covered


@pytest.fixture
def campaign_id(org: EmulatorHandle) -> str:
    """Spring, linked and in sync: Ann and Bob on both sides."""
    campaign_id = linked_spring(org, ANN_AND_BOB)
    assert salesforce_members(org, campaign_id) == ANN_AND_BOB
    return campaign_id


def wait_until_settled(org: EmulatorHandle) -> None:
    """What the sync wrote is settled in Salesforce: its latestDateCovered has passed
    the link's writes, so drift repair may judge them."""
    synced = datetime.fromisoformat(link_status("Spring")["last_run"]["finished_at"])
    eventually(lambda: latest_date_covered(org) > synced, timeout=90, interval=0.5)


@pytest.fixture
def settled(org: EmulatorHandle) -> str:
    """Spring in sync, and what the sync wrote settled in Salesforce: latestDateCovered
    has passed the link's writes, so drift repair may judge them. latestDateCovered
    comes in whole seconds here (the emulator's test knob); Salesforce's whole minutes
    are kept by tests/e2e/test_real_org_day.py, whose drift repair finds purged removals."""
    org.admin.set_replication_resolution(1)
    campaign_id = linked_spring(org, ANN_AND_BOB)
    synced = datetime.fromisoformat(link_status("Spring")["last_run"]["finished_at"])
    eventually(lambda: latest_date_covered(org) > synced, timeout=10, interval=0.2)
    return campaign_id


def last_run() -> dict[str, Any]:
    return dict(link_status("Spring")["last_run"])


def bookmark_past_every_change(sessions: sessionmaker[Session]) -> None:
    """The incremental read misses what came before: its bookmark is ahead of it (and
    the second of the last change is over, as SOQL bounds have whole seconds)."""
    changed = datetime.now(UTC).replace(microsecond=0)
    eventually(lambda: datetime.now(UTC) > changed + timedelta(seconds=1))
    with sessions.begin() as session:
        session.execute(update(LinkRow).values(inbound_mark=datetime.now(UTC) + timedelta(hours=1)))


def test_a_removal_whose_tombstone_was_purged_is_found_by_drift_repair_by_itself(
    org: EmulatorHandle, settled: str
) -> None:
    delete_salesforce_member(org, settled, "ann@example.com")
    org.admin.purge_deleted()

    sync_now("Spring")

    assert members_here("Spring") == {"bob@example.com": "Invited"}
    run = last_run()
    assert run["full_compare"] is True
    assert run["counts"]["removed_in_conversion"] == 1
    assert run["counts"]["full_compare_members"] == 1


def test_a_conversion_change_since_the_last_sync_wins_over_a_removal_without_a_record(
    org: EmulatorHandle, settled: str
) -> None:
    delete_salesforce_member(org, settled, "ann@example.com")
    org.admin.purge_deleted()
    cli("members", "set", "Spring", "ann@example.com", "Attended")

    sync_now("Spring")

    kept = {"ann@example.com": "Attended", "bob@example.com": "Invited"}
    assert members_here("Spring") == kept
    assert salesforce_members(org, settled) == kept
    assert last_run()["counts"]["conflicts_won_by_conversion"] == 1


def test_sync_full_settles_what_the_incremental_read_missed_and_reports_its_cost(
    org: EmulatorHandle, settled: str, sessions: sessionmaker[Session]
) -> None:
    campaign_id = settled
    set_salesforce_status(org, campaign_id, "ann@example.com", "Attended")
    delete_salesforce_member(org, campaign_id, "bob@example.com")
    bookmark_past_every_change(sessions)
    sync_now("Spring")
    assert members_here("Spring") == ANN_AND_BOB, "the incremental read saw a change"
    org.admin.reset_counters()

    printed = cli("sync", "Spring", "--full", "--wait", "--timeout", "90")

    assert members_here("Spring") == {"ann@example.com": "Attended"}
    assert salesforce_members(org, campaign_id) == {"ann@example.com": "Attended"}
    run = last_run()
    assert run["full_compare"] is True
    assert run["counts"]["full_compare_members"] == 1
    # One page of members and one look at the delete log's reach.
    assert run["counts"]["full_compare_api_calls"] == 2
    said = " ".join(printed.split())  # Rich wraps long lines
    assert "drift repair compared 1 Salesforce members in 2 API calls" in said
    calls = org.admin.counters()["by_endpoint"]
    assert (calls["queryAll"], calls["sobjects/deleted"]) == (1, 1), calls


def test_drift_repair_runs_on_schedule_once_the_interval_has_passed(
    org: EmulatorHandle, campaign_id: str, sessions: sessionmaker[Session]
) -> None:
    set_salesforce_status(org, campaign_id, "bob@example.com", "Attended")
    bookmark_past_every_change(sessions)
    ctx = sync_context()
    due_now = dataclasses.replace(
        ctx, options=dataclasses.replace(ctx.options, full_compare_interval=timedelta(0))
    )
    before = last_run()["id"]

    tick = schedule.dispatch_due_syncs(due_now)

    assert tick.started == 1
    run = succeeded_run("Spring", after=before)
    assert run["full_compare"] is True
    assert members_here("Spring") == {
        "ann@example.com": "Registered",
        "bob@example.com": "Attended",
    }


def test_the_schedule_leaves_a_link_compared_within_the_interval_alone(
    org: EmulatorHandle, settled: str
) -> None:
    # Reads the link's own writes back, all covered: the bookmark passes them.
    sync_now("Spring")

    tick = schedule.dispatch_due_syncs(sync_context())

    assert tick.started == 0
    assert members_here("Spring") == ANN_AND_BOB
