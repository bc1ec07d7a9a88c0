"""Repository for sync runs and their chunks: the per-campaign lock and the stage barrier.

The lock is a partial unique index (one queued/running run per link). The barrier is a
row per chunk, marked done in the same transaction as the chunk's writes; the task that
finds no pending chunk left moves the run to its next stage with one guarded UPDATE.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, func, or_, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from convsync.domain.model import MemberStatus, RunState
from convsync.store.tables import ChunkRow, LinkRow, RunRow, utcnow

# A run as use cases read and update it (they name no table row).
Run = RunRow

# The states of a run that holds its link's lock (the partial unique index).
OPEN = (RunState.QUEUED, RunState.RUNNING)


@dataclass(frozen=True, slots=True)
class ChunkClaim:
    chunk_id: int
    number: int
    token: str
    member_id_lo: int | None
    member_id_hi: int | None
    # Members the chunk was planned with: the outbound stage's write path hangs on it.
    size: int = 0


def open_run(
    session: Session, link_id: int, kind: str, lease: timedelta, *, full_compare: bool = False
) -> int | None:
    """Start a run unless one is already open for this link (then None)."""
    now = utcnow()
    run = RunRow(
        link_id=link_id,
        kind=kind,
        full_compare=full_compare,
        state=RunState.QUEUED,
        stage="inbound",
        started_at=now,
        lease_until=now + lease,
        counts={},
        created_at=now,
    )
    try:
        with session.begin_nested():
            session.add(run)
            session.flush()
    except IntegrityError:
        return None
    return run.id


def discard_unqueued_run(session: Session, run_id: int) -> None:
    """Delete a run whose first message never reached the broker: nothing ran, and an
    open run left behind would make the next request join it instead of starting one."""
    session.execute(
        delete(RunRow).where(
            RunRow.id == run_id,
            RunRow.state == RunState.QUEUED,
            ~exists().where(ChunkRow.run_id == RunRow.id),
        )
    )


def open_run_for(session: Session, link_id: int) -> RunRow | None:
    return session.scalar(select(RunRow).where(RunRow.link_id == link_id, RunRow.state.in_(OPEN)))


def get_run(session: Session, run_id: int, *, lock: bool = False) -> RunRow | None:
    query = select(RunRow).where(RunRow.id == run_id)
    if lock:
        query = query.with_for_update()
    return session.scalar(query)


def extend_lease(session: Session, run_id: int, lease: timedelta) -> None:
    """The run is moving: hold it for `lease` more (and forget why it was paused)."""
    session.execute(
        update(RunRow)
        .where(RunRow.id == run_id, RunRow.state.in_(OPEN))
        .values(lease_until=utcnow() + lease, state=RunState.RUNNING, error=None)
    )


def note(session: Session, run_id: int, reason: str) -> None:
    """Say why an open run is not moving right now (cleared when it moves again)."""
    session.execute(
        update(RunRow)
        .where(RunRow.id == run_id, RunRow.state.in_(OPEN))
        .values(error=reason[:2_000])
    )


def hold(
    session: Session, run_id: int, until: datetime, reason: str, chunk_token: str | None
) -> None:
    """Keep an open run (and the chunk `chunk_token` holds) leased until `until`, with
    the reason shown meanwhile: the reconciler leaves a waiting run alone."""
    session.execute(
        update(RunRow)
        .where(RunRow.id == run_id, RunRow.state.in_(OPEN))
        .values(lease_until=until, error=reason[:2_000])
    )
    if chunk_token is not None:
        session.execute(
            update(ChunkRow)
            .where(
                ChunkRow.run_id == run_id,
                ChunkRow.claimed_by == chunk_token,
                ChunkRow.state == "pending",
            )
            .values(lease_until=until)
        )


def add_chunk(
    session: Session,
    run_id: int,
    stage: str,
    number: int,
    *,
    size: int,
    lease: timedelta,
    lo: int | None = None,
    hi: int | None = None,
    counts: dict[str, int] | None = None,
) -> int:
    """Add a pending chunk; `counts` are figures known when planning (kept when it lands)."""
    chunk = ChunkRow(
        run_id=run_id,
        stage=stage,
        number=number,
        state="pending",
        size=size,
        member_id_lo=lo,
        member_id_hi=hi,
        lease_until=utcnow() + lease,
        attempts=0,
        counts=counts or {},
    )
    session.add(chunk)
    session.flush()
    return chunk.id


def may_add_chunk(session: Session, run_id: int, stage: str, number: int) -> bool:
    """Whether the planner of `stage` may add chunk `number` now; locks the run row.

    A stage task can be delivered twice (a redelivery, a double publish, the reconciler
    restarting a stage whose planner was only slow). The lock makes two planners take
    turns; the one that finds the stage planned, the run moved on, or chunk `number`
    (or a later one) already added by the other stops, and the other carries on.
    """
    run = session.scalar(select(RunRow).where(RunRow.id == run_id).with_for_update())
    if run is None or run.state not in OPEN or run.stage != stage or run.stage_planned:
        return False
    ahead = session.scalar(
        select(ChunkRow.id)
        .where(ChunkRow.run_id == run_id, ChunkRow.stage == stage, ChunkRow.number >= number)
        .limit(1)
    )
    return ahead is None


def chunk_numbers(session: Session, run_id: int, stage: str, *, pending_only: bool) -> list[int]:
    query = select(ChunkRow.number).where(ChunkRow.run_id == run_id, ChunkRow.stage == stage)
    if pending_only:
        query = query.where(ChunkRow.state == "pending")
    return list(session.scalars(query.order_by(ChunkRow.number)))


def claim_chunk(
    session: Session, run_id: int, stage: str, number: int, *, token: str, lease: timedelta
) -> ChunkClaim | None:
    """Take a pending chunk whose lease is free (never claimed, or expired). None: not ours."""
    now = utcnow()
    row = session.execute(
        update(ChunkRow)
        .where(
            ChunkRow.run_id == run_id,
            ChunkRow.stage == stage,
            ChunkRow.number == number,
            ChunkRow.state == "pending",
            # Free, ours (a retry of the same task keeps its id), or abandoned.
            or_(
                ChunkRow.claimed_by.is_(None),
                ChunkRow.claimed_by == token,
                ChunkRow.lease_until < now,
            ),
        )
        # A fresh claim decides afresh: whatever an earlier one pooled is dropped.
        .values(
            claimed_by=token,
            lease_until=now + lease,
            attempts=ChunkRow.attempts + 1,
            pooled_updates=None,
            pooled_at=None,
        )
        .returning(
            ChunkRow.id,
            ChunkRow.number,
            ChunkRow.member_id_lo,
            ChunkRow.member_id_hi,
            ChunkRow.size,
        )
    ).first()
    if row is None:
        return None
    return ChunkClaim(row.id, row.number, token, row.member_id_lo, row.member_id_hi, row.size)


def update_held(session: Session, claim: ChunkClaim, **values: Any) -> bool:
    """Set `values` on a pending chunk this claim still holds; False if it is not ours."""
    held = session.execute(
        update(ChunkRow)
        .where(
            ChunkRow.id == claim.chunk_id,
            ChunkRow.claimed_by == claim.token,
            ChunkRow.state == "pending",
        )
        .values(**values)
        .returning(ChunkRow.id)
    ).first()
    return held is not None


def release_claim(session: Session, claim: ChunkClaim, lease: timedelta) -> bool:
    """Give up a claim this task holds (its chunk's task is sent again); the chunk keeps
    a queued lease, so the reconciler waits for that task. False if it was not ours."""
    return update_held(
        session,
        claim,
        claimed_by=None,
        lease_until=utcnow() + lease,
        pooled_updates=None,
        pooled_at=None,
    )


def renew_chunk_lease(session: Session, claim: ChunkClaim, lease: timedelta) -> bool:
    """Hold a chunk this task still claims for `lease` more; False if it is no longer ours."""
    return update_held(session, claim, lease_until=utcnow() + lease)


def complete_chunk(session: Session, claim: ChunkClaim, counts: dict[str, int]) -> bool:
    """Mark the chunk done, if this task still holds its claim (else the caller rolls back).

    `counts` join those the planner gave the chunk.
    """
    planned = session.scalar(select(ChunkRow.counts).where(ChunkRow.id == claim.chunk_id))
    counts = {**(planned or {}), **counts}
    return update_held(
        session, claim, state="done", done_at=utcnow(), counts=counts, lease_until=None
    )


def close_stage(session: Session, run_id: int, stage: str, next_stage: str) -> RunRow | None:
    """The barrier: move the run on when its stage is planned and no chunk is pending.

    Exactly one caller wins (the UPDATE re-checks `stage` under the row lock).
    """
    pending = exists().where(
        ChunkRow.run_id == run_id, ChunkRow.stage == stage, ChunkRow.state == "pending"
    )
    moved = session.execute(
        update(RunRow)
        .where(
            RunRow.id == run_id,
            RunRow.stage == stage,
            RunRow.stage_planned.is_(True),
            RunRow.state.in_(OPEN),
            ~pending,
        )
        .values(stage=next_stage, stage_planned=False, stage_attempts=0)
        .returning(RunRow.id)
    ).first()
    if moved is None:
        return None
    return get_run(session, run_id)


def stage_counts(session: Session, run_id: int) -> dict[str, int]:
    totals: dict[str, int] = {}
    for counts in session.scalars(select(ChunkRow.counts).where(ChunkRow.run_id == run_id)):
        for key, value in (counts or {}).items():
            totals[key] = totals.get(key, 0) + int(value)
    return totals


def finish_run(session: Session, run_id: int, state: RunState, error: str | None = None) -> None:
    values: dict[str, Any] = {
        "state": state,
        "finished_at": utcnow(),
        "lease_until": None,
        "counts": stage_counts(session, run_id),
    }
    if state == RunState.SUCCEEDED:
        values["stage"] = "done"
        values["error"] = None  # a pause it came through is no error
    if error is not None:
        values["error"] = error[:2_000]
    session.execute(
        update(RunRow).where(RunRow.id == run_id, RunRow.state.in_(OPEN)).values(**values)
    )


@dataclass(frozen=True, slots=True)
class Stalled:
    run_id: int
    stage: str
    stage_planned: bool
    stage_attempts: int
    expired_chunks: list[tuple[int, int]]  # (number, attempts)


def stalled_runs(session: Session) -> list[Stalled]:
    """Open runs whose lease expired (their worker died or their message was lost)."""
    now = utcnow()
    runs = session.execute(
        select(RunRow.id, RunRow.stage, RunRow.stage_planned, RunRow.stage_attempts)
        .where(RunRow.state.in_(OPEN), RunRow.lease_until < now)
        .order_by(RunRow.id)
    ).all()
    stalled = []
    for run in runs:
        chunks = session.execute(
            select(ChunkRow.number, ChunkRow.attempts).where(
                ChunkRow.run_id == run.id,
                ChunkRow.stage == run.stage,
                ChunkRow.state == "pending",
                or_(ChunkRow.lease_until.is_(None), ChunkRow.lease_until < now),
            )
        ).all()
        stalled.append(
            Stalled(
                run.id,
                run.stage,
                run.stage_planned,
                run.stage_attempts,
                [(c.number, c.attempts) for c in chunks],
            )
        )
    return stalled


def take_over(session: Session, run_id: int, lease: timedelta) -> bool:
    """Take a stalled run's lease for the caller (the reconciler); False if it is not ours.

    Only a run still open with an expired lease is taken, so of two reconcilers (two
    beats, or a tick redelivered) one wins and the other leaves the run alone.
    """
    now = utcnow()
    taken = session.execute(
        update(RunRow)
        .where(RunRow.id == run_id, RunRow.state.in_(OPEN), RunRow.lease_until < now)
        .values(lease_until=now + lease, state=RunState.RUNNING)
        .returning(RunRow.id)
    ).first()
    return taken is not None


def release_chunk_leases(
    session: Session, run_id: int, stage: str, numbers: list[int], lease: timedelta
) -> list[int]:
    """Re-dispatched chunks get a fresh queued lease, so the reconciler waits for them.

    Only chunks still pending with an expired lease are released (a live task may have
    claimed one since they were read); returns the numbers released.
    """
    now = utcnow()
    released = session.scalars(
        update(ChunkRow)
        .where(
            ChunkRow.run_id == run_id,
            ChunkRow.stage == stage,
            ChunkRow.number.in_(numbers),
            ChunkRow.state == "pending",
            or_(ChunkRow.lease_until.is_(None), ChunkRow.lease_until < now),
        )
        .values(claimed_by=None, lease_until=now + lease)
        .returning(ChunkRow.number)
    )
    return sorted(released)


def last_runs(session: Session, link_ids: list[int]) -> dict[int, RunRow]:
    latest = (
        select(RunRow.link_id, func.max(RunRow.id).label("id"))
        .where(RunRow.link_id.in_(link_ids))
        .group_by(RunRow.link_id)
        .subquery()
    )
    rows = session.scalars(select(RunRow).join(latest, and_(RunRow.id == latest.c.id)))
    return {r.link_id: r for r in rows}


def last_full_compares(session: Session, link_ids: list[int]) -> dict[int, datetime]:
    """When each link's Salesforce members were last all read and compared: the start of
    its latest successful initial sync or drift repair."""
    if not link_ids:
        return {}
    rows = session.execute(
        select(RunRow.link_id, func.max(RunRow.started_at).label("started"))
        .where(
            RunRow.link_id.in_(link_ids),
            RunRow.state == RunState.SUCCEEDED,
            or_(RunRow.full_compare.is_(True), RunRow.kind == "initial"),
        )
        .group_by(RunRow.link_id)
    )
    return {row.link_id: row.started for row in rows}


def link_ids_with_open_runs(session: Session) -> set[int]:
    return set(session.scalars(select(RunRow.link_id).where(RunRow.state.in_(OPEN))))


def mark_links(session: Session, link_id: int, **marks: datetime | bool | None) -> None:
    session.execute(update(LinkRow).where(LinkRow.id == link_id).values(**marks))


@dataclass(frozen=True, slots=True)
class ChunkRef:
    id: int
    number: int


def stage_chunks(session: Session, run_id: int, stage: str) -> list[ChunkRef]:
    """Every chunk the run's stage planned so far (done or not)."""
    rows = session.execute(
        select(ChunkRow.id, ChunkRow.number).where(
            ChunkRow.run_id == run_id, ChunkRow.stage == stage
        )
    )
    return [ChunkRef(r.id, r.number) for r in rows]


def last_chunk_done_at(session: Session, run_id: int, stage: str) -> datetime | None:
    """When the stage's last chunk landed (None: it had no chunk)."""
    return session.scalar(
        select(func.max(ChunkRow.done_at)).where(ChunkRow.run_id == run_id, ChunkRow.stage == stage)
    )


def of_campaign(session: Session, campaign_id: int) -> list[RunRow]:
    """Every run of the campaign's links, oldest first."""
    return list(
        session.scalars(
            select(RunRow)
            .join(LinkRow, LinkRow.id == RunRow.link_id)
            .where(LinkRow.campaign_id == campaign_id)
            .order_by(RunRow.id)
        )
    )


def keep_statuses_read_ahead(
    session: Session, run_id: int, statuses: list[MemberStatus], read_at: datetime
) -> None:
    """Keep on the run the campaign's statuses a tick read for it, and when."""
    session.execute(
        update(RunRow)
        .where(RunRow.id == run_id)
        .values(
            statuses_read_ahead=[asdict(status) for status in statuses],
            statuses_read_at=read_at,
        )
    )


def statuses_read_ahead(
    session: Session, run_id: int
) -> tuple[list[MemberStatus], datetime] | None:
    """The campaign's statuses a tick read for this run and when, if it did."""
    row = session.execute(
        select(RunRow.statuses_read_ahead, RunRow.statuses_read_at).where(RunRow.id == run_id)
    ).one_or_none()
    if row is None or row.statuses_read_ahead is None or row.statuses_read_at is None:
        return None
    return [MemberStatus(**status) for status in row.statuses_read_ahead], row.statuses_read_at
