"""The emulated objects and their fields: the single source for describe, SOQL and DML.

Keeping the field catalogue in one table means a field added here is immediately
queryable, describable and writable with the right permissions, instead of three lists
drifting apart.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Field:
    """One sObject field as describe reports it, plus the emulator's write rules."""

    name: str
    type: str
    createable: bool = True
    updateable: bool = True
    nillable: bool = True
    required: bool = False
    reference_to: str | None = None
    relationship_name: str | None = None
    length: int = 0
    picklist: tuple[str, ...] = ()
    label: str = ""


@dataclass(frozen=True)
class SObject:
    """An emulated object: its name, key prefix and fields (in describe order)."""

    name: str
    key_prefix: str
    fields: tuple[Field, ...]
    by_lower: dict[str, Field] = field(default_factory=dict, compare=False)
    relationships: dict[str, Field] = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        for f in self.fields:
            self.by_lower[f.name.lower()] = f
            if f.relationship_name:
                self.relationships[f.relationship_name.lower()] = f

    def field(self, name: str) -> Field | None:
        """Look a field up case-insensitively, as Salesforce does."""
        return self.by_lower.get(name.lower())


def _system_fields() -> tuple[Field, ...]:
    return (
        Field("IsDeleted", "boolean", createable=False, updateable=False, nillable=False),
        Field("CreatedDate", "datetime", createable=False, updateable=False, nillable=False),
        Field("LastModifiedDate", "datetime", createable=False, updateable=False, nillable=False),
        Field("SystemModstamp", "datetime", createable=False, updateable=False, nillable=False),
    )


def _id_field() -> Field:
    return Field("Id", "id", createable=False, updateable=False, nillable=False, length=18)


def _readonly(name: str, type_: str, length: int = 0) -> Field:
    return Field(name, type_, createable=False, updateable=False, length=length)


def _readonly_reference(name: str, target: str) -> Field:
    """A lookup only Salesforce sets (by converting or merging), never the API caller."""
    return Field(
        name, "reference", createable=False, updateable=False, reference_to=target, length=18
    )


CAMPAIGN = SObject(
    "Campaign",
    "701",
    (
        _id_field(),
        Field("Name", "string", nillable=False, required=True, length=80),
        Field("IsActive", "boolean", nillable=False),
        Field(
            "Type",
            "picklist",
            length=255,
            picklist=("Advertisement", "Email", "Webinar", "Conference", "Other"),
        ),
        Field(
            "Status",
            "picklist",
            length=255,
            picklist=("Planned", "In Progress", "Completed", "Aborted"),
        ),
        Field("StartDate", "date"),
        Field("EndDate", "date"),
        Field("Description", "textarea", length=32000),
        *_system_fields(),
    ),
)

CAMPAIGN_MEMBER_STATUS = SObject(
    "CampaignMemberStatus",
    "01Y",
    (
        _id_field(),
        Field(
            "CampaignId",
            "reference",
            updateable=False,
            nillable=False,
            required=True,
            reference_to="Campaign",
            length=18,
        ),
        Field("Label", "string", nillable=False, required=True, length=765),
        Field("SortOrder", "int"),
        Field("IsDefault", "boolean", nillable=False),
        Field("HasResponded", "boolean", nillable=False),
        *_system_fields(),
    ),
)

CAMPAIGN_MEMBER = SObject(
    "CampaignMember",
    "00v",
    (
        _id_field(),
        Field(
            "CampaignId",
            "reference",
            updateable=False,
            nillable=False,
            required=True,
            reference_to="Campaign",
            relationship_name="Campaign",
            length=18,
        ),
        Field(
            "LeadId",
            "reference",
            updateable=False,
            reference_to="Lead",
            relationship_name="Lead",
            length=18,
        ),
        Field(
            "ContactId",
            "reference",
            updateable=False,
            reference_to="Contact",
            relationship_name="Contact",
            length=18,
        ),
        Field("Status", "picklist", length=40),
        Field("HasResponded", "boolean", createable=False, updateable=False, nillable=False),
        Field("FirstRespondedDate", "date", createable=False, updateable=False),
        _readonly("Email", "email", 80),
        _readonly("FirstName", "string", 40),
        _readonly("LastName", "string", 80),
        _readonly("CompanyOrAccount", "string", 255),
        *_system_fields(),
    ),
)

LEAD = SObject(
    "Lead",
    "00Q",
    (
        _id_field(),
        Field("FirstName", "string", length=40),
        Field("LastName", "string", nillable=False, required=True, length=80),
        _readonly("Name", "string", 121),
        Field("Company", "string", nillable=False, required=True, length=255),
        Field("Email", "email", length=80),
        Field(
            "Status",
            "picklist",
            length=255,
            picklist=(
                "Open - Not Contacted",
                "Working - Contacted",
                "Closed - Converted",
                "Closed - Not Converted",
            ),
        ),
        Field("IsConverted", "boolean", createable=False, updateable=False, nillable=False),
        _readonly_reference("ConvertedContactId", "Contact"),
        _readonly_reference("ConvertedAccountId", "Account"),
        _readonly("ConvertedDate", "date"),
        _readonly_reference("MasterRecordId", "Lead"),
        *_system_fields(),
    ),
)

CONTACT = SObject(
    "Contact",
    "003",
    (
        _id_field(),
        Field("FirstName", "string", length=40),
        Field("LastName", "string", nillable=False, required=True, length=80),
        _readonly("Name", "string", 121),
        Field("Email", "email", length=80),
        Field("AccountName__c", "string", length=255, label="Account Name"),
        _readonly_reference("MasterRecordId", "Contact"),
        *_system_fields(),
    ),
)

OBJECTS: dict[str, SObject] = {
    o.name: o for o in (CAMPAIGN, CAMPAIGN_MEMBER_STATUS, CAMPAIGN_MEMBER, LEAD, CONTACT)
}
_OBJECTS_LOWER = {name.lower(): o for name, o in OBJECTS.items()}


def sobject(name: str) -> SObject | None:
    """Find an emulated object by name, case-insensitively."""
    return _OBJECTS_LOWER.get(name.lower())
