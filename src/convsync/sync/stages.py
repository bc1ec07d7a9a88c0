"""Run and stage bookkeeping shared by the inbound and outbound stages.

A run is `inbound → outbound → done`. Each stage is planned by one task (which writes a
chunk row per piece of work) and carried out by chunk tasks; the task that finds the
last chunk done closes the barrier and enqueues what comes next, after its commit.
"""

from __future__ import annotations

import random
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import structlog

from convsync.domain import budget_wait
from convsync.domain.model import RunState, Stage
from convsync.salesforce import usage
from convsync.store import links, runs
from convsync.store.db import Session, transaction, utcnow
from convsync.store.runs import ChunkClaim
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
    if run.state not in (RunState.QUEUED, RunState.RUNNING) or run.stage != stage.value:
        return None
    link = links.get_link(session, run.link_id)
    structlog.contextvars.bind_contextvars(
        run_id=run.id, link_id=link.id, campaign_id=link.campaign_id, stage=run.stage
    )
    usage.attribute_to(link.campaign_id)
    return RunView(
        run.id, link.id, link.campaign_id, link.salesforce_campaign_id, run.stage, run.stage_planned
    )


def start_planning(
    ctx: SyncContext, session: Session, run_id: int, stage: Stage
) -> tuple[RunView, runs.Run, list[int]] | None:
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


# A held lease is renewed this often: two renewals can fail before it runs out.
RENEWALS_PER_LEASE = 3


@contextmanager
def keep_leased(ctx: SyncContext, run_id: int, chunk: ChunkClaim) -> Iterator[None]:
    """Hold the chunk's and the run's leases for as long as the block runs.

    A chunk's Salesforce writes can outlast a lease: a Bulk API job takes minutes in a
    busy org. Were the lease to run out meanwhile, the reconciler would hand the chunk to
    another worker, which would write it again (Leads whose bulk job has not finished
    cannot be found by email yet, so it would create them twice). A background thread
    renews both leases every third of a lease until the block ends or the claim is
    lost. It dies with its process: a killed worker's chunk is taken over as before, and
    a hung one when the task's time limit kills it.
    """
    stop = threading.Event()
    period = ctx.options.lease.total_seconds() / RENEWALS_PER_LEASE
    context = structlog.contextvars.get_contextvars()

    def renew() -> None:
        structlog.contextvars.bind_contextvars(**context)
        while not stop.wait(period):
            try:
                with transaction(ctx.sessions) as session:
                    if not runs.renew_chunk_lease(session, chunk, ctx.options.lease):
                        return  # taken over: completing will say so
                    runs.extend_lease(session, run_id, ctx.options.lease)
            except Exception:  # logged; a missed renewal is tried again next period
                log.warning("could not renew the chunk's lease", chunk=chunk.number, exc_info=True)

    renewer = threading.Thread(target=renew, name=f"lease-{run_id}-{chunk.number}", daemon=True)
    renewer.start()
    try:
        yield
    finally:
        stop.set()
        renewer.join()


def complete(session: Session, chunk: ChunkClaim, counts: dict[str, int]) -> None:
    if not runs.complete_chunk(session, chunk, counts):
        raise LostClaimError(f"chunk {chunk.number} was taken over by another task")


def _advance_inbound_mark(session: Session, run: runs.Run, overlap: timedelta) -> None:
    from convsync.domain.watermark import advance, ceiling

    link: links.Link = links.get_link(session, run.link_id)
    limit = ceiling(run.started_at, run.inbound_covered, overlap)
    mark = advance(link.inbound_mark, run.inbound_max_stamp, limit)
    if mark != link.inbound_mark:
        link.inbound_mark = mark


def close_inbound(ctx: SyncContext, run_id: int) -> None:
    """If the inbound stage fully landed: advance the bookmark, then start outbound."""
    with transaction(ctx.sessions) as session:
        moved = runs.close_stage(session, run_id, Stage.INBOUND.value, Stage.OUTBOUND.value)
        if moved is None:
            return
        _advance_inbound_mark(session, moved, ctx.options.overlap)
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
        # Edits made after this run planned its push are still pending: ask again.
        edits_left = links.settle_edits(session, link, moved.edit_count)
        link_id = link.id
        runs.finish_run(session, run_id, RunState.SUCCEEDED)
        # Outbound began when the last inbound chunk landed (or, none, at the run's start).
        inbound_end = runs.last_chunk_done_at(session, run_id, Stage.INBOUND.value)
        took = (utcnow() - (inbound_end or moved.started_at)).total_seconds()
    if edits_left is not None:
        ctx.dispatch.push_edits(
            link_id, edits_left, delay=ctx.options.edit_push_delay.total_seconds()
        )
    ctx.observer.stage_finished(Stage.OUTBOUND, took)


def wait_for_api_budget(
    ctx: SyncContext,
    run_id: int,
    reason: str,
    *,
    attempt: int,
    token: str | None = None,
    frees_at: datetime | None = None,
) -> float | None:
    """An API budget stopped a task of this run: how long (seconds) the task should wait
    before trying again, or None when the run has now failed.

    Nothing the run did is thrown away: the run and the task's chunk stay leased for
    the wait (so the reconciler leaves them be), `convsync status` shows why, and the
    retry resumes where the task stopped.

    Salesforce's own limit (`frees_at` None): the wait doubles from `api_limit_retry`
    (with jitter, so several runs do not come back at once); after `max_attempts` waits
    the run fails, and the scheduler waits for the budget before the next one.
    convsync's own budget (`frees_at`: when its rolling window frees a call): the run is
    paused, never failed: it waits until then, each wait no longer than the longest
    doubling wait (which the settings keep below the broker's hold on a message).
    """
    if frees_at is None:
        if attempt >= ctx.options.max_attempts:
            fail_run(ctx, run_id, f"Salesforce API limit reached: {reason}")
            return None
        wait = budget_wait.base_wait(ctx.options.api_limit_retry.total_seconds(), attempt)
        wait *= random.uniform(1.0, budget_wait.JITTER)  # noqa: S311 - jitter, not a secret
        note = "waiting for the Salesforce API budget"
    else:
        longest = budget_wait.base_wait(
            ctx.options.api_limit_retry.total_seconds(), ctx.options.max_attempts - 1
        )
        until_free = max((frees_at - utcnow()).total_seconds(), 0.0)
        jitter = random.uniform(0.5, budget_wait.JITTER)  # noqa: S311 - jitter, not a secret
        wait = min(until_free + jitter, longest)
        note = "paused by convsync's API budget"
    until = utcnow() + timedelta(seconds=wait)
    with transaction(ctx.sessions) as session:
        runs.hold(
            session,
            run_id,
            until + ctx.options.lease,
            f"{note} until {until:%H:%M:%S} UTC: {reason}",
            token,
        )
    log.warning(f"run {note}", seconds=round(wait, 1), attempt=attempt)
    return wait


def note_retry(ctx: SyncContext, run_id: int, reason: str, *, retry: int, retries: int) -> None:
    """A task of the run hit a transient error and will retry: record why, so `convsync
    status` and `sync --wait` say the run is retrying instead of showing frozen bars."""
    with transaction(ctx.sessions) as session:
        runs.note(session, run_id, f"retrying ({retry} of {retries}) after: {reason}")


def fail_run(ctx: SyncContext, run_id: int, error: str) -> None:
    with transaction(ctx.sessions) as session:
        runs.finish_run(session, run_id, RunState.FAILED, error)
