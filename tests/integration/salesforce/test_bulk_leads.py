"""Leads through Bulk API 2.0: each person gets their own Lead, and a failed job is never
re-run whole (it would create every Lead twice)."""

from __future__ import annotations

import pytest

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
