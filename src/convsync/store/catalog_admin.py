"""Renaming and removing what `types create` / `campaigns create` made: the SQL only.

The rules (what may be renamed or removed, and when) are in `sync/catalog_admin.py`.
"""

from __future__ import annotations

from sqlalchemy import delete, func, select, update
from sqlalchemy.orm import Session

from convsync.domain.names import name_key
from convsync.store.tables import (
    CampaignRow,
    CampaignTypeRow,
    LinkRow,
    MemberRow,
    SkippedMemberRow,
    TypeStatusRow,
)


def rename_type(session: Session, type_id: int, new_name: str) -> None:
    session.execute(
        update(CampaignTypeRow)
        .where(CampaignTypeRow.id == type_id)
        .values(name=new_name, name_key=name_key(new_name))
    )


def rename_campaign(session: Session, campaign_id: int, new_name: str) -> None:
    session.execute(
        update(CampaignRow)
        .where(CampaignRow.id == campaign_id)
        .values(name=new_name, name_key=name_key(new_name))
    )


def add_status(
    session: Session, type_id: int, label: str, *, is_default: bool, has_responded: bool
) -> None:
    """Append a status to the type (last in order); as the default, it replaces the old one."""
    if is_default:
        # One default per type (a unique partial index): clear the old one first.
        session.execute(
            update(TypeStatusRow).where(TypeStatusRow.type_id == type_id).values(is_default=False)
        )
        session.flush()
    last = session.scalar(
        select(func.max(TypeStatusRow.sort_order)).where(TypeStatusRow.type_id == type_id)
    )
    session.add(
        TypeStatusRow(
            type_id=type_id,
            label=label,
            is_default=is_default,
            has_responded=has_responded,
            sort_order=(last or 0) + 1,
        )
    )
    session.flush()


def members_holding(session: Session, type_id: int, label: str) -> list[tuple[str, int]]:
    """(campaign name, members) for each campaign whose members hold the status."""
    rows = session.execute(
        select(CampaignRow.name, func.count())
        .join(MemberRow, MemberRow.campaign_id == CampaignRow.id)
        .where(MemberRow.type_id == type_id, MemberRow.status == label)
        .group_by(CampaignRow.name)
        .order_by(CampaignRow.name)
    )
    return [(name, int(n)) for name, n in rows]


def remove_status(session: Session, type_id: int, label: str) -> None:
    session.execute(
        delete(TypeStatusRow).where(TypeStatusRow.type_id == type_id, TypeStatusRow.label == label)
    )


def campaigns_of_type(session: Session, type_id: int) -> list[int]:
    return list(session.scalars(select(CampaignRow.id).where(CampaignRow.type_id == type_id)))


def skipped_with_status(session: Session, campaign_ids: list[int], label: str) -> int:
    """Skip records (Salesforce members not imported) whose status is `label`, any case."""
    if not campaign_ids:
        return 0
    return int(
        session.scalar(
            select(func.count())
            .select_from(SkippedMemberRow)
            .join(LinkRow, LinkRow.id == SkippedMemberRow.link_id)
            .where(
                LinkRow.campaign_id.in_(campaign_ids),
                func.lower(SkippedMemberRow.status) == label.lower(),
            )
        )
        or 0
    )


def delete_campaign(session: Session, campaign_id: int) -> int:
    """Delete the campaign, its members (tombstones too) and its past links; returns how
    many current members went with it."""
    members = int(
        session.scalar(
            select(func.count())
            .select_from(MemberRow)
            .where(MemberRow.campaign_id == campaign_id, MemberRow.status.is_not(None))
        )
        or 0
    )
    session.execute(delete(MemberRow).where(MemberRow.campaign_id == campaign_id))
    session.execute(delete(LinkRow).where(LinkRow.campaign_id == campaign_id))
    session.execute(delete(CampaignRow).where(CampaignRow.id == campaign_id))
    return members
