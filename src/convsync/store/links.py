"""Repository for Salesforce links and their bookmarks."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import case, delete, exists, literal, select, update
from sqlalchemy.orm import Session

from convsync.domain import ids
from convsync.domain.edits import PendingEdits
from convsync.domain.model import LinkState, RunState
from convsync.store.tables import (
    CampaignRow,
    LinkRow,
    MemberRow,
    RunRow,
    SyncErrorRow,
    UTCDateTime,
    utcnow,
)

# A link as use cases read and update it (they name no table row).
Link = LinkRow


@dataclass(frozen=True, slots=True)
class DueCandidate:
    """What the scheduler needs to know about one active link."""

    link_id: int
    salesforce_campaign_id: str
    inbound_mark: datetime | None
    status_mark: datetime | None
    local_changes: bool
    open_dead_letters: bool
    # The mapping or a policy changed since the link's last run started.
    rules_changed: bool = False


def active_link(session: Session, campaign_id: int) -> LinkRow | None:
    return session.scalar(
        select(LinkRow).where(LinkRow.campaign_id == campaign_id, LinkRow.state == LinkState.ACTIVE)
    )


def active_link_for_salesforce(session: Session, salesforce_campaign_id: str) -> LinkRow | None:
    """The active link to this Salesforce campaign, whichever form of its id is given."""
    return session.scalar(
        select(LinkRow).where(
            LinkRow.salesforce_campaign_id == ids.campaign_id(salesforce_campaign_id),
            LinkRow.state == LinkState.ACTIVE,
        )
    )


def latest_link(session: Session, campaign_id: int) -> LinkRow | None:
    """The campaign's most recent link, active or not."""
    return session.scalar(
        select(LinkRow).where(LinkRow.campaign_id == campaign_id).order_by(LinkRow.id.desc())
    )


def add_link(session: Session, campaign_id: int, salesforce_campaign_id: str, mode: str) -> LinkRow:
    link = LinkRow(
        campaign_id=campaign_id,
        # Stored in the 18-character form only: the unique index then holds per campaign.
        salesforce_campaign_id=ids.campaign_id(salesforce_campaign_id),
        mode=mode,
        state=LinkState.ACTIVE,
        linked_at=utcnow(),
    )
    session.add(link)
    session.flush()
    return link


def discard_unstarted_link(session: Session, link_id: int) -> None:
    """Delete a link whose initial sync never reached the broker (and that run): the
    command that made it failed, and a rerun must find the campaign unlinked."""
    session.execute(
        delete(RunRow).where(RunRow.link_id == link_id, RunRow.state == RunState.QUEUED)
    )
    session.execute(delete(LinkRow).where(LinkRow.id == link_id))


def link_ids_of_campaign(session: Session, campaign_id: int) -> list[int]:
    """Every link the campaign ever had (past ones too), oldest first."""
    return list(
        session.scalars(
            select(LinkRow.id).where(LinkRow.campaign_id == campaign_id).order_by(LinkRow.id)
        )
    )


def find_link(session: Session, link_id: int) -> LinkRow | None:
    return session.get(LinkRow, link_id)


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
    local = (LinkRow.edit_count > LinkRow.pushed_edit_count) | exists().where(
        MemberRow.campaign_id == LinkRow.campaign_id,
        (LinkRow.outbound_mark.is_(None)) | (MemberRow.updated_at > LinkRow.outbound_mark),
    )
    dead = exists().where(
        SyncErrorRow.link_id == LinkRow.id,
        SyncErrorRow.resolved_at.is_(None),
        SyncErrorRow.direction == "outbound",
    )
    judged_since = exists().where(
        RunRow.link_id == LinkRow.id, RunRow.started_at >= LinkRow.rules_changed_at
    )
    rules = LinkRow.rules_changed_at.is_not(None) & ~judged_since
    rows = session.execute(
        select(
            LinkRow.id,
            LinkRow.salesforce_campaign_id,
            LinkRow.inbound_mark,
            LinkRow.status_mark,
            local.label("local"),
            dead.label("dead"),
            rules.label("rules"),
        )
        .where(LinkRow.state == LinkState.ACTIVE)
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
            bool(r.rules),
        )
        for r in rows
    ]


# ---------------------------------------------------------------- pending Conversion edits


@dataclass(frozen=True, slots=True)
class EditedLink:
    """An active link and what the store knows of its campaign's Conversion edits."""

    link_id: int
    edits: PendingEdits


def note_edit(session: Session, campaign_id: int) -> None:
    """Count one Conversion edit of the campaign on its active link, if it has one.

    Called inside the edit's own transaction, so the "pending edits" signal commits (or
    rolls back) with the edit. The UPDATE takes the link's row lock, which orders the
    edit against an outbound planner reading `edits_planned`.
    """
    session.execute(
        update(LinkRow)
        .where(LinkRow.campaign_id == campaign_id, LinkRow.state == LinkState.ACTIVE)
        .values(
            edit_count=LinkRow.edit_count + 1,
            edits_pending_since=case(
                (LinkRow.edit_count == LinkRow.pushed_edit_count, literal(utcnow(), UTCDateTime())),
                else_=LinkRow.edits_pending_since,
            ),
        )
    )


def edited_link(session: Session, campaign_id: int) -> EditedLink | None:
    link = active_link(session, campaign_id)
    return None if link is None else EditedLink(link.id, _pending(link))


def pending_edits(session: Session, link_id: int) -> PendingEdits | None:
    """The link's edits, or None when it is no longer active."""
    link = session.get(LinkRow, link_id)
    return None if link is None or link.state != LinkState.ACTIVE else _pending(link)


def _pending(link: LinkRow) -> PendingEdits:
    return PendingEdits(link.edit_count, link.pushed_edit_count, link.edits_pending_since)


def edits_planned(session: Session, link_id: int) -> int:
    """The link's edit count, for an outbound plan about to read the members.

    FOR SHARE waits for an edit that has counted itself but not committed, and holds off
    later ones until the plan commits: every edit up to the count returned is visible to
    the plan's next statement, and every later one counts past it.
    """
    count = session.scalar(
        select(LinkRow.edit_count).where(LinkRow.id == link_id).with_for_update(read=True)
    )
    return int(count or 0)


def settle_edits(session: Session, link: LinkRow, planned: int | None) -> int | None:
    """A run succeeded having pushed every edit up to `planned`: record it. Returns the
    edit count when edits made after the plan are still pending (they need a push)."""
    if planned is not None and planned > link.pushed_edit_count:
        link.pushed_edit_count = planned
    if link.edit_count > link.pushed_edit_count:
        return link.edit_count
    link.edits_pending_since = None
    return None
