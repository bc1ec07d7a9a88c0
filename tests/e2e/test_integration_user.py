"""A Salesforce user with only the permissions the sync needs links and syncs, on real
workers: the pre-flight check asks for nothing more than the sync really uses."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from convsync.salesforce_emulator.testing import EmulatorHandle
from tests.support.scenario import (
    cli,
    cli_json,
    conversion_campaign,
    conversion_type,
    members_here,
    salesforce_campaign,
    salesforce_members,
    succeeded_run,
)
from tests.support.workers import WorkerProcess

pytestmark = pytest.mark.e2e

WEBINAR = [("Invited", True, False), ("Registered", False, False), ("Attended", False, True)]
# Everything the sync does not use is taken away.
JUST_ENOUGH = {
    "Campaign": {"create": False, "delete": False},
    "CampaignMemberStatus": {"create": False, "edit": False, "delete": False},
    "Contact": {"create": False, "edit": False, "delete": False},
    "Lead": {"edit": False, "delete": False},
}


def test_a_user_with_just_the_permissions_the_sync_uses_links_and_syncs(
    org: EmulatorHandle, start_worker: Callable[..., WorkerProcess]
) -> None:
    sf = salesforce_campaign(org, "Spring SF", WEBINAR, [("there@example.com", "Attended")])
    conversion_campaign("Spring", conversion_type(), {"new-person@example.com": "Registered"})
    org.admin.permissions(JUST_ENOUGH)
    start_worker()

    check = cli_json("check-statuses", "Spring", "--salesforce-campaign", sf["id"])
    cli("link", "Spring", "--salesforce-campaign", sf["id"])

    assert check["missing_access"] == []
    succeeded_run("Spring")
    assert members_here("Spring") == salesforce_members(org, sf["id"])
    assert members_here("Spring") == {
        "there@example.com": "Attended",
        "new-person@example.com": "Registered",  # a Lead the sync created
    }
    cli("members", "set", "Spring", "there@example.com", "Registered")
    cli("members", "remove", "Spring", "new-person@example.com")
    cli("sync", "Spring", "--wait", "--timeout", "90")
    assert salesforce_members(org, sf["id"]) == {"there@example.com": "Registered"}
