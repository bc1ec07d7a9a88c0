"""The gateway to Salesforce: the only code that talks to it (over simple-salesforce).

The composition root calls `connect(settings)` once per worker process; nothing happens
at import time (login is lazy: the first call logs in).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from convsync.config import Settings
    from convsync.salesforce.auth import RefreshTokenStore
    from convsync.salesforce.client import ClientOptions
    from convsync.salesforce.gateway import SalesforceGateway
    from convsync.salesforce.limiter import ConcurrencyLimiter
    from convsync.salesforce.usage import ApiBudgetGuard


def connect(
    settings: Settings,
    *,
    options: ClientOptions | None = None,
    limiter: ConcurrencyLimiter | None = None,
    refresh_tokens: RefreshTokenStore | None = None,
    guard: ApiBudgetGuard | None = None,
) -> SalesforceGateway:
    """Build the gateway for this process from settings (credentials checked now).

    The concurrency cap is Redis-backed when `settings.limiter_redis_url` is set, and
    process-local otherwise; pass `limiter` to share one explicitly. `refresh_tokens`
    keeps rotated refresh tokens where every process finds them (the database, from
    the composition root); without it, only in this process. `guard` counts every API
    call against convsync's own daily budget (`usage.ApiBudgetGuard`; None: uncounted).
    """
    from convsync.salesforce.auth import credentials_from
    from convsync.salesforce.budget import ApiBudget
    from convsync.salesforce.client import ClientOptions, SalesforceClient
    from convsync.salesforce.gateway import SalesforceGateway
    from convsync.salesforce.http import SalesforceSession
    from convsync.salesforce.limiter import build_limiter

    options = options or ClientOptions()
    credentials = credentials_from(settings)
    budget = ApiBudget(settings.salesforce_budget_share, options.budget_max_pause)
    session = SalesforceSession(
        ca_bundle=settings.salesforce_ca_bundle,
        pool_size=settings.salesforce_max_concurrency,
        timeout=options.timeout,
        limiter=limiter
        or build_limiter(settings.limiter_redis_url, settings.salesforce_max_concurrency),
        observer=budget.observe,
        guard=guard,
    )
    client = SalesforceClient(
        credentials,
        session,
        budget,
        api_version=settings.salesforce_api_version,
        options=options,
        refresh_tokens=refresh_tokens,
    )
    return SalesforceGateway(
        client,
        lead_company_fallback=settings.lead_company_fallback,
        respect_duplicate_alerts=settings.salesforce_respect_duplicate_alerts,
    )


__all__ = ["connect"]
