"""`convsync status --api`: convsync's Salesforce API calls over the rolling window, per
campaign and per purpose, against its daily budget.

Constant cost whatever the number of campaigns: one Redis round trip for the window,
one query for the campaigns' names, and, only while neither the budget setting nor the
org's limit is known yet, one `limits` call.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import structlog

from convsync.domain.errors import ConfigurationError, RequestCapUnavailableError
from convsync.salesforce.usage import ORG_LEVEL, Purpose, Usage
from convsync.store import catalog
from convsync.store.db import transaction
from convsync.sync.context import SyncContext
from convsync.sync.ports import ApiBudgetPort

log = structlog.get_logger(__name__)
PURPOSES = tuple(p.value for p in Purpose)


@dataclass(frozen=True, slots=True)
class CampaignCalls:
    campaign: str  # its name; "-" for org-level work (beat's change detection, describe)
    calls: dict[str, int]  # per purpose
    total: int


@dataclass(frozen=True, slots=True)
class ApiUsageReport:
    window_seconds: int
    budget: int | None
    used: int
    used_share: float | None
    paused: bool
    resumes_at: datetime | None
    by_purpose: dict[str, int]
    campaigns: list[CampaignCalls]


def _ledger(ctx: SyncContext) -> ApiBudgetPort:
    if ctx.api_budget is None:
        raise ConfigurationError(
            "convsync counts its Salesforce API calls in Redis: set CONVSYNC_REDIS_URL "
            "(or use a Redis CONVSYNC_BROKER_URL)"
        )
    return ctx.api_budget


def api_usage(ctx: SyncContext, *, window_seconds: int) -> ApiUsageReport:
    ledger = _ledger(ctx)
    found = ledger.usage()
    if found.state.budget is None and ledger.org_limit() is None:
        # Neither set nor learnt from a response yet: ask the org (one call, never refused).
        limit = ctx.salesforce.limits().get("DailyApiRequests", {}).get("Max")
        if isinstance(limit, int) and limit > 0:
            ledger.remember_org_limit(limit)
            found = ledger.usage()
    return _report(ctx, found, window_seconds)


def _report(ctx: SyncContext, found: Usage, window_seconds: int) -> ApiUsageReport:
    ids = sorted({int(c) for c, _ in found.calls if c != ORG_LEVEL and c.isdigit()})
    with transaction(ctx.sessions) as session:
        names = catalog.campaign_names(session, ids)
    per_campaign: dict[str, dict[str, int]] = {}
    by_purpose = dict.fromkeys(PURPOSES, 0)
    for (campaign, purpose), count in found.calls.items():
        name = (
            names.get(int(campaign), f"#{campaign} (deleted)") if campaign.isdigit() else campaign
        )
        calls = per_campaign.setdefault(name, dict.fromkeys(PURPOSES, 0))
        calls[purpose] = calls.get(purpose, 0) + count
        by_purpose[purpose] = by_purpose.get(purpose, 0) + count
    state = found.state
    return ApiUsageReport(
        window_seconds,
        state.budget,
        state.used,
        state.ratio,
        state.paused,
        state.frees_at,
        by_purpose,
        [
            CampaignCalls(name, calls, sum(calls.values()))
            for name, calls in sorted(per_campaign.items(), key=lambda kv: -sum(kv[1].values()))
        ],
    )


def paused_until(ctx: SyncContext) -> datetime | None:
    """When the spent budget lets syncs run again (None: not spent, or not budgeted).

    For `convsync status`: Redis out of reach leaves the rest of the status readable
    (the database holds it); the log says the pause could not be checked.
    """
    if ctx.api_budget is None:
        return None
    try:
        return ctx.api_budget.state().frees_at
    except RequestCapUnavailableError as error:
        log.warning("cannot tell whether the API budget pauses syncs", error=str(error))
        return None
