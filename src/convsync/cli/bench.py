"""`convsync bench`: the options and the report; the benchmark itself is `convsync.bench`."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.console import Console

from convsync.cli.errors import UserError
from convsync.cli.extras import require_extra
from convsync.views.output import JSON_OPTION_HELP, emit_json, emit_table


def bench(
    members: Annotated[
        int, typer.Option(min=20, help="Members of the initial campaign, and in all campaigns.")
    ] = 10_000,
    campaigns: Annotated[
        int, typer.Option(min=1, help="Campaigns of the many-campaigns and idle-tick scenarios.")
    ] = 100,
    overlap: Annotated[
        float,
        typer.Option(min=0.0, max=0.9, help="Share of members on both sides, with conflicts."),
    ] = 0.1,
    latency_ms: Annotated[
        int, typer.Option(min=0, help="Emulator latency added to every API call.")
    ] = 0,
    bulk_threshold: Annotated[
        int | None,
        typer.Option(
            min=200, help="CONVSYNC_BULK_THRESHOLD for the workers (default: the setting's)."
        ),
    ] = None,
    variant: Annotated[
        bool,
        typer.Option(help="Run the initial sync again on the other write path (bulk/collections)."),
    ] = True,
    workers: Annotated[
        int | None,
        typer.Option(min=1, max=64, help="Worker pool processes (default: one per CPU)."),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help=JSON_OPTION_HELP)] = False,
) -> None:
    """Benchmark the sync on real services and print the figures with their floor."""
    if members < campaigns * 20:
        raise UserError(
            f"--members must be at least 20 per campaign ({campaigns} campaigns need "
            f"{campaigns * 20:,}); raise --members or lower --campaigns"
        )
    require_extra("emulator", "convsync bench")
    from convsync.bench.runner import FIELDS, Options, run_bench, summary_rows

    options = Options(members, campaigns, overlap, latency_ms, bulk_threshold, variant, workers)
    report = run_bench(options, Console(stderr=True))
    if as_json:
        emit_json(report)
        return
    emit_table("convsync bench", ["scenario", *FIELDS], summary_rows(report))
