"""Plain typed values the gateway returns and accepts: no simple-salesforce dicts leak.

Ids are the 18-character form Salesforce returns; datetimes are timezone-aware UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from convsync.domain.model import MemberStatus

PersonKind = Literal["Lead", "Contact"]


@dataclass(frozen=True, slots=True)
class SalesforceCampaign:
    id: str
    name: str


@dataclass(frozen=True, slots=True)
class SalesforcePerson:
    """A Lead or Contact a campaign member can point at."""

    id: str
    kind: PersonKind
    email: str


@dataclass(frozen=True, slots=True)
class SalesforceMember:
    """One CampaignMember row (deleted ones too, when read with queryAll)."""

    id: str
    campaign_id: str
    lead_id: str | None
    contact_id: str | None
    status: str
    email: str | None
    first_name: str | None
    last_name: str | None
    company: str | None
    last_modified: datetime | None
    system_modstamp: datetime | None
    is_deleted: bool = False

    @property
    def person_id(self) -> str | None:
        """The Contact when there is one (Salesforce keeps ContactId over LeadId)."""
        return self.contact_id or self.lead_id


@dataclass(frozen=True, slots=True)
class NewMember:
    """A CampaignMember to insert: one of lead_id / contact_id."""

    campaign_id: str
    status: str
    lead_id: str | None = None
    contact_id: str | None = None

    @classmethod
    def for_person(cls, campaign_id: str, person: SalesforcePerson, status: str) -> NewMember:
        if person.kind == "Contact":
            return cls(campaign_id, status, contact_id=person.id)
        return cls(campaign_id, status, lead_id=person.id)


@dataclass(frozen=True, slots=True)
class MemberChange:
    """A status change of an existing CampaignMember."""

    id: str
    status: str


@dataclass(frozen=True, slots=True)
class NewLead:
    """A person Salesforce does not know yet, to be created as a Lead."""

    email: str
    first_name: str | None = None
    last_name: str | None = None
    company: str | None = None


@dataclass(frozen=True, slots=True)
class ReplicationWindow:
    """How far Salesforce's change logs reach (`sobjects/X/deleted`).

    `earliest_date_available`: the delete log holds no removal before it (15 days at most,
    less after an early purge); a bookmark older than it may have missed removals.
    `latest_date_covered`: every write stamped up to it is visible; writes of
    transactions still in flight can appear later with an earlier SystemModstamp.
    """

    earliest_date_available: datetime
    latest_date_covered: datetime


@dataclass(frozen=True, slots=True)
class CampaignWindow:
    """What one due campaign asks of a shared read: its changes in `(since, until]`
    (`since` never None: a first read is a whole read, done by its own run) and, with
    `wants_statuses`, its statuses."""

    campaign_id: str
    since: datetime
    until: datetime
    wants_statuses: bool = True


@dataclass(frozen=True, slots=True)
class SharedRead:
    """What one shared read (a Composite API call per 100 campaigns, plus the pages
    after a first) told about many campaigns at once.

    `present`: the campaigns that exist and are visible (a missing one must fail its
    run, never remove its members). `changes`: each campaign's changed and removed
    members in (since, until], oldest first. `cut_short`: the campaigns whose change
    rows stop early, the read having reached its row cap: the rows come ordered by
    SystemModstamp, so each such campaign's rows are whole up to its last one, and its
    run reads on from there.
    """

    present: frozenset[str]
    reach: ReplicationWindow
    changes: dict[str, list[SalesforceMember]]
    statuses: dict[str, list[MemberStatus]]
    cut_short: frozenset[str]
