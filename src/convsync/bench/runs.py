"""Running the sync as a user gets it (`link`, a beat tick) until every run it started
has finished, timed and counted; and a scenario's result with its ratios to the floor."""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from convsync.bench.errors import BenchError
from convsync.bench.model import WAIT_SECONDS, Campaign, Measured
from convsync.bench.services import RssSampler, cpu_seconds
from convsync.bench.world import Bench
from convsync.domain.decisions import Decision, DecisionKind
from convsync.domain.model import MemberValue, Stage
from convsync.store import decisions
from convsync.store.db import transaction
from convsync.store.tables import ChunkRow, DecisionRow, RunRow, utcnow
from convsync.sync import linking, schedule
from convsync.sync.context import INBOUND_CHUNK


def link_all(bench: Bench, campaigns: Sequence[Campaign]) -> list[int]:
    """`convsync link` for each campaign (pre-flight check included); the initial runs."""
    run_ids = []
    for campaign in campaigns:
        result = linking.link_existing(bench.ctx, campaign.name, campaign.salesforce_id)
        run_ids.append(result.run_id)
    with transaction(bench.sessions) as session:
        for campaign, run_id in zip(campaigns, run_ids, strict=True):
            run = session.get(RunRow, run_id)
            assert run is not None
            campaign.link_id = run.link_id
    return run_ids


def wait_for_runs(bench: Bench, run_ids: Sequence[int], what: str) -> tuple[datetime, Counter[str]]:
    """Until every run finished: the last finish time and the runs' summed counts.

    Polls one aggregate row every 100 ms (the bench shares the CPUs with the workers).
    A failed run fails the bench: a benchmark of a broken sync measures nothing.
    """
    deadline = time.monotonic() + WAIT_SECONDS
    wanted = list(run_ids)
    is_open = RunRow.state.in_(("queued", "running"))
    while True:
        with transaction(bench.sessions) as session:
            still_open, failed, finished = session.execute(
                select(
                    func.count().filter(is_open),
                    func.min(RunRow.id).filter(RunRow.state == "failed"),
                    func.max(RunRow.finished_at),
                ).where(RunRow.id.in_(wanted))
            ).one()
        if failed is not None:
            with transaction(bench.sessions) as session:
                run = session.get(RunRow, failed)
                error = run.error if run is not None else None
            raise BenchError(f"{what}: run {failed} failed: {error}")
        if not still_open:
            break
        if time.monotonic() > deadline:
            raise BenchError(
                f"{what}: {still_open} run(s) still open after {WAIT_SECONDS:.0f} s "
                f"(worker logs: {bench.services.log_dir})"
            )
        time.sleep(0.1)
    counts: Counter[str] = Counter()
    with transaction(bench.sessions) as session:
        for run_counts in session.scalars(select(RunRow.counts).where(RunRow.id.in_(wanted))):
            counts.update(run_counts or {})
    return finished, counts


def last_run_id(bench: Bench) -> int:
    with transaction(bench.sessions) as session:
        return int(session.scalar(select(func.coalesce(func.max(RunRow.id), 0))) or 0)


def runs_after(bench: Bench, run_id: int) -> list[int]:
    with transaction(bench.sessions) as session:
        return list(session.scalars(select(RunRow.id).where(RunRow.id > run_id)))


def cadence(bench: Bench, what: str) -> tuple[schedule.TickReport, list[int], Counter[str]]:
    """One beat tick (`dispatch_due_syncs`) and every run it started, to the end."""
    before = last_run_id(bench)
    report = schedule.dispatch_due_syncs(bench.ctx)
    started = runs_after(bench, before)
    counts: Counter[str] = Counter()
    if started:
        _, counts = wait_for_runs(bench, started, what)
    return report, started, counts


def beat_tick(bench: Bench, reports: list[schedule.TickReport]) -> Callable[[], list[int]]:
    """An action for `timed_sync`: one `dispatch_due_syncs`, its report kept in
    `reports`; the runs it started."""

    def tick() -> list[int]:
        before = last_run_id(bench)
        reports.append(schedule.dispatch_due_syncs(bench.ctx))
        return runs_after(bench, before)

    return tick


