"""What the gateway reads and writes, as permissions the integration user needs.

Derived from the same constants the gateway queries and writes with (the streams, the
write field lists), so the check cannot drift from what the sync really does.
"""

from __future__ import annotations

from convsync.domain.access import Ability, Need
from convsync.salesforce.streams import CAMPAIGN, CAMPAIGN_MEMBER, CAMPAIGN_MEMBER_STATUS, Stream

# Fields the gateway writes (see gateway.py: _member_insert, update_members,
# create_leads, create_campaign, _status_fields).
MEMBER_INSERT_FIELDS = ("CampaignId", "LeadId", "ContactId", "Status")
MEMBER_UPDATE_FIELDS = ("Status",)
LEAD_CREATE_FIELDS = ("Email", "FirstName", "LastName", "Company")
CAMPAIGN_CREATE_FIELDS = ("Name", "IsActive")
STATUS_FIELDS = ("Label", "IsDefault", "HasResponded", "SortOrder")
# Lead and Contact are found by email (see gateway.find_people_by_email).
PERSON_LOOKUP_FIELDS = ("Id", "Email")

# Describe answers for these objects cost one API call each.
OBJECTS = ("Campaign", "CampaignMember", "CampaignMemberStatus", "Lead", "Contact")


def _reads(stream: Stream, purpose: str) -> list[Need]:
    """Reading a stream: the object, its own fields and its relationship fields."""
    needs = [Need(stream.object_name, Ability.READ, purpose)]
    for name in stream.fields:
        relationship, _, related_field = name.rpartition(".")
        if relationship:
            needs.append(Need(relationship, Ability.READ, purpose, related_field))
        elif name != "Id":
            needs.append(Need(stream.object_name, Ability.READ, purpose, name))
    return needs


def _writes(
    object_name: str, ability: Ability, fields: tuple[str, ...], purpose: str
) -> list[Need]:
    return [
        Need(object_name, ability, purpose),
        *(Need(object_name, ability, purpose, f) for f in fields),
    ]


def sync_needs(*, creating_campaign: bool, creating_leads: bool) -> tuple[Need, ...]:
    """Every permission a linked campaign's sync uses (plus creating the campaign)."""
    needs = [
        *_reads(CAMPAIGN, "to find the Salesforce campaign"),
        *_reads(CAMPAIGN_MEMBER_STATUS, "to compare member statuses"),
        *_reads(CAMPAIGN_MEMBER, "to import members"),
    ]
    for kind in ("Contact", "Lead"):
        needs += [
            Need(kind, Ability.READ, "to find people by email", f)
            for f in PERSON_LOOKUP_FIELDS
            if f != "Id"
        ]
    needs += [
        # Salesforce lets only users who may edit a campaign change its members.
        Need("Campaign", Ability.EDIT, "to add and remove its members"),
        *_writes("CampaignMember", Ability.CREATE, MEMBER_INSERT_FIELDS, "to add members"),
        *_writes("CampaignMember", Ability.EDIT, MEMBER_UPDATE_FIELDS, "to change statuses"),
        Need("CampaignMember", Ability.DELETE, "to remove members"),
    ]
    if creating_leads:
        needs += _writes(
            "Lead",
            Ability.CREATE,
            LEAD_CREATE_FIELDS,
            "to create Leads for new people, see CONVSYNC_CREATE_MISSING_LEADS",
        )
    if creating_campaign:
        purpose = "to create the Salesforce campaign"
        needs += [
            *_writes("Campaign", Ability.CREATE, CAMPAIGN_CREATE_FIELDS, purpose),
            *_writes(
                "CampaignMemberStatus", Ability.CREATE, ("CampaignId", *STATUS_FIELDS), purpose
            ),
            *_writes("CampaignMemberStatus", Ability.EDIT, STATUS_FIELDS, purpose),
            Need("CampaignMemberStatus", Ability.DELETE, purpose),
        ]
    return tuple(needs)
