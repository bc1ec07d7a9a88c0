"""Prometheus metrics of the sync, as the workers see it.

What is measured, and where:

- members by outcome, conflicts by winner, stage durations: the use cases report what
  they committed through the `SyncObserver` port (`convsync.sync.ports`); `SyncTelemetry`
  below is the adapter the tasks wire in. It also writes the matching log line.
- Salesforce API calls (by resource) and errors (by code): a `requests` response hook on
  the gateway's HTTP session, installed by the composition root.
- per linked campaign, read from the database when Prometheus scrapes: the lag, open
  dead letters, skipped members, and whether the latest finished run failed.
- the depth of each queue, asked of the broker when Prometheus scrapes.
- convsync's own API budget (used, limit, ratio), after each call its guard counts
  (`convsync.salesforce.usage`).
- the org's API usage and allowance, from the `Sforce-Limit-Info` header of every
  Salesforce response (the most recent value of any pool process).

Every name here is one the alert rules and the dashboard in `deploy/monitoring/` may use
(a test checks them against a worker's real /metrics page).

How to scrape: start a worker with `CONVSYNC_METRICS_PORT` (0 picks a free port; the
worker logs "serving metrics" with the URL) and `CONVSYNC_METRICS_ADDRESS` (default
127.0.0.1; 0.0.0.0 in a container). The worker's main process serves `/metrics` and
aggregates its prefork pool processes with prometheus_client's multiprocess mode: each
pool process writes its samples to files in a fresh directory per worker
(`PROMETHEUS_MULTIPROC_DIR`), the main process sums them at scrape time. Run one
scrape target per `convsync worker`.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import requests
import structlog
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, multiprocess, values
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.exposition import start_http_server
from prometheus_client.registry import Collector

from convsync.domain.model import Stage
from convsync.salesforce.budget import parse_limit_info
from convsync.salesforce.usage import BudgetState

log = structlog.get_logger(__name__)

# Members per outcome, from the counts the stages write (see sync/inbound.py, outbound.py).
MEMBER_OUTCOMES = (
    "imported",
    "pushed",
    "removed_in_conversion",
    "removed_in_salesforce",
    "skipped",
    "dead_lettered",
    "deferred",
)
CONFLICT_WINNERS = {
    "conflicts_won_by_salesforce": "salesforce",
    "conflicts_won_by_conversion": "conversion",
}
# A stage takes from under a second (nothing changed) to tens of minutes (a first sync
# of a few hundred thousand members).
STAGE_BUCKETS = (0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1_800, 3_600)

# The registry this process records into, and serves when not in multiprocess mode.
REGISTRY = CollectorRegistry(auto_describe=True)


@dataclass(frozen=True)
class _Metrics:
    members: Counter
    conflicts: Counter
    leads_created: Counter
    stage_seconds: Histogram
    api_calls: Counter
    api_errors: Counter
    api_used: Gauge
    api_limit: Gauge
    budget_used: Gauge
    budget_limit: Gauge
    budget_ratio: Gauge


@cache
def _metrics() -> _Metrics:
    """Built on first use, so `enable_multiprocess` can still choose the value class."""
    return _Metrics(
        members=Counter(
            "convsync_members",
            "Members the sync handled, by outcome (imported, pushed, removed_in_*, skipped, "
            "dead_lettered, deferred).",
            ["outcome"],
            registry=REGISTRY,
        ),
        conflicts=Counter(
            "convsync_conflicts",
            "Members changed on both sides, by the side whose value won.",
            ["winner"],
            registry=REGISTRY,
        ),
        leads_created=Counter(
            "convsync_salesforce_leads_created",
            "Leads created in Salesforce for people it did not know.",
            registry=REGISTRY,
        ),
        stage_seconds=Histogram(
            "convsync_stage_duration_seconds",
            "Wall time of a sync stage: inbound from the run's start until Salesforce's "
            "changes landed, outbound from then until the run succeeded.",
            ["stage"],
            buckets=STAGE_BUCKETS,
            registry=REGISTRY,
        ),
        api_calls=Counter(
            "convsync_salesforce_api_calls",
            "Salesforce REST API calls (each counts against the org's daily budget).",
            ["resource"],
            registry=REGISTRY,
        ),
        api_errors=Counter(
            "convsync_salesforce_errors",
            "Errors Salesforce answered with, by code: failed calls and refused records.",
            ["code"],
            registry=REGISTRY,
        ),
        api_used=Gauge(
            "convsync_salesforce_api_used",
            "API calls the org used in its rolling 24 h, as Salesforce last reported it.",
            registry=REGISTRY,
            multiprocess_mode="mostrecent",
        ),
        api_limit=Gauge(
            "convsync_salesforce_api_limit",
            "The org's allowance of API calls per rolling 24 h, as Salesforce last reported it.",
            registry=REGISTRY,
            multiprocess_mode="mostrecent",
        ),
        budget_used=Gauge(
            "convsync_api_budget_used",
            "API calls convsync itself made in its rolling window (its daily budget's count).",
            registry=REGISTRY,
            multiprocess_mode="mostrecent",
        ),
        budget_limit=Gauge(
            "convsync_api_budget_limit",
            "convsync's own API budget per rolling window (0: not known yet).",
            registry=REGISTRY,
            multiprocess_mode="mostrecent",
        ),
        budget_ratio=Gauge(
            "convsync_api_budget_used_ratio",
            "Share of convsync's own API budget used (1: spent, syncs paused).",
            registry=REGISTRY,
            multiprocess_mode="mostrecent",
        ),
    )


# ---------------------------------------------------------------- the sync's observer


class SyncTelemetry:
    """The `SyncObserver` adapter: metrics plus one log line per committed piece of work.

    The log line carries the context the worker bound (task id, run id, campaign id,
    stage), so a log search and a metric agree on what happened.
    """

    def chunk_applied(self, stage: Stage, counts: Mapping[str, int]) -> None:
        metrics = _metrics()
        for outcome in MEMBER_OUTCOMES:
            if counts.get(outcome):
                metrics.members.labels(outcome).inc(counts[outcome])
        for key, winner in CONFLICT_WINNERS.items():
            if counts.get(key):
                metrics.conflicts.labels(winner).inc(counts[key])
        if counts.get("leads_created"):
            metrics.leads_created.inc(counts["leads_created"])
        log.info(f"{stage.value} chunk applied", **{k: v for k, v in counts.items() if v})

    def stage_finished(self, stage: Stage, seconds: float) -> None:
        _metrics().stage_seconds.labels(stage.value).observe(max(seconds, 0.0))
        log.info(f"{stage.value} stage finished", seconds=round(seconds, 3))


# ---------------------------------------------------------------- Salesforce calls


def _resource(path: str) -> str | None:
    """`query`, `sobjects`, `composite`… of a `/services/data/vNN.N/…` path (None: not API)."""
    parts = [p for p in path.split("/") if p]
    if len(parts) < 3 or parts[:2] != ["services", "data"]:
        return None
    return parts[3] if len(parts) > 3 else "versions"


def _error_codes(response: requests.Response) -> Iterator[str]:
    """Salesforce's error codes in a response: of the call, or of refused records."""
    try:
        body: Any = response.json()
    except ValueError:
        body = None
    if response.status_code >= 400:
        if isinstance(body, list) and body and isinstance(body[0], dict):
            yield str(body[0].get("errorCode") or f"HTTP_{response.status_code}")
        elif isinstance(body, dict) and body.get("error"):
            yield str(body["error"])  # OAuth: invalid_grant, ...
        else:
            yield f"HTTP_{response.status_code}"
        return
    if isinstance(body, list):  # sObject Collections: one result per record
        for result in body:
            if isinstance(result, dict) and result.get("success") is False:
                for error in result.get("errors") or [{}]:
                    yield str(error.get("statusCode") or "UNKNOWN")


