"""Worker signals: per-process adapters and log context bound to each task."""

from __future__ import annotations

from typing import Any

import structlog
from celery import signals

from convsync.config import get_settings
from convsync.logs import configure_logging
from convsync.workers import root

log = structlog.get_logger(__name__)

# Task keyword arguments worth carrying on every log line of the task.
_CONTEXT_KEYS = ("run_id", "link_id", "campaign_id", "chunk", "stage")


def _secrets() -> list[str]:
    s = get_settings()
    values = [
        s.salesforce_password,
        s.salesforce_security_token,
        s.salesforce_client_secret,
        s.salesforce_session_id,
        s.salesforce_refresh_token,
    ]
    return [v.get_secret_value() for v in values if v is not None]


@signals.setup_logging.connect
def _setup_logging(**_: Any) -> None:
    settings = get_settings()
    configure_logging(settings.log_level, settings.log_format, _secrets())


@signals.worker_process_init.connect
def _build_adapters(**_: Any) -> None:
    # After fork: drop anything inherited from the parent and build afresh.
    root.reset(root.build())


@signals.worker_process_shutdown.connect
def _close_adapters(**_: Any) -> None:
    root.reset(None)


@signals.task_prerun.connect
def _bind_task_context(
    task_id: str, task: Any, kwargs: dict[str, Any] | None = None, **_: Any
) -> None:
    structlog.contextvars.clear_contextvars()
    context = {k: v for k, v in (kwargs or {}).items() if k in _CONTEXT_KEYS}
    structlog.contextvars.bind_contextvars(task_id=task_id, task=task.name, **context)


@signals.task_postrun.connect
def _clear_task_context(**_: Any) -> None:
    structlog.contextvars.clear_contextvars()
