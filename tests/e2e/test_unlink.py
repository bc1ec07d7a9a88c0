"""Unlink stops the sync and keeps both sides' data as they are."""

from __future__ import annotations

import pytest

from convsync.salesforce_emulator.testing import EmulatorHandle
from convsync.workers.app import app
from tests.support.scenario import (
    WEBINAR_IN_SALESFORCE,
    add_salesforce_member,
    cli,
    cli_fails,
    cli_json,
    conversion_campaign,
    conversion_type,
    link_status,
    members_here,
    one_line_error,
    salesforce_campaign,
    salesforce_members,
    set_salesforce_status,
    succeeded_run,
)

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("worker")]


def linked(org: EmulatorHandle, name: str, here: str, there: str) -> str:
    """`name` linked and in sync, with one member from each side; returns the Salesforce
    campaign id."""
    conversion_campaign(name, "Webinar", {here: "Invited"})
    sf = salesforce_campaign(org, f"{name} SF", WEBINAR_IN_SALESFORCE, [(there, "Invited")])
    cli("link", name, "--salesforce-campaign", sf["id"])
    succeeded_run(name)
    return str(sf["id"])


def change_both_sides(
    org: EmulatorHandle, name: str, campaign_id: str, here: str, newcomer: str
) -> None:
    """A status change in Conversion and a new member in Salesforce."""
    cli("members", "set", name, here, "Attended")
    add_salesforce_member(org, campaign_id, newcomer, "Registered")


def test_unlink_keeps_both_sides_data_as_they_are(org: EmulatorHandle) -> None:
    conversion_type()
    campaign_id = linked(org, "Spring", "ann@example.com", "bob@example.com")
    in_sync = {"ann@example.com": "Invited", "bob@example.com": "Invited"}

    assert "no longer synced" in cli("unlink", "Spring")

    assert members_here("Spring") == in_sync
    assert salesforce_members(org, campaign_id) == in_sync
    assert link_status("Spring")["state"] == "unlinked"
    assert cli_json("campaigns", "list")[0]["salesforce_campaign_id"] is None


def test_sync_of_an_unlinked_campaign_is_a_one_line_error_and_moves_nothing(
    org: EmulatorHandle,
) -> None:
    conversion_type()
    campaign_id = linked(org, "Spring", "ann@example.com", "bob@example.com")
    cli("unlink", "Spring")
    set_salesforce_status(org, campaign_id, "bob@example.com", "Registered")
    cli("members", "set", "Spring", "ann@example.com", "Attended")

    error = one_line_error(cli_fails("sync", "Spring", "--wait"))

    assert "'Spring' is not linked to Salesforce" in error
    assert members_here("Spring") == {
        "ann@example.com": "Attended",
        "bob@example.com": "Invited",
    }
    assert salesforce_members(org, campaign_id) == {
        "ann@example.com": "Invited",
        "bob@example.com": "Registered",
    }


def test_the_scheduler_carries_no_change_across_an_unlinked_campaign(
    org: EmulatorHandle,
) -> None:
    conversion_type()
    spring_id = linked(org, "Spring", "ann@example.com", "bob@example.com")
    # Still linked: shows that the scheduler's tick ran.
    autumn_id = linked(org, "Autumn", "cy@example.com", "dee@example.com")
    autumn_before = link_status("Autumn")["last_run"]["id"]
    cli("unlink", "Spring")
    change_both_sides(org, "Spring", spring_id, "ann@example.com", "eve@example.com")
    change_both_sides(org, "Autumn", autumn_id, "cy@example.com", "fay@example.com")

    app.send_task("convsync.schedule.dispatch_due_syncs")

    succeeded_run("Autumn", after=autumn_before)
    autumn = {
        "cy@example.com": "Attended",
        "dee@example.com": "Invited",
        "fay@example.com": "Registered",
    }
    assert members_here("Autumn") == autumn
    assert salesforce_members(org, autumn_id) == autumn
    assert members_here("Spring") == {
        "ann@example.com": "Attended",
        "bob@example.com": "Invited",
    }
    assert salesforce_members(org, spring_id) == {
        "ann@example.com": "Invited",
        "bob@example.com": "Invited",
        "eve@example.com": "Registered",
    }
    assert link_status("Spring")["last_run"]["kind"] == "initial"
