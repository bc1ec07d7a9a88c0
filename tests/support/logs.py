"""Reading a worker's JSON log file in tests."""

from __future__ import annotations

import json
from typing import Any


def json_events(log: str, event: str) -> list[dict[str, Any]]:
    """The JSON lines of a log whose `event` is `event` (other lines are skipped)."""
    found = []
    for line in log.splitlines():
        if not line.startswith("{") or f'"{event}"' not in line:
            continue
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("event") == event:
            found.append(entry)
    return found
