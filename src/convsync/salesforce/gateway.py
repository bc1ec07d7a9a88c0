"""The operations the sync needs from Salesforce, as plain typed values.

`SalesforceGateway` is the only public face of `convsync.salesforce`: it turns use-case
questions ("what changed on these campaigns?", "write these 450 members") into as few
API calls as the API allows (2,000-row pages, 200-record collections, one aggregate
per 500 campaigns, Bulk API 2.0 for large volumes) and maps every record-level result
to a `RecordResult`, so a bad row never costs the rest of its chunk.
"""

from __future__ import annotations

import csv
import io
import time
from collections import defaultdict, deque
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Literal, TypeVar

from simple_salesforce.api import Salesforce

from convsync.domain.access import ObjectAccess
from convsync.domain.errors import NotFoundError, SalesforceError, ValidationError
from convsync.domain.model import MemberStatus, normalize_email
from convsync.domain.outcomes import RecordResult, WriteOutcome, classify
from convsync.salesforce.client import SalesforceClient
from convsync.salesforce.records import (
    MemberChange,
    NewLead,
    NewMember,
    PersonKind,
    ReplicationWindow,
    SalesforceCampaign,
    SalesforceMember,
    SalesforcePerson,
)
from convsync.salesforce.soql import (
    chunked_in,
    fits_in_uri,
    parse_datetime,
    select,
    soql,
    utc,
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

# How long a process trusts what describe said of the user's permissions.
ACCESS_TTL = 300.0
# sObject Collections take at most 200 records: 200 members ≈ 1 API call.
COLLECTION_SIZE = 200
# A Composite API call carries up to five queries in its body: one API call for all.
QUERIES_PER_COMPOSITE = 5
DUPLICATES_DETECTED = "DUPLICATES_DETECTED"
# Lets a Lead through duplicate rules set to "alert" (REST only: Bulk API 2.0 has none).
ALLOW_DUPLICATE_SAVE = {"Sforce-Duplicate-Rule-Header": "allowSave=true"}

Method = Literal["POST", "PATCH", "DELETE"]
# A record another transaction holds (for members: their Campaign's row, which every
# member write of that campaign locks). Gone a moment later.
LOCKED = "UNABLE_TO_LOCK_ROW"
# Lead lookups read whether the Lead was converted, and into which Contact.
_LOOKUP_FIELDS: dict[PersonKind, tuple[str, ...]] = {
    "Contact": ("Id", "Email"),
    "Lead": ("Id", "Email", "IsConverted", "ConvertedContactId"),
}
# Conversions and merges followed from one id: a Lead merged, then converted, then its
# Contact merged is three hops, four leave room; past that (a loop, or a very busy org)
# the email lookup decides.
FOLLOW_HOPS = 4
_UNWRITTEN = RecordResult(WriteOutcome.ERROR, None, "NO_RESULT", "no result for this record")
_R = TypeVar("_R")


def _kind_of(person_id: str) -> PersonKind:
    return "Lead" if person_id[:3] == "00Q" else "Contact"


def _person_name(email: str) -> str:
    return email.split("@", 1)[0][:80] or email[:80]


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
            (
                row["Id"],
                MemberStatus(
                    label=row["Label"],
                    is_default=bool(row.get("IsDefault")),
                    has_responded=bool(row.get("HasResponded")),
                    sort_order=int(row.get("SortOrder") or 0),
                ),
            )
            for row in self.client.query_records(query, action="read CampaignMemberStatus")
        ]

    @spending(Purpose.STATUSES)
    def create_status(self, campaign_id: str, status: MemberStatus) -> str:
        cid = validate_id(campaign_id, "Campaign")
        result = self.client.restful(
            "sobjects/CampaignMemberStatus/",
            action=f"create member status {status.label!r}",
            method="POST",
            json={"CampaignId": cid, **_status_fields(status)},
        )
        return str(result["id"])

    @spending(Purpose.STATUSES)
    def update_status(self, status_id: str, status: MemberStatus) -> None:
        sid = validate_id(status_id, "CampaignMemberStatus")
        self.client.restful(
            f"sobjects/CampaignMemberStatus/{sid}",
            action=f"update member status {status.label!r}",
            method="PATCH",
            json=_status_fields(status),
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
                yield _member(row)

    def replication_window(self, until: datetime) -> ReplicationWindow:
        """How far the CampaignMember change logs reach, as of `until` (one API call).

        Asks `sobjects/CampaignMember/deleted` about the two minutes before `until`
        (Salesforce reads start and end to the minute): the answer carries both
        `earliestDateAvailable` and `latestDateCovered`, whatever the window holds.
        """
        end = utc(until)
        answer = self.client.restful(
            "sobjects/CampaignMember/deleted/",
            action="read how far the delete log reaches",
            params={"start": (end - timedelta(minutes=2)).isoformat(), "end": end.isoformat()},
        )
        earliest = parse_datetime(answer.get("earliestDateAvailable"))
        covered = parse_datetime(answer.get("latestDateCovered"))
        if earliest is None or covered is None:
            raise SalesforceError("Salesforce's delete log answered without its dates")
        return ReplicationWindow(earliest, covered)

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
                found.extend(_member(row) for row in rows)
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
            found.extend(_member(row) for row in rows)
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
            str(row.get("Status")): int(_aggregate(row, "total", 1) or 0)
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
        marks = _marks(campaign_ids, ids, since)
        objects = ["CampaignMember"] + (["CampaignMemberStatus"] if include_status_changes else [])
        queries = [
            _latest_stamps_query(object_name, chunk, [marks[c] for c in chunk])
            for chunk in chunked_in(ids, max_encoded=None)
            for object_name in objects
        ]
        latest: dict[str, datetime] = {}
        rows = self._query_many(
            queries, action="look for changed campaign members", include_deleted=True
        )
        for row in rows:
            campaign_id = str(row["CampaignId"])
            stamp = parse_datetime(_aggregate(row, "latest", 1))
            mark = marks.get(campaign_id)
            if stamp is None or (mark is not None and stamp <= mark):
                continue
            if campaign_id not in latest or stamp > latest[campaign_id]:
                latest[campaign_id] = stamp
        return latest

    # ---------------------------------------------------------------- people

    @spending(Purpose.LOOKUP)
    def find_people_by_email(self, emails: Iterable[str]) -> dict[str, SalesforcePerson]:
        """Lower-cased email → the Contact (preferred) or Lead with that email.

        Batched `Email IN (...)` queries of ≤ 500 emails, Contacts first, then Leads only
        for the emails still unknown; several queries go five to a Composite API call,
        their SOQL in its body (a GET of 500 emails would pass Salesforce's 16,384-byte
        URI limit). When several records share an email, the oldest (lowest id) wins,
        deterministically. Malformed emails are left out (they cannot match).

        Converted Leads cannot be referenced any more (CANNOT_UPDATE_CONVERTED_LEAD):
        they are skipped, and an email only a converted Lead has stands for the Contact
        it was converted into. The Lead lookup reads IsConverted and ConvertedContactId
        rather than filtering `IsConverted = false`: the same answer without one more
        query per 500 emails for the Contacts (10 calls on a first push of 5,000).
        """
        wanted = sorted(_valid_emails(emails))
        found: dict[str, SalesforcePerson] = {}
        converted: dict[str, SalesforcePerson] = {}
        kinds: tuple[PersonKind, ...] = ("Contact", "Lead")
        for kind in kinds:
            remaining = [e for e in wanted if e not in found]
            queries = [
                soql(
                    select(_LOOKUP_FIELDS[kind], kind) + " WHERE Email IN {emails} ORDER BY Id",
                    emails=chunk,
                )
                for chunk in chunked_in(remaining, max_encoded=None)
            ]
            for row in self._query_many(queries, action=f"look up {kind}s by email"):
                email = str(row.get("Email") or "").strip().lower()
                if not email or email in found:
                    continue
                if not row.get("IsConverted"):
                    found[email] = SalesforcePerson(id=row["Id"], kind=kind, email=email)
                elif row.get("ConvertedContactId") and email not in converted:
                    became = str(row["ConvertedContactId"])
                    converted[email] = SalesforcePerson(became, "Contact", email)
        for email, person in converted.items():
            found.setdefault(email, person)
        return found

    @spending(Purpose.LOOKUP)
    def follow_people(self, people: Sequence[SalesforcePerson]) -> dict[str, SalesforcePerson]:
        """Where Leads and Contacts that can no longer be referenced went: old id → the
        Contact a Lead was converted into, or the master a merge kept (`MasterRecordId`),
        followed through up to `FOLLOW_HOPS` conversions and merges. A record that is
        still live and unconverted maps to itself; one deleted without a master, or
        never seen, is left out (look the person up by email instead).

        One queryAll per object and hop (deleted rows carry `MasterRecordId`), ≤ 500 ids
        each: called only for the few writes Salesforce refused for the person.
        """
        where = {p.id: p.id for p in people}  # original id → where it went so far
        emails = {p.id: p.email for p in people}
        settled: dict[str, SalesforcePerson] = {}
        for _ in range(FOLLOW_HOPS):
            rows = self._people_by_id(sorted(set(where.values())))
            moved: dict[str, str] = {}
            for original, current in where.items():
                row = rows.get(current)
                if row is None:
                    continue
                if row.get("IsConverted") and row.get("ConvertedContactId"):
                    moved[original] = str(row["ConvertedContactId"])
                elif row.get("IsDeleted") and row.get("MasterRecordId"):
                    moved[original] = str(row["MasterRecordId"])
                elif not row.get("IsDeleted"):
                    email = str(row.get("Email") or emails[original]).strip().lower()
                    settled[original] = SalesforcePerson(current, _kind_of(current), email)
            if not moved:
                break
            where = moved
        return settled

    def _people_by_id(self, ids: Sequence[str]) -> dict[str, Mapping[str, Any]]:
        fields = {
            "Lead": (
                "Id",
                "Email",
                "IsDeleted",
                "MasterRecordId",
                "IsConverted",
                "ConvertedContactId",
            ),
            "Contact": ("Id", "Email", "IsDeleted", "MasterRecordId"),
        }
        found: dict[str, Mapping[str, Any]] = {}
        for kind, columns in fields.items():
            wanted = [validate_id(i, kind) for i in ids if _kind_of(i) == kind]
            for chunk in chunked_in(wanted):
                query = soql(select(columns, kind) + " WHERE Id IN {ids} ORDER BY Id", ids=chunk)
                for row in self.client.query_records(
                    query, action=f"follow converted or merged {kind}s", include_deleted=True
                ):
                    found[str(row["Id"])] = row
        return found

    def _query_many(
        self, queries: Sequence[str], *, action: str, include_deleted: bool = False
    ) -> Iterator[dict[str, Any]]:
        """The rows of each query in turn: a lone query short enough for a URI as a GET,
        others five to a Composite API call, each followed by its further pages."""
        if len(queries) == 1 and fits_in_uri(queries[0]):
            yield from self.client.query_records(
                queries[0], action=action, include_deleted=include_deleted
            )
            return
        for start in range(0, len(queries), QUERIES_PER_COMPOSITE):
            batch = queries[start : start + QUERIES_PER_COMPOSITE]
            for first in self.client.composite_queries(
                batch, action=action, include_deleted=include_deleted
            ):
                yield from first.get("records") or []
                if not first.get("done", True) and first.get("nextRecordsUrl"):
                    for page in self.client.more_pages(first["nextRecordsUrl"], action=action):
                        yield from page

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
                "LastName": (p.last_name or _person_name(p.email))[:80],
                "Company": (p.company or self.lead_company_fallback)[:255],
            }
            for p in people
        ]
        if not use_bulk:
            return self._create_leads_in_collections(records)
        results = self._bulk("Lead", "insert", records, key=_email_key, retry=False)
        refused = [i for i, r in enumerate(results) if r.code == DUPLICATES_DETECTED]
        if refused and not self.respect_duplicate_alerts:
            again = self._create_leads_in_collections([records[i] for i in refused])
            for index, result in zip(refused, again, strict=True):
                results[index] = result
        return results

    def _create_leads_in_collections(self, records: list[dict[str, Any]]) -> list[RecordResult]:
        headers = {} if self.respect_duplicate_alerts else ALLOW_DUPLICATE_SAVE
        results: list[RecordResult] = []
        for start in range(0, len(records), COLLECTION_SIZE):
            chunk = [
                {"attributes": {"type": "Lead"}, **r}
                for r in records[start : start + COLLECTION_SIZE]
            ]
            response = self.client.call_once("create Leads", _create_call(chunk, headers))
            results.extend(_collection_results(response, len(chunk)))
        return results

    # ---------------------------------------------------------------- writing members

    @spending(Purpose.WRITE)
    def insert_members(
        self, rows: Sequence[NewMember], *, use_bulk: bool = False
    ) -> list[RecordResult]:
        """Insert CampaignMembers; one RecordResult per row, in input order."""
        records = [_member_insert(row) for row in rows]
        if use_bulk:
            return self._bulk("CampaignMember", "insert", records, key=_insert_key)
        return self._collection(
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
            return self._bulk("CampaignMember", "update", records, key=_id_key)
        return self._collection(
            "PATCH",
            [{"attributes": {"type": "CampaignMember"}, **r} for r in records],
            action="update CampaignMembers",
        )

    @spending(Purpose.WRITE)
    def delete_members(self, ids: Sequence[str], *, use_bulk: bool = False) -> list[RecordResult]:
        """Remove members; one RecordResult per id, in input order."""
        valid = [validate_id(i, "CampaignMember") for i in ids]
        if use_bulk:
            return self._bulk("CampaignMember", "delete", [{"Id": i} for i in valid], key=_id_key)

        def delete(chunk: list[str]) -> list[RecordResult]:
            response = self.client.restful(
                "composite/sobjects",
                action="delete CampaignMembers",
                method="DELETE",
                params={"ids": ",".join(chunk), "allOrNone": "false"},
            )
            return _collection_results(response, len(chunk))

        results: list[RecordResult] = []
        for start in range(0, len(valid), COLLECTION_SIZE):
            chunk = valid[start : start + COLLECTION_SIZE]
            results.extend(self._until_unlocked("delete CampaignMembers", chunk, delete))
        return results

    def _collection(
        self, method: Method, records: list[dict[str, Any]], *, action: str
    ) -> list[RecordResult]:
        def write(chunk: list[dict[str, Any]]) -> list[RecordResult]:
            response = self.client.restful(
                "composite/sobjects",
                action=action,
                method=method,
                json={"allOrNone": False, "records": chunk},
            )
            return _collection_results(response, len(chunk))

        results: list[RecordResult] = []
        for start in range(0, len(records), COLLECTION_SIZE):
            chunk = records[start : start + COLLECTION_SIZE]
            results.extend(self._until_unlocked(action, chunk, write))
        return results

    def _until_unlocked(
        self,
        action: str,
        records: Sequence[_R],
        write: Callable[[list[_R]], list[RecordResult]],
    ) -> list[RecordResult]:
        """Write the records; those refused only because another transaction held a
        lock (UNABLE_TO_LOCK_ROW) are written again, alone, after a backoff with jitter,
        within the client's retry bounds. Refused records were not written, so writing
        them again is safe, creates included. Any still locked at the end come back as
        they are (transient: the chunk retries them later).
        """
        results: list[RecordResult | None] = [None] * len(records)
        pending = list(range(len(records)))

        def attempt() -> int:
            nonlocal pending
            written = write([records[i] for i in pending])
            for index, result in zip(pending, written, strict=True):
                results[index] = result
            pending = [i for i in pending if (results[i] or _UNWRITTEN).code == LOCKED]
            return len(pending)

        self.client.repeat_while(action, attempt, again=lambda locked: locked > 0, code=LOCKED)
        return [r or _UNWRITTEN for r in results]

    def _bulk(
        self,
        object_name: Literal["CampaignMember", "Lead"],
        operation: Literal["insert", "update", "delete"],
        records: list[dict[str, Any]],
        *,
        key: Any,
        retry: bool = True,
    ) -> list[RecordResult]:
        """Run a Bulk API 2.0 ingest job; map its result files back to input order.

        Rows refused for a lock go again in a smaller job (see `_until_unlocked`).
        """
        if not records:
            return []
        return self._until_unlocked(
            f"bulk {operation} {object_name}s",
            records,
            lambda part: self._bulk_job(object_name, operation, part, key=key, retry=retry),
        )

    def _bulk_job(
        self,
        object_name: Literal["CampaignMember", "Lead"],
        operation: Literal["insert", "update", "delete"],
        records: list[dict[str, Any]],
        *,
        key: Any,
        retry: bool,
    ) -> list[RecordResult]:
        poll = self.client.options.bulk_poll_seconds

        def run(sf: Any) -> tuple[list[dict[str, str]], list[dict[str, str]]]:
            handle = getattr(sf.bulk2, object_name)
            jobs = getattr(handle, operation)(records=records, wait=poll)
            successes: list[dict[str, str]] = []
            failures: list[dict[str, str]] = []
            for job in jobs:
                job_id = job["job_id"]
                successes += _csv_rows(handle.get_successful_records(job_id))
                failures += _csv_rows(handle.get_failed_records(job_id))
            return successes, failures

        action = f"bulk {operation} {object_name}s"
        call = self.client.call if retry else self.client.call_once
        successes, failures = call(action, run)
        pending: dict[tuple[str, ...], deque[int]] = defaultdict(deque)
        for index, record in enumerate(records):
            pending[key(record)].append(index)
        results: list[RecordResult | None] = [None] * len(records)
        for row in successes:
            slot = _take(pending, key(row))
            if slot is not None:
                results[slot] = RecordResult(
                    WriteOutcome.OK, row.get("sf__Id") or records[slot].get("Id"), None, None
                )
        for row in failures:
            slot = _take(pending, key(row))
            if slot is not None:
                results[slot] = _bulk_failure(row)
        return [
            r
            if r is not None
            else RecordResult(
                WriteOutcome.ERROR, None, "NO_RESULT", "Bulk API returned no result for this row"
            )
            for r in results
        ]


# -------------------------------------------------------------------- mapping helpers


def _valid_emails(emails: Iterable[str]) -> set[str]:
    """Normalised emails; malformed ones cannot match anybody and are left out."""
    valid = set()
    for email in emails:
        try:
            valid.add(normalize_email(email))
        except ValidationError:
            continue
    return valid


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


def _status_fields(status: MemberStatus) -> dict[str, Any]:
    return {
        "Label": status.label,
        "IsDefault": status.is_default,
        "HasResponded": status.has_responded,
        "SortOrder": status.sort_order,
    }


def _aggregate(row: Mapping[str, Any], alias: str, position: int) -> Any:
    """An aggregate column by alias, falling back to Salesforce's `expr0` naming."""
    if alias in row:
        return row[alias]
    return row.get(f"expr{position - 1}")


def _marks(
    given: Sequence[str],
    ids: list[str],
    since: Mapping[str, datetime | None] | datetime | None,
) -> dict[str, datetime | None]:
    if since is None or isinstance(since, datetime):
        return dict.fromkeys(ids, since)
    return {cid: since.get(raw, since.get(cid)) for raw, cid in zip(given, ids, strict=True)}


def _related(row: Mapping[str, Any], relation: str, field: str) -> Any:
    related = row.get(relation)
    return related.get(field) if isinstance(related, Mapping) else None


def _member(row: Mapping[str, Any]) -> SalesforceMember:
    source = "Contact" if row.get("ContactId") else "Lead"
    email = _related(row, source, "Email")
    return SalesforceMember(
        id=row["Id"],
        campaign_id=row["CampaignId"],
        lead_id=row.get("LeadId"),
        contact_id=row.get("ContactId"),
        status=row.get("Status") or "",
        email=str(email).strip().lower() if email else None,
        first_name=_related(row, source, "FirstName"),
        last_name=_related(row, source, "LastName"),
        company=_related(row, "Lead", "Company"),
        last_modified=parse_datetime(row.get("LastModifiedDate")),
        system_modstamp=parse_datetime(row.get("SystemModstamp")),
        is_deleted=bool(row.get("IsDeleted")),
    )


def _member_insert(row: NewMember) -> dict[str, str]:
    cid = validate_id(row.campaign_id, "Campaign")
    if row.contact_id:
        return {
            "CampaignId": cid,
            "ContactId": validate_id(row.contact_id, "Contact"),
            "Status": row.status,
        }
    if row.lead_id:
        return {"CampaignId": cid, "LeadId": validate_id(row.lead_id, "Lead"), "Status": row.status}
    raise ValidationError("a new campaign member needs a Lead or Contact id")


def _collection_results(response: Any, expected: int) -> list[RecordResult]:
    """sObject Collections results (request order) → RecordResults."""
    items = response if isinstance(response, list) else []
    if len(items) != expected:
        raise SalesforceError(
            f"Salesforce returned {len(items)} results for {expected} records",
            code="UNEXPECTED_RESPONSE",
        )
    results = []
    for item in items:
        if item.get("success"):
            results.append(RecordResult(WriteOutcome.OK, item.get("id"), None, None))
            continue
        errors = item.get("errors") or [{}]
        error = errors[0]
        code = str(error.get("statusCode") or error.get("errorCode") or "UNKNOWN")
        message = str(error.get("message") or "")
        if isinstance(error.get("duplicateResult"), Mapping):
            message = _duplicate_message(message, error["duplicateResult"])
        fields = [str(f) for f in error.get("fields") or []]
        results.append(RecordResult(classify(code, message, fields), item.get("id"), code, message))
    return results


def _create_call(
    records: list[dict[str, Any]], headers: dict[str, str]
) -> Callable[[Salesforce], Any]:
    def create(sf: Salesforce) -> Any:
        body = {"allOrNone": False, "records": records}
        return sf.restful("composite/sobjects", method="POST", json=body, headers=headers)

    return create


def _duplicate_message(message: str, result: Mapping[str, Any]) -> str:
    """A duplicate rule's refusal, naming the rule and the records it matched."""
    matches = [
        f"{match.get('entityType')} {found['record']['Id']}"
        for match in result.get("matchResults") or []
        for found in match.get("matchRecords") or []
        if isinstance(found.get("record"), Mapping) and found["record"].get("Id")
    ]
    named = f"it matches {', '.join(matches)}" if matches else "Salesforce named no match"
    rule = result.get("duplicateRule") or "a duplicate rule"
    return f"duplicate rule {rule} refused the new Lead ({named}): {message}"


def _csv_rows(text: str) -> list[dict[str, str]]:
    if not text.strip():
        return []
    return list(csv.DictReader(io.StringIO(text)))


def _insert_key(row: Mapping[str, str]) -> tuple[str, ...]:
    return (
        (row.get("CampaignId") or "")[:15],
        (row.get("LeadId") or "")[:15],
        (row.get("ContactId") or "")[:15],
    )


def _email_key(row: Mapping[str, str]) -> tuple[str, ...]:
    return ((row.get("Email") or "").strip().lower(),)


def _id_key(row: Mapping[str, str]) -> tuple[str, ...]:
    return ((row.get("Id") or row.get("sf__Id") or "")[:15],)


def _take(pending: dict[tuple[str, ...], deque[int]], key: tuple[str, ...]) -> int | None:
    queue = pending.get(key)
    return queue.popleft() if queue else None


def _bulk_failure(row: Mapping[str, str]) -> RecordResult:
    """`DUPLICATE_VALUE:Already a campaign member.:--` → RecordResult."""
    raw = row.get("sf__Error") or "UNKNOWN:"
    code, _, rest = raw.partition(":")
    message, separator, field_text = rest.rpartition(":")
    if not separator:
        message, field_text = rest, ""
    # Fields come as "Status --" or a bare "--" (none).
    fields = [f.strip() for f in field_text.removesuffix("--").split(",") if f.strip()]
    return RecordResult(classify(code, message, fields), row.get("sf__Id") or None, code, message)
