"""Worker heartbeats."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from convsync.store.tables import HeartbeatRow, utcnow


def record(session: Session, *, token: str, hostname: str) -> None:
    row = session.get(HeartbeatRow, token)
    if row is None:
        session.add(HeartbeatRow(token=token, hostname=hostname, seen_at=utcnow()))
    else:
        row.seen_at = utcnow()


def seen_at(session: Session, token: str) -> datetime | None:
    return session.scalar(select(HeartbeatRow.seen_at).where(HeartbeatRow.token == token))
