"""The sync's Celery tasks: thin wrappers around `convsync.sync` use cases."""

from __future__ import annotations

from typing import Any

from convsync.domain.errors import ApiLimitExceededError
from convsync.sync import inbound, outbound, stages
from convsync.tasks.base import SyncTask
from convsync.tasks.dispatch import sync_context
from convsync.workers.app import app


def _stop_on_api_limit(run_id: int, error: ApiLimitExceededError) -> None:
    stages.fail_run(sync_context(), run_id, f"Salesforce API limit reached: {error}")


@app.task(base=SyncTask, bind=True, name="convsync.sync.import_inbound")
def import_inbound(self: Any, run_id: int) -> None:
    try:
        inbound.plan_inbound(sync_context(), run_id)
    except ApiLimitExceededError as error:
        _stop_on_api_limit(run_id, error)


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
        _stop_on_api_limit(run_id, error)


@app.task(base=SyncTask, bind=True, name="convsync.sync.push_outbound_chunk")
def push_outbound_chunk(self: Any, run_id: int, chunk: int) -> None:
    try:
        outbound.push_outbound_chunk(sync_context(), run_id, chunk, token=self.request.id)
    except stages.LostClaimError:
        return
    except ApiLimitExceededError as error:
        _stop_on_api_limit(run_id, error)
