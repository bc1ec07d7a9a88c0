"""Repository for the status translation (per campaign) and the status policies (per link)."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from convsync.domain.status_rules import (
    SPEC_POLICY,
    InboundUnknown,
    OutboundUnknown,
    StatusPolicy,
    StatusRules,
    status_rules,
)
from convsync.store import catalog
from convsync.store.tables import LinkRow, StatusMappingRow, utcnow


def mapping(session: Session, campaign_id: int) -> dict[str, str]:
    """Conversion status → Salesforce label, for the statuses whose labels differ."""
    rows = session.execute(
        select(StatusMappingRow.conversion_status, StatusMappingRow.salesforce_label)
        .where(StatusMappingRow.campaign_id == campaign_id)
        .order_by(StatusMappingRow.conversion_status)
    )
    return {row.conversion_status: row.salesforce_label for row in rows}


def replace_mapping(session: Session, campaign_id: int, pairs: dict[str, str]) -> None:
    """Store the campaign's whole (validated) mapping: one place decides what it holds."""
    session.execute(delete(StatusMappingRow).where(StatusMappingRow.campaign_id == campaign_id))
    session.flush()  # the unique (campaign, label) may move from one status to another
    now = utcnow()
    session.add_all(
        StatusMappingRow(
            campaign_id=campaign_id,
            conversion_status=status,
            salesforce_label=label,
            updated_at=now,
        )
        for status, label in sorted(pairs.items())
    )


def policy_of(link: LinkRow | None) -> StatusPolicy:
    if link is None:
        return SPEC_POLICY
    return StatusPolicy(
        InboundUnknown(link.inbound_unknown), OutboundUnknown(link.outbound_unknown)
    )


def set_policy(link: LinkRow, policy: StatusPolicy) -> None:
    link.inbound_unknown = policy.inbound_unknown.value
    link.outbound_unknown = policy.outbound_unknown.value


def rules_for(
    session: Session, campaign_id: int, policy: StatusPolicy = SPEC_POLICY
) -> StatusRules:
    """The campaign's type, mapping and the given policy, as one set of rules."""
    return status_rules(
        catalog.type_of_campaign(session, campaign_id), mapping(session, campaign_id), policy
    )


def link_rules(session: Session, link: LinkRow) -> StatusRules:
    """The rules a link's stages decide statuses with."""
    return rules_for(session, link.campaign_id, policy_of(link))