def observe_salesforce_response(response: requests.Response, *_: Any, **__: Any) -> None:
    """A `requests` response hook: count the API call and any error codes it carries."""
    path = urlsplit(response.url).path
    resource = _resource(path)
    metrics = _metrics()
    if resource is None and "/oauth2/" not in path:
        return
    if resource is not None and response.status_code != 401:
        # A request refused as unauthenticated (expired session) is not charged.
        metrics.api_calls.labels(resource).inc()
    usage = parse_limit_info(response.headers.get("Sforce-Limit-Info") or "")
    if usage is not None:
        metrics.api_used.set(usage[0])
        metrics.api_limit.set(usage[1])
    if response.status_code >= 400 or resource == "composite":
        for code in _error_codes(response):
            metrics.api_errors.labels(code).inc()


def instrument_session(session: requests.Session) -> None:
    """Count every response of this session (idempotent)."""
    hooks = session.hooks.setdefault("response", [])
    if observe_salesforce_response not in hooks:
        hooks.append(observe_salesforce_response)


def observe_api_budget(state: BudgetState) -> None:
    """After each call the guard counted: convsync's budget, as this worker saw it."""
    metrics = _metrics()
    metrics.budget_used.set(state.used)
    metrics.budget_limit.set(state.budget or 0)
    metrics.budget_ratio.set(state.ratio or 0.0)


# ---------------------------------------------------------------- read at scrape time


class CampaignFigures(Protocol):
    """One linked campaign's state (`convsync.sync.reporting.CampaignHealth`)."""

    @property
    def lag_seconds(self) -> float: ...
    @property
    def open_dead_letters(self) -> int: ...
    @property
    def skipped_members(self) -> int: ...
    @property
    def last_run_failed(self) -> bool: ...


