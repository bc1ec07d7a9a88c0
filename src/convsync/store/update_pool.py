"""The update pool: outbound chunks' member updates waiting on their chunk rows to be
written together with other runs' (`sync.update_pool` says why and when).

A pooled chunk stays claimed by the task that pooled it (its token); a flush takes whole
chunks with `FOR UPDATE SKIP LOCKED`, so two flushes never take the same one, and holds
them for a lease while it writes. A chunk claimed afresh (its lease ran out) drops what
it had pooled (`runs.claim_chunk`).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from convsync.store import runs
from convsync.store.runs import OPEN, ChunkClaim
from convsync.store.tables import ChunkRow, RunRow, utcnow

# A pooled chunk not yet taken by a flush, of a run still open (joined on the run).
_WAITING = (ChunkRow.state == "pending", ChunkRow.pooled_at.is_not(None), RunRow.state.in_(OPEN))


@dataclass(frozen=True, slots=True)
class PooledUpdate:
    """One member's update, with what recording its outcome needs."""

    person_id: int
    member_id: int
    email: str
    status: str
    updated_at: str  # ISO 8601: the row is JSON
    salesforce_member_id: str
    label: str


@dataclass(frozen=True, slots=True)
class PooledChunk:
    """A chunk a flush took, with its claim (to complete it) and its updates."""

    claim: ChunkClaim
    run_id: int
    link_id: int
    updates: list[PooledUpdate]


def pool(session: Session, claim: ChunkClaim, updates: list[PooledUpdate]) -> bool:
    """Leave the chunk's updates in the pool; False if the chunk is no longer ours."""
    entries = [asdict(u) for u in updates]
    return runs.update_held(session, claim, pooled_updates=entries, pooled_at=utcnow())


def take(
    session: Session, *, most: int, least: int, linger: timedelta, lease: timedelta
) -> list[PooledChunk]:
    """Whole chunks of at most `most` updates in all, oldest first, held for `lease`:
    none while fewer than `least` wait and the oldest has waited less than `linger`."""
    now = utcnow()
    rows = session.execute(
        select(
            ChunkRow.id,
            ChunkRow.run_id,
            RunRow.link_id,
            ChunkRow.number,
            ChunkRow.claimed_by,
            ChunkRow.member_id_lo,
            ChunkRow.member_id_hi,
            ChunkRow.size,
            ChunkRow.pooled_updates,
            ChunkRow.pooled_at,
        )
        .join(RunRow, RunRow.id == ChunkRow.run_id)
        .where(*_WAITING)
        .order_by(ChunkRow.pooled_at, ChunkRow.id)
        .with_for_update(of=ChunkRow, skip_locked=True)
    ).all()
    waiting = sum(len(r.pooled_updates or []) for r in rows)
    oldest: datetime | None = rows[0].pooled_at if rows else None
    if oldest is None or (waiting < least and now - oldest < linger):
        return []
    taken: list[PooledChunk] = []
    count = 0
    for row in rows:
        updates = [PooledUpdate(**u) for u in row.pooled_updates or []]
        if taken and count + len(updates) > most:
            break
        claim = ChunkClaim(
            row.id, row.number, row.claimed_by, row.member_id_lo, row.member_id_hi, row.size
        )
        taken.append(PooledChunk(claim, row.run_id, row.link_id, updates))
        count += len(updates)
    ids = [chunk.claim.chunk_id for chunk in taken]
    session.execute(
        update(ChunkRow).where(ChunkRow.id.in_(ids)).values(pooled_at=None, lease_until=now + lease)
    )
    session.execute(
        update(RunRow)
        .where(RunRow.id.in_({chunk.run_id for chunk in taken}), RunRow.state.in_(OPEN))
        .values(lease_until=now + lease)
    )
    return taken


def waiting(session: Session) -> int:
    """Chunks whose updates wait in the pool, not yet taken by a flush."""
    found = session.scalar(
        select(func.count())
        .select_from(ChunkRow)
        .join(RunRow, RunRow.id == ChunkRow.run_id)
        .where(*_WAITING)
    )
    return int(found or 0)
