"""An in-process Salesforce for use-case tests: the `SalesforcePort` over plain dicts.

It behaves like Salesforce for the calls the use cases make (ids of the 18-character
form, SystemModstamp on every write, deleted rows kept for queryAll, one live member per
person and campaign, restricted status picklists), and nothing more: no API limits, no
network; its stamps are the real clock's, made strictly increasing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from itertools import count
from typing import Any

from convsync.domain.access import ObjectAccess
from convsync.domain.errors import NotFoundError
from convsync.domain.ids import to_18
from convsync.domain.model import MemberStatus
from convsync.domain.outcomes import RecordResult, WriteOutcome
from convsync.salesforce.access import sync_needs
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


@dataclass
class _Status:
    campaign_id: str
    status: MemberStatus
    stamp: datetime


class FakeSalesforce:
    """Records in dicts; every write stamps a SystemModstamp later than any before it."""

    def __init__(self) -> None:
        self._ids = count(1)
        self._last = datetime.now(UTC).replace(microsecond=0)
        self.born = self._last
        self.campaigns: dict[str, SalesforceCampaign] = {}
        self.statuses: dict[str, _Status] = {}
        self.people: dict[str, SalesforcePerson] = {}
        self.members: dict[str, SalesforceMember] = {}
        # Emails a validation rule of the org refuses on CampaignMember writes.
        self.refused_emails: set[str] = set()
        # The reads a run (or a tick) asked for, and the update calls, by port method.
        self.reads: Counter[str] = Counter()
        self.writes: Counter[str] = Counter()
        # A shared read stops after this many changed rows (None: never).
        self.shared_row_cap: int | None = None
        # Until when the delete log reaches back (a purge moves it forward).
        self.earliest_available = self.born - timedelta(days=15)

    # ---------------------------------------------------------------- test helpers

    def _new_id(self, prefix: str) -> str:
        return to_18(f"{prefix}{next(self._ids):012d}")

    def _stamp(self) -> datetime:
        """Now, and later than any stamp before (finer than Salesforce's whole seconds, so
        tests need not wait for the next second between two writes)."""
        self._last = max(self._last + timedelta(microseconds=1), datetime.now(UTC))
        return self._last

    def add_campaign(self, name: str, statuses: Sequence[str] = ("Sent", "Responded")) -> str:
        campaign_id = self.create_campaign(name)
        for order, label in enumerate(statuses, start=1):
            self.create_status(campaign_id, MemberStatus(label, order == 1, False, order))
        return campaign_id

    def add_contact(self, email: str) -> SalesforcePerson:
        person = SalesforcePerson(self._new_id("003"), "Contact", email)
        self.people[person.id] = person
        return person

    def add_member(self, campaign_id: str, person: SalesforcePerson, status: str) -> str:
        [result] = self.insert_members([NewMember.for_person(campaign_id, person, status)])
        assert result.ok, result
        assert result.salesforce_id is not None
        return result.salesforce_id

    def live_members(self, campaign_id: str) -> dict[str, str]:
        """Email → status of the campaign's live members."""
        return {
            str(m.email): m.status
            for m in self.members.values()
            if m.campaign_id == campaign_id and not m.is_deleted
        }

    # ---------------------------------------------------------------- the port

    def limits(self) -> dict[str, Any]:
        return {"DailyApiRequests": {"Max": 100_000, "Remaining": 100_000}}

    def describe_access(self, object_names: Iterable[str]) -> dict[str, ObjectAccess]:
        """Everything the sync needs is granted (a fully permissioned integration user)."""
        needs = sync_needs(creating_campaign=True, creating_leads=True)
        granted: dict[str, ObjectAccess] = {}
        for name in object_names:
            fields = frozenset(n.field for n in needs if n.object_name == name and n.field)
            granted[name] = ObjectAccess(name, True, True, True, True, fields, fields, fields)
        return granted

    def get_campaign(self, campaign_id: str) -> SalesforceCampaign:
        self.reads["get_campaign"] += 1
        campaign = self.campaigns.get(campaign_id)
        if campaign is None:
            raise NotFoundError(f"no Salesforce campaign {campaign_id}")
        return campaign

    def create_campaign(self, name: str) -> str:
        campaign = SalesforceCampaign(self._new_id("701"), name)
        self.campaigns[campaign.id] = campaign
        return campaign.id

    def delete_campaign(self, campaign_id: str) -> None:
        self.campaigns.pop(campaign_id, None)

    def campaign_statuses(self, campaign_id: str) -> list[tuple[str, MemberStatus]]:
        self.reads["campaign_statuses"] += 1
        return [(i, s.status) for i, s in self.statuses.items() if s.campaign_id == campaign_id]

    def create_status(self, campaign_id: str, status: MemberStatus) -> str:
        status_id = self._new_id("01Y")
        self.statuses[status_id] = _Status(campaign_id, status, self._stamp())
        return status_id

    def update_status(self, status_id: str, status: MemberStatus) -> None:
        self.statuses[status_id].status = status
        self.statuses[status_id].stamp = self._stamp()

    def delete_status(self, status_id: str) -> None:
        del self.statuses[status_id]

    def iter_members(
        self,
        campaign_id: str,
        *,
        since: datetime | None,
        until: datetime | None,
        include_deleted: bool = False,
        deleted_since: datetime | None = None,
    ) -> Iterator[SalesforceMember]:
        """Members changed in (since, until], oldest first, as the gateway reads them."""
        self.reads["iter_members"] += 1

        def wanted(m: SalesforceMember) -> bool:
            stamp = m.system_modstamp
            assert stamp is not None
            if m.campaign_id != campaign_id:
                return False
            if (until is not None and stamp > until) or (since is not None and stamp <= since):
                return False
            if m.is_deleted:
                return include_deleted and (deleted_since is None or stamp >= deleted_since)
            return True

        found = [m for m in self.members.values() if wanted(m)]
        yield from sorted(found, key=lambda m: (m.system_modstamp, m.id))

    def member_status_counts(self, campaign_id: str) -> dict[str, int]:
        counts: dict[str, int] = {}
        for m in self.members.values():
            if m.campaign_id == campaign_id and not m.is_deleted:
                counts[m.status] = counts.get(m.status, 0) + 1
        return counts

    def replication_window(self, until: datetime) -> ReplicationWindow:
        # Every write is visible at once: the window covers up to now.
        self.reads["replication_window"] += 1
        return ReplicationWindow(self.earliest_available, datetime.now(UTC))

    def read_campaigns(self, windows: Sequence[CampaignWindow]) -> SharedRead:
        """Each campaign's existence, changes and statuses, and the delete log's reach, as
        one shared read (stopping after `shared_row_cap` rows, oldest first)."""
        self.reads["read_campaigns"] += 1
        rows = sorted(
            (
                m
                for w in windows
                for m in self.members.values()
                if m.campaign_id == w.campaign_id
                and m.system_modstamp is not None
                and w.since < m.system_modstamp <= w.until
            ),
            key=lambda m: (m.system_modstamp, m.id),
        )
        cap = self.shared_row_cap
        kept = rows if cap is None else rows[:cap]
        changes: dict[str, list[SalesforceMember]] = {}
        for m in kept:
            changes.setdefault(m.campaign_id, []).append(m)
        asked = [w.campaign_id for w in windows]
        return SharedRead(
            present=frozenset(c for c in asked if c in self.campaigns),
            reach=ReplicationWindow(self.earliest_available, datetime.now(UTC)),
            changes=changes,
            statuses={
                w.campaign_id: [
                    s.status for s in self.statuses.values() if s.campaign_id == w.campaign_id
                ]
                for w in windows
                if w.wants_statuses
            },
            cut_short=frozenset(asked) if len(kept) < len(rows) else frozenset(),
        )

    def changed_campaigns(
        self,
        campaign_ids: Sequence[str],
        since: Mapping[str, datetime | None] | datetime | None,
        *,
        include_status_changes: bool = True,
    ) -> dict[str, datetime]:
        """Campaigns with member (or status) writes after their mark → the latest stamp."""
        latest: dict[str, datetime] = {}
        stamps = [(m.campaign_id, m.system_modstamp) for m in self.members.values()]
        if include_status_changes:
            stamps += [(s.campaign_id, s.stamp) for s in self.statuses.values()]
        for campaign_id, stamp in stamps:
            mark = since.get(campaign_id) if isinstance(since, Mapping) else since
            if campaign_id not in campaign_ids or stamp is None:
                continue
            if mark is None or stamp > mark:
                latest[campaign_id] = max(stamp, latest.get(campaign_id, stamp))
        return latest

    def find_people_by_email(self, emails: Iterable[str]) -> dict[str, SalesforcePerson]:
        """Email → the person, a Contact winning over a Lead with the same email."""
        wanted = set(emails)
        found: dict[str, SalesforcePerson] = {}
        for person in sorted(self.people.values(), key=lambda p: p.kind == "Contact"):
            if person.email in wanted:
                found[person.email] = person
        return found

    def follow_people(self, people: Sequence[SalesforcePerson]) -> dict[str, SalesforcePerson]:
        """Nobody is converted or merged here: every person is still itself."""
        return {p.id: p for p in people if p.id in self.people}

    def find_members(self, campaign_id: str, person_ids: Sequence[str]) -> list[SalesforceMember]:
        return [
            m
            for m in self.members.values()
            if m.campaign_id == campaign_id and not m.is_deleted and m.person_id in person_ids
        ]

    def members_by_id(self, member_ids: Sequence[str]) -> list[SalesforceMember]:
        return [self.members[i] for i in member_ids if i in self.members]

    def create_leads(
        self, people: Sequence[NewLead], *, use_bulk: bool = False
    ) -> list[RecordResult]:
        results = []
        for lead in people:
            person = SalesforcePerson(self._new_id("00Q"), "Lead", lead.email)
            self.people[person.id] = person
            results.append(RecordResult(WriteOutcome.OK, person.id))
        return results

    def insert_members(
        self, rows: Sequence[NewMember], *, use_bulk: bool = False
    ) -> list[RecordResult]:
        return [self._insert(row) for row in rows]

    def _insert(self, row: NewMember) -> RecordResult:
        person = self.people.get(row.contact_id or row.lead_id or "")
        if row.campaign_id not in self.campaigns or person is None:
            return RecordResult(WriteOutcome.NOT_FOUND, None, "ENTITY_IS_DELETED", "gone")
        if not self._offers(row.campaign_id, row.status):
            return self._bad_status(row.status)
        if person.email in self.refused_emails:
            return self._validation_rule()
        if self.find_members(row.campaign_id, [person.id]):
            return RecordResult(
                WriteOutcome.DUPLICATE, None, "DUPLICATE_VALUE", "already a campaign member"
            )
        stamp = self._stamp()
        member = SalesforceMember(
            self._new_id("00v"),
            row.campaign_id,
            row.lead_id,
            row.contact_id,
            row.status,
            person.email,
            None,
            None,
            None,
            stamp,
            stamp,
        )
        self.members[member.id] = member
        return RecordResult(WriteOutcome.OK, member.id)

    def update_members(
        self, rows: Sequence[MemberChange], *, use_bulk: bool = False
    ) -> list[RecordResult]:
        self.writes["update_members"] += 1
        results = []
        for change in rows:
            member = self.members.get(change.id)
            if member is None or member.is_deleted:
                results.append(
                    RecordResult(WriteOutcome.NOT_FOUND, None, "ENTITY_IS_DELETED", "gone")
                )
            elif not self._offers(member.campaign_id, change.status):
                results.append(self._bad_status(change.status))
            elif member.email in self.refused_emails:
                results.append(self._validation_rule())
            else:
                stamp = self._stamp()
                self.members[change.id] = replace(
                    member, status=change.status, last_modified=stamp, system_modstamp=stamp
                )
                results.append(RecordResult(WriteOutcome.OK, change.id))
        return results

    def delete_members(self, ids: Sequence[str], *, use_bulk: bool = False) -> list[RecordResult]:
        results = []
        for member_id in ids:
            member = self.members.get(member_id)
            if member is None or member.is_deleted:
                results.append(
                    RecordResult(WriteOutcome.NOT_FOUND, None, "ENTITY_IS_DELETED", "gone")
                )
                continue
            self.members[member_id] = replace(
                member, is_deleted=True, system_modstamp=self._stamp()
            )
            results.append(RecordResult(WriteOutcome.OK, member_id))
        return results

    def _offers(self, campaign_id: str, label: str) -> bool:
        # Straight from the records: a write's own check is not a call the sync made.
        return any(
            s.campaign_id == campaign_id and s.status.label == label for s in self.statuses.values()
        )

    @staticmethod
    def _bad_status(label: str) -> RecordResult:
        return RecordResult(
            WriteOutcome.STATUS_NOT_ON_CAMPAIGN,
            None,
            "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
            f"Status: bad value for restricted picklist field: {label}",
        )

    @staticmethod
    def _validation_rule() -> RecordResult:
        return RecordResult(
            WriteOutcome.ERROR,
            None,
            "FIELD_CUSTOM_VALIDATION_EXCEPTION",
            "Members from this domain need an approved company",
        )
