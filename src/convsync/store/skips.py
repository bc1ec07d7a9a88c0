"""Skips: Salesforce members a sync did not move, and why (one row per member, latest wins)."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from convsync.store.batches import batches
from convsync.store.tables import SkippedMemberRow, utcnow
from convsync.store.upsert import upsert


def record_skips(
    session: Session,
    link_id: int,
    run_id: int,
    skips: Sequence[tuple[str, str | None, str | None, str]],
) -> None:
    """(Salesforce member id, email, status, reason): one row per member, latest wins."""
    if not skips:
        return
    rows = [
        {
            "link_id": link_id,
            "salesforce_member_id": sf_id,
            "email": email,
            "status": status,
            "reason": reason,
            "run_id": run_id,
            "recorded_at": utcnow(),
        }
        for sf_id, email, status, reason in sorted(skips, key=lambda s: s[0])
    ]
    upsert(
        session,
        SkippedMemberRow.__table__,
        rows,
        key=[SkippedMemberRow.link_id, SkippedMemberRow.salesforce_member_id],
        overwrite=["email", "status", "reason", "run_id", "recorded_at"],
    )


def clear_skips(session: Session, link_id: int, salesforce_member_ids: Iterable[str]) -> None:
    ids = sorted(set(salesforce_member_ids))
    probe = select(SkippedMemberRow.id).where(SkippedMemberRow.link_id == link_id).limit(1)
    if not ids or session.scalar(probe) is None:
        return  # the usual case: one indexed probe, no DELETE per 1,000 imported members
    for batch in batches(ids):
        session.execute(
            delete(SkippedMemberRow).where(
                SkippedMemberRow.link_id == link_id,
                SkippedMemberRow.salesforce_member_id.in_(batch),
            )
        )


def skipped(session: Session, link_id: int) -> list[SkippedMemberRow]:
    return list(
        session.scalars(
            select(SkippedMemberRow)
            .where(SkippedMemberRow.link_id == link_id)
            .order_by(SkippedMemberRow.email)
        )
    )


def skipped_before(session: Session, link_id: int, when: datetime) -> dict[str | None, list[str]]:
    """Status → ids of the Salesforce members skipped with it before `when` (a change of
    the link's rules): the members to judge again. Skips recorded since were judged by
    the current rules already."""
    found: dict[str | None, list[str]] = {}
    for status, sf_id in session.execute(
        select(SkippedMemberRow.status, SkippedMemberRow.salesforce_member_id)
        .where(SkippedMemberRow.link_id == link_id, SkippedMemberRow.recorded_at < when)
        .order_by(SkippedMemberRow.salesforce_member_id)
    ):
        found.setdefault(status, []).append(sf_id)
    return found
