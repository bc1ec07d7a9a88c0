"""What the bench moves: the statuses, how members are spread over the two sides, the
least Salesforce work a scenario needs (`Work`) and what a measurement holds."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from convsync.salesforce.soql import chunked_in, soql
from convsync.salesforce.streams import CAMPAIGN_MEMBER, CHANGES_ORDER

TYPE_NAME = "Bench"

# (label, default, responded): the same statuses on both sides, so nothing is skipped.
STATUSES = (("Sent", True, False), ("Opened", False, False), ("Responded", False, True))

SEEDED, CONFLICT, CHANGED = "Sent", "Opened", "Responded"

# Share of a campaign's members the incremental scenario changes, on each side.
CHANGE_SHARE = 0.01

# A scenario's runs must all finish within this (the headline's take well under it).
WAIT_SECONDS = 900.0


@dataclass(frozen=True)
class Mix:
    """How a campaign's members are spread over the two sides at the first sync.

    Half of the non-overlapping members only in Salesforce, half only in Conversion;
    the overlap holds conflicts both ways: Salesforce newer for one half, Conversion
    newer for the other.
    """

    salesforce_only: int
    conversion_only: int
    salesforce_wins: int
    conversion_wins: int

    @classmethod
    def of(cls, members: int, overlap: float) -> Mix:
        both = round(members * overlap)
        rest = members - both
        return cls(rest // 2, rest - rest // 2, both // 2, both - both // 2)

    @property
    def members(self) -> int:
        return (
            self.salesforce_only
            + self.conversion_only
            + self.salesforce_wins
            + self.conversion_wins
        )

    @property
    def on_salesforce(self) -> int:
        return self.salesforce_only + self.salesforce_wins + self.conversion_wins

    def initial_work(self, salesforce_campaigns: Sequence[str], campaigns: int = 1) -> Work:
        """What the first sync of `campaigns` such campaigns must move, at the least:
        read every member, look up and create the Conversion-only people, add them,
        and write Conversion's newer statuses."""
        return Work(
            reads=member_reads(salesforce_campaigns),
            unknown_people=self.conversion_only * campaigns,
            inserts=self.conversion_only * campaigns,
            updates=self.conversion_wins * campaigns,
        )

    def final_statuses(self) -> dict[str, int]:
        """Both sides after the first sync: Conversion's newer values won their conflicts."""
        counts = {SEEDED: self.members - self.conversion_wins, CONFLICT: self.conversion_wins}
        return {k: v for k, v in counts.items() if v}


@dataclass
class Campaign:
    """One seeded pair: names, ids and which emails sit where."""

    name: str
    conversion_id: int
    salesforce_id: str
    salesforce_only: list[str]
    overlap: list[str]
    conversion_only: list[str]
    link_id: int | None = None


@dataclass(frozen=True)
class Work:
    """The Salesforce work a scenario's sync must do at the least: what the floor does.

    The floor moves it with the gateway's own calls (its SOQL, page and collection
    sizes, lookups and write path), minus everything that is the sync's own: no
    database, no tasks, no bookkeeping, no re-reads.
    """

    reads: tuple[str, ...] = ()  # SOQL on queryAll (removals count)
    unknown_people: int = 0  # emails Salesforce does not know: looked up, then Leads
    inserts: int = 0
    updates: int = 0
    change_checks: tuple[str, ...] = ()  # campaigns asked "anything new?" in one pass

    @property
    def writes(self) -> int:
        return self.unknown_people + self.inserts + self.updates


@dataclass
class Measured:
    seconds: float
    api_calls: int
    by_endpoint: dict[str, int] = field(default_factory=dict)
    detail: dict[str, Any] = field(default_factory=dict)
    # The floor's write path: "bulk" (Bulk API 2.0 jobs) or "collections" (200 a call).
    kind: str = "collections"

    @property
    def write_path(self) -> str:
        return "bulk" if self.by_endpoint.get("bulk2") else "collections"


def member_reads(campaign_ids: Sequence[str], since: datetime | None = None) -> tuple[str, ...]:
    """The gateway's member read (its stream, fields and order), for many campaigns at
    once: the least reading a sync of these campaigns needs (an `IN` list per ~300)."""
    where = " WHERE CampaignId IN {ids}" + (" AND SystemModstamp > {since}" if since else "")
    return tuple(
        soql(
            CAMPAIGN_MEMBER.select() + where + CHANGES_ORDER,
            ids=chunk,
            since=since,
        )
        for chunk in chunked_in(campaign_ids)
    )
