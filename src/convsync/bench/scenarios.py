"""The bench's scenarios: each seeds, runs the sync, checks, and compares with its floor."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Any

from convsync.bench.errors import BenchError
from convsync.bench.floor import measure_floor
from convsync.bench.model import CHANGE_SHARE, CHANGED, SEEDED, Campaign, Mix, Work, member_reads
from convsync.bench.runs import (
    beat_tick,
    cadence,
    decision_cost,
    link_all,
    result,
    stage_seconds,
    timed_sync,
    wait_for_runs,
)
from convsync.bench.world import (
    Bench,
    conversion_statuses,
    conversion_total,
    ensure_type,
    seed_campaigns,
    set_conversion_statuses,
    set_salesforce_statuses,
    verify,
)
from convsync.salesforce.soql import parse_datetime
from convsync.sync import schedule
from convsync.sync.linking import unlink


def initial(bench: Bench, members: int, overlap: float, name: str) -> dict[str, Any]:
    """1. Link one campaign: the initial two-way sync, conflicts both ways."""
    mix = Mix.of(members, overlap)
    bench.progress(f"{name}: seeding {members:,} members")
    [campaign] = seed_campaigns(bench, name.replace("_", "-"), 1, mix)
    bench.progress(f"{name}: syncing")
    started: list[int] = []

    def link() -> list[int]:
        started.extend(link_all(bench, [campaign]))
        return started

    run, counts = timed_sync(bench, link, name)
    verify(bench, [campaign], mix.final_statuses(), name)
    floor = measure_floor(
        bench, mix.initial_work([campaign.salesforce_id]), bulk=run.write_path == "bulk"
    )
    bench.progress(f"{name}: floor {floor.seconds:.2f} s, {floor.api_calls} calls")
    bench.last_initial = campaign
    return result(
        members,
        1,
        run,
        floor,
        bench.sampler,
        write_path=run.write_path,
        stage_seconds=stage_seconds(bench, started[0]),
        run_counts=dict(sorted(counts.items())),
        **decision_cost(bench, started[0]),
    )


def incremental(bench: Bench, members: int, overlap: float) -> dict[str, Any]:
    """3. After the initial sync: 1% changed on each side, then one cadence.

    The initial sync ran with the emulator's clock 10 minutes behind, and one quiet
    cadence runs before the change (with one Salesforce edit, now): the bookmark then
    sits where a deployment's would minutes later, so the measured cadence reads what
    changed, not the echoes of the initial push still inside the re-read overlap.
    """
    campaign = bench.last_initial
    if campaign is None:
        raise BenchError("incremental: the initial scenario must run first")
    mix = Mix.of(members, overlap)
    changed = max(1, round(members * CHANGE_SHARE))
    touched, theirs = campaign.salesforce_only[0], campaign.salesforce_only[1 : 1 + changed]
    ours = campaign.conversion_only[:changed]
    bench.admin.shift_clock(0)
    set_salesforce_statuses(bench, campaign.salesforce_id, [touched])
    bench.progress("incremental: one quiet cadence first")
    _, settle_runs, _ = cadence(bench, "incremental (settling cadence)")
    mark = parse_datetime(bench.admin.shift_clock(0))
    time.sleep(0.01)  # Salesforce stamps strictly after the mark
    set_salesforce_statuses(bench, campaign.salesforce_id, theirs)
    set_conversion_statuses(bench, campaign, ours)
    floor = measure_floor(
        bench,
        Work(reads=member_reads([campaign.salesforce_id], since=mark), updates=len(ours)),
        bulk=False,
    )
    bench.progress(f"incremental: {changed:,} changed on each side; one cadence")
    reports: list[schedule.TickReport] = []
    run, counts = timed_sync(bench, beat_tick(bench, reports), "incremental")
    expected = mix.final_statuses()
    expected[SEEDED] -= 1 + 2 * changed
    expected[CHANGED] = 1 + 2 * changed
    verify(bench, [campaign], {k: v for k, v in expected.items() if v}, "incremental")
    return result(
        members,
        1,
        run,
        floor,
        bench.sampler,
        changed_per_side=changed,
        runs=reports[0].started,
        settling_runs=len(settle_runs),
        run_counts=dict(sorted(counts.items())),
    )


def warm_up(bench: Bench) -> None:
    """A few small syncs first, untimed: every pool process has imported its modules,
    logged in to Salesforce and opened its connections, as in a running deployment."""
    ensure_type(bench)
    seeded = seed_campaigns(bench, "warmup", 4, Mix.of(100, 0.1))
    wait_for_runs(bench, link_all(bench, seeded), "warm-up")
    for campaign in seeded:
        retire(bench, campaign)


def retire(bench: Bench, campaign: Campaign) -> None:
    """Unlink a scenario's campaign so later scenarios see only their own links."""
    unlink(bench.ctx, campaign.name)


