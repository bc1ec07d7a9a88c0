"""The demo's story: set the scene, link, sync, edit both sides, explain, show metrics.

Each step prints what it does and checks the outcome against `convsync.demo.scenario`;
a sync that did not do what the story says raises `DemoFailedError` (the demo exits 1).
Kept apart from starting processes and services (`services`) so the story reads as one.
"""

from __future__ import annotations

import contextlib
import json
import time
from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from convsync.demo import report as demo_report
from convsync.demo import scenario as demo_scenario
from convsync.demo.report import RunBoard, WatchTimeoutError
from convsync.demo.salesforce_user import SalesforceUser
from convsync.demo.scenario import LAUNCH, NEWSLETTER, ROADSHOW, SPRING, Sizes
from convsync.demo.services import SYNC_INTERVAL_SECONDS
from convsync.harness.processes import ProcessGroup
from convsync.store.tables import utcnow
from convsync.sync.context import SyncContext
from convsync.sync.reporting import RunSummary
from convsync.views.output import console


class DemoFailedError(Exception):
    """The sync did not do what the story says it must (the demo exits 1)."""


@dataclass
class Story:
    sizes: Sizes
    user: SalesforceUser
    org: demo_scenario.SeededOrg | None = None
    lead_ids: Mapping[str, str] | None = None


def step(text: str) -> None:
    console.print(f"[green]✓[/] {text}")


def _link_line(campaign: str, how: str, salesforce_id: str, run_id: int) -> None:
    console.print(f"  {campaign} {how} {salesforce_id}; initial sync queued (run #{run_id})")


def set_the_scene(ctx: SyncContext, story: Story) -> None:
    from convsync.domain.model import SyncMode
    from convsync.sync import linking

    sizes = story.sizes
    seed = story.user.admin.seed(demo_scenario.salesforce_seed(sizes))
    story.org = org = demo_scenario.read_seed(seed, sizes)
    leads = seed["leads"][-len(demo_scenario.RoadshowPlan(sizes).salesforce_rows()) :]
    emails = [e for e, _ in demo_scenario.RoadshowPlan(sizes).salesforce_rows()]
    story.lead_ids = dict(zip(emails, leads, strict=True))
    spring_total = (
        sizes.spring_generated
        + sizes.spring_registered
        + sizes.spring_attended
        + sizes.spring_opened
        + sizes.spring_bounced
    )
    step(
        f"Salesforce org seeded: {SPRING!r} with {spring_total:,} members "
        f"(statuses Opened and Bounced are unknown to Conversion), {ROADSHOW!r} with "
        f"{len(org.roadshow_members):,} (no Waitlisted status)"
    )
    demo_scenario.create_type(ctx)
    labels = ", ".join(label for label, _, _ in demo_scenario.TYPE_STATUSES)
    step(f"campaign type {demo_scenario.TYPE_NAME!r}: {labels}")
    demo_scenario.create_newsletter(ctx, sizes)
    step(f"{NEWSLETTER!r} created with sync [bold]none[/] ({sizes.newsletter} members, stays here)")
    rows = demo_scenario.fill_roadshow(ctx, sizes)
    step(f"{ROADSHOW!r} created unsynced; {rows:,} members imported from a CSV")
    edits = demo_scenario.salesforce_edits_before_link(org, sizes)
    story.user.patch_members(edits)
    step(
        f"a Salesforce user then changes {len(edits)} of the members {ROADSHOW!r} shares "
        "with Salesforce: on both sides, edited at different times"
    )
    console.rule("Linking")
    from convsync.views.links import print_preflight

    spring = linking.create_synced_campaign(
        ctx, SPRING, demo_scenario.TYPE_NAME, SyncMode.EXISTING, org.spring_id, force=True
    )
    assert spring is not None
    console.print(f"[bold]{SPRING}[/]: created with sync [bold]existing[/] (--force)")
    if spring.check is not None:
        print_preflight(spring.check)
    _link_line(SPRING, "linked to", spring.salesforce_campaign_id, spring.run_id)
    launch = linking.create_synced_campaign(ctx, LAUNCH, demo_scenario.TYPE_NAME, SyncMode.NEW)
    assert launch is not None
    console.print(f"[bold]{LAUNCH}[/]: created with sync [bold]new[/]")
    _link_line(LAUNCH, "created in Salesforce as", launch.salesforce_campaign_id, launch.run_id)
    from convsync.sync import status_rules

    status_rules.set_mapping(ctx, ROADSHOW, "Attended", demo_scenario.ROADSHOW_ATTENDED)
    console.print(
        f"[bold]{ROADSHOW}[/]: `convsync mapping set` 'Attended' ↔ "
        f"{demo_scenario.ROADSHOW_ATTENDED!r} (Salesforce's name for it)"
    )
    roadshow = linking.link_existing(ctx, ROADSHOW, org.roadshow_id)
    console.print(f"[bold]{ROADSHOW}[/]: linked later (`convsync link`)")
    if roadshow.check is not None:
        print_preflight(roadshow.check)
    _link_line(ROADSHOW, "linked to", roadshow.salesforce_campaign_id, roadshow.run_id)
    demo_scenario.fill_launch(ctx, sizes)
    step(f"{sizes.launch} people sign up to {LAUNCH!r} right after it was created")


