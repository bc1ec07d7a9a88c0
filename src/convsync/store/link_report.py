"""What `convsync status` shows of every link, read in a constant number of queries.

One grouped query per figure, however many campaigns are linked: an org with thousands
of campaigns gets its status as fast as one with three.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select
from sqlalchemy.orm import Session, aliased

from convsync.domain.model import LinkState, RunState
from convsync.store.tables import (
    CampaignRow,
    ChunkRow,
    LinkRow,
    MemberRow,
    MemberSyncStateRow,
    RunRow,
    SkippedMemberRow,
    SyncErrorRow,
)


@dataclass(frozen=True, slots=True)
class LinkFigures:
    """A link and its member figures, as the store knows them (no Salesforce call)."""

    link_id: int
    campaign: str
    salesforce_campaign_id: str
    mode: str
    state: str
    linked_at: datetime
    outbound_mark: datetime | None
    members_in_conversion: int
    # Members both sides agreed on at the last sync.
    members_synced: int
    skipped: int
    dead_letters: int
    last_dead_letter: str | None
    # Conversion edits no successful run has pushed yet (see sync.edits).
    pending_edits: int


def link_figures(session: Session, campaign_id: int | None = None) -> list[LinkFigures]:
    """Every active link (or every link of one campaign), by campaign name."""
    present = (
        select(MemberRow.campaign_id, func.count().label("n"))
        .where(MemberRow.status.is_not(None))
        .group_by(MemberRow.campaign_id)
        .subquery()
    )
    synced = (
        select(MemberSyncStateRow.link_id, func.count().label("n"))
        .where(MemberSyncStateRow.synced.is_(True), MemberSyncStateRow.status.is_not(None))
        .group_by(MemberSyncStateRow.link_id)
        .subquery()
    )
    skipped = (
        select(SkippedMemberRow.link_id, func.count().label("n"))
        .group_by(SkippedMemberRow.link_id)
        .subquery()
    )
    dead = (
        select(
            SyncErrorRow.link_id,
            func.count().label("n"),
            func.max(SyncErrorRow.id).label("latest"),
        )
        .where(SyncErrorRow.resolved_at.is_(None))
        .group_by(SyncErrorRow.link_id)
        .subquery()
    )
    latest_letter = aliased(SyncErrorRow, name="latest_letter")
    query = (
        select(
            LinkRow,
            CampaignRow.name,
            func.coalesce(present.c.n, 0),
            func.coalesce(synced.c.n, 0),
            func.coalesce(skipped.c.n, 0),
            func.coalesce(dead.c.n, 0),
            latest_letter.message,
        )
        .join(CampaignRow, CampaignRow.id == LinkRow.campaign_id)
        .outerjoin(present, present.c.campaign_id == LinkRow.campaign_id)
        .outerjoin(synced, synced.c.link_id == LinkRow.id)
        .outerjoin(skipped, skipped.c.link_id == LinkRow.id)
        .outerjoin(dead, dead.c.link_id == LinkRow.id)
        .outerjoin(latest_letter, latest_letter.id == dead.c.latest)
        .order_by(CampaignRow.name, LinkRow.id)
    )
    if campaign_id is None:
        query = query.where(LinkRow.state == LinkState.ACTIVE.value)
    else:
        query = query.where(LinkRow.campaign_id == campaign_id)
    return [
        LinkFigures(
            link_id=link.id,
            campaign=name,
            salesforce_campaign_id=link.salesforce_campaign_id,
            mode=link.mode,
            state=link.state,
            linked_at=link.linked_at,
            outbound_mark=link.outbound_mark,
            members_in_conversion=int(n_present),
            members_synced=int(n_synced),
            skipped=int(n_skipped),
            dead_letters=int(n_dead),
            last_dead_letter=message,
            pending_edits=max(link.edit_count - link.pushed_edit_count, 0),
        )
        for link, name, n_present, n_synced, n_skipped, n_dead, message in session.execute(query)
    ]


def chunk_counts(session: Session, run_ids: Sequence[int]) -> dict[int, dict[str, int]]:
    """Counts so far of each run, summed over its chunks (for runs still going)."""
    totals: dict[int, dict[str, int]] = {run_id: {} for run_id in run_ids}
    if not run_ids:
        return totals
    for run_id, counts in session.execute(
        select(ChunkRow.run_id, ChunkRow.counts).where(ChunkRow.run_id.in_(run_ids))
    ):
        for key, value in (counts or {}).items():
            totals[run_id][key] = totals[run_id].get(key, 0) + int(value)
    return totals


def chunk_progress(
    session: Session, run_ids: Sequence[int]
) -> dict[int, dict[str, tuple[int, int]]]:
    """Per run and stage: (chunks done, chunks planned); drives the progress bars."""
    found: dict[int, dict[str, tuple[int, int]]] = {run_id: {} for run_id in run_ids}
    if not run_ids:
        return found
    for run_id, stage, state, n in session.execute(
        select(ChunkRow.run_id, ChunkRow.stage, ChunkRow.state, func.count())
        .where(ChunkRow.run_id.in_(run_ids))
        .group_by(ChunkRow.run_id, ChunkRow.stage, ChunkRow.state)
    ):
        done, planned = found[run_id].get(stage, (0, 0))
        found[run_id][stage] = (done + (n if state == "done" else 0), planned + n)
    return found


@dataclass(frozen=True, slots=True)
class HealthFigures:
    """What the per-campaign gauges of /metrics are made of, for one active link."""

    name: str
    outbound_mark: datetime | None
    linked_at: datetime
    letters: int
    skipped: int
    last_state: str | None  # of the link's latest finished run


def health_figures(session: Session) -> list[HealthFigures]:
    """Every active link's health figures in one query (the scrape's whole database cost)."""
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
    finished = (RunState.SUCCEEDED.value, RunState.FAILED.value)
    last_state = (
        select(RunRow.state)
        .where(RunRow.link_id == LinkRow.id, RunRow.state.in_(finished))
        .order_by(RunRow.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    rows = session.execute(
        select(
            CampaignRow.name,
            LinkRow.outbound_mark,
            LinkRow.linked_at,
            letters,
            skipped,
            last_state,
        )
        .join(CampaignRow, CampaignRow.id == LinkRow.campaign_id)
        .where(LinkRow.state == LinkState.ACTIVE.value)
    ).all()
    return [
        HealthFigures(name, mark, linked, int(n_letters or 0), int(n_skipped or 0), state)
        for name, mark, linked, n_letters, n_skipped, state in rows
    ]
