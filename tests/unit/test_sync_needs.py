"""The permissions the sync declares it needs follow what the gateway reads and writes."""

from __future__ import annotations

from convsync.domain.access import Ability
from convsync.salesforce.access import sync_needs
from convsync.salesforce.streams import CAMPAIGN_MEMBER


def granted(
    *, creating_campaign: bool = False, creating_leads: bool = True
) -> set[tuple[str, str, str | None]]:
    needs = sync_needs(creating_campaign=creating_campaign, creating_leads=creating_leads)
    return {(n.object_name, n.ability.value, n.field) for n in needs}


def test_every_member_field_the_sync_reads_is_a_read_need() -> None:
    needs = granted()
    for name in CAMPAIGN_MEMBER.fields:
        relationship, _, field = name.rpartition(".")
        expected = (
            (relationship, "read", field) if relationship else ("CampaignMember", "read", name)
        )
        assert expected in needs or name == "Id", name


def test_members_are_created_edited_and_deleted_and_people_found_by_email() -> None:
    needs = granted()
    assert {
        ("CampaignMember", "create", None),
        ("CampaignMember", "edit", "Status"),
        ("CampaignMember", "delete", None),
        ("Lead", "read", "Email"),
        ("Contact", "read", "Email"),
        ("Lead", "create", None),
        ("Campaign", "edit", None),
    } <= needs


def test_lead_creation_is_needed_only_when_the_sync_creates_leads() -> None:
    assert ("Lead", Ability.CREATE.value, None) not in granted(creating_leads=False)


def test_creating_a_campaign_needs_campaign_and_status_writes() -> None:
    extra = granted(creating_campaign=True) - granted()
    assert {
        ("Campaign", "create", "Name"),
        ("CampaignMemberStatus", "create", "Label"),
        ("CampaignMemberStatus", "edit", "IsDefault"),
        ("CampaignMemberStatus", "delete", None),
    } <= extra
