"""The org's daily API budget, as Salesforce reports it on every response.

API calls are money the customer pays: once a configured share of the daily allowance
is used, the client slows down (a pause that grows with how far past the share usage
is) so the sync leaves room for the customer's other integrations instead of running
the org dry. Running out entirely is `ApiLimitExceededError`, handled by the client.
"""

from __future__ import annotations

import re
import threading

import requests

_USAGE = re.compile(r"(?:^|[;,\s])api-usage=(\d+)/(\d+)")


def parse_limit_info(header: str) -> tuple[int, int] | None:
    """`api-usage=18/5000; per-app-api-usage=...` → (18, 5000)."""
    match = _USAGE.search(header)
    if match is None:
        return None
    return int(match.group(1)), int(match.group(2))


class ApiBudget:
    """Tracks the latest `Sforce-Limit-Info` and says how long to pause before a call."""

    def __init__(self, share: float = 0.8, max_pause_seconds: float = 5.0) -> None:
        self.share = share
        self.max_pause_seconds = max_pause_seconds
        self._usage: tuple[int, int] | None = None
        self._lock = threading.Lock()

    def observe(self, response: requests.Response) -> None:
        """Response hook: remember the usage the response reports, if any."""
        header = response.headers.get("Sforce-Limit-Info")
        if header:
            usage = parse_limit_info(header)
            if usage is not None:
                self.record(*usage)

    def record(self, used: int, total: int) -> None:
        with self._lock:
            self._usage = (used, total)

    @property
    def usage(self) -> tuple[int, int] | None:
        """(used, max) from the last response that reported it."""
        return self._usage

    @property
    def ratio(self) -> float | None:
        usage = self._usage
        if usage is None or usage[1] <= 0:
            return None
        return usage[0] / usage[1]

    def pause_seconds(self) -> float:
        """0 below the share; then linear up to `max_pause_seconds` at 100 % used."""
        ratio = self.ratio
        if ratio is None or ratio <= self.share:
            return 0.0
        over = min(1.0, (ratio - self.share) / max(1e-9, 1.0 - self.share))
        return self.max_pause_seconds * over
