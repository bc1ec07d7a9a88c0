"""Beat's schedule: one dispatcher that reads what is due, and the reconciler.

Beat never holds an entry per campaign: `dispatch_due_syncs` asks, once per interval,
which linked campaigns changed on either side. Entries expire no later than their
interval, so a backlog of ticks never piles up behind a slow worker.
"""

from __future__ import annotations

from typing import Any

from convsync.config import Settings


def beat_schedule(settings: Settings) -> dict[str, dict[str, Any]]:
    interval = float(settings.sync_interval_seconds)
    return {
        "dispatch-due-syncs": {
            "task": "convsync.schedule.dispatch_due_syncs",
            "schedule": interval,
            "options": {"expires": interval},
        },
        "reconcile": {
            "task": "convsync.schedule.reconcile",
            "schedule": interval,
            "options": {"expires": interval},
        },
    }
