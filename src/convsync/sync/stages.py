"""Run and stage bookkeeping shared by the inbound and outbound stages.

A run is `inbound → outbound → done`. Each stage is planned by one task (which writes a
chunk row per piece of work) and carried out by chunk tasks; the task that finds the
last chunk done closes the barrier and enqueues what comes next, after its commit.
"""

from __future__ import annotations

import random
import uuid
from dataclasses import dataclass
from datetime import timedelta

import structlog
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from convsync.domain.model import Stage
from convsync.store import links, runs
from convsync.store.db import transaction
from convsync.store.runs import ChunkClaim
from convsync.store.tables import ChunkRow, LinkRow, RunRow, utcnow
from convsync.sync.context import SyncContext

log = structlog.get_logger(__name__)

# A chunk waiting in the queue (never claimed yet, or republished) holds this many run
# leases. Past it, a stalled run's reconciler republishes the chunk: a message a killed
# worker had fetched but not started costs two lease periods, and a backlog queued behind
# other campaigns' work is republished at most once per two periods (duplicates are no-ops).
QUEUED_LEASE_FACTOR = 2


def queued_lease(ctx: SyncContext) -> timedelta:
    """The lease of a chunk that is queued, not being worked on."""
    return ctx.options.lease * QUEUED_LEASE_FACTOR


class LostClaimError(Exception):
    """Another task took this chunk over (our lease expired): our work is discarded."""


@dataclass(frozen=True, slots=True)
class RunView:
    """A run and its link, read at the start of a task."""

    run_id: int
    link_id: int
    campaign_id: int
    salesforce_campaign_id: str
    stage: str
    stage_planned: bool


def load_open_run(session: Session, run_id: int, stage: Stage) -> RunView | None:
    """The run, if it is still open and at `stage` (a late or duplicate task sees None).

    Binds the run's campaign, link and stage to the log context of the task at hand.
    """
    run = runs.get_run(session, run_id)
    if run is None:
        # Queued by a command on another database (same broker): the message is dropped
        # here, and the command sees its run never start. Say so where ops will look.
        log.warning(
            "run not found in this worker's database: the command that queued it uses "
            "another CONVSYNC_DATABASE_URL than this worker",
            run_id=run_id,
        )
        return None
    if run.state not in ("queued", "running") or run.stage != stage.value:
        return None
    link = links.get_link(session, run.link_id)
    structlog.contextvars.bind_contextvars(
        run_id=run.id, link_id=link.id, campaign_id=link.campaign_id, stage=run.stage
    )
    return RunView(
        run.id, link.id, link.campaign_id, link.salesforce_campaign_id, run.stage, run.stage_planned
    )


def start_planning(
    ctx: SyncContext, session: Session, run_id: int, stage: Stage
) -> tuple[RunView, RunRow, list[int]] | None:
    """Open a stage's planning task: the run (None if closed or past `stage`), one more
    planning attempt counted, the lease extended, and the chunk numbers still pending.

    A late duplicate of a stage already planned is no attempt at planning: it only
    re-enqueues what is pending (`resume_planned`).
    """
    view = load_open_run(session, run_id, stage)
    if view is None:
        return None
    run = runs.get_run(session, run_id)
    assert run is not None
    if not view.stage_planned:
        run.stage_attempts += 1
    runs.extend_lease(session, run_id, ctx.options.lease)
    return view, run, runs.chunk_numbers(session, run_id, stage.value, pending_only=True)


def resume_planned(ctx: SyncContext, run_id: int, stage: Stage, pending: list[int]) -> None:
    """Re-enqueue a planned stage's pending chunks; close its barrier if none is left."""
    inbound = stage is Stage.INBOUND
    enqueue = ctx.dispatch.inbound_chunk if inbound else ctx.dispatch.outbound_chunk
    for number in pending:
        enqueue(run_id, number)
    (close_inbound if inbound else close_outbound)(ctx, run_id)


def claim(
    ctx: SyncContext, run_id: int, stage: Stage, number: int, token: str | None
) -> ChunkClaim | None:
    """Claim a chunk and extend the run's lease, in one short transaction."""
    with transaction(ctx.sessions) as session:
        if load_open_run(session, run_id, stage) is None:
            return None
        claimed = runs.claim_chunk(
            session,
            run_id,
            stage.value,
            number,
            token=token or uuid.uuid4().hex,
            lease=ctx.options.lease,
        )
        if claimed is not None:
            runs.extend_lease(session, run_id, ctx.options.lease)
        return claimed


