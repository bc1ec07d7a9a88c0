"""sObject resources: create/get/update/delete, describe, getUpdated/getDeleted, rules."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
import requests
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceResourceNotFound

from convsync.salesforce_emulator.testing import (
    EmulatorHandle,
    running_emulator,
    simple_salesforce_client,
)

from .conftest import api_url, bearer, soql


def add_member(sf: Any, campaign: dict[str, Any], **fields: Any) -> str:
    values = {"CampaignId": campaign["id"], "LeadId": campaign["leads"][0], **fields}
    return str(sf.CampaignMember.create(values)["id"])


def error_of(call: Any) -> dict[str, Any]:
    with pytest.raises(SalesforceMalformedRequest) as raised:
        call()
    return dict(raised.value.content[0])


def test_create_returns_id_success_and_empty_errors(sf: Any, campaign: dict[str, Any]) -> None:
    result = sf.CampaignMember.create(
        {"CampaignId": campaign["id"], "LeadId": campaign["leads"][0]}
    )
    assert set(result) == {"id", "success", "errors"}
    assert (result["success"], result["errors"]) == (True, [])


def test_create_answers_201(org: EmulatorHandle, sf: Any, raw: requests.Session) -> None:
    response = raw.post(
        api_url(org, "sobjects/Lead/"), json={"LastName": "X", "Company": "Y"}, headers=bearer(sf)
    )
    assert response.status_code == 201


def test_get_returns_attributes_and_derived_member_fields(
    sf: Any, campaign: dict[str, Any]
) -> None:
    member = sf.CampaignMember.get(add_member(sf, campaign))
    assert member["attributes"]["type"] == "CampaignMember"
    assert (member["Email"], member["FirstName"], member["LastName"]) == (
        "ada@ex.com",
        "Ada",
        "Lovelace",
    )
    assert member["CompanyOrAccount"] == "Engines"
    assert (member["Status"], member["HasResponded"]) == ("Sent", False)
    assert member["IsDeleted"] is False


def test_update_and_delete_answer_204(sf: Any, campaign: dict[str, Any]) -> None:
    member = add_member(sf, campaign)
    assert sf.CampaignMember.update(member, {"Status": "Responded"}) == 204
    assert sf.CampaignMember.get(member)["HasResponded"] is True
    assert sf.CampaignMember.delete(member) == 204


def test_a_missing_record_is_404_not_found(sf: Any, campaign: dict[str, Any]) -> None:
    member = add_member(sf, campaign)
    sf.CampaignMember.delete(member)
    with pytest.raises(SalesforceResourceNotFound):
        sf.CampaignMember.get(member)
    with pytest.raises(SalesforceResourceNotFound) as raised:
        sf.CampaignMember.get("00vHs0000099999")
    assert raised.value.content == [
        {"errorCode": "NOT_FOUND", "message": "The requested resource does not exist"}
    ]


def test_a_malformed_id_in_the_path_is_malformed_id(sf: Any) -> None:
    assert error_of(lambda: sf.CampaignMember.update("abc", {"Status": "x"}))["errorCode"] == (
        "MALFORMED_ID"
    )


def test_a_reference_to_the_wrong_object_or_a_missing_record_is_rejected(
    sf: Any, campaign: dict[str, Any]
) -> None:
    wrong_type = error_of(
        lambda: sf.CampaignMember.create(
            {"CampaignId": campaign["leads"][1], "LeadId": campaign["leads"][0]}
        )
    )
    assert (wrong_type["errorCode"], wrong_type["fields"]) == ("MALFORMED_ID", ["CampaignId"])
    missing = error_of(
        lambda: sf.CampaignMember.create(
            {"CampaignId": "701Hs0000099999", "LeadId": campaign["leads"][0]}
        )
    )
    assert missing == {
        "errorCode": "INVALID_CROSS_REFERENCE_KEY",
        "message": "invalid cross reference id",
        "fields": ["CampaignId"],
    }


def test_a_lead_can_be_in_a_campaign_once(sf: Any, campaign: dict[str, Any]) -> None:
    add_member(sf, campaign)
    assert error_of(lambda: add_member(sf, campaign)) == {
        "errorCode": "DUPLICATE_VALUE",
        "message": "Already a campaign member.",
        "fields": [],
    }


def test_a_deleted_member_can_be_added_again(sf: Any, campaign: dict[str, Any]) -> None:
    sf.CampaignMember.delete(add_member(sf, campaign))
    assert add_member(sf, campaign)


def test_a_member_without_status_gets_the_default(sf: Any, campaign: dict[str, Any]) -> None:
    assert sf.CampaignMember.get(add_member(sf, campaign))["Status"] == "Sent"


def test_an_unknown_status_is_rejected_as_restricted_picklist(
    sf: Any, campaign: dict[str, Any]
) -> None:
    assert error_of(lambda: add_member(sf, campaign, Status="Clicked")) == {
        "errorCode": "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
        "message": "bad value for restricted picklist field: Clicked",
        "fields": ["Status"],
    }


@pytest.fixture(scope="module")
def lenient() -> Iterator[EmulatorHandle]:
    with running_emulator(unknown_status="default") as handle:
        yield handle


def test_in_default_mode_an_unknown_status_silently_becomes_the_default(
    lenient: EmulatorHandle,
) -> None:
    seeded = lenient.admin.seed(
        leads=[{"LastName": "L", "Company": "C"}], campaigns=[{"Name": "Old docs"}]
    )
    sf = simple_salesforce_client(lenient)
    member = sf.CampaignMember.create(
        {
            "CampaignId": seeded["campaigns"][0]["id"],
            "LeadId": seeded["leads"][0],
            "Status": "Clicked",
        }
    )
    assert sf.CampaignMember.get(member["id"])["Status"] == "Sent"


def test_required_fields_are_reported_by_name(sf: Any) -> None:
    assert error_of(lambda: sf.Lead.create({"Company": "X"})) == {
        "errorCode": "REQUIRED_FIELD_MISSING",
        "message": "Required fields are missing: [LastName]",
        "fields": ["LastName"],
    }


def test_member_campaign_and_person_are_not_updatable(sf: Any, campaign: dict[str, Any]) -> None:
    member = add_member(sf, campaign)
    error = error_of(lambda: sf.CampaignMember.update(member, {"LeadId": campaign["leads"][1]}))
    assert (error["errorCode"], error["fields"]) == ("INVALID_FIELD_FOR_INSERT_UPDATE", ["LeadId"])


def test_given_lead_and_contact_only_the_contact_is_kept(sf: Any, campaign: dict[str, Any]) -> None:
    member = sf.CampaignMember.get(add_member(sf, campaign, ContactId=campaign["contacts"][0]))
    assert (member["LeadId"], member["ContactId"]) == (None, campaign["contacts"][0])


def test_a_new_campaign_gets_sent_default_and_responded_statuses(sf: Any) -> None:
    campaign_id = sf.Campaign.create({"Name": "Fresh"})["id"]
    rows = sf.query(
        soql(
            "SELECT Label, IsDefault, HasResponded, SortOrder FROM "
            "CampaignMemberStatus WHERE CampaignId = {c} ORDER BY SortOrder",
            c=campaign_id,
        )
    )["records"]
    assert [(r["Label"], r["IsDefault"], r["HasResponded"], r["SortOrder"]) for r in rows] == [
        ("Sent", True, False, 1),
        ("Responded", False, True, 2),
    ]


def test_a_new_default_status_clears_the_old_one(sf: Any, campaign: dict[str, Any]) -> None:
    sf.CampaignMemberStatus.create(
        {"CampaignId": campaign["id"], "Label": "Opened", "IsDefault": True}
    )
    rows = sf.query(
        soql(
            "SELECT Label FROM CampaignMemberStatus WHERE CampaignId = {c} AND IsDefault = true",
            c=campaign["id"],
        )
    )["records"]
    assert [r["Label"] for r in rows] == ["Opened"]


def test_status_labels_are_unique_per_campaign(sf: Any, campaign: dict[str, Any]) -> None:
    error = error_of(
        lambda: sf.CampaignMemberStatus.create({"CampaignId": campaign["id"], "Label": "Sent"})
    )
    assert (error["errorCode"], error["fields"]) == ("DUPLICATE_VALUE", ["Label"])


def test_the_default_status_and_statuses_in_use_cannot_be_deleted(
    sf: Any, campaign: dict[str, Any]
) -> None:
    add_member(sf, campaign, Status="Responded")
    for label in ("Sent", "Responded"):
        assert (
            error_of(lambda lbl=label: sf.CampaignMemberStatus.delete(campaign["statuses"][lbl]))[
                "errorCode"
            ]
            == "DELETE_FAILED"
        )


def test_the_last_responded_status_must_stay(sf: Any, campaign: dict[str, Any]) -> None:
    error = error_of(
        lambda: sf.CampaignMemberStatus.update(
            campaign["statuses"]["Responded"], {"HasResponded": False}
        )
    )
    assert error["errorCode"] == "FIELD_INTEGRITY_EXCEPTION"


def test_changing_a_lead_email_moves_its_members_modstamp(
    sf: Any, campaign: dict[str, Any]
) -> None:
    member = add_member(sf, campaign)
    before = sf.CampaignMember.get(member)["SystemModstamp"]
    sf.Lead.update(campaign["leads"][0], {"Email": "ada@new.com"})
    after = sf.CampaignMember.get(member)
    assert after["Email"] == "ada@new.com"
    assert after["SystemModstamp"] > before


def test_describe_lists_fields_with_types_and_permissions(sf: Any) -> None:
    fields = {f["name"]: f for f in sf.CampaignMember.describe()["fields"]}
    assert fields["Status"]["updateable"] is True
    assert fields["CampaignId"]["updateable"] is False
    assert fields["CampaignId"]["createable"] is True
    assert fields["CampaignId"]["referenceTo"] == ["Campaign"]
    assert fields["SystemModstamp"]["type"] == "datetime"
    assert fields["Email"]["createable"] is False
    assert "picklistValues" in fields["Status"]


def test_updated_lists_ids_changed_in_the_window(sf: Any, campaign: dict[str, Any]) -> None:
    start = datetime.now(UTC) - timedelta(minutes=5)
    member = add_member(sf, campaign)
    result = sf.CampaignMember.updated(start, datetime.now(UTC) + timedelta(minutes=5))
    assert result["ids"] == [member]
    assert result["latestDateCovered"].endswith("+0000")


def test_deleted_lists_tombstones_with_their_deletion_date(
    sf: Any, campaign: dict[str, Any]
) -> None:
    start = datetime.now(UTC) - timedelta(minutes=5)
    member = add_member(sf, campaign)
    sf.CampaignMember.delete(member)
    result = sf.CampaignMember.deleted(start, datetime.now(UTC) + timedelta(minutes=5))
    assert [r["id"] for r in result["deletedRecords"]] == [member]
    assert set(result) == {"deletedRecords", "earliestDateAvailable", "latestDateCovered"}
    assert result["deletedRecords"][0]["deletedDate"].endswith("+0000")


def test_the_clock_moves_strictly_forward_per_write(sf: Any, campaign: dict[str, Any]) -> None:
    members = [add_member(sf, campaign, LeadId=lead) for lead in campaign["leads"]]
    stamps = [sf.CampaignMember.get(m)["SystemModstamp"] for m in members]
    assert stamps[0] < stamps[1]


def test_the_clock_can_be_shifted_for_skew_tests() -> None:
    # An emulator of its own: its clock never runs back past a write it stamped, so an
    # hour ahead would stay an hour ahead for every later test of the session's one.
    with running_emulator() as own:
        own.admin.reset()
        campaign = own.admin.seed(campaigns=[{"Name": "Skew", "generate_members": 0}])
        lead = own.admin.seed(leads=[{"LastName": "Skew", "Company": "Co", "Email": "s@ex.com"}])
        own.admin.shift_clock(3_600_000)
        sf = simple_salesforce_client(own)
        member = sf.CampaignMember.create(
            {"CampaignId": campaign["campaigns"][0]["id"], "LeadId": lead["leads"][0]}
        )
        stamp = sf.CampaignMember.get(member["id"])["SystemModstamp"]
    assert stamp > (datetime.now(UTC) + timedelta(minutes=59)).strftime("%Y-%m-%dT%H:%M:%S")
