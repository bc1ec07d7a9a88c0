"""`convsync demo`: the product, end to end, on one machine, in about a minute.

It starts the Salesforce emulator, a real worker and beat as separate processes, seeds
both sides with a believable story (see `convsync.demo.scenario`), links the campaigns through
the same use cases the CLI calls, shows the initial syncs live, reports what they did
(and checks it against the story), then edits a member through `convsync.api` (in
Salesforce seconds later, without beat) and one in Salesforce, which beat's next tick
carries across. Every process it starts is stopped when it ends,
also on Ctrl-C.

On the embedded default it runs in a fresh `.convsync/demo/` (SQLite database, kombu's
SQLAlchemy transport). With CONVSYNC_DATABASE_URL / _BROKER_URL / _RESULT_BACKEND set
it runs on those services instead; the database must then be empty, because the
emulator's ids start over on every run and would clash with an earlier demo's.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
import signal
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import FrameType
from typing import Any

from convsync.config import DATA_DIR
from convsync.demo import report as demo_report
from convsync.demo import scenario as demo_scenario
from convsync.demo.errors import DemoError
from convsync.demo.report import RunBoard, WatchTimeoutError
from convsync.demo.scenario import LAUNCH, NEWSLETTER, ROADSHOW, SPRING, Sizes
from convsync.harness.processes import ProcessGroup
from convsync.store.tables import utcnow
from convsync.sync.context import SyncContext
from convsync.sync.reporting import RunSummary
from convsync.views.output import console

DEMO_DIR = DATA_DIR / "demo"
# Beat's cadence in the demo: short, so the ongoing sync shows within seconds, yet
# longer than an edit takes to reach Salesforce without it.
SYNC_INTERVAL_SECONDS = 10
WORKER_CONCURRENCY = 2
# Environment variables that would send the demo to a real org: never inherited.
_REAL_ORG_VARIABLES = (
    "CONVSYNC_SALESFORCE_PRIVATE_KEY_FILE",
    "CONVSYNC_SALESFORCE_REFRESH_TOKEN",
    "CONVSYNC_SALESFORCE_INSTANCE_URL",
    "CONVSYNC_SALESFORCE_SESSION_ID",
)
_SERVICE_VARIABLES = ("CONVSYNC_DATABASE_URL", "CONVSYNC_BROKER_URL", "CONVSYNC_RESULT_BACKEND")


class DemoFailedError(Exception):
    """The sync did not do what the story says it must (the demo exits 1)."""


@dataclass(frozen=True)
class Emulator:
    url: str
    ca_file: str


@dataclass(frozen=True)
class Login:
    """Throwaway credentials made per run: the emulator accepts these and nothing else."""

    client_id: str
    client_secret: str
    username: str
    password: str
    security_token: str

    @classmethod
    def fresh(cls) -> Login:
        return cls(
            client_id="convsync-demo",
            client_secret=secrets.token_urlsafe(24),
            username="sync@demo.example",
            password=secrets.token_urlsafe(16),
            security_token=secrets.token_urlsafe(12),
        )

    def credentials_file(self, path: Path) -> Path:
        data = {
            "client_id": self.client_id,
            "client_secret": self.client_secret,
            "username": self.username,
            "password": self.password,
            "security_token": self.security_token,
        }
        path.write_text(json.dumps(data))
        path.chmod(0o600)
        return path

    def environment(self, emulator: Emulator) -> dict[str, str]:
        return {
            "CONVSYNC_SALESFORCE_LOGIN_URL": emulator.url,
            "CONVSYNC_SALESFORCE_CA_BUNDLE": emulator.ca_file,
            "CONVSYNC_SALESFORCE_CLIENT_ID": self.client_id,
            "CONVSYNC_SALESFORCE_CLIENT_SECRET": self.client_secret,
            "CONVSYNC_SALESFORCE_USERNAME": self.username,
            "CONVSYNC_SALESFORCE_PASSWORD": self.password,
            "CONVSYNC_SALESFORCE_SECURITY_TOKEN": self.security_token,
        }


# ---------------------------------------------------------------- processes and signals


class _Stop(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C: unwind, stop the children, exit."""


def _raise_stop(signum: int, _frame: FrameType | None) -> None:
    raise _Stop(signal.Signals(signum).name)


