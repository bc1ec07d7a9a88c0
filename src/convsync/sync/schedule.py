"""What beat drives: picking the campaigns due for a sync, and reconciling stalled runs.

`dispatch_due_syncs` costs one local query plus one aggregate SOQL query per 500
linked campaigns (and one more per 500 campaigns that have open dead letters, to notice
a status appearing in Salesforce), five to a Composite API call. An idle org therefore
costs one API call a tick per 2,500 linked campaigns. The runs it starts get one shared
read (`read_ahead`): one Composite call per 100 of them, plus further pages of rows. Once per
`CONVSYNC_FULL_SYNC_INTERVAL_SECONDS` each link also gets a drift repair (about one API
call per 2,000 of its members).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from convsync.domain.model import RunKind, Stage
from convsync.store import decisions, links, runs
from convsync.store.db import transaction, utcnow
from convsync.sync import read_ahead, stages
from convsync.sync.context import SyncContext


@dataclass(frozen=True, slots=True)
class TickReport:
    linked: int
    due: int
    started: int
    busy: int
    # convsync's API budget is spent: no run started until this instant.
    paused_until: datetime | None = None


def dispatch_due_syncs(ctx: SyncContext) -> TickReport:
    """Start a run for every linked campaign that changed (or is due a drift repair);
    none while convsync's own API budget is spent (runs resume when the window frees)."""
    if ctx.api_budget is not None:
        state = ctx.api_budget.state()
        if state.frees_at is not None:
            return TickReport(0, 0, 0, 0, paused_until=state.frees_at)
    with transaction(ctx.sessions) as session:
        candidates = links.due_candidates(session)
        busy_links = runs.link_ids_with_open_runs(session)
    idle = [c for c in candidates if c.link_id not in busy_links]
    due: set[int] = {c.link_id for c in idle if c.local_changes or c.rules_changed}
    if idle:
        sf = ctx.salesforce
        by_campaign = {c.salesforce_campaign_id: c for c in idle}
        changed = sf.changed_campaigns(
            list(by_campaign),
            {c.salesforce_campaign_id: c.inbound_mark for c in idle},
            include_status_changes=False,
        )
        due.update(by_campaign[cid].link_id for cid in changed if cid in by_campaign)
        parked = [c for c in idle if c.open_dead_letters and c.link_id not in due]
        if parked:
            # A status added in Salesforce may fix dead letters: replay those campaigns.
            status_changes = sf.changed_campaigns(
                [c.salesforce_campaign_id for c in parked],
                {c.salesforce_campaign_id: c.status_mark for c in parked},
                include_status_changes=True,
            )
            due.update(by_campaign[cid].link_id for cid in status_changes if cid in by_campaign)
    started: list[int] = []
    with transaction(ctx.sessions) as session:
        # Drift repair: a link whose last whole compare is older than the interval is
        # due whether or not anything changed (merges and purged tombstones leave no
        # change to see).
        stale = utcnow() - ctx.options.full_compare_interval
        repair = {
            link_id
            for link_id, at in runs.last_full_compares(session, [c.link_id for c in idle]).items()
            if at <= stale
        }
        for link_id in sorted(due | repair):
            run_id = runs.open_run(
                session,
                link_id,
                RunKind.SCHEDULED.value,
                ctx.options.lease,
                full_compare=link_id in repair,
            )
            if run_id is not None:
                started.append(run_id)
    # One shared read for the runs' inbound reads and statuses, before their first task.
    read_ahead.read_ahead(ctx, started)
    for run_id in started:
        ctx.dispatch.inbound_stage(run_id)
    return TickReport(len(candidates), len(due | repair), len(started), len(busy_links))


@dataclass(frozen=True, slots=True)
class ReconcileReport:
    stalled: int
    republished_chunks: int
    restarted_stages: int
    failed_runs: int
    pruned_decisions: int = 0


def reconcile(ctx: SyncContext) -> ReconcileReport:
    """Republish the work of runs whose lease expired (a worker died, a message was lost).

    A killed worker costs about one lease period, not the broker's visibility timeout.
    Work that keeps dying is bounded: past `max_attempts` the run fails, freeing the
    campaign for the next scheduled run.
    """
    republished = restarted = failed = 0
    with transaction(ctx.sessions) as session:
        pruned = decisions.prune(session, utcnow() - ctx.options.decision_retention)
        stalled = runs.stalled_runs(session)
    for run in stalled:
        stage = Stage(run.stage) if run.stage != "done" else None
        if stage is None:
            continue
        exhausted = run.stage_attempts >= ctx.options.max_attempts or any(
            attempts >= ctx.options.max_attempts for _, attempts in run.expired_chunks
        )
        if exhausted:
            stages.fail_run(
                ctx,
                run.run_id,
                f"{stage.value} stage kept failing "
                f"({ctx.options.max_attempts} attempts); see `convsync dlq list`",
            )
            failed += 1
            continue
        with transaction(ctx.sessions) as session:
            if not runs.take_over(session, run.run_id, ctx.options.lease):
                continue  # another reconciler (a second beat) took it, or it moved on
            numbers = runs.release_chunk_leases(
                session,
                run.run_id,
                stage.value,
                [n for n, _ in run.expired_chunks],
                stages.queued_lease(ctx),
            )
        if not run.stage_planned:
            restarted += 1
            _restart_stage(ctx, run.run_id, stage)
            continue
        for number in numbers:
            republished += 1
            if stage is Stage.INBOUND:
                ctx.dispatch.inbound_chunk(run.run_id, number)
            else:
                ctx.dispatch.outbound_chunk(run.run_id, number)
        # A worker may have died between a chunk's commit and closing the barrier.
        (stages.close_inbound if stage is Stage.INBOUND else stages.close_outbound)(ctx, run.run_id)
    return ReconcileReport(len(stalled), republished, restarted, failed, pruned)


def _restart_stage(ctx: SyncContext, run_id: int, stage: Stage) -> None:
    if stage is Stage.INBOUND:
        ctx.dispatch.inbound_stage(run_id)
    else:
        ctx.dispatch.outbound_stage(run_id)
