"""Salesforce's JSON rows → the sync's typed records, and the fields of the records the
sync writes: one place that knows Salesforce's field names and aggregate aliases."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any

from convsync.domain.errors import SalesforceError, ValidationError
from convsync.domain.model import MemberStatus
from convsync.salesforce.records import NewMember, ReplicationWindow, SalesforceMember
from convsync.salesforce.soql import parse_datetime, utc, validate_id

# The delete log is asked about the two minutes before a read's bound (Salesforce reads
# start and end to the minute): the answer carries both dates whatever the window holds.
_DELETE_LOG_SPAN = timedelta(minutes=2)


def status_fields(status: MemberStatus) -> dict[str, Any]:
    return {
        "Label": status.label,
        "IsDefault": status.is_default,
        "HasResponded": status.has_responded,
        "SortOrder": status.sort_order,
    }


def member_status(row: Mapping[str, Any]) -> MemberStatus:
    """A CampaignMemberStatus row as the sync's MemberStatus."""
    return MemberStatus(
        label=row["Label"],
        is_default=bool(row.get("IsDefault")),
        has_responded=bool(row.get("HasResponded")),
        sort_order=int(row.get("SortOrder") or 0),
    )


def delete_log_params(until: datetime) -> dict[str, str]:
    """`start` and `end` for `sobjects/CampaignMember/deleted` asking how far the change
    logs reach as of `until`."""
    end = utc(until)
    return {"start": (end - _DELETE_LOG_SPAN).isoformat(), "end": end.isoformat()}


def replication_window(answer: Mapping[str, Any]) -> ReplicationWindow:
    """The reach of the change logs, from a `sobjects/X/deleted` answer."""
    earliest = parse_datetime(answer.get("earliestDateAvailable"))
    covered = parse_datetime(answer.get("latestDateCovered"))
    if earliest is None or covered is None:
        raise SalesforceError("Salesforce's delete log answered without its dates")
    return ReplicationWindow(earliest, covered)


def aggregate(row: Mapping[str, Any], alias: str, position: int) -> Any:
    """An aggregate column by alias, falling back to Salesforce's `expr0` naming."""
    if alias in row:
        return row[alias]
    return row.get(f"expr{position - 1}")


def marks(
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


def member(row: Mapping[str, Any]) -> SalesforceMember:
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


def member_insert(row: NewMember) -> dict[str, str]:
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
