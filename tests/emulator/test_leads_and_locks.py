"""Converted and merged Leads, and Campaign row locks: what a real org does to a sync.

Driven through `/__emulator/leads/convert`, `/__emulator/merge` and `/__emulator/locks`;
observed only through simple-salesforce, as the sync observes an org.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from simple_salesforce import format_soql
from simple_salesforce.exceptions import SalesforceMalformedRequest

from convsync.salesforce_emulator.testing import EmulatorHandle

MEMBER_BY_ID = (
    "SELECT Id, LeadId, ContactId, Status, SystemModstamp, IsDeleted, Contact.Email "
    "FROM CampaignMember WHERE Id = {}"
)


def add_members(sf: Any, campaign: dict[str, Any], people: list[tuple[str, str]]) -> list[Any]:
    """(LeadId|ContactId, id) pairs → one collection insert into the campaign."""
    records = [
        {"attributes": {"type": "CampaignMember"}, "CampaignId": campaign["id"], column: pid}
        for column, pid in people
    ]
    return list(
        sf.restful(
            "composite/sobjects", method="POST", json={"allOrNone": False, "records": records}
        )
    )


def member_of(sf: Any, member_id: str) -> dict[str, Any]:
    [row] = sf.query_all(format_soql(MEMBER_BY_ID, member_id))["records"]
    return dict(row)


def first_error(result: dict[str, Any]) -> dict[str, Any]:
    assert result["success"] is False, result
    return dict(result["errors"][0])


# ---------------------------------------------------------------- conversion


def test_lead_describes_its_conversion_and_merge_fields(sf: Any) -> None:
    lead = {f["name"]: f for f in sf.Lead.describe()["fields"]}
    contact = {f["name"]: f for f in sf.Contact.describe()["fields"]}

    assert lead["IsConverted"]["type"] == "boolean"
    assert lead["ConvertedContactId"]["referenceTo"] == ["Contact"]
    assert lead["ConvertedAccountId"]["referenceTo"] == ["Account"]
    assert lead["ConvertedDate"]["type"] == "date"
    assert lead["MasterRecordId"]["referenceTo"] == ["Lead"]
    assert contact["MasterRecordId"]["referenceTo"] == ["Contact"]
    assert not any(lead[f]["updateable"] for f in ("IsConverted", "ConvertedContactId"))


def test_converting_a_lead_makes_a_contact_and_marks_the_lead_converted(
    org: EmulatorHandle, sf: Any, campaign: dict[str, Any]
) -> None:
    lead_id = campaign["leads"][0]

    converted = org.admin.convert_lead(lead_id)

    [lead] = sf.query_all(
        format_soql(
            "SELECT IsConverted, ConvertedContactId, ConvertedAccountId, ConvertedDate "
            "FROM Lead WHERE Id = {}",
            lead_id,
        )
    )["records"]
    assert lead["IsConverted"] is True
    assert lead["ConvertedContactId"] == converted["contact_id"]
    assert lead["ConvertedAccountId"] == converted["account_id"]
    assert converted["account_id"].startswith("001")
    assert lead["ConvertedDate"]
    contact = sf.Contact.get(converted["contact_id"])
    assert (contact["LastName"], contact["Email"]) == ("Lovelace", "ada@ex.com")


def test_converting_into_an_existing_contact_uses_it(
    org: EmulatorHandle, sf: Any, campaign: dict[str, Any]
) -> None:
    grace = campaign["contacts"][0]

    converted = org.admin.convert_lead(campaign["leads"][0], contact_id=grace)

    assert converted["contact_id"] == grace
    assert org.admin.summary()["Contact"]["live"] == 1


def test_converted_leads_are_filtered_with_is_converted(
    org: EmulatorHandle, sf: Any, campaign: dict[str, Any]
) -> None:
    org.admin.convert_lead(campaign["leads"][0])

    rows = sf.query_all("SELECT Email FROM Lead WHERE IsConverted = false")["records"]

    assert [r["Email"] for r in rows] == ["al@ex.com"]


def test_conversion_points_the_leads_members_at_the_contact_and_moves_their_stamp(
    org: EmulatorHandle, sf: Any, campaign: dict[str, Any]
) -> None:
    lead_id = campaign["leads"][0]
    [created] = add_members(sf, campaign, [("LeadId", lead_id)])
    before = member_of(sf, created["id"])

    converted = org.admin.convert_lead(lead_id)

    after = member_of(sf, created["id"])
    assert after["ContactId"] == converted["contact_id"]
    assert after["LeadId"] == lead_id
    assert after["Contact"]["Email"] == "ada@ex.com"
    assert after["SystemModstamp"] > before["SystemModstamp"]


def test_a_converted_lead_cannot_be_updated(
    org: EmulatorHandle, sf: Any, campaign: dict[str, Any]
) -> None:
    lead_id = campaign["leads"][0]
    org.admin.convert_lead(lead_id)

    with pytest.raises(SalesforceMalformedRequest) as raised:
        sf.Lead.update(lead_id, {"Company": "Analytical Engines"})

    assert raised.value.content[0]["errorCode"] == "CANNOT_UPDATE_CONVERTED_LEAD"
    assert raised.value.content[0]["message"] == "cannot reference converted lead"


def test_a_member_cannot_reference_a_converted_lead(
    org: EmulatorHandle, sf: Any, campaign: dict[str, Any]
) -> None:
    org.admin.convert_lead(campaign["leads"][0])

    converted, fine = add_members(
        sf, campaign, [("LeadId", campaign["leads"][0]), ("LeadId", campaign["leads"][1])]
    )

    assert first_error(converted)["statusCode"] == "CANNOT_UPDATE_CONVERTED_LEAD"
    assert first_error(converted)["message"] == "cannot reference converted lead"
    assert fine["success"] is True


# ---------------------------------------------------------------- merge


def test_merged_leads_are_deleted_with_their_master_record_id(
    org: EmulatorHandle, sf: Any, campaign: dict[str, Any]
) -> None:
    master, loser = campaign["leads"]

    org.admin.merge("Lead", master, [loser])

    assert [r["Id"] for r in sf.query_all("SELECT Id FROM Lead")["records"]] == [master]
    [gone] = sf.query_all_iter(
        format_soql("SELECT IsDeleted, MasterRecordId FROM Lead WHERE Id = {}", loser),
        include_deleted=True,
    )
    assert (gone["IsDeleted"], gone["MasterRecordId"]) == (True, master)


def test_a_merged_leads_members_move_to_the_master(
    org: EmulatorHandle, sf: Any, campaign: dict[str, Any]
) -> None:
    master, loser = campaign["leads"]
    [created] = add_members(sf, campaign, [("LeadId", loser)])
    before = member_of(sf, created["id"])

    merged = org.admin.merge("Lead", master, [loser])

    row = sf.query_all(
        format_soql(
            "SELECT LeadId, SystemModstamp FROM CampaignMember WHERE Id = {}", created["id"]
        )
    )["records"][0]
    assert merged["moved_members"] == [created["id"]]
    assert row["LeadId"] == master
    assert row["SystemModstamp"] > before["SystemModstamp"]


def test_a_losers_member_of_a_campaign_the_master_is_in_vanishes_without_a_tombstone(
    org: EmulatorHandle, sf: Any, campaign: dict[str, Any]
) -> None:
    master, loser = campaign["leads"]
    kept, dropped = add_members(sf, campaign, [("LeadId", master), ("LeadId", loser)])

    merged = org.admin.merge("Lead", master, [loser])

    everything = sf.query_all_iter("SELECT Id FROM CampaignMember", include_deleted=True)
    assert [r["Id"] for r in everything] == [kept["id"]]
    assert merged["removed_members"] == [dropped["id"]]


def test_contacts_merge_too(org: EmulatorHandle, sf: Any, campaign: dict[str, Any]) -> None:
    grace = campaign["contacts"][0]
    other = sf.Contact.create({"LastName": "Hopper", "Email": "g.hopper@ex.com"})["id"]
    [created] = add_members(sf, campaign, [("ContactId", other)])

    org.admin.merge("Contact", grace, [other])

    assert member_of(sf, created["id"])["ContactId"] == grace


def test_a_merge_takes_at_most_two_others(
    org: EmulatorHandle, sf: Any, campaign: dict[str, Any]
) -> None:
    extra = [sf.Lead.create({"LastName": f"L{i}", "Company": "X"})["id"] for i in range(2)]

    with pytest.raises(Exception, match="400"):
        org.admin.merge("Lead", campaign["leads"][0], [campaign["leads"][1], *extra])


# ---------------------------------------------------------------- row locks


def set_status(sf: Any, member_ids: list[str], status: str) -> list[Any]:
    records = [
        {"attributes": {"type": "CampaignMember"}, "Id": mid, "Status": status}
        for mid in member_ids
    ]
    return list(
        sf.restful(
            "composite/sobjects", method="PATCH", json={"allOrNone": False, "records": records}
        )
    )


def two_members(sf: Any, campaign: dict[str, Any]) -> list[str]:
    leads = campaign["leads"]
    return [
        r["id"] for r in add_members(sf, campaign, [("LeadId", leads[0]), ("LeadId", leads[1])])
    ]


def test_locks_are_off_by_default(sf: Any, campaign: dict[str, Any]) -> None:
    members = two_members(sf, campaign)

    results = [set_status(sf, [m], "Responded")[0] for m in members]

    assert all(r["success"] for r in results)


def test_a_member_write_right_after_another_to_the_same_campaign_is_locked_out(
    org: EmulatorHandle, sf: Any, campaign: dict[str, Any]
) -> None:
    members = two_members(sf, campaign)
    org.admin.set_lock_window(60_000)

    results = set_status(sf, members, "Responded")

    assert [first_error(r)["statusCode"] for r in results] == ["UNABLE_TO_LOCK_ROW"] * 2
    assert first_error(results[0])["message"] == (
        f"unable to obtain exclusive access to this record or 1 records: {campaign['id']}"
    )
    rows = sf.query_all("SELECT Status FROM CampaignMember")["records"]
    assert {r["Status"] for r in rows} == {"Sent"}


def test_a_lock_holds_only_its_own_campaign(
    org: EmulatorHandle, sf: Any, campaign: dict[str, Any]
) -> None:
    two_members(sf, campaign)
    org.admin.set_lock_window(60_000)
    other = sf.Campaign.create({"Name": "Other"})["id"]

    [result] = add_members(sf, {"id": other}, [("ContactId", campaign["contacts"][0])])

    assert result["success"] is True


def test_a_lock_is_released_once_its_window_has_passed(
    org: EmulatorHandle, sf: Any, campaign: dict[str, Any]
) -> None:
    members = two_members(sf, campaign)
    org.admin.set_lock_window(300)
    assert first_error(set_status(sf, members[:1], "Responded")[0])["statusCode"] == (
        "UNABLE_TO_LOCK_ROW"
    )

    deadline = time.monotonic() + 10
    while not (result := set_status(sf, members[:1], "Responded")[0])["success"]:
        assert first_error(result)["statusCode"] == "UNABLE_TO_LOCK_ROW"
        assert time.monotonic() < deadline, "the lock was never released"
        time.sleep(0.05)


def test_reset_turns_locks_off(org: EmulatorHandle, sf: Any, campaign: dict[str, Any]) -> None:
    org.admin.set_lock_window(60_000)
    org.admin.reset()
    fresh = org.admin.seed(leads=[{"LastName": "A", "Company": "X"}], campaigns=[{"Name": "Again"}])
    campaign_id, lead = fresh["campaigns"][0]["id"], fresh["leads"][0]
    add_members(sf, {"id": campaign_id}, [("LeadId", lead)])

    [result] = add_members(
        sf,
        {"id": campaign_id},
        [("LeadId", sf.Lead.create({"LastName": "B", "Company": "X"})["id"])],
    )

    assert result["success"] is True
