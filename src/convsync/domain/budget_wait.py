"""How long a run waits when Salesforce's daily API limit stops it.

One rule for the use case that waits and for the settings that must keep every wait
shorter than the broker's hold on an unacknowledged message (a wait past Redis's
visibility timeout, or RabbitMQ's consumer timeout, delivers the task twice).
"""

from __future__ import annotations

# A chunk or stage task started this many times without finishing fails its run; a run
# stopped by the API limit waits at most this many times too.
MAX_ATTEMPTS = 5
# However often the budget runs out, a run waits at most this long between tries.
LONGEST_WAIT_SECONDS = 3_600.0
# Waits are stretched by up to this factor, so several runs do not come back at once.
JITTER = 1.2


def base_wait(first_seconds: float, attempt: int) -> float:
    """The wait before try `attempt + 1`, before jitter: doubling from the first wait."""
    return float(min(first_seconds * 2.0**attempt, LONGEST_WAIT_SECONDS))


def longest_wait(first_seconds: float, attempts: int) -> float:
    """The longest a run can wait, jitter included, when every try meets the limit."""
    return base_wait(first_seconds, max(attempts - 1, 0)) * JITTER
