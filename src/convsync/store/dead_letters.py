"""Dead letters: members an outbound write failed for, open until they land or settle."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import and_, select, update
from sqlalchemy.orm import Session

from convsync.store.batches import batches
from convsync.store.pending_pushes import still_to_push
from convsync.store.tables import SyncErrorRow, utcnow
from convsync.store.upsert import upsert


def record_dead_letters(
    session: Session,
    link_id: int,
    run_id: int,
    letters: Sequence[tuple[int, str, str, dict[str, Any]]],
) -> None:
    """(person, code, message, payload): one open letter per member; a repeat in a later
    run bumps `attempts`, a repeat in the same run (a redelivered chunk) changes nothing."""
    if not letters:
        return
    now = utcnow()
    rows = [
        {
            "link_id": link_id,
            "person_id": pid,
            "run_id": run_id,
            "direction": "outbound",
            "code": code,
            "message": message[:2_000],
            "payload": payload,
            "attempts": 1,
            "created_at": now,
            "last_attempt_at": now,
        }
        for pid, code, message, payload in sorted(letters, key=lambda x: x[0])
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
