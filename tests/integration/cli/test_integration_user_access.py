"""`check-statuses` and `link` check what the Salesforce user may do, before any write.

In-process CLI against the emulator (its permissions restricted) and PostgreSQL. No
sync runs here: a refused link queues nothing (the e2e suite covers linked syncs).
"""

from __future__ import annotations

from typing import Any

import pytest

from convsync.salesforce_emulator.testing import EmulatorHandle
from tests.support.scenario import (
    cli,
    cli_fails,
    cli_json,
    conversion_campaign,
    conversion_type,
    salesforce_campaign,
    salesforce_writes,
)

WEBINAR = [("Invited", True, False), ("Registered", False, False), ("Attended", False, True)]
# A profile a careful admin might hand out: members read-only, Lead emails hidden.
NARROW = {
    "CampaignMember": {"edit": False, "delete": False},
    "Lead": {"fields": {"Email": "none"}},
}


@pytest.fixture
def spring(org: EmulatorHandle) -> dict[str, Any]:
    """A Conversion campaign and a Salesforce campaign with one member, not linked."""
    conversion_campaign("Spring", conversion_type(), {"ann@example.com": "Registered"})
    return salesforce_campaign(org, "Spring SF", WEBINAR, [("bob@example.com", "Invited")])


def test_check_statuses_lists_each_missing_permission_on_its_own_line(
    org: EmulatorHandle, spring: dict[str, Any]
) -> None:
    org.admin.permissions(NARROW)

    printed = cli("check-statuses", "Spring", "--salesforce-campaign", spring["id"])

    lines = [" ".join(line.split()) for line in printed.splitlines()]
    assert [line for line in lines if "cannot" in line] == [
        "✗ the Salesforce user cannot read the field Lead.Email "
        "(needed to import members, to find people by email, "
        "to create Leads for new people, see CONVSYNC_CREATE_MISSING_LEADS)",
        "✗ the Salesforce user cannot edit CampaignMember records (needed to change statuses)",
        "✗ the Salesforce user cannot delete CampaignMember records (needed to remove members)",
    ]
    check = cli_json("check-statuses", "Spring", "--salesforce-campaign", spring["id"])
    assert len(check["missing_access"]) == 3
    assert check["skipped_inbound"] == {}


def test_check_statuses_with_every_permission_reports_none_missing(
    org: EmulatorHandle, spring: dict[str, Any]
) -> None:
    check = cli_json("check-statuses", "Spring", "--salesforce-campaign", spring["id"])
    assert check["missing_access"] == []


def test_link_refuses_with_exit_1_and_writes_nothing(
    org: EmulatorHandle, spring: dict[str, Any]
) -> None:
    org.admin.permissions(NARROW)
    org.admin.reset_counters()

    output = cli_fails("link", "Spring", "--salesforce-campaign", spring["id"])

    assert output.count("missing: the Salesforce user cannot") == 3
    assert output.splitlines()[-1] == (
        "error: the Salesforce user lacks 3 permissions the sync needs; grant them to its "
        "profile or a permission set, then try again"
    )
    assert cli_json("status") == []
    assert salesforce_writes(org) == {}


def test_force_does_not_override_missing_permissions(
    org: EmulatorHandle, spring: dict[str, Any]
) -> None:
    org.admin.permissions({"Contact": {"fields": {"Email": "none"}}})
    output = cli_fails("link", "Spring", "--salesforce-campaign", spring["id"], "--force")
    assert "missing: the Salesforce user cannot read the field Contact.Email" in output
    assert cli_json("status") == []


def test_creating_the_salesforce_campaign_also_needs_status_permissions(
    org: EmulatorHandle, spring: dict[str, Any]
) -> None:
    org.admin.permissions({"CampaignMemberStatus": {"create": False, "delete": False}})
    campaigns_before = org.admin.summary()["Campaign"]

    output = cli_fails("link", "Spring", "--create-new")

    assert "cannot create CampaignMemberStatus records" in output
    assert "cannot delete CampaignMemberStatus records" in output
    assert org.admin.summary()["Campaign"] == campaigns_before
    # Linking to an existing campaign does not create statuses: allowed.
    assert "missing_access" in cli_json(
        "check-statuses", "Spring", "--salesforce-campaign", spring["id"]
    )
    cli("link", "Spring", "--salesforce-campaign", spring["id"])


def test_campaigns_create_with_sync_checks_first_and_leaves_nothing_behind(
    org: EmulatorHandle, spring: dict[str, Any]
) -> None:
    org.admin.permissions({"Campaign": {"create": False}})

    output = cli_fails("campaigns", "create", "Autumn", "--type", "Webinar", "--sync", "new")

    assert "missing: the Salesforce user cannot create Campaign records" in output
    assert "Autumn" not in {c["name"] for c in cli_json("campaigns", "list")}


def test_an_unreadable_object_is_reported_even_when_statuses_cannot_be_read(
    org: EmulatorHandle, spring: dict[str, Any]
) -> None:
    org.admin.permissions({"CampaignMember": {"read": False}})
    output = cli_fails("check-statuses", "Spring", "--salesforce-campaign", spring["id"])
    assert "missing: the Salesforce user cannot read CampaignMember records" in output
