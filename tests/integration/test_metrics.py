"""Prometheus metrics: what a worker's /metrics shows after a real sync, and how each
number is recorded (sync outcomes, stage durations, Salesforce calls and errors, lag).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import requests
from prometheus_client import CollectorRegistry

from convsync import metrics
from convsync.domain.model import Stage
from convsync.metrics import (
    REGISTRY,
    CampaignCollector,
    QueueDepthCollector,
    SyncTelemetry,
    parse,
    total,
)
from convsync.salesforce.http import SalesforceSession
from convsync.salesforce.records import MemberChange
from convsync.salesforce_emulator.testing import EmulatorHandle
from convsync.sync.reporting import CampaignHealth
from convsync.workers import root
from tests.support.logs import json_events
from tests.support.scenario import (
    WEBINAR_IN_SALESFORCE,
    cli,
    conversion_campaign,
    conversion_type,
    eventually,
    salesforce_campaign,
    succeeded_run,
)
from tests.support.workers import WorkerProcess


@pytest.fixture
def recorded() -> Callable[[str], float]:
    """How much a sample of this process's registry grew during the test."""
    before = {s.name + repr(sorted(s.labels.items())): s.value for s in samples()}

    def grew(key: str) -> float:
        now = {s.name + repr(sorted(s.labels.items())): s.value for s in samples()}
        return now.get(key, 0.0) - before.get(key, 0.0)

    return grew


def samples() -> list[metrics.Sample]:
    return [
        metrics.Sample(s.name, dict(s.labels), s.value)
        for family in REGISTRY.collect()
        for s in family.samples
    ]


def key(name: str, **labels: str) -> str:
    return name + repr(sorted(labels.items()))


# ---------------------------------------------------------------- recording


def test_chunk_counts_become_member_outcomes_and_conflict_winners(
    recorded: Callable[[str], float],
) -> None:
    SyncTelemetry().chunk_applied(
        Stage.INBOUND,
        {"imported": 5, "skipped": 2, "conflicts_won_by_salesforce": 1, "read": 9},
    )
    SyncTelemetry().chunk_applied(
        Stage.OUTBOUND, {"pushed": 3, "dead_lettered": 1, "conflicts_won_by_conversion": 2}
    )

    assert recorded(key("convsync_members_total", outcome="imported")) == 5
    assert recorded(key("convsync_members_total", outcome="skipped")) == 2
    assert recorded(key("convsync_members_total", outcome="pushed")) == 3
    assert recorded(key("convsync_members_total", outcome="dead_lettered")) == 1
    assert recorded(key("convsync_conflicts_total", winner="salesforce")) == 1
    assert recorded(key("convsync_conflicts_total", winner="conversion")) == 2


def test_a_finished_stage_is_observed_in_the_duration_histogram(
    recorded: Callable[[str], float],
) -> None:
    SyncTelemetry().stage_finished(Stage.OUTBOUND, 3.5)

    assert recorded(key("convsync_stage_duration_seconds_count", stage="outbound")) == 1
    assert recorded(key("convsync_stage_duration_seconds_sum", stage="outbound")) == 3.5
    assert recorded(key("convsync_stage_duration_seconds_bucket", stage="outbound", le="5.0")) == 1


def test_campaign_gauges_are_read_fresh_on_every_scrape() -> None:
    health = {"Spring": CampaignHealth(4.0, 2, 3, False)}
    registry = CollectorRegistry()
    registry.register(CampaignCollector(lambda: health))

    def sample(name: str) -> float | None:
        return registry.get_sample_value(name, {"campaign": "Spring"})

    first = [sample(n) for n in ("convsync_sync_lag_seconds", "convsync_last_run_failed")]
    health["Spring"] = CampaignHealth(9.0, 2, 3, True)
    second = [sample(n) for n in ("convsync_sync_lag_seconds", "convsync_last_run_failed")]

    assert (first, second) == ([4.0, 0.0], [9.0, 1.0])
    assert sample("convsync_open_dead_letters") == 2
    assert sample("convsync_skipped_members") == 3


def test_a_scrape_still_answers_when_the_database_or_the_broker_cannot_be_read() -> None:
    def broken() -> dict[str, Any]:
        raise OSError("down")

    registry = CollectorRegistry()
    registry.register(CampaignCollector(broken))
    registry.register(QueueDepthCollector(broken))

    assert registry.get_sample_value("convsync_sync_lag_seconds", {"campaign": "x"}) is None
    assert registry.get_sample_value("convsync_queue_depth", {"queue": "x"}) is None


