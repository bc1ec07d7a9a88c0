"""The base class of convsync's tasks: bounded retries on known-transient errors only,
and a final failure recorded as a dead letter (the run is failed, its state kept).
"""

from __future__ import annotations

from typing import Any

import structlog
from celery import Task
from psycopg import OperationalError as PsycopgOperationalError
from requests.exceptions import ConnectionError as RequestsConnectionError
from sqlalchemy.exc import OperationalError as SqlOperationalError

from convsync.domain.errors import (
    ApiLimitExceededError,
    RequestCapUnavailableError,
    TransientSalesforceError,
)

log = structlog.get_logger(__name__)

# Errors worth retrying: Salesforce said "try again", or the database/broker connection
# dropped (a restart). Everything else fails at once, loudly, into the dead-letter table.
TRANSIENT = (
    TransientSalesforceError,
    RequestCapUnavailableError,
    RequestsConnectionError,
    SqlOperationalError,
    PsycopgOperationalError,
)


class SyncTask(Task):  # type: ignore[misc]  # Celery's Task is untyped
    abstract = True
    autoretry_for = TRANSIENT
    max_retries = 5
    retry_backoff = 2
    retry_backoff_max = 60
    retry_jitter = True
    acks_late = True

    def on_retry(
        self,
        exc: BaseException,
        task_id: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        einfo: Any,
    ) -> None:
        from convsync.logs import redactor
        from convsync.sync.stages import note_retry
        from convsync.tasks.dispatch import sync_context

        run_id = kwargs.get("run_id")
        if not isinstance(run_id, int) or isinstance(exc, ApiLimitExceededError):
            return  # a wait for the API budget records its own reason
        reason = redactor.scrub(f"{type(exc).__name__}: {exc}".splitlines()[0])[:300]
        try:
            note_retry(
                sync_context(),
                run_id,
                reason,
                retry=self.request.retries + 1,
                retries=self.max_retries,
            )
        except Exception:
            log.exception("could not record why the run retries")

    def on_failure(
        self,
        exc: BaseException,
        task_id: str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
        einfo: Any,
    ) -> None:
        from convsync.sync.dead_letters import record_task_failure
        from convsync.tasks.dispatch import sync_context

        log.error("task failed", error=f"{type(exc).__name__}: {exc}")
        try:
            record_task_failure(
                sync_context(), task_name=self.name, task_id=task_id, kwargs=dict(kwargs), error=exc
            )
        except Exception:
            log.exception("could not record the task failure")
