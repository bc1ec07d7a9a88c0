"""`types add-status`, `campaigns rename` and `campaigns delete` on a linked campaign,
with a real worker: the link survives a rename, a delete unlinks first only when told,
and a status added to the type brings in the Salesforce members skipped for lacking it.
"""

from __future__ import annotations

import pytest

from convsync.salesforce_emulator.testing import EmulatorHandle
from tests.support.scenario import (
    cli,
    cli_fails,
    cli_json,
    finished_run,
    link_status,
    linked_spring,
    members_here,
    one_line_error,
    salesforce_campaign,
    salesforce_members,
    skipped_here,
    succeeded_run,
    sync_now,
)

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("worker")]

WITH_WAITLISTED = [
    ("Invited", True, False),
    ("Registered", False, False),
    ("Attended", False, True),
    ("Waitlisted", False, False),
]


def test_a_renamed_linked_campaign_stays_linked_and_syncs(org: EmulatorHandle) -> None:
    sf = linked_spring(org, {"ann@example.com": "Invited"})

    cli("campaigns", "rename", "Spring", "Spring 2027")
    cli("members", "add", "Spring 2027", "bob@example.com", "Registered")
    sync_now("Spring 2027")

    assert link_status("Spring 2027")["salesforce_campaign_id"] == sf
    assert salesforce_members(org, sf) == {
        "ann@example.com": "Invited",
        "bob@example.com": "Registered",
    }


def test_deleting_a_linked_campaign_is_refused_without_unlink(org: EmulatorHandle) -> None:
    sf = linked_spring(org, {"ann@example.com": "Invited"})

    error = one_line_error(cli_fails("campaigns", "delete", "Spring", "--yes"))

    assert f"is linked to Salesforce campaign {sf}" in error
    assert "--unlink" in error
    assert members_here("Spring") == {"ann@example.com": "Invited"}


def test_delete_with_unlink_stops_the_sync_and_leaves_salesforce_alone(
    org: EmulatorHandle,
) -> None:
    sf = linked_spring(org, {"ann@example.com": "Invited"})

    output = cli("campaigns", "delete", "Spring", "--unlink", "--yes")

    assert f"unlinked Spring from Salesforce campaign {sf}" in output
    assert "deleted campaign Spring and its 1 member(s)" in output
    assert [c["name"] for c in cli_json("campaigns", "list")] == []
    assert salesforce_members(org, sf) == {"ann@example.com": "Invited"}


def test_a_status_added_to_the_type_imports_the_members_skipped_for_lacking_it(
    org: EmulatorHandle,
) -> None:
    cli("types", "create", "Webinar", "-s", "Invited", "-s", "Registered", "-s", "Attended")
    cli("campaigns", "create", "Spring", "--type", "Webinar")
    sf = salesforce_campaign(
        org, "Spring SF", WITH_WAITLISTED, [("wait@example.com", "Waitlisted")]
    )
    cli("link", "Spring", "--salesforce-campaign", sf["id"], "--force")
    first = succeeded_run("Spring")
    assert list(skipped_here("Spring")) == ["wait@example.com"]

    output = cli("types", "add-status", "Webinar", "Waitlisted")

    assert "added status Waitlisted to type Webinar" in output
    assert "1 skipped Salesforce member(s)" in output
    run = finished_run("Spring", after=first["id"])
    assert run["state"] == "succeeded", run
    assert members_here("Spring") == {"wait@example.com": "Waitlisted"}
    assert skipped_here("Spring") == {}
