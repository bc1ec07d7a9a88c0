"""Worker signals: per-process adapters and log context bound to each task."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import structlog
from celery import signals

from convsync.config import Settings, get_settings
from convsync.logs import configure_logging
from convsync.salesforce.usage import attribute_to
from convsync.workers import root

if TYPE_CHECKING:
    from convsync.sync.reporting import CampaignHealth

log = structlog.get_logger(__name__)

# Task keyword arguments worth carrying on every log line of the task.
_CONTEXT_KEYS = ("run_id", "link_id", "campaign_id", "chunk", "stage")
# The stage each sync task works on (the use case adds the campaign once it read the run).
_TASK_STAGES = {
    "convsync.sync.import_inbound": "inbound",
    "convsync.sync.apply_inbound_chunk": "inbound",
    "convsync.sync.push_outbound": "outbound",
    "convsync.sync.push_outbound_chunk": "outbound",
}


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
    attribute_to(None)  # org-level until the task's use case names its campaign
    context = {k: v for k, v in (kwargs or {}).items() if k in _CONTEXT_KEYS}
    if task.name in _TASK_STAGES:
        context.setdefault("stage", _TASK_STAGES[task.name])
    structlog.contextvars.bind_contextvars(task_id=task_id, task=task.name, **context)


@signals.task_postrun.connect
def _clear_task_context(**_: Any) -> None:
    structlog.contextvars.clear_contextvars()


def _health_reader(settings: Settings) -> Callable[[], Mapping[str, CampaignHealth]]:
    """Campaigns' health read with a connection per scrape: the main process keeps no
    pooled connection that a pool process forked later could inherit."""
    from sqlalchemy import create_engine
    from sqlalchemy.pool import NullPool

    from convsync.store.db import make_session_factory
    from convsync.sync.reporting import campaign_health

    sessions = make_session_factory(create_engine(settings.database_url, poolclass=NullPool))
    return lambda: campaign_health(sessions)


def _queue_depths() -> dict[str, int]:
    from convsync.workers.app import app
    from convsync.workers.broker import queue_depths

    return queue_depths(app)


# Where this worker serves /metrics (set at worker_init, logged when the worker is ready).
_serving: list[str] = []


@signals.worker_init.connect
def _serve_metrics(**_: Any) -> None:
    """With CONVSYNC_METRICS_PORT: serve /metrics from the main process for the whole pool."""
    settings = get_settings()
    if settings.metrics_port is None:
        return
    from convsync import metrics

    metrics.enable_multiprocess()  # before the pool forks
    address = settings.metrics_address
    port = metrics.serve(address, settings.metrics_port, _health_reader(settings), _queue_depths)
    _serving.append(f"http://{address}:{port}/metrics")


@signals.worker_ready.connect
def _say_where_metrics_are(**_: Any) -> None:
    # Logged once logging is set up (it is not yet at worker_init).
    for url in _serving:
        log.info("serving metrics", url=url)


@signals.worker_shutdown.connect
def _remove_metrics_files(**_: Any) -> None:
    if get_settings().metrics_port is not None:
        from convsync import metrics

        metrics.cleanup_multiprocess()
