"""What `convsync status` and `sync --wait` show: links, runs, counts, errors, lag."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from convsync.store import member_sync, runs
from convsync.store.db import transaction
from convsync.store.tables import CampaignRow, LinkRow, RunRow, SyncErrorRow, utcnow
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


def _summary(session: Session, run: RunRow) -> RunSummary:
    counts = (
        run.counts if run.state in ("succeeded", "failed") else runs.stage_counts(session, run.id)
    )
    return RunSummary(
        run.id,
        run.kind,
        run.state,
        run.stage,
        run.started_at,
        run.finished_at,
        dict(counts or {}),
        run.error,
        runs.pending_chunk_progress(session, run.id),
        run.full_compare,
    )


def run_summary(ctx: SyncContext, run_id: int) -> RunSummary | None:
    with transaction(ctx.sessions) as session:
        run = runs.get_run(session, run_id)
        return None if run is None else _summary(session, run)


def link_statuses(ctx: SyncContext, campaign_name: str | None = None) -> list[LinkStatus]:
    with transaction(ctx.sessions) as session:
        query = (
            select(LinkRow, CampaignRow.name)
            .join(CampaignRow, CampaignRow.id == LinkRow.campaign_id)
            .order_by(CampaignRow.name, LinkRow.id)
        )
        if campaign_name is not None:
            campaign = require_campaign(session, campaign_name)
            query = query.where(LinkRow.campaign_id == campaign.id)
        else:
            query = query.where(LinkRow.state == "active")
        rows = session.execute(query).all()
        last = runs.last_runs(session, [link.id for link, _ in rows])
        now = utcnow()
        result = []
        for link, name in rows:
            counts = member_sync.member_counts(session, link.id, link.campaign_id)
            dead = (
                session.scalar(
                    select(func.count())
                    .select_from(SyncErrorRow)
                    .where(SyncErrorRow.link_id == link.id, SyncErrorRow.resolved_at.is_(None))
                )
                or 0
            )
            last_error = session.scalar(
                select(SyncErrorRow.message)
                .where(SyncErrorRow.link_id == link.id, SyncErrorRow.resolved_at.is_(None))
                .order_by(SyncErrorRow.id.desc())
                .limit(1)
            )
            run = last.get(link.id)
            if run is not None and run.error:
                last_error = run.error
            lag = (now - link.outbound_mark).total_seconds() if link.outbound_mark else None
            skipped = member_sync.count_skipped(session, link.id)
            result.append(
                LinkStatus(
                    name,
                    link.salesforce_campaign_id,
                    link.mode,
                    link.state,
                    link.linked_at,
                    lag,
                    counts["conversion"],
                    counts["synced"],
                    counts["synced"] + skipped,
                    skipped,
                    int(dead),
                    None if run is None else _summary(session, run),
                    last_error,
                )
            )
        return result


def campaign_lags(sessions: sessionmaker[Session]) -> dict[str, float]:
    """Seconds each linked campaign is behind: since its last successful push (or, never
    synced yet, since it was linked). What the `convsync_sync_lag_seconds` gauge shows."""
    with transaction(sessions) as session:
        rows = session.execute(
            select(CampaignRow.name, LinkRow.outbound_mark, LinkRow.linked_at)
            .join(CampaignRow, CampaignRow.id == LinkRow.campaign_id)
            .where(LinkRow.state == "active")
        ).all()
    now = utcnow()
    return {name: (now - (mark or linked)).total_seconds() for name, mark, linked in rows}


def campaign_runs(ctx: SyncContext, campaign_name: str) -> list[RunSummary]:
    """Every run of the campaign's links, oldest first (with live counts for open ones)."""
    with transaction(ctx.sessions) as session:
        campaign = require_campaign(session, campaign_name)
        found = session.scalars(
            select(RunRow)
            .join(LinkRow, LinkRow.id == RunRow.link_id)
            .where(LinkRow.campaign_id == campaign.id)
            .order_by(RunRow.id)
        )
        return [_summary(session, run) for run in found]


def skipped_members(
    ctx: SyncContext, campaign_name: str
) -> list[tuple[str | None, str | None, str, str]]:
    """(email, status, reason, Salesforce member id) of the members inbound skipped."""
    with transaction(ctx.sessions) as session:
        campaign = require_campaign(session, campaign_name)
        found: list[tuple[str | None, str | None, str, str]] = []
        for link in session.scalars(select(LinkRow).where(LinkRow.campaign_id == campaign.id)):
            found.extend(
                (s.email, s.status, s.reason, s.salesforce_member_id)
                for s in member_sync.skipped(session, link.id)
            )
        return found
