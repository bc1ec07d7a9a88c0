"""A cap on in-flight Salesforce requests, shared by every worker process.

Salesforce allows an org 25 concurrent long-running requests; past that it refuses
calls. Celery's `rate_limit` is per worker, so the cap lives in Redis: a sorted-set
semaphore whose members are leases (score = expiry, in Redis server time) so a worker
killed mid-request frees its slot when the lease runs out instead of leaking it.
Without Redis (the embedded mode: one machine, one worker) a process-local semaphore
does the same job.
"""

from __future__ import annotations

import random
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any, Protocol

from redis.exceptions import RedisError

from convsync.domain.errors import RequestCapUnavailableError, TransientSalesforceError

# Longer than any request's read timeout, so a live request never loses its slot.
DEFAULT_LEASE_SECONDS = 180.0
# How long a caller waits for a slot before giving up (the task retries later).
DEFAULT_ACQUIRE_TIMEOUT = 300.0


class ConcurrencyLimiter(Protocol):
    """Hands out at most N slots at a time."""

    def slot(self) -> AbstractContextManager[None]:
        """Hold one slot for the duration of the block."""
        ...


class LocalLimiter:
    """Process-local cap: a `threading.BoundedSemaphore` (embedded mode)."""

    def __init__(self, limit: int, *, acquire_timeout: float = DEFAULT_ACQUIRE_TIMEOUT) -> None:
        self.limit = limit
        self._semaphore = threading.BoundedSemaphore(limit)
        self._acquire_timeout = acquire_timeout

    @contextmanager
    def slot(self) -> Iterator[None]:
        if not self._semaphore.acquire(timeout=self._acquire_timeout):
            raise TransientSalesforceError(
                f"no free Salesforce request slot after {self._acquire_timeout:.0f} s "
                f"(limit {self.limit})",
                code="CONCURRENCY_LIMIT",
            )
        try:
            yield
        finally:
            self._semaphore.release()


# KEYS[1] = the semaphore's sorted set. ARGV = lease token, limit, lease milliseconds.
# Server time keeps every worker on one clock; expired leases are swept on each try.
_ACQUIRE = """
local now = redis.call('TIME')
local now_ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now_ms)
if redis.call('ZCARD', KEYS[1]) < tonumber(ARGV[2]) then
    redis.call('ZADD', KEYS[1], now_ms + tonumber(ARGV[3]), ARGV[1])
    redis.call('PEXPIRE', KEYS[1], tonumber(ARGV[3]) * 2)
    return 1
end
return 0
"""


class RedisLimiter:
    """Cross-process cap: a Redis sorted-set semaphore with expiring leases."""

    def __init__(
        self,
        client: Any,
        limit: int,
        *,
        key: str = "convsync:salesforce:inflight",
        lease_seconds: float = DEFAULT_LEASE_SECONDS,
        acquire_timeout: float = DEFAULT_ACQUIRE_TIMEOUT,
        poll_seconds: float = 0.02,
    ) -> None:
        self.client = client
        self.limit = limit
        self.key = key
        self._lease_ms = int(lease_seconds * 1000)
        self._acquire_timeout = acquire_timeout
        self._poll = poll_seconds
        self._acquire_script = client.register_script(_ACQUIRE)

    @classmethod
    def from_url(cls, url: str, limit: int, **kwargs: Any) -> RedisLimiter:
        import redis

        return cls(redis.Redis.from_url(url), limit, **kwargs)

    def try_acquire(self) -> str | None:
        """One attempt: a lease token, or None when all slots are taken."""
        token = uuid.uuid4().hex
        try:
            granted = self._acquire_script(
                keys=[self.key], args=[token, self.limit, self._lease_ms]
            )
        except RedisError as error:
            reason = (str(error).strip().splitlines() or [type(error).__name__])[0]
            raise RequestCapUnavailableError(
                "cannot reach Redis for the cap on concurrent Salesforce requests "
                f"(CONVSYNC_REDIS_URL, or CONVSYNC_BROKER_URL when it is Redis): {reason}",
                code="REDIS_UNAVAILABLE",
            ) from None
        return token if int(granted) == 1 else None

    def release(self, token: str) -> None:
        self.client.zrem(self.key, token)

    def in_flight(self) -> int:
        """Slots held right now (expired leases included until the next sweep)."""
        return int(self.client.zcard(self.key))

    @contextmanager
    def slot(self) -> Iterator[None]:
        deadline = time.monotonic() + self._acquire_timeout
        token = self.try_acquire()
        while token is None:
            if time.monotonic() >= deadline:
                raise TransientSalesforceError(
                    f"no free Salesforce request slot after {self._acquire_timeout:.0f} s "
                    f"(limit {self.limit} across workers)",
                    code="CONCURRENCY_LIMIT",
                )
            # Jitter so waiting workers do not poll Redis in lock-step.
            time.sleep(self._poll * (0.5 + random.random()))  # noqa: S311 - not crypto
            token = self.try_acquire()
        try:
            yield
        finally:
            self.release(token)


def build_limiter(redis_url: str | None, limit: int) -> ConcurrencyLimiter:
    """Redis-backed when a Redis URL is configured, process-local otherwise."""
    if redis_url:
        return RedisLimiter.from_url(redis_url, limit)
    return LocalLimiter(limit)
