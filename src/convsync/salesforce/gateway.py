"""The operations the sync needs from Salesforce, as plain typed values.

`SalesforceGateway` is the only public face of `convsync.salesforce`: it turns use-case
questions ("what changed on these campaigns?", "write these 450 members") into as few
API calls as the API allows (2,000-row pages, 200-record collections, one aggregate
per 500 campaigns, Bulk API 2.0 for large volumes) and maps every record-level result
to a `RecordResult`, so a bad row never costs the rest of its chunk.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from typing import Any

from convsync.domain.access import ObjectAccess
from convsync.domain.errors import NotFoundError, SalesforceError
from convsync.domain.model import MemberStatus
from convsync.domain.outcomes import RecordResult
from convsync.salesforce.client import SalesforceClient
from convsync.salesforce.people import PeopleDirectory, person_name
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
from convsync.salesforce.rows import (
    aggregate,
    delete_log_params,
    marks,
    member,
    member_insert,
    member_status,
    replication_window,
    status_fields,
)
from convsync.salesforce.shared_read import SharedReader
from convsync.salesforce.soql import (
    chunked_in,
    parse_datetime,
    select,
    soql,
    validate_id,
)
from convsync.salesforce.streams import (
    CAMPAIGN,
    CAMPAIGN_MEMBER,
    CAMPAIGN_MEMBER_STATUS,
    CHANGES_ORDER,
    PAGE_SIZE,
)
from convsync.salesforce.usage import Purpose, spending
from convsync.salesforce.writes import (
    COLLECTION_SIZE,
    DUPLICATES_DETECTED,
    RecordWriter,
    collection_results,
    email_key,
    id_key,
    insert_key,
)

# How long a process trusts what describe said of the user's permissions.
ACCESS_TTL = 300.0


class SalesforceGateway:
    """Typed Salesforce operations for the sync; one per worker process."""

    def __init__(
        self,
        client: SalesforceClient,
        *,
        lead_company_fallback: str,
        respect_duplicate_alerts: bool = False,
    ) -> None:
        self.client = client
        self.writer = RecordWriter(client)
        self.people = PeopleDirectory(client)
        self.lead_company_fallback = lead_company_fallback
        self.respect_duplicate_alerts = respect_duplicate_alerts
        # Object name → (monotonic expiry, access): see `describe_access`.
        self._access: dict[str, tuple[float, ObjectAccess]] = {}

    def __repr__(self) -> str:
        return f"SalesforceGateway({self.client!r})"

    # ---------------------------------------------------------------- budget

    def api_usage(self) -> tuple[int, int] | None:
        """(used, max) of the org's daily API budget, as of the last response."""
        return self.client.api_usage()

    @spending(Purpose.LIMITS)
    def limits(self) -> dict[str, Any]:
        """The org's limits resource (`DailyApiRequests`, ...); costs one API call."""
        return self.client.limits()

    # ---------------------------------------------------------------- the user's access

    def describe_access(self, object_names: Iterable[str]) -> dict[str, ObjectAccess]:
        """What the integration user may do with each object, from describe.

        One API call per object, at most once per `ACCESS_TTL` in a process: a process
        that links many campaigns (an application, the bench) checks once, not once per
        link, while a CLI command (a process of its own) always asks afresh. Describe
        lists only the fields the user can see, with `createable`/`updateable` as
        field-level security allows; an object the user cannot read answers 404.
        """
        now = time.monotonic()
        wanted = list(object_names)
        known: dict[str, ObjectAccess] = {}
        for name in wanted:
            entry = self._access.get(name)
            if entry is not None and entry[0] > now:
                known[name] = entry[1]
        fresh = self._describe_access([name for name in wanted if name not in known])
        self._access.update({name: (now + ACCESS_TTL, access) for name, access in fresh.items()})
        return {name: known.get(name) or fresh[name] for name in wanted}

    def forget_access(self) -> None:
        """Ask describe afresh next time (the org's permissions were changed)."""
        self._access.clear()

    def _describe_access(self, object_names: Iterable[str]) -> dict[str, ObjectAccess]:
        found: dict[str, ObjectAccess] = {}
        for name in object_names:
            try:
                body = self.client.restful(f"sobjects/{name}/describe", action=f"describe {name}")
            except SalesforceError as error:
                if error.code != "NOT_FOUND":
                    raise
                found[name] = ObjectAccess(name)
                continue
            fields = body.get("fields") or []
            found[name] = ObjectAccess(
                name,
                readable=bool(body.get("queryable")),
                createable=bool(body.get("createable")),
                updateable=bool(body.get("updateable")),
                deletable=bool(body.get("deletable")),
                readable_fields=frozenset(f["name"] for f in fields),
                createable_fields=frozenset(f["name"] for f in fields if f.get("createable")),
                updateable_fields=frozenset(f["name"] for f in fields if f.get("updateable")),
            )
        return found

    # ---------------------------------------------------------------- campaigns

    def get_campaign(self, campaign_id: str) -> SalesforceCampaign:
        """The campaign, or NotFoundError (ValidationError when the id is malformed)."""
        cid = validate_id(campaign_id, "Campaign")
        query = soql(CAMPAIGN.select() + " WHERE Id = {cid}", cid=cid)
        for row in self.client.query_records(query, action="read the Campaign"):
            return SalesforceCampaign(id=row["Id"], name=row.get("Name") or "")
        raise NotFoundError(f"Salesforce campaign {cid} does not exist (or is not visible)")

    @spending(Purpose.WRITE)
    def create_campaign(self, name: str) -> str:
        """Create an active campaign; returns its id (it starts with Sent / Responded)."""
        result = self.client.restful(
            "sobjects/Campaign/",
            action="create a Campaign",
            method="POST",
            json={"Name": name, "IsActive": True},
        )
        return str(result["id"])

    @spending(Purpose.WRITE)
    def delete_campaign(self, campaign_id: str) -> None:
        """Delete a campaign this service created (undoing a link that could not start)."""
        cid = validate_id(campaign_id, "Campaign")
        self.client.restful(f"sobjects/Campaign/{cid}", action="delete a Campaign", method="DELETE")

    @spending(Purpose.STATUSES)
    def campaign_statuses(self, campaign_id: str) -> list[tuple[str, MemberStatus]]:
        """The campaign's CampaignMemberStatus rows as (id, MemberStatus), by sort order."""
        cid = validate_id(campaign_id, "Campaign")
        query = soql(
            CAMPAIGN_MEMBER_STATUS.select() + " WHERE CampaignId = {cid} ORDER BY SortOrder, Id",
            cid=cid,
        )
        return [
            (row["Id"], member_status(row))
            for row in self.client.query_records(query, action="read CampaignMemberStatus")
        ]

    @spending(Purpose.STATUSES)
    def create_status(self, campaign_id: str, status: MemberStatus) -> str:
        cid = validate_id(campaign_id, "Campaign")
        result = self.client.restful(
            "sobjects/CampaignMemberStatus/",
            action=f"create member status {status.label!r}",
            method="POST",
            json={"CampaignId": cid, **status_fields(status)},
        )
        return str(result["id"])

    @spending(Purpose.STATUSES)
    def update_status(self, status_id: str, status: MemberStatus) -> None:
        sid = validate_id(status_id, "CampaignMemberStatus")
        self.client.restful(
            f"sobjects/CampaignMemberStatus/{sid}",
            action=f"update member status {status.label!r}",
            method="PATCH",
            json=status_fields(status),
        )

    @spending(Purpose.STATUSES)
    def delete_status(self, status_id: str) -> None:
        sid = validate_id(status_id, "CampaignMemberStatus")
        self.client.restful(
            f"sobjects/CampaignMemberStatus/{sid}",
            action="delete a member status",
            method="DELETE",
        )

    # ---------------------------------------------------------------- reading members

    def iter_members(
        self,
        campaign_id: str,
        *,
        since: datetime | None,
        until: datetime | None,
        include_deleted: bool = False,
        deleted_since: datetime | None = None,
    ) -> Iterator[SalesforceMember]:
        """Members changed in (since, until], oldest first, streamed 2,000 a page.

        `until` is the run's signpost, so a bookmark never passes rows that were still
        being written; queryAll (include_deleted) also returns removed members, or with
        `deleted_since` only those removed since then (every live member still comes).
        SOQL datetime literals have whole seconds, so both bounds are rounded down: rows
        in the bookmark's own second are read again (an overlap; de-duplicate by id), and
        rows in the signpost's last fraction of a second come with the next window.
        No `until` reads every member up to now (drift repair's whole picture).
        """
        cid = validate_id(campaign_id, "Campaign")
        where = " WHERE CampaignId = {cid}"
        if until is not None:
            where += " AND SystemModstamp <= {until}"
        if since is not None:
            where += " AND SystemModstamp > {since}"
        if include_deleted and deleted_since is not None:
            where += " AND (IsDeleted = false OR SystemModstamp >= {deleted_since})"
        query = soql(
            CAMPAIGN_MEMBER.select() + where + CHANGES_ORDER,
            cid=cid,
            since=since,
            until=until,
            deleted_since=deleted_since,
        )
        for page in self.client.query_pages(
            query,
            action="read CampaignMembers",
            include_deleted=include_deleted,
            page_size=PAGE_SIZE,
        ):
            for row in page:
                yield member(row)

    def replication_window(self, until: datetime) -> ReplicationWindow:
        """How far the CampaignMember change logs reach, as of `until` (one API call).

        Asks `sobjects/CampaignMember/deleted` about the two minutes before `until`
        (Salesforce reads start and end to the minute): the answer carries both
        `earliestDateAvailable` and `latestDateCovered`, whatever the window holds.
        """
        answer = self.client.restful(
            "sobjects/CampaignMember/deleted/",
            action="read how far the delete log reaches",
            params=delete_log_params(until),
        )
        return replication_window(answer)

    def read_campaigns(self, windows: Sequence[CampaignWindow]) -> SharedRead:
        """What the runs of many due campaigns need to read, read for all at once
        (`SharedReader`: one Composite API call per 100 campaigns)."""
        return SharedReader(self.client).read(windows)

    def find_members(self, campaign_id: str, person_ids: Sequence[str]) -> list[SalesforceMember]:
        """The campaign's live members for these Leads/Contacts (≤ 500 ids a query).

        Used after a DUPLICATE insert to find the member to update instead.
        """
        cid = validate_id(campaign_id, "Campaign")
        leads = sorted({validate_id(p, "Lead") for p in person_ids if p[:3] == "00Q"})
        contacts = sorted({validate_id(p, "Contact") for p in person_ids if p[:3] != "00Q"})
        found: list[SalesforceMember] = []
        for column, ids in (("LeadId", leads), ("ContactId", contacts)):
            for chunk in chunked_in(ids):
                query = soql(
                    CAMPAIGN_MEMBER.select()
                    + " WHERE CampaignId = {cid} AND "
                    + column
                    + " IN {ids} ORDER BY Id",
                    cid=cid,
                    ids=chunk,
                )
                rows = self.client.query_records(query, action="find CampaignMembers")
                found.extend(member(row) for row in rows)
        return found

    def members_by_id(self, member_ids: Sequence[str]) -> list[SalesforceMember]:
        """These live CampaignMembers as Salesforce holds them now (≤ 500 ids a query).

        Used before repeating updates that a killed attempt may already have made.
        """
        ids = sorted({validate_id(i, "CampaignMember") for i in member_ids})
        found: list[SalesforceMember] = []
        for chunk in chunked_in(ids):
            query = soql(CAMPAIGN_MEMBER.select() + " WHERE Id IN {ids} ORDER BY Id", ids=chunk)
            rows = self.client.query_records(query, action="read CampaignMembers by id")
            found.extend(member(row) for row in rows)
        return found

    def member_status_counts(self, campaign_id: str) -> dict[str, int]:
        """How many members hold each status (one aggregate query)."""
        cid = validate_id(campaign_id, "Campaign")
        query = soql(
            "SELECT Status, COUNT(Id) total FROM CampaignMember WHERE CampaignId = {cid} "
            "GROUP BY Status",
            cid=cid,
        )
        return {
            str(row.get("Status")): int(aggregate(row, "total", 1) or 0)
            for row in self.client.query_records(query, action="count CampaignMembers")
        }

    def changed_campaigns(
        self,
        campaign_ids: Sequence[str],
        since: Mapping[str, datetime | None] | datetime | None,
        *,
        include_status_changes: bool = True,
    ) -> dict[str, datetime]:
        """Campaigns with member (or status) changes after their mark → latest stamp.

        One aggregate query per 500 campaigns, on queryAll so removals count (with
        `include_status_changes`, one more on CampaignMemberStatus), five to a Composite
        API call: one API call a tick for up to 2,500 linked campaigns.
        """
        ids = [validate_id(c, "Campaign") for c in campaign_ids]
        since_by_id = marks(campaign_ids, ids, since)
        objects = ["CampaignMember"] + (["CampaignMemberStatus"] if include_status_changes else [])
        queries = [
            _latest_stamps_query(object_name, chunk, [since_by_id[c] for c in chunk])
            for chunk in chunked_in(ids, max_encoded=None)
            for object_name in objects
        ]
        latest: dict[str, datetime] = {}
        rows = self.client.query_many(
            queries, action="look for changed campaign members", include_deleted=True
        )
        for row in rows:
            campaign_id = str(row["CampaignId"])
            stamp = parse_datetime(aggregate(row, "latest", 1))
            mark = since_by_id.get(campaign_id)
            if stamp is None or (mark is not None and stamp <= mark):
                continue
            if campaign_id not in latest or stamp > latest[campaign_id]:
                latest[campaign_id] = stamp
        return latest

    # ---------------------------------------------------------------- people

    @spending(Purpose.LOOKUP)
    def find_people_by_email(self, emails: Iterable[str]) -> dict[str, SalesforcePerson]:
        """Lower-cased email → the Contact (preferred) or Lead with that email (see
        `PeopleDirectory.find_people_by_email`)."""
        return self.people.find_people_by_email(emails)

    @spending(Purpose.LOOKUP)
    def follow_people(self, people: Sequence[SalesforcePerson]) -> dict[str, SalesforcePerson]:
        """Where Leads and Contacts that can no longer be referenced went (see
        `PeopleDirectory.follow_people`)."""
        return self.people.follow_people(people)

    @spending(Purpose.WRITE)
    def create_leads(
        self, people: Sequence[NewLead], *, use_bulk: bool = False
    ) -> list[RecordResult]:
        """Create Leads (collections of 200, or one Bulk API 2.0 job); one RecordResult
        per person, in order.

        Salesforce requires LastName and Company: the email's local part and the
        configured fallback company stand in when Conversion does not know them.

        A Lead create is never repeated blind: a call whose answer was lost (a dropped
        connection, a 5xx) may well have created its Leads, and a repeat would create
        them all again. Any failure goes to the task instead, whose retry first looks
        up by email what the failed attempt created.

        Duplicate rules set to "alert" are answered with allowSave=true (unless
        `respect_duplicate_alerts`); Bulk API 2.0 cannot say so, so the rows a rule
        refused there go again through a collection call, which can, and which names
        the matching records when a "block" rule refuses them.
        """
        records = [
            {
                "Email": p.email,
                "FirstName": p.first_name or None,
                "LastName": (p.last_name or person_name(p.email))[:80],
                "Company": (p.company or self.lead_company_fallback)[:255],
            }
            for p in people
        ]
        if not use_bulk:
            return self.writer.create_leads(
                records, respect_duplicate_alerts=self.respect_duplicate_alerts
            )
        results = self.writer.bulk("Lead", "insert", records, key=email_key, retry=False)
        refused = [i for i, r in enumerate(results) if r.code == DUPLICATES_DETECTED]
        if refused and not self.respect_duplicate_alerts:
            again = self.writer.create_leads(
                [records[i] for i in refused],
                respect_duplicate_alerts=self.respect_duplicate_alerts,
            )
            for index, result in zip(refused, again, strict=True):
                results[index] = result
        return results

    # ---------------------------------------------------------------- writing members

    @spending(Purpose.WRITE)
    def insert_members(
        self, rows: Sequence[NewMember], *, use_bulk: bool = False
    ) -> list[RecordResult]:
        """Insert CampaignMembers; one RecordResult per row, in input order."""
        records = [member_insert(row) for row in rows]
        if use_bulk:
            return self.writer.bulk("CampaignMember", "insert", records, key=insert_key)
        return self.writer.collection(
            "POST",
            [{"attributes": {"type": "CampaignMember"}, **r} for r in records],
            action="insert CampaignMembers",
        )

    @spending(Purpose.WRITE)
    def update_members(
        self, rows: Sequence[MemberChange], *, use_bulk: bool = False
    ) -> list[RecordResult]:
        """Change members' statuses; one RecordResult per row, in input order."""
        records = [{"Id": validate_id(r.id, "CampaignMember"), "Status": r.status} for r in rows]
        if use_bulk:
            return self.writer.bulk("CampaignMember", "update", records, key=id_key)
        return self.writer.collection(
            "PATCH",
            [{"attributes": {"type": "CampaignMember"}, **r} for r in records],
            action="update CampaignMembers",
        )

    @spending(Purpose.WRITE)
    def delete_members(self, ids: Sequence[str], *, use_bulk: bool = False) -> list[RecordResult]:
        """Remove members; one RecordResult per id, in input order."""
        valid = [validate_id(i, "CampaignMember") for i in ids]
        if use_bulk:
            return self.writer.bulk(
                "CampaignMember", "delete", [{"Id": i} for i in valid], key=id_key
            )

        def delete(chunk: list[str]) -> list[RecordResult]:
            response = self.client.restful(
                "composite/sobjects",
                action="delete CampaignMembers",
                method="DELETE",
                params={"ids": ",".join(chunk), "allOrNone": "false"},
            )
            return collection_results(response, len(chunk))

        results: list[RecordResult] = []
        for start in range(0, len(valid), COLLECTION_SIZE):
            chunk = valid[start : start + COLLECTION_SIZE]
            results.extend(self.writer.until_unlocked("delete CampaignMembers", chunk, delete))
        return results


# -------------------------------------------------------------------- mapping helpers


def _latest_stamps_query(
    object_name: str, campaign_ids: list[str], marks: list[datetime | None]
) -> str:
    """The latest SystemModstamp of each campaign's rows after the lowest of the marks
    (all of them when a campaign has none yet)."""
    floor = None if any(m is None for m in marks) else min(m for m in marks if m is not None)
    template = select(("CampaignId", "MAX(SystemModstamp) latest"), object_name)
    template += " WHERE CampaignId IN {ids}"
    if floor is not None:
        template += " AND SystemModstamp > {floor}"
    return soql(template + " GROUP BY CampaignId", ids=campaign_ids, floor=floor)
