"""The HTTP transport every Salesforce call goes through.

Why a `requests.Session` subclass: requests lets `REQUESTS_CA_BUNDLE` / `CURL_CA_BUNDLE`
override a session's `verify` at request time (`merge_environment_settings`), so a
configured CA bundle (the emulator's, a corporate one) silently loses on machines that set
those variables. This session applies its own bundle after requests has merged the
environment, so it wins, while proxies from the environment still apply. It also sizes
the connection pool for the worker, gives every request a timeout (simple-salesforce sets
none), and passes each request through the concurrency limiter, the budget observer and
convsync's own API budget guard (salesforce/usage.py).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import requests
from requests.adapters import HTTPAdapter

from convsync.salesforce.limiter import ConcurrencyLimiter
from convsync.salesforce.usage import ApiBudgetGuard

# (connect, read) seconds. Salesforce answers a 2,000-row page in well under a minute;
# a read that takes longer is treated as a dropped connection and retried.
DEFAULT_TIMEOUT: tuple[float, float] = (10.0, 120.0)

ResponseObserver = Callable[[requests.Response], None]


class SalesforceSession(requests.Session):
    """A session whose CA bundle beats the environment's, bounded by a limiter."""

    def __init__(
        self,
        *,
        ca_bundle: Path | None = None,
        pool_size: int = 10,
        timeout: tuple[float, float] = DEFAULT_TIMEOUT,
        limiter: ConcurrencyLimiter | None = None,
        observer: ResponseObserver | None = None,
        guard: ApiBudgetGuard | None = None,
    ) -> None:
        super().__init__()
        self.ca_bundle = ca_bundle
        if ca_bundle is not None:
            self.verify = str(ca_bundle)
        self.timeout = timeout
        self.limiter = limiter
        self.observer = observer
        self.guard = guard
        adapter = HTTPAdapter(pool_connections=2, pool_maxsize=pool_size)
        self.mount("https://", adapter)
        self.mount("http://", adapter)

    def merge_environment_settings(
        self,
        url: Any,
        proxies: Any,
        stream: Any,
        verify: Any,
        cert: Any,
    ) -> Any:
        """Merge as requests does (proxies included), then put our CA bundle back."""
        settings = super().merge_environment_settings(url, proxies, stream, verify, cert)
        if self.ca_bundle is not None and (verify is None or verify is True):
            settings["verify"] = str(self.ca_bundle)
        return settings

    def request(
        self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any
    ) -> requests.Response:
        """Send one request inside a limiter slot, with a default timeout, charged to
        convsync's API budget first (refused, unsent, when it is spent)."""
        kwargs.setdefault("timeout", self.timeout)
        charged = None
        if self.guard is not None:
            charged = self.guard.before(_text(method), _text(url))
        if self.limiter is None:
            response = super().request(method, url, *args, **kwargs)
        else:
            with self.limiter.slot():
                response = super().request(method, url, *args, **kwargs)
        if self.observer is not None:
            self.observer(response)
        if self.guard is not None and charged is not None:
            self.guard.after(charged, response)
        return response


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else value
