"""Operational use cases."""

from __future__ import annotations

from sqlalchemy.orm import Session, sessionmaker

from convsync.store import heartbeats
from convsync.store.db import transaction


def record_heartbeat(sessions: sessionmaker[Session], *, token: str, hostname: str) -> None:
    with transaction(sessions) as session:
        heartbeats.record(session, token=token, hostname=hostname)
