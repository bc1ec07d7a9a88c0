"""Enqueuing tasks by name (the Dispatcher port), and the context tasks run use cases in."""

from __future__ import annotations

from datetime import timedelta
from typing import Any
from urllib.parse import urlsplit

from kombu.exceptions import OperationalError

from convsync.domain.errors import BrokerUnavailableError
from convsync.sync.context import SyncContext, SyncOptions
from convsync.workers.app import app
from convsync.workers.root import adapters


def _location(url: str) -> str:
    """A broker URL without its user and password: `redis://host:6379`."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.hostname or ''}{f':{parts.port}' if parts.port else ''}"


def send(task: str, **kwargs: Any) -> None:
    """Send a task by name; a broker that cannot be reached is one clear error."""
    try:
        app.send_task(task, kwargs=kwargs)
    except OperationalError as error:
        reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
        where = _location(adapters().settings.broker_url)
        raise BrokerUnavailableError(
            f"cannot reach the broker at CONVSYNC_BROKER_URL ({where}: {reason})"
        ) from None


class CeleryDispatcher:
    """Sends tasks with ids only; routes come from configuration (celeryconfig.ROUTES)."""

    def inbound_stage(self, run_id: int) -> None:
        send("convsync.sync.import_inbound", run_id=run_id)

    def inbound_chunk(self, run_id: int, chunk: int) -> None:
        send("convsync.sync.apply_inbound_chunk", run_id=run_id, chunk=chunk)

    def outbound_stage(self, run_id: int) -> None:
        send("convsync.sync.push_outbound", run_id=run_id)

    def outbound_chunk(self, run_id: int, chunk: int) -> None:
        send("convsync.sync.push_outbound_chunk", run_id=run_id, chunk=chunk)

    def push_edits(self, link_id: int, requested_after: int, *, delay: float) -> None:
        # A countdown far below the visibility timeout, so never delivered twice for it.
        app.send_task(
            "convsync.sync.push_edits",
            kwargs={"link_id": link_id, "requested_after": requested_after},
            countdown=delay,
        )

    def flush_updates(self, *, delay: float) -> None:
        # Many chunks ask; a flush that finds nothing due (or nothing at all) is a no-op.
        app.send_task("convsync.sync.flush_updates", countdown=delay)


def replay_dead_letters(link_id: int) -> None:
    send("convsync.dlq.replay", link_id=link_id)


def sync_context() -> SyncContext:
    from convsync.metrics import SyncTelemetry

    built = adapters()
    settings = built.settings
    options = SyncOptions(
        lease=timedelta(seconds=settings.lease_seconds),
        create_missing_leads=settings.create_missing_leads,
        bulk_threshold=settings.bulk_threshold,
        api_limit_retry=timedelta(seconds=settings.api_limit_retry_seconds),
        edit_push_delay=timedelta(seconds=settings.edit_push_delay_seconds),
        edit_push_max_delay=timedelta(seconds=settings.edit_push_max_delay_seconds),
        decision_retention=timedelta(days=settings.decision_retention_days),
        full_compare_interval=timedelta(seconds=settings.full_sync_interval_seconds),
        update_pool_linger=timedelta(seconds=settings.update_pool_seconds),
    )
    return SyncContext(
        built.sessions,
        lambda: built.salesforce,
        CeleryDispatcher(),
        options,
        SyncTelemetry(),
        built.api_usage,
    )
