"""Dead letters: members an outbound write failed for, open until they land or settle."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, delete, select, update
from sqlalchemy.orm import Session

from convsync.store.batches import batches
from convsync.store.pending_pushes import still_to_push
from convsync.store.tables import CampaignRow, LinkRow, PersonRow, SyncErrorRow, utcnow
from convsync.store.upsert import upsert


@dataclass(frozen=True, slots=True)
class DeadLetter:
    """A letter as `convsync dlq list` shows it: where, who, why, and how often tried."""

    id: int
    campaign: str | None
    email: str | None
    direction: str
    code: str
    message: str
    attempts: int
    created_at: datetime
    last_attempt_at: datetime
    resolved_at: datetime | None


@dataclass(frozen=True, slots=True)
class NewLetter:
    """An outbound write Salesforce refused for a member, to record (`record_dead_letters`)."""

    person_id: int
    code: str
    message: str
    payload: dict[str, Any]


@dataclass(frozen=True, slots=True)
class OpenLetter:
    id: int
    link_id: int


def for_campaign(
    session: Session, campaign_id: int | None, *, include_resolved: bool
) -> list[DeadLetter]:
    """The letters of one campaign (all campaigns: None), oldest first."""
    query = (
        select(SyncErrorRow, CampaignRow.name, PersonRow.email)
        .outerjoin(LinkRow, LinkRow.id == SyncErrorRow.link_id)
        .outerjoin(CampaignRow, CampaignRow.id == LinkRow.campaign_id)
        .outerjoin(PersonRow, PersonRow.id == SyncErrorRow.person_id)
        .order_by(SyncErrorRow.id)
    )
    if campaign_id is not None:
        query = query.where(LinkRow.campaign_id == campaign_id)
    if not include_resolved:
        query = query.where(SyncErrorRow.resolved_at.is_(None))
    return [
        DeadLetter(
            e.id,
            name,
            email,
            e.direction,
            e.code,
            e.message,
            e.attempts,
            e.created_at,
            e.last_attempt_at,
            e.resolved_at,
        )
        for e, name, email in session.execute(query)
    ]


def open_letters(
    session: Session, ids: Sequence[int] = (), link_id: int | None = None
) -> list[OpenLetter]:
    """Open letters that belong to a link: all, or those with these ids, or of one link."""
    query = select(SyncErrorRow.id, SyncErrorRow.link_id).where(
        SyncErrorRow.resolved_at.is_(None), SyncErrorRow.link_id.is_not(None)
    )
    if ids:
        query = query.where(SyncErrorRow.id.in_(list(ids)))
    if link_id is not None:
        query = query.where(SyncErrorRow.link_id == link_id)
    return [OpenLetter(row.id, int(row.link_id)) for row in session.execute(query)]


def campaign_of_open_letter(session: Session, letter_id: int) -> str | None:
    """The campaign an open dead letter belongs to, if it exists at all."""
    return session.scalar(
        select(CampaignRow.name)
        .join(LinkRow, LinkRow.campaign_id == CampaignRow.id)
        .join(SyncErrorRow, SyncErrorRow.link_id == LinkRow.id)
        .where(SyncErrorRow.id == letter_id, SyncErrorRow.resolved_at.is_(None))
    )


def purge(session: Session, campaign_id: int | None, *, resolved_only: bool) -> int:
    """Delete letters (resolved ones only, or all) of a campaign or of every campaign."""
    query = delete(SyncErrorRow)
    if resolved_only:
        query = query.where(SyncErrorRow.resolved_at.is_not(None))
    if campaign_id is not None:
        link_ids = select(LinkRow.id).where(LinkRow.campaign_id == campaign_id)
        query = query.where(SyncErrorRow.link_id.in_(link_ids))
    return int(session.execute(query).rowcount or 0)  # type: ignore[attr-defined]  # CursorResult


def record_task_failure(
    session: Session,
    *,
    link_id: int | None,
    run_id: int | None,
    code: str,
    message: str,
    payload: dict[str, Any],
) -> None:
    """A letter for a task that exhausted its retries (no member: direction `task`)."""
    now = utcnow()
    session.add(
        SyncErrorRow(
            link_id=link_id,
            person_id=None,
            run_id=run_id,
            direction="task",
            code=code,
            message=message[:2_000],
            payload=payload,
            attempts=1,
            created_at=now,
            last_attempt_at=now,
        )
    )


def record_dead_letters(
    session: Session,
    link_id: int,
    run_id: int,
    letters: Sequence[NewLetter],
) -> None:
    """One open letter per member; a repeat in a later
    run bumps `attempts`, a repeat in the same run (a redelivered chunk) changes nothing."""
    if not letters:
        return
    now = utcnow()
    rows = [
        {
            "link_id": link_id,
            "person_id": letter.person_id,
            "run_id": run_id,
            "direction": "outbound",
            "code": letter.code,
            "message": letter.message[:2_000],
            "payload": letter.payload,
            "attempts": 1,
            "created_at": now,
            "last_attempt_at": now,
        }
        for letter in sorted(letters, key=lambda x: x.person_id)
    ]
    upsert(
        session,
        SyncErrorRow.__table__,
        rows,
        key=[SyncErrorRow.link_id, SyncErrorRow.person_id, SyncErrorRow.direction],
        key_where=and_(SyncErrorRow.resolved_at.is_(None), SyncErrorRow.person_id.is_not(None)),
        overwrite=["run_id", "code", "message", "payload", "last_attempt_at"],
        computed=lambda _: {"attempts": SyncErrorRow.attempts + 1},
        only_if=lambda excluded: SyncErrorRow.run_id.is_distinct_from(excluded.run_id),
    )


def resolve_dead_letters(session: Session, link_id: int, person_ids: Iterable[int]) -> None:
    ids = sorted(set(person_ids))
    if not ids or not _has_open_letters(session, link_id):
        # The usual case: one indexed probe instead of an UPDATE per 1,000 people.
        return
    for batch in batches(ids):
        session.execute(
            update(SyncErrorRow)
            .where(
                SyncErrorRow.link_id == link_id,
                SyncErrorRow.resolved_at.is_(None),
                SyncErrorRow.person_id.in_(batch),
            )
            .values(resolved_at=utcnow())
        )


def _has_open_letters(session: Session, link_id: int) -> bool:
    return (
        session.scalar(
            select(SyncErrorRow.id)
            .where(
                SyncErrorRow.link_id == link_id,
                SyncErrorRow.resolved_at.is_(None),
                SyncErrorRow.person_id.is_not(None),  # the partial index uq_error_open_member
            )
            .limit(1)
        )
        is not None
    )


def resolve_settled_dead_letters(session: Session, link_id: int, campaign_id: int) -> None:
    """Resolve open outbound letters whose member no longer needs pushing.

    A letter otherwise resolves only when its member lands in Salesforce; a member
    removed in Conversion meanwhile, or whose value Salesforce now agrees with, never
    lands and would stay in the queue (and keep the scheduler polling) for good.
    """
    session.execute(
        update(SyncErrorRow)
        .where(
            SyncErrorRow.link_id == link_id,
            SyncErrorRow.direction == "outbound",
            SyncErrorRow.resolved_at.is_(None),
            SyncErrorRow.person_id.is_not(None),
            SyncErrorRow.person_id.not_in(still_to_push(link_id, campaign_id)),
        )
        .values(resolved_at=utcnow())
    )
