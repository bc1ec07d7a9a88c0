"""A campaign's members in Conversion, read under lock and written in one statement per chunk.

Rows are locked in primary-key order so concurrent chunks cannot deadlock.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from convsync.store.batches import batches
from convsync.store.tables import MemberRow
from convsync.store.upsert import upsert


@dataclass(frozen=True, slots=True)
class LocalMember:
    member_id: int | None
    person_id: int
    status: str | None
    updated_at: datetime | None
    removed: bool


def lock_members(
    session: Session, campaign_id: int, person_ids: Iterable[int]
) -> dict[int, LocalMember]:
    """The campaign's rows for these people, locked in id order (no deadlocks)."""
    wanted = sorted(set(person_ids))
    found: dict[int, LocalMember] = {}
    for batch in batches(wanted):
        rows = session.execute(
            select(
                MemberRow.id,
                MemberRow.person_id,
                MemberRow.status,
                MemberRow.updated_at,
                MemberRow.removed_at,
            )
            .where(
                MemberRow.campaign_id == campaign_id,
                MemberRow.person_id.in_(batch),
            )
            .order_by(MemberRow.id)
            .with_for_update()
        )
        for r in rows:
            found[r.person_id] = LocalMember(
                r.id, r.person_id, r.status, r.updated_at, r.removed_at is not None
            )
    return found


def write_members(
    session: Session,
    campaign_id: int,
    type_id: int,
    values: Sequence[tuple[int, str | None, datetime]],
) -> None:
    """Set (person, status or None = removed, updated_at) rows, inserting as needed."""
    if not values:
        return
    rows = [
        {
            "campaign_id": campaign_id,
            "type_id": type_id,
            "person_id": pid,
            "status": status,
            "updated_at": at,
            "removed_at": None if status is not None else at,
        }
        for pid, status, at in sorted(values)
    ]
    upsert(
        session,
        MemberRow.__table__,
        rows,
        key=[MemberRow.campaign_id, MemberRow.person_id],
        overwrite=["status", "updated_at", "removed_at"],
    )
