"""What `convsync link`, `check-statuses` and `status` print (and the demo shows): the
pre-flight of a link's statuses and the table of linked campaigns."""

from __future__ import annotations

from collections.abc import Sequence

from rich.markup import escape
from rich.table import Table

from convsync.domain.model import LinkState, RunState
from convsync.domain.status_rules import InboundUnknown, OutboundUnknown
from convsync.domain.statuses import Preflight
from convsync.sync import reporting
from convsync.sync.reporting import RunSummary
from convsync.views.output import console, literal, markup


def print_preflight(check: Preflight) -> None:
    gap = check.gap
    if gap.is_compatible:
        console.print("[green]✓[/] statuses match on both sides")
        return
    as_default = check.policy.inbound_unknown is InboundUnknown.DEFAULT
    create = check.policy.outbound_unknown is OutboundUnknown.CREATE
    for label in gap.missing_in_conversion:
        n = check.skipped_inbound.get(label, 0)
        fate = "imported with the type's default status" if as_default else "skipped"
        console.print(
            f"[yellow]![/] Salesforce status {escape(repr(label))} is not in the type: "
            f"{n} Salesforce member(s) would be {fate}"
        )
    for status in gap.missing_in_salesforce:
        n = check.dead_letter_outbound.get(status, 0)
        mapped = gap.labels.get(status)
        known_as = f" (as {escape(repr(mapped))})" if mapped else ""
        fate = "pushed once the status is created" if create else "dead-lettered"
        console.print(
            f"[yellow]![/] status {escape(repr(status))}{known_as} is not on the Salesforce "
            f"campaign: {n} Conversion member(s) would be {fate}"
        )


def _ago(seconds: float | None) -> str:
    if seconds is None:
        return "—"
    seconds = max(seconds, 0.0)
    if seconds < 120:
        return f"{seconds:.0f}s"
    if seconds < 7_200:
        return f"{seconds / 60:.0f}m"
    return f"{seconds / 3_600:.1f}h"


def _last_run(run: RunSummary | None) -> str:
    if run is None:
        return "—"
    return f"#{run.id} {run.kind}\n{run.finished_at or run.started_at:%H:%M:%S}"


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _state(status: reporting.LinkStatus) -> str:
    """Where the campaign stands: unlinked, linked, syncing (stage), failed or idle."""
    run = status.last_run
    if status.state != LinkState.ACTIVE:
        return status.state
    if status.paused_until is not None:
        return f"paused\n(API budget)\nuntil {status.paused_until:%H:%M:%S} UTC"
    if run is None:
        return "linked"
    if run.state == RunState.QUEUED:
        return "queued\n(no worker has\npicked it up)"
    if run.state == RunState.RUNNING:
        return f"syncing\n({run.stage})"
    return "idle" if run.state == RunState.SUCCEEDED else run.state


def print_link_statuses(found: Sequence[reporting.LinkStatus], title: str) -> None:
    """The `convsync status` table (also the demo's closing picture)."""
    table = Table(title=title, title_justify="left")
    table.add_column("campaign\n[dim]Salesforce id[/]")
    table.add_column("state")
    table.add_column("last run")
    table.add_column("lag", justify="right")
    table.add_column("members\nhere / SF", justify="right")
    table.add_column("skipped", justify="right")
    table.add_column("dead\nletters", justify="right")
    table.add_column("last error", max_width=40)
    for s in found:
        table.add_row(
            markup("{}\n[dim]{}[/]", s.campaign, s.salesforce_campaign_id),
            _state(s),
            _last_run(s.last_run),
            _ago(s.lag_seconds),
            f"{s.members_in_conversion:,} / {s.members_in_salesforce:,}",
            f"{s.skipped:,}",
            f"{s.dead_letters:,}",
            literal(_shorten(s.last_error or "", 60)),
        )
    console.print(table)
