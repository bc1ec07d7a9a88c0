"""Pending pushes: members whose Conversion value differs from their base (what outbound writes)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, or_, select
from sqlalchemy.orm import Session

from convsync.domain.model import MemberValue
from convsync.store.bases import pushing_value
from convsync.store.tables import MemberRow, MemberSyncStateRow, PersonRow


@dataclass(frozen=True, slots=True)
class PushCandidate:
    member_id: int
    person_id: int
    email: str
    first_name: str | None
    last_name: str | None
    company: str | None
    lead_id: str | None
    contact_id: str | None
    status: str | None
    updated_at: datetime
    salesforce_member_id: str | None
    # What an earlier attempt started writing and never recorded (see `mark_pushing`).
    pushing: MemberValue | None = None


def _base_of_member(link_id: int) -> Any:
    """The join from a member to its base on the link (outer: a new member has none)."""
    return and_(
        MemberSyncStateRow.link_id == link_id, MemberSyncStateRow.person_id == MemberRow.person_id
    )


def differs_from_base() -> Any:
    state = MemberSyncStateRow
    return or_(
        and_(state.id.is_(None), MemberRow.status.is_not(None)),
        # Not yet agreed: push a status, or a removal of a member Salesforce has (a removal
        # in Conversion that won against it).
        and_(
            state.id.is_not(None),
            state.synced.is_(False),
            or_(MemberRow.status.is_not(None), state.salesforce_member_id.is_not(None)),
        ),
        and_(state.synced.is_(True), MemberRow.status.is_distinct_from(state.status)),
    )


def _candidate_ids(link_id: int, campaign_id: int) -> Select[int]:
    """Ids of members whose Conversion value differs from the base: what outbound pushes."""
    return (
        select(MemberRow.id)
        .outerjoin(MemberSyncStateRow, _base_of_member(link_id))
        .where(MemberRow.campaign_id == campaign_id, differs_from_base())
    )


def push_candidate_ids(session: Session, link_id: int, campaign_id: int) -> list[int]:
    """Ids of members whose Conversion value differs from the base, in id order."""
    return list(session.scalars(_candidate_ids(link_id, campaign_id).order_by(MemberRow.id)))


def has_push_candidates(session: Session, link_id: int, campaign_id: int) -> bool:
    """Whether any member differs from its base (one row read at most)."""
    return session.scalar(_candidate_ids(link_id, campaign_id).limit(1)) is not None


def push_candidate_statuses(session: Session, link_id: int, campaign_id: int) -> set[str]:
    """The statuses the members to push hold (what the Salesforce campaign must offer)."""
    query = (
        select(MemberRow.status)
        .distinct()
        .outerjoin(MemberSyncStateRow, _base_of_member(link_id))
        .where(
            MemberRow.campaign_id == campaign_id,
            MemberRow.status.is_not(None),
            differs_from_base(),
        )
    )
    return {status for status in session.scalars(query) if status is not None}


def push_candidates(
    session: Session, link_id: int, campaign_id: int, lo: int, hi: int
) -> list[PushCandidate]:
    """The members in id range [lo, hi] that still differ from their base."""
    rows = session.execute(
        select(
            MemberRow.id,
            MemberRow.person_id,
            PersonRow.email,
            PersonRow.first_name,
            PersonRow.last_name,
            PersonRow.company,
            PersonRow.salesforce_lead_id,
            PersonRow.salesforce_contact_id,
            MemberRow.status,
            MemberRow.updated_at,
            MemberSyncStateRow.salesforce_member_id,
            MemberSyncStateRow.push_started_at,
            MemberSyncStateRow.push_status,
        )
        .join(PersonRow, PersonRow.id == MemberRow.person_id)
        .outerjoin(MemberSyncStateRow, _base_of_member(link_id))
        .where(
            MemberRow.campaign_id == campaign_id, MemberRow.id.between(lo, hi), differs_from_base()
        )
        .order_by(MemberRow.id)
    )
    return [
        PushCandidate(
            member_id=r.id,
            person_id=r.person_id,
            email=r.email,
            first_name=r.first_name,
            last_name=r.last_name,
            company=r.company,
            lead_id=r.salesforce_lead_id,
            contact_id=r.salesforce_contact_id,
            status=r.status,
            updated_at=r.updated_at,
            salesforce_member_id=r.salesforce_member_id,
            pushing=pushing_value(r.push_started_at, r.push_status),
        )
        for r in rows
    ]


def still_to_push(link_id: int, campaign_id: int) -> Any:
    """A subquery: the people of the campaign whose value still differs from their base."""
    return (
        select(MemberRow.person_id)
        .outerjoin(MemberSyncStateRow, _base_of_member(link_id))
        .where(MemberRow.campaign_id == campaign_id, differs_from_base())
    )
