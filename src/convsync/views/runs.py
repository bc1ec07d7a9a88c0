"""What `convsync sync --wait` shows: a run's progress bars while it runs, why it is not
moving when it says so, and one line of what it did once it ended."""

from __future__ import annotations

import time

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from convsync.domain.errors import ConvsyncError
from convsync.domain.model import RunState
from convsync.sync import reporting
from convsync.sync.reporting import RunSummary
from convsync.tasks.dispatch import sync_context
from convsync.views.output import console


class RunWaitError(ConvsyncError):
    """The run is gone, or did not end within the wait (one line, naming what to do)."""


def describe_run(run: RunSummary) -> str:
    """One line: what a finished run did."""
    c = run.counts
    repair = ""
    if "full_compare_members" in c:
        repair = (
            f"; drift repair compared {c['full_compare_members']} Salesforce members "
            f"in {c.get('full_compare_api_calls', 0)} API calls"
        )
    return (
        f"run {run.id} {run.state}: imported {c.get('imported', 0)}, "
        f"pushed {c.get('pushed', 0)}, removed {c.get('removed_in_conversion', 0)} here / "
        f"{c.get('removed_in_salesforce', 0)} in Salesforce, skipped {c.get('skipped', 0)}, "
        f"dead-lettered {c.get('dead_lettered', 0)}, conflicts won by Salesforce "
        f"{c.get('conflicts_won_by_salesforce', 0)} / Conversion "
        f"{c.get('conflicts_won_by_conversion', 0)}{repair}"
    )


# A run still queued this long has likely no worker to take it; said once, while waiting.
UNCLAIMED_NOTICE_SECONDS = 10.0
NO_WORKER = (
    "no worker has picked it up: is `convsync worker` running, with the same "
    "CONVSYNC_BROKER_URL and CONVSYNC_DATABASE_URL as this command? (a worker on another "
    "database drops the run)"
)


def wait_for_run(run_id: int, timeout: float) -> RunSummary:
    """Show a run's progress until it ends, or raise after `timeout` seconds.

    Says why the run is not moving whenever the run records a reason (retrying, waiting
    for the API budget), and says so when no worker has started it.
    """
    ctx = sync_context()
    deadline = time.monotonic() + timeout
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=False) as progress:
        bars = {
            stage: progress.add_task(f"{stage:>8}", total=None) for stage in ("inbound", "outbound")
        }
        said = None
        started = time.monotonic()
        while True:
            run = reporting.run_summary(ctx, run_id)
            if run is None:
                raise RunWaitError(f"run {run_id} no longer exists (see `convsync status`)")
            waited = time.monotonic() - started
            if run.state == RunState.RUNNING and run.error and run.error != said:
                progress.console.print(f"run {run_id}: {run.error}", markup=False)
                said = run.error
            if (
                run.state == RunState.QUEUED
                and waited > UNCLAIMED_NOTICE_SECONDS
                and said != NO_WORKER
            ):
                progress.console.print(f"run {run_id} is still queued: {NO_WORKER}", markup=False)
                said = NO_WORKER
            for stage, (done, total) in run.progress.items():
                if stage in bars:
                    progress.update(bars[stage], completed=done, total=max(total, 1))
            if run.state in (RunState.SUCCEEDED, RunState.FAILED):
                for stage, bar in bars.items():
                    if stage not in run.progress:
                        progress.update(bar, completed=1, total=1)
                return run
            if time.monotonic() > deadline:
                if run.state == RunState.QUEUED:
                    raise RunWaitError(
                        f"run {run_id} is still queued after {timeout:g}s: {NO_WORKER}"
                    )
                raise RunWaitError(
                    f"run {run_id} is still {run.state} after {timeout:g}s (see `convsync status`)"
                )
            time.sleep(0.3)
