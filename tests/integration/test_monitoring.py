"""The alert rules and the dashboard in deploy/monitoring/: valid PromQL, and every
metric they use is one a real worker exports (names checked against its /metrics page,
after a sync that exercised every outcome the rules watch)."""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import promql_parser
import pytest
import yaml

from convsync import metrics
from convsync.celeryconfig import QUEUES
from convsync.salesforce_emulator.testing import EmulatorHandle
from tests.integration.test_metrics import metrics_page
from tests.support.scenario import (
    WEBINAR_IN_SALESFORCE,
    cli,
    conversion_campaign,
    conversion_type,
    salesforce_campaign,
    succeeded_run,
    sync_now,
)
from tests.support.workers import WorkerProcess

MONITORING = Path(__file__).resolve().parents[2] / "deploy" / "monitoring"
# Series Prometheus makes itself for every target, not exported by a worker.
PROMETHEUS_OWN = frozenset({"up"})


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load((MONITORING / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def dashboard_expressions() -> list[str]:
    dashboard = json.loads((MONITORING / "grafana-dashboard.json").read_text())
    return [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]


def expressions() -> list[str]:
    return [rule["expr"] for rule in alert_rules()] + dashboard_expressions()


def metric_names(expression: str) -> Iterator[str]:
    found: list[str] = []

    def visit(node: promql_parser.Expr) -> None:
        if isinstance(node, promql_parser.VectorSelector) and node.name:
            found.append(node.name)

    promql_parser.walk(promql_parser.parse(expression), visit)
    yield from found


@pytest.mark.parametrize("expression", expressions())
def test_every_expression_parses_as_promql(expression: str) -> None:
    assert list(metric_names(expression))


def test_the_rules_watch_lag_dead_letters_skips_failed_runs_the_api_budget_and_queues() -> None:
    used = {name for rule in alert_rules() for name in metric_names(rule["expr"])}

    assert {
        "convsync_sync_lag_seconds",
        "convsync_open_dead_letters",
        "convsync_skipped_members",
        "convsync_last_run_failed",
        "convsync_salesforce_api_used",
        "convsync_salesforce_api_limit",
        "convsync_queue_depth",
    } <= used


def anchors(markdown: str) -> set[str]:
    """The anchors GitHub gives a document's headings."""
    return {
        re.sub(r"[^\w\- ]", "", line.lstrip("#").strip().lower()).replace(" ", "-")
        for line in markdown.splitlines()
        if line.startswith("#")
    }


def test_every_alert_links_a_section_of_the_operations_guide_that_exists() -> None:
    guide = anchors((MONITORING.parents[1] / "docs" / "operations.md").read_text())

    for rule in alert_rules():
        page, _, anchor = rule["annotations"]["runbook"].partition("#")
        assert (page, anchor in guide) == ("docs/operations.md", True), rule["alert"]


@pytest.mark.e2e
def test_every_metric_the_alerts_and_the_dashboard_use_is_exported_by_a_worker(
    org: EmulatorHandle, start_worker: Callable[..., WorkerProcess]
) -> None:
    conversion_type("Webinar", ("Invited", "Registered", "Attended", "Waitlisted"))
    conversion_campaign(
        "Spring",
        "Webinar",
        {"wait@example.com": "Waitlisted", "both@example.com": "Attended"},  # dead letter
    )
    sf = salesforce_campaign(
        org,
        "Spring SF",
        [*WEBINAR_IN_SALESFORCE, ("Opened", False, True)],
        [("opened@example.com", "Opened"), ("both@example.com", "Invited")],  # skip, conflict
    )
    from convsync.workers.app import app

    app.control.purge()  # nothing an earlier test left queued may act on our run ids
    worker = start_worker(extra_env={"CONVSYNC_METRICS_PORT": "0"})
    cli("link", "Spring", "--salesforce-campaign", sf["id"], "--force")
    succeeded_run("Spring")
    # `sync` only opens a run: the worker makes the next call, and counts its error.
    org.admin.inject_faults(next=1, kind="UNABLE_TO_LOCK_ROW")

    sync_now("Spring")

    page = metrics_page(worker)
    exported = {sample.name for sample in page}
    for expression in expressions():
        for name in metric_names(expression):
            assert name in exported or name in PROMETHEUS_OWN, (name, expression)
    spring = {"campaign": "Spring"}
    assert metrics.total(page, "convsync_open_dead_letters", **spring) == 1
    assert metrics.total(page, "convsync_skipped_members", **spring) == 1
    assert metrics.total(page, "convsync_last_run_failed", **spring) == 0
    assert {s.labels["queue"] for s in page if s.name == "convsync_queue_depth"} == set(
        QUEUES.values()
    )
    assert metrics.total(page, "convsync_salesforce_api_limit") > 0
