"""Bases: per (link, person), the value both sides agreed on at the last sync.

Also the value an outbound write started and never recorded (`mark_pushing`), which
the inbound stage recognises when it reads it back.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from convsync.domain.model import MemberValue
from convsync.store.batches import batches
from convsync.store.tables import MemberSyncStateRow, PersonRow, utcnow
from convsync.store.upsert import upsert


@dataclass(frozen=True, slots=True)
class MemberBase:
    synced: bool
    status: str | None
    salesforce_member_id: str | None
    # The value an outbound write started and never recorded (status None: a removal).
    pushing: MemberValue | None = None


@dataclass(frozen=True, slots=True)
class KnownMember:
    """A member the last sync agreed was in the Salesforce campaign, and where it lived."""

    person_id: int
    salesforce_member_id: str
    status: str
    synced_at: datetime
    email: str
    lead_id: str | None
    contact_id: str | None


def known_salesforce_members(session: Session, link_id: int) -> list[KnownMember]:
    """The link's bases that hold a member in Salesforce (drift repair compares them)."""
    rows = session.execute(
        select(
            MemberSyncStateRow.person_id,
            MemberSyncStateRow.salesforce_member_id,
            MemberSyncStateRow.status,
            MemberSyncStateRow.synced_at,
            PersonRow.email,
            PersonRow.salesforce_lead_id,
            PersonRow.salesforce_contact_id,
        )
        .join(PersonRow, PersonRow.id == MemberSyncStateRow.person_id)
        .where(
            MemberSyncStateRow.link_id == link_id,
            MemberSyncStateRow.synced.is_(True),
            MemberSyncStateRow.status.is_not(None),
            MemberSyncStateRow.salesforce_member_id.is_not(None),
        )
        .order_by(MemberSyncStateRow.person_id)
    )
    return [
        KnownMember(
            r.person_id,
            str(r.salesforce_member_id),  # not null: filtered above
            str(r.status),
            r.synced_at,
            r.email,
            r.salesforce_lead_id,
            r.salesforce_contact_id,
        )
        for r in rows
    ]


def holders_of_members(
    session: Session, link_id: int, salesforce_member_ids: Iterable[str]
) -> dict[str, int]:
    """Salesforce member id → the person whose base on this link holds that member."""
    wanted = sorted(set(salesforce_member_ids))
    found: dict[str, int] = {}
    for batch in batches(wanted):
        found.update(
            {
                sf_id: person
                for sf_id, person in session.execute(
                    select(
                        MemberSyncStateRow.salesforce_member_id, MemberSyncStateRow.person_id
                    ).where(
                        MemberSyncStateRow.link_id == link_id,
                        MemberSyncStateRow.salesforce_member_id.in_(batch),
                    )
                )
                if sf_id is not None
            }
        )
    return found


def bases(session: Session, link_id: int, person_ids: Iterable[int]) -> dict[int, MemberBase]:
    wanted = sorted(set(person_ids))
    found: dict[int, MemberBase] = {}
    for batch in batches(wanted):
        rows = session.execute(
            select(
                MemberSyncStateRow.person_id,
                MemberSyncStateRow.synced,
                MemberSyncStateRow.status,
                MemberSyncStateRow.salesforce_member_id,
                MemberSyncStateRow.push_started_at,
                MemberSyncStateRow.push_status,
            ).where(
                MemberSyncStateRow.link_id == link_id,
                MemberSyncStateRow.person_id.in_(batch),
            )
        )
        found.update(
            {
                r.person_id: MemberBase(
                    r.synced,
                    r.status,
                    r.salesforce_member_id,
                    pushing_value(r.push_started_at, r.push_status),
                )
                for r in rows
            }
        )
    return found


@dataclass(frozen=True, slots=True)
class NewBase:
    """A member's base after a chunk judged or pushed it (`synced` False: not agreed yet)."""

    person_id: int
    synced: bool
    status: str | None
    salesforce_member_id: str | None


def write_bases(session: Session, link_id: int, values: Sequence[NewBase]) -> None:
    """The new bases, one per member.

    A new base supersedes any pending push of the member (it was recorded or judged).
    """
    now = utcnow()
    rows = [
        _state_row(
            link_id,
            base.person_id,
            now,
            synced=base.synced,
            status=base.status,
            salesforce_member_id=base.salesforce_member_id,
        )
        for base in sorted(values, key=lambda b: b.person_id)
    ]
    _upsert_state(session, rows, overwrite=_BASE_COLUMNS)


@dataclass(frozen=True, slots=True)
class StartedPush:
    """A write an outbound chunk is about to make for a member (status None: a removal)."""

    person_id: int
    status: str | None
    salesforce_member_id: str | None


def mark_pushing(session: Session, link_id: int, values: Sequence[StartedPush]) -> None:
    """The pushes a chunk is about to make: recorded, and committed, before the outbound
    write, so that a chunk dying between the write and its new base leaves a trace the
    inbound stage recognises (domain.conflict.landed)."""
    now = utcnow()
    rows = [
        _state_row(
            link_id,
            push.person_id,
            now,
            salesforce_member_id=push.salesforce_member_id,
            pushing=(now, push.status),
        )
        for push in sorted(values, key=lambda p: p.person_id)
    ]
    _upsert_state(session, rows, overwrite=["push_started_at", "push_status"])


# Everything but the key: a new base replaces all of it, the pending push included.
_BASE_COLUMNS = (
    "synced",
    "status",
    "salesforce_member_id",
    "synced_at",
    "push_started_at",
    "push_status",
)


def _state_row(
    link_id: int,
    person_id: int,
    now: datetime,
    *,
    synced: bool = False,
    status: str | None = None,
    salesforce_member_id: str | None = None,
    pushing: tuple[datetime, str | None] | None = None,
) -> dict[str, Any]:
    started, push_status = pushing if pushing is not None else (None, None)
    return {
        "link_id": link_id,
        "person_id": person_id,
        "synced": synced,
        "status": status,
        "salesforce_member_id": salesforce_member_id,
        "synced_at": now,
        "push_started_at": started,
        "push_status": push_status,
    }


def pushing_value(started_at: datetime | None, status: str | None) -> MemberValue | None:
    """The pending push a row holds, if any (`mark_pushing`)."""
    return None if started_at is None else MemberValue(status)


def _upsert_state(session: Session, rows: list[dict[str, Any]], overwrite: Sequence[str]) -> None:
    upsert(
        session,
        MemberSyncStateRow.__table__,
        rows,
        key=[MemberSyncStateRow.link_id, MemberSyncStateRow.person_id],
        overwrite=overwrite,
    )
