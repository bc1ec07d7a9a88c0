"""The tick reads ahead for the runs it starts: one shared read instead of one per run.

A run's inbound stage asks Salesforce whether its campaign is still there, how far the
delete log reaches and what changed; its outbound stage asks for the statuses its
pushes are checked against. Asked run by run that is four calls a campaign, whatever
its size. The tick that starts many runs asks for all of them at once
(`SalesforcePort.read_campaigns`: one Composite API call per 100 campaigns, plus a call
per further page of changed rows) and hands each run its part before the run's first
task is sent:

- a campaign that is gone fails its run, exactly as the run's own check would;
- each run's changed rows are staged as its inbound chunks and its stage marked
  planned, in the run's own transactions, as its planner would have done; the planner
  then only sends the chunks;
- each run keeps its campaign's statuses (`sync_runs.statuses_read_ahead`), which its
  outbound stage uses while they are no older than a lease (`statuses_for`).

Nothing depends on it: a run the read does not cover (a first read, a whole compare, a
delete log that no longer reaches its bookmark, a read that stopped at its row cap, a
failed shared read, a tick killed half-way) plans its stage itself, from where the
tick left it, as after a crash. The guarantees are the run's: the same rows, in the same
windows, staged by the same code.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from itertools import chain

import structlog

from convsync.domain.errors import SalesforceError
from convsync.domain.model import MemberStatus, RunState, Stage
from convsync.salesforce.records import CampaignWindow, SharedRead
from convsync.store import links, pending_pushes, runs
from convsync.store.db import transaction, utcnow
from convsync.sync import inbound, stages
from convsync.sync.context import SyncContext
from convsync.sync.inbound_chunks import is_first_read

log = structlog.get_logger(__name__)


@dataclass(frozen=True, slots=True)
class _Share:
    """A run the shared read can serve, and the window its own planner would read."""

    run_id: int
    link_id: int
    salesforce_campaign_id: str
    campaign_name: str
    since: datetime
    until: datetime
    pushes: bool


def read_ahead(ctx: SyncContext, run_ids: Sequence[int]) -> int:
    """Read for these just-opened runs at once and hand each its part; how many runs
    were served whole (their inbound stage planned). Never fails the tick: a shared read
    Salesforce refuses leaves every run to read on its own."""
    shares = _shares(ctx, run_ids)
    if not shares:
        return 0
    read_at = utcnow()
    try:
        shared = ctx.salesforce.read_campaigns(
            [CampaignWindow(s.salesforce_campaign_id, s.since, s.until, s.pushes) for s in shares]
        )
    except SalesforceError as error:
        log.warning("shared read failed: each run reads on its own", error=str(error))
        return 0
    return sum(_hand_over(ctx, share, shared, read_at) for share in shares)


def _shares(ctx: SyncContext, run_ids: Sequence[int]) -> list[_Share]:
    """The runs whose inbound stage is an incremental read nobody has started."""
    shares: list[_Share] = []
    with transaction(ctx.sessions) as session:
        for run_id in run_ids:
            run = runs.get_run(session, run_id)
            if (
                run is None
                or run.state != RunState.QUEUED
                or run.stage != Stage.INBOUND.value
                or run.stage_planned
                or run.full_compare
                or runs.stage_chunks(session, run_id, Stage.INBOUND.value)
            ):
                continue
            link = links.get_link(session, run.link_id)
            since, until = inbound.read_window(link, run, ctx.options.overlap)
            if is_first_read(link) or since is None:
                continue  # a whole read: its own planner pages it, chunk after chunk
            shares.append(
                _Share(
                    run_id=run_id,
                    link_id=link.id,
                    salesforce_campaign_id=link.salesforce_campaign_id,
                    campaign_name=links.campaign_of(session, link).name,
                    since=since,
                    until=until,
                    pushes=pending_pushes.has_push_candidates(session, link.id, link.campaign_id),
                )
            )
    return shares


def _hand_over(ctx: SyncContext, share: _Share, shared: SharedRead, read_at: datetime) -> bool:
    """Give one run its part of the shared read; True when its inbound stage is planned."""
    campaign = share.salesforce_campaign_id
    if campaign not in shared.present:
        stages.fail_run(
            ctx, share.run_id, inbound.campaign_gone_reason(campaign, share.campaign_name)
        )
        return False
    if share.pushes:
        with transaction(ctx.sessions) as session:
            runs.keep_statuses_read_ahead(
                session, share.run_id, shared.statuses.get(campaign, []), read_at
            )
    if inbound.missed_removals(share.since, shared.reach):
        return False  # the delete log no longer reaches its bookmark: a whole compare
    inbound.record_reach(ctx, share.run_id, shared.reach, full=False)
    rows = shared.changes.get(campaign, [])
    whole = campaign not in shared.cut_short
    # After the window's rows, the skipped members the rules now import (lazily, and only
    # when the window was read whole: a cut-short run's planner reads them after its rest).
    rejudged = (
        inbound.skips_to_judge_again(ctx, share.run_id, share.link_id, {row.id for row in rows})
        if whole
        else iter(())
    )
    numbers: list[int] = []
    for number, page in enumerate(
        inbound.pages(chain(rows, rejudged), ctx.options.inbound_chunk, set())
    ):
        if not inbound.stage_page(ctx, share.run_id, number, page):
            return False  # the run's own planner got there first: it carries on
        numbers.append(number)
    if not whole:
        return False  # its planner resumes after the last row staged here
    return inbound.finish_planning(ctx, share.run_id, None, numbers)


def statuses_for(ctx: SyncContext, run_id: int) -> tuple[list[MemberStatus], datetime] | None:
    """The statuses the tick read for this run and when, if no older than a lease: the
    outbound stage checks its pushes against them instead of reading them again."""
    with transaction(ctx.sessions) as session:
        kept = runs.statuses_read_ahead(session, run_id)
    if kept is None or utcnow() - kept[1] > ctx.options.lease:
        return None
    return kept