SYNCED = (SPRING, LAUNCH, ROADSHOW)


Settled = Callable[[Mapping[str, Sequence[RunSummary]]], bool]


def _reached(expected: demo_scenario.Expected) -> Settled:
    """The initial syncs are over, and Product Launch's late sign-ups were pushed."""

    def settled(runs: Mapping[str, Sequence[RunSummary]]) -> bool:
        if not demo_report.all_finished(runs):
            return False
        if any(r.state == "failed" for found in runs.values() for r in found):
            return True
        pushed = demo_report.totals(runs[LAUNCH])[demo_report.PUSHED]
        return pushed >= expected.pushed[LAUNCH]

    return settled


def _check(
    runs: Mapping[str, Sequence[RunSummary]],
    expected: demo_scenario.Expected,
    open_letters: Mapping[str, int],
) -> list[str]:
    """Differences between what the runs did and what the story says they must do.

    Dead letters are counted where they are kept, once per member: a scheduled run that
    happens to start before the check tries the same members again and counts them again.
    """
    wrong = [
        f"run #{r.id} of {c} failed: {r.error}"
        for c, rs in runs.items()
        for r in rs
        if r.state == "failed"
    ]
    checks = [
        (demo_report.IMPORTED, expected.imported),
        (demo_report.PUSHED, expected.pushed),
        (demo_report.SKIPPED, expected.skipped),
        (demo_report.WON_BY_SALESFORCE, expected.won_by_salesforce),
        (demo_report.WON_BY_CONVERSION, expected.won_by_conversion),
    ]
    for campaign in SYNCED:
        got = demo_report.totals(runs[campaign])
        for key, wanted in checks:
            if got[key] != wanted.get(campaign, 0):
                wrong.append(f"{campaign}: {key} {got[key]}, expected {wanted.get(campaign, 0)}")
        letters, wanted_letters = (
            open_letters.get(campaign, 0),
            expected.dead_lettered.get(campaign, 0),
        )
        if letters != wanted_letters:
            wrong.append(f"{campaign}: {letters} open dead letter(s), expected {wanted_letters}")
    return wrong


def initial_sync(ctx: SyncContext, story: Story, timeout: float) -> None:
    console.rule("Initial sync (Salesforce lands first, then Conversion is pushed)")
    expected = demo_scenario.expected(story.sizes)
    before = story.user.calls()
    board = RunBoard(ctx, SYNCED)
    try:
        runs = demo_report.watch(board, _reached(expected), timeout)
    except WatchTimeoutError:
        runs = board.runs()
    after = story.user.calls()
    console.rule("Results")
    from convsync.sync import reporting
    from convsync.views.links import print_link_statuses

    modes = [(SPRING, "sync existing"), (LAUNCH, "sync new"), (ROADSHOW, "link later")]
    rows: list[tuple[str, str, Sequence[RunSummary] | None]] = [(c, m, runs[c]) for c, m in modes]
    rows.append((NEWSLETTER, "sync none", None))
    console.print(demo_report.results_table(rows))
    demo_report.print_reasons(ctx, SYNCED)
    console.print(demo_report.api_calls_line("Salesforce API calls spent", before, after))
    print_link_statuses(reporting.link_statuses(ctx), "convsync status")
    from convsync.sync import dead_letters

    open_letters = Counter(d.campaign or "" for d in dead_letters.list_dead_letters(ctx))
    wrong = _check(runs, expected, open_letters)
    if wrong:
        raise DemoFailedError("; ".join(wrong))
    step("every count matches the story")


def _latest_run_ids(ctx: SyncContext) -> dict[str, int]:
    from convsync.sync import reporting

    return {c: max((r.id for r in reporting.campaign_runs(ctx, c)), default=0) for c in SYNCED}


def _conversion_status(ctx: SyncContext, campaign: str, email: str) -> str | None:
    from convsync.store import catalog as store_catalog
    from convsync.store.db import transaction
    from convsync.sync.catalog import require_campaign

    with transaction(ctx.sessions) as session:
        member = store_catalog.find_member(session, require_campaign(session, campaign).id, email)
        return None if member is None else member.status


def _quiet_ticks(worker_log: Path) -> int:
    """How many of beat's ticks the worker found with nothing due and no run open."""
    quiet = 0
    for line in worker_log.read_text(errors="replace").splitlines():
        if '"tick"' not in line or not line.startswith("{"):
            continue
        with contextlib.suppress(ValueError):
            tick = json.loads(line)
            quiet += tick.get("event") == "tick" and tick["due"] == 0 and tick["busy"] == 0
    return quiet


