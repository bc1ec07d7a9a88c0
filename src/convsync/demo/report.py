"""What the demo shows: live progress per campaign and stage, then the results.

Progress comes from the same place `convsync sync --wait` and `convsync status` read
(`sync.reporting`: chunk rows done/planned per stage, counts per run), so the demo
shows what an operator would see, not numbers of its own.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from convsync.metrics import Sample, total
from convsync.sync import dead_letters, reporting
from convsync.sync.context import SyncContext
from convsync.sync.reporting import RunSummary
from convsync.views.output import console, say

FINISHED = ("succeeded", "failed")
STAGES = ("inbound", "outbound")

# Run count keys, as the stages write them.
IMPORTED = "imported"
PUSHED = "pushed"
SKIPPED = "skipped"
DEAD_LETTERED = "dead_lettered"
WON_BY_SALESFORCE = "conflicts_won_by_salesforce"
WON_BY_CONVERSION = "conflicts_won_by_conversion"


def _n(counts: Mapping[str, int], key: str) -> int:
    return int(counts.get(key, 0))


def _stage_detail(stage: str, counts: Mapping[str, int]) -> str:
    if stage == "inbound":
        parts = [f"imported {_n(counts, IMPORTED):,}"]
        if _n(counts, SKIPPED):
            parts.append(f"skipped {_n(counts, SKIPPED):,}")
        conflicts = _n(counts, WON_BY_SALESFORCE) + _n(counts, WON_BY_CONVERSION)
        if conflicts:
            parts.append(f"conflicts {conflicts:,}")
    else:
        parts = [f"pushed {_n(counts, PUSHED):,}"]
        if _n(counts, "leads_created"):
            parts.append(f"new leads {_n(counts, 'leads_created'):,}")
        if _n(counts, DEAD_LETTERED):
            parts.append(f"dead-lettered {_n(counts, DEAD_LETTERED):,}")
    removed = _n(counts, "removed_in_conversion" if stage == "inbound" else "removed_in_salesforce")
    if removed:
        parts.append(f"removed {removed:,}")
    return " · ".join(parts)


@dataclass
class RunBoard:
    """Rich progress rows, one per (campaign, run, stage), fed by polling the store."""

    ctx: SyncContext
    campaigns: Sequence[str]
    after_run: Mapping[str, int] = field(default_factory=dict)
    progress: Progress = field(init=False)
    rows: dict[tuple[int, str], TaskID] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(bar_width=24),
            TextColumn("{task.fields[chunks]:>11}"),
            TextColumn("{task.fields[detail]}"),
            TimeElapsedColumn(),
            console=console,
        )

    def runs(self) -> dict[str, list[RunSummary]]:
        """The watched campaigns' runs (newer than `after_run`), as the store has them now."""
        return {
            name: [
                r
                for r in reporting.campaign_runs(self.ctx, name)
                if r.id > self.after_run.get(name, 0)
            ]
            for name in self.campaigns
        }

    def show(self, runs: Mapping[str, Sequence[RunSummary]]) -> None:
        for campaign, found in runs.items():
            for run in found:
                for stage in STAGES:
                    self._show_stage(campaign, run, stage)

    def _show_stage(self, campaign: str, run: RunSummary, stage: str) -> None:
        done, total = run.progress.get(stage, (0, 0))
        reached = stage in run.progress or run.stage in (stage, "done")
        if not reached and run.state not in FINISHED:
            return  # the outbound row appears when inbound has landed
        key = (run.id, stage)
        if key not in self.rows:
            label = f"{campaign} #{run.id} {stage}"
            self.rows[key] = self.progress.add_task(label, total=None, chunks="", detail="")
        finished = run.state in FINISHED or (stage == "inbound" and run.stage != "inbound")
        if finished and total == 0:
            done = total = 1  # a stage with nothing to do is complete at once
        chunks = f"{done}/{total} chunks" if total else "planning"
        if run.state == "failed" and stage == run.stage:
            chunks = "[red]failed[/]"
        self.progress.update(
            self.rows[key],
            completed=done,
            total=total or None,
            chunks=chunks,
            detail=_stage_detail(stage, run.counts),
        )
        if finished:
            self.progress.stop_task(self.rows[key])


class WatchTimeoutError(Exception):
    """The runs did not reach the expected state in time."""


