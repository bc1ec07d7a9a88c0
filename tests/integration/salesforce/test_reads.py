"""Reading campaigns, statuses and members: paging, windows, aggregates, lookups."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

import pytest
from sf_helpers import calls, seed_campaign, seed_leads, seed_small_campaigns

from convsync.domain.errors import NotFoundError, ValidationError
from convsync.salesforce.gateway import SalesforceGateway
from convsync.salesforce.records import MemberChange, SalesforcePerson
from convsync.salesforce.soql import to_18
from convsync.salesforce_emulator.testing import EmulatorHandle

MISSING_CAMPAIGN = to_18("701Hs0999999999")


def _later() -> datetime:
    return datetime.now(UTC) + timedelta(hours=1)


def test_get_campaign_returns_id_and_name(org: EmulatorHandle, gateway: SalesforceGateway) -> None:
    campaign = seed_campaign(org, name="Autumn webinar")
    found = gateway.get_campaign(campaign["id"])
    assert (found.id, found.name) == (campaign["id"], "Autumn webinar")


def test_missing_campaign_is_not_found(gateway: SalesforceGateway) -> None:
    with pytest.raises(NotFoundError, match=MISSING_CAMPAIGN):
        gateway.get_campaign(MISSING_CAMPAIGN)


def test_malformed_campaign_id_costs_no_api_call(
    org: EmulatorHandle, gateway: SalesforceGateway
) -> None:
    with pytest.raises(ValidationError, match="not a valid Salesforce Campaign id"):
        gateway.get_campaign("701' OR Id != null")
    assert org.admin.counters()["total"] == 0


def test_campaign_statuses_in_sort_order(org: EmulatorHandle, gateway: SalesforceGateway) -> None:
    campaign = seed_campaign(org, statuses=("Invited", "Registered", "Attended"))
    statuses = gateway.campaign_statuses(campaign["id"])
    assert [s.label for _, s in statuses] == ["Invited", "Registered", "Attended"]
    assert [s.is_default for _, s in statuses] == [True, False, False]
    assert statuses[2][1].has_responded
    assert statuses[0][0] == campaign["statuses"]["Invited"]


def test_5000_members_come_in_3_pages(org: EmulatorHandle, gateway: SalesforceGateway) -> None:
    campaign = seed_campaign(org, members=5_000)
    org.admin.reset_counters()
    members = gateway.iter_members(campaign["id"], since=None, until=_later())
    ids = [m.id for m in members]
    assert len(set(ids)) == 5_000
    assert calls(org, "query") == 3


def test_members_stream_lazily(org: EmulatorHandle, gateway: SalesforceGateway) -> None:
    campaign = seed_campaign(org, members=2_500)
    org.admin.reset_counters()
    members = gateway.iter_members(campaign["id"], since=None, until=_later())
    next(members)
    assert calls(org, "query") == 1


def test_members_carry_the_persons_fields(org: EmulatorHandle, gateway: SalesforceGateway) -> None:
    campaign = seed_campaign(org, members=1)
    member = next(gateway.iter_members(campaign["id"], since=None, until=_later()))
    assert member.campaign_id == campaign["id"]
    assert member.lead_id is not None
    assert member.status == "Sent"
    assert member.email is not None
    assert member.company == "Seeded Inc"
    assert member.system_modstamp is not None
    assert member.system_modstamp.tzinfo is not None


def _stamp(gateway: SalesforceGateway, campaign_id: str) -> datetime:
    members = gateway.iter_members(campaign_id, since=None, until=_later())
    return max(m.system_modstamp for m in members if m.system_modstamp)


def test_members_changed_before_since_are_skipped(
    org: EmulatorHandle, gateway: SalesforceGateway
) -> None:
    campaign = seed_campaign(org, members=3)
    since = _stamp(gateway, campaign["id"]) + timedelta(seconds=1)
    assert list(gateway.iter_members(campaign["id"], since=since, until=_later())) == []


def test_members_changed_after_until_are_skipped(
    org: EmulatorHandle, gateway: SalesforceGateway
) -> None:
    campaign = seed_campaign(org, members=3)
    until = _stamp(gateway, campaign["id"]) - timedelta(seconds=1)
    assert list(gateway.iter_members(campaign["id"], since=None, until=until)) == []


def test_members_in_the_marks_own_second_are_read_again(
    org: EmulatorHandle, gateway: SalesforceGateway
) -> None:
    """SOQL datetimes have whole seconds: the bookmark's second overlaps (dedupe by id)."""
    campaign = seed_campaign(org, members=3)
    since = _stamp(gateway, campaign["id"])
    assert len(list(gateway.iter_members(campaign["id"], since=since, until=_later()))) == 3


