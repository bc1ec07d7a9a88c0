"""convsync's own daily API budget on real workers: past it, syncs pause (never fail,
nothing lost) and resume by themselves once the rolling window frees calls; at 80 % one
warning and the metric; `status --api` counts what the org counted.

The window is the test-only CONVSYNC_SALESFORCE_BUDGET_WINDOW_SECONDS=24 (buckets of one
second), so a spent budget frees within seconds instead of a day.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import redis
from sqlalchemy.orm import Session, sessionmaker

from convsync import metrics
from convsync.config import get_settings
from convsync.salesforce.usage import PREFIX, Purpose
from convsync.salesforce_emulator.testing import EmulatorHandle
from convsync.workers import root
from tests.integration.test_metrics import metrics_page
from tests.support.beat import beats, fast_cadence
from tests.support.logs import json_events
from tests.support.observe import runs
from tests.support.scenario import (
    WEBINAR_IN_SALESFORCE,
    WEBINAR_STATUSES,
    add_salesforce_member,
    cli,
    cli_json,
    conversion_campaign,
    conversion_type,
    dead_letters,
    eventually,
    finished_run,
    link_status,
    members_here,
    salesforce_campaign,
    salesforce_members,
    salesforce_writes,
)
from tests.support.workers import WorkerProcess

pytestmark = pytest.mark.e2e

WINDOW = 24
PEOPLE = {f"person{i}@example.com": "Registered" for i in range(12)}
IN_SALESFORCE = [(f"sf{i}@example.com", "Invited") for i in range(4)]


def forget_api_calls(redis_url: str) -> None:
    client = redis.Redis.from_url(redis_url)
    keys = list(client.scan_iter(f"{PREFIX}:*"))
    if keys:
        client.delete(*keys)


@pytest.fixture
def budget(
    org: EmulatorHandle, redis_url: str, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Callable[[int], dict[str, str]]]:
    """Set convsync's budget (calls per 24 s) for this process; the env for workers."""
    forget_api_calls(redis_url)

    def set_budget(calls: int) -> dict[str, str]:
        env = {
            "CONVSYNC_SALESFORCE_DAILY_BUDGET": str(calls),
            "CONVSYNC_SALESFORCE_BUDGET_WINDOW_SECONDS": str(WINDOW),
        }
        for key, value in env.items():
            monkeypatch.setenv(key, value)
        get_settings.cache_clear()
        root.reset(root.build())
        return env

    yield set_budget
    monkeypatch.undo()
    get_settings.cache_clear()
    root.reset(root.build())
    forget_api_calls(redis_url)


def spring(org: EmulatorHandle) -> dict[str, Any]:
    conversion_type("Webinar", WEBINAR_STATUSES)
    conversion_campaign("Spring", "Webinar", PEOPLE)
    return salesforce_campaign(org, "Spring SF", WEBINAR_IN_SALESFORCE, IN_SALESFORCE)


def test_a_sync_past_the_budget_pauses_and_resumes_when_the_window_frees_nothing_lost(
    org: EmulatorHandle,
    budget: Callable[[int], dict[str, str]],
    start_worker: Callable[..., WorkerProcess],
) -> None:
    sf = spring(org)
    env = budget(12)
    worker = start_worker(extra_env=env)

    cli("link", "Spring", "--salesforce-campaign", sf["id"], "--force")

    def paused() -> dict[str, Any] | None:
        status = link_status("Spring")
        note = status["last_run"]["error"] or ""
        return status if "paused by convsync's API budget" in note else None

    status = eventually(paused, timeout=60, interval=0.1)
    assert status["paused_until"] is not None
    assert status["last_run"]["state"] == "running"
    run = finished_run("Spring", timeout=120)
    assert run["state"] == "succeeded", run
    assert json_events(worker.log(), "run paused by convsync's API budget")
    everyone = {**PEOPLE, **dict(IN_SALESFORCE)}
    assert members_here("Spring") == everyone
    assert salesforce_members(org, sf["id"]) == everyone
    assert dead_letters("Spring") == []


def test_at_80_percent_one_warning_and_the_metric(
    org: EmulatorHandle,
    budget: Callable[[int], dict[str, str]],
    start_worker: Callable[..., WorkerProcess],
) -> None:
    sf = spring(org)
    env = budget(200)
    cli("link", "Spring", "--salesforce-campaign", sf["id"], "--force")  # queued: no worker yet
    ledger = root.adapters().api_usage
    assert ledger is not None
    while ledger.state().used < 159:  # other work spent 79.5 % of the budget
        ledger.spend("-", Purpose.READ)
    worker = start_worker(extra_env={**env, "CONVSYNC_METRICS_PORT": "0"})

    assert finished_run("Spring")["state"] == "succeeded"

    assert len(json_events(worker.log(), "salesforce.api_budget_high")) == 1
    assert metrics.total(metrics_page(worker), "convsync_api_budget_used_ratio") >= 0.8


def test_status_api_counts_per_purpose_what_the_org_counted(
    org: EmulatorHandle,
    budget: Callable[[int], dict[str, str]],
    start_worker: Callable[..., WorkerProcess],
) -> None:
    sf = spring(org)
    env = budget(1_000)
    org.admin.reset_counters()
    start_worker(extra_env=env)

    cli("link", "Spring", "--salesforce-campaign", sf["id"], "--force")
    assert finished_run("Spring")["state"] == "succeeded"

    report = cli_json("status", "--api")
    counted = org.admin.counters()
    assert report["used"] == counted["total"]
    assert sum(report["by_purpose"].values()) == counted["total"]
    assert report["by_purpose"]["write"] == sum(salesforce_writes(org).values())
    [campaign] = [c for c in report["campaigns"] if c["campaign"] == "Spring"]
    assert campaign["calls"]["write"] > 0
    assert campaign["calls"]["lookup"] > 0
    assert (report["budget"], report["paused"]) == (1_000, False)


def test_beat_starts_no_run_while_the_budget_is_spent_and_resumes_when_it_frees(
    org: EmulatorHandle,
    sessions: sessionmaker[Session],
    redis_url: str,
    tmp_path: Path,
) -> None:
    budgeted = {
        "CONVSYNC_SALESFORCE_DAILY_BUDGET": "200",
        "CONVSYNC_SALESFORCE_BUDGET_WINDOW_SECONDS": str(WINDOW),
    }
    with (
        fast_cadence(interval=2, lease=10, redis_url=redis_url, **budgeted),
        beats(os.environ, tmp_path) as start_beat,
    ):
        forget_api_calls(redis_url)
        worker = WorkerProcess(os.environ, tmp_path, name="budget-beat")
        try:
            worker.wait_ready()
            sf = spring(org)
            cli("link", "Spring", "--salesforce-campaign", sf["id"], "--force")
            linked = finished_run("Spring")
            assert linked["state"] == "succeeded", linked
            add_salesforce_member(org, sf["id"], "late@example.com", "Invited")
            ledger = root.adapters().api_usage
            assert ledger is not None
            while ledger.state().frees_at is None:  # other work spends what is left
                ledger.spend("-", Purpose.READ)
            start_beat()

            skipped = "tick skipped: convsync's Salesforce API budget is spent"
            eventually(lambda: json_events(worker.log(), skipped), timeout=30, interval=0.2)
            assert link_status("Spring")["paused_until"] is not None
            assert link_status("Spring")["last_run"]["id"] == linked["id"]  # none started

            eventually(lambda: "late@example.com" in members_here("Spring"), timeout=90)
        finally:
            worker.stop()
    assert not [r for r in runs(sessions) if r.state == "failed"]
