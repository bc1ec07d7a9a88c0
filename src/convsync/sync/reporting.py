"""What `convsync status` and `sync --wait` show: links, runs, counts, errors, lag."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from convsync.domain.model import LinkState, RunState
from convsync.store import link_report, links, runs, skips
from convsync.store.db import Session, Sessions, transaction, utcnow
from convsync.sync import api_usage
from convsync.sync.catalog import require_campaign
from convsync.sync.context import SyncContext


@dataclass(frozen=True, slots=True)
class RunSummary:
    id: int
    kind: str
    state: str
    stage: str
    started_at: datetime
    finished_at: datetime | None
    counts: dict[str, int]
    error: str | None
    progress: dict[str, tuple[int, int]]
    # Drift repair: the run compared every live Salesforce member with the bases.
    full_compare: bool = False


@dataclass(frozen=True, slots=True)
class LinkStatus:
    campaign: str
    salesforce_campaign_id: str
    mode: str
    state: str
    linked_at: datetime
    lag_seconds: float | None
    members_in_conversion: int
    # Members both sides agreed on at the last sync; plus the skipped ones, what
    # Salesforce holds (as far as the sync knows, without an API call).
    members_synced: int
    members_in_salesforce: int
    skipped: int
    dead_letters: int
    last_run: RunSummary | None
    last_error: str | None
    # Conversion edits not yet pushed by a successful run (sync.edits), as a count.
    pending_edits: int = 0
    # convsync's API budget is spent: no sync until then (the window frees calls).
    paused_until: datetime | None = None


def _summaries(session: Session, found: Sequence[runs.Run]) -> list[RunSummary]:
    """Runs as shown: final counts, or (still open) their chunks' counts so far."""
    progress = link_report.chunk_progress(session, [run.id for run in found])
    live = link_report.chunk_counts(
        session, [run.id for run in found if RunState(run.state).is_open]
    )
    return [
        RunSummary(
            run.id,
            run.kind,
            run.state,
            run.stage,
            run.started_at,
            run.finished_at,
            dict(live.get(run.id, run.counts) or {}),
            run.error,
            progress[run.id],
            run.full_compare,
        )
        for run in found
    ]


def run_summary(ctx: SyncContext, run_id: int) -> RunSummary | None:
    with transaction(ctx.sessions) as session:
        run = runs.get_run(session, run_id)
        return None if run is None else _summaries(session, [run])[0]


def link_statuses(ctx: SyncContext, campaign_name: str | None = None) -> list[LinkStatus]:
    """Every active link (or the given campaign's links), in a constant number of queries."""
    with transaction(ctx.sessions) as session:
        campaign_id = None
        if campaign_name is not None:
            campaign_id = require_campaign(session, campaign_name).id
        figures = link_report.link_figures(session, campaign_id)
        last = runs.last_runs(session, [f.link_id for f in figures])
        summaries = dict(zip(last, _summaries(session, list(last.values())), strict=True))
    paused = api_usage.paused_until(ctx) if figures else None
    now = utcnow()
    return [
        LinkStatus(
            f.campaign,
            f.salesforce_campaign_id,
            f.mode,
            f.state,
            f.linked_at,
            (now - f.outbound_mark).total_seconds() if f.outbound_mark else None,
            f.members_in_conversion,
            f.members_synced,
            f.members_synced + f.skipped,
            f.skipped,
            f.dead_letters,
            summaries.get(f.link_id),
            _last_error(last.get(f.link_id), f.last_dead_letter),
            f.pending_edits,
            paused if f.state == LinkState.ACTIVE else None,
        )
        for f in figures
    ]


def _last_error(run: runs.Run | None, last_dead_letter: str | None) -> str | None:
    if run is not None and run.error:
        return run.error
    return last_dead_letter


@dataclass(frozen=True, slots=True)
class CampaignHealth:
    """What the per-campaign gauges of /metrics show, read at scrape time."""

    # Seconds behind: since the last successful push (or, never synced, since linking).
    lag_seconds: float
    open_dead_letters: int
    skipped_members: int
    # The link's latest finished run failed (a newer success clears it).
    last_run_failed: bool


def campaign_health(sessions: Sessions) -> dict[str, CampaignHealth]:
    """Every linked campaign's health in one query (the scrape's whole database cost)."""
    with transaction(sessions) as session:
        rows = link_report.health_figures(session)
    now = utcnow()
    return {
        r.name: CampaignHealth(
            lag_seconds=(now - (r.outbound_mark or r.linked_at)).total_seconds(),
            open_dead_letters=int(r.letters or 0),
            skipped_members=int(r.skipped or 0),
            last_run_failed=r.last_state == RunState.FAILED,
        )
        for r in rows
    }


def campaign_runs(ctx: SyncContext, campaign_name: str) -> list[RunSummary]:
    """Every run of the campaign's links, oldest first (with live counts for open ones)."""
    with transaction(ctx.sessions) as session:
        campaign = require_campaign(session, campaign_name)
        return _summaries(session, runs.of_campaign(session, campaign.id))


def skipped_members(
    ctx: SyncContext, campaign_name: str
) -> list[tuple[str | None, str | None, str, str]]:
    """(email, status, reason, Salesforce member id) of the members inbound skipped."""
    with transaction(ctx.sessions) as session:
        campaign = require_campaign(session, campaign_name)
        found: list[tuple[str | None, str | None, str, str]] = []
        for link_id in links.link_ids_of_campaign(session, campaign.id):
            found.extend(
                (s.email, s.status, s.reason, s.salesforce_member_id)
                for s in skips.skipped(session, link_id)
            )
        return found
