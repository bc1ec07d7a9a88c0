"""Celery settings, built from `convsync.config.Settings` (so, from the environment).

Tuned for at-least-once delivery: late acks, one message prefetched per process on
Redis and RabbitMQ (eight on the embedded transports, which poll about once a second),
a visibility timeout far above any task's time limit or retry delay (the settings
refuse an API-limit wait that could outlive it). Recovery from a
worker killed mid-task is the sync's own job (run leases and the reconciler), so
`task_reject_on_worker_lost` stays off: it would requeue a poison task forever.
"""

from __future__ import annotations

from typing import Any

from kombu.entity import Exchange, Queue

from convsync.config import Settings

# The queues, by role. Workers can be scaled per queue (`convsync worker -Q convsync.members`).
QUEUES: dict[str, str] = {
    "inbound": "convsync.inbound",
    "outbound": "convsync.outbound",
    "members": "convsync.members",
    "dead_letter": "convsync.dead_letter",
    "control": "convsync.control",
}

# Every task must have a route; a test fails when one does not.
ROUTES: dict[str, str] = {
    "convsync.sync.import_inbound": "inbound",
    "convsync.sync.apply_inbound_chunk": "members",
    "convsync.sync.push_outbound": "outbound",
    "convsync.sync.push_outbound_chunk": "members",
    "convsync.sync.flush_updates": "members",
    "convsync.sync.push_edits": "control",
    "convsync.dlq.replay": "dead_letter",
    "convsync.schedule.dispatch_due_syncs": "control",
    "convsync.schedule.reconcile": "control",
    "convsync.system.ping": "control",
}


def _transport_options(url: str, settings: Settings) -> dict[str, Any]:
    if url.startswith(("redis", "rediss")):
        return {
            "visibility_timeout": settings.visibility_timeout_seconds,
            "socket_keepalive": True,
            "retry_on_timeout": True,
        }
    # kombu's SQLAlchemy transport hands every option to create_engine(): pass none.
    return {}


def build_celery_config(settings: Settings) -> dict[str, Any]:
    embedded = settings.is_embedded
    exchange = Exchange("convsync", type="direct")
    queues = [Queue(name, exchange, routing_key=name) for name in QUEUES.values()]
    routes = {
        task: {"queue": QUEUES[role], "routing_key": QUEUES[role]} for task, role in ROUTES.items()
    }
    return {
        "broker_url": settings.broker_url,
        "result_backend": settings.result_backend,
        "broker_transport_options": _transport_options(settings.broker_url, settings),
        "result_backend_transport_options": _transport_options(settings.result_backend, settings),
        "broker_connection_retry_on_startup": True,
        # JSON only: tasks take ids and small plain values.
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "result_accept_content": ["json"],
        "task_queues": queues,
        "task_default_queue": QUEUES["control"],
        "task_default_exchange": "convsync",
        "task_default_routing_key": QUEUES["control"],
        "task_routes": routes,
        "task_create_missing_queues": False,
        # At-least-once.
        "task_acks_late": True,
        "task_acks_on_failure_or_timeout": True,
        "task_reject_on_worker_lost": False,
        # The serverless transports poll about once a second: prefetch more there.
        "worker_prefetch_multiplier": 8 if embedded else 1,
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "worker_soft_shutdown_timeout": 10.0,
        "worker_enable_soft_shutdown_on_idle": True,
        "task_time_limit": settings.task_time_limit_seconds,
        "task_soft_time_limit": max(settings.task_time_limit_seconds - 30, 5),
        # Results: nobody waits on most of them; keep them briefly.
        "task_ignore_result": True,
        "result_expires": 3_600,
        "result_extended": False,
        # Flower.
        "worker_send_task_events": True,
        "task_send_sent_event": True,
        "worker_hijack_root_logger": False,
        "worker_max_memory_per_child": 300_000,  # KiB: recycle a child past ~300 MB
        "beat_max_loop_interval": min(settings.sync_interval_seconds, 30),
        "timezone": "UTC",
        "enable_utc": True,
    }
