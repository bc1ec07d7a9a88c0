"""What `convsync status` and `sync --wait` show: links, runs, counts, errors, lag."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from convsync.store import member_sync, runs
from convsync.store.db import transaction
from convsync.store.tables import (
    CampaignRow,
    LinkRow,
    RunRow,
    SkippedMemberRow,
    SyncErrorRow,
    utcnow,
)
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


@dataclass(frozen=True, slots=True)
class CampaignHealth:
    """What the per-campaign gauges of /metrics show, read at scrape time."""

    # Seconds behind: since the last successful push (or, never synced, since linking).
    lag_seconds: float
    open_dead_letters: int
    skipped_members: int
    # The link's latest finished run failed (a newer success clears it).
    last_run_failed: bool


def campaign_health(sessions: sessionmaker[Session]) -> dict[str, CampaignHealth]:
    """Every linked campaign's health in one query (the scrape's whole database cost)."""
    letters = (
        select(func.count())
        .where(
            SyncErrorRow.link_id == LinkRow.id,
            SyncErrorRow.resolved_at.is_(None),
            SyncErrorRow.person_id.is_not(None),
        )
        .scalar_subquery()
    )
    skipped = select(func.count()).where(SkippedMemberRow.link_id == LinkRow.id).scalar_subquery()
    last_state = (
        select(RunRow.state)
        .where(RunRow.link_id == LinkRow.id, RunRow.state.in_(("succeeded", "failed")))
        .order_by(RunRow.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    with transaction(sessions) as session:
        rows = session.execute(
            select(
                CampaignRow.name,
                LinkRow.outbound_mark,
                LinkRow.linked_at,
                letters.label("letters"),
                skipped.label("skipped"),
                last_state.label("last_state"),
            )
            .join(CampaignRow, CampaignRow.id == LinkRow.campaign_id)
            .where(LinkRow.state == "active")
        ).all()
    now = utcnow()
    return {
        r.name: CampaignHealth(
            lag_seconds=(now - (r.outbound_mark or r.linked_at)).total_seconds(),
            open_dead_letters=int(r.letters or 0),
            skipped_members=int(r.skipped or 0),
            last_run_failed=r.last_state == "failed",
        )
        for r in rows
    }


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
