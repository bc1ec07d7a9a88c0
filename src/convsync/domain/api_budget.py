"""convsync's own daily API budget: the rolling window's arithmetic (pure).

Calls are counted in buckets of 1/24 of the window (an hour of a 24 h window), so the
window "rolls" an hour at a time: the calls of the current bucket plus the 24 before
it. A call therefore counts for 24 to 25 hours, never less than Salesforce's rolling
24 h (erring on the safe side). A bucket's calls stop counting when it leaves the
window; that is how the budget frees itself without anyone resetting it, and why a
pause ends at a bucket boundary.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

BUCKETS = 24
# Buckets in the window: the current one (partly elapsed) plus 24 whole ones.
WINDOW_BUCKETS = BUCKETS + 1
DAY_SECONDS = 86_400
# At this share of the budget convsync warns once (log line, alert via the metric).
WARN_SHARE = 0.8


@dataclass(frozen=True, slots=True)
class Window:
    """A rolling window of `seconds`, cut into `BUCKETS` equal buckets."""

    seconds: int = DAY_SECONDS

    @property
    def bucket_seconds(self) -> float:
        return self.seconds / BUCKETS

    def bucket_of(self, at: datetime) -> int:
        """The number of the bucket holding instant `at` (buckets count from the epoch)."""
        return math.floor(at.timestamp() / self.bucket_seconds)

    def buckets(self, now: datetime) -> list[int]:
        """The buckets in the window at `now`, oldest first; the last is the current one."""
        current = self.bucket_of(now)
        return list(range(current - WINDOW_BUCKETS + 1, current + 1))

    def leaves_at(self, bucket: int) -> datetime:
        """When `bucket`'s calls stop counting: it falls out of the window."""
        return datetime.fromtimestamp((bucket + WINDOW_BUCKETS) * self.bucket_seconds, UTC)


def frees_at(window: Window, now: datetime, counts: Sequence[int], budget: int) -> datetime:
    """When the window will have room for one more call, given the calls per bucket of
    the window at `now` (oldest first, as `Window.buckets` lists them).

    Below the budget: now. Otherwise the moment enough of the oldest buckets have left
    the window for the total to drop under the budget (calls made meanwhile are not
    foreseen: a paused sync makes none).
    """
    used = sum(counts)
    if used < budget:
        return now
    first = window.bucket_of(now) - len(counts) + 1
    for offset, count in enumerate(counts):
        used -= count
        if used < budget:
            return window.leaves_at(first + offset)
    return window.leaves_at(first + len(counts) - 1)


def budget_from_org_limit(org_limit: int, share: float) -> int:
    """The default budget: `share` of the org's daily allowance (at least one call)."""
    return max(1, math.floor(org_limit * share))


def crossed_warning(used: int, budget: int) -> bool:
    """True once `used` calls reach the warning share of `budget`."""
    return budget > 0 and used >= WARN_SHARE * budget