def test_deleted_members_come_back_only_with_include_deleted(
    org: EmulatorHandle, gateway: SalesforceGateway
) -> None:
    campaign = seed_campaign(org, members=2)
    members = list(gateway.iter_members(campaign["id"], since=None, until=_later()))
    gone = members[0].id
    assert gateway.delete_members([gone])[0].ok
    live = list(gateway.iter_members(campaign["id"], since=None, until=_later()))
    every = list(
        gateway.iter_members(campaign["id"], since=None, until=_later(), include_deleted=True)
    )
    assert [m.id for m in live] == [members[1].id]
    assert {m.id: m.is_deleted for m in every}[gone] is True


def test_deleted_since_keeps_every_live_member_and_only_the_later_removals(
    org: EmulatorHandle, gateway: SalesforceGateway
) -> None:
    campaign = seed_campaign(org, members=3)
    first, second, third = list(gateway.iter_members(campaign["id"], since=None, until=_later()))
    assert gateway.delete_members([first.id])[0].ok
    # SOQL literals have whole seconds: the next whole second after the first removal.
    cutoff = (datetime.now(UTC) + timedelta(seconds=1)).replace(microsecond=0)
    while datetime.now(UTC) <= cutoff:
        time.sleep(0.05)
    assert gateway.delete_members([second.id])[0].ok

    read = gateway.iter_members(
        campaign["id"], since=None, until=_later(), include_deleted=True, deleted_since=cutoff
    )
    assert {(m.id, m.is_deleted) for m in read} == {(second.id, True), (third.id, False)}


def test_member_status_counts(org: EmulatorHandle, gateway: SalesforceGateway) -> None:
    campaign = seed_campaign(org, members=5)
    members = list(gateway.iter_members(campaign["id"], since=None, until=_later()))
    gateway.update_members([MemberChange(members[0].id, "Clicked")])
    assert gateway.member_status_counts(campaign["id"]) == {"Sent": 4, "Clicked": 1}


def test_changed_campaigns_uses_one_query_for_three_campaigns(
    org: EmulatorHandle, gateway: SalesforceGateway
) -> None:
    campaigns = [seed_campaign(org, name=f"C{i}", members=2) for i in range(3)]
    ids = [c["id"] for c in campaigns]
    org.admin.reset_counters()
    changed = gateway.changed_campaigns(ids, None, include_status_changes=False)
    assert set(changed) == set(ids)
    assert calls(org, "queryAll") == 1


def test_changed_campaigns_asks_about_two_thousand_campaigns_in_one_call(
    org: EmulatorHandle, gateway: SalesforceGateway
) -> None:
    ids = seed_small_campaigns(org, 2_000)
    org.admin.reset_counters()

    changed = gateway.changed_campaigns(ids, None, include_status_changes=False)

    assert set(changed) == set(ids)
    assert org.admin.counters()["by_endpoint"] == {"composite": 1}


def test_changed_campaigns_reports_only_campaigns_past_their_mark(
    org: EmulatorHandle, gateway: SalesforceGateway
) -> None:
    quiet, busy = (seed_campaign(org, name=n, members=1) for n in ("quiet", "busy"))
    marks = gateway.changed_campaigns([quiet["id"], busy["id"]], None)
    member = next(gateway.iter_members(busy["id"], since=None, until=_later()))
    gateway.update_members([MemberChange(member.id, "Opened")])
    changed = gateway.changed_campaigns([quiet["id"], busy["id"]], marks)
    assert list(changed) == [busy["id"]]
    assert changed[busy["id"]] > marks[busy["id"]]


def test_find_people_prefers_contacts_and_batches_queries(
    org: EmulatorHandle, gateway: SalesforceGateway
) -> None:
    emails = [f"p{i}@example.com" for i in range(600)]
    lead_ids = seed_leads(org, emails)
    contact = org.admin.seed(contacts=[{"LastName": "C", "Email": "P0@Example.com"}])
    org.admin.reset_counters()
    people = gateway.find_people_by_email([*emails, "nobody@example.com"])
    assert people["p0@example.com"].kind == "Contact"
    assert people["p0@example.com"].id == contact["contacts"][0]
    assert people["p599@example.com"].id == lead_ids[599]
    assert "nobody@example.com" not in people
    # 500 emails a query, two queries a kind, sent together in one Composite call
    assert org.admin.counters()["by_endpoint"] == {"composite": 2}


def test_a_lone_lookup_too_long_for_a_uri_goes_in_a_composite_body(
    org: EmulatorHandle, gateway: SalesforceGateway
) -> None:
    emails = [
        f"{i:03}.a.rather.long.address.of.someone@mail.example-company.com" for i in range(400)
    ]
    lead_ids = seed_leads(org, emails[:1])
    org.admin.reset_counters()

    people = gateway.find_people_by_email(emails)

    assert {e: p.id for e, p in people.items()} == {emails[0]: lead_ids[0]}
    assert org.admin.counters()["by_endpoint"] == {"composite": 2}


