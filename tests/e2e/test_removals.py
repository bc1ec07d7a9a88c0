"""Removals sync both ways, and *removed* competes like any other value: a later change
on the other side revives the member, an older one does not.

Every edit below happens after the one before it, on the real clocks of both sides.
"""

from __future__ import annotations

import pytest

from convsync.salesforce_emulator.testing import EmulatorHandle
from tests.support.scenario import (
    cli,
    cli_json,
    delete_salesforce_member,
    link_status,
    linked_spring,
    members_here,
    salesforce_members,
    set_salesforce_status,
    sync_now,
)

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("worker")]

ANN_AND_BOB = {"ann@example.com": "Registered", "bob@example.com": "Invited"}


@pytest.fixture
def campaign_id(org: EmulatorHandle) -> str:
    """Spring, linked and in sync: Ann and Bob on both sides."""
    campaign_id = linked_spring(org, ANN_AND_BOB)
    assert salesforce_members(org, campaign_id) == ANN_AND_BOB
    return campaign_id


def last_counts() -> dict[str, int]:
    return dict(link_status("Spring")["last_run"]["counts"])


def test_a_member_removed_in_conversion_is_deleted_in_salesforce_on_the_next_sync(
    org: EmulatorHandle, campaign_id: str
) -> None:
    cli("members", "remove", "Spring", "ann@example.com")

    sync_now("Spring")

    assert salesforce_members(org, campaign_id) == {"bob@example.com": "Invited"}
    assert members_here("Spring") == {"bob@example.com": "Invited"}
    assert last_counts()["removed_in_salesforce"] == 1


def test_a_member_deleted_in_salesforce_is_removed_in_conversion_on_the_next_sync(
    org: EmulatorHandle, campaign_id: str
) -> None:
    delete_salesforce_member(org, campaign_id, "ann@example.com")

    sync_now("Spring")

    assert members_here("Spring") == {"bob@example.com": "Invited"}
    assert salesforce_members(org, campaign_id) == {"bob@example.com": "Invited"}
    assert last_counts()["removed_in_conversion"] == 1


def test_a_later_salesforce_change_revives_a_member_removed_in_conversion(
    org: EmulatorHandle, campaign_id: str
) -> None:
    cli("members", "remove", "Spring", "ann@example.com")
    set_salesforce_status(org, campaign_id, "ann@example.com", "Attended")

    sync_now("Spring")

    expected = {"ann@example.com": "Attended", "bob@example.com": "Invited"}
    assert members_here("Spring") == expected
    assert salesforce_members(org, campaign_id) == expected
    assert last_counts()["conflicts_won_by_salesforce"] == 1


def test_an_older_salesforce_change_does_not_revive_a_member_removed_in_conversion(
    org: EmulatorHandle, campaign_id: str
) -> None:
    set_salesforce_status(org, campaign_id, "ann@example.com", "Attended")
    cli("members", "remove", "Spring", "ann@example.com")

    sync_now("Spring")

    assert members_here("Spring") == {"bob@example.com": "Invited"}
    assert salesforce_members(org, campaign_id) == {"bob@example.com": "Invited"}
    assert last_counts()["conflicts_won_by_conversion"] == 1


def test_a_later_conversion_change_revives_a_member_deleted_in_salesforce(
    org: EmulatorHandle, campaign_id: str
) -> None:
    delete_salesforce_member(org, campaign_id, "ann@example.com")
    cli("members", "set", "Spring", "ann@example.com", "Attended")

    sync_now("Spring")

    expected = {"ann@example.com": "Attended", "bob@example.com": "Invited"}
    assert salesforce_members(org, campaign_id) == expected
    assert members_here("Spring") == expected
    assert last_counts()["conflicts_won_by_conversion"] == 1


def test_a_member_revived_in_salesforce_is_not_removed_again_by_the_next_sync(
    org: EmulatorHandle, campaign_id: str
) -> None:
    """The sync re-inserts a member deleted in Salesforce; the old deletion, read again
    by the next sync's overlap, is not news: nothing moves on either side."""
    delete_salesforce_member(org, campaign_id, "ann@example.com")
    cli("members", "set", "Spring", "ann@example.com", "Attended")
    sync_now("Spring")
    revived_at = {m["email"]: m["updated_at"] for m in cli_json("members", "list", "Spring")}

    sync_now("Spring")

    counts = last_counts()
    assert counts.get("removed_in_conversion", 0) == 0
    assert counts.get("imported", 0) == 0
    assert {m["email"]: m["updated_at"] for m in cli_json("members", "list", "Spring")} == (
        revived_at
    )
    expected = {"ann@example.com": "Attended", "bob@example.com": "Invited"}
    assert salesforce_members(org, campaign_id) == expected


def test_an_older_conversion_change_does_not_revive_a_member_deleted_in_salesforce(
    org: EmulatorHandle, campaign_id: str
) -> None:
    cli("members", "set", "Spring", "ann@example.com", "Attended")
    delete_salesforce_member(org, campaign_id, "ann@example.com")

    sync_now("Spring")

    assert members_here("Spring") == {"bob@example.com": "Invited"}
    assert salesforce_members(org, campaign_id) == {"bob@example.com": "Invited"}
    assert last_counts()["conflicts_won_by_salesforce"] == 1
