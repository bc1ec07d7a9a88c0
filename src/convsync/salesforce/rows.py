"""Salesforce's JSON rows → the sync's typed records, and the fields of the records the
sync writes: one place that knows Salesforce's field names and aggregate aliases."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from convsync.domain.errors import ValidationError
from convsync.domain.model import MemberStatus
from convsync.salesforce.records import NewMember, SalesforceMember
from convsync.salesforce.soql import parse_datetime, validate_id


def status_fields(status: MemberStatus) -> dict[str, Any]:
    return {
        "Label": status.label,
        "IsDefault": status.is_default,
        "HasResponded": status.has_responded,
        "SortOrder": status.sort_order,
    }


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