def complete(session: Session, chunk: ChunkClaim, counts: dict[str, int]) -> None:
    if not runs.complete_chunk(session, chunk, counts):
        raise LostClaimError(f"chunk {chunk.number} was taken over by another task")


def _advance_inbound_mark(session: Session, run: RunRow) -> None:
    from convsync.domain.watermark import advance

    link: LinkRow = links.get_link(session, run.link_id)
    mark = advance(link.inbound_mark, run.inbound_max_stamp, run.started_at)
    if mark != link.inbound_mark:
        link.inbound_mark = mark


def close_inbound(ctx: SyncContext, run_id: int) -> None:
    """If the inbound stage fully landed: advance the bookmark, then start outbound."""
    with transaction(ctx.sessions) as session:
        moved = runs.close_stage(session, run_id, Stage.INBOUND.value, Stage.OUTBOUND.value)
        if moved is None:
            return
        _advance_inbound_mark(session, moved)
        runs.extend_lease(session, run_id, ctx.options.lease)
        took = (utcnow() - moved.started_at).total_seconds()
    ctx.dispatch.outbound_stage(run_id)
    ctx.observer.stage_finished(Stage.INBOUND, took)


def close_outbound(ctx: SyncContext, run_id: int) -> None:
    """If the outbound stage fully landed: the run succeeded; move the outbound bookmark."""
    with transaction(ctx.sessions) as session:
        moved = runs.close_stage(session, run_id, Stage.OUTBOUND.value, "done")
        if moved is None:
            return
        link = links.get_link(session, moved.link_id)
        link.outbound_mark = moved.started_at
        link.initial_sync_done = True
        runs.finish_run(session, run_id, "succeeded")
        # Outbound began when the last inbound chunk landed (or, none, at the run's start).
        inbound_end = session.scalar(
            select(func.max(ChunkRow.done_at)).where(
                ChunkRow.run_id == run_id, ChunkRow.stage == Stage.INBOUND.value
            )
        )
        took = (utcnow() - (inbound_end or moved.started_at)).total_seconds()
    ctx.observer.stage_finished(Stage.OUTBOUND, took)


# However often the budget runs out, a run waits at most this long between tries.
LONGEST_BUDGET_WAIT = timedelta(hours=1)


def wait_for_api_budget(
    ctx: SyncContext, run_id: int, reason: str, *, attempt: int, token: str | None = None
) -> float | None:
    """Salesforce's daily API limit stopped a task of this run: how long (seconds) the
    task should wait before trying again, or None when the run has now failed.

    Nothing the run did is thrown away: the run and the task's chunk stay leased for
    the wait (so the reconciler leaves them be), `convsync status` shows why, and the
    retry resumes where the task stopped. The wait doubles from `api_limit_retry`
    (with jitter, so several runs do not come back at once); after `max_attempts`
    waits the run fails, and the scheduler waits for the budget before the next one.
    """
    if attempt >= ctx.options.max_attempts:
        fail_run(ctx, run_id, f"Salesforce API limit reached: {reason}")
        return None
    longest = LONGEST_BUDGET_WAIT.total_seconds()
    wait = min(ctx.options.api_limit_retry.total_seconds() * 2.0**attempt, longest)
    wait *= random.uniform(1.0, 1.2)  # noqa: S311 - jitter, not a secret
    until = utcnow() + timedelta(seconds=wait)
    with transaction(ctx.sessions) as session:
        runs.hold(
            session,
            run_id,
            until + ctx.options.lease,
            f"waiting for the Salesforce API budget until {until:%H:%M:%S} UTC: {reason}",
            token,
        )
    log.warning("run waits for the Salesforce API budget", seconds=round(wait, 1), attempt=attempt)
    return wait


def note_retry(ctx: SyncContext, run_id: int, reason: str, *, retry: int, retries: int) -> None:
    """A task of the run hit a transient error and will retry: record why, so `convsync
    status` and `sync --wait` say the run is retrying instead of showing frozen bars."""
    with transaction(ctx.sessions) as session:
        runs.note(session, run_id, f"retrying ({retry} of {retries}) after: {reason}")


def fail_run(ctx: SyncContext, run_id: int, error: str) -> None:
    with transaction(ctx.sessions) as session:
        runs.finish_run(session, run_id, "failed", error)


def now_iso() -> str:
    return utcnow().isoformat()
