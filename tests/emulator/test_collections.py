"""sObject Collections: create, update, delete up to 200 records in one call."""

from __future__ import annotations

from typing import Any

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest

from convsync.salesforce_emulator.testing import EmulatorHandle


def member(campaign: dict[str, Any], lead: str, **fields: Any) -> dict[str, Any]:
    return {
        "attributes": {"type": "CampaignMember"},
        "CampaignId": campaign["id"],
        "LeadId": lead,
        **fields,
    }


def create(sf: Any, records: list[dict[str, Any]], *, all_or_none: bool = False) -> Any:
    return sf.restful(
        "composite/sobjects", method="POST", json={"allOrNone": all_or_none, "records": records}
    )


def test_create_returns_results_in_request_order(sf: Any, campaign: dict[str, Any]) -> None:
    leads = campaign["leads"]
    results = create(
        sf,
        [
            member(campaign, leads[0]),
            member(campaign, leads[0]),
            member(campaign, leads[1], Status="Responded"),
        ],
    )
    assert [r["success"] for r in results] == [True, False, True]
    assert results[1] == {
        "success": False,
        "errors": [
            {"statusCode": "DUPLICATE_VALUE", "message": "Already a campaign member.", "fields": []}
        ],
    }
    assert results[0]["id"].startswith("00v")


def test_all_or_none_rolls_back_the_innocent_rows(
    org: EmulatorHandle, sf: Any, campaign: dict[str, Any]
) -> None:
    leads = campaign["leads"]
    results = create(
        sf, [member(campaign, leads[0]), member(campaign, leads[1], Status="Bad")], all_or_none=True
    )
    assert results[0]["errors"][0]["statusCode"] == "ALL_OR_NONE_OPERATION_ROLLED_BACK"
    assert results[1]["errors"][0]["statusCode"] == "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert org.admin.summary()["CampaignMember"] == {"live": 0, "deleted": 0}


def test_update_and_delete_by_ids(sf: Any, campaign: dict[str, Any]) -> None:
    ids = [r["id"] for r in create(sf, [member(campaign, lead) for lead in campaign["leads"]])]
    updates = [
        {"attributes": {"type": "CampaignMember"}, "Id": i, "Status": "Responded"} for i in ids
    ]
    results = sf.restful(
        "composite/sobjects", method="PATCH", json={"allOrNone": False, "records": updates}
    )
    assert [(r["id"], r["success"]) for r in results] == [(i, True) for i in ids]
    deleted = sf.restful(
        "composite/sobjects", method="DELETE", params={"ids": ",".join(ids), "allOrNone": "false"}
    )
    assert [(r["id"], r["success"]) for r in deleted] == [(i, True) for i in ids]


def test_update_of_a_missing_record_fails_that_row_only(sf: Any, campaign: dict[str, Any]) -> None:
    good = create(sf, [member(campaign, campaign["leads"][0])])[0]["id"]
    updates = [
        {"attributes": {"type": "CampaignMember"}, "Id": i, "Status": "Responded"}
        for i in (good, "00vHs0000099999")
    ]
    results = sf.restful(
        "composite/sobjects", method="PATCH", json={"allOrNone": False, "records": updates}
    )
    assert [r["success"] for r in results] == [True, False]
    assert results[1]["errors"][0]["statusCode"] == "INVALID_CROSS_REFERENCE_KEY"


def test_more_than_200_records_are_refused(sf: Any, campaign: dict[str, Any]) -> None:
    records = [
        {"attributes": {"type": "Lead"}, "LastName": f"L{i}", "Company": "C"} for i in range(201)
    ]
    with pytest.raises(SalesforceMalformedRequest) as raised:
        create(sf, records)
    assert raised.value.content == [
        {
            "message": "record limit reached. cannot submit more than 200 records into this call",
            "errorCode": "EXCEEDED_ID_LIMIT",
        }
    ]


def test_each_collection_call_is_one_api_call(org: EmulatorHandle, sf: Any) -> None:
    org.admin.reset_counters()
    create(
        sf,
        [{"attributes": {"type": "Lead"}, "LastName": f"L{i}", "Company": "C"} for i in range(200)],
    )
    assert org.admin.counters()["by_endpoint"] == {"composite/sobjects:POST": 1}


def test_a_record_without_a_type_fails_alone(sf: Any, campaign: dict[str, Any]) -> None:
    results = create(sf, [{"LastName": "X"}, member(campaign, campaign["leads"][0])])
    assert results[0]["errors"][0]["statusCode"] == "INVALID_TYPE"
    assert results[1]["success"] is True
