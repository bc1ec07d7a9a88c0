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


@dataclass
class Adapters:
    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    _gateway: SalesforceGateway | None = field(default=None, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def salesforce(self) -> SalesforceGateway:
        """The Salesforce gateway, logged in on first use (a token call, not an API call)."""
        with self._lock:
            if self._gateway is None:
                from convsync.metrics import instrument_session
                from convsync.salesforce import connect
                from convsync.store.refresh_tokens import SharedRefreshTokens

                self._gateway = connect(
                    self.settings, refresh_tokens=SharedRefreshTokens(self.sessions)
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
