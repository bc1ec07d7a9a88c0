"""Leads through Bulk API 2.0: each person gets their own Lead, and a failed job is never
re-run whole (it would create every Lead twice)."""

from __future__ import annotations

import pytest
from tests.integration.salesforce.sf_helpers import make_gateway

from convsync.domain.errors import TransientSalesforceError
from convsync.domain.outcomes import WriteOutcome
from convsync.salesforce.gateway import SalesforceGateway
from convsync.salesforce.records import NewLead
from convsync.salesforce_emulator.testing import EmulatorHandle

PEOPLE = [NewLead(f"p{i}@example.com", None, f"Person {i}", None) for i in range(5)]


def lead_emails(gateway: SalesforceGateway) -> dict[str, str]:
    rows = gateway.client.query_records("SELECT Id, Email FROM Lead", action="read Leads")
    return {row["Id"]: row["Email"] for row in rows}


def test_bulk_lead_creation_maps_each_person_to_their_new_lead(
    gateway: SalesforceGateway,
) -> None:
    results = gateway.create_leads(PEOPLE[::-1], use_bulk=True)

    assert [r.outcome for r in results] == [WriteOutcome.OK] * 5
    emails = lead_emails(gateway)
    assert [emails[r.salesforce_id or ""] for r in results] == [p.email for p in PEOPLE[::-1]]


def test_a_failed_bulk_lead_job_is_raised_not_retried(
    org: EmulatorHandle, gateway: SalesforceGateway
) -> None:
    gateway.find_people_by_email(["warm-up@example.com"])  # log in first
    org.admin.reset_counters()
    org.admin.inject_faults(next=1, kind="503")

    with pytest.raises(TransientSalesforceError):
        gateway.create_leads(PEOPLE, use_bulk=True)

    assert org.admin.counters()["total"] == 1
    assert lead_emails(gateway) == {}


ADA = NewLead("ada@new.example", "Ada", "Lovelace", "Engines Ltd")


def seed_ada(org: EmulatorHandle) -> str:
    """Ada, already a Lead under her old address: a duplicate by name and company."""
    seeded = org.admin.seed(
        leads=[
            {
                "FirstName": "Ada",
                "LastName": "Lovelace",
                "Company": "Engines Ltd",
                "Email": "ada@old.example",
            }
        ]
    )
    return str(seeded["leads"][0])


@pytest.mark.parametrize("use_bulk", [False, True], ids=["collections", "bulk"])
def test_leads_an_alert_duplicate_rule_warns_about_are_created(
    org: EmulatorHandle, gateway: SalesforceGateway, use_bulk: bool
) -> None:
    seed_ada(org)
    org.admin.set_duplicate_rules("alert")

    [result] = gateway.create_leads([ADA], use_bulk=use_bulk)

    assert result.outcome is WriteOutcome.OK
    assert lead_emails(gateway)[result.salesforce_id or ""] == ADA.email


@pytest.mark.parametrize("use_bulk", [False, True], ids=["collections", "bulk"])
def test_a_block_duplicate_rule_refusal_names_the_rule_and_the_matching_lead(
    org: EmulatorHandle, gateway: SalesforceGateway, use_bulk: bool
) -> None:
    match = seed_ada(org)
    org.admin.set_duplicate_rules("block")

    [result] = gateway.create_leads([ADA], use_bulk=use_bulk)

    assert result.outcome is WriteOutcome.ERROR
    assert result.code == "DUPLICATES_DETECTED"
    assert f"it matches Lead {match}" in (result.message or "")


def test_alert_rules_are_respected_when_configured(org: EmulatorHandle) -> None:
    seed_ada(org)
    org.admin.set_duplicate_rules("alert")
    gateway = make_gateway(org, salesforce_respect_duplicate_alerts=True)

    [result] = gateway.create_leads([ADA])

    assert result.code == "DUPLICATES_DETECTED"


def test_a_lead_create_whose_response_was_lost_is_raised_not_repeated(
    org: EmulatorHandle, gateway: SalesforceGateway
) -> None:
    org.admin.inject_faults(next=1, kind="lost_response", endpoint="composite/sobjects:POST")

    with pytest.raises(TransientSalesforceError):
        gateway.create_leads(PEOPLE)

    assert sorted(lead_emails(gateway).values()) == [p.email for p in PEOPLE]