def watch(
    board: RunBoard,
    settled: Callable[[Mapping[str, Sequence[RunSummary]]], bool],
    timeout: float,
) -> dict[str, list[RunSummary]]:
    """Show progress until `settled(runs)` holds (polling the store), or time out."""
    deadline = time.monotonic() + timeout
    with board.progress:
        while True:
            runs = board.runs()
            board.show(runs)
            if settled(runs):
                return runs
            if time.monotonic() > deadline:
                raise WatchTimeoutError(f"the runs did not settle within {timeout:.0f}s")
            time.sleep(0.3)


def totals(runs: Iterable[RunSummary]) -> Counter[str]:
    total: Counter[str] = Counter()
    for run in runs:
        total.update(run.counts)
    return total


def all_finished(runs: Mapping[str, Sequence[RunSummary]]) -> bool:
    return all(r.state in FINISHED for found in runs.values() for r in found)


def results_table(
    rows: Sequence[tuple[str, str, Sequence[RunSummary] | None]],
) -> Table:
    """One line per campaign: what all its runs moved, skipped, parked and decided."""
    table = Table(title="What the sync did", title_justify="left")
    table.add_column("campaign")
    for column in ("imported", "pushed", "skipped", "dead letters"):
        table.add_column(column, justify="right")
    table.add_column("conflicts won by\nSalesforce / Conversion", justify="center")
    for campaign, mode, runs in rows:
        name = f"{campaign}\n[dim]{mode}[/]"
        if runs is None:
            table.add_row(name, "—", "—", "—", "—", "not synced")
            continue
        c = totals(runs)
        table.add_row(
            name,
            f"{_n(c, IMPORTED):,}",
            f"{_n(c, PUSHED):,}",
            f"{_n(c, SKIPPED):,}",
            f"{_n(c, DEAD_LETTERED):,}",
            f"{_n(c, WON_BY_SALESFORCE):,} / {_n(c, WON_BY_CONVERSION):,}",
        )
    return table


def _members(n: int) -> str:
    return f"{n:,} member{'' if n == 1 else 's'}"


def print_reasons(ctx: SyncContext, campaigns: Sequence[str]) -> None:
    """Skipped members and dead letters, grouped by reason: nothing is lost silently."""
    console.print(
        "[bold]Skipped[/] (Salesforce members not imported, `convsync members list --skipped`):"
    )
    any_skip = False
    for campaign in campaigns:
        reasons = Counter(reason for _, _, reason, _ in reporting.skipped_members(ctx, campaign))
        for reason, n in reasons.most_common():
            any_skip = True
            say("  {}: {}: {}", campaign, _members(n), reason)
    if not any_skip:
        console.print("  none")
    console.print("[bold]Dead letters[/] (Conversion members not pushed, `convsync dlq list`):")
    any_letter = False
    for campaign in campaigns:
        letters = Counter(
            (d.code, d.message) for d in dead_letters.list_dead_letters(ctx, campaign)
        )
        for (code, message), n in letters.most_common():
            any_letter = True
            say("  {}: {}: {}: {}", campaign, _members(n), code, message)
    if not any_letter:
        console.print("  none")


def api_calls_line(label: str, before: Mapping[str, int], after: Mapping[str, int]) -> str:
    """API calls between two emulator counter snapshots, busiest endpoint first."""
    spent = Counter(after)
    spent.subtract(before)
    by_endpoint = [(k, n) for k, n in spent.most_common() if k != "total" and n > 0]
    detail = ", ".join(f"{key} {n}" for key, n in by_endpoint)
    return f"{label}: [bold]{spent['total']}[/] ({detail or 'none'})"


def metrics_line(url: str, samples: Sequence[Sample]) -> str:
    """The worker's Prometheus counters, in one line."""

    def count(name: str, **labels: str) -> str:
        return f"{int(total(samples, name, **labels)):,}"

    members = ", ".join(
        f"{outcome.replace('_', '-')} {count('convsync_members_total', outcome=outcome)}"
        for outcome in ("imported", "pushed", "skipped", "dead_lettered")
    )
    conflicts = (
        f"conflicts won by Salesforce {count('convsync_conflicts_total', winner='salesforce')}"
        f" / Conversion {count('convsync_conflicts_total', winner='conversion')}"
    )
    api = (
        f"Salesforce API calls {count('convsync_salesforce_api_calls_total')}, "
        f"errors {count('convsync_salesforce_errors_total')}"
    )
    lags = ", ".join(
        f"{s.labels['campaign']} {s.value:.0f}s"
        for s in samples
        if s.name == "convsync_sync_lag_seconds"
    )
    return (
        f"Prometheus, from the worker's {url} (every decision, re-reads and retries included): "
        f"members {members}; {conflicts}; {api}; lag {lags or 'none'}"
    )