def timed_sync(
    bench: Bench, action: Callable[[], list[int]], what: str
) -> tuple[Measured, Counter[str]]:
    """Counters and RSS from zero; `action` starts runs; timed until the last one finished."""
    bench.sampler.reset()
    bench.admin.reset_counters()
    cpu_before = cpu_seconds(bench.sampler.root, bench.services.emulator.pid)
    wall_start = utcnow()
    started = time.perf_counter()
    run_ids = action()
    counts: Counter[str] = Counter()
    if run_ids:
        finished, counts = wait_for_runs(bench, run_ids, what)
        seconds = max((finished - wall_start).total_seconds(), 0.0)
    else:
        seconds = time.perf_counter() - started
    counters = bench.admin.counters()
    cpu_after = cpu_seconds(bench.sampler.root, bench.services.emulator.pid)
    cpu = {k: round(cpu_after[k] - cpu_before[k], 2) for k in cpu_after}
    measured = Measured(seconds, int(counters["total"]), dict(counters["by_endpoint"]))
    measured.detail = {"cpu_seconds": cpu}
    return measured, counts


def stage_seconds(bench: Bench, run_id: int) -> dict[str, float]:
    """Where a run's time went: run start → last inbound chunk → last outbound chunk."""
    with transaction(bench.sessions) as session:
        run = session.get(RunRow, run_id)
        assert run is not None
        assert run.finished_at is not None
        inbound_done = session.scalar(
            select(func.max(ChunkRow.done_at)).where(
                ChunkRow.run_id == run_id, ChunkRow.stage == "inbound"
            )
        )
        start, end = run.started_at, run.finished_at
    middle = inbound_done or start
    return {
        "inbound": round((middle - start).total_seconds(), 3),
        "outbound": round((end - middle).total_seconds(), 3),
    }


def decision_cost(bench: Bench, run_id: int) -> dict[str, Any]:
    """What `convsync explain` costs the run: the decisions it recorded, and the time to
    write as many again, chunk-sized, in a transaction rolled back afterwards (the same
    statement the chunks run, on the same database, without changing it)."""
    with bench.sessions() as session:
        rows = session.scalars(
            select(DecisionRow).where(DecisionRow.run_id == run_id).order_by(DecisionRow.id)
        ).all()
        again = [
            (
                row.person_id,
                Decision(
                    Stage(row.stage),
                    DecisionKind(row.kind),
                    row.rule,
                    MemberValue(row.conversion_status, row.conversion_at),
                    MemberValue(row.salesforce_status, row.salesforce_at),
                    row.base_status,
                    row.conflict,
                ),
            )
            for row in rows
        ]
        link_id = rows[0].link_id if rows else 0
        began = time.perf_counter()
        for start in range(0, len(again), INBOUND_CHUNK):
            # Another run id, so that none of them is a repeat the unique key would skip.
            decisions.record(session, link_id, -run_id, again[start : start + INBOUND_CHUNK])
        took = time.perf_counter() - began
        session.rollback()
    return {
        "decisions": len(again),
        "decision_write_seconds": round(took, 3),
        "decision_write_us_each": round(took / len(again) * 1e6, 1) if again else None,
    }


def _ratio(value: float, floor: float) -> float | None:
    return round(value / floor, 2) if floor > 0 else None


def result(
    members: int,
    campaigns: int,
    run: Measured,
    floor: Measured,
    sampler: RssSampler,
    **extra: Any,
) -> dict[str, Any]:
    largest, tree = sampler.peak()
    # Ratios of the figures as printed, so a reader can check them.
    seconds, floor_seconds = round(run.seconds, 3), round(floor.seconds, 3)
    time_ratio, api_ratio = _ratio(seconds, floor_seconds), _ratio(run.api_calls, floor.api_calls)
    # The floor is the least work that moves the same records: a sync beating it means
    # the floor does something the sync does not need (or misses what it does).
    below = [n for n, r in (("time", time_ratio), ("api", api_ratio)) if r is not None and r < 1]
    return {
        "members": members,
        "campaigns": campaigns,
        "seconds": seconds,
        "members_per_second": round(members / run.seconds) if run.seconds > 0 else None,
        "api_calls": run.api_calls,
        "floor_seconds": floor_seconds,
        "floor_api_calls": floor.api_calls,
        "floor_kind": floor.kind,
        "time_ratio": time_ratio,
        "api_ratio": api_ratio,
        "floor_suspect": [f"{n} ratio below 1: the floor is wrong" for n in below],
        "peak_worker_rss_mb": largest,
        "peak_worker_tree_rss_mb": tree,
        "api_calls_by_endpoint": dict(sorted(run.by_endpoint.items())),
        "floor_api_calls_by_endpoint": dict(sorted(floor.by_endpoint.items())),
        "floor_moved": floor.detail,
        **run.detail,
        **extra,
    }
