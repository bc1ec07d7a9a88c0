"""Beat's tasks: the dispatcher of due syncs, the reconciler, and dead-letter replays."""

from __future__ import annotations

import structlog

from convsync.domain.errors import ApiLimitExceededError
from convsync.sync import dead_letters, schedule
from convsync.tasks.base import SyncTask
from convsync.tasks.dispatch import sync_context
from convsync.workers.app import app

log = structlog.get_logger(__name__)


@app.task(base=SyncTask, name="convsync.schedule.dispatch_due_syncs", max_retries=0)
def dispatch_due_syncs() -> None:
    try:
        report = schedule.dispatch_due_syncs(sync_context())
    except ApiLimitExceededError as error:
        # Over budget: every tick would fail the same way; wait for the budget to recover
        # rather than filling the dead-letter table once per interval.
        log.warning("tick skipped: Salesforce API limit reached", error=str(error))
        return
    if report.paused_until is not None:
        log.warning(
            "tick skipped: convsync's Salesforce API budget is spent",
            resumes_at=f"{report.paused_until:%Y-%m-%d %H:%M:%S} UTC",
        )
        return
    log.info("tick", linked=report.linked, due=report.due, started=report.started, busy=report.busy)


@app.task(base=SyncTask, name="convsync.schedule.reconcile", max_retries=0)
def reconcile() -> None:
    report = schedule.reconcile(sync_context())
    if report.stalled:
        log.warning(
            "reconciled stalled runs",
            stalled=report.stalled,
            republished=report.republished_chunks,
            restarted=report.restarted_stages,
            failed=report.failed_runs,
        )
    if report.pruned_decisions:
        log.info("forgot decisions past their retention", count=report.pruned_decisions)


@app.task(base=SyncTask, name="convsync.dlq.replay")
def replay(link_id: int) -> None:
    dead_letters.replay_link(sync_context(), link_id)
