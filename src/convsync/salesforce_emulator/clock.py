"""The emulator's clock: UTC, millisecond resolution, strictly increasing per write.

Salesforce stamps every record of one transaction with the same time; two transactions
never share a millisecond here, so watermark queries on SystemModstamp are deterministic
in tests. An adjustable offset lets tests simulate clock skew between the two systems.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, date, datetime, timedelta

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def format_datetime(value: datetime) -> str:
    """Salesforce's REST form: `2013-05-20T20:49:32.000+0000`."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}+0000"


def format_bulk_datetime(value: datetime) -> str:
    """Bulk API CSV form: `2013-05-20T20:49:32.000Z`."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def format_value(value: object) -> object:
    """Turn a stored Python value into its JSON form."""
    if isinstance(value, datetime):
        return format_datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    return value


class Clock:
    """Wall clock plus offset, forced strictly increasing at each `tick()`."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last_ms = 0
        self.offset_ms = 0

    def _wall_ms(self) -> int:
        return int(time.time() * 1000) + self.offset_ms

    def now(self) -> datetime:
        """The current time without consuming a tick (reads, reports)."""
        with self._lock:
            ms = max(self._wall_ms(), self._last_ms)
        return _EPOCH + timedelta(milliseconds=ms)

    def tick(self) -> datetime:
        """A fresh timestamp for a write, later than every earlier one."""
        with self._lock:
            ms = max(self._wall_ms(), self._last_ms + 1)
            self._last_ms = ms
        return _EPOCH + timedelta(milliseconds=ms)

    def shift(self, offset_ms: int) -> None:
        """Move the clock by `offset_ms` from real time (never backwards past a tick)."""
        with self._lock:
            self.offset_ms = offset_ms
