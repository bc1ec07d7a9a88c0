"""The update pool: member updates of many runs written together, 200 to a collection.

A busy tick starts a run for each changed campaign, and each run's outbound stage has a
handful of members to update: written run by run, that is one collection call for ten
records, a hundred times. Instead, an outbound chunk that only updates members already
in Salesforce (no insert, no removal, nothing read back, no Bulk API job), fewer than a
collection holds, commits its
updates to its chunk row, after the write-ahead trace (`bases.mark_pushing`) and while
still holding its claim, and asks for a flush in `update_pool_linger`. A flush takes
the pooled chunks (once a collection's worth waits, or the oldest has waited the
linger), writes their updates together, and records each chunk's outcome and done-marker
in that chunk's own transaction, then closes its run's barrier as the chunk task would.

The guarantees stay the chunk's: nothing is written before its trace is committed; a
flush that dies or whose write fails leaves the chunks claimed until their lease runs
out (or hands them back at once), and a chunk claimed afresh reads back what it may
have written (`recheck_unfinished`) before writing again, as after any crash.
"""

from __future__ import annotations

from datetime import datetime

import structlog

from convsync.domain.errors import SalesforceError
from convsync.domain.status_rules import StatusRules
from convsync.salesforce.records import MemberChange
from convsync.store import runs
from convsync.store import update_pool as pool_store
from convsync.store.db import transaction
from convsync.store.pending_pushes import PushCandidate
from convsync.store.update_pool import PooledChunk, PooledUpdate
from convsync.sync import stages
from convsync.sync.context import SyncContext
from convsync.sync.outbound_writes import Outcome, record_outcome, updated

log = structlog.get_logger(__name__)

# A flush writes at most this many updates (five collections), and goes before the
# linger once a collection's worth waits. A chunk with that many updates or more fills
# its own collections: it writes them itself, at once.
FLUSH_MOST = 1_000
FLUSH_LEAST = 200


def poolable(
    ctx: SyncContext, out: Outcome, *, updates: int, bulk: int | None, others: int
) -> bool:
    """Whether a chunk's updates should wait in the pool: pooling is on, they are fewer
    than a collection holds, the chunk has nothing else to write (`others`) or record,
    and it is not a Bulk API chunk."""
    nothing_else = others == 0 and not (out.bases or out.letters or out.decisions)
    pooling = ctx.options.update_pool_linger.total_seconds() > 0
    return pooling and 0 < updates < FLUSH_LEAST and bulk is None and nothing_else


def pool_updates(
    ctx: SyncContext,
    claim: runs.ChunkClaim,
    pairs: list[tuple[PushCandidate, str]],
    rules: StatusRules,
) -> None:
    """Leave the chunk's updates in the pool and ask for a flush after the linger."""
    entries = [
        PooledUpdate(
            person_id=member.person_id,
            member_id=member.member_id,
            email=member.email,
            status=member.status or "",
            updated_at=member.updated_at.isoformat(),
            salesforce_member_id=sf_id,
            label=rules.salesforce_label(member.status or ""),
        )
        for member, sf_id in pairs
    ]
    with transaction(ctx.sessions) as session:
        if not pool_store.pool(session, claim, entries):
            raise stages.LostClaimError(f"chunk {claim.number} was taken over by another task")
    ctx.dispatch.flush_updates(delay=ctx.options.update_pool_linger.total_seconds())


def flush_updates(ctx: SyncContext) -> int:
    """Write what waits in the pool (if it is time) and complete each chunk; how many
    chunks were flushed. A write Salesforce refuses hands the chunks back to their tasks."""
    with transaction(ctx.sessions) as session:
        taken = pool_store.take(
            session,
            most=FLUSH_MOST,
            least=FLUSH_LEAST,
            linger=ctx.options.update_pool_linger,
            lease=ctx.options.lease,
        )
    if not taken:
        return 0
    changes = [MemberChange(u.salesforce_member_id, u.label) for c in taken for u in c.updates]
    try:
        results = iter(ctx.salesforce.update_members(changes))
    except SalesforceError as error:
        log.warning("pooled updates not written: their chunks retry", error=str(error))
        _hand_back(ctx, taken)
        return 0
    for chunk in taken:
        pairs = [(_candidate(u), u.salesforce_member_id) for u in chunk.updates]
        out = Outcome()
        updated(pairs, [next(results) for _ in pairs], out)
        _complete(ctx, chunk, out)
    log.info(
        "pooled updates written",
        chunks=len(taken),
        runs=len({chunk.run_id for chunk in taken}),
        members=len(changes),
    )
    with transaction(ctx.sessions) as session:
        left = pool_store.waiting(session)
    if left:
        ctx.dispatch.flush_updates(delay=0)
    return len(taken)


def _complete(ctx: SyncContext, chunk: PooledChunk, out: Outcome) -> None:
    """Record a flushed chunk's outcome as its task would have, and close its barrier."""
    if out.transient:
        record_outcome(ctx, chunk.link_id, chunk.run_id, out, claim=None)
        _hand_back(ctx, [chunk])
        return
    try:
        record_outcome(ctx, chunk.link_id, chunk.run_id, out, claim=chunk.claim)
    except stages.LostClaimError:
        return  # taken over (the flush outlasted the lease): its new task decides
    stages.close_outbound(ctx, chunk.run_id)


def _hand_back(ctx: SyncContext, chunks: list[PooledChunk]) -> None:
    """Release the chunks and send their tasks again: each reads back what may have
    landed, then writes the rest (by itself or through the pool)."""
    for chunk in chunks:
        with transaction(ctx.sessions) as session:
            released = runs.release_claim(session, chunk.claim, stages.queued_lease(ctx))
        if released:
            ctx.dispatch.outbound_chunk(chunk.run_id, chunk.claim.number)


def _candidate(entry: PooledUpdate) -> PushCandidate:
    return PushCandidate(
        member_id=entry.member_id,
        person_id=entry.person_id,
        email=entry.email,
        first_name=None,
        last_name=None,
        company=None,
        lead_id=None,
        contact_id=None,
        status=entry.status,
        updated_at=datetime.fromisoformat(entry.updated_at),
        salesforce_member_id=entry.salesforce_member_id,
    )
