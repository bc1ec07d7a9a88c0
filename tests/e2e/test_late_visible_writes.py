"""Rows of a long transaction become visible after their SystemModstamp: a bookmark that
passed them would leave them behind every later window. The bookmark stops at
Salesforce's `latestDateCovered`, which stays before every write still in flight, so
they land when they appear (issue 12, with the emulator's `commit-delay` at 120 s).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from convsync.salesforce_emulator.testing import EmulatorHandle, simple_salesforce_client
from tests.support.scenario import (
    WEBINAR_IN_SALESFORCE,
    cli,
    conversion_campaign,
    conversion_type,
    eventually,
    members_here,
    salesforce_campaign,
    salesforce_member_ids,
    salesforce_members,
    set_salesforce_status,
    succeeded_run,
    sync_now,
)

pytestmark = [pytest.mark.e2e, pytest.mark.heavy, pytest.mark.usefixtures("worker")]

COMMIT_DELAY = 120
TRIO = {"ann@example.com": "Invited", "bob@example.com": "Invited", "cat@example.com": "Invited"}


def test_a_write_visible_two_minutes_late_still_lands(org: EmulatorHandle) -> None:
    conversion_type()
    conversion_campaign("Spring", "Webinar", TRIO)
    sf = salesforce_campaign(org, "Spring SF", WEBINAR_IN_SALESFORCE, [])
    cli("link", "Spring", "--salesforce-campaign", sf["id"])
    succeeded_run("Spring")
    campaign_id = str(sf["id"])
    ann = salesforce_member_ids(org, campaign_id)["ann@example.com"]

    # Ann's change is part of a long transaction: stamped now, visible two minutes later.
    org.admin.set_commit_delay(COMMIT_DELAY)
    simple_salesforce_client(org).CampaignMember.update(ann, {"Status": "Attended"})
    org.admin.set_commit_delay(0)
    written = datetime.now(UTC)
    # Changes made meanwhile are visible at once, and syncs read them: without the cap,
    # the bookmark passes Ann's stamp by more than the re-read overlap (60 s).
    set_salesforce_status(org, campaign_id, "bob@example.com", "Registered")
    sync_now("Spring")
    eventually(lambda: datetime.now(UTC) > written + timedelta(seconds=65), timeout=90)
    set_salesforce_status(org, campaign_id, "cat@example.com", "Registered")
    sync_now("Spring")
    assert members_here("Spring")["ann@example.com"] == "Invited"  # not visible yet

    def visible() -> bool:
        return salesforce_members(org, campaign_id)["ann@example.com"] == "Attended"

    eventually(visible, timeout=COMMIT_DELAY + 30, interval=1.0)
    sync_now("Spring")

    assert members_here("Spring") == {
        "ann@example.com": "Attended",
        "bob@example.com": "Registered",
        "cat@example.com": "Registered",
    }
    assert salesforce_members(org, campaign_id) == members_here("Spring")