def test_the_orgs_api_usage_is_read_from_every_salesforce_response(org: EmulatorHandle) -> None:
    org.admin.set_limits(max=5_000, used=1_234)

    root.adapters().salesforce.get_campaign(
        salesforce_campaign(org, "Spring SF", WEBINAR_IN_SALESFORCE, [])["id"]
    )

    used = REGISTRY.get_sample_value("convsync_salesforce_api_used")
    assert used is not None
    assert used >= 1_234
    assert REGISTRY.get_sample_value("convsync_salesforce_api_limit") == 5_000


def test_salesforce_calls_are_counted_by_resource_and_failed_calls_by_error_code(
    org: EmulatorHandle, recorded: Callable[[str], float]
) -> None:
    gateway = root.adapters().salesforce  # instrumented by the composition root
    campaign = salesforce_campaign(org, "Spring SF", WEBINAR_IN_SALESFORCE, [])
    org.admin.inject_faults(next=1, kind="UNABLE_TO_LOCK_ROW")

    gateway.get_campaign(campaign["id"])  # retried once, then answered

    assert recorded(key("convsync_salesforce_api_calls_total", resource="query")) == 2
    assert recorded(key("convsync_salesforce_errors_total", code="UNABLE_TO_LOCK_ROW")) == 1


def test_records_salesforce_refuses_are_counted_by_their_error_code(
    org: EmulatorHandle, recorded: Callable[[str], float]
) -> None:
    gateway = root.adapters().salesforce
    campaign = salesforce_campaign(
        org, "Spring SF", WEBINAR_IN_SALESFORCE, [("ann@example.com", "Invited")]
    )
    [member_id] = campaign["members"]

    [result] = gateway.update_members([MemberChange(member_id, "No Such Status")])

    assert not result.ok
    code = "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"
    assert recorded(key("convsync_salesforce_errors_total", code=code)) == 1
    assert recorded(key("convsync_salesforce_api_calls_total", resource="composite")) == 1


def test_a_refused_login_is_counted_by_its_oauth_error(
    org: EmulatorHandle, recorded: Callable[[str], float]
) -> None:
    session = SalesforceSession(ca_bundle=Path(org.ca_file))
    metrics.instrument_session(session)

    answer = session.post(f"{org.url}/services/oauth2/token", data={"grant_type": "password"})

    assert answer.status_code == 400
    assert recorded(key("convsync_salesforce_errors_total", code="invalid_client_id")) == 1


# ---------------------------------------------------------------- a worker's endpoint


def metrics_page(worker: WorkerProcess) -> list[metrics.Sample]:
    [serving] = eventually(lambda: json_events(worker.log(), "serving metrics"))
    with requests.Session() as http:
        http.trust_env = False  # loopback: no proxy
        page = http.get(serving["url"], timeout=10)
    page.raise_for_status()
    return parse(page.text)


@pytest.mark.e2e
def test_a_worker_serves_what_a_sync_did_on_its_metrics_endpoint(
    org: EmulatorHandle, start_worker: Callable[..., WorkerProcess]
) -> None:
    conversion_type("Webinar", ("Invited", "Registered", "Attended", "Waitlisted"))
    conversion_campaign(
        "Spring",
        "Webinar",
        {
            "here@example.com": "Registered",  # pushed
            "wait@example.com": "Waitlisted",  # dead-lettered: not on the Salesforce campaign
            "both@example.com": "Attended",  # Salesforce's later change wins
        },
    )
    sf = salesforce_campaign(
        org,
        "Spring SF",
        [*WEBINAR_IN_SALESFORCE, ("Opened", False, True)],
        [
            ("there@example.com", "Invited"),  # imported
            ("opened@example.com", "Opened"),  # skipped: not in the type
            ("both@example.com", "Invited"),
        ],
    )
    from convsync.workers.app import app

    app.control.purge()  # nothing an earlier test left queued may act on our run ids
    worker = start_worker(extra_env={"CONVSYNC_METRICS_PORT": "0"})

    cli("link", "Spring", "--salesforce-campaign", sf["id"], "--force")
    succeeded_run("Spring")

    found = metrics_page(worker)
    outcome = {
        o: total(found, "convsync_members_total", outcome=o)
        for o in ("imported", "pushed", "skipped", "dead_lettered")
    }
    assert outcome == {"imported": 2, "pushed": 1, "skipped": 1, "dead_lettered": 1}
    assert total(found, "convsync_conflicts_total", winner="salesforce") == 1
    for stage in ("inbound", "outbound"):
        assert total(found, "convsync_stage_duration_seconds_count", stage=stage) == 1
    assert total(found, "convsync_salesforce_api_calls_total", resource="query") >= 2
    assert total(found, "convsync_salesforce_api_calls_total", resource="composite") >= 1
    [lag] = [s for s in found if s.name == "convsync_sync_lag_seconds"]
    assert lag.labels == {"campaign": "Spring"}
    assert 0 <= lag.value < 120
