"""Runs the benchmark: starts the services, runs every scenario, tears everything down.

Runs four scenarios on real PostgreSQL and Redis, real `convsync worker` processes (one
pool process per CPU) and the Salesforce emulator (a child process), and prints one
JSON object: per scenario the wall time, members per second, Salesforce API calls,
the workers' peak RSS, and the floor measured in the same run (the same records moved
by bare simple-salesforce calls), with the ratios between the two. See
docs/performance.md for the figures and how to read them.
"""

from __future__ import annotations

import dataclasses
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rich.console import Console

from convsync.bench.errors import BenchError

if TYPE_CHECKING:
    from convsync.bench.world import Bench

# Above every stage of the bench: the variant that never uses Bulk API 2.0.
NEVER_BULK = 1_000_000_000
# The lowest threshold the settings accept: the variant that always uses it.
ALWAYS_BULK = 200
ROWS = (
    "initial",
    "incremental",
    "many_campaigns",
    "idle_tick",
    "incremental_many",
    "post_push_tick",
)
FIELDS = (
    "seconds",
    "api_calls",
    "floor_seconds",
    "floor_api_calls",
    "floor_kind",
    "time_ratio",
    "api_ratio",
)


@dataclass(frozen=True)
class Options:
    members: int
    campaigns: int
    overlap: float
    latency_ms: int
    bulk_threshold: int | None
    variant: bool
    workers: int | None = None  # pool processes; None: one per CPU


@contextmanager
def _environment(env: dict[str, str]) -> Iterator[None]:
    """This process talks to the bench's services (never to a real org) while it runs."""
    from convsync.config import get_settings
    from convsync.workers import root

    saved = dict(os.environ)
    for key in [k for k in os.environ if k.startswith("CONVSYNC_SALESFORCE_")]:
        del os.environ[key]
    os.environ.update(env)
    get_settings.cache_clear()
    root.reset(root.build())
    try:
        yield
    finally:
        root.reset(None)
        os.environ.clear()
        os.environ.update(saved)
        get_settings.cache_clear()


def _worker_env(base: dict[str, str], threshold: int | None) -> dict[str, str]:
    env = dict(base)
    if threshold is not None:
        env["CONVSYNC_BULK_THRESHOLD"] = str(threshold)
    return env


def _main_scenarios(bench: Bench, options: Options, results: dict[str, Any]) -> None:
    """initial → incremental (same campaign) → many_campaigns → idle_tick →
    incremental_many → post_push_tick (the same campaigns)."""
    from convsync.bench import scenarios

    scenarios.warm_up(bench)
    results["initial"] = scenarios.initial(bench, options.members, options.overlap, "initial")
    results["incremental"] = scenarios.incremental(bench, options.members, options.overlap)
    assert bench.last_initial is not None
    scenarios.retire(bench, bench.last_initial)
    results["many_campaigns"], seeded = scenarios.many_campaigns(
        bench, options.members, options.campaigns, options.overlap
    )
    results["idle_tick"] = scenarios.idle_tick(bench, seeded)
    results["incremental_many"] = scenarios.incremental_many(bench, seeded)
    results["post_push_tick"] = scenarios.post_push_tick(bench, seeded)
    for campaign in seeded:
        scenarios.retire(bench, campaign)


def _variant(initial: dict[str, Any]) -> tuple[str, int]:
    """The initial sync again on the write path the threshold did not choose."""
    if initial["write_path"] == "bulk":
        return "initial_collections", NEVER_BULK
    return "initial_bulk", ALWAYS_BULK


def run_bench(options: Options, progress: Console) -> dict[str, Any]:
    """Start the services, run every scenario, tear everything down; the report."""
    from convsync.bench import scenarios as bench_scenarios
    from convsync.bench import world
    from convsync.bench.services import check_configuration, running_services, worker_pool
    from convsync.store.migrate import upgrade
    from convsync.tasks.dispatch import sync_context
    from convsync.workers import root

    check_configuration()
    started = time.monotonic()

    def say(message: str) -> None:
        progress.print(f"[dim]bench {time.monotonic() - started:6.1f}s[/] {message}")

    concurrency = options.workers or os.cpu_count() or 2
    log_dir = Path(tempfile.mkdtemp(prefix="convsync-bench-"))
    say(f"services: PostgreSQL, Redis, emulator; logs in {log_dir}")
    with (
        running_services(log_dir, latency_ms=options.latency_ms, concurrency=concurrency) as svc,
        _environment(svc.env),
    ):
        upgrade(root.adapters().engine)
        ctx = sync_context()
        if not world.is_empty(ctx.sessions):
            raise BenchError(
                "CONVSYNC_DATABASE_URL holds data; convsync bench needs an empty database "
                "(or unset it to let the bench create a throwaway one)"
            )
        threshold = options.bulk_threshold or root.adapters().settings.bulk_threshold
        report: dict[str, Any] = {
            "machine": svc.details,
            "options": {**dataclasses.asdict(options), "bulk_threshold": threshold},
            "scenarios": {},
        }
        results: dict[str, Any] = report["scenarios"]
        try:
            # Set-up runs 10 minutes in the emulator's past (see `incremental`).
            svc.emulator.admin.shift_clock(-600_000)
            say(f"workers: {concurrency} pool processes, CONVSYNC_BULK_THRESHOLD={threshold}")
            env = _worker_env(svc.env, threshold)
            with worker_pool(env, log_dir, "bench-worker", concurrency) as sampler:
                _main_scenarios(world.Bench(svc, ctx, sampler, say), options, results)
            if options.variant:
                name, other = _variant(results["initial"])
                say(f"{name}: workers restarted with CONVSYNC_BULK_THRESHOLD={other}")
                with worker_pool(
                    _worker_env(svc.env, other), log_dir, "variant-worker", concurrency
                ) as sampler:
                    bench = world.Bench(svc, ctx, sampler, say)
                    bench_scenarios.warm_up(bench)
                    results[name] = bench_scenarios.initial(
                        bench, options.members, options.overlap, name
                    )
                    results[name]["bulk_threshold"] = other
            if not svc.throwaway_database:
                world.truncate_all(ctx.sessions)
        except BaseException:
            say(f"[red]failed[/]: logs kept in {log_dir}")
            raise
    shutil.rmtree(log_dir, ignore_errors=True)
    say("done")
    return report


def summary_rows(report: dict[str, Any]) -> list[list[Any]]:
    """One row per scenario run, in the report's order: its name and its `FIELDS`."""
    return [
        [name, *(report["scenarios"][name].get(f) for f in FIELDS)]
        for name in (*ROWS, "initial_bulk", "initial_collections")
        if name in report["scenarios"]
    ]
