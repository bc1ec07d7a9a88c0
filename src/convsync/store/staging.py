"""The staging table: Salesforce member rows a run read, kept until a chunk applies them.

Rows are staged per chunk, so a chunk task retried or redelivered reads exactly what
it read the first time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import delete, exists, func, or_, select
from sqlalchemy.orm import Session, aliased

from convsync.store.tables import ChunkRow, StagedMemberRow
from convsync.store.upsert import insert


@dataclass(frozen=True, slots=True)
class StagedMember:
    salesforce_member_id: str
    lead_id: str | None
    contact_id: str | None
    email: str | None
    first_name: str | None
    last_name: str | None
    company: str | None
    status: str | None
    is_deleted: bool
    last_modified: datetime
    system_modstamp: datetime


def put(session: Session, chunk_id: int, rows: Sequence[StagedMember]) -> None:
    if not rows:
        return
    session.execute(
        insert(session, StagedMemberRow.__table__).on_conflict_do_nothing(),
        [{"chunk_id": chunk_id, **_fields(row)} for row in rows],
    )


def _fields(row: StagedMember) -> dict[str, Any]:
    return {name: getattr(row, name) for name in StagedMember.__slots__}


def rows_of(session: Session, chunk_id: int) -> list[StagedMember]:
    # Plain columns, not ORM rows: a chunk reads 2,000 of them and never changes them.
    columns = [getattr(StagedMemberRow, n) for n in StagedMember.__slots__]
    rows = session.execute(
        select(*columns)
        .where(StagedMemberRow.chunk_id == chunk_id)
        .order_by(StagedMemberRow.system_modstamp, StagedMemberRow.salesforce_member_id)
    )
    return [StagedMember(*row) for row in rows]


def member_ids_since(session: Session, chunk_ids: Sequence[int], stamp: datetime) -> set[str]:
    """Salesforce member ids already staged at or after `stamp` (to de-duplicate a resume)."""
    if not chunk_ids:
        return set()
    return set(
        session.scalars(
            select(StagedMemberRow.salesforce_member_id).where(
                StagedMemberRow.chunk_id.in_(chunk_ids), StagedMemberRow.system_modstamp >= stamp
            )
        )
    )


def drop(session: Session, chunk_ids: Sequence[int]) -> None:
    if chunk_ids:
        session.execute(delete(StagedMemberRow).where(StagedMemberRow.chunk_id.in_(chunk_ids)))


def drop_superseded_deletions(session: Session, run_id: int, stage: str) -> None:
    """Drop staged deleted rows of people who also have a live row staged in this run.

    Salesforce keeps one row per CampaignMember id, so a person removed and added again
    reads as a deleted row *and* a live one; only the live one is what Salesforce holds.
    """
    run_chunks = select(ChunkRow.id).where(ChunkRow.run_id == run_id, ChunkRow.stage == stage)
    live = aliased(StagedMemberRow)
    same_person = or_(
        live.lead_id == StagedMemberRow.lead_id, live.contact_id == StagedMemberRow.contact_id
    )
    session.execute(
        delete(StagedMemberRow).where(
            StagedMemberRow.chunk_id.in_(run_chunks),
            StagedMemberRow.is_deleted.is_(True),
            exists().where(live.chunk_id.in_(run_chunks), live.is_deleted.is_(False), same_person),
        )
    )


def salesforce_ids(session: Session, run_id: int, stage: str) -> set[str]:
    """Every CampaignMember, Lead and Contact id of the rows this run's stage staged."""
    run_chunks = select(ChunkRow.id).where(ChunkRow.run_id == run_id, ChunkRow.stage == stage)
    rows = session.execute(
        select(
            StagedMemberRow.salesforce_member_id,
            StagedMemberRow.lead_id,
            StagedMemberRow.contact_id,
        ).where(StagedMemberRow.chunk_id.in_(run_chunks))
    )
    return {i for row in rows for i in row if i}


def count(session: Session, run_id: int, stage: str) -> int:
    """How many rows this run's stage staged (and has not applied yet)."""
    run_chunks = select(ChunkRow.id).where(ChunkRow.run_id == run_id, ChunkRow.stage == stage)
    return int(
        session.scalar(
            select(func.count())
            .select_from(StagedMemberRow)
            .where(StagedMemberRow.chunk_id.in_(run_chunks))
        )
        or 0
    )


def member_ids(session: Session, run_id: int, stage: str) -> set[str]:
    """Salesforce member ids staged by this run's stage so far."""
    run_chunks = select(ChunkRow.id).where(ChunkRow.run_id == run_id, ChunkRow.stage == stage)
    return set(
        session.scalars(
            select(StagedMemberRow.salesforce_member_id).where(
                StagedMemberRow.chunk_id.in_(run_chunks)
            )
        )
    )
