"""Converted and merged Leads, on real workers: in a real org a Lead the sync knows can
become a Contact, or be merged into another record, at any time. The person must still
be found, and nothing may end as a dead letter that no replay can fix.
"""

from __future__ import annotations

from typing import Any

import pytest
from simple_salesforce import format_soql

from convsync.salesforce_emulator.testing import EmulatorHandle, simple_salesforce_client
from tests.support.scenario import (
    WEBINAR_IN_SALESFORCE,
    cli,
    conversion_campaign,
    conversion_type,
    dead_letters,
    members_here,
    salesforce_campaign,
    salesforce_members,
    salesforce_writes,
    succeeded_run,
    sync_now,
)

pytestmark = [pytest.mark.e2e, pytest.mark.usefixtures("worker")]

ANN = "ann@example.com"


def people_of(org: EmulatorHandle, campaign_id: str) -> list[dict[str, Any]]:
    """The campaign's live members: LeadId, ContactId, Status."""
    query = format_soql(
        "SELECT LeadId, ContactId, Status FROM CampaignMember WHERE CampaignId = {}", campaign_id
    )
    return [
        {k: row[k] for k in ("LeadId", "ContactId", "Status")}
        for row in simple_salesforce_client(org).query_all(query)["records"]
    ]


@pytest.fixture
def spring(org: EmulatorHandle) -> dict[str, Any]:
    """Ann and Bob are Leads in Salesforce's Spring campaign, imported into Conversion by
    the initial sync (so the sync knows them by those Lead ids). The seed result."""
    conversion_type()
    conversion_campaign("Spring", "Webinar")
    spring = salesforce_campaign(
        org,
        "Spring SF",
        WEBINAR_IN_SALESFORCE,
        [(ANN, "Registered"), ("bob@example.com", "Invited")],
    )
    cli("link", "Spring", "--salesforce-campaign", spring["id"])
    succeeded_run("Spring")
    assert members_here("Spring") == {ANN: "Registered", "bob@example.com": "Invited"}
    return spring


@pytest.fixture
def ann_in_spring(spring: dict[str, Any]) -> str:
    """Ann's Lead id, known to the sync from Spring."""
    return str(spring["leads"][ANN])


def link_autumn_with_ann(org: EmulatorHandle) -> str:
    """Ann is added to a new Conversion campaign, linked to an empty Salesforce one: the
    initial sync pushes her. Returns the Salesforce campaign id."""
    conversion_campaign("Autumn", "Webinar", {ANN: "Invited"})
    autumn = salesforce_campaign(org, "Autumn SF", WEBINAR_IN_SALESFORCE, [])
    org.admin.reset_counters()
    cli("link", "Autumn", "--salesforce-campaign", autumn["id"])
    succeeded_run("Autumn")
    return str(autumn["id"])


def test_an_email_only_a_converted_lead_has_is_pushed_as_the_contact_it_became(
    org: EmulatorHandle,
) -> None:
    seeded = org.admin.seed(
        leads=[{"LastName": "Ann", "Company": "Acme", "Email": ANN}],
        contacts=[{"LastName": "Smith", "Email": "ann.smith@corp.example.com"}],
    )
    [lead], [contact] = seeded["leads"], seeded["contacts"]
    org.admin.convert_lead(lead, contact_id=contact)
    conversion_type()

    autumn = link_autumn_with_ann(org)

    assert people_of(org, autumn) == [{"LeadId": None, "ContactId": contact, "Status": "Invited"}]
    # One insert: no refused write, no new Lead for a person Salesforce already has.
    assert salesforce_writes(org) == {"composite/sobjects:POST": 1}
    assert dead_letters() == []


def test_inbound_records_the_contact_a_members_lead_was_converted_into(
    org: EmulatorHandle, ann_in_spring: str
) -> None:
    contact = org.admin.convert_lead(ann_in_spring)["contact_id"]
    sync_now("Spring")  # reads Ann's member, which points at the Contact now

    autumn = link_autumn_with_ann(org)

    assert people_of(org, autumn) == [{"LeadId": None, "ContactId": contact, "Status": "Invited"}]
    assert salesforce_writes(org) == {"composite/sobjects:POST": 1}  # right the first time
    assert members_here("Spring") == {ANN: "Registered", "bob@example.com": "Invited"}


def test_a_write_refused_for_a_converted_lead_goes_to_its_contact(
    org: EmulatorHandle, ann_in_spring: str
) -> None:
    contact = org.admin.convert_lead(ann_in_spring)["contact_id"]

    autumn = link_autumn_with_ann(org)

    assert people_of(org, autumn) == [{"LeadId": None, "ContactId": contact, "Status": "Invited"}]
    assert dead_letters() == []


def test_a_write_refused_for_a_merged_lead_goes_to_the_master(
    org: EmulatorHandle, ann_in_spring: str
) -> None:
    sf = simple_salesforce_client(org)
    master = sf.Lead.create({"LastName": "Ann", "Company": "Acme", "Email": ANN})["id"]
    org.admin.merge("Lead", master, [ann_in_spring])

    autumn = link_autumn_with_ann(org)

    assert people_of(org, autumn) == [{"LeadId": master, "ContactId": None, "Status": "Invited"}]
    assert dead_letters() == []


def test_a_write_refused_for_a_deleted_lead_finds_the_person_by_email(
    org: EmulatorHandle, ann_in_spring: str
) -> None:
    sf = simple_salesforce_client(org)
    sf.Lead.delete(ann_in_spring)
    contact = sf.Contact.create({"LastName": "Ann", "Email": ANN})["id"]

    autumn = link_autumn_with_ann(org)

    assert people_of(org, autumn) == [{"LeadId": None, "ContactId": contact, "Status": "Invited"}]
    assert dead_letters() == []


def test_a_member_moved_to_a_master_by_a_merge_ends_equal_on_both_sides(
    org: EmulatorHandle, spring: dict[str, Any]
) -> None:
    """Ann's Lead is merged into another person's Lead: Salesforce moves her member to
    that person, and Conversion follows: Ann leaves the campaign, the master joins it
    with her status."""
    sf = simple_salesforce_client(org)
    master = sf.Lead.create({"LastName": "Annie", "Company": "Acme", "Email": "annie@example.com"})
    org.admin.merge("Lead", master["id"], [spring["leads"][ANN]])

    sync_now("Spring")

    expected = {"annie@example.com": "Registered", "bob@example.com": "Invited"}
    assert salesforce_members(org, spring["id"]) == expected
    assert members_here("Spring") == expected
    assert dead_letters() == []
