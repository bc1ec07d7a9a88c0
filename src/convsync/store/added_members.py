"""Repository for the members the sync added to Salesforce (`added_salesforce_members`).

"Added by the sync" means: an outbound insert of the sync created that CampaignMember
(its id came back from the insert, or an earlier attempt's insert was found landed),
and the base still knows that same id, so it was neither removed nor replaced since.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from sqlalchemy import ColumnElement, and_, func, select, update
from sqlalchemy.orm import Session

from convsync.store.batches import batches
from convsync.store.tables import AddedMemberRow, MemberSyncStateRow, utcnow
from convsync.store.upsert import insert


def record(session: Session, link_id: int, run_id: int, added: Mapping[int, str]) -> None:
    """person id → the CampaignMember id the sync's insert created for them."""
    if not added:
        return
    now = utcnow()
    rows = [
        {
            "link_id": link_id,
            "person_id": person_id,
            "salesforce_member_id": member_id,
            "run_id": run_id,
            "added_at": now,
        }
        for person_id, member_id in sorted(added.items())
    ]
    session.execute(insert(session, AddedMemberRow).values(rows).on_conflict_do_nothing())


def _still_there(link_id: int) -> list[ColumnElement[bool]]:
    return [
        AddedMemberRow.link_id == link_id,
        AddedMemberRow.removed_at.is_(None),
        MemberSyncStateRow.salesforce_member_id == AddedMemberRow.salesforce_member_id,
    ]


def _joined_base() -> ColumnElement[bool]:
    return and_(
        MemberSyncStateRow.link_id == AddedMemberRow.link_id,
        MemberSyncStateRow.person_id == AddedMemberRow.person_id,
    )


def count_in_salesforce(session: Session, link_id: int) -> int:
    """How many members the sync added are still in Salesforce, as far as it knows."""
    found = session.scalar(
        select(func.count())
        .select_from(AddedMemberRow)
        .join(MemberSyncStateRow, _joined_base())
        .where(*_still_there(link_id))
    )
    return int(found or 0)


def in_salesforce(session: Session, link_id: int) -> list[tuple[int, str]]:
    """(row id, CampaignMember id) of the members the sync added that are still there."""
    rows = session.execute(
        select(AddedMemberRow.id, AddedMemberRow.salesforce_member_id)
        .join(MemberSyncStateRow, _joined_base())
        .where(*_still_there(link_id))
        .order_by(AddedMemberRow.id)
    )
    return [(row.id, row.salesforce_member_id) for row in rows]


def mark_removed(session: Session, row_ids: Sequence[int]) -> None:
    for batch in batches(row_ids):
        session.execute(
            update(AddedMemberRow).where(AddedMemberRow.id.in_(batch)).values(removed_at=utcnow())
        )
