"""Repository for Salesforce links and their bookmarks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, exists, select
from sqlalchemy.orm import Session

from convsync.domain import ids
from convsync.store.tables import CampaignRow, LinkRow, MemberRow, RunRow, SyncErrorRow, utcnow


@dataclass(frozen=True, slots=True)
class DueCandidate:
    """What the scheduler needs to know about one active link."""

    link_id: int
    salesforce_campaign_id: str
    inbound_mark: datetime | None
    status_mark: datetime | None
    local_changes: bool
    open_dead_letters: bool


def active_link(session: Session, campaign_id: int) -> LinkRow | None:
    return session.scalar(
        select(LinkRow).where(LinkRow.campaign_id == campaign_id, LinkRow.state == "active")
    )


def active_link_for_salesforce(session: Session, salesforce_campaign_id: str) -> LinkRow | None:
    """The active link to this Salesforce campaign, whichever form of its id is given."""
    return session.scalar(
        select(LinkRow).where(
            LinkRow.salesforce_campaign_id == ids.campaign_id(salesforce_campaign_id),
            LinkRow.state == "active",
        )
    )


def add_link(session: Session, campaign_id: int, salesforce_campaign_id: str, mode: str) -> LinkRow:
    link = LinkRow(
        campaign_id=campaign_id,
        # Stored in the 18-character form only: the unique index then holds per campaign.
        salesforce_campaign_id=ids.campaign_id(salesforce_campaign_id),
        mode=mode,
        state="active",
        linked_at=utcnow(),
    )
    session.add(link)
    session.flush()
    return link


def discard_unstarted_link(session: Session, link_id: int) -> None:
    """Delete a link whose initial sync never reached the broker (and that run): the
    command that made it failed, and a rerun must find the campaign unlinked."""
    session.execute(delete(RunRow).where(RunRow.link_id == link_id, RunRow.state == "queued"))
    session.execute(delete(LinkRow).where(LinkRow.id == link_id))


def get_link(session: Session, link_id: int, *, lock: bool = False) -> LinkRow:
    query = select(LinkRow).where(LinkRow.id == link_id)
    if lock:
        query = query.with_for_update()
    link = session.scalar(query)
    if link is None:
        raise LookupError(f"link {link_id} does not exist")
    return link


def campaign_of(session: Session, link: LinkRow) -> CampaignRow:
    campaign = session.get(CampaignRow, link.campaign_id)
    assert campaign is not None  # guaranteed by the foreign key
    return campaign


def due_candidates(session: Session) -> list[DueCandidate]:
    """Every active link with its marks, whether Conversion changed since the last push,
    and whether it has open dead letters: one query, using the (campaign, updated_at) index.
    """
    local = exists().where(
        MemberRow.campaign_id == LinkRow.campaign_id,
        (LinkRow.outbound_mark.is_(None)) | (MemberRow.updated_at > LinkRow.outbound_mark),
    )
    dead = exists().where(
        SyncErrorRow.link_id == LinkRow.id,
        SyncErrorRow.resolved_at.is_(None),
        SyncErrorRow.direction == "outbound",
    )
    rows = session.execute(
        select(
            LinkRow.id,
            LinkRow.salesforce_campaign_id,
            LinkRow.inbound_mark,
            LinkRow.status_mark,
            local.label("local"),
            dead.label("dead"),
        )
        .where(LinkRow.state == "active")
        .order_by(LinkRow.id)
    )
    return [
        DueCandidate(
            r.id,
            r.salesforce_campaign_id,
            r.inbound_mark,
            r.status_mark,
            bool(r.local),
            bool(r.dead),
        )
        for r in rows
    ]
