"""Repository for member decisions (`convsync explain`): one insert per chunk, kept for
the retention period, read per member newest first."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from convsync.domain.decisions import Decision, DecisionKind, RecordedDecision
from convsync.domain.model import MemberValue, Stage
from convsync.store.tables import DecisionRow, utcnow
from convsync.store.upsert import insert


def record(
    session: Session, link_id: int, run_id: int, decisions: Sequence[tuple[int, Decision]]
) -> None:
    """(person, decision) pairs, in one statement; a chunk's retry adds nothing twice."""
    if not decisions:
        return
    now = utcnow()
    rows = [
        {
            "link_id": link_id,
            "person_id": person_id,
            "run_id": run_id,
            "stage": d.stage.value,
            "kind": d.kind.value,
            "rule": d.rule,
            "conflict": d.conflict,
            "conversion_status": d.conversion.status if d.conversion else None,
            "conversion_at": d.conversion.updated_at if d.conversion else None,
            "salesforce_status": d.salesforce.status if d.salesforce else None,
            "salesforce_at": d.salesforce.updated_at if d.salesforce else None,
            "base_status": d.base,
            "decided_at": now,
        }
        for person_id, d in sorted(decisions, key=lambda pair: pair[0])
    ]
    session.execute(insert(session, DecisionRow.__table__).on_conflict_do_nothing(), rows)


def of_member(session: Session, link_ids: Sequence[int], person_id: int) -> list[RecordedDecision]:
    """A member's decisions across the given links, newest first."""
    rows = session.scalars(
        select(DecisionRow)
        .where(DecisionRow.link_id.in_(list(link_ids)), DecisionRow.person_id == person_id)
        .order_by(DecisionRow.decided_at.desc(), DecisionRow.id.desc())
    )
    return [
        RecordedDecision(
            r.decided_at,
            r.run_id,
            Decision(
                Stage(r.stage),
                DecisionKind(r.kind),
                r.rule,
                MemberValue(r.conversion_status, r.conversion_at),
                MemberValue(r.salesforce_status, r.salesforce_at),
                r.base_status,
                r.conflict,
            ),
        )
        for r in rows
    ]


def prune(session: Session, before: datetime) -> int:
    """Forget decisions older than `before` (the retention period)."""
    result = session.execute(delete(DecisionRow).where(DecisionRow.decided_at < before))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]  # CursorResult of a DELETE
