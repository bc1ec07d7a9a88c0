"""The sync's Celery tasks: thin wrappers around `convsync.sync` use cases."""

from __future__ import annotations

from typing import Any

from convsync.domain.errors import ApiBudgetSpentError, ApiLimitExceededError
from convsync.sync import edits, inbound, outbound, stages, update_pool
from convsync.tasks.base import SyncTask
from convsync.tasks.dispatch import sync_context
from convsync.workers.app import app


def _wait_for_budget(
    task: Any, run_id: int, error: ApiLimitExceededError, token: str | None = None
) -> None:
    """Retry this task once the API budget may be back (the run keeps its work), or
    give up when the run has failed."""
    wait = stages.wait_for_api_budget(
        sync_context(),
        run_id,
        str(error),
        attempt=task.request.retries,
        token=token,
        frees_at=error.frees_at if isinstance(error, ApiBudgetSpentError) else None,
    )
    if wait is not None:
        if isinstance(error, ApiBudgetSpentError):
            # A pause for convsync's own budget is no attempt: the retry keeps this
            # message's count, so the transient-error retries and Salesforce's own
            # limit waits that may follow still get their full allowance.
            task.request.retries -= 1
        # Our own bound decides (attempts are counted with the transient retries).
        raise task.retry(countdown=wait, exc=error, max_retries=None)


@app.task(base=SyncTask, bind=True, name="convsync.sync.import_inbound")
def import_inbound(self: Any, run_id: int) -> None:
    try:
        inbound.plan_inbound(sync_context(), run_id)
    except ApiLimitExceededError as error:
        _wait_for_budget(self, run_id, error)


@app.task(base=SyncTask, bind=True, name="convsync.sync.apply_inbound_chunk")
def apply_inbound_chunk(self: Any, run_id: int, chunk: int) -> None:
    try:
        inbound.apply_inbound_chunk(sync_context(), run_id, chunk, token=self.request.id)
    except stages.LostClaimError:
        return


@app.task(base=SyncTask, bind=True, name="convsync.sync.push_outbound")
def push_outbound(self: Any, run_id: int) -> None:
    try:
        outbound.plan_outbound(sync_context(), run_id)
    except ApiLimitExceededError as error:
        _wait_for_budget(self, run_id, error)


@app.task(base=SyncTask, bind=True, name="convsync.sync.push_outbound_chunk")
def push_outbound_chunk(self: Any, run_id: int, chunk: int) -> None:
    try:
        outbound.push_outbound_chunk(sync_context(), run_id, chunk, token=self.request.id)
    except stages.LostClaimError:
        return
    except ApiLimitExceededError as error:
        _wait_for_budget(self, run_id, error, token=self.request.id)


@app.task(base=SyncTask, name="convsync.sync.flush_updates")
def flush_updates() -> None:
    update_pool.flush_updates(sync_context())


@app.task(base=SyncTask, name="convsync.sync.push_edits")
def push_edits(link_id: int, requested_after: int) -> None:
    edits.plan_edit_push(sync_context(), link_id, requested_after)
