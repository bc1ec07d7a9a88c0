"""The composition root: builds adapters once per process, lazily.

Workers build them on `worker_process_init` (after the fork, so no connection is shared
between processes); the CLI builds them on first use.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from convsync.config import Settings, get_settings
from convsync.store.db import make_engine, make_session_factory

if TYPE_CHECKING:
    from convsync.salesforce.gateway import SalesforceGateway
    from convsync.salesforce.usage import ApiUsageLedger


@dataclass
class Adapters:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    _gateway: SalesforceGateway | None = field(default=None, repr=False)
    _ledger: ApiUsageLedger | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def api_usage(self) -> ApiUsageLedger | None:
        """convsync's shared count of API calls (None without Redis: not budgeted)."""
        url = self.settings.limiter_redis_url
        if url is None:
            return None
        if self._ledger is None:
            from convsync.domain.api_budget import Window
            from convsync.salesforce.usage import ApiUsageLedger

            self._ledger = ApiUsageLedger.from_url(
                url,
                budget=self.settings.salesforce_daily_budget,
                share=self.settings.salesforce_daily_budget_share,
                window=Window(self.settings.salesforce_budget_window_seconds),
            )
        return self._ledger

    @property
    def salesforce(self) -> SalesforceGateway:
        """The Salesforce gateway, logged in on first use (a token call, not an API call)."""
        with self._lock:
            if self._gateway is None:
                from convsync.metrics import instrument_session, observe_api_budget
                from convsync.salesforce import connect
                from convsync.salesforce.usage import ApiBudgetGuard
                from convsync.store.refresh_tokens import SharedRefreshTokens

                ledger = self.api_usage
                self._gateway = connect(
                    self.settings,
                    refresh_tokens=SharedRefreshTokens(self.sessions),
                    guard=None if ledger is None else ApiBudgetGuard(ledger, observe_api_budget),
                )
                # Every Salesforce call and error shows in the worker's /metrics.
                instrument_session(self._gateway.client.session)
            return self._gateway

    def forget_salesforce_access(self) -> None:
        """The org's permissions changed: the gateway (if built) asks describe afresh."""
        with self._lock:
            if self._gateway is not None:
                self._gateway.forget_access()

    def close(self) -> None:
        self.engine.dispose()


_adapters: Adapters | None = None
_guard = threading.Lock()


def build(settings: Settings | None = None) -> Adapters:
    settings = settings or get_settings()
    engine = make_engine(settings.database_url)
    return Adapters(settings=settings, engine=engine, sessions=make_session_factory(engine))


def adapters() -> Adapters:
    global _adapters  # noqa: PLW0603 - one composition root per process, by design
    with _guard:
        if _adapters is None:
            _adapters = build()
        return _adapters


def reset(new: Adapters | None = None) -> None:
    """Replace the process's adapters (after a fork, or in tests)."""
    global _adapters  # noqa: PLW0603 - one composition root per process, by design
    with _guard:
        if _adapters is not None:
            _adapters.close()
        _adapters = new
