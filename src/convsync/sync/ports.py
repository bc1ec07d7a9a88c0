"""What the use cases need from the outside world, as Protocols (ports).

The Salesforce gateway (`convsync.salesforce.SalesforceGateway`) and the Celery
dispatcher (`convsync.tasks.dispatch`) implement them; tests may use fakes.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any, Protocol

from convsync.domain.access import ObjectAccess
from convsync.domain.model import MemberStatus, Stage
from convsync.domain.outcomes import RecordResult
from convsync.salesforce.records import (
    CampaignWindow,
    MemberChange,
    NewLead,
    NewMember,
    ReplicationWindow,
    SalesforceCampaign,
    SalesforceMember,
    SalesforcePerson,
    SharedRead,
)
from convsync.salesforce.usage import BudgetState, Usage


class ApiBudgetPort(Protocol):
    """convsync's own count of Salesforce API calls (`salesforce.usage.ApiUsageLedger`)."""

    def usage(self, *, now: datetime | None = None) -> Usage: ...

    def state(self, *, now: datetime | None = None) -> BudgetState: ...

    def org_limit(self) -> int | None: ...

    def remember_org_limit(self, org_limit: int) -> None: ...


class SalesforcePort(Protocol):
    def limits(self) -> dict[str, Any]: ...

    def describe_access(self, object_names: Iterable[str]) -> dict[str, ObjectAccess]: ...

    def get_campaign(self, campaign_id: str) -> SalesforceCampaign: ...

    def create_campaign(self, name: str) -> str: ...

    def delete_campaign(self, campaign_id: str) -> None: ...

    def campaign_statuses(self, campaign_id: str) -> list[tuple[str, MemberStatus]]: ...

    def create_status(self, campaign_id: str, status: MemberStatus) -> str: ...

    def update_status(self, status_id: str, status: MemberStatus) -> None: ...

    def delete_status(self, status_id: str) -> None: ...

    def iter_members(
        self,
        campaign_id: str,
        *,
        since: datetime | None,
        until: datetime | None,
        include_deleted: bool = False,
        deleted_since: datetime | None = None,
    ) -> Iterator[SalesforceMember]: ...

    def member_status_counts(self, campaign_id: str) -> dict[str, int]: ...

    def replication_window(self, until: datetime) -> ReplicationWindow: ...

    def read_campaigns(self, windows: Sequence[CampaignWindow]) -> SharedRead: ...

    def changed_campaigns(
        self,
        campaign_ids: Sequence[str],
        since: Mapping[str, datetime | None] | datetime | None,
        *,
        include_status_changes: bool = True,
    ) -> dict[str, datetime]: ...

    def find_people_by_email(self, emails: Iterable[str]) -> dict[str, SalesforcePerson]: ...

    def follow_people(self, people: Sequence[SalesforcePerson]) -> dict[str, SalesforcePerson]: ...

    def find_members(
        self, campaign_id: str, person_ids: Sequence[str]
    ) -> list[SalesforceMember]: ...

    def members_by_id(self, member_ids: Sequence[str]) -> list[SalesforceMember]: ...

    def create_leads(
        self, people: Sequence[NewLead], *, use_bulk: bool = False
    ) -> list[RecordResult]: ...

    def insert_members(
        self, rows: Sequence[NewMember], *, use_bulk: bool = False
    ) -> list[RecordResult]: ...

    def update_members(
        self, rows: Sequence[MemberChange], *, use_bulk: bool = False
    ) -> list[RecordResult]: ...

    def delete_members(
        self, ids: Sequence[str], *, use_bulk: bool = False
    ) -> list[RecordResult]: ...


class SyncObserver(Protocol):
    """Hears what a stage committed; metrics and log lines hang off it.

    Called only after the commit, so work that was rolled back is never counted.
    """

    def chunk_applied(self, stage: Stage, counts: Mapping[str, int]) -> None:
        """A chunk's members landed: counts by outcome (imported, pushed, skipped, ...)."""

    def stage_finished(self, stage: Stage, seconds: float) -> None:
        """A run's stage closed its barrier, `seconds` after it started."""


class Dispatcher(Protocol):
    """Enqueues the next piece of work. Called only after the justifying commit.

    A message the broker does not take raises `BrokerUnavailableError`.
    """

    def inbound_stage(self, run_id: int) -> None: ...

    def inbound_chunk(self, run_id: int, chunk: int) -> None: ...

    def outbound_stage(self, run_id: int) -> None: ...

    def outbound_chunk(self, run_id: int, chunk: int) -> None: ...

    def push_edits(self, link_id: int, requested_after: int, *, delay: float) -> None:
        """In `delay` seconds, consider pushing the link's Conversion edits (sync.edits)."""

    def flush_updates(self, *, delay: float) -> None:
        """In `delay` seconds, write what waits in the update pool (sync.update_pool)."""
