"""What `convsync status --api` prints (the JSON form is the report itself)."""

from __future__ import annotations

from convsync.sync.api_usage import PURPOSES, ApiUsageReport
from convsync.views.output import console, emit_table


def print_api_usage(report: ApiUsageReport) -> None:
    hours = report.window_seconds / 3_600
    window = f"{hours:g} h" if hours >= 1 else f"{report.window_seconds} s"
    if report.budget is None:
        budget = "no budget known yet (set CONVSYNC_SALESFORCE_DAILY_BUDGET)"
    else:
        share = f"{report.used_share:.0%}" if report.used_share is not None else "?"
        budget = f"{report.used:,} of {report.budget:,} calls ({share})"
    console.print(f"Salesforce API calls by convsync, last {window}: {budget}")
    if report.paused and report.resumes_at is not None:
        console.print(
            f"[bold]syncs paused[/]: the budget is spent; they resume at "
            f"{report.resumes_at:%Y-%m-%d %H:%M:%S} UTC"
        )
    emit_table(
        "Calls per campaign",
        ["campaign", *PURPOSES, "total"],
        [(c.campaign, *(c.calls.get(p, 0) for p in PURPOSES), c.total) for c in report.campaigns]
        + [("all", *(report.by_purpose.get(p, 0) for p in PURPOSES), report.used)],
    )
