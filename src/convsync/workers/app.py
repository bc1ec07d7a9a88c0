"""The Celery application. Importing it configures nothing but Celery itself.

Adapters (database engine, Salesforce session) are built per worker process by the
composition root (`convsync.workers.root`) on `worker_process_init`, never at import.
"""

from __future__ import annotations

from typing import Any

from celery import Celery

from convsync.celeryconfig import build_celery_config
from convsync.config import get_settings
from convsync.workers.schedule import beat_schedule

# Imported by each worker at start (never by the app module itself: no import cycle).
TASK_MODULES = ["convsync.tasks.system", "convsync.tasks.sync", "convsync.tasks.schedule"]


def _configuration() -> dict[str, Any]:
    settings = get_settings()
    return {
        **build_celery_config(settings),
        "beat_schedule": beat_schedule(settings),
        "include": TASK_MODULES,
    }


def create_app() -> Celery:
    """The app reads its configuration lazily, on first use, from the environment."""
    app = Celery("convsync", set_as_current=True)
    app.add_defaults(_configuration)
    return app


app = create_app()

# Signals: composition root and log context.
from convsync.workers import signals as _signals  # noqa: E402, F401  (registers handlers)