@contextlib.contextmanager
def _stopping(group: ProcessGroup) -> Iterator[ProcessGroup]:
    """Stop the group's processes on the way out, deaf to a second Ctrl-C meanwhile."""
    try:
        yield group
    finally:
        previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
        try:
            group.stop_all()
        finally:
            signal.signal(signal.SIGINT, previous)


def _wait_for(group: ProcessGroup, name: str, needle: str, log: Path) -> None:
    try:
        group.wait_for_log(name, needle, timeout=90)
    except (RuntimeError, TimeoutError):
        raise DemoError(f"the demo's {name} did not start; see {log}") from None


def _start_emulator(group: ProcessGroup, root: Path, login: Login) -> Emulator:
    info = root / "emulator.json"
    credentials = login.credentials_file(root / "emulator-credentials.json")
    group.start(
        "emulator",
        "emulator",
        "--port=0",
        f"--info-file={info}",
        f"--credentials={credentials}",
    )
    _wait_for(group, "emulator", "Salesforce emulator at", root / "logs" / "emulator.log")
    data = json.loads(info.read_text())
    return Emulator(url=data["url"], ca_file=data["ca_file"])


# ---------------------------------------------------------------- environment


def _prepare_directory(root: Path) -> None:
    """A fresh demo directory each run, so reruns start from the same place."""
    if root.exists():
        shutil.rmtree(root)
    (root / "logs").mkdir(parents=True)


def _use_environment(values: Mapping[str, str]) -> None:
    """Make `values` this process's configuration too (the demo calls use cases in-process)."""
    from convsync.config import get_settings
    from convsync.workers import root

    os.environ.update(values)
    for name in _REAL_ORG_VARIABLES:
        os.environ.pop(name, None)
    get_settings.cache_clear()
    root.reset(None)


def _embedded_services(root: Path) -> dict[str, str]:
    """SQLite files in the demo directory for every service the environment leaves unset."""
    defaults = {
        "CONVSYNC_DATABASE_URL": f"sqlite:///{(root / 'convsync.sqlite').resolve()}",
        "CONVSYNC_BROKER_URL": f"sqla+sqlite:///{(root / 'broker.sqlite').resolve()}",
        "CONVSYNC_RESULT_BACKEND": f"db+sqlite:///{(root / 'results.sqlite').resolve()}",
    }
    return {k: v for k, v in defaults.items() if not os.environ.get(k)}


def _where(services: Mapping[str, str]) -> str:
    if len(services) == len(_SERVICE_VARIABLES):
        return f"embedded: SQLite + SQLAlchemy broker under {DEMO_DIR}/"
    return "on the services CONVSYNC_* points at"


def _migrate_empty_database() -> None:
    from convsync.store.migrate import upgrade
    from convsync.sync import catalog
    from convsync.workers.root import adapters

    built = adapters()
    upgrade(built.engine)
    if catalog.list_campaigns(built.sessions) or catalog.list_types(built.sessions):
        raise DemoError(
            "the database at CONVSYNC_DATABASE_URL is not empty: point the demo at a "
            "scratch database (or unset it to use a throwaway SQLite file)"
        )
    url = built.engine.url.render_as_string(hide_password=True)
    console.print(f"[green]✓[/] database schema migrated ({url})")


# ---------------------------------------------------------------- Salesforce, as its users