def many_campaigns(
    bench: Bench, members: int, campaigns: int, overlap: float
) -> tuple[dict[str, Any], list[Campaign]]:
    """4. C campaigns of N/C members each, all linked: C initial syncs at once."""
    mix = Mix.of(members // campaigns, overlap)
    bench.progress(f"many_campaigns: seeding {campaigns:,} campaigns of {mix.members:,}")
    seeded = seed_campaigns(bench, "many", campaigns, mix)
    bench.progress("many_campaigns: linking and syncing")
    run, counts = timed_sync(bench, lambda: link_all(bench, seeded), "many_campaigns")
    expected = {k: v * campaigns for k, v in mix.final_statuses().items()}
    verify(bench, seeded, expected, "many_campaigns")
    floor = measure_floor(
        bench,
        mix.initial_work([c.salesforce_id for c in seeded], campaigns),
        bulk=run.write_path == "bulk",
    )
    return (
        result(
            mix.members * campaigns,
            campaigns,
            run,
            floor,
            bench.sampler,
            run_counts=dict(sorted(counts.items())),
        ),
        seeded,
    )


def idle_tick(bench: Bench, seeded: Sequence[Campaign]) -> dict[str, Any]:
    """2. C linked campaigns, nothing changed: one `dispatch_due_syncs`.

    One cadence first absorbs the echoes of the initial pushes (the first tick after an
    initial sync re-reads what it wrote); the measured tick then finds nothing to do.
    """
    bench.progress(f"idle_tick: settling {len(seeded):,} campaigns, then one idle tick")
    _, settle_runs, _ = cadence(bench, "idle_tick (settling cadence)")
    floor = measure_floor(
        bench, Work(change_checks=tuple(c.salesforce_id for c in seeded)), bulk=False
    )
    reports: list[schedule.TickReport] = []
    run, _ = timed_sync(bench, beat_tick(bench, reports), "idle_tick")
    members = conversion_total(bench, [c.conversion_id for c in seeded])
    return result(
        members,
        len(seeded),
        run,
        floor,
        bench.sampler,
        due=reports[0].due,
        started=reports[0].started,
        settling_runs=len(settle_runs),
    )


# Campaigns the `incremental_many` scenario changes (of those `many_campaigns` linked).
CHANGED_CAMPAIGNS = 100


def incremental_many(bench: Bench, seeded: Sequence[Campaign]) -> dict[str, Any]:
    """5. C linked campaigns in sync; 1 % of all members changed on each side, spread
    over `CHANGED_CAMPAIGNS` of them; one beat tick until every run it started ended.

    The floor: the tick's "anything new?" pass over every linked campaign, one paged
    read of the changed members of all the changed campaigns, and their writes packed
    200 a collection, whichever campaign they belong to.
    """
    touched = list(seeded[: min(CHANGED_CAMPAIGNS, len(seeded))])
    members = conversion_total(bench, [c.conversion_id for c in seeded])
    per_side = max(1, round(members * CHANGE_SHARE))
    each = -(-per_side // len(touched))
    if any(len(c.salesforce_only) < each or len(c.conversion_only) < each for c in touched):
        raise BenchError(
            f"incremental_many: {each} changes a campaign need more members per campaign "
            "(raise --members or lower --campaigns)"
        )
    # Both sides agree before the change (idle_tick settled them).
    before = conversion_statuses(bench, [c.conversion_id for c in seeded])
    mark = parse_datetime(bench.admin.shift_clock(0))
    time.sleep(0.01)  # Salesforce stamps strictly after the mark
    bench.progress(
        f"incremental_many: {each * len(touched):,} changed on each side "
        f"in {len(touched):,} of {len(seeded):,} campaigns; one tick"
    )
    for campaign in touched:
        set_salesforce_statuses(bench, campaign.salesforce_id, campaign.salesforce_only[:each])
        set_conversion_statuses(bench, campaign, campaign.conversion_only[:each])
    floor = measure_floor(
        bench,
        Work(
            change_checks=tuple(c.salesforce_id for c in seeded),
            reads=member_reads([c.salesforce_id for c in touched], since=mark),
            updates=each * len(touched),
        ),
        bulk=False,
    )
    reports: list[schedule.TickReport] = []
    run, counts = timed_sync(bench, beat_tick(bench, reports), "incremental_many")
    moved = 2 * each * len(touched)
    expected = dict(before)
    expected[SEEDED] -= moved
    expected[CHANGED] = expected.get(CHANGED, 0) + moved
    verify(bench, seeded, {k: v for k, v in expected.items() if v}, "incremental_many")
    return result(
        members,
        len(seeded),
        run,
        floor,
        bench.sampler,
        changed_per_side=each * len(touched),
        changed_campaigns=len(touched),
        runs=reports[0].started,
        run_counts=dict(sorted(counts.items())),
    )


def post_push_tick(bench: Bench, seeded: Sequence[Campaign]) -> dict[str, Any]:
    """6. The tick right after `incremental_many`: what the sync wrote must not read back
    as new work. The floor is the tick's "anything new?" pass and nothing else."""
    bench.progress(f"post_push_tick: one tick over {len(seeded):,} campaigns")
    floor = measure_floor(
        bench, Work(change_checks=tuple(c.salesforce_id for c in seeded)), bulk=False
    )
    reports: list[schedule.TickReport] = []
    run, counts = timed_sync(bench, beat_tick(bench, reports), "post_push_tick")
    return result(
        conversion_total(bench, [c.conversion_id for c in seeded]),
        len(seeded),
        run,
        floor,
        bench.sampler,
        due=reports[0].due,
        started=reports[0].started,
        run_counts=dict(sorted(counts.items())),
    )
