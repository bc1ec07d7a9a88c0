"""Linking later, conflicts and the order of the stages, on real workers.

Timestamps are the real clocks of both sides: every edit below happens after the one
before it, so "later" is simply the edit made last.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from simple_salesforce import format_soql
from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from convsync.salesforce_emulator.testing import EmulatorHandle, simple_salesforce_client
from convsync.store.tables import ChunkRow
from tests.support.scenario import (
    WEBINAR_IN_SALESFORCE,
    add_salesforce_member,
    cli,
    conversion_campaign,
    conversion_type,
    link_status,
    linked_spring,
    members_here,
    salesforce_campaign,
    salesforce_members,
    salesforce_writes,
    set_salesforce_status,
    succeeded_run,
    sync_now,
)

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("worker")]


def test_linking_later_gives_each_conflict_to_the_later_change(org: EmulatorHandle) -> None:
    conversion_type()
    sf = salesforce_campaign(
        org,
        "Spring SF",
        WEBINAR_IN_SALESFORCE,
        [
            ("ann@example.com", "Registered"),
            ("bob@example.com", "Registered"),
            ("only-there@example.com", "Attended"),
        ],
    )
    # Conversion's edits come after the Salesforce seed: Ann's is the later change...
    conversion_campaign(
        "Spring",
        "Webinar",
        {
            "ann@example.com": "Invited",
            "bob@example.com": "Invited",
            "only-here@example.com": "Registered",
        },
    )
    # ...and Bob's change in Salesforce comes after Conversion's.
    set_salesforce_status(org, sf["id"], "bob@example.com", "Attended")

    cli("link", "Spring", "--salesforce-campaign", sf["id"])

    run = succeeded_run("Spring")
    both_sides = {
        "ann@example.com": "Invited",
        "bob@example.com": "Attended",
        "only-here@example.com": "Registered",
        "only-there@example.com": "Attended",
    }
    assert members_here("Spring") == both_sides
    assert salesforce_members(org, sf["id"]) == both_sides
    assert run["counts"]["conflicts_won_by_conversion"] == 1
    assert run["counts"]["conflicts_won_by_salesforce"] == 1


def test_later_syncs_give_each_conflict_to_the_later_change(org: EmulatorHandle) -> None:
    everyone = {"ann@example.com": "Invited", "bob@example.com": "Invited"}
    campaign_id = linked_spring(org, everyone, everyone)
    cli("members", "set", "Spring", "ann@example.com", "Registered")
    set_salesforce_status(org, campaign_id, "ann@example.com", "Attended")
    set_salesforce_status(org, campaign_id, "bob@example.com", "Registered")
    cli("members", "set", "Spring", "bob@example.com", "Attended")

    sync_now("Spring")

    both_sides = {"ann@example.com": "Attended", "bob@example.com": "Attended"}
    assert members_here("Spring") == both_sides
    assert salesforce_members(org, campaign_id) == both_sides
    counts = link_status("Spring")["last_run"]["counts"]
    assert (counts["conflicts_won_by_salesforce"], counts["conflicts_won_by_conversion"]) == (1, 1)


def test_a_value_the_sync_wrote_does_not_come_back_as_a_change(org: EmulatorHandle) -> None:
    campaign_id = linked_spring(
        org, {"ann@example.com": "Registered"}, {"bob@example.com": "Attended"}
    )
    org.admin.reset_counters()

    sync_now("Spring")

    counts = link_status("Spring")["last_run"]["counts"]
    assert counts.get("imported", 0) == 0
    assert counts.get("pushed", 0) == 0
    assert salesforce_writes(org) == {}
    assert members_here("Spring") == salesforce_members(org, campaign_id)


def _created_dates(org: EmulatorHandle, campaign_id: str, emails: set[str]) -> list[datetime]:
    rows = simple_salesforce_client(org).query_all(
        format_soql(
            "SELECT CreatedDate, Lead.Email, Lead.CreatedDate FROM CampaignMember "
            "WHERE CampaignId = {}",
            campaign_id,
        )
    )["records"]
    stamps = []
    for row in rows:
        if row["Lead"]["Email"] in emails:
            stamps += [
                _salesforce_time(row["CreatedDate"]),
                _salesforce_time(row["Lead"]["CreatedDate"]),
            ]
    return stamps


def _salesforce_time(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%f%z").astimezone(UTC)


def test_no_outbound_write_happens_before_the_last_inbound_chunk_committed(
    org: EmulatorHandle, sessions: sessionmaker[Session]
) -> None:
    conversion_type()
    pushed = {f"here-{n}@example.com" for n in range(3)}
    conversion_campaign("Spring", "Webinar", dict.fromkeys(pushed, "Registered"))
    # 2,100 Salesforce members: two inbound chunks, applied by two worker processes.
    [sf] = org.admin.seed(
        campaigns=[
            {
                "Name": "Spring SF",
                "statuses": [
                    {"Label": label, "IsDefault": default, "HasResponded": responded}
                    for label, default, responded in WEBINAR_IN_SALESFORCE
                ],
                "generate_members": 2_100,
                "member_status": "Invited",
            }
        ]
    )["campaigns"]

    cli("link", "Spring", "--salesforce-campaign", sf["id"])

    run = succeeded_run("Spring")
    with sessions() as session:
        inbound_done = list(
            session.scalars(
                select(ChunkRow.done_at).where(
                    ChunkRow.run_id == run["id"], ChunkRow.stage == "inbound"
                )
            )
        )
    assert len(inbound_done) == 2
    assert None not in inbound_done, "every inbound chunk landed"
    last_landed = max(d for d in inbound_done if d is not None)
    # Salesforce stamps in whole milliseconds.
    last_landed = last_landed.replace(microsecond=last_landed.microsecond // 1000 * 1000)
    writes = _created_dates(org, sf["id"], pushed)
    assert len(writes) == 2 * len(pushed)  # a Lead and a member for each
    assert min(writes) >= last_landed
    assert len(members_here("Spring")) == 2_103


def test_sync_wait_prints_what_the_run_did(org: EmulatorHandle) -> None:
    conversion_type("Webinar", ["Invited", "Registered", "Attended", "VIP"])
    conversion_campaign(
        "Spring", "Webinar", {"ann@example.com": "Invited", "bob@example.com": "Invited"}
    )
    sf = salesforce_campaign(
        org,
        "Spring SF",
        [*WEBINAR_IN_SALESFORCE, ("Waitlisted", False, False)],
        [("ann@example.com", "Invited"), ("bob@example.com", "Invited")],
    )
    cli("link", "Spring", "--salesforce-campaign", sf["id"])
    succeeded_run("Spring")
    add_salesforce_member(org, sf["id"], "new-there@example.com", "Registered")  # imported
    cli("members", "add", "Spring", "new-here@example.com", "Registered")  # pushed
    add_salesforce_member(org, sf["id"], "waiting@example.com", "Waitlisted")  # skipped
    cli("members", "add", "Spring", "vip@example.com", "VIP")  # dead-lettered
    cli("members", "set", "Spring", "ann@example.com", "Registered")
    set_salesforce_status(org, sf["id"], "ann@example.com", "Attended")  # Salesforce wins
    set_salesforce_status(org, sf["id"], "bob@example.com", "Registered")
    cli("members", "set", "Spring", "bob@example.com", "Attended")  # Conversion wins

    printed = " ".join(sync_now("Spring").split())

    run_id = link_status("Spring")["last_run"]["id"]
    assert (
        f"run {run_id} succeeded: imported 2, pushed 2, removed 0 here / 0 in Salesforce, "
        "skipped 1, dead-lettered 1, conflicts won by Salesforce 1 / Conversion 1"
    ) in printed
    assert members_here("Spring") == {
        "ann@example.com": "Attended",
        "bob@example.com": "Attended",
        "new-here@example.com": "Registered",
        "new-there@example.com": "Registered",
        "vip@example.com": "VIP",
    }
    assert salesforce_members(org, sf["id"]) == {
        "ann@example.com": "Attended",
        "bob@example.com": "Attended",
        "new-here@example.com": "Registered",
        "new-there@example.com": "Registered",
        "waiting@example.com": "Waitlisted",
    }
