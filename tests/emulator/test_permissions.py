"""The integration user's permissions: object access and field-level security, as an
unmodified simple-salesforce client sees them (describe, SOQL, DML)."""

from __future__ import annotations

from typing import Any

import pytest
from simple_salesforce.exceptions import SalesforceMalformedRequest, SalesforceResourceNotFound

from convsync.salesforce_emulator.testing import EmulatorHandle


def fields_of(sf: Any, object_name: str) -> dict[str, dict[str, Any]]:
    return {f["name"]: f for f in getattr(sf, object_name).describe()["fields"]}


def error_code(caught: pytest.ExceptionInfo[Any]) -> str:
    return str(caught.value.content[0]["errorCode"])


def test_everything_is_allowed_by_default(org: EmulatorHandle, sf: Any) -> None:
    described = sf.CampaignMember.describe()
    assert (
        described["createable"],
        described["updateable"],
        described["deletable"],
        described["queryable"],
    ) == (True, True, True, True)
    assert fields_of(sf, "Lead")["Email"]["updateable"] is True


def test_object_permissions_show_in_describe(org: EmulatorHandle, sf: Any) -> None:
    org.admin.permissions({"CampaignMember": {"create": False, "edit": False, "delete": False}})
    described = sf.CampaignMember.describe()
    assert (described["createable"], described["updateable"], described["deletable"]) == (
        False,
        False,
        False,
    )
    assert described["queryable"] is True


def test_an_object_without_read_access_is_not_there(org: EmulatorHandle, sf: Any) -> None:
    org.admin.permissions({"Lead": {"read": False}})
    assert "Lead" not in {o["name"] for o in sf.describe()["sobjects"]}
    with pytest.raises(SalesforceResourceNotFound):
        sf.Lead.describe()
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.query("SELECT Id FROM Lead")
    assert error_code(caught) == "INVALID_TYPE"


def test_a_hidden_field_is_absent_from_describe_and_invalid_in_soql(
    org: EmulatorHandle, sf: Any, campaign: dict[str, Any]
) -> None:
    org.admin.permissions({"Lead": {"fields": {"Email": "none"}}})
    assert "Email" not in fields_of(sf, "Lead")
    with pytest.raises(SalesforceMalformedRequest) as direct:
        sf.query("SELECT Id, Email FROM Lead")
    with pytest.raises(SalesforceMalformedRequest) as related:
        sf.query("SELECT Id, Lead.Email FROM CampaignMember")
    assert error_code(direct) == error_code(related) == "INVALID_FIELD"
    assert "No such column 'Email' on entity 'Lead'" in direct.value.content[0]["message"]
    assert "Email" not in sf.Lead.get(campaign["leads"][0])


def test_a_read_only_field_is_readable_but_refuses_writes(
    org: EmulatorHandle, sf: Any, campaign: dict[str, Any]
) -> None:
    org.admin.permissions({"Lead": {"fields": {"Email": "read"}}})
    email = fields_of(sf, "Lead")["Email"]
    assert (email["createable"], email["updateable"]) == (False, False)
    assert sf.query("SELECT Email FROM Lead")["totalSize"] == 2
    with pytest.raises(SalesforceMalformedRequest) as caught:
        sf.Lead.update(campaign["leads"][0], {"Email": "new@ex.com"})
    assert error_code(caught) == "INVALID_FIELD_FOR_INSERT_UPDATE"


def test_a_missing_object_permission_refuses_that_dml_per_record(
    org: EmulatorHandle, sf: Any, campaign: dict[str, Any]
) -> None:
    org.admin.permissions({"CampaignMember": {"create": False}})
    records = [
        {"attributes": {"type": "CampaignMember"}, "CampaignId": campaign["id"], "LeadId": lead}
        for lead in campaign["leads"]
    ]
    results = sf.restful("composite/sobjects", method="POST", json={"records": records})
    assert [r["errors"][0]["statusCode"] for r in results] == [
        "INSUFFICIENT_ACCESS_OR_READONLY"
    ] * 2
    assert sf.query("SELECT Id FROM CampaignMember")["totalSize"] == 0


def test_seeding_is_not_the_integration_user(org: EmulatorHandle, sf: Any) -> None:
    org.admin.permissions({"Lead": {"create": False, "fields": {"Email": "none"}}})
    org.admin.seed(leads=[{"LastName": "Ada", "Company": "Engines", "Email": "ada@ex.com"}])
    assert sf.query("SELECT Id FROM Lead")["totalSize"] == 1


def test_a_reset_restores_full_access(org: EmulatorHandle, sf: Any) -> None:
    org.admin.permissions({"Lead": {"read": False}})
    org.admin.reset()
    assert org.admin.permissions()["Lead"]["read"] is True
    assert "Email" in fields_of(sf, "Lead")


def test_id_and_required_fields_cannot_be_hidden(org: EmulatorHandle) -> None:
    response = org.session().post(
        f"{org.url}/__emulator/permissions",
        json={"Lead": {"fields": {"LastName": "none"}}},
        timeout=10,
    )
    assert response.status_code == 400
    assert "always visible" in response.json()[0]["message"]