def test_a_lookup_with_more_than_a_page_of_matches_reads_the_next_page(
    org: EmulatorHandle, gateway: SalesforceGateway
) -> None:
    emails = [f"p{i}@example.com" for i in range(600)]
    lead_ids = seed_leads(org, emails)
    seed_leads(org, emails[:500] * 4)  # 2,500 matches for the first 500: two pages
    org.admin.reset_counters()

    people = gateway.find_people_by_email(emails)

    assert {e: p.id for e, p in people.items()} == dict(zip(emails, lead_ids, strict=True))
    assert org.admin.counters()["by_endpoint"] == {"composite": 2, "query": 1}


def test_find_people_survives_hostile_emails(
    org: EmulatorHandle, gateway: SalesforceGateway
) -> None:
    hostile = [
        "o'brien@example.com",
        "x'or'1'='1@example.com",
        "b\\s@example.com",
        "zoë@exämple.com",
    ]
    seed_leads(org, hostile)
    assert set(gateway.find_people_by_email(hostile)) == set(hostile)


def test_find_people_leaves_malformed_emails_out(
    org: EmulatorHandle, gateway: SalesforceGateway
) -> None:
    seed_leads(org, ["ok@example.com"])
    people = gateway.find_people_by_email(["ok@example.com", "not an email", ""])
    assert list(people) == ["ok@example.com"]


def test_a_process_asks_describe_for_the_users_permissions_once_in_a_while(
    org: EmulatorHandle, gateway: SalesforceGateway
) -> None:
    first = gateway.describe_access(["Lead", "CampaignMember"])
    before = org.admin.counters()["total"]
    again = gateway.describe_access(["CampaignMember", "Lead"])
    assert org.admin.counters()["total"] == before  # 1,000 links in a process: no 5,000 calls
    assert again == first


def test_find_people_prefers_an_unconverted_lead_to_a_converted_one(
    org: EmulatorHandle, gateway: SalesforceGateway
) -> None:
    converted, live = seed_leads(org, ["ann@example.com", "ANN@example.com"])
    [contact] = org.admin.seed(contacts=[{"LastName": "Smith", "Email": "a.smith@corp.com"}])[
        "contacts"
    ]
    org.admin.convert_lead(converted, contact_id=contact)

    people = gateway.find_people_by_email(["ann@example.com"])

    assert people["ann@example.com"] == SalesforcePerson(live, "Lead", "ann@example.com")


def test_find_people_skips_converted_leads_for_the_contact_they_became(
    org: EmulatorHandle, gateway: SalesforceGateway
) -> None:
    [lead] = seed_leads(org, ["ann@example.com"])
    [contact] = org.admin.seed(contacts=[{"LastName": "Smith", "Email": "ann.smith@corp.com"}])[
        "contacts"
    ]
    org.admin.convert_lead(lead, contact_id=contact)

    people = gateway.find_people_by_email(["ann@example.com"])

    assert people["ann@example.com"] == SalesforcePerson(contact, "Contact", "ann@example.com")


def test_follow_people_finds_where_converted_merged_and_deleted_people_went(
    org: EmulatorHandle, gateway: SalesforceGateway
) -> None:
    converted, loser, master, deleted, live = seed_leads(
        org, [f"{n}@example.com" for n in ("conv", "loser", "master", "gone", "live")]
    )
    contact = org.admin.convert_lead(converted)["contact_id"]
    org.admin.merge("Lead", master, [loser])
    gateway.client.restful(f"sobjects/Lead/{deleted}", action="delete a Lead", method="DELETE")

    found = gateway.follow_people(
        [
            SalesforcePerson(i, "Lead", f"{n}@example.com")
            for i, n in ((converted, "conv"), (loser, "loser"), (deleted, "gone"), (live, "live"))
        ]
    )

    assert {old: (p.id, p.kind) for old, p in found.items()} == {
        converted: (contact, "Contact"),
        loser: (master, "Lead"),
        live: (live, "Lead"),
    }


def test_the_replication_window_says_how_far_the_delete_log_reaches(
    org: EmulatorHandle, gateway: SalesforceGateway
) -> None:
    org.admin.reset_counters()
    before = datetime.now(UTC)
    found = org.admin.purge_deleted()

    reach = gateway.replication_window(datetime.now(UTC))

    assert reach.earliest_date_available >= before.replace(microsecond=0)
    assert reach.earliest_date_available.isoformat().startswith(found["earliestDateAvailable"][:19])
    assert reach.latest_date_covered <= datetime.now(UTC)
    assert calls(org, "sobjects/deleted") == 1
