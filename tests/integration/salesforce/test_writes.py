"""Writes: campaigns and statuses, leads, member collections and Bulk API 2.0."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest
from sf_helpers import FAST, calls, make_gateway, seed_campaign, seed_leads

from convsync.domain.errors import SalesforceError
from convsync.domain.model import MemberStatus
from convsync.domain.outcomes import WriteOutcome
from convsync.salesforce.gateway import SalesforceGateway
from convsync.salesforce.records import MemberChange, NewLead, NewMember
from convsync.salesforce.soql import to_18
from convsync.salesforce_emulator.testing import EmulatorHandle


def _members(gateway: SalesforceGateway, campaign_id: str) -> list[str]:
    later = datetime.now(UTC) + timedelta(hours=1)
    return [m.id for m in gateway.iter_members(campaign_id, since=None, until=later)]


def _new_members(campaign_id: str, lead_ids: list[str], status: str = "Sent") -> list[NewMember]:
    return [NewMember(campaign_id, status, lead_id=lead) for lead in lead_ids]


def test_create_campaign_starts_with_sent_and_responded(gateway: SalesforceGateway) -> None:
    campaign_id = gateway.create_campaign("New from Conversion")
    assert gateway.get_campaign(campaign_id).name == "New from Conversion"
    labels = [s.label for _, s in gateway.campaign_statuses(campaign_id)]
    assert labels == ["Sent", "Responded"]


def test_status_create_update_delete(gateway: SalesforceGateway) -> None:
    campaign_id = gateway.create_campaign("Statuses")
    status_id = gateway.create_status(campaign_id, MemberStatus("Opened", sort_order=3))
    gateway.update_status(status_id, MemberStatus("Opened email", sort_order=3))
    assert "Opened email" in [s.label for _, s in gateway.campaign_statuses(campaign_id)]
    gateway.delete_status(status_id)
    assert [s.label for _, s in gateway.campaign_statuses(campaign_id)] == ["Sent", "Responded"]


def test_deleting_the_default_status_is_a_salesforce_error(gateway: SalesforceGateway) -> None:
    campaign_id = gateway.create_campaign("Default stays")
    default_id = next(i for i, s in gateway.campaign_statuses(campaign_id) if s.is_default)
    with pytest.raises(SalesforceError):
        gateway.delete_status(default_id)


def test_450_members_are_written_in_3_calls(
    org: EmulatorHandle, gateway: SalesforceGateway
) -> None:
    campaign = seed_campaign(org)
    leads = seed_leads(org, [f"w{i}@example.com" for i in range(450)])
    org.admin.reset_counters()
    results = gateway.insert_members(_new_members(campaign["id"], leads))
    assert [r.outcome for r in results] == [WriteOutcome.OK] * 450
    assert calls(org, "composite/sobjects:POST") == 3
    assert set(_members(gateway, campaign["id"])) == {r.salesforce_id for r in results}


def test_per_record_outcomes_come_back_in_request_order(
    org: EmulatorHandle, gateway: SalesforceGateway
) -> None:
    campaign = seed_campaign(org)
    a, b, c = seed_leads(org, ["a@example.com", "b@example.com", "c@example.com"])
    gateway.insert_members(_new_members(campaign["id"], [b]))
    results = gateway.insert_members(
        [
            NewMember(campaign["id"], "Sent", lead_id=a),
            NewMember(campaign["id"], "Sent", lead_id=b),  # already a member
            NewMember(campaign["id"], "No such status", lead_id=c),
        ]
    )
    assert [r.outcome for r in results] == [
        WriteOutcome.OK,
        WriteOutcome.DUPLICATE,
        WriteOutcome.STATUS_NOT_ON_CAMPAIGN,
    ]
    assert results[1].code == "DUPLICATE_VALUE"


def test_update_and_delete_report_missing_members(
    org: EmulatorHandle, gateway: SalesforceGateway
) -> None:
    campaign = seed_campaign(org, members=2)
    first, second = _members(gateway, campaign["id"])
    missing = to_18("00vHs0999999998")
    changes = [MemberChange(first, "Opened"), MemberChange(missing, "Opened")]
    updated = gateway.update_members(changes)
    assert [r.outcome for r in updated] == [WriteOutcome.OK, WriteOutcome.NOT_FOUND]
    deleted = gateway.delete_members([second, missing])
    assert [r.outcome for r in deleted] == [WriteOutcome.OK, WriteOutcome.NOT_FOUND]
    assert gateway.member_status_counts(campaign["id"]) == {"Opened": 1}


def test_create_leads_fills_the_required_fields(
    org: EmulatorHandle, gateway: SalesforceGateway
) -> None:
    results = gateway.create_leads(
        [
            NewLead("jane.doe@example.com"),
            NewLead("bob@example.com", last_name="Smith", company="Initech"),
        ]
    )
    assert all(r.ok for r in results)
    rows = list(
        gateway.client.query_records(
            "SELECT Email, LastName, Company FROM Lead ORDER BY Email", action="read leads"
        )
    )
    assert [(r["LastName"], r["Company"]) for r in rows] == [
        ("Smith", "Initech"),
        ("jane.doe", "[not provided]"),
    ]


def test_bulk_insert_maps_a_duplicate_back_to_its_row(
    org: EmulatorHandle, gateway: SalesforceGateway
) -> None:
    campaign = seed_campaign(org)
    leads = seed_leads(org, [f"bulk{i}@example.com" for i in range(5)])
    gateway.insert_members(_new_members(campaign["id"], [leads[3]]))
    results = gateway.insert_members(_new_members(campaign["id"], leads), use_bulk=True)
    assert [r.outcome for r in results] == [
        WriteOutcome.OK,
        WriteOutcome.OK,
        WriteOutcome.OK,
        WriteOutcome.DUPLICATE,
        WriteOutcome.OK,
    ]
    assert {r.salesforce_id for r in results if r.ok} <= set(_members(gateway, campaign["id"]))


def test_bulk_update_and_delete_keep_input_order(
    org: EmulatorHandle, gateway: SalesforceGateway
) -> None:
    campaign = seed_campaign(org, members=3)
    ids = _members(gateway, campaign["id"])
    updated = gateway.update_members(
        [MemberChange(i, "Clicked") for i in reversed(ids)], use_bulk=True
    )
    assert [r.outcome for r in updated] == [WriteOutcome.OK] * 3
    assert [r.salesforce_id for r in updated] == list(reversed(ids))
    deleted = gateway.delete_members(ids[:2], use_bulk=True)
    assert [r.outcome for r in deleted] == [WriteOutcome.OK] * 2
    assert _members(gateway, campaign["id"]) == ids[2:]


def test_find_members_after_a_duplicate_insert(
    org: EmulatorHandle, gateway: SalesforceGateway
) -> None:
    campaign = seed_campaign(org)
    lead, other = seed_leads(org, ["dup@example.com", "other@example.com"])
    contact = org.admin.seed(contacts=[{"LastName": "C", "Email": "c@example.com"}])["contacts"][0]
    inserted = gateway.insert_members(
        [
            NewMember(campaign["id"], "Sent", lead_id=lead),
            NewMember(campaign["id"], "Sent", contact_id=contact),
        ]
    )
    found = gateway.find_members(campaign["id"], [lead, other, contact])
    assert {(m.id, m.person_id) for m in found} == {
        (inserted[0].salesforce_id, lead),
        (inserted[1].salesforce_id, contact),
    }


def test_members_by_id_reads_them_as_salesforce_holds_them_now(
    org: EmulatorHandle, gateway: SalesforceGateway
) -> None:
    campaign = seed_campaign(org)
    first, second = seed_leads(org, ["a@example.com", "b@example.com"])
    inserted = gateway.insert_members(
        [
            NewMember(campaign["id"], "Sent", lead_id=first),
            NewMember(campaign["id"], "Sent", lead_id=second),
        ]
    )
    ids = [r.salesforce_id or "" for r in inserted]
    gateway.update_members([MemberChange(ids[1], "Clicked")])
    gateway.delete_members(ids[:1])
    assert [(m.id, m.status) for m in gateway.members_by_id(ids)] == [(ids[1], "Clicked")]


# Waits that outlast a 100 ms lock, still well inside a test's budget.
PATIENT = replace(FAST, backoff_initial=0.05, backoff_max=0.2, backoff_jitter=0.05)


def test_members_refused_for_a_campaign_lock_are_written_again_after_a_backoff(
    org: EmulatorHandle,
) -> None:
    campaign = seed_campaign(org)
    leads = seed_leads(org, [f"locked{i}@example.com" for i in range(450)])
    gateway = make_gateway(org, options=PATIENT)
    org.admin.set_lock_window(100)
    org.admin.reset_counters()

    results = gateway.insert_members(_new_members(campaign["id"], leads))

    assert [r.outcome for r in results] == [WriteOutcome.OK] * 450
    assert set(_members(gateway, campaign["id"])) == {r.salesforce_id for r in results}
    assert calls(org, "composite/sobjects:POST") > 3  # each lock cost one more call


def test_members_still_locked_when_the_retries_run_out_come_back_transient(
    org: EmulatorHandle, gateway: SalesforceGateway
) -> None:
    campaign = seed_campaign(org)
    first, late = seed_leads(org, ["first@example.com", "late@example.com"])
    gateway.insert_members(_new_members(campaign["id"], [first]))  # takes the lock
    org.admin.set_lock_window(60_000)
    org.admin.reset_counters()

    [result] = gateway.insert_members(_new_members(campaign["id"], [late]))

    assert (result.outcome, result.code) == (WriteOutcome.TRANSIENT, "UNABLE_TO_LOCK_ROW")
    assert calls(org, "composite/sobjects:POST") == FAST.max_attempts


def test_bulk_rows_refused_for_a_campaign_lock_go_again_in_a_smaller_job(
    org: EmulatorHandle,
) -> None:
    campaign = seed_campaign(org)
    first, *rest = seed_leads(org, [f"bulk-locked{i}@example.com" for i in range(30)])
    gateway = make_gateway(org, options=PATIENT)
    gateway.insert_members(_new_members(campaign["id"], [first]))  # takes the lock
    org.admin.set_lock_window(300)

    results = gateway.insert_members(_new_members(campaign["id"], rest), use_bulk=True)

    assert [r.outcome for r in results] == [WriteOutcome.OK] * 29
    assert len(_members(gateway, campaign["id"])) == 30
