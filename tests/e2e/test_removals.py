"""Removals sync both ways, and *removed* competes like any other value: a later change
on the other side revives the member, an older one does not.

Every edit below happens after the one before it, on the real clocks of both sides.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from convsync.salesforce_emulator.testing import EmulatorHandle
from tests.support.scenario import (
    WEBINAR_IN_SALESFORCE,
    cli,
    cli_json,
    conversion_campaign,
    conversion_type,
    delete_salesforce_member,
    link_status,
    members_here,
    module_worker,
    salesforce_campaign,
    salesforce_members,
    set_salesforce_status,
    succeeded_run,
    sync_now,
)
from tests.support.workers import WorkerProcess

pytestmark = pytest.mark.e2e

ANN_AND_BOB = {"ann@example.com": "Registered", "bob@example.com": "Invited"}


@pytest.fixture(scope="module", autouse=True)
def worker(
    salesforce_env: dict[str, str], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[WorkerProcess]:
    with module_worker(salesforce_env, tmp_path_factory.mktemp("removals")) as running:
        yield running


@pytest.fixture
def campaign_id(org: EmulatorHandle) -> str:
    """Spring, linked and in sync: Ann and Bob on both sides."""
    conversion_type()
    conversion_campaign("Spring", "Webinar", ANN_AND_BOB)
    sf = salesforce_campaign(org, "Spring SF", WEBINAR_IN_SALESFORCE, [])
    cli("link", "Spring", "--salesforce-campaign", sf["id"])
    succeeded_run("Spring")
    assert salesforce_members(org, sf["id"]) == ANN_AND_BOB
    return str(sf["id"])


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