# name, help, how to read a campaign's figure
_CAMPAIGN_GAUGES: tuple[tuple[str, str, Callable[[CampaignFigures], float]], ...] = (
    (
        "convsync_sync_lag_seconds",
        "Seconds since each linked campaign last finished a sync (or was linked).",
        lambda c: c.lag_seconds,
    ),
    (
        "convsync_open_dead_letters",
        "Members of each linked campaign waiting in the dead-letter queue.",
        lambda c: c.open_dead_letters,
    ),
    (
        "convsync_skipped_members",
        "Salesforce members of each linked campaign skipped (their status is not in the type).",
        lambda c: c.skipped_members,
    ),
    (
        "convsync_last_run_failed",
        "1 when the latest finished run of the campaign's link failed, else 0.",
        lambda c: float(c.last_run_failed),
    ),
)


class CampaignCollector(Collector):
    """The per-campaign gauges, read fresh from the database on every scrape."""

    def __init__(self, read: Callable[[], Mapping[str, CampaignFigures]]) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        try:
            campaigns = self._read()
        except Exception:  # a scrape must answer even when the database is down
            log.warning("metrics: could not read the campaigns' state", exc_info=True)
            campaigns = {}
        for name, documentation, figure in _CAMPAIGN_GAUGES:
            gauge = GaugeMetricFamily(name, documentation, labels=["campaign"])
            for campaign, figures in sorted(campaigns.items()):
                gauge.add_metric([campaign], figure(figures))
            yield gauge


class QueueDepthCollector(Collector):
    """`convsync_queue_depth{queue}`: messages waiting, asked of the broker on every scrape."""

    def __init__(self, read: Callable[[], Mapping[str, int]]) -> None:
        self._read = read

    def collect(self) -> Iterator[Metric]:
        gauge = GaugeMetricFamily(
            "convsync_queue_depth",
            "Messages waiting in each convsync queue (not counting those workers prefetched).",
            labels=["queue"],
        )
        try:
            depths = self._read()
        except Exception:  # a scrape must answer even when the broker is down
            log.warning("metrics: could not read the queue depths", exc_info=True)
            depths = {}
        for queue, depth in sorted(depths.items()):
            gauge.add_metric([queue], depth)
        yield gauge


# ---------------------------------------------------------------- exposing


def enable_multiprocess(directory: Path | None = None) -> Path:
    """Switch this process (and the pool processes it forks) to multiprocess mode.

    Call in a worker's main process before its pool starts. prometheus_client picks its
    value class when first imported, from PROMETHEUS_MULTIPROC_DIR; our metrics are built
    lazily, so choosing it again here is enough whatever imported the library first.
    """
    if directory is None:
        directory = Path(tempfile.mkdtemp(prefix="convsync-metrics-"))
    elif directory.exists():
        shutil.rmtree(directory)  # stale files would add a previous run's counts
    directory.mkdir(parents=True, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = str(directory)
    if _metrics.cache_info().currsize:
        raise RuntimeError("metrics were recorded before multiprocess mode was enabled")
    values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]  # untyped library
    return directory


def serve(
    address: str,
    port: int,
    campaigns: Callable[[], Mapping[str, CampaignFigures]],
    queue_depths: Callable[[], Mapping[str, int]],
) -> int:
    """Serve /metrics from this process; returns the bound port (0 picks a free one)."""
    registry = CollectorRegistry()
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]  # untyped library
    else:
        registry.register(_Forward(REGISTRY))
    registry.register(CampaignCollector(campaigns))
    registry.register(QueueDepthCollector(queue_depths))
    server, _thread = start_http_server(port, addr=address, registry=registry)
    return int(server.server_port)


def cleanup_multiprocess() -> None:
    """Remove this worker's sample files (at worker shutdown)."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if directory and Path(directory).name.startswith("convsync-metrics-"):
        shutil.rmtree(directory, ignore_errors=True)


class _Forward(Collector):
    """Serve another registry's metrics (single-process mode)."""

    def __init__(self, source: CollectorRegistry) -> None:
        self._source = source

    def collect(self) -> Iterator[Metric]:
        yield from self._source.collect()


@dataclass(frozen=True)
class Sample:
    name: str
    labels: Mapping[str, str]
    value: float


def parse(text: str) -> list[Sample]:
    """The samples of an exposition page (tests and the demo read /metrics with it)."""
    from prometheus_client.parser import text_string_to_metric_families

    return [
        Sample(sample.name, dict(sample.labels), float(sample.value))
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    ]


def total(samples: Iterable[Sample], name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels`."""
    return sum(
        s.value
        for s in samples
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    )
