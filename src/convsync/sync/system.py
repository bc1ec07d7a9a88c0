"""Operational use cases."""

from __future__ import annotations

from convsync.store import heartbeats
from convsync.store.db import Sessions, transaction


def record_heartbeat(sessions: Sessions, *, token: str, hostname: str) -> None:
    with transaction(sessions) as session:
        heartbeats.record(session, token=token, hostname=hostname)