class SalesforceUser:
    """Someone editing the org by hand (REST API calls, counted like any other)."""

    def __init__(self, emulator: Emulator, login: Login) -> None:
        from simple_salesforce.api import Salesforce

        from convsync.salesforce_emulator.testing import AdminClient, CaBundleSession

        session = CaBundleSession(emulator.ca_file)
        self.admin = AdminClient(emulator.url, session)
        token = session.post(
            f"{emulator.url}/services/oauth2/token",
            data={
                "grant_type": "password",
                "client_id": login.client_id,
                "client_secret": login.client_secret,
                "username": login.username,
                "password": login.password + login.security_token,
            },
            timeout=30,
        )
        token.raise_for_status()
        body = token.json()
        self.sf: Any = Salesforce(
            instance_url=body["instance_url"], session_id=body["access_token"], session=session
        )

    def close(self) -> None:
        """Hang up (the emulator then stops without waiting for our keep-alive connection)."""
        self.admin.session.close()

    def calls(self) -> dict[str, int]:
        counters = self.admin.counters()
        return {"total": int(counters["total"]), **counters["by_endpoint"]}

    def patch_members(self, records: list[dict[str, Any]]) -> None:
        for start in range(0, len(records), 200):  # one collection call per 200
            self.sf.restful(
                "composite/sobjects",
                method="PATCH",
                json={"allOrNone": True, "records": records[start : start + 200]},
            )

    def member(self, member_id: str) -> tuple[str, str]:
        """(email, status) of a CampaignMember."""
        row = self.sf.CampaignMember.get(member_id)
        return str(row["Email"]).lower(), str(row["Status"])

    def member_status(self, campaign_id: str, lead_id: str) -> str | None:
        from simple_salesforce.format import format_soql

        query = format_soql(
            "SELECT Status FROM CampaignMember WHERE CampaignId = {} AND LeadId = {}",
            campaign_id,
            lead_id,
        )
        rows = self.sf.query(query)["records"]
        return str(rows[0]["Status"]) if rows else None


# ---------------------------------------------------------------- the story


@dataclass
class Story:
    sizes: Sizes
    user: SalesforceUser
    org: demo_scenario.SeededOrg | None = None
    lead_ids: Mapping[str, str] | None = None


def _step(text: str) -> None:
    console.print(f"[green]✓[/] {text}")


def _link_line(campaign: str, how: str, salesforce_id: str, run_id: int) -> None:
    console.print(f"  {campaign} {how} {salesforce_id}; initial sync queued (run #{run_id})")


def _set_the_scene(ctx: SyncContext, story: Story) -> None:
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
    _step(
        f"Salesforce org seeded: {SPRING!r} with {spring_total:,} members "
        f"(statuses Opened and Bounced are unknown to Conversion), {ROADSHOW!r} with "
        f"{len(org.roadshow_members):,} (no Waitlisted status)"
    )
    demo_scenario.create_type(ctx)
    labels = ", ".join(label for label, _, _ in demo_scenario.TYPE_STATUSES)
    _step(f"campaign type {demo_scenario.TYPE_NAME!r}: {labels}")
    demo_scenario.create_newsletter(ctx, sizes)
    _step(
        f"{NEWSLETTER!r} created with sync [bold]none[/] ({sizes.newsletter} members, stays here)"
    )
    rows = demo_scenario.fill_roadshow(ctx, sizes)
    _step(f"{ROADSHOW!r} created unsynced; {rows:,} members imported from a CSV")
    edits = demo_scenario.salesforce_edits_before_link(org, sizes)
    story.user.patch_members(edits)
    _step(
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
    _step(f"{sizes.launch} people sign up to {LAUNCH!r} right after it was created")


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


def _check(runs: Mapping[str, Sequence[RunSummary]], expected: demo_scenario.Expected) -> list[str]:
    """Differences between what the runs did and what the story says they must do."""
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
        (demo_report.DEAD_LETTERED, expected.dead_lettered),
        (demo_report.WON_BY_SALESFORCE, expected.won_by_salesforce),
        (demo_report.WON_BY_CONVERSION, expected.won_by_conversion),
    ]
    for campaign in SYNCED:
        got = demo_report.totals(runs[campaign])
        for key, wanted in checks:
            if got[key] != wanted.get(campaign, 0):
                wrong.append(f"{campaign}: {key} {got[key]}, expected {wanted.get(campaign, 0)}")
    return wrong


def _initial_sync(ctx: SyncContext, story: Story, timeout: float) -> None:
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
    wrong = _check(runs, expected)
    if wrong:
        raise DemoFailedError("; ".join(wrong))
    _step("every count matches the story")


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


def _edit_through_the_api(ctx: SyncContext, story: Story, worker_log: Path, timeout: float) -> None:
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
    _step(f"api.set_member_status({ROADSHOW!r}, {here_email!r}, 'Attended')")
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
    _step(
        f"Salesforce now has {here_email} as {mapped!r}, the mapped label, {took:.1f} s "
        f"after the edit (run "
        f"#{carrier[0].id}, started by the edit; beat's next tick is "
        f"{SYNC_INTERVAL_SECONDS} s after the last)"
    )