def _after_a_quiet_tick(worker_log: Path, timeout: float) -> None:
    """Until a tick of beat finds nothing to do: the next one is a whole interval away,
    and no run is open that could carry an edit made now."""
    seen = _quiet_ticks(worker_log)
    deadline = time.monotonic() + timeout
    while _quiet_ticks(worker_log) == seen:
        if time.monotonic() > deadline:
            raise DemoFailedError(f"beat's ticks still found work after {timeout:.0f}s")
        time.sleep(0.1)


def edit_through_the_api(ctx: SyncContext, story: Story, worker_log: Path, timeout: float) -> None:
    """An application edits a member through `convsync.api`: in Salesforce in seconds,
    carried by a run the edit itself started, long before beat's next tick."""
    from convsync import api
    from convsync.sync import reporting

    assert story.org is not None
    assert story.lead_ids is not None
    console.rule("An edit through convsync.api (application code)")
    here_email = demo_scenario.roadshow_email(demo_scenario.RoadshowPlan(story.sizes).same.start)
    _after_a_quiet_tick(worker_log, timeout)
    before = _latest_run_ids(ctx)[ROADSHOW]
    edited = time.monotonic()
    api.set_member_status(ROADSHOW, here_email, "Attended")
    step(f"api.set_member_status({ROADSHOW!r}, {here_email!r}, 'Attended')")
    lead = story.lead_ids[here_email]
    # The campaign maps Attended to Salesforce's own label for it.
    mapped = demo_scenario.ROADSHOW_ATTENDED
    while story.user.member_status(story.org.roadshow_id, lead) != mapped:
        if time.monotonic() - edited > timeout:
            raise DemoFailedError(f"Salesforce still lacks the edit of {here_email}")
        time.sleep(0.1)
    took = time.monotonic() - edited
    carrier = [r for r in reporting.campaign_runs(ctx, ROADSHOW) if r.id > before]
    if [r.kind for r in carrier] != ["edits"]:
        raise DemoFailedError(f"the edit was not carried by its own run: {carrier}")
    step(
        f"Salesforce now has {here_email} as {mapped!r}, the mapped label, {took:.1f} s "
        f"after the edit (run "
        f"#{carrier[0].id}, started by the edit; beat's next tick is "
        f"{SYNC_INTERVAL_SECONDS} s after the last)"
    )


def cadence(ctx: SyncContext, story: Story, timeout: float) -> None:
    """A Salesforce user edits a member: beat's next tick carries it into Conversion."""
    assert story.org is not None
    console.rule(f"Ongoing cadence (beat, every {SYNC_INTERVAL_SECONDS} s)")
    baseline = _latest_run_ids(ctx)
    story.user.sf.CampaignMember.update(story.org.spring_member_id, {"Status": "Registered"})
    edited_there = utcnow()
    there_email, _ = story.user.member(story.org.spring_member_id)
    step(f"edited in Salesforce: {there_email} in {SPRING!r}: Invited → Registered")
    before = story.user.calls()
    console.print("  no `convsync sync`: waiting for beat's next tick to notice the change")
    # Every synced campaign: the tick may start runs for others too; the demo ends
    # only when they have finished.
    board = RunBoard(ctx, SYNCED, after_run=baseline)

    def carried(runs: Mapping[str, Sequence[RunSummary]]) -> bool:
        here = _conversion_status(ctx, SPRING, there_email) == "Registered"
        return here and demo_report.all_finished(runs)

    try:
        runs = demo_report.watch(board, carried, timeout)
    except WatchTimeoutError:
        raise DemoFailedError(f"beat did not carry the edit across within {timeout:.0f}s") from None
    after = story.user.calls()
    spring_run = next(r for r in runs[SPRING] if r.state == "succeeded")
    step(
        f"Conversion now has {there_email} as Registered (scheduled run #{spring_run.id}, "
        f"{_finished_after(spring_run, edited_there)} after the Salesforce edit)"
    )
    console.print(demo_report.api_calls_line("Salesforce API calls for the cadence", before, after))


def explain(ctx: SyncContext, story: Story) -> None:
    """`convsync explain` on a member both sides edited before the link."""
    from convsync.sync.explain import explain
    from convsync.views.explain import print_history

    plan = demo_scenario.RoadshowPlan(story.sizes)
    email = demo_scenario.roadshow_email(plan.salesforce_wins.start)
    console.rule(f"Why? `convsync explain {ROADSHOW!r} {email}`")
    print_history(explain(ctx, ROADSHOW, email))


def _finished_after(run: RunSummary, edited_at: datetime) -> str:
    if run.finished_at is None:
        return "?"
    return f"{(run.finished_at - edited_at).total_seconds():.1f} s"


def show_metrics(group: ProcessGroup) -> None:
    """What Prometheus would scrape from the worker now."""
    import requests

    from convsync.metrics import parse

    lines = [line for line in group.log("worker").splitlines() if '"serving metrics"' in line]
    if not lines:
        console.print("[yellow]![/] the worker did not say where it serves /metrics")
        return
    url = json.loads(lines[0])["url"]
    with requests.Session() as http:
        http.trust_env = False  # loopback: no proxy
        page = http.get(url, timeout=10)
    page.raise_for_status()
    console.print(demo_report.metrics_line(url, parse(page.text)))
