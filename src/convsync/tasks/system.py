"""Operational tasks."""

from __future__ import annotations

import socket

from convsync.sync import system
from convsync.workers.app import app
from convsync.workers.root import adapters


@app.task(name="convsync.system.ping", ignore_result=False)
def ping(token: str) -> str:
    """Write a heartbeat: proves a worker consumes from the broker and writes to the store."""
    system.record_heartbeat(adapters().sessions, token=token, hostname=socket.gethostname())
    return token