def _cadence(ctx: SyncContext, story: Story, timeout: float) -> None:
    """A Salesforce user edits a member: beat's next tick carries it into Conversion."""
    assert story.org is not None
    console.rule(f"Ongoing cadence (beat, every {SYNC_INTERVAL_SECONDS} s)")
    baseline = _latest_run_ids(ctx)
    story.user.sf.CampaignMember.update(story.org.spring_member_id, {"Status": "Registered"})
    edited_there = utcnow()
    there_email, _ = story.user.member(story.org.spring_member_id)
    _step(f"edited in Salesforce: {there_email} in {SPRING!r}: Invited → Registered")
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
    _step(
        f"Conversion now has {there_email} as Registered (scheduled run #{spring_run.id}, "
        f"{_finished_after(spring_run, edited_there)} after the Salesforce edit)"
    )
    console.print(demo_report.api_calls_line("Salesforce API calls for the cadence", before, after))


def _explain(ctx: SyncContext, story: Story) -> None:
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


def _show_metrics(group: ProcessGroup) -> None:
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


# ---------------------------------------------------------------- entry point


def run_demo(members: int = 3_000, timeout: float = 120.0) -> None:
    """Run the whole story; exit 0 when the sync did what it says, 1 when not, 130 on Ctrl-C."""
    import typer

    started = time.monotonic()
    previous_term = signal.signal(signal.SIGTERM, _raise_stop)
    try:
        _run(members, timeout, started)
    except KeyboardInterrupt:
        console.print("\n[yellow]interrupted[/]: every process the demo started is stopped")
        raise typer.Exit(130) from None
    except DemoFailedError as failure:
        raise DemoError(f"the demo's sync went wrong: {failure}") from None
    finally:
        signal.signal(signal.SIGTERM, previous_term)


def _run(members: int, timeout: float, started: float) -> None:
    from convsync.logs import configure_logging
    from convsync.tasks.dispatch import sync_context

    if not console.is_terminal:
        console.width = 140  # a log or a pipe: room for the tables
    root = DEMO_DIR.resolve()
    _prepare_directory(root)
    services = _embedded_services(root)
    console.rule(f"convsync demo ({_where(services)})")
    login = Login.fresh()
    base = {
        **services,
        "CONVSYNC_SYNC_INTERVAL_SECONDS": str(SYNC_INTERVAL_SECONDS),
        "CONVSYNC_LOG_FORMAT": "json",
        "CONVSYNC_METRICS_PORT": "0",  # the worker serves /metrics on a free port
    }
    _use_environment(base)
    logs = root / "logs"
    with contextlib.ExitStack() as stack:
        emulator_group = stack.enter_context(_stopping(ProcessGroup({}, logs)))
        emulator = _start_emulator(emulator_group, root, login)
        _step(f"Salesforce emulator at {emulator.url} (accepts only this run's credentials)")
        _use_environment(login.environment(emulator))
        configure_logging("WARNING", "console", [login.password, login.client_secret])
        _migrate_empty_database()
        group = stack.enter_context(_stopping(ProcessGroup({}, logs)))
        group.start("worker", "worker", f"--concurrency={WORKER_CONCURRENCY}", "--hostname=demo@%h")
        group.start("beat", "beat", f"--schedule={root / 'beat-schedule'}")
        _wait_for(group, "worker", "ready.", logs / "worker.log")
        _wait_for(group, "beat", "beat: Starting", logs / "beat.log")
        _step(
            f"worker ({WORKER_CONCURRENCY} processes) and beat started (logs: {DEMO_DIR / 'logs'}/)"
        )
        ctx = sync_context()
        story = Story(Sizes.for_members(members), SalesforceUser(emulator, login))
        stack.callback(story.user.close)
        _set_the_scene(ctx, story)
        _initial_sync(ctx, story, timeout)
        _edit_through_the_api(ctx, story, logs / "worker.log", timeout)
        _cadence(ctx, story, timeout)
        _explain(ctx, story)
        _show_metrics(group)
    elapsed = time.monotonic() - started
    _step(f"worker, beat and emulator stopped; the demo took {elapsed:.0f} s")
