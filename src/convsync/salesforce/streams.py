"""What the sync reads from Salesforce: object and fields.

Singer-SDK style: a stream declares *what*; `client.py` owns *how* (auth, paging,
retries). Field lists are constants, so queries can name them without quoting.
"""

from __future__ import annotations

from dataclasses import dataclass

from convsync.salesforce.soql import select


@dataclass(frozen=True, slots=True)
class Stream:
    """One Salesforce object as the sync reads it."""

    object_name: str
    fields: tuple[str, ...]

    def select(self) -> str:
        return select(self.fields, self.object_name)


CAMPAIGN_MEMBER = Stream(
    object_name="CampaignMember",
    fields=(
        "Id",
        "CampaignId",
        "LeadId",
        "ContactId",
        "Status",
        "LastModifiedDate",
        "SystemModstamp",
        "IsDeleted",
        "Lead.Email",
        "Lead.FirstName",
        "Lead.LastName",
        "Lead.Company",
        "Contact.Email",
        "Contact.FirstName",
        "Contact.LastName",
    ),
)

CAMPAIGN_MEMBER_STATUS = Stream(
    object_name="CampaignMemberStatus",
    fields=("Id", "CampaignId", "Label", "IsDefault", "HasResponded", "SortOrder"),
)

CAMPAIGN = Stream(object_name="Campaign", fields=("Id", "Name"))

# Member reads page by their replication field, then Id (stable across equal stamps).
CHANGES_ORDER = " ORDER BY SystemModstamp, Id"

# Read 2,000 rows a page: the most Salesforce returns, so the fewest API calls.
PAGE_SIZE = 2_000
